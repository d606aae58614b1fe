"""Guest manage tokens: made here, stored only as a hash, shown to the guest once.

A token is 32 random bytes (base64url). For an idempotent create, the response stored for
replays carries the token sealed with a key derived from the caller's Idempotency-Key, so the
database never holds a usable token and only the caller who sent the key can replay it.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import datetime
from typing import Any, Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.db.port import Database


def new_manage_token() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode("ascii")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _key(idempotency_key: str) -> bytes:
    return hashlib.sha256(b"anchor-manage-token:" + idempotency_key.encode("utf-8")).digest()


def seal(token: str, *, idempotency_key: str) -> str:
    nonce = secrets.token_bytes(12)
    sealed = AESGCM(_key(idempotency_key)).encrypt(nonce, token.encode("utf-8"), None)
    return base64.urlsafe_b64encode(nonce + sealed).decode("ascii")


def unseal(sealed: str, *, idempotency_key: str) -> str | None:
    """The token, or None when it cannot be opened with this key."""
    try:
        raw = base64.urlsafe_b64decode(sealed.encode("ascii"))
        return AESGCM(_key(idempotency_key)).decrypt(raw[:12], raw[12:], None).decode("utf-8")
    except (InvalidTag, ValueError):
        return None


# Guest links of the 2026 contract (the pub's guest_tokens): one per booking and action.
GuestAction = Literal["payment", "manage", "booking_confirm"]


def guest_link_url(base_url: str, token: str, page: str) -> str:
    """A guest link: ``{base}/g/{token}/{page}`` (the base's trailing slash dropped)."""
    return f"{base_url.rstrip('/')}/g/{token}/{page}"


async def issue_guest_token(
    db: Database, *, booking_id: str, action: GuestAction, expires_at: datetime
) -> str:
    """A new link token for the booking's guest; only its hash is stored."""
    token = new_manage_token()
    await db.rpc(
        "tb_guest_token_issue",
        {
            "p_booking_id": booking_id,
            "p_action": action,
            "p_token_hash": hash_token(token),
            "p_expires_at": expires_at.isoformat(),
        },
    )
    return token


async def open_guest_token(
    db: Database, token: str, *, action: GuestAction, now: datetime
) -> dict[str, Any]:
    """``{"state": "ok", "token_id", "booking_id", "expires_at"}``, or ``{"state": reason}``
    with the pub's reasons (``invalid_token``, ``token_used``, ``token_expired``,
    ``booking_not_found``, ``token_customer_mismatch``)."""
    if not token or len(token) > 200:
        return {"state": "invalid_token"}
    opened: dict[str, Any] = await db.rpc(
        "tb_guest_token_open",
        {"p_token_hash": hash_token(token), "p_action": action, "p_now": now.isoformat()},
    )
    return opened


async def consume_guest_token(db: Database, token_id: str, *, now: datetime) -> bool:
    """Uses the link up; False when it had already been used."""
    return bool(
        await db.rpc("tb_guest_token_consume", {"p_token_id": token_id, "p_now": now.isoformat()})
    )
