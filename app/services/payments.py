"""Sunday lunch deposits through PayPal: start paying, capture on return, webhooks, refunds.

The database decides (is the booking payable, does the capture match the deposit, is a refund
due); this module talks to PayPal and records what PayPal said. Only PayPal ids and amounts are
kept, never card or PayPal account details.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from app.db.port import Database
from app.errors import (
    AppError,
    BookingNotModifiable,
    NotConfigured,
    NotFound,
    RateLimitExceeded,
    ServiceUnavailable,
    Unauthorized,
    ValidationFailed,
)
from app.integrations.paypal import (
    Capture,
    PayPalClient,
    PayPalError,
    PayPalRequestError,
    PayPalRetryableError,
    PayPalSignatureError,
    WebhookVerifier,
)
from app.services.actors import Actor, ClientInfo

logger = logging.getLogger("app.payments")

#: PayPal orders that can still be approved and captured, so reusing them is safe.
_OPEN_ORDER_STATES = frozenset({"CREATED", "PAYER_ACTION_REQUIRED", "APPROVED", "SAVED"})
_LOGGED_HEADERS = (
    "paypal-transmission-id",
    "paypal-transmission-time",
    "paypal-cert-url",
    "paypal-auth-algo",
    "user-agent",
    "content-type",
)
_LOGGED_HEADER_LENGTH = 500


@dataclass(frozen=True, slots=True)
class PayPal:
    """PayPal as the service uses it; None in app state when not configured."""

    client: PayPalClient
    verifier: WebhookVerifier | None
    return_url: str
    cancel_url: str


MSG_NO_PAYMENTS = "Card payments are not available right now. Please call the pub."
MSG_NO_DEPOSITS = (
    "This booking needs a deposit, and deposits cannot be taken online right now. Nothing was "
    "booked; please try again later or call the pub."
)


def _unavailable() -> ServiceUnavailable:
    return ServiceUnavailable(MSG_NO_PAYMENTS)


async def start_payment(
    db: Database,
    paypal: PayPal | None,
    *,
    reference: str,
    actor: Actor,
    client: ClientInfo,
    now: datetime,
) -> dict[str, Any]:
    """A PayPal order for the deposit (the open one reused when its amount is unchanged)."""
    target = await db.rpc(
        "table_booking_payment_target",
        {"p_reference": reference, "p_token_hash": actor.token_hash, "p_now": now.isoformat()},
    )
    if paypal is None:
        raise NotConfigured(MSG_NO_PAYMENTS)
    amount = Decimal(target["amount"])
    order_id, approve_url = target.get("order_id"), target.get("approve_url")
    if order_id and approve_url and target.get("order_amount") == target["amount"]:
        try:
            order = await paypal.client.get_order(order_id)
        except PayPalError:
            order = None
        if order is not None and order.status in _OPEN_ORDER_STATES and order.amount == amount:
            return _payment_view(target, order_id, approve_url)
    booking_id = str(target["booking_id"])
    order_id, approve_url = await _create_order(
        paypal,
        booking_id=booking_id,
        amount=amount,
        description=f"{deposit_name(target.get('booking_type'))}, {target['party_size']} guests, "
        f"{target['booking_reference']}",
    )
    await db.rpc(
        "table_booking_payment_order",
        {
            "p_booking_id": booking_id,
            "p_order_id": order_id,
            "p_approve_url": approve_url,
            "p_amount": str(amount),
            "p_actor": actor.as_json(),
            "p_client": client.as_json(),
        },
    )
    return _payment_view(target, order_id, approve_url)


def deposit_name(booking_type: object) -> str:
    """What the deposit is called on the guest's PayPal page."""
    return "Sunday lunch deposit" if booking_type == "sunday_lunch" else "Table deposit"


