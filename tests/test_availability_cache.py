"""Availability answers reused while their stamp holds (tb_availability_stamp, AnswerCache).

A reused answer must be the answer the engine would give: after every kind of write the engine
reads (a booking through the pub's own tables, a cancellation, a table, a hold, the hours, a
setting, a policy) and every passing of time it judges (a new minute, an unpaid hold lapsing),
the answer through the API equals tb_availability_json computed afresh at the same instant; and
the stamp reads every table the answer reads, on a fresh database and on the pub's.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import FakeClock, create_booking, regular_body
from tests.pub_floor import add_live_join_links, seat_bookings
from tests.test_availability import availability
from tests.test_engine_api import build_floor

URL = "/api/table-bookings/availability"
FRIDAY = "2026-11-27"
MONDAY = "2026-11-30"
BOTH = pytest.mark.parametrize("database_kind", ["fresh", "pub"], indirect=True)


async def _engine(
    conn: asyncpg.Connection, now: datetime, day: str, party: int, options: str = "{}"
) -> dict[str, Any]:
    text = await conn.fetchval(
        "select tb_availability_json($1::date, $2, 'regular', $3, $4::jsonb)::text",
        datetime.fromisoformat(day).date(),
        party,
        now,
        options,
    )
    answer: dict[str, Any] = json.loads(text)
    return answer


@pytest.fixture
async def seated(conn: asyncpg.Connection, database_kind: str) -> None:
    """The pub's floor as live: on a fresh database the pub's tables, on the pub's its own,
    with the join links either way."""
    if database_kind == "fresh":
        await build_floor(conn)
    else:
        await add_live_join_links(conn)


@BOTH
async def test_an_unchanged_answer_is_sent_again_without_the_engine(
    app: FastAPI, client: httpx.AsyncClient, key: dict[str, str], seated: None
) -> None:
    answers = app.state.availability_answers
    first = await availability(client, key, FRIDAY, 4)
    second = await availability(client, key, FRIDAY, 4)
    assert second == first
    assert (answers.computed, answers.reused) == (1, 1)
    # Another party size is another answer.
    await availability(client, key, FRIDAY, 2)
    assert (answers.computed, answers.reused) == (2, 1)


@BOTH
async def test_every_write_the_engine_reads_gives_the_engines_new_answer(
    app: FastAPI,
    client: httpx.AsyncClient,
    conn: asyncpg.Connection,
    key: dict[str, str],
    clock: FakeClock,
    seated: None,
) -> None:
    """Each write below changes Friday's answer for 4 (the test checks that it does); the answer
    served after it is the engine's, never the one kept from before."""
    answers = app.state.availability_answers
    served = await availability(client, key, FRIDAY, 4)
    assert served == await _engine(conn, clock.now, FRIDAY, 4)

    async def after(write: str, *args: Any) -> None:
        nonlocal served
        await conn.execute(write, *args)
        before_computed = answers.computed
        now_served = await availability(client, key, FRIDAY, 4)
        assert now_served == await _engine(conn, clock.now, FRIDAY, 4), write
        assert now_served != served, f"the write did not change the answer: {write}"
        assert answers.computed == before_computed + 1, write
        served = now_served
        # And unchanged again, it is reused.
        reused = answers.reused
        assert await availability(client, key, FRIDAY, 4) == served
        assert answers.reused == reused + 1

    # A booking made through our API (tables, assignment, pacing).
    booking = await create_booking(client, key, regular_body(FRIDAY, "19:00", 4))
    assert answers.computed >= 1
    served_after_create = await availability(client, key, FRIDAY, 4)
    assert served_after_create == await _engine(conn, clock.now, FRIDAY, 4)
    assert served_after_create != served
    served = served_after_create
    # Cancelled behind our back, as the pub's app would.
    await after(
        "update table_bookings set status = 'cancelled', cancelled_at = now() where id = $1",
        booking["booking_id"],
    )
    # A table taken out of use.
    await after(
        "update tables set is_bookable = false where id = (select id from tables"
        " where is_bookable order by capacity desc, name limit 1)"
    )
    # A maintenance hold on another table.
    await after(
        """insert into table_holds (scope, table_id, hold_type, status, starts_on, note)
           select 'table', id, 'maintenance', 'active', '2026-11-01', 'Broken leg'
           from tables where is_bookable order by capacity desc, name limit 1"""
    )
    # The policy: online parties of at most 3.
    await after("update booking_policies set max_party_size = 3 where booking_type = 'regular'")
    await after("update booking_policies set max_party_size = 20 where booking_type = 'regular'")
    # The hours of the day: a special closing.
    await after(
        """insert into special_hours (date, is_closed, is_kitchen_closed, note)
           values ($1::date, true, true, 'Private party')""",
        datetime.fromisoformat(FRIDAY).date(),
    )
    await after(
        "delete from special_hours where date = $1::date", datetime.fromisoformat(FRIDAY).date()
    )
    # A setting the rules read: slots every 30 minutes instead of 15.
    await after(
        "insert into system_settings (key, value) values"
        " ('table_booking_slot_interval_minutes', '{\"value\": 30}'::jsonb)"
        " on conflict (key) do update set value = excluded.value"
    )


