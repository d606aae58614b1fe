"""The picker and the gate agree: ``tb_day_slots`` (one set-based query, what availability shows)
gives, for every slot of a day, exactly what the booking gate's own functions say about that slot
one at a time (``table_booking_covers_free`` and ``tb_time_refusal``, which a create runs).

Hypothesis builds random days: bookings on the day and both neighbours (confirmed, cancelled,
pending payment with a live or an expired hold, with or without their instants and durations),
the restaurant's capacity, ``booking_time_slots`` rows (per type and for both), special hours
past midnight, the clock change days, and any "now". Each example runs in a transaction that is
rolled back, so examples do not see each other's rows (see tests/test_slots_sql.py for why
``@given`` sits on an async test).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import asyncpg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

#: A Tuesday, the Monday the kitchen is closed, a Sunday, both clock changes (Sundays).
DAYS = [
    date(2026, 12, 8),
    date(2026, 12, 7),
    date(2026, 12, 13),
    date(2027, 3, 28),
    date(2027, 10, 31),
]

#: The gate, one slot at a time, as the per-slot tb_day_slots of 20261124000400 computed it.
REFERENCE_SQL = """
select t.slot_time,
       greatest(f.free, 0) as available_capacity,
       coalesce(r.reason, case when f.free < $2 then 'FULL' end) as reason,
       coalesce(r.message,
                case when f.free < $2
                     then format('Only %s covers are free at %s.', greatest(f.free, 0),
                                 to_char(t.slot_time, 'HH24:MI')) end) as message
from public.tb_day_hours($1) h
cross join lateral public.tb_slot_times(
  h.opens, h.closes, (public.tb_config() ->> 'slot_interval_minutes')::int,
  (public.tb_config() ->> 'last_start_margin_minutes')::int) t
cross join lateral (
  select public.tb_start_instant($1, t.slot_time, h.opens, h.overnight) as st) s
cross join lateral (
  select public.table_booking_covers_free(
    $1, t.slot_time, s.st, (public.tb_config() ->> 'duration_minutes')::int, $3, $4) as free) f
cross join lateral public.tb_time_refusal($3, s.st, $4, $5) r
where h.kitchen_open
order by s.st
"""

INSERT_BOOKING_SQL = """
insert into table_bookings (booking_reference, booking_date, booking_time, party_size, booking_type,
                            status, hold_expires_at, duration_minutes, start_datetime, end_datetime,
                            committed_party_size)
