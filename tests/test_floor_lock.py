"""A create on the floor is decided under the pub's venue lock, on the floor as the lock finds
it: a table taken while the create waited for the lock is not given to it, and a floor filled
meanwhile refuses it, writing nothing.

Here the lock is held by another connection (as the pub's engine would hold it) while a create
waits for it, and the floor is changed before the lock is let go.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx

from tests.conftest import envelope_error, regular_body
from tests.pub_floor import seat_bookings
from tests.test_engine_api import build_floor

FRIDAY = "2026-11-27"
START = datetime(2026, 11, 27, 19, 0, tzinfo=UTC)  # 19:00 in London (GMT)
LOCK_SQL = "select pg_advisory_xact_lock(hashtext('table_alloc'))"
WAITING_SQL = """
select count(*) from pg_locks l join pg_stat_activity a on a.pid = l.pid
where l.locktype = 'advisory' and not l.granted and a.datname = current_database()
"""


async def _create_while_the_lock_is_held(
    client: httpx.AsyncClient,
    key: dict[str, str],
    other: asyncpg.Connection,
    change: Any,
    phone: str,
) -> httpx.Response:
    """Hold the venue lock on ``other``, send a create, wait until it waits for the lock, make
    ``change`` on ``other`` and commit (letting the lock go), and return the create's answer."""
    transaction = other.transaction()
    await transaction.start()
    try:
        await other.execute(LOCK_SQL)
        task = asyncio.create_task(
            client.post(
                "/api/table-bookings",
                json=regular_body(FRIDAY, "19:00", 4, phone=phone),
                headers=key,
            )
        )
        for _ in range(500):
            if task.done() or await other.fetchval(WAITING_SQL):
                break
            await asyncio.sleep(0.01)
        assert not task.done(), (await task).text
        await change()
    except BaseException:
        await transaction.rollback()
        raise
    await transaction.commit()
    return await asyncio.wait_for(task, 30)


async def _overlaps(conn: asyncpg.Connection) -> int:
    count: int = await conn.fetchval(
        """select count(*) from booking_table_assignments a
           join booking_table_assignments b on b.table_id = a.table_id and b.id < a.id
            and b.start_datetime < a.end_datetime and b.end_datetime > a.start_datetime
           join table_bookings x on x.id = a.table_booking_id
           join table_bookings y on y.id = b.table_booking_id
           where x.status not in ('cancelled', 'no_show')
             and y.status not in ('cancelled', 'no_show')"""
    )
    return count


async def test_a_table_taken_while_the_create_waits_is_not_given_twice(
    client: httpx.AsyncClient,
    conn: asyncpg.Connection,
    other: asyncpg.Connection,
    key: dict[str, str],
) -> None:
    ids = await build_floor(conn)
    # What the engine gives a party of 4 at 19:00 on the floor as it is: Dining Room 4a.
    first = await conn.fetchval(
        "select table_names from tb_choose_tables($1, $2, 4, 'food', 'online', 0, false,"
        " '{}'::jsonb, $3)",
        START,
        START + timedelta(hours=2),
        datetime(2026, 11, 24, 10, 0, tzinfo=UTC),
    )
    assert first == "Dining Room 4a"

    async def change() -> None:
        await seat_bookings(other, START, [ids["Dining Room 4a"]])

    response = await _create_while_the_lock_is_held(client, key, other, change, "07700 900111")
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    # The engine's next choice once 4a is taken, as the chooser itself says now.
    now_best = await conn.fetchval(
        "select table_names from tb_choose_tables($1, $2, 4, 'food', 'online', 0, false,"
        " '{}'::jsonb, $3, $4::uuid)",
        START,
        START + timedelta(hours=2),
        datetime(2026, 11, 24, 10, 0, tzinfo=UTC),
        data["booking_id"],
    )
    assert data["table_name"] == now_best == "Dining Room 4b"
    assert await _overlaps(conn) == 0


async def test_a_floor_filled_while_the_create_waits_refuses_it_and_writes_nothing(
    client: httpx.AsyncClient,
    conn: asyncpg.Connection,
    other: asyncpg.Connection,
    key: dict[str, str],
) -> None:
    ids = await build_floor(conn)
    bookable = [
        r["id"] for r in await conn.fetch("select id from tables where is_bookable order by name")
    ]
    assert len(bookable) == len(ids) - 2  # two are not bookable

    async def change() -> None:
        await seat_bookings(other, START, bookable)

    before = await conn.fetchval("select count(*) from table_bookings")
    jobs_before = await conn.fetchval("select count(*) from jobs")
    response = await _create_while_the_lock_is_held(client, key, other, change, "07700 900222")
    assert response.status_code == 409, response.text
    error = envelope_error(response)
    assert error["code"] == "NO_AVAILABILITY"
    # Nothing of the refused booking stays: only the pub's bookings were added.
    assert await conn.fetchval("select count(*) from table_bookings") == before + len(bookable)
    assert await conn.fetchval("select count(*) from jobs") == jobs_before
    assert (
        await conn.fetchval(
            "select count(*) from table_bookings b join customers c on c.id = b.customer_id"
            " where c.mobile_e164 = '+447700900222'"
        )
        == 0
    )
    assert await _overlaps(conn) == 0
