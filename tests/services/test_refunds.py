"""Refund maths: the pure function, its words, and the SQL twin the cancel transaction uses."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg
from hypothesis import given, settings
from hypothesis import strategies as st

from app.services.refunds import (
    RefundTerms,
    describe_cancellation_policy,
    refund_for_cancellation,
    why_not_cancellable,
)

SUNDAY_LUNCH = RefundTerms(48, 24, 50, Decimal("0.00"))
START = datetime(2026, 12, 6, 13, 0, tzinfo=UTC)

money = st.decimals(min_value=Decimal("0.00"), max_value=Decimal("2000.00"), places=2)
terms = st.builds(
    lambda full, partial_gap, pct, fee: RefundTerms(full, max(full - partial_gap, 0), pct, fee),
    st.integers(0, 24 * 14),
    st.integers(0, 24 * 7),
    st.integers(0, 100),
    st.decimals(min_value=Decimal("0.00"), max_value=Decimal("20.00"), places=2),
)
offsets = st.integers(min_value=-3 * 24 * 3600, max_value=30 * 24 * 3600)


class TestTiers:
    def test_sunday_lunch_tiers_to_the_penny(self) -> None:
        paid = Decimal("15.00")
        cases = [
            (timedelta(hours=72), 100, "15.00"),
            (timedelta(hours=48), 100, "15.00"),
            (timedelta(hours=47, minutes=59), 50, "7.50"),
            (timedelta(hours=24), 50, "7.50"),
            (timedelta(hours=23, minutes=59, seconds=59), 0, "0.00"),
            (timedelta(0), 0, "0.00"),
        ]
        for before, percentage, amount in cases:
            refund = refund_for_cancellation(
                SUNDAY_LUNCH, paid=paid, starts_at=START, now=START - before
            )
            assert (refund.percentage, str(refund.amount)) == (percentage, amount), before

    def test_half_pennies_round_up(self) -> None:
        refund = refund_for_cancellation(
            SUNDAY_LUNCH, paid=Decimal("9.99"), starts_at=START, now=START - timedelta(hours=30)
        )
        assert refund.amount == Decimal("5.00")  # 4.995 -> 5.00

    def test_fee_is_taken_from_a_refund_but_never_below_zero(self) -> None:
        with_fee = RefundTerms(48, 24, 50, Decimal("5.00"))
        full = refund_for_cancellation(
            with_fee, paid=Decimal("15.00"), starts_at=START, now=START - timedelta(days=3)
        )
        half = refund_for_cancellation(
            with_fee, paid=Decimal("6.00"), starts_at=START, now=START - timedelta(hours=30)
        )
        assert (full.amount, half.amount) == (Decimal("10.00"), Decimal("0.00"))

    def test_across_the_clock_change(self) -> None:
        # Sunday 28 March 2027 13:00 BST is 12:00 UTC: 48 hours before is Friday 12:00 UTC,
        # which is 12:00 on the London clock (still GMT), not 13:00.
        start = datetime(2027, 3, 28, 12, 0, tzinfo=UTC)
        on_time = refund_for_cancellation(
            SUNDAY_LUNCH,
            paid=Decimal("10.00"),
            starts_at=start,
            now=datetime(2027, 3, 26, 12, 0, tzinfo=UTC),
        )
        late = refund_for_cancellation(
            SUNDAY_LUNCH,
            paid=Decimal("10.00"),
            starts_at=start,
            now=datetime(2027, 3, 26, 12, 0, 1, tzinfo=UTC),
        )
        assert (on_time.percentage, late.percentage) == (100, 50)
        policy = describe_cancellation_policy(
            SUNDAY_LUNCH,
            paid=Decimal("10.00"),
            starts_at=start,
            now=start - timedelta(days=5),
            status="confirmed",
        )
        assert policy["full_refund_until"] == "2027-03-26T12:00:00+00:00"
        assert policy["partial_refund_until"] == "2027-03-27T12:00:00+00:00"


class TestProperties:
    @settings(max_examples=300, deadline=None)
    @given(terms, money, offsets)
    def test_never_more_than_paid_and_exact_pennies(
        self, t: RefundTerms, paid: Decimal, offset: int
    ) -> None:
        refund = refund_for_cancellation(
            t, paid=paid, starts_at=START, now=START - timedelta(seconds=offset)
        )
        assert Decimal("0.00") <= refund.amount <= paid
        assert refund.amount == refund.amount.quantize(Decimal("0.01"))
        assert refund.percentage in (0, 100, t.partial_refund_percentage)

    @settings(max_examples=300, deadline=None)
    @given(terms, money, offsets, st.integers(1, 10 * 24 * 3600))
    def test_cancelling_earlier_never_refunds_less(
        self, t: RefundTerms, paid: Decimal, offset: int, earlier: int
    ) -> None:
        later = refund_for_cancellation(
            t, paid=paid, starts_at=START, now=START - timedelta(seconds=offset)
        )
        sooner = refund_for_cancellation(
            t, paid=paid, starts_at=START, now=START - timedelta(seconds=offset + earlier)
        )
        assert sooner.amount >= later.amount


class TestWords:
    def test_paid_sunday_lunch(self) -> None:
        policy = describe_cancellation_policy(
            SUNDAY_LUNCH,
            paid=Decimal("15.00"),
            starts_at=START,
            now=START - timedelta(days=5),
            status="confirmed",
        )
        assert policy == {
            "full_refund_until": "2026-12-04T13:00:00+00:00",
            "partial_refund_until": "2026-12-05T13:00:00+00:00",
            "partial_refund_percentage": 50,
            "refund_percentage_now": 100,
            "refund_amount_now": "15.00",
            "summary": "Cancel before 13:00 on Friday 4 December for a full refund of £15.00. "
            "Cancel before 13:00 on Saturday 5 December for a 50% refund (£7.50). "
            "From 13:00 on Saturday 5 December the payment cannot be refunded.",
        }

    def test_nothing_paid(self) -> None:
        policy = describe_cancellation_policy(
            RefundTerms(2, 0, 0, Decimal("0")),
            paid=Decimal("0.00"),
            starts_at=START,
            now=START - timedelta(days=1),
            status="pending_payment",
        )
        assert policy["summary"].startswith("Nothing has been paid")
        assert policy["partial_refund_until"] is None

    def test_a_booking_that_can_no_longer_be_cancelled_says_why(self) -> None:
        cases = [
            ("cancelled", START - timedelta(days=5), "it has already been cancelled"),
            ("completed", START + timedelta(hours=2), "it has been marked as completed"),
            ("no_show", START + timedelta(minutes=30), "it has been marked as a no-show"),
            ("confirmed", START, "it started at 13:00 on Sunday 6 December"),
            (
                "pending_payment",
                START + timedelta(days=1),
                "it started at 13:00 on Sunday 6 December",
            ),
        ]
        for status, now, because in cases:
            for paid in (Decimal("0.00"), Decimal("15.00")):
                policy = describe_cancellation_policy(
                    SUNDAY_LUNCH, paid=paid, starts_at=START, now=now, status=status
                )
                assert policy["summary"] == (
                    f"This booking can no longer be cancelled because {because}."
                ), (status, paid)

    @settings(max_examples=300, deadline=None)
    @given(
        terms,
        money,
        offsets,
        st.sampled_from(["pending_payment", "confirmed", "cancelled", "no_show", "completed"]),
    )
    def test_the_words_never_offer_a_cancellation_that_is_not_possible(
        self, t: RefundTerms, paid: Decimal, offset: int, status: str
    ) -> None:
        now = START - timedelta(seconds=offset)
        open_ = status in ("pending_payment", "confirmed") and now < START
        assert (why_not_cancellable(status, starts_at=START, now=now) is None) is open_
        summary = describe_cancellation_policy(
            t, paid=paid, starts_at=START, now=now, status=status
        )["summary"]
        assert summary.startswith("This booking can no longer be cancelled") is not open_
        if not open_:
            assert "free of charge" not in summary and "refund" not in summary


async def test_sql_and_python_agree(conn: asyncpg.Connection) -> None:
    """The cancel transaction (SQL tb_refund_due) and the guest's view (Python) never differ."""
    rng = random.Random(20261124)
    cases = []
    for _ in range(600):
        full = rng.randint(0, 24 * 10)
        t = RefundTerms(
            full,
            rng.randint(0, full),
            rng.randint(0, 100),
            Decimal(rng.randint(0, 800)) / 100,
        )
        paid = Decimal(rng.randint(0, 50_000)) / 100
        # Offsets cluster on the tier edges, where rounding and comparisons matter.
        edge = rng.choice([t.full_refund_hours, t.partial_refund_hours]) * 3600
        now = START - timedelta(seconds=edge + rng.choice([-1, 0, 1, rng.randint(-9999, 9999)]))
        cases.append((t, paid, now))
    rows = await conn.fetch(
        "select (r).percentage, (r).amount from unnest($1::jsonb[], $2::numeric[],"
        " $3::timestamptz[]) with ordinality as c(policy, paid, now, n),"
        " lateral (select public.tb_refund_due(c.policy, c.paid, $4, c.now) as r) x order by n",
        [
            json.dumps(
                {
                    "full_refund_hours": t.full_refund_hours,
                    "partial_refund_hours": t.partial_refund_hours,
                    "partial_refund_percentage": t.partial_refund_percentage,
                    "cancellation_fee": str(t.cancellation_fee),
                }
            )
            for t, _, _ in cases
        ],
        [paid for _, paid, _ in cases],
        [now for _, _, now in cases],
        START,
    )
    for (t, paid, now), row in zip(cases, rows, strict=True):
        expected = refund_for_cancellation(t, paid=paid, starts_at=START, now=now)
        assert (row["percentage"], row["amount"]) == (expected.percentage, expected.amount), (
            t,
            paid,
            now,
        )
