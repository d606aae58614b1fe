"""The outbox as the guest would read it: ``python -m app.cli outbox``.

With no Twilio or Microsoft credentials (the embedded default) the worker records each message
in ``table_booking_outbox`` instead of sending it; this prints them: the text as it would
arrive, the email's recipient, subject and plain text, and each attachment (the calendar file's
lines).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from app.db.port import Database

LONDON = ZoneInfo("Europe/London")


async def read_outbox(
    db: Database, *, reference: str | None = None, limit: int = 20
) -> list[dict[str, Any]]:
    """The newest ``limit`` messages recorded (of one booking, when given), oldest first."""
    messages: list[dict[str, Any]] = await db.rpc(
        "table_booking_outbox_read", {"p_reference": reference, "p_limit": limit}
    )
    return messages


def as_the_guest_reads_it(messages: Iterable[dict[str, Any]]) -> str:
    """Each message as plain text, one after the other, under a line saying what it is."""
    blocks = [_message(m) for m in messages]
    return "\n\n".join(blocks) if blocks else "The outbox is empty."


def _message(message: dict[str, Any]) -> str:
    at = datetime.fromisoformat(message["created_at"]).astimezone(LONDON)
    about = " · ".join(
        part
        for part in (
            message.get("booking_reference"),
            message.get("template_key"),
            f"recorded {at:%a %d %b %Y %H:%M} London time",
        )
        if part
    )
    if message["channel"] == "sms":
        return f"=== Text to {message['recipient']} ({about})\n{message['body']}"
    lines = [
        f"=== Email to {message['recipient']} ({about})",
        f"Subject: {message.get('subject') or ''}",
        "",
        message["body"],
    ]
    for attachment in message.get("attachments") or []:
        lines += ["", *_attachment(attachment)]
    return "\n".join(lines)


def _attachment(attachment: dict[str, Any]) -> list[str]:
    head = f"--- Attachment {attachment.get('filename')} ({attachment.get('content_type')})"
    encoded = attachment.get("content_b64")
    if encoded is None:
        return [head, "(its content is no longer kept: the job that carried it is gone)"]
    try:
        content = base64.b64decode(encoded, validate=True)
        text = content.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return [head, "(binary content, not shown)"]
    return [head, text.replace("\r\n", "\n").rstrip("\n")]