async def order_for_new_booking(
    paypal: PayPal,
    *,
    booking_id: str,
    amount: Decimal,
    party_size: int,
    when: str,
    booking_type: str,
) -> dict[str, str]:
    """The deposit's PayPal order for a booking about to be made (``booking_id`` drawn for it):
    made first, so that a booking is never written awaiting a deposit nobody can pay. When
    PayPal cannot make it, ``ServiceUnavailable`` and nothing is booked. If the create is then
    refused, the order is never shown to anyone and lapses unpaid at PayPal."""
    try:
        order_id, approve_url = await _create_order(
            paypal,
            booking_id=booking_id,
            amount=amount,
            description=f"{deposit_name(booking_type)}, {party_size} guests, {when}",
        )
    except ServiceUnavailable as exc:
        raise ServiceUnavailable(MSG_NO_DEPOSITS, headers={"Retry-After": "300"}) from exc
    return {"id": order_id, "approve_url": approve_url, "amount": str(amount)}


async def _create_order(
    paypal: PayPal, *, booking_id: str, amount: Decimal, description: str
) -> tuple[str, str]:
    """A PayPal order for a booking's deposit: its id and approval link; ``ServiceUnavailable``
    when PayPal cannot make one."""
    try:
        order = await paypal.client.create_order(
            amount=amount,
            custom_id=booking_id,
            reference_id=f"tb-deposit-{booking_id}",
            description=description,
            return_url=paypal.return_url,
            cancel_url=paypal.cancel_url,
            # Same booking and amount: PayPal answers with the same order.
            request_id=f"tb-deposit-{booking_id}-{amount}",
        )
    except PayPalRetryableError as exc:
        logger.warning("paypal.order.failed booking=%s status=%s", booking_id, exc.status)
        raise _unavailable() from exc
    except PayPalRequestError as exc:
        logger.error("paypal.order.refused booking=%s name=%s", booking_id, exc.name)
        raise _unavailable() from exc
    if not order.approve_url:
        raise _unavailable()
    return order.id, order.approve_url


def _payment_view(target: Mapping[str, Any], order_id: str, url: str) -> dict[str, Any]:
    return {
        "booking_reference": target["booking_reference"],
        "payment_url": url,
        "order_id": order_id,
        "amount": target["amount"],
        "currency": "GBP",
        "expires_at": target["expires_at"],
    }


async def capture_returned_order(
    db: Database, paypal: PayPal | None, *, order_id: str, now: datetime
) -> dict[str, Any]:
    """The guest came back from PayPal: capture, check the amount, confirm the booking."""
    booking = await db.rpc("table_booking_for_order", {"p_order_id": order_id})
    if booking is None:
        raise NotFound("There is no booking for that payment.")
    if paypal is None:
        raise NotConfigured(MSG_NO_PAYMENTS)
    try:
        capture = await paypal.client.capture_order(order_id, request_id=f"tb-capture-{order_id}")
    except PayPalRetryableError as exc:
        # Nothing was taken, or PayPal will tell us by webhook: the booking stays pending.
        logger.warning("paypal.capture.failed order=%s status=%s", order_id, exc.status)
        raise _unavailable() from exc
    except PayPalRequestError as exc:
        logger.warning("paypal.capture.refused order=%s name=%s", order_id, exc.name)
        raise BookingNotModifiable(
            "PayPal did not take the payment. Please try again or use another card.",
            details={"reason": exc.name},
        ) from exc
    return await record_capture(
        db, order_id=order_id, booking_id=None, capture=capture, source="return", now=now
    )


async def record_capture(
    db: Database,
    *,
    order_id: str | None,
    booking_id: str | None,
    capture: Capture,
    source: str,
    now: datetime,
) -> dict[str, Any]:
    result: dict[str, Any] = await db.rpc(
        "table_booking_payment_captured",
        {
            "p_order_id": order_id or capture.order_id,
            "p_booking_id": booking_id,
            "p_capture": {
                "id": capture.id,
                "status": capture.status,
                "amount": str(capture.amount),
                "currency": capture.currency,
            },
            "p_source": source,
            "p_now": now.isoformat(),
        },
    )
    logger.info(
        "payment.capture_recorded outcome=%s booking=%s source=%s",
        result["outcome"],
        result.get("booking_reference"),
        source,
    )
    return result


