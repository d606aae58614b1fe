"""Sending SMS through Twilio's REST API (``Messages.json``) with an injected ``httpx`` client.

The SDK's own async client runs on aiohttp, which neither shares the app's ``httpx`` client nor
can be mocked with respx, so the one call we need is made here directly.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from .errors import TwilioError, TwilioRequestError, TwilioRetryableError

logger = logging.getLogger("app.twilio")

TWILIO_BASE_URL = "https://api.twilio.com"


@dataclass(frozen=True, slots=True)
class SentMessage:
    """Twilio's answer to a send: accepted for delivery, not yet delivered."""

    sid: str
    status: str  # Twilio's status, e.g. "queued" / "accepted"
    to: str
    from_number: str | None
    segments: int | None  # Twilio's num_segments as int when given
    price: str | None


class TwilioClient:
    """Sends SMS from the pub's Messaging Service (preferred) or phone number."""

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        http: httpx.AsyncClient,
        messaging_service_sid: str | None = None,
        from_number: str | None = None,
        base_url: str = TWILIO_BASE_URL,
    ) -> None:
        if not account_sid or not auth_token:
            raise ValueError("Twilio needs an account SID and an auth token.")
        if not messaging_service_sid and not from_number:
            raise ValueError("Twilio needs a messaging_service_sid or a from_number to send from.")
        self._auth = httpx.BasicAuth(account_sid, auth_token)
        self._http = http
        self._messaging_service_sid = messaging_service_sid or None
        self._from_number = from_number or None
        account = quote(account_sid, safe="")
        self._url = f"{base_url.rstrip('/')}/2010-04-01/Accounts/{account}/Messages.json"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(url={self._url!r})"

    async def send_sms(
        self, *, to: str, body: str, status_callback: str | None = None
    ) -> SentMessage:
        """Send ``body`` to ``to`` (E.164); Twilio accepting it (201) is not delivery."""
        form = {"To": to, "Body": body}
        # With a Messaging Service, Twilio picks the sender from its pool and applies the
        # service's opt-out handling; From is only the fallback for a bare number.
        if self._messaging_service_sid:
            form["MessagingServiceSid"] = self._messaging_service_sid
        elif self._from_number:
            form["From"] = self._from_number
        if status_callback:
            form["StatusCallback"] = status_callback
        try:
            sent = _sent_message(await self._post(form), to=to)
        except TwilioError as exc:
            logger.warning(
                "twilio.sms.failed",
                extra={
                    "to": mask_phone(to),
                    "status": exc.status,
                    "code": exc.code,
                    "retryable": isinstance(exc, TwilioRetryableError),
                },
            )
            raise
        logger.info(
            "twilio.sms.sent",
            extra={
                "sid": sent.sid,
                "to": mask_phone(to),
                "status": sent.status,
                "segments": sent.segments,
            },
        )
        return sent

    async def _post(self, form: dict[str, str]) -> httpx.Response:
        try:
            response = await self._http.post(self._url, data=form, auth=self._auth)
        except httpx.TimeoutException as exc:
            raise TwilioRetryableError("Twilio did not answer in time.") from exc
        except httpx.RequestError as exc:
            raise TwilioRetryableError(f"Twilio is unreachable ({type(exc).__name__}).") from exc
        if not response.is_success:
            raise _error_from(response)
        return response


def mask_phone(number: str) -> str:
    """``+447911123456`` -> ``+44******456``: enough to tell messages apart in logs."""
    number = number.strip()
    if len(number) <= 6:
        return "***"
    return f"{number[:3]}******{number[-3:]}"


def _sent_message(response: httpx.Response, *, to: str) -> SentMessage:
    # A 2xx we cannot read leaves it unknown whether Twilio queued the text; the caller's retry
    # policy decides (a duplicate SMS is the risk, a lost confirmation the alternative).
    try:
        data: Any = response.json()
    except ValueError as exc:
        raise TwilioRetryableError(
            f"Twilio answered {response.status_code} with a body that is not JSON.",
            status=response.status_code,
        ) from exc
    sid = data.get("sid") if isinstance(data, dict) else None
    if not isinstance(sid, str) or not sid:
        raise TwilioRetryableError(
            f"Twilio answered {response.status_code} without a message SID.",
            status=response.status_code,
        )
    status = data.get("status")
    return SentMessage(
        sid=sid,
        status=status if isinstance(status, str) and status else "queued",
        to=_text(data.get("to")) or to,
        from_number=_text(data.get("from")),
        segments=_integer(data.get("num_segments")),
        price=_text(data.get("price")),
    )


def _error_from(response: httpx.Response) -> TwilioError:
    status = response.status_code
    code, message = _twilio_error(response)
    if status == 429 or status >= 500:
        return TwilioRetryableError(message, status=status, code=code)
    return TwilioRequestError(message, status=status, code=code)


def _twilio_error(response: httpx.Response) -> tuple[int | None, str]:
    """Twilio's ``{"code", "message", "more_info", "status"}``, or the status line."""
    fallback = f"Twilio answered {response.status_code} {response.reason_phrase}".rstrip()
    try:
        data: Any = response.json()
    except ValueError:
        return None, fallback
    if not isinstance(data, dict):
        return None, fallback
    message = data.get("message")
    return _integer(data.get("code")), message if isinstance(message, str) and message else fallback


def _text(value: object) -> str | None:
    if isinstance(value, str):
        return value or None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _integer(value: object) -> int | None:
    """Twilio sends ``num_segments`` as a string ("2") and error codes as numbers."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value)
    return None
