"""Refund maths and the cancellation policy in words; pure functions, no I/O.

The terms are the ones copied onto the booking when it was made (``refund_policy``). A deposit
taken by the pub's rule carries its frozen terms there (``refund_terms``, copied from the
booking's snapshot): ``seasonal``, all or nothing by whole London calendar days before the
booking date (``deposit_refund_cutoff_days``; 0 never refundable), or ``group_days``, 100% from 7
London days before, 50% from 3, nothing after. Otherwise (Sunday lunch): a full refund from
``full_refund_hours`` before the start, ``partial_refund_percentage`` from
``partial_refund_hours``, nothing after that, less any cancellation fee. The database applies the
same rule when it cancels (``tb_refund_due``); tests hold the two to each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
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
    #: ``seasonal`` or ``group_days`` (a deposit by the pub's rule, by London days); None: hours.
    refund_terms: str | None = None
    #: The frozen cut-off of seasonal terms (None when it cannot be read: nothing is refunded).
    cutoff_days: int | None = None
    #: The frozen sentence of seasonal terms, as the guest was shown it.
    policy_sentence: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> RefundTerms:
        data = data or {}
        cutoff = data.get("deposit_refund_cutoff_days")
        try:
            cutoff_days = None if cutoff is None else int(cutoff)
        except (TypeError, ValueError):
            cutoff_days = None  # unreadable: fail closed
        return cls(
            full_refund_hours=int(data.get("full_refund_hours", 48)),
            partial_refund_hours=int(data.get("partial_refund_hours", 24)),
            partial_refund_percentage=int(data.get("partial_refund_percentage", 0)),
            cancellation_fee=Decimal(str(data.get("cancellation_fee", "0"))),
            refund_terms=data.get("refund_terms"),
            cutoff_days=cutoff_days,
            policy_sentence=data.get("deposit_refund_policy"),
        )

    @property
    def by_days(self) -> bool:
        return self.refund_terms is not None


#: The pub's day rule for a deposit without seasonal terms: (London days before, percentage).
GROUP_DAYS = ((7, 100), (3, 50))


def london_days_before(starts_at: datetime, now: datetime) -> int:
    """Whole London calendar days from today (London) to the booking's date."""
    return (starts_at.astimezone(LONDON).date() - now.astimezone(LONDON).date()).days


def _percentage_by_days(terms: RefundTerms, days: int) -> int:
    if terms.refund_terms == "seasonal":
        n = terms.cutoff_days
        return 100 if n is not None and n > 0 and days >= n else 0
    if terms.refund_terms == "group_days":
        return next((pct for least, pct in GROUP_DAYS if days >= least), 0)
    return 0  # terms this service does not know: fail closed, as the pub does


@dataclass(frozen=True, slots=True)
class Refund:
    percentage: int
    amount: Decimal


def refund_for_cancellation(
    terms: RefundTerms, *, paid: Decimal, starts_at: datetime, now: datetime
) -> Refund:
    """What is refunded of ``paid`` when the guest cancels at ``now`` (instants, any zone)."""
    if terms.by_days:
        percentage = _percentage_by_days(terms, london_days_before(starts_at, now))
        amount = (paid * percentage / 100).quantize(PENNY, rounding=ROUND_HALF_UP)
        return Refund(percentage=percentage, amount=max(amount, Decimal("0.00")))
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


def just_made_summary(
    day: str,
    at: str,
    deposit_due: Decimal,
    terms: RefundTerms | None = None,
    now: datetime | None = None,
) -> str:
    """The policy in words for a booking just made (the create's ``cancellation_policy``), from
    its London date and time: nothing is paid yet; with no deposit to come, exactly what the
    booking view says. A deposit by the pub's rule states its own terms (``terms``), the frozen
    sentence word for word where there is one."""
    starts_at = datetime.fromisoformat(f"{day}T{at}").replace(tzinfo=LONDON)
    if deposit_due <= 0:
        return nothing_paid_summary(starts_at)
    if terms is not None and terms.by_days:
        words = " ".join(_terms_by_days(terms, deposit_due, starts_at, now))
        return f"{deposit_due_prefix(deposit_due)}: {words}"
    return (
        f"{deposit_due_prefix(deposit_due)}, how much of it is refunded depends on how long "
        "before the booking you cancel; the booking's own page gives the dates."
    )


