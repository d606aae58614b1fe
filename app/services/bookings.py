"""Bookings: create, read, change, cancel, staff status, list.

Each action is one database function (one transaction). This module normalises what the caller
sent, hands it to SQL with who is acting and the time, shapes what comes back, and audits a
refused attempt (which the refused transaction could not keep).
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from app.db.port import Database
from app.errors import AppError, Forbidden, ServiceUnavailable
from app.schemas import CreateBookingRequest, UpdateBookingRequest
from app.services import phones, tokens
from app.services.actors import Actor, ClientInfo
from app.services.refunds import RefundTerms, describe_cancellation_policy

logger = logging.getLogger("app.bookings")


def request_hash(payload: dict[str, Any]) -> str:
    """sha256 of a key-sorted JSON serialisation, as the shared idempotency_keys rows use."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def idempotency_row_key(actor: Actor, idempotency_key: str) -> str:
    # Scoped to the caller, so two integrators choosing the same key never collide; hashed, so
    # any header value fits the column.
    digest = hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()
    return f"table_booking_create:{actor.kind}:{actor.id}:{digest}"


async def create_booking(
    db: Database,
    *,
    request: CreateBookingRequest,
    actor: Actor,
    client: ClientInfo,
    now: datetime,
    idempotency_key: str | None = None,
    create_limit_per_phone: int | None = None,
) -> dict[str, Any]:
    """Create a booking; the response carries the guest's manage token (or the replayed one)."""
    if request.override and not actor.is_staff:
        raise Forbidden(
            "Only staff may override the booking policy.", details={"field": "override"}
        )
    e164 = phones.normalise_phone(request.customer.mobile_number)
    body = request.model_dump(mode="json")
    body["customer"]["mobile_number"] = e164
    token = tokens.new_manage_token()
    payload: dict[str, Any] = {
        **{k: v for k, v in body.items() if k != "customer"},
        "customer": {
            "first_name": request.customer.first_name,
            "last_name": request.customer.last_name,
            "mobile_e164": e164,
            "variants": phones.phone_variants(e164),
            "email": request.customer.email,
            "sms_opt_in": request.customer.sms_opt_in,
        },
        "manage_token_hash": tokens.hash_token(token),
        "actor": actor.as_json(),
        "client": client.as_json(),
    }
    if create_limit_per_phone is not None and not actor.is_staff:
        payload["create_limit_per_phone"] = create_limit_per_phone
    if idempotency_key is not None:
        payload["idempotency"] = {
            "key": idempotency_row_key(actor, idempotency_key),
            "request_hash": request_hash(body),
        }
        payload["manage_token_sealed"] = tokens.seal(token, idempotency_key=idempotency_key)
    try:
        result: dict[str, Any] = await db.rpc(
            "table_booking_create", {"p_request": payload, "p_now": now.isoformat()}
        )
    except AppError as exc:
        # The guest's phone and email stay in customers; the audit keeps the rest.
        attempt = {k: v for k, v in body.items() if k != "customer"}
        await _audit_refusal(db, "table_booking.create_refused", None, exc, actor, client, attempt)
        raise
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
    logger.info(
        "table_booking.created reference=%s status=%s customer_id=%s",
        result["booking_reference"],
        result["status"],
        customer_id,
    )
    return {**result, "manage_token": token}


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
    if refund_amount is not None and not actor.is_staff:
        raise Forbidden(
            "Only staff with the cancel permission may set the refund.",
            details={"field": "refund_amount"},
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


def _with_policy(detail: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Add what a guest needs to decide: can it still be cancelled or changed, and at what cost."""
    starts_at = datetime.fromisoformat(detail["starts_at"])
    open_status = detail["status"] in ("confirmed", "pending_payment")
    paid = Decimal(detail.pop("refund_if_cancelled_now")["paid_amount"])
    terms = RefundTerms.from_json(detail.pop("refund_policy"))
    payment = detail.get("payment") or {}
    hold = payment.get("expires_at")
    held_out = (
        detail["status"] == "pending_payment" and hold and datetime.fromisoformat(hold) <= now
    )
    detail["can_cancel"] = open_status and starts_at > now
    detail["can_modify"] = detail["can_cancel"] and not held_out
    detail["cancellation_policy"] = describe_cancellation_policy(
        terms, paid=paid, starts_at=starts_at, now=now
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