values ($1, $2, $3, $4, $5::table_booking_type, $6::table_booking_status, $7, $8, $9, $10, $4)
"""

PICKER_SQL = """
select slot_time, available_capacity, reason, message
from public.tb_day_slots($1, $2, $3, $4, $5)
"""

bookings = st.lists(
    st.fixed_dictionaries(
        {
            "day_offset": st.integers(-1, 1),
            "minute": st.integers(0, 24 * 12 - 1).map(lambda i: i * 5),
            "party_size": st.integers(1, 12),
            "status": st.sampled_from(
                ["confirmed", "confirmed", "pending_payment", "cancelled", "completed"]
            ),
            "hold_minutes": st.none() | st.integers(-120, 120),
            "duration": st.none() | st.sampled_from([60, 90, 120, 150, 180]),
            "with_instants": st.booleans(),
            "booking_type": st.sampled_from(["regular", "sunday_lunch"]),
        }
    ),
    max_size=25,
)

slot_rows = st.lists(
    st.tuples(
        st.integers(0, 18).map(lambda i: time(12 + i // 2, 30 * (i % 2))),
        st.sampled_from([None, "regular", "sunday_lunch"]),
        st.integers(0, 40),
        st.booleans(),
    ),
    max_size=4,
    unique_by=lambda r: (r[0], r[1]),
)

examples = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


async def _arrange(
    conn: asyncpg.Connection,
    day: date,
    rows: list[dict[str, Any]],
    capacity: int | None,
    overnight: bool,
    slots: list[tuple[time, str | None, int, bool]],
    now: datetime,
) -> None:
    if capacity is not None:
        await conn.execute(
            "insert into system_settings (key, value) values ('restaurant_capacity', $1::jsonb)"
            " on conflict (key) do update set value = excluded.value",
            json.dumps({"max_capacity": capacity}),
        )
    if overnight:
        await conn.execute(
            "insert into special_hours (date, opens, closes, kitchen_opens, kitchen_closes)"
            " values ($1, '17:00', '02:00', '18:00', '01:30')",
            day,
        )
    dow = (day.isoweekday()) % 7
    for slot_time, booking_type, covers, active in slots:
        await conn.execute(
            "insert into booking_time_slots (day_of_week, slot_time, max_covers, booking_type,"
            " is_active) values ($1, $2, $3, $4::table_booking_type, $5)",
            dow,
            slot_time,
            covers,
            booking_type,
            active,
        )
    for i, row in enumerate(rows):
        booking_day = day + timedelta(days=row["day_offset"])
        at = time(row["minute"] // 60, row["minute"] % 60)
        start = end = None
        if row["with_instants"]:
            start = await conn.fetchval(
                "select ($1::date + $2::time) at time zone 'Europe/London'", booking_day, at
            )
            end = start + timedelta(minutes=row["duration"] or 120)
        hold = None
        if row["hold_minutes"] is not None:
            hold = now + timedelta(minutes=row["hold_minutes"])
        await conn.execute(
            INSERT_BOOKING_SQL,
            f"TB-AGREE{i:03d}",
            booking_day,
            at,
            row["party_size"],
            row["booking_type"],
            row["status"],
            hold,
            row["duration"],
            start,
            end,
        )


@examples
@given(
    day=st.sampled_from(DAYS),
    rows=bookings,
    capacity=st.none() | st.integers(0, 60),
    overnight=st.booleans(),
    slots=slot_rows,
    party_size=st.integers(1, 12),
    booking_type=st.sampled_from(["regular", "sunday_lunch"]),
    hours_before=st.integers(-30, 24 * 3),
    override=st.booleans(),
)
async def test_picker_agrees_with_the_gate(
    conn: asyncpg.Connection,
    day: date,
    rows: list[dict[str, Any]],
    capacity: int | None,
    overnight: bool,
    slots: list[tuple[time, str | None, int, bool]],
    party_size: int,
    booking_type: str,
    hours_before: int,
    override: bool,
) -> None:
    # "now" from three days before the day's noon to the evening of the day itself.
    now = datetime(day.year, day.month, day.day, 12, tzinfo=UTC) - timedelta(hours=hours_before)
    transaction = conn.transaction()
    await transaction.start()
    try:
        await _arrange(conn, day, rows, capacity, overnight, slots, now)
        args = (day, party_size, booking_type, now, override)
        picker = [tuple(r) for r in await conn.fetch(PICKER_SQL, *args)]
        gate = [tuple(r) for r in await conn.fetch(REFERENCE_SQL, *args)]
    finally:
        await transaction.rollback()
    assert picker == gate


async def test_the_picker_sees_bookings_at_all(conn: asyncpg.Connection) -> None:
    """A guard on the property above: a confirmed party of 6 at 19:00 on a Tuesday takes 6
    covers from 17:30 to 20:30 in the picker, as in the gate."""
    day = DAYS[0]
    await conn.execute(
        "insert into table_bookings (booking_reference, booking_date, booking_time, party_size,"
        " committed_party_size, booking_type, status)"
        " values ('TB-AGREEX', $1, '19:00', 6, 6, 'regular', 'confirmed')",
        day,
    )
    now = datetime(2026, 11, 24, 10, tzinfo=UTC)
    picker = await conn.fetch(PICKER_SQL, day, 2, "regular", now, False)
    gate = await conn.fetch(REFERENCE_SQL, day, 2, "regular", now, False)
    assert [tuple(r) for r in picker] == [tuple(r) for r in gate]
    free = {r["slot_time"]: r["available_capacity"] for r in picker}
    assert free[time(17, 30)] == free[time(20, 30)] == 44
    assert free[time(17, 0)] == free[time(12, 0)] == 50


#: The capacity rule written out, as table_booking_covers_free said it before it was found through
#: the span index (20261124000400): every holding booking of the three days, each one's instants
#: tested against the new booking's.
RULE_SQL = """
select public.tb_slot_capacity($1::date, $2::time, $5::table_booking_type,
                               (public.tb_config() ->> 'capacity')::int)
       - coalesce((
           select sum(b.party_size) from public.table_bookings b
           where b.booking_date between $1 - 1 and $1 + 1
             and (b.status = 'confirmed'
                  or (b.status = 'pending_payment'
                      and (b.hold_expires_at is null or b.hold_expires_at > $6::timestamptz)))
             and coalesce(b.start_datetime,
                          (b.booking_date + b.booking_time) at time zone 'Europe/London')
                 < $3::timestamptz + make_interval(mins => $4::int)
             and coalesce(b.end_datetime,
                          (b.booking_date + b.booking_time) at time zone 'Europe/London'
                          + make_interval(mins => coalesce(b.duration_minutes, 120)))
                 > $3::timestamptz), 0)::integer
