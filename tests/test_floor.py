"""The floor (supabase/migrations/20261124000410_floor.sql): our table allocator against the pub's.

On the pub's own database (tests/fixtures/pub-database) with the spec's scratch setup
(pub-engine-2026.md, "Scratch setup"): table_allocation_v06_enabled true and the 11 live join
links (every pair of the five Dining Room tables, and Low 4a-Low 4b). The fixture's tables and
its two standing walk-in holds (Low 4a, High 4) are the live floor of 1.1.

- Every worked example of 1.4, 2.2, 2.3, 4.2, 10.1, 10.2, 10.3 and 10.4, asserted against our
  functions (the state they need is made with the pub's own create RPCs).
- An oracle: a seeded random sequence of bookings and cancellations where, at every step, our
  chooser, outside pool and high chairs give what the pub's create_table_booking_*_v06 then does.
- The same functions on a fresh database, on a small floor of its stand-in tables.

The pub's RPCs decide by the database clock (now()); ours are given that clock (p_now) unless an
example is about another one. Bookings are on Fri 2026-12-11 and Sun 2026-12-13, more than 24 h
after the machine's date (2026-12-03), so walk-in holds and minimums bite online.
"""

from __future__ import annotations

import json
import os
import random
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from tests.pub_floor import add_live_join_links, set_setting

PUB = pytest.mark.parametrize("database_kind", ["pub"], indirect=True)
LONDON = ZoneInfo("Europe/London")
FRIDAY = date(2026, 12, 11)
SUNDAY = date(2026, 12, 13)


def at(day: date, clock: str) -> datetime:
    return datetime.combine(day, time.fromisoformat(clock), LONDON)


async def scratch_setup(conn: asyncpg.Connection) -> None:
    """The spec's scratch setup, and only seating deciding (no pacing, a high drinks ceiling)."""
    assert await conn.fetchval("select count(*) from table_join_links") == 0
    await conn.execute(
        """
        update system_settings set value = '{"value": true}'
         where key = 'table_allocation_v06_enabled';
        update system_settings set value = '{"value": false}' where key = 'kitchen_pacing_enabled';
        update system_settings set value = '{"value": 10000}' where key = 'drinks_arrivals_ceiling';
        """
    )
    await add_live_join_links(conn)
    # The fixture's floor is the live floor of 1.1.
    floor = await conn.fetch(
        "select name, capacity, priority, bar_priority, min_party_size, is_bookable, step_free,"
        " standard_height, high_chair_capable from tables order by table_number::int"
    )
    assert [tuple(r) for r in floor] == [
        ("Electric Cupbard", 4, 999, 999, 1, False, True, True, True),
        ("Big Bay", 6, 70, 50, 4, True, True, True, True),
        ("Small Bay", 5, 60, 40, 1, True, False, True, True),
        ("Low 4a", 4, 80, 10, 1, True, True, True, True),
        ("Low 4b", 4, 90, 20, 1, True, True, True, True),
        ("High 4", 4, 100, 30, 1, True, True, False, False),
        ("High 2", 4, 999, 999, 1, False, True, True, True),
        ("Dining Room 4a", 4, 10, 60, 1, True, True, True, True),
        ("Dining Room 4b", 4, 20, 70, 1, True, True, True, True),
        ("Dining Room 6a", 6, 30, 80, 4, True, True, True, True),
        ("Dining Room 6b", 6, 40, 90, 4, True, True, True, True),
        ("Dining Room 6c", 6, 50, 100, 4, True, True, True, True),
    ]


async def db_now(conn: asyncpg.Connection) -> datetime:
    now: datetime = await conn.fetchval("select clock_timestamp()")
    return now


async def window(
    conn: asyncpg.Connection, start: datetime, party: int, purpose: str
) -> tuple[datetime, datetime, datetime]:
    """(start, guest end, table end) as the pub's create computes them (tb_booking_minutes)."""
    row = await conn.fetchrow(
        "select guest_minutes, turnaround_minutes from tb_booking_minutes($1, $2, $3)",
        purpose,
        party,
        start.astimezone(LONDON).date(),
    )
    assert row is not None
    guest_end = start + timedelta(minutes=row["guest_minutes"])
    return start, guest_end, guest_end + timedelta(minutes=row["turnaround_minutes"])


async def choose(
    conn: asyncpg.Connection,
    start: datetime,
    party: int,
    purpose: str = "food",
    channel: str = "online",
    *,
    chairs: int = 0,
    accessible: bool = False,
    overrides: dict[str, bool] | None = None,
    now: datetime | None = None,
    end: datetime | None = None,
) -> asyncpg.Record:
    if end is None:
        _, _, end = await window(conn, start, party, purpose)
    row = await conn.fetchrow(
        "select * from tb_choose_tables($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9)",
        start,
        end,
        party,
        purpose,
        channel,
        chairs,
        accessible,
        None if overrides is None else json.dumps(overrides),
        now or await db_now(conn),
    )
    assert row is not None
    return row