def seasonal_sentence(cutoff_days: int) -> str:
    """The pub's refund sentence for a cut-off (``tb_refund_policy_sentence``), for terms whose
    own sentence is missing."""
    if cutoff_days <= 0:
        return (
            "The deposit is not refundable once the booking is made, though a manager may "
            "waive that."
        )
    return (
        f"Full refund up to {cutoff_days} days before the booking date. Inside {cutoff_days} days "
        "the deposit is not refunded, though a manager may waive that. The deposit comes off the "
        "bill on the day."
    )


def _day(d: date) -> str:
    return f"{d:%A} {d.day} {d:%B}"


def _end_of(d: date) -> datetime:
    """The end of a London day: midnight at the start of the next."""
    return datetime.combine(d + timedelta(days=1), time(0, 0), tzinfo=LONDON)


def _terms_by_days(
    terms: RefundTerms, amount: Decimal, starts_at: datetime, now: datetime | None
) -> list[str]:
    """A deposit by the pub's rule, in words: its frozen sentence (seasonal terms) or the day
    rule, with the London dates they give for this booking."""
    booking_day = starts_at.astimezone(LONDON).date()
    today = now.astimezone(LONDON).date() if now is not None else None
    if terms.refund_terms == "seasonal":
        n = terms.cutoff_days
        if n is None:
            return [
                "The terms of this deposit cannot be read, so it is not refunded automatically; "
                "please call us."
            ]
        parts = [terms.policy_sentence or seasonal_sentence(n)]
        if n > 0:
            last = booking_day - timedelta(days=n)
            if today is not None and today > last:
                parts.append(f"The last day for a refund was {_day(last)}.")
            else:
                parts.append(
                    f"For this booking: cancel by the end of {_day(last)} (London time) for a full "
                    f"refund of £{amount:.2f}."
                )
        return parts
    half = (amount * 50 / 100).quantize(PENNY, rounding=ROUND_HALF_UP)
    full_last = booking_day - timedelta(days=GROUP_DAYS[0][0])
    half_last = booking_day - timedelta(days=GROUP_DAYS[1][0])
    parts = []
    if today is None or today <= full_last:
        parts.append(f"Cancel by the end of {_day(full_last)} for a full refund of £{amount:.2f}.")
    if today is None or today <= half_last:
        parts.append(f"Cancel by the end of {_day(half_last)} for a 50% refund (£{half:.2f}).")
    parts.append(
        f"From {_day(half_last + timedelta(days=1))} the deposit cannot be refunded. "
        "The deposit comes off the bill on the day."
    )
    return parts


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
    full_until: datetime | None = starts_at - timedelta(hours=terms.full_refund_hours)
    partial_until: datetime | None = starts_at - timedelta(hours=terms.partial_refund_hours)
    partial_percentage = terms.partial_refund_percentage
    if terms.by_days:
        booking_day = starts_at.astimezone(LONDON).date()
        if terms.refund_terms == "group_days":
            full_until = _end_of(booking_day - timedelta(days=GROUP_DAYS[0][0]))
            partial_until = _end_of(booking_day - timedelta(days=GROUP_DAYS[1][0]))
            partial_percentage = GROUP_DAYS[1][1]
        else:
            n = terms.cutoff_days
            full_until = _end_of(booking_day - timedelta(days=n)) if n and n > 0 else None
            partial_until, partial_percentage = None, 0
    refund_now = refund_for_cancellation(terms, paid=paid, starts_at=starts_at, now=now)
    closed_because = why_not_cancellable(status, starts_at=starts_at, now=now)
    refundable = paid if paid > 0 else deposit_due
    if closed_because is not None:
        summary = f"This booking can no longer be cancelled because {closed_because}."
    elif refundable <= 0:
        summary = nothing_paid_summary(starts_at)
    else:
        summary = " ".join(
            _terms_by_days(terms, refundable, starts_at, now)
            if terms.by_days
            else _refund_terms(terms, refundable, starts_at)
        )
        if paid <= 0:
            summary = f"{deposit_due_prefix(deposit_due)}: {summary}"
    no_terms = refundable <= 0
    return {
        "full_refund_until": None if no_terms or full_until is None else london_iso(full_until),
        "partial_refund_until": london_iso(partial_until)
        if partial_percentage > 0 and not no_terms and partial_until is not None
        else None,
        "partial_refund_percentage": partial_percentage,
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
