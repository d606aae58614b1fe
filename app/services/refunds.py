"""Refund maths and the cancellation policy in words; pure functions, no I/O.

The terms are the ones copied onto the booking when it was made (``refund_policy``): a full
refund from ``full_refund_hours`` before the start, ``partial_refund_percentage`` from
``partial_refund_hours``, nothing after that, less any cancellation fee. The database applies
the same rule when it cancels (``tb_refund_due``); tests hold the two to each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")
PENNY = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class RefundTerms:
    full_refund_hours: int = 48
    partial_refund_hours: int = 24
    partial_refund_percentage: int = 50
    cancellation_fee: Decimal = Decimal("0.00")

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> RefundTerms:
        data = data or {}
        return cls(
            full_refund_hours=int(data.get("full_refund_hours", 48)),
            partial_refund_hours=int(data.get("partial_refund_hours", 24)),
            partial_refund_percentage=int(data.get("partial_refund_percentage", 0)),
            cancellation_fee=Decimal(str(data.get("cancellation_fee", "0"))),
        )


@dataclass(frozen=True, slots=True)
class Refund:
    percentage: int
    amount: Decimal


def refund_for_cancellation(
    terms: RefundTerms, *, paid: Decimal, starts_at: datetime, now: datetime
) -> Refund:
    """What is refunded of ``paid`` when the guest cancels at ``now`` (instants, any zone)."""
    hours_before = Decimal((starts_at - now).total_seconds()) / 3600
    if hours_before >= terms.full_refund_hours:
        percentage = 100
    elif hours_before >= terms.partial_refund_hours:
        percentage = terms.partial_refund_percentage
    else:
        percentage = 0
    amount = (paid * percentage / 100).quantize(PENNY, rounding=ROUND_HALF_UP)
    if percentage > 0:
        amount -= terms.cancellation_fee
    return Refund(percentage=percentage, amount=max(amount, Decimal("0.00")).quantize(PENNY))


def london_iso(at: datetime) -> str:
    return at.astimezone(LONDON).isoformat(timespec="seconds")


def _when(at: datetime) -> str:
    local = at.astimezone(LONDON)
    return f"{local:%H:%M} on {local:%A} {local.day} {local:%B}"


def nothing_paid_summary(starts_at: datetime) -> str:
    """The policy of a booking with nothing paid and no deposit to come, in words."""
    return (
        "Nothing has been paid for this booking, so you can cancel it free of charge until it "
        f"starts at {_when(starts_at)}."
    )


def deposit_due_prefix(deposit_due: Decimal) -> str:
    """How the policy of a booking still awaiting its deposit begins."""
    return (
        "Nothing has been paid yet, so cancelling now costs nothing. Once the "
        f"£{deposit_due:.2f} deposit is paid"
    )


def just_made_summary(day: str, at: str, deposit_due: Decimal) -> str:
    """The policy in words for a booking just made (the create's ``cancellation_policy``), from
    its London date and time: nothing is paid yet; with no deposit to come, exactly what the
    booking view says."""
    if deposit_due <= 0:
        starts_at = datetime.fromisoformat(f"{day}T{at}").replace(tzinfo=LONDON)
        return nothing_paid_summary(starts_at)
    return (
        f"{deposit_due_prefix(deposit_due)}, how much of it is refunded depends on how long "
        "before the booking you cancel; the booking's own page gives the dates."
    )


#: Statuses a booking can still be cancelled from (until it starts).
OPEN_STATUSES = ("confirmed", "pending_payment")
_CLOSED_BECAUSE = {
    "cancelled": "it has already been cancelled",
    "completed": "it has been marked as completed",
    "no_show": "it has been marked as a no-show",
}


def why_not_cancellable(status: str, *, starts_at: datetime, now: datetime) -> str | None:
    """Why a booking with this status can no longer be cancelled at ``now``; None if it can."""
    if status not in OPEN_STATUSES:
        return _CLOSED_BECAUSE.get(status, f"it is {status.replace('_', ' ')}")
    if starts_at <= now:
        return f"it started at {_when(starts_at)}"
    return None


def describe_cancellation_policy(
    terms: RefundTerms,
    *,
    paid: Decimal,
    starts_at: datetime,
    now: datetime,
    status: str,
    deposit_due: Decimal = Decimal("0.00"),
) -> dict[str, Any]:
    """The policy as dates (London time) and one paragraph a guest can read.

    Once the booking can no longer be cancelled (see ``why_not_cancellable``), the paragraph
    says so and why, instead of the terms it can no longer use. With nothing paid and no
    deposit to come there is nothing to refund, so there are no refund deadlines either (a
    deadline two hours before the start beside "free of charge until it starts" contradicted
    itself); with a deposit still to pay, the terms it will be refunded by are given.
    """
    full_until = starts_at - timedelta(hours=terms.full_refund_hours)
    partial_until = starts_at - timedelta(hours=terms.partial_refund_hours)
    refund_now = refund_for_cancellation(terms, paid=paid, starts_at=starts_at, now=now)
    closed_because = why_not_cancellable(status, starts_at=starts_at, now=now)
    refundable = paid if paid > 0 else deposit_due
    if closed_because is not None:
        summary = f"This booking can no longer be cancelled because {closed_because}."
    elif refundable <= 0:
        summary = nothing_paid_summary(starts_at)
    else:
        summary = " ".join(_refund_terms(terms, refundable, starts_at))
        if paid <= 0:
            summary = f"{deposit_due_prefix(deposit_due)}: {summary}"
    no_terms = refundable <= 0
    return {
        "full_refund_until": None if no_terms else london_iso(full_until),
        "partial_refund_until": london_iso(partial_until)
        if terms.partial_refund_percentage > 0 and not no_terms
        else None,
        "partial_refund_percentage": terms.partial_refund_percentage,
        # What cancelling now would refund: nothing, once it cannot be cancelled or when
        # nothing was paid (0%, not "100% of nothing").
        "refund_percentage_now": 0 if closed_because or paid <= 0 else refund_now.percentage,
        "refund_amount_now": "0.00" if closed_because else f"{refund_now.amount:.2f}",
        "summary": summary,
    }


def _refund_terms(terms: RefundTerms, paid: Decimal, starts_at: datetime) -> list[str]:
    full_until = starts_at - timedelta(hours=terms.full_refund_hours)
    partial_until = starts_at - timedelta(hours=terms.partial_refund_hours)
    parts = [f"Cancel before {_when(full_until)} for a full refund of £{paid:.2f}."]
    has_partial = terms.partial_refund_percentage > 0 and (
        terms.partial_refund_hours < terms.full_refund_hours
    )
    if has_partial:
        partial = refund_for_cancellation(terms, paid=paid, starts_at=starts_at, now=partial_until)
        parts.append(
            f"Cancel before {_when(partial_until)} for a {terms.partial_refund_percentage}%"
            f" refund (£{partial.amount:.2f})."
        )
    last = partial_until if has_partial else full_until
    parts.append(f"From {_when(last)} the payment cannot be refunded.")
    if terms.cancellation_fee > 0:
        parts.append(f"A cancellation fee of £{terms.cancellation_fee:.2f} applies.")
    return parts
