"""Messages as RFC 5322 MIME, the form Graph's ``sendMail`` accepts base64-encoded."""

from __future__ import annotations

from dataclasses import dataclass
from email import policy
from email.headerregistry import BaseHeader, ContentTypeHeader
from email.message import EmailMessage


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content_type: str  # may carry parameters, e.g. "text/calendar; method=PUBLISH; charset=utf-8"
    content: bytes


@dataclass(frozen=True, slots=True)
class Email:
    to: tuple[str, ...]
    subject: str
    text: str
    html: str | None = None
    attachments: tuple[Attachment, ...] = ()
    reply_to: str | None = None


def build_mime(email: Email, *, sender: str) -> bytes:
    """The message as MIME bytes: text (and html) alternatives first, then the attachments."""
    if not email.to:
        raise ValueError("An email needs at least one recipient.")
    # policy.SMTP: CRLF line endings, and header values with CR/LF are refused (no injection).
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = sender
    message["To"] = ", ".join(email.to)
    message["Subject"] = email.subject
    if email.reply_to is not None:
        message["Reply-To"] = email.reply_to
    # Quoted-printable keeps the body 7-bit clean whatever the text holds (£, dashes, long lines).
    message.set_content(email.text, cte="quoted-printable")
    if email.html is not None:
        message.add_alternative(email.html, subtype="html", cte="quoted-printable")
    for attachment in email.attachments:
        content_type = _content_type(attachment.content_type)
        message.add_attachment(
            attachment.content,
            maintype=content_type.maintype,
            subtype=content_type.subtype,
            filename=attachment.filename,
            # Calendar clients read ``method`` from the part's Content-Type, so keep every
            # parameter the caller gave.
            params=dict(content_type.params),
        )
    return message.as_bytes()


def _content_type(value: str) -> ContentTypeHeader:
    header = policy.default.header_factory("content-type", value)
    if not (isinstance(header, ContentTypeHeader) and isinstance(header, BaseHeader)):
        raise ValueError(f"Not a valid content type: {value!r}")
    if header.defects:
        raise ValueError(f"Not a valid content type: {value!r}")
    return header
