"""The deposit's PayPal order and its capture, as the pub's 2026 contract has them (sections 6, 7).

The website's two PayPal routes (and the guest payment page) answer bare JSON: ``{"orderId"}``,
``{"success": true}`` or ``{"error": "..."}``, with the pub's statuses and words. Each function
here returns ``(status, body)`` for them. The amount is the canonical deposit of the booking row
(section 10.4, ``tb_canonical_deposit``); the capture is recorded by the one capture rule of the
service (``table_booking_payment_captured``), which confirms the booking and queues the guest's
"Deposit sorted" text and the manager's alert through the outbox.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from app.db.port import Database
from app.errors import AppError
from app.integrations.paypal import Capture, PayPalError
from app.services import payments
from app.services.payments import PayPal

logger = logging.getLogger("app.deposit_orders")

#: Two amounts are the same deposit within a penny (section 10.4).
TOLERANCE = Decimal("0.01")
#: Orders that can still be paid (or have been: the capture route then records that capture).
_REUSABLE_ORDER_STATES = frozenset(
    {"CREATED", "PAYER_ACTION_REQUIRED", "APPROVED", "SAVED", "COMPLETED"}
)
_ENDED = frozenset({"cancelled", "no_show", "completed"})
_ACTOR = {"kind": "system", "name": "website:paypal"}

# The pub's words, exactly (the website shows them or branches on the status).
NOT_FOUND = "Booking not found"
ALREADY_PAID = "Deposit has already been paid for this booking"
NOT_AWAITING = "This booking does not require a deposit payment"
CAPTURED_BEFORE = "Deposit has already been paid for this booking."
NOT_PAYABLE = "This booking is no longer payable."
NO_HOLD = "This booking is missing a valid payment hold."
EXPIRED = "This payment link has expired."
NO_DEPOSIT = "No deposit required for this booking."
CREATE_FAILED = "Failed to create PayPal order. Please try again."
SAVE_FAILED = "Order created but could not be saved. Please try again."
ORDER_MISMATCH = "Order ID mismatch"
VERIFY_FAILED = "Failed to verify PayPal order amount. Please try again."
AMOUNT_CHANGED = "Payment amount no longer matches this booking. Please refresh and try again."
CAPTURE_FAILED = "Failed to capture PayPal payment. Please try again."
CAPTURED_WRONG_AMOUNT = (
    "Payment captured but amount did not match the booking. Please contact support; do not retry."
)
UPDATE_FAILED = "Payment captured but booking update failed. Our team has been notified."
NOT_CONFIGURED = "Card payments are not available right now. Please call the pub."

Answer = tuple[int, dict[str, Any]]


def _error(status: int, message: str) -> Answer:
    return status, {"error": message}


def _same_amount(a: Decimal | None, b: Decimal) -> bool:
    return a is not None and abs(a - b) <= TOLERANCE


async def _facts(db: Database, booking_id: str) -> dict[str, Any] | None:
    try:
        uuid.UUID(booking_id)
    except ValueError:
        return None
    facts: dict[str, Any] | None = await db.rpc(
        "management_deposit_facts", {"p_booking_id": booking_id}
    )
    return facts


def block_reason(facts: dict[str, Any], now: datetime) -> Answer | None:
    """The refusals both routes share (section 6 step 2), in the pub's order."""
    if facts.get("capture_id"):
        return _error(409, CAPTURED_BEFORE)
    if facts["status"] in _ENDED:
        return _error(409, NOT_PAYABLE)
    hold = facts.get("hold_expires_at")
    if not hold:
        return _error(409, NO_HOLD)
    if datetime.fromisoformat(hold) <= now:
        return _error(410, EXPIRED)
    return None


