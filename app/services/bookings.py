"""Bookings: create, read, change, cancel, staff status, list.

Each action is one database function (one transaction). This module normalises what the caller
sent, hands it to SQL with who is acting and the time, shapes what comes back, and audits a
refused attempt (which the refused transaction could not keep).
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from app.db.errors import error_from_database
from app.db.port import Database
from app.errors import AppError, DepositFirst, Forbidden, InvalidMenuItems, ServiceUnavailable
from app.schemas import STAFF_SOURCES, CreateBookingRequest, UpdateBookingRequest
from app.services import api_keys, payments, phones, tokens
from app.services.actors import Actor, ClientInfo
from app.services.api_keys import ApiKeyCaller
from app.services.payments import PayPal
from app.services.refunds import (
    RefundTerms,
    describe_cancellation_policy,
    just_made_summary,
    why_not_cancellable,
)

logger = logging.getLogger("app.bookings")


def request_hash(payload: dict[str, Any]) -> str:
    """sha256 of a key-sorted JSON serialisation, as the shared idempotency_keys rows use."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def idempotency_digest(idempotency_key: str) -> str:
    # Hashed, so any header value fits the column.
    return hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()


def idempotency_row_key(actor: Actor, idempotency_key: str) -> str:
    # Scoped to the caller, so two integrators choosing the same key never collide.
    # (table_booking_create_for_key builds the same key for an API key, in SQL.)
    return f"table_booking_create:{actor.kind}:{actor.id}:{idempotency_digest(idempotency_key)}"


@dataclass(frozen=True, slots=True)
class _Prepared:
    body: dict[str, Any]
    payload: dict[str, Any]
    token: str


def channel_of(request: CreateBookingRequest, *, is_staff: bool) -> str:
    """The booking's ``source``: the caller's channel, never what the body claims. An API key
    books for the website; staff may say how the booking reached them."""
    if not is_staff:
        return "website"
    return request.source if request.source in STAFF_SOURCES else "staff"


async def menu_ids_by_name(db: Database, request: CreateBookingRequest) -> dict[str, str]:
    """The ids of the dishes a Sunday lunch names without an id (``custom_item_name``), by
    lower-cased name; one read, and only when a selection needs it."""
    names = sorted(
        {
            s.custom_item_name.lower()
            for s in request.menu_selections
            if s.menu_item_id is None and s.custom_item_name
        }
    )
    if request.booking_type != "sunday_lunch" or not names:
        return {}
    found: dict[str, str] = await db.rpc("table_booking_menu_ids", {"p_names": names})
    return found


def _selections(request: CreateBookingRequest, menu_ids: dict[str, str]) -> list[dict[str, Any]]:
    """The dishes as table_booking_create takes them: an id and how many; what a dish is and
    costs is the menu's (``item_type`` and ``price_at_booking`` are not passed on)."""
    selections: list[dict[str, Any]] = []
    unknown: list[str] = []
    for s in request.menu_selections:
        if s.menu_item_id is not None:
            item_id: str | None = str(s.menu_item_id)
        else:
            item_id = menu_ids.get((s.custom_item_name or "").lower())
            if item_id is None:
                unknown.append(s.custom_item_name or "")
        selections.append(
            {
                "menu_item_id": item_id,
                "quantity": s.quantity,
                "guest_name": s.guest_name,
                "special_requests": s.special_requests,
            }
        )
    if unknown and request.booking_type == "sunday_lunch":
        raise InvalidMenuItems(
            "Some of the chosen dishes are not on the Sunday lunch menu any more.",
            details={"names": unknown},
        )
    return selections