async def names(
    conn: asyncpg.Connection, start: datetime, party: int, *args: Any, **kw: Any
) -> str:
    """What our chooser gives, as the pub's table_name ('no_table' when nothing fits)."""
    row = await choose(conn, start, party, *args, **kw)
    if row["table_ids"] is None:
        assert row["reason"] == "no_table"
        return "no_table"
    assert row["tables_joined"] == (len(row["table_ids"]) > 1)
    return str(row["table_names"])


async def a_customer(conn: asyncpg.Connection) -> Any:
    return await conn.fetchval(
        "insert into customers (first_name, last_name, mobile_number, mobile_e164, sms_opt_in,"
        " sms_status) values ('Pat', 'Example', '+447700900123', '+447700900123', true, 'active')"
        " returning id"
    )


async def pub_book(
    conn: asyncpg.Connection,
    customer: Any,
    start: datetime,
    party: int,
    purpose: str = "food",
    channel: str = "online",
    *,
    chairs: int = 0,
    outside: bool = False,
    accessible: bool = False,
    overrides: dict[str, bool] | None = None,
) -> dict[str, Any]:
    """A booking through the pub's own v06 create (public for online, staff otherwise)."""
    local = start.astimezone(LONDON)
    common = (customer, local.date(), local.time(), party, purpose)
    if channel == "online":
        raw = await conn.fetchval(
            "select create_table_booking_public_v06(p_customer_id => $1, p_booking_date => $2,"
            " p_booking_time => $3, p_party_size => $4, p_booking_purpose => $5,"
            " p_high_chair_count => $6, p_outside_seating => $7,"
            " p_requires_accessible_table => $8)",
            *common,
            chairs,
            outside,
            accessible,
        )
    else:
        o = overrides or {}
        composite = None
        if overrides is not None:
            composite = "({})".format(
                ",".join(
                    "t" if o.get(k) else "f"
                    for k in (
                        "ignore_minimum",
                        "ignore_hold",
                        "allow_unjoined",
                        "ignore_accessibility",
                    )
                )
            )
        raw = await conn.fetchval(
            "select create_table_booking_staff_v06(p_customer_id => $1, p_booking_date => $2,"
            " p_booking_time => $3, p_party_size => $4, p_booking_purpose => $5,"
            " p_high_chair_count => $6, p_outside_seating => $7,"
            " p_requires_accessible_table => $8, p_channel => $9,"
            " p_overrides => $10::text::table_allocation_overrides)",
            *common,
            chairs,
            outside,
            accessible,
            channel,
            composite,
        )
    result: dict[str, Any] = json.loads(raw)
    return result


async def name_of(conn: asyncpg.Connection, table: str) -> Any:
    return await conn.fetchval("select id from tables where name = $1", table)


# Worked examples ----------------------------------------------------------------------


@PUB
async def test_best_fit_on_the_empty_floor(conn: asyncpg.Connection) -> None:
    """1.4, empty floor, Fri 2026-12-11 19:00."""
    await scratch_setup(conn)
    s = at(FRIDAY, "19:00")
    expected = {
        1: "Dining Room 4a",
        4: "Dining Room 4a",
        5: "Small Bay",
        6: "Dining Room 6a",
        7: "Dining Room 4a + Dining Room 4b",
        8: "Dining Room 4a + Dining Room 4b",
        9: "Dining Room 4a + Dining Room 6a",
        10: "Dining Room 4a + Dining Room 6a",
        11: "Dining Room 6a + Dining Room 6b",
        12: "Dining Room 6a + Dining Room 6b",
        13: "Dining Room 4a + Dining Room 4b + Dining Room 6a",
        14: "Dining Room 4a + Dining Room 4b + Dining Room 6a",
        15: "Dining Room 4a + Dining Room 6a + Dining Room 6b",
        16: "Dining Room 4a + Dining Room 6a + Dining Room 6b",
        19: "Dining Room 4a + Dining Room 4b + Dining Room 6a + Dining Room 6b",
        20: "Dining Room 4a + Dining Room 4b + Dining Room 6a + Dining Room 6b",
    }
    for party, want in expected.items():
        assert await names(conn, s, party) == want, party
    # 9 or 10: 4a+6a and 4b+6a tie on worst priority 30; the sorted uuid array decides, and the
    # returned ids are that sorted array (the pub's table_id is its first uuid).
    row = await choose(conn, s, 9)
    ids = [await name_of(conn, "Dining Room 4a"), await name_of(conn, "Dining Room 6a")]
    assert list(row["table_ids"]) == sorted(ids)
    assert await names(conn, s, 2, "drinks") == "Low 4b"
    assert await names(conn, s, 4, "drinks") == "Low 4b"
    assert await names(conn, s, 6, "drinks") == "Big Bay"
    assert await names(conn, s, 7, "drinks") == "Low 4a + Low 4b"
    assert await names(conn, s, 8, "drinks") == "Low 4a + Low 4b"
    assert await names(conn, s, 2, "drinks", "staff") == "Low 4a"
    assert (
        await names(conn, s, 21, "food", "staff")
        == "Dining Room 4a + Dining Room 6a + Dining Room 6b + Dining Room 6c"
    )
    assert await names(conn, s, 26, "food", "staff") == (
        "Dining Room 4a + Dining Room 4b + Dining Room 6a + Dining Room 6b + Dining Room 6c"
    )
    assert await names(conn, s, 27, "food", "staff") == "no_table"
    assert await names(conn, s, 30, "food", "staff", overrides={"allow_unjoined": True}) == (
        "Big Bay + Low 4a + Dining Room 4a + Dining Room 4b + Dining Room 6a + Dining Room 6b"
    )
    # The pub's own picker agrees on every one of these (rank 1).
    for party in (*expected, 21, 26, 27):
        channel = "staff" if party > 20 else "online"
        _, _, end = await window(conn, s, party, "food")
        theirs = await conn.fetchval(
            "select table_ids from find_table_allocation_candidates($1, $2, $3, 'food', 0, false,"
            " null, $4, null, null, now()) where rank = 1",
            s,
            end,
            party,
            channel,
        )
        ours = (await choose(conn, s, party, channel=channel))["table_ids"]
        assert (None if theirs is None else list(theirs)) == (
            None if ours is None else list(ours)
        ), party


