"""The capacity locks of a booking's transaction (``tb_claim_covers``): its service day and the
days either side, whose bookings can overlap it across midnight, held until the commit. Two
bookings whose days share a lock are decided one after the other, so neither sees stale covers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import asyncpg
import pytest

DAY = date(2026, 12, 2)
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)

CLAIM_SQL = """
select public.tb_claim_covers($1::date[], $2::date, time '19:00',
                              ($2::date + time '19:00') at time zone 'Europe/London', 120,
                              'regular', 2, $3::timestamptz)
"""

#: The advisory lock keys a backend holds, as (high, low) 32-bit halves.
HELD_SQL = """
select classid::bigint as high, objid::bigint as low from pg_locks
where locktype = 'advisory' and objsubid = 1 and pid = $1 and granted
"""

#: The keys the capacity locks of these days use.
KEYS_SQL = """
select (h >> 32) & 4294967295 as high, h & 4294967295 as low
from (select hashtextextended('table_bookings:' || d::text, 0) as h
      from unnest($1::date[]) d) k
"""


@pytest.fixture
async def other(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(database_url)
    try:
        yield connection
    finally:
        await connection.close()


async def keys(conn: asyncpg.Connection, days: list[date]) -> set[tuple[int, int]]:
    return {(r["high"], r["low"]) for r in await conn.fetch(KEYS_SQL, days)}


async def held(conn: asyncpg.Connection, pid: int) -> set[tuple[int, int]]:
    return {(r["high"], r["low"]) for r in await conn.fetch(HELD_SQL, pid)}


def around(day: date) -> list[date]:
    return [day + timedelta(days=i) for i in (-1, 0, 1)]


class TestLocksHeld:
    async def test_a_day_and_its_neighbours(
        self, conn: asyncpg.Connection, other: asyncpg.Connection
    ) -> None:
        async with conn.transaction():
            await conn.execute(CLAIM_SQL, [DAY], DAY, NOW)
            assert await held(other, conn.get_server_pid()) == await keys(other, around(DAY))
        assert await held(other, conn.get_server_pid()) == set()

    async def test_a_change_of_day_holds_both_days_and_their_neighbours(
        self, conn: asyncpg.Connection, other: asyncpg.Connection
    ) -> None:
        moved_to = DAY + timedelta(days=5)
        async with conn.transaction():
            await conn.execute(CLAIM_SQL, [DAY, moved_to], moved_to, NOW)
            expected = await keys(other, around(DAY) + around(moved_to))
            assert len(expected) == 6
            assert await held(other, conn.get_server_pid()) == expected


class TestNeighboursWait:
    @pytest.mark.parametrize("offset", [-2, -1, 1, 2])
    async def test_a_booking_two_days_either_side_waits(
        self, conn: asyncpg.Connection, other: asyncpg.Connection, offset: int
    ) -> None:
        async with conn.transaction():
            await conn.execute(CLAIM_SQL, [DAY], DAY, NOW)
            neighbour = DAY + timedelta(days=offset)
            async with other.transaction():
                await other.execute("set local lock_timeout = '200ms'")
                with pytest.raises(asyncpg.LockNotAvailableError):
                    await other.execute(CLAIM_SQL, [neighbour], neighbour, NOW)

    @pytest.mark.parametrize("offset", [-3, 3])
    async def test_a_booking_three_days_away_does_not(
        self, conn: asyncpg.Connection, other: asyncpg.Connection, offset: int
    ) -> None:
        async with conn.transaction():
            await conn.execute(CLAIM_SQL, [DAY], DAY, NOW)
            far = DAY + timedelta(days=offset)
            async with other.transaction():
                await other.execute("set local lock_timeout = '200ms'")
                await other.execute(CLAIM_SQL, [far], far, NOW)
