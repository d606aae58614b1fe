"""``/api/webhooks/twilio/*``: delivery status callbacks and inbound texts (STOP / START).

Both check ``X-Twilio-Signature`` against the public URL Twilio called (``PUBLIC_BASE_URL`` plus
the path), before anything is read or written.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.config import Settings
from app.deps import Db, SettingsDep
from app.errors import Unauthorized, ValidationFailed
from app.integrations.twilio import signature_is_valid
from app.schemas import Envelope, ErrorEnvelope, TwilioStatusAck
from app.services import phones

router = APIRouter(prefix="/api/webhooks/twilio", tags=["webhooks"])

OPT_OUT_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"}
)
OPT_IN_WORDS = frozenset({"START", "YES", "UNSTOP"})
_LOGGED_HEADERS = ("user-agent", "content-type", "x-twilio-signature", "i-twilio-idempotency-token")
_EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def keyword_action(body: str) -> str | None:
    words = body.strip().upper().split()
    first = "".join(c for c in words[0] if c.isalpha()) if words else ""  # "Stop!" is STOP
    if first in OPT_OUT_WORDS:
        return "opt_out"
    if first in OPT_IN_WORDS:
        return "opt_in"
    return None


def _variants(number: str) -> list[str]:
    try:
        return phones.phone_variants(number)
    except ValidationFailed:
        return []


def _public_url(request: Request, settings: Settings) -> str:
    if settings.public_base_url:
        url = settings.public_base_url.rstrip("/") + request.url.path
        return url + (f"?{request.url.query}" if request.url.query else "")
    return str(request.url)


async def _verified_params(request: Request, settings: Settings) -> tuple[dict[str, str], str]:
    body = (await request.body()).decode("utf-8", errors="replace")
    params = dict(parse_qsl(body, keep_blank_values=True))
    token = settings.twilio_auth_token.get_secret_value() if settings.twilio_auth_token else None
    if token is None or not signature_is_valid(
        auth_token=token,
        url=_public_url(request, settings),
        params=params,
        signature=request.headers.get("x-twilio-signature"),
    ):
        raise Unauthorized("The Twilio signature does not match this request.")
    return params, body


def _headers(request: Request) -> dict[str, str]:
    return {name: request.headers[name] for name in _LOGGED_HEADERS if name in request.headers}


@router.post(
    "/status",
    summary="Twilio delivery status",
    response_model=Envelope[TwilioStatusAck],
    responses={401: {"model": ErrorEnvelope}, 503: {"model": ErrorEnvelope}},
)
async def delivery_status(request: Request, db: Db, settings: SettingsDep) -> dict[str, Any]:
    """A message moved on (sent, delivered, failed...); its status only ever moves forward."""
    params, body = await _verified_params(request, settings)
    sid = params.get("MessageSid") or params.get("SmsSid") or ""
    status = params.get("MessageStatus") or params.get("SmsStatus") or ""
    result = await db.rpc(
        "twilio_message_status",
        {
            "p_sid": sid,
            "p_status": status,
            "p_error_code": params.get("ErrorCode") or None,
            "p_error_message": params.get("ErrorMessage") or None,
            "p_raw": params,
        },
    )
    await db.rpc(
        "webhook_log",
        {
            "p_type": "twilio",
            "p_status": "success" if result["known"] else "ignored",
            "p_headers": _headers(request),
            "p_body": body,
            "p_params": {"event": "status", "status": status},
            "p_error": None,
            "p_message_sid": sid,
        },
    )
    return {"success": True, "data": {"received": True, "known": result["known"]}}


@router.post(
    "/inbound",
    summary="Inbound text",
    response_class=Response,
    responses={200: {"content": {"text/xml": {}}}, 401: {"model": ErrorEnvelope}},
)
async def inbound(request: Request, db: Db, settings: SettingsDep) -> Response:
    """A guest texted the pub: STOP (and the like) opts them out, START opts them back in."""
    params, body = await _verified_params(request, settings)
    action = keyword_action(params.get("Body", ""))
    result = await db.rpc(
        "twilio_inbound_message",
        {
            "p_sid": params.get("MessageSid") or params.get("SmsSid") or "",
            "p_from": params.get("From", ""),
            "p_to": params.get("To", ""),
            "p_body": params.get("Body", ""),
            "p_action": action,
            "p_from_variants": _variants(params.get("From", "")),
        },
    )
    await db.rpc(
        "webhook_log",
        {
            "p_type": "twilio",
            "p_status": "success" if result["known"] else "ignored",
            "p_headers": _headers(request),
            "p_body": body,
            "p_params": {"event": "inbound", "action": action},
            "p_error": None,
            "p_message_sid": params.get("MessageSid"),
        },
    )
    # Twilio replies to STOP itself (Advanced Opt-Out); we answer with no message of our own.
    return Response(_EMPTY_TWIML, media_type="text/xml")
