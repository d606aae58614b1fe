"""The guest pages of the 2026 contract (pub-api-2026.md section 11): what a guest link opens,
what the guest may do there, and every answer in the pub's words.

A link is the pub's ``guest_tokens`` row (app.services.tokens); ``tb_guest_page`` opens it for
its action with the app's clock, counted per link first. Changes and cancellations go through the
booking engine's own ``table_booking_update`` / ``table_booking_cancel`` as the guest
(``Actor.guest_link``), so a guest here is re-seated or refused by the same rules as anywhere.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from app.db.port import Database
from app.errors import AppError
from app.schemas import UpdateBookingRequest
from app.services import bookings, guest_text, tokens
from app.services import deposit_orders as orders
from app.services.actors import Actor, ClientInfo
from app.services.tokens import GuestAction

LONDON = ZoneInfo("Europe/London")

#: Each link may be opened (a page, a form sent) this many times in a window, then waits.
PAGE_LIMIT = 30
PAGE_WINDOW_SECONDS = 600
#: What a token in a link looks like (ours are 43 base64url characters).
_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,200}")
PARTY_MIN, PARTY_MAX = 1, 20
REQUIREMENTS_MAX = 500
CANCEL_DETAIL_MAX = 500

#: The manage link's life: until 48 hours after the start, at least an hour, at most 30 days.
MANAGE_AFTER_START = timedelta(hours=48)
MANAGE_AT_LEAST = timedelta(hours=1)
MANAGE_AT_MOST = timedelta(days=30)

#: Why a link shows no booking: (heading, sentence). Each screen has the call button.
BLOCKED: dict[str, tuple[str, str]] = {
    "invalid_token": (
        "We can't find that link",
        "This link isn't one we recognise. It may have been cut short when it was copied: try "
        "the link in your text or email again, or give us a ring and we'll sort it out.",
    ),
    "token_used": (
        "This link has already been used",
        "Each link works once, and this one has done its job. Give us a ring if you need "
        "anything else with your booking.",
    ),
    "token_expired": (
        "This link has expired",
        "Links only last a while, for your booking's safety. Give us a ring and we'll help "
        "you with your booking.",
    ),
    "booking_not_found": (
        "We can't find that booking",
        "The booking this link was for is no longer on our system. Give us a ring and we'll "
        "look into it.",
    ),
    "booking_not_pending_payment": (
        "There's nothing to pay",
        "This booking isn't waiting for a deposit, so there is nothing to pay here. If you "
        "think that's wrong, give us a ring.",
    ),
    "hold_expired": (
        "The time to pay has run out",
        "We held your table for a while, but the deposit wasn't paid in time, so the table "
        "has been released. Give us a ring and we'll see if we can book you in again.",
    ),
    "token_customer_mismatch": (
        "This link doesn't match the booking",
        "This link belongs to someone else's details, so we can't show the booking. Give us "
        "a ring and we'll help.",
    ),
    "invalid_amount": (
        "There's no deposit to pay",
        "We can't work out a deposit for this booking, so we can't take a payment online. "
        "Give us a ring and we'll sort it out.",
    ),
    "rate_limited": (
        "Too many tries",
        "This link has been used a lot in the last few minutes, so we've paused it. Please "
        "wait ten minutes and try again, or give us a ring.",
    ),
}

#: A form another site's page sent (refused, nothing changed).
OTHER_SITE = (
    "That didn't come from our page",
    "For your booking's safety we only take changes made on this page. Open the link in your "
    "text or email and try again, or give us a ring.",
)

#: A change or cancellation we could not make: ?status=error&reason=<key>, and its words.
REFUSALS: dict[str, str] = {
    "party_size": f"Please choose between {PARTY_MIN} and {PARTY_MAX} guests. For a bigger "
    "party, give us a ring and we'll look after you.",
    "requirements": f"Please keep special requirements to {REQUIREMENTS_MAX} characters.",
    "no_table": "Sorry, we haven't got a table free for that many at your time, so your "
    "booking hasn't changed. Give us a ring and we'll see what we can do.",
    "slot_full": "Sorry, the kitchen is full at your time for a bigger party, so your booking "
    "hasn't changed. Give us a ring and we'll see what we can do.",
    "too_close": "That change is too close to your booking to make online, so your booking "
    "hasn't changed. Give us a ring and we'll help.",
    "deposit_due": "A party that size needs a deposit, so we can't make that change online. "
    "Give us a ring and we'll sort it out.",
    "not_online": "This booking can't be changed online. Give us a ring and we'll help.",
    "started": "Your booking has already started, so it can't be changed here. Have a word "
    "with us at the bar.",
    "closed": "This booking can't be changed any more.",
    "awaiting_deposit": "This booking is waiting for its deposit, so it can't be changed or "
    "cancelled here until that's paid. Give us a ring if you need a hand.",
    "cancel_reason": "Please tell us why you're cancelling.",
    "unknown": "Sorry, we couldn't make that change. Please give us a ring.",
}

#: Why a guest cancels (the form's choices): code -> words.
CANCEL_REASONS: dict[str, str] = {
    "plans_changed": "My plans have changed",
    "fewer_people": "Not enough of us can make it",
    "illness": "Someone is unwell",
    "booked_elsewhere": "We've booked somewhere else",
    "other": "Something else",
}

STATUS_WORDS = {
    "confirmed": "Confirmed",
    "pending_payment": "Waiting for the deposit",
    "cancelled": "Cancelled",
    "completed": "Completed",
    "no_show": "Missed",
}

_MONEY = re.compile(r"\d{1,6}\.\d{2}")


def when_words(day: date, at: str) -> str:
    """``Friday 11 December 2026 at 19:00``."""
    return f"{day:%A} {day.day} {day:%B %Y} at {at}"


def moment_words(at: datetime) -> str:
    """A moment in London time: ``19:00 on Friday 11 December``."""
    local = at.astimezone(LONDON)
    return f"{local:%H:%M} on {local:%A} {local.day} {local:%B}"


def end_of_day(day: date) -> datetime:
    return datetime.combine(day, time(23, 59), tzinfo=LONDON)


async def open_page(
    db: Database, token: str, *, action: GuestAction, now: datetime
) -> dict[str, Any]:
    """What the link opens, counted against its limit: ``{"state": "ok", token_id,
    booking_id, booking (manage, booking_confirm: the guest's view with the policy), payment}``
    or ``{"state": reason}`` (a key of BLOCKED)."""
    if not _TOKEN.fullmatch(token):
        return {"state": "invalid_token"}
    page: dict[str, Any] = await db.rpc(
        "tb_guest_page",
        {
            "p_token_hash": tokens.hash_token(token),
            "p_action": action,
            "p_now": now.isoformat(),
            "p_limit": PAGE_LIMIT,
            "p_window_seconds": PAGE_WINDOW_SECONDS,
        },
    )
    if page["state"] == "ok" and page.get("booking") is not None:
        page["booking"] = bookings.guest_view(page["booking"], now)
    return page


def actor_for(page: Mapping[str, Any], token: str, action: GuestAction) -> Actor:
    return Actor.guest_link(
        token_hash=tokens.hash_token(token), token_id=str(page["token_id"]), action=action
    )


# The manage page ---------------------------------------------------------------------------


def manage_view(booking: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """What the manage page shows and offers."""
    day = date.fromisoformat(booking["date"])
    starts_at = datetime.fromisoformat(booking["starts_at"])
    status = booking["status"]
    open_to_change = status == "confirmed" and starts_at > now
    payment = booking.get("payment") or {}
    table = booking.get("table_name") or ("Outside" if booking.get("is_outside_seating") else None)
    return {
        "reference": booking["booking_reference"],
        "when": when_words(day, booking["time"]),
        "table": table,
        "party_size": booking["party_size"],
        "status": status,
        "status_words": STATUS_WORDS.get(status, status.replace("_", " ").capitalize()),
        "special_requirements": booking.get("special_requirements") or "",
        "first_name": (booking.get("customer") or {}).get("first_name"),
        "can_modify": open_to_change and bool(booking.get("can_modify")),
        "can_cancel": open_to_change and bool(booking.get("can_cancel")),
        "policy": (booking.get("cancellation_policy") or {}).get("summary"),
        "awaiting_deposit": status == "pending_payment",
        "deposit_amount": payment.get("deposit_amount"),
        "hold_until": moment_words(datetime.fromisoformat(payment["expires_at"]))
        if payment.get("expires_at")
        else None,
        "party_max": PARTY_MAX,
        "party_min": PARTY_MIN,
        "requirements_max": REQUIREMENTS_MAX,
        "cancel_reasons": CANCEL_REASONS,
    }


def result_notice(
    status: str | None, reason: str | None, refund: str | None
) -> dict[str, str] | None:
    """The notice for ``?status=`` (never words taken from the address itself)."""
    if status == "updated":
        return {"kind": "ok", "text": "Done: your booking has been updated."}
    if status == "cancelled":
        text = "Your booking has been cancelled. We're sorry you can't make it."
        if refund and _MONEY.fullmatch(refund) and Decimal(refund) > 0:
            text += (
                f" A refund of £{refund} is due to you and goes back to the card or account "
                "you paid with; we'll let you know when it's on its way."
            )
        return {"kind": "ok", "text": text}
    if status == "rate_limited":
        return {"kind": "warn", "text": BLOCKED["rate_limited"][1]}
    if status == "error":
        return {"kind": "error", "text": REFUSALS.get(reason or "", REFUSALS["unknown"])}
    return None


def read_form(body: bytes) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body: the first value of each field."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return {}
    fields = parse_qs(text, keep_blank_values=True, max_num_fields=20)
    return {name: values[0] for name, values in fields.items() if values}


@dataclass(frozen=True, slots=True)
class Outcome:
    """Where a form sends the guest back: ``?status=...`` and its extras."""

    status: str
    reason: str | None = None
    refund: str | None = None

    def query(self) -> dict[str, str]:
        query = {"status": self.status}
        if self.reason:
            query["reason"] = self.reason
        if self.refund:
            query["refund"] = self.refund
        return query


def refusal_of(exc: AppError) -> str:
    """The REFUSALS key for what the engine refused."""
    details = exc.details if isinstance(exc.details, dict) else {}
    reason = str(details.get("public_reason") or details.get("reason") or "").lower()
    if exc.code == "NO_AVAILABILITY":
        if reason in ("no_table", "slot_full"):
            return reason
        if reason == "too_large_party":
            return "party_size"
        if reason in ("cut_off", "in_past", "outside_hours"):
            return "too_close"
        return "no_table"
    if exc.code == "POLICY_VIOLATION":
        if reason == "deposit_due":
            return "deposit_due"
        if reason in ("too_large_party",):
            return "party_size"
        if reason in ("min_notice", "cut_off"):
            return "too_close"
        return "not_online"
    if exc.code == "BOOKING_NOT_MODIFIABLE":
        return "started" if reason == "started" else "closed"
    if exc.code == "VALIDATION_ERROR":
        return "party_size"
    return "unknown"


def _not_open(booking: Mapping[str, Any]) -> Outcome | None:
    """Only a confirmed booking is changed or cancelled here (one awaiting its deposit is
    shown, not editable); the engine refuses the rest (started, say) by its own rules."""
    if booking["status"] == "pending_payment":
        return Outcome("error", "awaiting_deposit")
    if booking["status"] != "confirmed":
        return Outcome("error", "closed")
    return None


async def update_from_form(
    db: Database,
    *,
    page: Mapping[str, Any],
    actor: Actor,
    form: Mapping[str, str],
    client: ClientInfo,
    now: datetime,
) -> Outcome:
    """A party size (1-20) and special requirements (up to 500 characters), through the
    engine's update: re-seated, or refused in words."""
    booking = page["booking"]
    if (closed := _not_open(booking)) is not None:
        return closed
    try:
        party = int(form.get("party_size", "").strip())
    except ValueError:
        return Outcome("error", "party_size")
    if not PARTY_MIN <= party <= PARTY_MAX:
        return Outcome("error", "party_size")
    requirements = guest_text.clean_text(form.get("special_requirements", ""), multiline=True)
    if len(requirements) > REQUIREMENTS_MAX:
        return Outcome("error", "requirements")
    changes: dict[str, Any] = {}
    if party != booking["party_size"]:
        changes["party_size"] = party
    if requirements != (booking.get("special_requirements") or ""):
        changes["special_requirements"] = requirements
    if not changes:
        return Outcome("updated")
    try:
        request = UpdateBookingRequest.model_validate(changes)
    except ValidationError:
        return Outcome(
            "error", "requirements" if "special_requirements" in changes else "party_size"
        )
    try:
        await bookings.update_booking(
            db,
            reference=booking["booking_reference"],
            request=request,
            actor=actor,
            client=client,
            now=now,
        )
    except AppError as exc:
        if exc.status_code >= 500:
            raise
        return Outcome("error", refusal_of(exc))
    return Outcome("updated")


async def cancel_from_form(
    db: Database,
    *,
    page: Mapping[str, Any],
    actor: Actor,
    form: Mapping[str, str],
    client: ClientInfo,
    now: datetime,
) -> Outcome:
    """Cancel with a reason (a code of CANCEL_REASONS, and any words), as our cancel does:
    ``cancelled_by`` guest, the refund by the booking's own terms."""
    if (closed := _not_open(page["booking"])) is not None:
        return closed
    code = form.get("reason", "")
    if code not in CANCEL_REASONS:
        return Outcome("error", "cancel_reason")
    detail = guest_text.clean_text(form.get("detail", ""), multiline=False)[:CANCEL_DETAIL_MAX]
    reason = f"{code}: {detail}" if detail else code
    try:
        result = await bookings.cancel_booking(
            db,
            reference=page["booking"]["booking_reference"],
            reason=reason,
            actor=actor,
            client=client,
            now=now,
        )
    except AppError as exc:
        if exc.status_code >= 500:
            raise
        return Outcome("error", refusal_of(exc))
    refund = (result.get("refund") or {}).get("amount")
    try:
        due = refund if refund and Decimal(refund) > 0 else None
    except InvalidOperation:
        due = None
    return Outcome("cancelled", refund=due)


# The payment page ---------------------------------------------------------------------------


def payment_view(page: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """``{"state": "paid" | "due" | "blocked", ...}``: the payment page's screen, by the pub's
    order of checks (paid first; then not awaiting a deposit, the hold, the amount)."""
    payment = page["payment"]
    day = date.fromisoformat(payment["date"])
    facts = {
        "reference": payment["booking_reference"],
        "party_size": payment["party_size"],
        "when": when_words(day, payment["time"]),
        "deposit_due": payment["deposit_due"],
    }
    if payment["payment_status"] == "completed" or payment["captured"]:
        return {"state": "paid", **facts}
    status = payment["status"]
    awaiting = status == "pending_payment" or (
        status == "confirmed" and payment["payment_status"] == "pending"
    )
    if not awaiting:
        return {"state": "blocked", "reason": "booking_not_pending_payment", **facts}
    hold = payment.get("hold_expires_at")
    if status == "pending_payment":
        if not hold or datetime.fromisoformat(hold) <= now:
            return {"state": "blocked", "reason": "hold_expired", **facts}
        pay_by = datetime.fromisoformat(hold)
    else:
        # A confirmed booking still owing its deposit: shown to the end of its day.
        pay_by = end_of_day(day)
    if Decimal(payment["deposit_due"] or "0") <= 0:
        return {"state": "blocked", "reason": "invalid_amount", **facts}
    return {"state": "due", "pay_by": moment_words(pay_by), **facts}


# The manage link in confirmation messages ----------------------------------------------------


def manage_link_expiry(starts_at: datetime, now: datetime) -> datetime:
    """The start + 48 hours, within [now + 1 hour, now + 30 days]."""
    return min(max(starts_at + MANAGE_AFTER_START, now + MANAGE_AT_LEAST), now + MANAGE_AT_MOST)


async def issue_manage_link(
    db: Database, *, booking_id: str, starts_at: datetime, now: datetime, base_url: str
) -> str:
    """A new manage link for the booking's guest: ``{base}/g/{token}/table-manage``."""
    token = await tokens.issue_guest_token(
        db,
        booking_id=booking_id,
        action="manage",
        expires_at=manage_link_expiry(starts_at, now),
    )
    return tokens.guest_link_url(base_url, token, "table-manage")


def payment_failure_words(message: str | None) -> str:
    """What a refused order or capture (app.services.deposit_orders) means for the guest."""
    if message in (orders.CAPTURED_WRONG_AMOUNT, orders.UPDATE_FAILED):
        return (
            "PayPal took your payment, but we couldn't match it to your booking. Please don't "
            "pay again: give us a ring and we'll sort it out straight away."
        )
    if message == orders.AMOUNT_CHANGED:
        return (
            "The deposit for this booking has changed since you started, so nothing was taken. "
            "Please press pay again."
        )
    if message == orders.ORDER_MISMATCH:
        return (
            "That payment isn't the one for this booking, so nothing was taken. Please press "
            "pay again."
        )
    if message == orders.NOT_CONFIGURED:
        return (
            "We can't take payments online just now. Give us a ring and we'll take it over "
            "the phone."
        )
    return (
        "PayPal didn't complete the payment, so nothing was taken. Please try again in a "
        "minute, or give us a ring."
    )