@PUB
async def test_cumulative_parties_of_two(conn: asyncpg.Connection) -> None:
    """1.4 cumulative: online twos at Fri 19:00, then inside 24 h or on the staff channel."""
    await scratch_setup(conn)
    customer = await a_customer(conn)
    s = at(FRIDAY, "19:00")
    online = [
        "Dining Room 4a",
        "Dining Room 4b",
        "Low 4b",
        "Small Bay",
        "Dining Room 6a + Dining Room 6b",
        "no_table",
    ]
    for want in online:
        assert await names(conn, s, 2) == want
        result = await pub_book(conn, customer, s, 2)
        assert result.get("table_name", result.get("reason")) == want
    # The same floor, seen inside 24 h of the sitting (walk-in holds and minimums released).
    inside = s - timedelta(hours=2)
    assert await names(conn, s, 2, now=inside) == "Low 4a"
    await conn.execute("update table_bookings set status = 'cancelled'")
    staff = [
        "Dining Room 4a",
        "Dining Room 4b",
        "Low 4a",
        "Low 4b",
        "High 4",
        "Small Bay",
        "Dining Room 6a",
        "Dining Room 6b",
        "Dining Room 6c",
        "Big Bay",
        "no_table",
    ]
    for want in staff:
        assert await names(conn, s, 2, now=inside) == want
        assert await names(conn, s, 2, "food", "staff") == want
        result = await pub_book(conn, customer, s, 2, channel="staff")
        assert result.get("table_name", result.get("reason")) == want
    # With the Dining Room full, online 7 gets Low 4a + Low 4b.
    await conn.execute("update table_bookings set status = 'cancelled'")
    for table in ("4a", "4b", "6a", "6b", "6c"):
        party = 4 if table.startswith("4") else 6
        result = await pub_book(conn, customer, s, party, channel="staff")
        assert result["table_name"] == "Dining Room " + table
    assert await names(conn, s, 7) == "Low 4a + Low 4b"


@PUB
async def test_durations_and_turnaround(conn: asyncpg.Connection) -> None:
    """2.1 to 2.3."""
    await scratch_setup(conn)

    async def minutes(purpose: str, party: int, day: date) -> tuple[int, int]:
        row = await conn.fetchrow(
            "select * from tb_booking_minutes($1, $2, $3)", purpose, party, day
        )
        assert row is not None
        return row["guest_minutes"], row["turnaround_minutes"]

    assert await minutes("food", 2, FRIDAY) == (120, 0)
    assert await minutes("food", 12, SUNDAY) == (120, 0)
    assert await minutes("drinks", 2, FRIDAY) == (90, 0)
    await set_setting(conn, "turn_times_enabled", True)
    assert await minutes("food", 2, FRIDAY) == (90, 15)
    assert await minutes("food", 4, FRIDAY) == (105, 15)
    assert await minutes("food", 6, FRIDAY) == (120, 15)
    assert await minutes("food", 12, FRIDAY) == (150, 15)
    assert await minutes("food", 2, SUNDAY) == (105, 15)
    assert await minutes("drinks", 8, SUNDAY) == (165, 15)
    await set_setting(conn, "turn_time_minutes_1_2", 10)
    assert await minutes("drinks", 1, FRIDAY) == (30, 15)  # floored at 30
    await set_setting(conn, "turn_time_minutes_1_2", 90)

    # 2.3: 17:00 party 4 on Dining Room 4a holds it to 19:00 (guest end 18:45).
    customer = await a_customer(conn)
    first = await pub_book(conn, customer, at(FRIDAY, "17:00"), 4, channel="staff")
    assert first["table_name"] == "Dining Room 4a"
    held = await conn.fetchrow(
        "select min(start_datetime) s, max(end_datetime) e from booking_table_assignments"
        " where table_booking_id = $1::uuid",
        first["table_booking_id"],
    )
    assert held is not None
    assert (held["s"], held["e"]) == (at(FRIDAY, "17:00"), at(FRIDAY, "19:00"))
    assert await names(conn, at(FRIDAY, "18:45"), 4, "food", "staff") == "Dining Room 4b"
    assert await names(conn, at(FRIDAY, "19:00"), 4, "food", "staff") == "Dining Room 4a"