async def handle_webhook(
    db: Database,
    paypal: PayPal | None,
    *,
    headers: Mapping[str, str],
    body: bytes,
    now: datetime,
    client: ClientInfo,
    refusals: RefusalLimits,
) -> dict[str, Any]:
    """Verify, log, and handle a PayPal event once. Raises Unauthorized on a bad signature."""
    logged = {k: headers[k][:_LOGGED_HEADER_LENGTH] for k in _LOGGED_HEADERS if k in headers}
    if paypal is None or paypal.verifier is None:
        await _refuse_webhook(
            db,
            "configuration_error",
            logged,
            "PayPal is not configured",
            body,
            client,
            refusals,
            now,
        )
        raise Unauthorized("PayPal webhooks are not configured here.")
    try:
        await paypal.verifier.verify(headers, body)
    except PayPalSignatureError as exc:
        await _refuse_webhook(
            db, "signature_failed", logged, exc.reason, body, client, refusals, now
        )
        raise Unauthorized("The PayPal signature does not match this request.") from exc
    text = _log_body(body)
    try:
        event = json.loads(body)
        event_id, event_type = str(event["id"]), str(event["event_type"])
    except (ValueError, KeyError, TypeError) as exc:
        await _log_webhook(db, "invalid_payload", logged, text, {}, "not a PayPal event")
        raise ValidationFailed("The body is not a PayPal event.") from exc
    params = {"event_id": event_id, "event_type": event_type, "source": "table_bookings"}
    if not event_id or not await db.rpc(
        "paypal_webhook_claim", {"p_event_id": event_id, "p_event_type": event_type}
    ):
        await _log_webhook(db, "duplicate", logged, text, params, None)
        return {"received": True, "duplicate": True}
    try:
        outcome = await _handle_event(db, event_type, event.get("resource") or {}, now)
    except (KeyError, ValueError, TypeError, ArithmeticError) as exc:
        # Signed by PayPal but not the shape we know: release it, say so, keep nothing half-done.
        await db.rpc("paypal_webhook_release", {"p_event_id": event_id})
        await _log_webhook(db, "invalid_payload", logged, text, params, repr(exc)[:200])
        raise ValidationFailed("The PayPal event is missing fields it needs.") from exc
    except (AppError, RetryLater) as exc:
        # Not handled: let PayPal deliver it again (it retries for three days).
        await db.rpc("paypal_webhook_release", {"p_event_id": event_id})
        await _log_webhook(db, "error", logged, text, params, str(exc))
        raise ServiceUnavailable("The event could not be handled yet.") from exc
    await _log_webhook(db, outcome, logged, text, params, None)
    return {"received": True, "outcome": outcome}


#: Parts of a PayPal resource that describe the payer or their account: never stored.
_PERSONAL = frozenset(
    {
        "payer",
        "payee",
        "payment_source",
        "shipping",
        "email_address",
        "address",
        "phone",
        "phone_number",
        "payer_id",
        "account_id",
        "name",
        "given_name",
        "surname",
        "birth_date",
    }
)


async def _refuse_webhook(
    db: Database,
    status: str,
    headers: dict[str, str],
    reason: str,
    body: bytes,
    client: ClientInfo,
    limits: RefusalLimits,
    now: datetime,
) -> None:
    """A delivery that is not PayPal's (anyone can post one): logged without its body, and only
    the first ``limits.logged`` a minute from one address; past ``limits.answered``, 429."""
    outcome = await db.rpc(
        "paypal_webhook_refused",
        {
            "p_client": client.ip,
            "p_status": status,
            "p_headers": headers,
            "p_error": reason,
            "p_body_bytes": len(body),
            "p_log_limit": limits.logged,
            "p_limit": limits.answered,
            "p_now": now.isoformat(),
        },
    )
    if outcome == "limited":
        raise RateLimitExceeded(
            "Too many refused webhook deliveries from this address.",
            headers={"Retry-After": "60"},
        )


def _redacted(value: Any) -> Any:
    """The event as logged: everything but the payer's details (only ids and amounts kept)."""
    if isinstance(value, dict):
        return {k: "[redacted]" if k in _PERSONAL else _redacted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redacted(v) for v in value]
    return value