@BOTH
async def test_time_is_judged_afresh_each_minute_and_when_a_hold_lapses(
    app: FastAPI,
    client: httpx.AsyncClient,
    conn: asyncpg.Connection,
    key: dict[str, str],
    clock: FakeClock,
    seated: None,
) -> None:
    answers = app.state.availability_answers
    # Friday's answer for a large party, with every big table held by unpaid bookings whose
    # holds lapse at 10:00:30 (mid-minute).
    clock.set(datetime(2026, 11, 24, 10, 0, 5, tzinfo=UTC))
    lapse = datetime(2026, 11, 24, 10, 0, 30, tzinfo=UTC)
    first = await availability(client, key, FRIDAY, 4)
    await seat_bookings(conn, datetime(2026, 11, 27, 19, 0, tzinfo=UTC), hold_until=lapse)
    held = await availability(client, key, FRIDAY, 4)
    assert held == await _engine(conn, clock.now, FRIDAY, 4)
    assert held != first
    at_seven = {s["time"]: s for s in held["time_slots"]}["19:00"]
    assert at_seven["available"] is False
    # The same minute, after the holds lapsed: the tables are free again at once.
    clock.set(datetime(2026, 11, 24, 10, 0, 40, tzinfo=UTC))
    computed = answers.computed
    lapsed = await availability(client, key, FRIDAY, 4)
    assert answers.computed == computed + 1
    assert lapsed == await _engine(conn, clock.now, FRIDAY, 4)
    assert {s["time"]: s for s in lapsed["time_slots"]}["19:00"]["available"] is True
    # Unchanged within the minute: reused; a new minute: computed again.
    reused = answers.reused
    assert await availability(client, key, FRIDAY, 4) == lapsed
    assert answers.reused == reused + 1
    clock.set(datetime(2026, 11, 24, 10, 1, 0, tzinfo=UTC))
    computed = answers.computed
    assert await availability(client, key, FRIDAY, 4) == await _engine(conn, clock.now, FRIDAY, 4)
    assert answers.computed == computed + 1


@BOTH
async def test_a_day_without_times_stamps_the_days_its_alternatives_came_from(
    app: FastAPI,
    client: httpx.AsyncClient,
    conn: asyncpg.Connection,
    key: dict[str, str],
    clock: FakeClock,
    seated: None,
) -> None:
    """Monday's kitchen is closed: its answer offers Tuesday's first times, so a booking on
    Tuesday changes Monday's answer, and the answer served is the engine's."""
    answers = app.state.availability_answers
    monday = await availability(client, key, MONDAY, 2)
    assert monday["available"] is False and monday["alternatives"]
    first = monday["alternatives"][0]
    # The first alternative's tables all taken: every table busy then.
    start = await conn.fetchval(
        "select ($1::date + $2::time) at time zone 'Europe/London'",
        datetime.fromisoformat(first["date"]).date(),
        time.fromisoformat(first["time"]),
    )
    await seat_bookings(conn, start)
    computed = answers.computed
    again = await availability(client, key, MONDAY, 2)
    assert answers.computed == computed + 1
    assert again == await _engine(conn, clock.now, MONDAY, 2)
    assert again["alternatives"] != monday["alternatives"]


CASES = [
    # (date, party, options): a day with times, a closed day (alternatives), each option.
    (FRIDAY, 4, "{}"),
    (FRIDAY, 8, "{}"),
    (MONDAY, 2, "{}"),
    (FRIDAY, 4, '{"outside": true}'),
    (FRIDAY, 2, '{"high_chairs": 1, "accessible": true}'),
    (FRIDAY, 4, '{"purpose": "drinks"}'),
]


#: Tables the stamp reads only through the rows of another that refer to them.
THROUGH = {"public.bookings": "public.event_communal_seat_allocations"}


async def _tables_read(conn: asyncpg.Connection, sql: str, *args: Any) -> set[str]:
    """The tables a statement scans, from this transaction's own statistics (what earlier
    transactions counted is flushed first: a backend keeps its counts up to a second)."""
    await conn.execute("select pg_stat_force_next_flush()")
    async with conn.transaction():
        await conn.execute(sql, *args)
        rows = await conn.fetch(
            "select schemaname || '.' || relname as name from pg_stat_xact_user_tables"
            " where coalesce(seq_scan, 0) + coalesce(idx_scan, 0) > 0"
        )
    return {r["name"] for r in rows}