@PUB
async def test_holds(conn: asyncpg.Connection) -> None:
    """4.2: maintenance everywhere, walk-in holds online only and until release."""
    await scratch_setup(conn)
    dr4a = await name_of(conn, "Dining Room 4a")
    await conn.execute(
        "insert into table_holds (table_id, hold_type, starts_on, ends_on, starts_at, ends_at)"
        " values ($1, 'maintenance', $2, $2, '18:00', '20:00')",
        dr4a,
        FRIDAY,
    )
    assert await names(conn, at(FRIDAY, "19:00"), 2) == "Dining Room 4b"
    assert await names(conn, at(FRIDAY, "19:00"), 2, "food", "staff") == "Dining Room 4b"
    assert await names(conn, at(FRIDAY, "20:00"), 2) == "Dining Room 4a"
    assert await names(conn, at(FRIDAY, "16:00"), 2) == "Dining Room 4a"  # 16:00-18:00 touches
    assert await names(conn, at(FRIDAY, "16:01"), 2) == "Dining Room 4b"
    # Maintenance also takes the table out of joins: 8 gets Low 4a + 4b, not Dining Room 4a + 4b.
    assert await names(conn, at(FRIDAY, "19:00"), 8) == "Low 4a + Low 4b"

    await conn.execute("delete from table_holds where table_id = $1", dr4a)
    await conn.execute(
        "insert into table_holds (table_id, hold_type, starts_on, day_of_week)"
        " values ($1, 'walk_in_hold', '2026-12-03', 5)",
        dr4a,
    )
    assert await names(conn, at(FRIDAY, "19:00"), 2) == "Dining Room 4b"
    assert await names(conn, at(FRIDAY, "19:00"), 2, "food", "staff") == "Dining Room 4a"
    assert await names(conn, at(FRIDAY, "19:00"), 2, "food", "walk-in") == "Dining Room 4a"
    assert await names(conn, at(date(2026, 12, 8), "19:00"), 2) == "Dining Room 4a"
    fri4 = at(date(2026, 12, 4), "19:00")
    assert await names(conn, fri4, 2, now=fri4 - timedelta(hours=34)) == "Dining Room 4b"
    assert await names(conn, fri4, 2, now=fri4 - timedelta(hours=23)) == "Dining Room 4a"
    assert (
        await names(conn, at(FRIDAY, "19:00"), 2, overrides={"ignore_hold": True})
        == "Dining Room 4a"
    )
    # A held table is still usable inside a join (7 online: Dining Room 4a + 4b).
    assert await names(conn, at(FRIDAY, "19:00"), 7) == "Dining Room 4a + Dining Room 4b"

    # Overnight maintenance 22:00-02:00 from Thu 12-10 on Low 4b.
    await conn.execute(
        "insert into table_holds (table_id, hold_type, starts_on, ends_on, starts_at, ends_at)"
        " values ($1, 'maintenance', '2026-12-10', '2026-12-10', '22:00', '02:00')",
        await name_of(conn, "Low 4b"),
    )
    one, two, three = at(FRIDAY, "01:00"), at(FRIDAY, "02:00"), at(FRIDAY, "03:00")
    assert await names(conn, one, 2, "drinks", end=two) == "Dining Room 4b"
    assert await names(conn, two, 2, "drinks", end=three) == "Low 4b"
    # A pending or cancelled maintenance hold is not enforced.
    await conn.execute("update table_holds set status = 'pending' where hold_type = 'maintenance'")
    assert await names(conn, one, 2, "drinks", end=two) == "Low 4b"