def _prepare_create(
    request: CreateBookingRequest,
    *,
    is_staff: bool,
    client: ClientInfo,
    idempotency_key: str | None,
    create_limit_per_phone: int | None,
    deposits_possible: bool = True,
    menu_ids: dict[str, str] | None = None,
) -> _Prepared:
    """What table_booking_create is sent, but for ``actor`` and ``idempotency.key``."""
    staff_only = request.staff_only_fields()
    if staff_only and not is_staff:
        raise Forbidden(
            "Only staff may override the booking policy, waive a deposit, bypass the kitchen's "
            "pacing or pin a booking's tables.",
            details={"field": staff_only[0], "fields": staff_only},
        )
    e164 = phones.normalise_phone(request.customer.mobile_number)
    phones.require_bookable(e164)
    body = request.model_dump(mode="json")
    body["customer"]["mobile_number"] = e164
    body["source"] = channel_of(request, is_staff=is_staff)
    token = tokens.new_manage_token()
    payload: dict[str, Any] = {
        **{k: v for k, v in body.items() if k != "customer"},
        "menu_selections": _selections(request, menu_ids or {}),
        "customer": {
            "first_name": request.customer.first_name,
            "last_name": request.customer.last_name,
            "mobile_e164": e164,
            "variants": phones.variants_of_normalised(e164),
            "email": request.customer.email,
            # A number that cannot take texts (a landline, VoIP, satellite) is never texted.
            "sms_opt_in": request.customer.sms_opt_in and phones.can_receive_sms(e164),
        },
        "manage_token_hash": tokens.hash_token(token),
        "client": client.as_json(),
        # Committed without waiting for the disk; every call of the create is made with
        # Database.rpc(flush_after=True), which flushes before the answer (tb_flush_wal).
        "flush_after_commit": True,
    }
    if create_limit_per_phone is not None and not is_staff:
        payload["create_limit_per_phone"] = create_limit_per_phone
    if idempotency_key is not None:
        payload["idempotency"] = {"request_hash": request_hash(body)}
        payload["manage_token_sealed"] = tokens.seal(token, idempotency_key=idempotency_key)
    return _Prepared(body=body, payload=payload, token=token)


async def create_booking(
    db: Database,
    *,
    request: CreateBookingRequest,
    actor: Actor,
    client: ClientInfo,
    now: datetime,
    idempotency_key: str | None = None,
    create_limit_per_phone: int | None = None,
    deposits_possible: bool = True,
    paypal: PayPal | None = None,
) -> dict[str, Any]:
    """Create a booking; the response carries the guest's manage token (or the replayed one)."""
    prepared = _prepare_create(
        request,
        is_staff=actor.is_staff,
        client=client,
        idempotency_key=idempotency_key,
        create_limit_per_phone=create_limit_per_phone,
        deposits_possible=deposits_possible,
        menu_ids=await menu_ids_by_name(db, request),
    )
    prepared.payload["actor"] = actor.as_json()
    _deposit_first_unless_unpaid_allowed(prepared, paypal, deposits_possible)
    try:
        return await _create_as(db, prepared, actor, client, now, idempotency_key, request)
    except DepositFirst as first:
        await _take_deposit_first(paypal, prepared, request, first.amount)
        return await _create_as(db, prepared, actor, client, now, idempotency_key, request)


async def _create_as(
    db: Database,
    prepared: _Prepared,
    actor: Actor,
    client: ClientInfo,
    now: datetime,
    idempotency_key: str | None,
    request: CreateBookingRequest,
) -> dict[str, Any]:
    payload = {**prepared.payload, "actor": actor.as_json()}
    if idempotency_key is not None:
        payload["idempotency"]["key"] = idempotency_row_key(actor, idempotency_key)
    try:
        result: dict[str, Any] = await db.rpc(
            "table_booking_create",
            {"p_request": payload, "p_now": now.isoformat()},
            flush_after=True,
        )
    except DepositFirst:
        raise  # nothing was refused: the deposit's order comes first
    except AppError as exc:
        await _audit_create_refusal(db, exc, actor, client, prepared)
        raise
    return _created(result, prepared.token, idempotency_key, request, now=now)


def _deposit_first_unless_unpaid_allowed(
    prepared: _Prepared, paypal: PayPal | None, deposits_possible: bool
) -> None:
    """Whether a booking that owes a deposit is sent back (``DepositFirst``, nothing written)
    for its PayPal order to be made first: always, but in development without PayPal, where
    ``ALLOW_UNPAID_SUNDAY_LUNCH`` lets it wait for its deposit unpaid. A booking that owes
    nothing is made by the one call either way."""
    if paypal is not None or not deposits_possible:
        prepared.payload["deposit_first"] = True


