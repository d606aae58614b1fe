"""The dependencies routers declare: ``Db``, ``Now``, ``Client`` and who is calling.

Callers: an API key (``X-API-Key: anch_...`` or ``Authorization: Bearer anch_...``), a member of
staff (``Authorization: Bearer <Supabase JWT>``) or a guest holding a booking's manage token
(``X-Booking-Token`` or ``?token=``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Query, Request

from app.config import Settings
from app.db.port import Database
from app.errors import Forbidden, Unauthorized
from app.services import api_keys, tokens
from app.services.actors import Actor, ClientInfo
from app.services.api_keys import ApiKeyCaller, ExtraLimit
from app.services.payments import PayPal
from app.services.staff_auth import StaffTokenVerifier


async def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_now(request: Request) -> datetime:
    """The time, from the app's clock (UTC); tests replace the clock to move it."""
    now: datetime = request.app.state.clock()
    return now


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class TrustedProxies:
    """The proxies (TRUSTED_PROXIES) whose X-Forwarded-For is believed; none by default."""

    def __init__(self, entries: list[str]) -> None:
        self.anyone = "*" in entries
        self.networks = [ipaddress.ip_network(e, strict=False) for e in entries if e != "*"]

    def trusts(self, address: IPAddress) -> bool:
        return self.anyone or any(address in network for network in self.networks)

    def client_address(self, peer: str | None, forwarded: str | None) -> str | None:
        """The caller's address: the peer's, unless the peer is a trusted proxy; then the last
        address of X-Forwarded-For that is not a trusted proxy (each proxy appends the address
        it was called from, so whatever the caller wrote is to the left of it)."""
        address = _ip(peer)
        if address is None or not forwarded or not self.trusts(address):
            return None if address is None else str(address)
        for hop in reversed(forwarded.split(",")):
            hop_address = _ip(hop.strip())
            if hop_address is None:
                break  # not written by a proxy: stop at the last address a proxy gave
            address = hop_address
            if not self.trusts(address):
                break
        return str(address)


NO_PROXIES = TrustedProxies([])


def _ip(text: str | None) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text or "")
    except ValueError:
        return None


def client_of(request: Request) -> ClientInfo:
    proxies: TrustedProxies = getattr(request.app.state, "trusted_proxies", NO_PROXIES)
    ip = proxies.client_address(
        request.client.host if request.client else None, request.headers.get("x-forwarded-for")
    )
    agent = request.headers.get("user-agent")
    return ClientInfo(ip=ip, user_agent=agent[:500] if agent else None)


async def client_info(request: Request) -> ClientInfo:
    return client_of(request)


async def get_staff_verifier(request: Request) -> StaffTokenVerifier:
    verifier: StaffTokenVerifier = request.app.state.staff_verifier
    return verifier


async def get_paypal(request: Request) -> PayPal | None:
    """PayPal as configured in the lifespan; None without credentials."""
    paypal: PayPal | None = request.app.state.paypal
    return paypal


Db = Annotated[Database, Depends(get_db)]
PayPalDep = Annotated[PayPal | None, Depends(get_paypal)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
Now = Annotated[datetime, Depends(get_now)]
Client = Annotated[ClientInfo, Depends(client_info)]
StaffVerifier = Annotated[StaffTokenVerifier, Depends(get_staff_verifier)]

# Credentials are read from the headers by the functions below, not declared as FastAPI security
# dependencies: app.openapi_docs documents each operation's security, and a missing credential is
# answered by us, in the envelope.


async def _authenticate_key(
    request: Request, db: Database, now: datetime, raw: str, extra: tuple[ExtraLimit, ...]
) -> ApiKeyCaller:
    caller = await api_keys.authenticate_api_key(db, raw_key=raw, now=now, extra_limits=extra)
    return record_rate(request, caller)


def bearer_of(request: Request) -> str | None:
    """The credentials of ``Authorization: Bearer ...``, as ``HTTPBearer`` reads them."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    return credentials if scheme.lower() == "bearer" and credentials else None


def api_key_of(request: Request) -> str | None:
    """The API key presented as ``X-API-Key`` (preferred) or ``Authorization: Bearer anch_...``,
    read straight from the headers: for the busiest routes, which solve no dependencies (their
    security is documented by app.openapi_docs)."""
    raw = request.headers.get("x-api-key")
    if raw:
        return raw
    credentials = bearer_of(request)
    return credentials if credentials and credentials.startswith(api_keys.KEY_PREFIX) else None


def presented_key_of(request: Request) -> str:
    raw = api_key_of(request)
    if not raw:
        raise Unauthorized("Send an API key in X-API-Key or as Authorization: Bearer anch_...")
    return raw


async def staff_actor(
    db: Database, verifier: StaffTokenVerifier, credentials: str, staff_action: str
) -> Actor:
    """A member of staff signed in to the pub's app, whose role grants
    ``table_bookings:<staff_action>``."""
    staff = await verifier.verify(credentials)
    allowed = await db.rpc(
        "staff_has_permission", {"p_user_id": staff.user_id, "p_action": staff_action}
    )
    if not allowed:
        raise Forbidden(
            f"Your role does not allow table_bookings:{staff_action}.",
            details={"required": f"table_bookings:{staff_action}"},
        )
    return Actor(kind="staff", id=staff.user_id, email=staff.email)


async def presented_api_key(request: Request) -> str:
    """The API key presented as ``X-API-Key`` (preferred) or ``Authorization: Bearer anch_...``."""
    return presented_key_of(request)


PresentedKey = Annotated[str, Depends(presented_api_key)]


def client_limits(scope: str, client: ClientInfo, per_minute: int) -> tuple[ExtraLimit, ...]:
    """A limit per client address for ``scope``, counted with the key's own (none without an
    address)."""
    if not client.ip:
        return ()
    return (ExtraLimit(f"client:{scope}:{client.ip}", per_minute, 60),)


def link_base(request: Request) -> str:
    """Where guest links point: PUBLIC_BASE_URL, else this request's host; no trailing slash."""
    settings: Settings = request.app.state.settings
    return (settings.public_base_url or str(request.base_url)).rstrip("/")