async def create_order(
    db: Database,
    paypal: PayPal | None,
    booking_id: str,
    *,
    now: datetime,
    return_url: str | None = None,
    cancel_url: str | None = None,
) -> Answer:
    """The deposit's PayPal order (section 6): the stored one when PayPal still has it open at
    this amount, else a new one, saved on the booking. ``approve_url`` is added to the body
    only when ``return_url`` was given (the guest page sends the guest to PayPal)."""
    facts = await _facts(db, booking_id)
    if facts is None:
        return _error(404, NOT_FOUND)
    if facts["payment_status"] == "completed":
        return _error(409, ALREADY_PAID)
    if facts["status"] != "pending_payment" and facts["payment_status"] != "pending":
        return _error(400, NOT_AWAITING)
    if blocked := block_reason(facts, now):
        return blocked
    amount = Decimal(facts["amount"])
    if amount <= 0:
        return _error(400, NO_DEPOSIT)
    if paypal is None:
        return _error(503, NOT_CONFIGURED)
    booking_id = str(facts["booking_id"])

    def answer(order_id: str, approve_url: str | None) -> Answer:
        body: dict[str, Any] = {"orderId": order_id}
        if return_url is not None:
            body["approve_url"] = approve_url
        return 200, body

    stored = facts.get("order_id")
    if stored:
        try:
            order = await paypal.client.get_order(stored)
        except PayPalError:
            order = None  # not known to be reusable: a new order replaces it
        if (
            order is not None
            and order.status in _REUSABLE_ORDER_STATES
            and order.currency == "GBP"
            and _same_amount(order.amount, amount)
        ):
            return answer(order.id, order.approve_url)
    try:
        order = await paypal.client.create_order(
            amount=amount,
            custom_id=booking_id,
            reference_id=f"tb-deposit-{booking_id}",
            description=f"Table booking deposit \u2013 {facts['party_size']} guests",
            return_url=return_url or paypal.return_url,
            cancel_url=cancel_url or return_url or paypal.cancel_url,
            request_id=f"tb-deposit-{booking_id}",
        )
    except PayPalError as exc:
        logger.warning("paypal.order.failed booking=%s status=%s", booking_id, exc.status)
        return _error(502, CREATE_FAILED)
    # The request id is the booking's: within PayPal's six hours a repeat returns the first
    # order, which is not used if the deposit has changed since.
    if order.currency not in (None, "GBP") or (
        order.amount is not None and not _same_amount(order.amount, amount)
    ):
        logger.error("paypal.order.amount_mismatch booking=%s", booking_id)
        return _error(502, CREATE_FAILED)
    try:
        await db.rpc(
            "table_booking_payment_order",
            {
                "p_booking_id": booking_id,
                "p_order_id": order.id,
                "p_approve_url": order.approve_url,
                "p_amount": str(amount),
                "p_actor": _ACTOR,
                "p_client": {},
            },
        )
    except AppError:
        logger.error("paypal.order.not_saved booking=%s order=%s", booking_id, order.id)
        return _error(502, SAVE_FAILED)
    return answer(order.id, order.approve_url)


async def capture_order(
    db: Database, paypal: PayPal | None, booking_id: str, order_id: str, *, now: datetime
) -> Answer:
    """Capture the deposit's order (section 7) after the pub's checks, and record it by the
    service's capture rule: the booking is confirmed and its messages queued."""
    facts = await _facts(db, booking_id)
    if facts is None:
        return _error(404, NOT_FOUND)
    if facts["payment_status"] == "completed" and facts.get("capture_id"):
        return 200, {"success": True}
    if order_id != facts.get("order_id"):
        return _error(400, ORDER_MISMATCH)
    if blocked := block_reason(facts, now):
        return blocked
    if paypal is None:
        return _error(503, NOT_CONFIGURED)
    expected = Decimal(facts["amount"])
    try:
        order = await paypal.client.get_order(order_id)
    except PayPalError:
        return _error(502, VERIFY_FAILED)
    if order.currency != "GBP" or not _same_amount(order.amount, expected):
        return _error(409, AMOUNT_CHANGED)
    try:
        capture = await paypal.client.capture_order(order_id, request_id=f"tb-capture-{order_id}")
    except PayPalError as exc:
        logger.warning("paypal.capture.failed order=%s status=%s", order_id, exc.status)
        return _error(502, CAPTURE_FAILED)
    if capture.currency != "GBP" or not _same_amount(capture.amount, expected):
        logger.error("paypal.capture.amount_mismatch order=%s", order_id)
        return _error(502, CAPTURED_WRONG_AMOUNT)
    if capture.status != "COMPLETED":
        # Not taken yet (PENDING): PayPal's webhook records it when it completes.
        return _error(502, CAPTURE_FAILED)
    return await _record(db, booking_id, order_id, capture, now)


async def _record(
    db: Database, booking_id: str, order_id: str, capture: Capture, now: datetime
) -> Answer:
    try:
        result = await payments.record_capture(
            db, order_id=order_id, booking_id=booking_id, capture=capture, source="website", now=now
        )
    except AppError:
        logger.error("paypal.capture.not_recorded booking=%s order=%s", booking_id, order_id)
        return _error(502, UPDATE_FAILED)
    if result["outcome"] in ("confirmed", "already_confirmed"):
        return 200, {"success": True}
    if result["outcome"] == "mismatch":
        return _error(502, CAPTURED_WRONG_AMOUNT)
    logger.error(
        "paypal.capture.not_applied booking=%s order=%s outcome=%s",
        booking_id,
        order_id,
        result["outcome"],
    )
    return _error(502, UPDATE_FAILED)