async def _take_deposit_first(
    paypal: PayPal | None, prepared: _Prepared, request: CreateBookingRequest, amount: Decimal
) -> None:
    """A booking owing ``amount`` gets its PayPal order before it is written; without PayPal it
    is refused: a hold nobody can pay for would only keep the table from other guests until it
    expires, while the website tells the guest they are booked."""
    if paypal is None:
        raise ServiceUnavailable(payments.MSG_NO_DEPOSITS, headers={"Retry-After": "300"})
    await _deposit_order_first(paypal, prepared, request, amount)


async def _deposit_order_first(
    paypal: PayPal, prepared: _Prepared, request: CreateBookingRequest, amount: Decimal
) -> None:
    """The deposit's PayPal order, made before the booking (``ServiceUnavailable`` and nothing
    written when PayPal cannot): the create then records it and answers with its link."""
    booking_id = str(uuid.uuid4())
    prepared.payload["booking_id"] = booking_id
    prepared.payload["paypal_order"] = await payments.order_for_new_booking(
        paypal,
        booking_id=booking_id,
        amount=amount,
        party_size=request.party_size,
        when=f"{request.date.isoformat()} {request.time}",
        booking_type=request.booking_type,
    )


async def create_booking_for_key(
    db: Database,
    *,
    request: CreateBookingRequest,
    raw_key: str,
    scope: str,
    client: ClientInfo,
    now: datetime,
    on_caller: Callable[[ApiKeyCaller], object],
    idempotency_key: str | None = None,
    create_limit_per_phone: int | None = None,
    deposits_possible: bool = True,
    paypal: PayPal | None = None,
) -> dict[str, Any]:
    """Create a booking for an API key in one round trip: the key check, its counting and the
    create (``table_booking_create_for_key``). ``on_caller`` gets the caller as soon as it is
    known, before any refusal is raised (the rate limit headers are on every keyed response).

    A booking that owes a deposit takes two: the first call checks and counts the key and
    answers ``DepositFirst`` with nothing written (so PayPal is asked only for a caller allowed
    to book, and only for a booking every rule lets through); then the PayPal order is made
    and the booking written as the key's, which records it."""
    try:
        prepared = _prepare_create(
            request,
            is_staff=False,
            client=client,
            idempotency_key=idempotency_key,
            create_limit_per_phone=create_limit_per_phone,
            deposits_possible=deposits_possible,
            menu_ids=await menu_ids_by_name(db, request),
        )
    except AppError:
        # A bad key is told so before anything about its request, as on every other route.
        caller = await api_keys.authenticate_api_key(db, raw_key=raw_key, now=now)
        on_caller(caller)
        api_keys.require(caller, scope)
        raise
    _deposit_first_unless_unpaid_allowed(prepared, paypal, deposits_possible)
    payload = prepared.payload
    if idempotency_key is not None:
        payload["idempotency"]["key"] = idempotency_digest(idempotency_key)
    answer: dict[str, Any] = await db.rpc(
        "table_booking_create_for_key",
        {
            "p_key_hash": api_keys.hash_key(raw_key),
            "p_now": now.isoformat(),
            "p_scope": scope,
            "p_limits": [],
            "p_request": payload,
        },
        flush_after=True,
    )
    caller = api_keys.caller_from_auth(answer["auth"], now=now)
    on_caller(caller)
    api_keys.require(caller, scope)
    refusal = answer.get("error")
    if refusal is not None:
        exc = error_from_database(
            function="table_booking_create_for_key",
            sqlstate=refusal.get("sqlstate"),
            message=refusal.get("message"),
            detail=refusal.get("detail"),
            hint=refusal.get("hint"),
        )
        actor = Actor(kind="api_key", id=caller.key_id, name=caller.name)
        if isinstance(exc, DepositFirst):
            # The key is counted; the second call, as the key's, is not counted again.
            await _take_deposit_first(paypal, prepared, request, exc.amount)
            return await _create_as(db, prepared, actor, client, now, idempotency_key, request)
        await _audit_create_refusal(db, exc, actor, client, prepared)
        raise exc
    return _created(answer["data"], prepared.token, idempotency_key, request, now=now)