def _log_body(body: bytes) -> str:
    try:
        return json.dumps(_redacted(json.loads(body)), ensure_ascii=False)
    except ValueError:
        return f"(not JSON, {len(body)} bytes)"


@dataclass(frozen=True, slots=True)
class RefusalLimits:
    """Refused webhook deliveries per client address per minute: logged, and answered at all."""

    logged: int
    answered: int


class RetryLater(Exception):
    """An event that refers to something we do not know yet (events arrive out of order)."""


async def _handle_event(
    db: Database, event_type: str, resource: dict[str, Any], now: datetime
) -> str:
    related = (resource.get("supplementary_data") or {}).get("related_ids") or {}
    if event_type == "PAYMENT.CAPTURE.COMPLETED":
        capture = Capture(
            id=str(resource["id"]),
            status=str(resource.get("status", "COMPLETED")),
            amount=Decimal(str(resource["amount"]["value"])),
            currency=str(resource["amount"]["currency_code"]),
            order_id=related.get("order_id"),
            custom_id=resource.get("custom_id"),
        )
        result = await record_capture(
            db,
            order_id=capture.order_id,
            booking_id=capture.custom_id,
            capture=capture,
            source="webhook",
            now=now,
        )
        return str(result["outcome"])
    if event_type in ("PAYMENT.CAPTURE.DENIED", "PAYMENT.CAPTURE.REVERSED"):
        result = await db.rpc(
            "table_booking_payment_flagged",
            {
                "p_capture_id": str(resource.get("id", "")),
                "p_order_id": related.get("order_id"),
                "p_event_type": event_type,
                "p_now": now.isoformat(),
            },
        )
        return "flagged" if result["outcome"] == "flagged" else "ignored"
    if event_type == "PAYMENT.CAPTURE.REFUNDED":
        capture_id = _capture_of_refund(resource)
        amount = (resource.get("amount") or {}).get("value")
        if capture_id is None or amount is None:
            return "ignored"
        result = await db.rpc(
            "table_booking_refund_recorded",
            {
                "p_capture_id": capture_id,
                "p_refund": {
                    "id": resource["id"],
                    "amount": str(amount),
                    "status": resource.get("status"),
                },
                "p_source": "webhook",
                "p_now": now.isoformat(),
            },
        )
        if result["outcome"] == "unknown_capture":
            raise RetryLater(f"refund for unknown capture {capture_id}")
        return "recorded"
    return "ignored"


def _capture_of_refund(resource: Mapping[str, Any]) -> str | None:
    for link in resource.get("links") or []:
        if link.get("rel") == "up" and "/captures/" in str(link.get("href", "")):
            return str(link["href"]).rstrip("/").rsplit("/", 1)[-1]
    return None


async def _log_webhook(
    db: Database,
    status: str,
    headers: dict[str, str],
    body: str,
    params: dict[str, Any],
    error: str | None,
) -> None:
    await db.rpc(
        "webhook_log",
        {
            "p_type": "paypal",
            "p_status": status,
            "p_headers": headers,
            "p_body": body,
            "p_params": params,
            "p_error": error,
            "p_message_sid": None,
        },
    )


async def refund(
    db: Database, paypal: PayPal, *, payload: Mapping[str, Any], now: datetime
) -> dict[str, Any]:
    """A queued refund job: send it to PayPal (idempotent by request id), record it."""
    result = await paypal.client.refund_capture(
        str(payload["capture_id"]),
        amount=Decimal(str(payload["amount"])),
        request_id=str(payload["request_id"]),
        note=payload.get("note"),
    )
    recorded: dict[str, Any] = await db.rpc(
        "table_booking_refund_recorded",
        {
            "p_capture_id": payload["capture_id"],
            "p_refund": {
                "id": result.id,
                "amount": str(result.amount if result.amount is not None else payload["amount"]),
                "status": result.status,
            },
            "p_source": "refund_job",
            "p_now": now.isoformat(),
        },
    )
    return {"refund_id": result.id, "status": result.status, **recorded}
