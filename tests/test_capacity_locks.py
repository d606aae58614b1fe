"""The capacity locks of a booking's transaction (``tb_claim_covers``): one per half hour its
time touches, held until the commit. Two bookings whose times overlap share a half hour, so they
are decided one after the other and neither sees stale covers; bookings whose times do not
overlap (another time of the same evening, another day) do not wait for each other."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta

import asyncpg
import pytest

from app.config import Settings
from app.db.postgres import PostgresDatabase
from app.main import create_app
from tests.conftest import FakeClock, asgi_client, envelope_error, regular_body
from tests.test_reliability import LIVE_COVERS_PEAK

DAY = date(2026, 12, 2)  # a Wednesday, in GMT
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)

CLAIM_SQL = """
select public.tb_claim_covers($1::date[], $2::date, $3::time,
                              ($2::date + $3::time) at time zone 'Europe/London', 120,
                              'regular', 2, $4::timestamptz)
"""

#: A claim as for a booking made by the pub's app: no start instant, no duration.
CLAIM_WITHOUT_START_SQL = """
select public.tb_claim_covers(array[$1::date], $1::date, $2::time, null, null, 'regular', $3,
                              $4::timestamptz)
"""

#: The advisory lock keys a backend holds, as (high, low) 32-bit halves.
HELD_SQL = """
select classid::bigint as high, objid::bigint as low from pg_locks
where locktype = 'advisory' and objsubid = 1 and pid = $1 and granted
"""

#: The keys of these half hours (counted from the epoch).
KEYS_SQL = """
select (h >> 32) & 4294967295 as high, h & 4294967295 as low
from (select hashtextextended('table_bookings:half_hour:' || n::text, 0) as h
      from unnest($1::bigint[]) n) k