async def _audit_create_refusal(
    db: Database, exc: AppError, actor: Actor, client: ClientInfo, prepared: _Prepared
) -> None:
    # The guest's phone and email stay in customers; the audit keeps the rest.
    attempt = {k: v for k, v in prepared.body.items() if k != "customer"}
    await _audit_refusal(db, "table_booking.create_refused", None, exc, actor, client, attempt)


def _created(
    result: dict[str, Any],
    token: str,
    idempotency_key: str | None,
    request: CreateBookingRequest,
    *,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The create's answer as the API gives it: with the manage token, replayed or new, and
    what a confirmation screen shows (the website reads ``confirmation_details`` or
    ``booking_details``, and ``cancellation_policy`` as words)."""
    if result.pop("replayed", False):
        sealed = result.pop("manage_token_sealed", None)
        replayed = (
            tokens.unseal(sealed, idempotency_key=idempotency_key)
            if sealed and idempotency_key
            else None
        )
        if replayed is None:
            # Same key and body, but the stored token cannot be opened: never hand out a token
            # that does not work.
            logger.error("table_booking.replay_without_token")
            raise ServiceUnavailable("The earlier response for this key cannot be replayed.")
        token = replayed
    customer_id = result.pop("customer_id", None)
    policy = result.pop("refund_policy", None)
    # A booking awaiting its deposit states the terms the deposit will have once paid.
    terms = RefundTerms.from_json(policy) if result["status"] == "pending_payment" else None
    logger.info(
        "table_booking.created reference=%s status=%s customer_id=%s",
        result["booking_reference"],
        result["status"],
        customer_id,
    )
    summary = {
        "date": result["date"],
        "time": result["time"],
        "party_size": result["party_size"],
        "duration_minutes": result["duration_minutes"],
        "special_requirements": request.special_requirements or None,
    }
    return {
        **result,
        "manage_token": token,
        "confirmation_details": summary,
        "booking_details": dict(summary),
        # Just made: open, not started, nothing paid yet (a deposit is paid afterwards).
        "cancellation_policy": just_made_summary(
            result["date"],
            result["time"],
            Decimal((result.get("payment_details") or {}).get("deposit_amount") or "0"),
            terms,
            now,
        ),
    }


async def get_booking(
    db: Database, *, reference: str, actor: Actor, now: datetime
) -> dict[str, Any]:
    detail: dict[str, Any] = await db.rpc(
        "table_booking_detail",
        {"p_reference": reference, "p_token_hash": actor.token_hash, "p_now": now.isoformat()},
    )
    return _with_policy(detail, now)


async def update_booking(
    db: Database,
    *,
    reference: str,
    request: UpdateBookingRequest,
    actor: Actor,
    client: ClientInfo,
    now: datetime,
) -> dict[str, Any]:
    if request.override and not actor.is_staff:
        raise Forbidden(
            "Only staff may override the booking policy.", details={"field": "override"}
        )
    changes = request.changes()
    try:
        detail: dict[str, Any] = await db.rpc(
            "table_booking_update",
            {
                "p_reference": reference,
                "p_token_hash": actor.token_hash,
                "p_changes": changes,
                "p_actor": actor.as_json(),
                "p_client": client.as_json(),
                "p_now": now.isoformat(),
                "p_override": request.override,
            },
        )
    except AppError as exc:
        await _audit_refusal(
            db, "table_booking.update_refused", reference, exc, actor, client, changes
        )
        raise
    return _with_policy(detail, now)


async def cancel_booking(
    db: Database,
    *,
    reference: str,
    reason: str | None,
    actor: Actor,
    client: ClientInfo,
    now: datetime,
    refund_amount: Decimal | None = None,
) -> dict[str, Any]:
    if refund_amount is not None and not (
        actor.is_staff
        and await db.rpc("staff_has_permission", {"p_user_id": actor.id, "p_action": "refund"})
    ):
        raise Forbidden(
            "Only staff with the refund permission (table_bookings:refund) may set the refund.",
            details={"field": "refund_amount", "required": "table_bookings:refund"},
        )
    try:
        result: dict[str, Any] = await db.rpc(
            "table_booking_cancel",
            {
                "p_reference": reference,
                "p_token_hash": actor.token_hash,
                "p_reason": reason,
                "p_actor": actor.as_json(),
                "p_client": client.as_json(),
                "p_now": now.isoformat(),
                "p_refund_override": None if refund_amount is None else str(refund_amount),
            },
        )
    except AppError as exc:
        await _audit_refusal(
            db, "table_booking.cancel_refused", reference, exc, actor, client, {"reason": reason}
        )
        raise
    return result


async def set_status(
    db: Database, *, reference: str, status: str, actor: Actor, client: ClientInfo, now: datetime
) -> dict[str, Any]:
    try:
        detail: dict[str, Any] = await db.rpc(
            "table_booking_set_status",
            {
                "p_reference": reference,
                "p_status": status,
                "p_actor": actor.as_json(),
                "p_client": client.as_json(),
                "p_now": now.isoformat(),
            },
        )
    except AppError as exc:
        await _audit_refusal(
            db, "table_booking.status_refused", reference, exc, actor, client, {"status": status}
        )
        raise
    return _with_policy(detail, now)


async def list_bookings(
    db: Database,
    *,
    date_from: date | None,
    date_to: date | None,
    statuses: list[str],
    booking_type: str | None,
    search: str | None,
    page: int,
    page_size: int,
) -> dict[str, Any]:
    result: dict[str, Any] = await db.rpc(
        "table_booking_list",
        {
            "p_filters": {
                "date_from": date_from.isoformat() if date_from else None,
                "date_to": date_to.isoformat() if date_to else None,
                "status": statuses,
                "booking_type": booking_type,
                "search": search,
                "page": page,
                "page_size": page_size,
            }
        },
    )
    return result


def guest_view(detail: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A booking's detail (table_booking_detail) with what a guest needs to decide, as
    ``get_booking`` answers it: ``can_cancel``, ``can_modify`` and the policy in words."""
    return _with_policy(detail, now)


def _with_policy(detail: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Add what a guest needs to decide: can it still be cancelled or changed, and at what cost."""
    starts_at = datetime.fromisoformat(detail["starts_at"])
    paid = Decimal(detail.pop("refund_if_cancelled_now")["paid_amount"])
    terms = RefundTerms.from_json(detail.pop("refund_policy"))
    payment = detail.get("payment") or {}
    hold = payment.get("expires_at")
    held_out = (
        detail["status"] == "pending_payment" and hold and datetime.fromisoformat(hold) <= now
    )
    # One rule for the flag and the words: the summary never offers a cancellation that
    # can_cancel refuses.
    detail["can_cancel"] = (
        why_not_cancellable(detail["status"], starts_at=starts_at, now=now) is None
    )
    detail["can_modify"] = detail["can_cancel"] and not held_out
    deposit_due = (
        Decimal(payment.get("deposit_amount") or "0")
        if detail["status"] == "pending_payment"
        else Decimal("0.00")
    )
    detail["cancellation_policy"] = describe_cancellation_policy(
        terms,
        paid=paid,
        starts_at=starts_at,
        now=now,
        status=detail["status"],
        deposit_due=deposit_due,
    )
    return detail


async def _audit_refusal(
    db: Database,
    operation: str,
    reference: str | None,
    error: AppError,
    actor: Actor,
    client: ClientInfo,
    request: dict[str, Any],
) -> None:
    """Record a refused attempt; never let the audit hide the refusal itself."""
    if isinstance(error, ServiceUnavailable):
        return  # the database is not answering; there is nowhere to write
    try:
        await db.rpc(
            "table_booking_audit_refusal",
            {
                "p_operation": operation,
                "p_reference": reference,
                "p_error_code": error.code,
                "p_error_message": error.message,
                "p_actor": actor.as_json(),
                "p_client": client.as_json(),
                "p_request": request,
            },
        )
    except AppError:
        logger.warning("table_booking.audit_refusal_failed operation=%s", operation)
