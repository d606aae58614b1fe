"""The slot grid in SQL: ``public.tb_slot_times(opens, closes, interval, margin)``.

Approach to hypothesis with a database: ``@given`` sits directly on the async tests.
pytest-asyncio (1.x) runs each generated example on the session event loop, so the examples
share this test's ``conn`` (one fresh database per test, not per example, which is fine: the
function is immutable and the tests write nothing). Hypothesis' ``function_scoped_fixture``
health check is suppressed for that reason.
"""

from __future__ import annotations

import itertools
from datetime import time

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

MINUTES_PER_DAY = 24 * 60

#: Times on a 5-minute grid, any time of day (so closing at or before opening happens often).
grid_times = st.integers(0, MINUTES_PER_DAY // 5 - 1).map(lambda i: time(i * 5 // 60, i * 5 % 60))
intervals = st.sampled_from([15, 20, 30, 45, 60])
margins = st.integers(0, 120)

db_examples = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def minutes(t: time) -> int:
    return t.hour * 60 + t.minute


def span_minutes(opens: time, closes: time) -> int:
    """Minutes from opening to closing; closing at or before opening is after midnight."""
    span = minutes(closes) - minutes(opens)
    return span + MINUTES_PER_DAY if span <= 0 else span


def expected_slots(opens: time, closes: time, interval: int, margin: int) -> list[tuple[time, int]]:
    """The reference grid: every ``interval`` from opening while at least ``margin`` remains."""
    last = span_minutes(opens, closes) - margin
    out = []
    for offset in range(0, last + 1, interval) if last >= 0 else []:
        m = (minutes(opens) + offset) % MINUTES_PER_DAY
        out.append((time(m // 60, m % 60), offset))
    return out


async def slot_times(
    conn: asyncpg.Connection, opens: time | None, closes: time | None, interval: int, margin: int
) -> list[tuple[time, int]]:
    rows = await conn.fetch(
        "select slot_time, minutes_after_opening"
        " from public.tb_slot_times($1::time, $2::time, $3::int, $4::int)",
        opens,
        closes,
        interval,
        margin,
    )
    return [(r["slot_time"], r["minutes_after_opening"]) for r in rows]


class TestReference:
    """The Python reference itself, on the pub's real hours."""

    def test_tuesday(self) -> None:
        slots = expected_slots(time(12), time(21), 30, 30)
        assert slots[0] == (time(12), 0) and slots[-1] == (time(20, 30), 510)
        assert len(slots) == 18

    def test_past_midnight(self) -> None:
        slots = expected_slots(time(18), time(1), 30, 30)
        assert slots[-1] == (time(0, 30), 390)

    @given(opens=grid_times, closes=grid_times, interval=intervals, margin=margins)
    def test_count_formula(self, opens: time, closes: time, interval: int, margin: int) -> None:
        span = span_minutes(opens, closes)
        count = (span - margin) // interval + 1 if span >= margin else 0
        assert len(expected_slots(opens, closes, interval, margin)) == count


class TestKnownDays:
    @pytest.mark.parametrize(
        ("opens", "closes", "interval", "margin", "first", "last", "count"),
        [
            (time(12), time(21), 30, 30, time(12), time(20, 30), 18),  # Tuesday to Thursday
            (time(12), time(21, 30), 30, 30, time(12), time(21), 19),  # Friday, Saturday
            (time(12), time(17), 30, 30, time(12), time(16, 30), 10),  # Sunday
            (time(18), time(1), 30, 30, time(18), time(0, 30), 14),  # past midnight
            (time(12), time(21), 15, 60, time(12), time(20), 33),
            (time(12), time(12), 60, 0, time(12), time(12), 25),  # round the clock
        ],
    )
    async def test_grid(
        self,
        conn: asyncpg.Connection,
        opens: time,
        closes: time,
        interval: int,
        margin: int,
        first: time,
        last: time,
        count: int,
    ) -> None:
        slots = await slot_times(conn, opens, closes, interval, margin)
        assert len(slots) == count
        assert slots[0][0] == first and slots[-1][0] == last

    async def test_margin_longer_than_the_kitchen_is_open(self, conn: asyncpg.Connection) -> None:
        assert await slot_times(conn, time(12), time(12, 45), 30, 60) == []

    async def test_margin_exactly_the_span_leaves_the_opening_slot(
        self, conn: asyncpg.Connection
    ) -> None:
        assert await slot_times(conn, time(12), time(13), 30, 60) == [(time(12), 0)]

    async def test_no_hours_no_slots(self, conn: asyncpg.Connection) -> None:
        assert await slot_times(conn, None, time(21), 30, 30) == []
        assert await slot_times(conn, time(12), None, 30, 30) == []


class TestProperties:
    @db_examples
    @given(opens=grid_times, closes=grid_times, interval=intervals, margin=margins)
    async def test_grid_properties(
        self, conn: asyncpg.Connection, opens: time, closes: time, interval: int, margin: int
    ) -> None:
        slots = await slot_times(conn, opens, closes, interval, margin)
        span = span_minutes(opens, closes)
        offsets = [offset for _, offset in slots]

        # Count, and nothing at all when the margin does not fit.
        assert len(slots) == ((span - margin) // interval + 1 if span >= margin else 0)
        if span >= margin:
            assert slots[0] == (opens, 0)
        # Every slot is opens + k * interval, as wall-clock time wrapping at midnight.
        for slot_time, offset in slots:
            assert offset % interval == 0
            assert minutes(slot_time) == (minutes(opens) + offset) % MINUTES_PER_DAY
        # Strictly increasing; the last fits the margin and one more interval would not.
        assert all(a < b for a, b in itertools.pairwise(offsets))
        if offsets:
            assert offsets[-1] <= span - margin
            assert offsets[-1] + interval > span - margin
        # And exactly the reference grid.
        assert slots == expected_slots(opens, closes, interval, margin)