"""

GATE_SQL = "select public.table_booking_covers_free($1, $2, $3, $4, $5::table_booking_type, $6)"

legacy_rows = st.lists(
    st.fixed_dictionaries(
        {
            "day_offset": st.integers(-2, 2),
            "minute": st.integers(0, 24 * 4 - 1).map(lambda i: i * 15),
            "party_size": st.integers(1, 12),
            "status": st.sampled_from(["confirmed", "pending_payment", "cancelled", "no_show"]),
            "hold_minutes": st.none() | st.integers(-120, 120),
            "duration": st.none() | st.integers(0, 600),
            # Instants as the pub's older rows may hold them: missing, either one alone, off by
            # hours from the date and time, or an end before the start.
            "start_shift": st.none() | st.integers(-600, 600),
            "end_shift": st.none() | st.integers(-600, 900),
        }
    ),
    max_size=30,
)


@examples
@given(
    day=st.sampled_from(DAYS),
    rows=legacy_rows,
    minute=st.integers(0, 24 * 4 - 1).map(lambda i: i * 15),
    duration=st.sampled_from([0, 30, 120, 240]),
    hours_before=st.integers(-30, 24 * 3),
)
async def test_the_span_index_finds_what_the_rule_counts(
    conn: asyncpg.Connection,
    day: date,
    rows: list[dict[str, Any]],
    minute: int,
    duration: int,
    hours_before: int,
) -> None:
    """The gate finds bookings through idx_table_bookings_holding_span; it must count exactly
    what the rule written out counts, for any instants a row may hold."""
    now = datetime(day.year, day.month, day.day, 12, tzinfo=UTC) - timedelta(hours=hours_before)
    at = time(minute // 60, minute % 60)
    transaction = conn.transaction()
    await transaction.start()
    try:
        for i, row in enumerate(rows):
            booking_day = day + timedelta(days=row["day_offset"])
            base = datetime.combine(booking_day, time(0), tzinfo=UTC) + timedelta(
                minutes=row["minute"]
            )
            start = (
                None if row["start_shift"] is None else base + timedelta(minutes=row["start_shift"])
            )
            end = None if row["end_shift"] is None else base + timedelta(minutes=row["end_shift"])
            hold = None
            if row["hold_minutes"] is not None:
                hold = now + timedelta(minutes=row["hold_minutes"])
            await conn.execute(
                INSERT_BOOKING_SQL,
                f"TB-SPAN{i:03d}",
                booking_day,
                time(row["minute"] // 60, row["minute"] % 60),
                row["party_size"],
                "regular",
                row["status"],
                hold,
                row["duration"],
                start,
                end,
            )
        start = await conn.fetchval(
            "select ($1::date + $2::time) at time zone 'Europe/London'", day, at
        )
        args = (day, at, start, duration, "regular", now)
        rule = await conn.fetchval(RULE_SQL, *args)
        gate = await conn.fetchval(GATE_SQL, *args)
    finally:
        await transaction.rollback()
    assert gate == rule


async def test_the_gate_reads_through_the_span_index(conn: asyncpg.Connection) -> None:
    """A guard on the property above: the gate really uses the index (a plan through the date
    index would pass it too, and read every booking of three days)."""

    async def span_scans() -> int:
        await conn.execute("select pg_stat_force_next_flush()")
        await conn.execute("select pg_stat_clear_snapshot()")
        scans: int = await conn.fetchval(
            "select idx_scan from pg_stat_user_indexes"
            " where indexrelname = 'idx_table_bookings_holding_span'"
        )
        return scans

    day = DAYS[0]
    before = await span_scans()
    start = datetime(day.year, day.month, day.day, 19, tzinfo=UTC)
    free = await conn.fetchval(GATE_SQL, day, time(19), start, 120, "regular", start)
    assert free == 50
    assert await span_scans() == before + 1


CHECK_SLOT_SQL = "select public.tb_check_slot($1::table_booking_type, $2, $3, $4, $5, false)"


async def test_the_gate_accepts_exactly_the_times_the_picker_offers(
    conn: asyncpg.Connection,
) -> None:
    """Every five minutes of a day, and of a kitchen open past midnight: create's gate
    (``tb_check_slot``) lets a time through exactly when availability offers it, and refuses
    one off the slot grid (19:10) with the reason and the nearest slots."""
    now = datetime(2026, 11, 24, 10, tzinfo=UTC)
    await conn.execute(
        "insert into special_hours (date, opens, closes, kitchen_opens, kitchen_closes)"
        " values ('2026-12-09', '17:00', '02:00', '18:00', '01:30')"
    )
    for day in (date(2026, 12, 8), date(2026, 12, 9)):
        offered = {
            r["slot_time"]
            for r in await conn.fetch(PICKER_SQL, day, 2, "regular", now, False)
            if r["reason"] is None
        }
        assert len(offered) > 10
        accepted = set()
        refusals = {}
        for minute in range(0, 24 * 60, 5):
            at = time(minute // 60, minute % 60)
            try:
                async with conn.transaction():
                    await conn.fetchval(CHECK_SLOT_SQL, "regular", day, at, 2, now)
            except asyncpg.RaiseError as exc:
                refusals[at] = exc
            else:
                accepted.add(at)
        assert accepted == offered, day
    hints = {at: json.loads(exc.hint or "{}") for at, exc in refusals.items()}
    assert hints[time(19, 10)]["reason"] == "NOT_A_SLOT"
    assert hints[time(19, 10)]["nearest"] == ["19:00", "19:30"]
    off_grid = [h for h in hints.values() if h["reason"] == "NOT_A_SLOT"]
    assert off_grid and all(len(h["nearest"]) in (1, 2) for h in off_grid)