def record_rate(request: Request, caller: ApiKeyCaller) -> ApiKeyCaller:
    # Read by RateLimitHeaders, so every keyed response, errors included, carries them.
    request.state.rate_limit = caller.rate
    return caller


async def api_key_caller(request: Request, db: Db, now: Now, raw: PresentedKey) -> ApiKeyCaller:
    """The API key presented as ``X-API-Key`` (preferred) or ``Authorization: Bearer anch_...``."""
    return await _authenticate_key(request, db, now, raw, ())


Caller = Annotated[ApiKeyCaller, Depends(api_key_caller)]


def require_scope(scope: str) -> Callable[..., Awaitable[ApiKeyCaller]]:
    """Admit only keys holding ``scope`` (``*`` and ``manage:`` included)."""

    async def dependency(request: Request, db: Db, now: Now, raw: PresentedKey) -> ApiKeyCaller:
        caller = await _authenticate_key(request, db, now, raw, ())
        return api_keys.require(caller, scope)

    dependency.__name__ = f"require_{scope.replace(':', '_')}"
    return dependency


def acting(
    *, key_scope: str, staff_action: str, guest: bool = False
) -> Callable[..., Awaitable[Actor]]:
    """Who acts on bookings: a guest with the booking's token (when ``guest``), a key with
    ``key_scope``, or staff whose role grants ``table_bookings:<staff_action>``."""

    async def resolve(
        request: Request,
        db: Database,
        now: datetime,
        verifier: StaffTokenVerifier,
        guest_token: str | None,
    ) -> Actor:
        if guest_token:
            if len(guest_token) > 256:
                raise Unauthorized("That booking link is not valid.")
            return Actor(kind="guest", token_hash=tokens.hash_token(guest_token))
        raw_key = api_key_of(request)
        if raw_key:
            caller = await _authenticate_key(request, db, now, raw_key, ())
            api_keys.require(caller, key_scope)
            return Actor(kind="api_key", id=caller.key_id, name=caller.name)
        credentials = bearer_of(request)
        if credentials is not None:
            return await staff_actor(db, verifier, credentials, staff_action)
        what = "the booking's token, an API key" if guest else "an API key"
        raise Unauthorized(f"Send {what} or a staff sign-in token.")

    # Two signatures, so only the guest routes take the ``token`` query parameter.
    async def with_guest(
        request: Request,
        db: Db,
        now: Now,
        verifier: StaffVerifier,
        token: Annotated[
            str | None, Query(description="The guest's manage token (instead of the header).")
        ] = None,
    ) -> Actor:
        guest_token = request.headers.get("x-booking-token") or token
        return await resolve(request, db, now, verifier, guest_token)

    async def without_guest(
        request: Request,
        db: Db,
        now: Now,
        verifier: StaffVerifier,
    ) -> Actor:
        return await resolve(request, db, now, verifier, None)

    dependency = with_guest if guest else without_guest
    dependency.__name__ = f"acting_{staff_action}"
    return dependency