"""


def half_hours(start: datetime, count: int) -> list[int]:
    first = int(start.timestamp()) // 1800
    return [first + i for i in range(count)]


async def keys(conn: asyncpg.Connection, numbers: list[int]) -> set[tuple[int, int]]:
    return {(r["high"], r["low"]) for r in await conn.fetch(KEYS_SQL, numbers)}


async def held(conn: asyncpg.Connection, pid: int) -> set[tuple[int, int]]:
    return {(r["high"], r["low"]) for r in await conn.fetch(HELD_SQL, pid)}


async def claim(
    conn: asyncpg.Connection, day: date, at: str, dates: list[date] | None = None
) -> None:
    await conn.execute(CLAIM_SQL, dates or [day], day, time.fromisoformat(at), NOW)


class TestLocksHeld:
    async def test_each_half_hour_of_its_two_hours(
        self, conn: asyncpg.Connection, other: asyncpg.Connection
    ) -> None:
        async with conn.transaction():
            await claim(conn, DAY, "19:00")
            expected = await keys(other, half_hours(datetime(2026, 12, 2, 19, tzinfo=UTC), 4))
            assert len(expected) == 4
            assert await held(other, conn.get_server_pid()) == expected
        assert await held(other, conn.get_server_pid()) == set()

    async def test_a_time_between_half_hours_touches_five(
        self, conn: asyncpg.Connection, other: asyncpg.Connection
    ) -> None:
        async with conn.transaction():
            await claim(conn, DAY, "19:15")
            expected = await keys(other, half_hours(datetime(2026, 12, 2, 19, tzinfo=UTC), 5))
            assert await held(other, conn.get_server_pid()) == expected

    async def test_a_change_of_day_locks_only_the_new_time(
        self, conn: asyncpg.Connection, other: asyncpg.Connection
    ) -> None:
        moved_to = DAY + timedelta(days=5)
        async with conn.transaction():
            await claim(conn, moved_to, "19:00", dates=[DAY, moved_to])
            expected = await keys(other, half_hours(datetime(2026, 12, 7, 19, tzinfo=UTC), 4))
            assert await held(other, conn.get_server_pid()) == expected

    async def test_no_start_or_duration_means_london_time_and_two_hours(
        self, conn: asyncpg.Connection, other: asyncpg.Connection
    ) -> None:
        # As a booking made by the pub's app may be; 19:00 in July is 18:00 UTC.
        summer = date(2027, 7, 7)
        async with conn.transaction():
            await conn.execute(CLAIM_WITHOUT_START_SQL, summer, time(19), 2, NOW)
            expected = await keys(other, half_hours(datetime(2027, 7, 7, 18, tzinfo=UTC), 4))
            assert await held(other, conn.get_server_pid()) == expected


class TestWithoutStartOrDuration:
    async def test_the_covers_of_london_time_and_two_hours_are_counted(
        self, conn: asyncpg.Connection
    ) -> None:
        # 48 covers at 20:00, made by the pub's app without a start instant or duration.
        await conn.execute(
            "insert into table_bookings (booking_reference, booking_date, booking_time,"
            " party_size, committed_party_size, booking_type, status, duration_minutes)"
            " values ('TB-LOCK01', $1, '20:00', 48, 48, 'regular', 'confirmed', null)",
            DAY,
        )
        # 19:00 to 21:00 overlaps it: 2 covers are free, not 3; 17:00 to 19:00 does not.
        await conn.execute(CLAIM_WITHOUT_START_SQL, DAY, time(19), 2, NOW)
        with pytest.raises(asyncpg.RaiseError, match="NO_AVAILABILITY"):
            await conn.execute(CLAIM_WITHOUT_START_SQL, DAY, time(19), 3, NOW)
        await conn.execute(CLAIM_WITHOUT_START_SQL, DAY, time(17), 50, NOW)


async def waits(holder: asyncpg.Connection, other: asyncpg.Connection, day: date, at: str) -> bool:
    """Whether a claim for ``day`` at ``at`` on ``other`` is blocked by ``holder``'s open claim.

    Asked of the server (``pg_blocking_pids``), not inferred from a lock timeout: the answer does
    not depend on how fast the machine is, and needs no timer in the server."""
    other_pid = other.get_server_pid()

    async def attempt() -> None:
        async with other.transaction():
            await claim(other, day, at)

    task = asyncio.create_task(attempt())
    while not task.done():
        if await holder.fetchval(
            "select $1::int = any(pg_blocking_pids($2::int))", holder.get_server_pid(), other_pid
        ):
            await holder.execute("select pg_cancel_backend($1::int)", other_pid)
            with pytest.raises(asyncpg.QueryCanceledError):
                await task
            return True
        await asyncio.sleep(0.005)
    await task
    return False


class TestWhoWaits:
    @pytest.mark.parametrize("at", ["17:30", "18:00", "19:00", "19:15", "20:00", "20:30"])
    async def test_an_overlapping_time_waits(
        self, conn: asyncpg.Connection, other: asyncpg.Connection, at: str
    ) -> None:
        async with conn.transaction():
            await claim(conn, DAY, "19:00")
            assert await waits(conn, other, DAY, at)

    @pytest.mark.parametrize(
        ("day", "at"),
        [
            (DAY, "17:00"),
            (DAY, "21:00"),
            (DAY, "12:00"),
            (DAY - timedelta(days=1), "19:00"),
            (DAY + timedelta(days=1), "19:00"),
        ],
    )
    async def test_a_time_that_does_not_overlap_does_not(
        self, conn: asyncpg.Connection, other: asyncpg.Connection, day: date, at: str
    ) -> None:
        # 17:00 ends as 19:00 starts, 21:00 starts as it ends.
        async with conn.transaction():
            await claim(conn, DAY, "19:00")
            assert not await waits(conn, other, day, at)

    async def test_across_midnight_the_next_day_waits(
        self, conn: asyncpg.Connection, other: asyncpg.Connection
    ) -> None:
        # 23:00 to 01:00 overlaps the next day's 00:30, not its 01:00.
        async with conn.transaction():
            await claim(conn, DAY, "23:00")
            assert await waits(conn, other, DAY + timedelta(days=1), "00:30")
            assert not await waits(conn, other, DAY + timedelta(days=1), "01:00")


class TestOverlappingTimesRace:
    async def test_parallel_creates_at_overlapping_times_never_overbook(
        self,
        settings: Settings,
        database_url: str,
        clock: FakeClock,
        key: dict[str, str],
        conn: asyncpg.Connection,
    ) -> None:
        # 60 parties of four at five overlapping times of one Friday evening, all at once,
        # for 50 covers: each time's claim overlaps its neighbours' but not all of them.
        friday = date(2026, 11, 27)
        times = ["18:00", "18:30", "19:00", "19:30", "20:00"]
        database = await PostgresDatabase.connect(database_url, max_size=20)
        app = create_app(settings, database=database, clock=clock)
        try:
            async with asgi_client(app) as client:
                responses = await asyncio.gather(
                    *(
                        client.post(
                            "/api/table-bookings",
                            json=regular_body(
                                friday.isoformat(), times[i % 5], 4, phone=f"07911 16{i:04d}"
                            ),
                            headers=key,
                        )
                        for i in range(60)
                    )
                )
        finally:
            await database.close()
        outcomes = Counter(
            r.status_code if r.status_code < 300 else envelope_error(r)["code"] for r in responses
        )
        assert set(outcomes) <= {201, "NO_AVAILABILITY"}, outcomes
        assert outcomes["NO_AVAILABILITY"] > 0
        assert await conn.fetchval(LIVE_COVERS_PEAK, friday) <= 50
        # Every booking was checked against the bookings that overlap it when it was made, so
        # at each start time the bookings running then hold at most 50 covers.
        assert outcomes[201] == await conn.fetchval(
            "select count(*) from table_bookings where booking_date = $1::date", friday
        )
