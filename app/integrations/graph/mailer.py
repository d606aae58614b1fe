"""Sending mail as the pub's mailbox through Microsoft Graph (``sendMail`` with a MIME body)."""

from __future__ import annotations

import asyncio
import base64
import logging
import math
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import quote

import httpx

from ._token import ClientCredentials
from .errors import GraphError, GraphRequestError, GraphRetryableError
from .mime import Email, build_mime

logger = logging.getLogger("app.graph")

GRAPH_BASE_URL = "https://graph.microsoft.com/v1.0"

#: Patched by tests to record the wait instead of waiting.
sleep = asyncio.sleep


class GraphMailer:
    """Sends :class:`Email` as ``sender``; one instance per process (MSAL caches the token)."""

    def __init__(
        self,
        *,
        tenant_id: str,
        client_id: str,
        client_secret: str,
        sender: str,
        http: httpx.AsyncClient,
        token_http: httpx.Client | None = None,
        max_wait_seconds: float = 10.0,
    ) -> None:
        self._sender = sender
        self._http = http
        self._owns_token_http = token_http is None
        self._token_http = token_http if token_http is not None else httpx.Client(timeout=10)
        self._credentials = ClientCredentials(
            tenant_id=tenant_id,
            client_id=client_id,
            client_secret=client_secret,
            http=self._token_http,
        )
        self._max_wait_seconds = max_wait_seconds
        self._url = f"{GRAPH_BASE_URL}/users/{quote(sender, safe='@')}/sendMail"

    def close(self) -> None:
        """Close the token endpoint's client if the mailer made it (an injected one is the
        caller's to close)."""
        if self._owns_token_http:
            self._token_http.close()

    async def send(self, email: Email) -> None:
        """Send ``email``; Graph accepting it (202) is not delivery."""
        recipients = ", ".join(mask_address(address) for address in email.to)
        try:
            status = await self._send(email)
        except GraphError as exc:
            logger.warning(
                "graph.mail.failed",
                extra={
                    "to": recipients,
                    "status": exc.status,
                    "code": exc.code,
                    "retryable": isinstance(exc, GraphRetryableError),
                },
            )
            raise
        logger.info("graph.mail.sent", extra={"to": recipients, "status": status})

    async def _send(self, email: Email) -> int:
        body = base64.b64encode(build_mime(email, sender=self._sender))
        token = await asyncio.to_thread(self._credentials.acquire)
        waited = False
        while True:
            response = await self._post(body, token)
            if response.is_success:
                return response.status_code
            error = _error_from(response)
            # Throttling with a short Retry-After is worth one wait; a long one goes back to the
            # caller (a queue or cron retries it later) rather than holding the request open.
            if (
                not waited
                and isinstance(error, GraphRetryableError)
                and response.status_code in (429, 503)
                and error.retry_after is not None
                and error.retry_after <= self._max_wait_seconds
            ):
                waited = True
                await sleep(error.retry_after)
                continue
            raise error

    async def _post(self, body: bytes, token: str) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "text/plain"}
        try:
            return await self._http.post(self._url, content=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise GraphRetryableError("Graph did not answer in time.") from exc
        except httpx.RequestError as exc:
            raise GraphRetryableError(f"Graph is unreachable ({type(exc).__name__}).") from exc


def mask_address(address: str) -> str:
    """``ann@example.com`` -> ``a***@example.com``: enough to tell messages apart in logs."""
    local, at, domain = address.strip().rpartition("@")
    if not at or not local:
        return "***"
    return f"{local[0]}***@{domain}"


def _error_from(response: httpx.Response) -> GraphError:
    status = response.status_code
    code, message = _graph_error(response)
    if status == 429 or status >= 500:
        return GraphRetryableError(
            message, status=status, code=code, retry_after=_retry_after(response)
        )
    return GraphRequestError(message, status=status, code=code)


def _graph_error(response: httpx.Response) -> tuple[str | None, str]:
    """Graph's ``{"error": {"code", "message"}}``, or the status line when the body is not that."""
    fallback = f"Graph answered {response.status_code} {response.reason_phrase}".rstrip()
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return None, fallback
    if not isinstance(error, dict):
        return None, fallback
    code = error.get("code") if isinstance(error.get("code"), str) else None
    message = error.get("message")
    return code, message if isinstance(message, str) and message else fallback


def _retry_after(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds (delta-seconds or an HTTP date); None if absent or unreadable."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
