"""API keys: minting, the bootstrap key, and who a presented key belongs to.

Keys look like ``anch_<43 base64url chars>`` (32 random bytes) and are stored only as the
lowercase sha256 hex of the whole key, as the pub's existing app stores them.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import math
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.db.port import Database
from app.errors import Forbidden, RateLimitExceeded, Unauthorized, ValidationFailed

logger = logging.getLogger("app.api_keys")

KEY_PREFIX = "anch_"

READ = "read:table_bookings"
WRITE = "write:table_bookings"
MANAGE = "manage:table_bookings"
ALL_SCOPES = "*"
TABLE_BOOKING_SCOPES = (READ, WRITE, MANAGE)
#: The pub's scopes of the 2026 website contract (its website key holds them all).
WEBSITE_2026_SCOPES = ("create:bookings", "payments:capture", "read:menu")
KNOWN_SCOPES = frozenset({*TABLE_BOOKING_SCOPES, ALL_SCOPES, *WEBSITE_2026_SCOPES})


@dataclass(frozen=True, slots=True)
class RateLimitState:
    """Where a caller stands in its current window, for the X-RateLimit-* headers."""

    limit: int
    remaining: int
    reset_at: datetime

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(int(self.reset_at.timestamp())),
        }


@dataclass(frozen=True, slots=True)
class ExtraLimit:
    """A limit counted with the key's own, e.g. availability per client address."""

    bucket: str
    limit: int
    window_seconds: int


@dataclass(frozen=True, slots=True)
class ApiKeyCaller:
    """A caller that presented an active, unexpired API key."""

    key_id: str
    name: str
    scopes: frozenset[str]
    rate: RateLimitState

    def allows(self, scope: str) -> bool:
        return scope_allows(self.scopes, scope)


def scope_allows(scopes: frozenset[str], required: str) -> bool:
    """``*`` allows everything; ``manage:<resource>`` allows every scope on that resource."""
    if ALL_SCOPES in scopes or required in scopes:
        return True
    _, _, resource = required.partition(":")
    return f"manage:{resource}" in scopes


def generate_key() -> str:
    raw = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode("ascii")
    return KEY_PREFIX + raw


def hash_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode("utf-8")).hexdigest()


def parse_scopes(text: str) -> list[str]:
    scopes = sorted({s.strip() for s in text.split(",") if s.strip()})
    unknown = [s for s in scopes if s not in KNOWN_SCOPES]
    if not scopes or unknown:
        raise ValidationFailed(
            f"Scopes must be a comma-separated list of: {', '.join(sorted(KNOWN_SCOPES))}.",
            details={"unknown": unknown},
        )
    return scopes


async def create_api_key(
    db: Database,
    *,
    name: str,
    scopes: list[str],
    rate_limit: int = 1000,
    expires_at: datetime | None = None,
    description: str | None = None,
) -> tuple[str, dict[str, Any]]:
    """Mint a key; return the raw key (shown once, never stored) and the stored row."""
    if not name.strip():
        raise ValidationFailed("A key needs a name.", details={"field": "name"})
    if rate_limit < 1:
        raise ValidationFailed(
            "The rate limit must be at least 1.", details={"field": "rate_limit"}
        )
    raw = generate_key()
    row = await db.rpc(
        "api_key_create",
        {
            "p_key_hash": hash_key(raw),
            "p_name": name.strip(),
            "p_permissions": scopes,
            "p_rate_limit": rate_limit,
            "p_expires_at": expires_at.isoformat() if expires_at else None,
            "p_description": description,
        },
    )
    return raw, row


async def ensure_bootstrap_key(db: Database, *, raw_key: str) -> None:
    """Make sure a key with exactly this value exists, active, with every table-booking scope
    and the 2026 website's, so one demo key books through both of the website's contracts."""
    row = await db.rpc(
        "api_key_ensure",
        {
            "p_key_hash": hash_key(raw_key),
            "p_name": "bootstrap (BOOTSTRAP_API_KEY)",
            "p_permissions": [*TABLE_BOOKING_SCOPES, *WEBSITE_2026_SCOPES],
        },
    )
    logger.info("api_keys.bootstrap_ensured key_id=%s", row["id"])


async def authenticate_api_key(
    db: Database,
    *,
    raw_key: str,
    now: datetime,
    extra_limits: tuple[ExtraLimit, ...] = (),
) -> ApiKeyCaller:
    """Who the key belongs to, counted against its hourly limit and ``extra_limits``.

    Raises ``Unauthorized`` for an unknown, inactive or expired key and ``RateLimitExceeded``
    (with ``Retry-After`` and the ``X-RateLimit-*`` headers) when a limit is used up.
    """
    row = await db.rpc(
        "api_key_authenticate",
        {
            "p_key_hash": hash_key(raw_key),
            "p_now": now.isoformat(),
            "p_limits": limits_arg(extra_limits),
        },
    )
    return caller_from_auth(row, now=now)


def limits_arg(extra_limits: tuple[ExtraLimit, ...]) -> list[dict[str, Any]]:
    """``extra_limits`` as the SQL functions take them (``p_limits``)."""
    return [
        {"bucket": x.bucket, "limit": x.limit, "window_seconds": x.window_seconds}
        for x in extra_limits
    ]


def caller_from_auth(row: dict[str, Any] | None, *, now: datetime) -> ApiKeyCaller:
    """The caller described by ``api_key_authenticate``'s answer (also the ``auth`` part of the
    one-call endpoints, e.g. ``table_booking_availability_for_key``).

    Raises ``Unauthorized`` for no key and ``RateLimitExceeded`` when a limit is used up.
    """
    if not row:
        raise Unauthorized("The API key is unknown, inactive or expired.")
    permissions = row.get("permissions") or []
    rate = row["rate_limit"]
    state = RateLimitState(
        limit=int(rate["limit"]),
        remaining=int(rate["remaining"]),
        reset_at=datetime.fromisoformat(rate["reset_at"]),
    )
    limited = row.get("limited")
    if limited:
        reset_at = datetime.fromisoformat(limited["reset_at"])
        retry_after = max(1, math.ceil((reset_at - now).total_seconds()))
        raise RateLimitExceeded(
            "Too many requests. Please wait and try again.",
            details={"retry_after": retry_after, "limit": limited["scope"]},
            headers={**state.headers(), "Retry-After": str(retry_after)},
        )
    return ApiKeyCaller(
        key_id=str(row["id"]),
        name=str(row["name"]),
        scopes=frozenset(str(p) for p in permissions if isinstance(p, str)),
        rate=state,
    )


def require(caller: ApiKeyCaller, scope: str) -> ApiKeyCaller:
    if not caller.allows(scope):
        raise Forbidden(f"This API key lacks the scope {scope}.", details={"required": scope})
    return caller