@PUB
async def test_outside_pool(conn: asyncpg.Connection) -> None:
    """10.1: x20 at 19:00 (3 tables) and x16 at 19:30 (2) fill the pool until 21:00."""
    await scratch_setup(conn)
    customer = await a_customer(conn)

    async def refusal(start: datetime, party: int) -> str | None:
        _, _, end = await window(conn, start, party, "food")
        value: str | None = await conn.fetchval(
            "select tb_outside_refusal($1, $2, $3, $4)", start, end, party, await db_now(conn)
        )
        return value

    assert await refusal(at(FRIDAY, "19:00"), 20) is None
    assert (await pub_book(conn, customer, at(FRIDAY, "19:00"), 20, outside=True))["state"]
    assert await refusal(at(FRIDAY, "19:30"), 16) is None
    assert (await pub_book(conn, customer, at(FRIDAY, "19:30"), 16, outside=True))["state"]
    assert await refusal(at(FRIDAY, "20:00"), 1) == "outside_full"
    assert (await pub_book(conn, customer, at(FRIDAY, "20:00"), 1, outside=True))[
        "reason"
    ] == "outside_full"
    assert await refusal(at(FRIDAY, "21:00"), 1) is None
    # A booking being changed does not count against itself.
    big = await conn.fetchval("select id from table_bookings where party_size = 20")
    assert (
        await conn.fetchval(
            "select tb_outside_refusal($1, $2, 1, $3, $4)",
            at(FRIDAY, "20:00"),
            at(FRIDAY, "22:00"),
            await db_now(conn),
            big,
        )
        is None
    )
    # An outside booking never takes an indoor table.
    assert await conn.fetchval("select count(*) from booking_table_assignments") == 0


@PUB
async def test_high_chairs(conn: asyncpg.Connection) -> None:
    """10.2: x4 with 2 chairs at 18:00; 1 asked at 19:30 gets 0, at 20:00 gets 1."""
    await scratch_setup(conn)
    customer = await a_customer(conn)

    async def free(start: datetime, party: int) -> int:
        _, _, end = await window(conn, start, party, "food")
        value: int = await conn.fetchval(
            "select tb_high_chairs_free($1, $2, $3)", start, end, await db_now(conn)
        )
        return value

    assert await free(at(FRIDAY, "18:00"), 4) == 2
    first = await pub_book(conn, customer, at(FRIDAY, "18:00"), 4, chairs=2)
    assert first["high_chairs_granted"] == 2
    assert await free(at(FRIDAY, "19:30"), 2) == 0
    second = await pub_book(conn, customer, at(FRIDAY, "19:30"), 2, chairs=1)
    assert (second["state"], second["high_chairs_granted"], second["high_chairs_short"]) == (
        "confirmed",
        0,
        1,
    )
    assert min(1, await free(at(FRIDAY, "20:00"), 2)) == 1
    assert (
        await conn.fetchval(
            "select tb_high_chairs_free($1, $2, $3, $4::uuid)",
            at(FRIDAY, "19:30"),
            at(FRIDAY, "21:30"),
            await db_now(conn),
            first["table_booking_id"],
        )
        == 2
    )
    # Any chair asked for excludes High 4 (not high-chair capable): at 20:30, with the other
    # four-tops taken (Dining Room 4b by the 19:30 booking), staff x2 goes to Small Bay instead.
    late = at(FRIDAY, "20:30")
    taken = [(await pub_book(conn, customer, late, 2, channel="staff"))["table_name"]]
    taken += [(await pub_book(conn, customer, late, 2, channel="staff"))["table_name"]]
    taken += [(await pub_book(conn, customer, late, 2, channel="staff"))["table_name"]]
    assert taken == ["Dining Room 4a", "Low 4a", "Low 4b"]
    assert await names(conn, late, 2, "food", "staff") == "High 4"
    assert await names(conn, late, 2, "food", "staff", chairs=1) == "Small Bay"


@PUB
async def test_accessible_tables(conn: asyncpg.Connection) -> None:
    """10.3."""
    await scratch_setup(conn)
    customer = await a_customer(conn)
    s = at(FRIDAY, "19:00")
    assert await names(conn, s, 5) == "Small Bay"
    assert await names(conn, s, 5, accessible=True) == "Dining Room 6a"
    for _ in range(4):
        await pub_book(conn, customer, s, 2, channel="staff")
    assert await names(conn, s, 2, "food", "staff", accessible=True) == "Dining Room 6a"
    assert (
        await names(
            conn, s, 2, "food", "staff", accessible=True, overrides={"ignore_accessibility": True}
        )
        == "High 4"
    )


