"""Guest manage tokens: made here, stored only as a hash, shown to the guest once.

A token is 32 random bytes (base64url). For an idempotent create, the response stored for
replays carries the token sealed with a key derived from the caller's Idempotency-Key, so the
database never holds a usable token and only the caller who sent the key can replay it.
"""

from __future__ import annotations

import base64
import hashlib
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


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
