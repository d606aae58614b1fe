"""Staff sign-in: verifying a Supabase Auth access token locally.

Two modes, chosen by configuration. With ``SUPABASE_JWT_SECRET`` the token must be HS256, signed
with that shared secret (the legacy Supabase setup, and the embedded default, where tokens come
from ``mint_staff_token``). Otherwise, with ``SUPABASE_URL``, the token must be ES256 or RS256,
signed by a key published in the project's JWKS. The accepted algorithms always come from our own
configuration and keys, never from the token header.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
from jwt.exceptions import ExpiredSignatureError, InvalidTokenError, PyJWKError, PyJWTError

from app.errors import ServiceUnavailable, Unauthorized

logger = logging.getLogger("app.staff_auth")

AUDIENCE = "authenticated"
ROLE = "authenticated"
MAX_TOKEN_LENGTH = 8 * 1024
LEEWAY_SECONDS = 30
ASYMMETRIC_ALGORITHMS = frozenset({"ES256", "RS256"})

MSG_NOT_CONFIGURED = "Staff sign-in is not configured."
MSG_INVALID = "Your sign-in is not valid. Please sign in again."
MSG_EXPIRED = "Your sign-in has expired. Please sign in again."

# A header and a payload (never empty) and a signature (empty for ``alg: none``, which looks like
# a JWT and is then refused by ``verify``).
_JWT_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


@dataclass(frozen=True, slots=True)
class StaffUser:
    """A member of staff whose access token verified."""

    user_id: str  # the token's ``sub``, a UUID string
    email: str | None


def looks_like_jwt(token: str) -> bool:
    """Whether ``token`` has the shape of a JWT (three base64url segments); verifies nothing."""
    return len(token) <= MAX_TOKEN_LENGTH and _JWT_SHAPE.fullmatch(token) is not None


class StaffTokenVerifier:
    """Verifies staff access tokens; one instance per process (it caches the JWKS)."""

    #: The JWKS is on the request path of a staff call, so give up quickly.
    JWKS_TIMEOUT_SECONDS = 5.0
    #: An unknown ``kid`` may mean the keys rotated; refetch, but no more often than this.
    UNKNOWN_KID_REFETCH_SECONDS = 30.0

    def __init__(
        self,
        *,
        jwt_secret: str | None,
        supabase_url: str | None,
        http: httpx.AsyncClient,
        jwks_ttl_seconds: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._secret = jwt_secret or None
        base = supabase_url.rstrip("/") if supabase_url else None
        self._issuer = f"{base}/auth/v1" if base else None
        self._jwks_url = f"{base}/auth/v1/.well-known/jwks.json" if base else None
        self._http = http
        self._ttl = jwks_ttl_seconds
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._last_kid_refetch: float | None = None
        # One fetch at a time: concurrent requests wait for it and then read the cache.
        self._lock = asyncio.Lock()

    async def verify(self, token: str) -> StaffUser:
        """The staff member ``token`` belongs to; ``Unauthorized`` if it does not verify."""
        if self._secret is None and self._jwks_url is None:
            raise Unauthorized(MSG_NOT_CONFIGURED)
        if len(token) > MAX_TOKEN_LENGTH:
            raise Unauthorized(MSG_INVALID)
        try:
            if self._secret is not None:
                claims = jwt.decode(
                    token,
                    self._secret,
                    algorithms=["HS256"],
                    audience=AUDIENCE,
                    options={"require": ["exp", "sub"], "strict_aud": True},
                    leeway=LEEWAY_SECONDS,
                )
            else:
                key = await self._key_for(token)
                claims = jwt.decode(
                    token,
                    key,
                    algorithms=[key.algorithm_name],
                    audience=AUDIENCE,
                    issuer=self._issuer,
                    options={"require": ["exp", "sub", "iss"], "strict_aud": True},
                    leeway=LEEWAY_SECONDS,
                )
        except ExpiredSignatureError:
            raise Unauthorized(MSG_EXPIRED) from None
        except PyJWTError as exc:
            logger.info("staff_auth.token_refused", extra={"reason": type(exc).__name__})
            raise Unauthorized(MSG_INVALID) from None
        return _staff_user(claims)

    async def _key_for(self, token: str) -> jwt.PyJWK:
        header = jwt.get_unverified_header(token)
        kid = header.get("kid")
        # Refuse other algorithms before any network call, so HS256 or ``none`` tokens cost nothing.
        if header.get("alg") not in ASYMMETRIC_ALGORITHMS or not isinstance(kid, str) or not kid:
            raise InvalidTokenError("unsupported header")
        if self._is_fresh() and kid in self._keys:
            return self._keys[kid]
        async with self._lock:
            fetched = False
            if not self._is_fresh():
                await self._fetch_jwks()
                fetched = True
            if kid not in self._keys and not fetched and self._may_refetch_for_unknown_kid():
                self._last_kid_refetch = self._clock()
                await self._fetch_jwks()
            key = self._keys.get(kid)
        if key is None:
            raise InvalidTokenError("unknown kid")
        return key

    def _is_fresh(self) -> bool:
        return self._fetched_at is not None and self._clock() - self._fetched_at < self._ttl

    def _may_refetch_for_unknown_kid(self) -> bool:
        last = self._last_kid_refetch
        return last is None or self._clock() - last >= self.UNKNOWN_KID_REFETCH_SECONDS

    async def _fetch_jwks(self) -> None:
        assert self._jwks_url is not None
        try:
            response = await self._http.get(self._jwks_url, timeout=self.JWKS_TIMEOUT_SECONDS)
        except httpx.HTTPError as exc:
            logger.warning("staff_auth.jwks.unreachable", extra={"error": type(exc).__name__})
            raise ServiceUnavailable("Staff sign-in cannot be checked right now.") from None
        if response.status_code != 200:
            logger.warning("staff_auth.jwks.bad_status", extra={"status": response.status_code})
            raise ServiceUnavailable("Staff sign-in cannot be checked right now.")
        try:
            body: Any = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("keys"), list):
            logger.warning("staff_auth.jwks.invalid")
            raise ServiceUnavailable("Staff sign-in cannot be checked right now.")
        self._keys = _signing_keys(body["keys"])
        self._fetched_at = self._clock()


def _signing_keys(entries: list[Any]) -> dict[str, jwt.PyJWK]:
    """The usable EC/RSA signing keys by ``kid``; anything else in the set is skipped."""
    keys: dict[str, jwt.PyJWK] = {}
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("kty") not in ("EC", "RSA"):
            continue
        kid = entry.get("kid")
        if not isinstance(kid, str) or not kid or entry.get("use", "sig") != "sig":
            continue
        try:
            key = jwt.PyJWK(entry)
        except (PyJWKError, InvalidTokenError, ValueError, TypeError):
            logger.warning("staff_auth.jwks.key_skipped", extra={"kid": kid})
            continue
        if key.algorithm_name in ASYMMETRIC_ALGORITHMS:
            keys[kid] = key
    return keys


def _staff_user(claims: dict[str, Any]) -> StaffUser:
    if claims.get("role", ROLE) != ROLE:
        raise Unauthorized(MSG_INVALID)
    user_id = _canonical_uuid(claims.get("sub"))
    if user_id is None:
        raise Unauthorized(MSG_INVALID)
    email = claims.get("email")
    return StaffUser(user_id=user_id, email=email if isinstance(email, str) and email else None)


def _canonical_uuid(value: object) -> str | None:
    """``value`` as a lowercase hyphenated UUID, if it is one (not braces, ``urn:uuid:`` or hex)."""
    if not isinstance(value, str):
        return None
    try:
        parsed = str(uuid.UUID(value))
    except ValueError:
        return None
    return parsed if parsed == value.lower() else None


def mint_staff_token(
    *,
    secret: str,
    user_id: str,
    email: str | None,
    ttl_seconds: int = 3600,
    issuer: str | None = None,
) -> str:
    """An HS256 token shaped like Supabase's (for local use against the embedded default)."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": user_id,
        "email": email,
        "aud": AUDIENCE,
        "role": ROLE,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    if issuer is not None:
        claims["iss"] = issuer
    return jwt.encode(claims, secret, algorithm="HS256")