@PUB
async def test_private_hire_blocks(conn: asyncpg.Connection) -> None:
    """10.4: the Dining Room area hired 19:00-22:00 (blocked 18:30-22:30)."""
    await scratch_setup(conn)
    area = await conn.fetchval(
        "insert into table_areas (name, normalized_name) values ('Dining Room', 'dining room')"
        " returning id"
    )
    await conn.execute("update tables set area_id = $1 where name like 'Dining Room %'", area)
    space = await conn.fetchval(
        "insert into venue_spaces (name, rate_per_hour) values ('The Dining Room', 50) returning id"
    )
    await conn.execute(
        "insert into venue_space_table_areas (venue_space_id, table_area_id) values ($1, $2)",
        space,
        area,
    )
    hire = await conn.fetchval(
        "insert into private_bookings (customer_name, event_date, start_time, end_time, status)"
        " values ('Hire', $1, '19:00', '22:00', 'confirmed') returning id",
        FRIDAY,
    )
    await conn.execute(
        "insert into private_booking_items (booking_id, item_type, space_id, description,"
        " unit_price) values ($1, 'space', $2, 'Dining Room hire', 0)",
        hire,
        space,
    )
    assert await names(conn, at(FRIDAY, "17:00"), 2) == "Low 4b"
    assert await names(conn, at(FRIDAY, "16:30"), 2) == "Dining Room 4a"
    assert await names(conn, at(FRIDAY, "19:00"), 8) == "Low 4a + Low 4b"
    assert await names(conn, at(FRIDAY, "22:30"), 2) == "Dining Room 4a"
    # A cancelled hire blocks nothing.
    await conn.execute("update private_bookings set status = 'cancelled' where id = $1", hire)
    assert await names(conn, at(FRIDAY, "19:00"), 2) == "Dining Room 4a"


@PUB
async def test_seat_booking_records_as_the_pub(conn: asyncpg.Connection) -> None:
    """1.6 and 10.1: tb_seat_booking writes the rows the pub's create writes."""
    await scratch_setup(conn)
    await set_setting(conn, "turn_times_enabled", True)
    customer = await a_customer(conn)
    inside = await pub_book(conn, customer, at(FRIDAY, "19:00"), 8)
    outside = await pub_book(conn, customer, at(FRIDAY, "19:00"), 17, outside=True)
    assignments = "select table_id, start_datetime, end_datetime from booking_table_assignments where table_booking_id = $1::uuid order by table_id"  # noqa: E501
    reservation = "select tables_reserved, capacity_basis, starts_at, ends_at from outside_reservations where table_booking_id = $1::uuid"  # noqa: E501
    theirs_in = [tuple(r) for r in await conn.fetch(assignments, inside["table_booking_id"])]
    theirs_out = tuple(await conn.fetchrow(reservation, outside["table_booking_id"]) or ())
    assert len(theirs_in) == 2 and theirs_out[:2] == (3, 8)
    start, _, end = await window(conn, at(FRIDAY, "19:00"), 8, "food")
    await conn.execute(
        "select tb_seat_booking($1::uuid, $2::uuid[], $3, $4, false, 8)",
        inside["table_booking_id"],
        [r[0] for r in theirs_in],
        start,
        end,
    )
    assert [
        tuple(r) for r in await conn.fetch(assignments, inside["table_booking_id"])
    ] == theirs_in
    start, _, end = await window(conn, at(FRIDAY, "19:00"), 17, "food")
    await conn.execute(
        "select tb_seat_booking($1::uuid, null, $2, $3, true, 17)",
        outside["table_booking_id"],
        start,
        end,
    )
    assert tuple(await conn.fetchrow(reservation, outside["table_booking_id"]) or ()) == theirs_out
    # Re-seated after the pool's capacity changed, it keeps the capacity it was promised (the
    # pub's sync_outside_reservation does the same when a booking changes).
    await set_setting(conn, "outside_table_capacity", 6)
    await conn.execute(
        "select tb_seat_booking($1::uuid, null, $2, $3, true, 25)",
        outside["table_booking_id"],
        start,
        end,
    )
    kept = await conn.fetchrow(reservation, outside["table_booking_id"])
    assert kept is not None and tuple(kept)[:2] == (4, 8)
    # Moving a booking inside: its outside row goes, its tables are written.
    free = await choose(conn, start, 2, "food", "staff", end=end)
    await conn.execute(
        "select tb_seat_booking($1::uuid, $2::uuid[], $3, $4, false, 2)",
        outside["table_booking_id"],
        free["table_ids"],
        start,
        end,
    )
    assert await conn.fetchrow(reservation, outside["table_booking_id"]) is None
    assert len(await conn.fetch(assignments, outside["table_booking_id"])) == 1
    # The pub's trigger refuses a table another live booking holds; its error propagates.
    with pytest.raises(asyncpg.ExclusionViolationError, match="table_assignment_overlap"):
        await conn.execute(
            "select tb_seat_booking($1::uuid, $2::uuid[], $3, $4, false, 2)",
            outside["table_booking_id"],
            [theirs_in[0][0]],
            start,
            end,
        )
    # A booking being changed does not block itself.
    row = await conn.fetchrow(
        "select * from tb_choose_tables($1, $2, 8, 'food', 'online', 0, false, null, $3, $4::uuid)",
        start,
        end,
        await db_now(conn),
        inside["table_booking_id"],
    )
    assert row is not None and sorted(row["table_ids"]) == sorted(r[0] for r in theirs_in)