@BOTH
@pytest.mark.parametrize("with_floor", [True, False], ids=["tables", "covers"])
async def test_the_stamp_reads_every_table_the_answer_reads(
    conn: asyncpg.Connection,
    database_kind: str,
    with_floor: bool,
) -> None:
    if with_floor:
        if database_kind == "fresh":
            await build_floor(conn)
        else:
            await add_live_join_links(conn)
    else:
        await conn.execute("update tables set is_bookable = false")
    now = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    sunday = ("2026-11-29", 2, "sunday_lunch", "{}")
    for day, party, booking_type, options in [(d, p, "regular", o) for d, p, o in CASES] + [sunday]:
        answer_sql = (
            "select a.searched from tb_availability_answer($1::date, $2, $3::table_booking_type,"
            " $4, $5::jsonb) a"
        )
        args = (datetime.fromisoformat(day).date(), party, booking_type, now, options)
        read = await _tables_read(conn, answer_sql, *args)
        searched = await conn.fetchval(answer_sql, *args)
        the_day = datetime.fromisoformat(day).date()
        stamped = await _tables_read(
            conn,
            "select tb_availability_stamp($1::date, $2::date, $3)",
            the_day - timedelta(days=searched),
            the_day + timedelta(days=searched),
            now,
        )
        assert read, (day, party, options)
        # The pub's event bookings matter only through the seat allocations meeting these
        # days, and the stamp reads them through those rows (none here: so not scanned).
        reached = {t for t, through in THROUGH.items() if through in stamped}
        assert read <= stamped | reached, (day, party, booking_type, options, read - stamped)


@BOTH
async def test_a_stamp_changes_with_each_table_it_reads_and_not_with_others(
    conn: asyncpg.Connection, seated: None
) -> None:
    now = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    friday = datetime.fromisoformat(FRIDAY).date()

    async def stamp() -> str:
        value: str = await conn.fetchval(
            "select tb_availability_stamp($1::date, $1::date, $2)", friday, now
        )
        return value

    first = await stamp()
    assert first.startswith(f"v1:{FRIDAY}:{FRIDAY}:")
    assert await stamp() == first
    # A customer, an audit entry: nothing the rules read.
    await conn.execute(
        "insert into customers (first_name, last_name, mobile_number)"
        " values ('Not', 'Read', '+447700900998')"
    )
    assert await stamp() == first
    # A booking three weeks on is not one of these days'.
    customer = await conn.fetchval("select id from customers limit 1")
    await conn.execute(
        """insert into table_bookings (booking_reference, customer_id, booking_date, booking_time,
             party_size, committed_party_size, booking_type, status)
           values ('TB-FAR001', $1, '2026-12-18', '19:00', 2, 2, 'regular', 'confirmed')""",
        customer,
    )
    assert await stamp() == first
    # One on the day before is.
    await conn.execute(
        """insert into table_bookings (booking_reference, customer_id, booking_date, booking_time,
             party_size, committed_party_size, booking_type, status)
           values ('TB-NEAR01', $1, '2026-11-26', '19:00', 2, 2, 'regular', 'confirmed')""",
        customer,
    )
    second = await stamp()
    assert second != first
    # A deleted row is noticed too.
    await conn.execute("delete from table_bookings where booking_reference = 'TB-NEAR01'")
    assert await stamp() not in (second,)
    # Another minute is another stamp.
    later: str = await conn.fetchval(
        "select tb_availability_stamp($1::date, $1::date, $2)", friday, now + timedelta(minutes=1)
    )
    assert later.split(":")[3] != first.split(":")[3]


@BOTH
async def test_a_rule_that_turns_just_after_a_whole_minute_is_judged_afresh(
    app: FastAPI,
    client: httpx.AsyncClient,
    conn: asyncpg.Connection,
    key: dict[str, str],
    clock: FakeClock,
    seated: None,
) -> None:
    """Minimum notice turns strictly after its instant (too soon once now is past start - notice),
    a slot's start inclusively (past from its start on): the answer at a minute's first instant is
    not sent again a moment later in the same minute."""
    await conn.execute(
        "update booking_policies set min_advance_hours = 2 where booking_type = 'regular'"
    )
    # Friday's first time that can be booked (London is on GMT: its wall clock is UTC's).
    first = next(
        s["time"]
        for s in (await availability(client, key, FRIDAY, 2))["time_slots"]
        if s["available"]
    )
    start = datetime.combine(
        datetime.fromisoformat(FRIDAY).date(), time.fromisoformat(first), tzinfo=UTC
    )
    # Exactly two hours' notice: still bookable.
    clock.set(start - timedelta(hours=2))
    at_the_instant = await availability(client, key, FRIDAY, 2)
    assert at_the_instant == await _engine(conn, clock.now, FRIDAY, 2)
    assert {s["time"]: s for s in at_the_instant["time_slots"]}[first]["available"] is True
    clock.set(start - timedelta(hours=2) + timedelta(microseconds=500_000))
    a_moment_later = await availability(client, key, FRIDAY, 2)
    assert a_moment_later == await _engine(conn, clock.now, FRIDAY, 2)
    assert {s["time"]: s for s in a_moment_later["time_slots"]}[first]["reason"] == "TOO_SOON"
    # Later in the same minute the answer holds still, and is reused.
    answers = app.state.availability_answers
    reused = answers.reused
    clock.set(start - timedelta(hours=2) + timedelta(seconds=40))
    assert await availability(client, key, FRIDAY, 2) == a_moment_later
    assert answers.reused == reused + 1