# The oracle ----------------------------------------------------------------------


def _grid(day: date, first: str, last: str) -> list[datetime]:
    out, t, end = [], at(day, first), at(day, last)
    while t <= end:
        out.append(t)
        t += timedelta(minutes=15)
    return out


#: Start times the pub's hours take (kitchen to close - 30 for food, bar to close - 30 for drinks):
#: Fri kitchen 16:00-21:00, bar 16:00-23:00; Sun kitchen 13:00-18:00, bar 12:00-20:00.
GRID = {
    (FRIDAY, "food"): _grid(FRIDAY, "16:00", "20:30"),
    (FRIDAY, "drinks"): _grid(FRIDAY, "16:00", "22:30"),
    (SUNDAY, "food"): _grid(SUNDAY, "13:00", "17:30"),
    (SUNDAY, "drinks"): _grid(SUNDAY, "12:00", "19:30"),
}


async def run_oracle(conn: asyncpg.Connection, seed: int, steps: int) -> dict[str, int]:
    rng = random.Random(seed)
    customer = await a_customer(conn)
    now = await db_now(conn)
    # A few steps inside 24 h: today's or tomorrow's evening, where still ahead of the clock.
    soon = [
        t
        for day in (now.astimezone(LONDON).date(), now.astimezone(LONDON).date() + timedelta(1))
        if day.weekday() in (1, 2, 3, 4)  # Tue-Fri: kitchen 16:00-21:00, bar at least to 22:00
        for t in _grid(day, "16:00", "20:30")
        if now + timedelta(hours=1) < t < now + timedelta(hours=23)
    ]
    tally = {"steps": 0, "seated": 0, "joined": 0, "no_table": 0, "outside": 0}
    tally |= {"outside_full": 0, "cancelled": 0, "inside_24h": 0, "other_refusal": 0}
    for step in range(steps):
        if step and rng.random() < 0.08:
            live = await conn.fetch(
                "select id from table_bookings where status <> 'cancelled' order by created_at, id"
            )
            if live:
                victim = rng.choice(live)["id"]
                await conn.execute(
                    "update table_bookings set status = 'cancelled', cancelled_at = now()"
                    " where id = $1",
                    victim,
                )
                tally["cancelled"] += 1
            continue
        purpose = rng.choice(["food", "food", "drinks"])
        if soon and rng.random() < 0.1:
            start = rng.choice(soon)
            purpose = "food"
            tally["inside_24h"] += 1
        else:
            start = rng.choice(GRID[(rng.choice([FRIDAY, SUNDAY]), purpose)])
        party = rng.choice([1, 2, 2, 2, 3, 4, 4, 5, 6, 7, 8, 10, 12, 16, 20])
        channel = rng.choice(["online", "online", "staff", "walk-in"])
        chairs = rng.choice([0] * 8 + [1, 2])
        accessible = rng.random() < 0.15
        outside = rng.random() < 0.15
        overrides = None
        if channel != "online" and rng.random() < 0.2:
            overrides = {"ignore_accessibility": True, "allow_unjoined": rng.random() < 0.5}
        _, guest_end, end = await window(conn, start, party, purpose)
        now = await db_now(conn)
        if outside:
            ours_outside = await conn.fetchval(
                "select tb_outside_refusal($1, $2, $3, $4)", start, end, party, now
            )
            ours_ids = None
        else:
            row = await choose(
                conn,
                start,
                party,
                purpose,
                channel,
                chairs=chairs,
                accessible=accessible,
                overrides=overrides,
                now=now,
                end=end,
            )
            ours_ids = row["table_ids"]
        ours_chairs = min(
            chairs,
            await conn.fetchval("select tb_high_chairs_free($1, $2, $3)", start, end, now),
        )
        theirs = await pub_book(
            conn,
            customer,
            start,
            party,
            purpose,
            channel,
            chairs=chairs,
            outside=outside,
            accessible=accessible,
            overrides=overrides,
        )
        what = f"step {step}: {purpose} x{party} {channel} {start:%a %H:%M} {theirs}"
        tally["steps"] += 1
        if theirs["state"] == "blocked":
            reason = theirs["reason"]
            if reason == "no_table":
                assert not outside and ours_ids is None, what
                tally["no_table"] += 1
            elif reason == "outside_full":
                assert outside and ours_outside == "outside_full", what
                tally["outside_full"] += 1
            else:
                tally["other_refusal"] += 1
            continue
        if outside:
            assert ours_outside is None, what
            tally["outside"] += 1
        else:
            assert ours_ids is not None, what
            assert [str(i) for i in ours_ids] == theirs["table_ids"], what
            tally["seated"] += 1
            tally["joined"] += len(ours_ids) > 1
        assert ours_chairs == theirs["high_chairs_granted"], what
        # The guest window ours would record is the pub's.
        booked = await conn.fetchrow(
            "select end_datetime from table_bookings where id = $1::uuid",
            theirs["table_booking_id"],
        )
        assert booked is not None and booked["end_datetime"] == guest_end, what
    return tally


#: More seeds from the environment, e.g. FLOOR_ORACLE_SEEDS=1,2,3 (each run with turn times off
#: and on).
EXTRA_SEEDS = [
    (int(seed), turn_times)
    for seed in os.environ.get("FLOOR_ORACLE_SEEDS", "").split(",")
    if seed.strip()
    for turn_times in (False, True)
]


@PUB
@pytest.mark.parametrize(("seed", "turn_times"), [(20261211, False), (1213, True), *EXTRA_SEEDS])
async def test_oracle_against_the_pub(
    conn: asyncpg.Connection, seed: int, turn_times: bool
) -> None:
    """Our outcome is the pub's at every step of a seeded sequence of creates and cancellations."""
    await scratch_setup(conn)
    await set_setting(conn, "turn_times_enabled", turn_times)
    tally = await run_oracle(conn, seed, 150)
    print(f"oracle seed {seed} turn_times {turn_times}: {tally}")
    assert tally["other_refusal"] == 0
    assert tally["seated"] > 40 and tally["no_table"] > 5 and tally["joined"] > 5


# A fresh database ----------------------------------------------------------------------


async def test_fresh_database_floor(conn: asyncpg.Connection) -> None:
    """Stand-ins on a fresh database: a small floor, seated, joined and full."""
    assert not await conn.fetchval("select tb_venue_has_tables()")
    ids = {}
    for number, name, capacity, prio in (("1", "A", 2, 10), ("2", "B", 4, 20), ("3", "C", 4, 30)):
        ids[name] = await conn.fetchval(
            "insert into tables (table_number, name, capacity, priority, bar_priority)"
            " values ($1, $2, $3, $4, $4) returning id",
            number,
            name,
            capacity,
            prio,
        )
    low, high = sorted([ids["B"], ids["C"]])
    await conn.execute("insert into table_join_links values ($1, $2)", low, high)
    assert await conn.fetchval("select tb_venue_has_tables()")
    now = datetime(2026, 11, 20, 12, tzinfo=LONDON)
    s = at(FRIDAY, "19:00")

    async def book(party: int) -> Any:
        row = await choose(conn, s, party, now=now)
        if row["table_ids"] is None:
            return "no_table"
        booking = await conn.fetchval(
            "insert into table_bookings (booking_reference, booking_date, booking_time, party_size,"
            " booking_type, status, committed_party_size, start_datetime, end_datetime)"
            " values ('TB-' || substr(md5(random()::text), 1, 8), $1, '19:00', $2, 'regular',"
            " 'confirmed', $2, $3, $4) returning id",
            FRIDAY,
            party,
            s,
            s + timedelta(hours=2),
        )
        await conn.execute(
            "select tb_seat_booking($1, $2, $3, $4, false, $5)",
            booking,
            row["table_ids"],
            s,
            s + timedelta(hours=2),
            party,
        )
        return row["table_names"], booking

    assert (await book(2))[0] == "A"
    assert (await book(7))[0] == "B + C"
    assert await book(1) == "no_table"
    # The stand-in guard: two live bookings never share a table in overlapping windows.
    other = await conn.fetchval("select id from table_bookings where party_size = 2")
    with pytest.raises(asyncpg.ExclusionViolationError, match="table_assignment_overlap"):
        await conn.execute(
            "select tb_seat_booking($1, $2, $3, $4, false, 2)",
            other,
            [ids["B"]],
            s + timedelta(hours=1),
            s + timedelta(hours=3),
        )
    # Cancelled bookings free their tables; outside seating on the stand-in pool.
    await conn.execute("update table_bookings set status = 'cancelled' where party_size = 7")
    assert (await choose(conn, s, 8, now=now))["table_names"] == "B + C"
    await conn.execute(
        "select tb_seat_booking($1, null, $2, $3, true, 20)", other, s, s + timedelta(hours=2)
    )
    reserved = await conn.fetchrow(
        "select tables_reserved, capacity_basis from outside_reservations"
    )
    assert reserved is not None and tuple(reserved) == (3, 8)
    assert await conn.fetchval("select count(*) from booking_table_assignments") == 2  # B, C
    assert (
        await conn.fetchval(
            "select tb_outside_refusal($1, $2, 17, $3)", s, s + timedelta(hours=2), now
        )
        == "outside_full"
    )
    assert (await choose(conn, s, 2, now=now))["table_names"] == "A"
