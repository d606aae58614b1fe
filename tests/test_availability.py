"""GET /api/table-bookings/availability: the slot grid, opening hours, capacity, the booking
window, Sunday lunch and the clock changes, all through HTTP against the demo pub.

The demo pub (supabase/seed.sql): kitchen closed on Mondays; Tuesday to Thursday 12:00-21:00;
Friday and Saturday 12:00-21:30; Sunday 12:00-17:00; closed on Christmas Day; 50 covers. The
suite's clock starts at Tuesday 24 November 2026, 10:00 London (GMT).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import (
    FakeClock,
    create_booking,
    envelope_error,
    regular_body,
    sunday_body,
)
from tests.test_slots_sql import expected_slots

URL = "/api/table-bookings/availability"

TUESDAY = "2026-12-01"
FRIDAY = "2026-11-27"
SUNDAY = "2026-11-29"
MONDAY = "2026-11-30"

ALL_DAY_TUESDAY = [f"{h:02d}:{m:02d}" for h in range(12, 21) for m in (0, 30)]  # 12:00..20:30


def grid(first: str, last: str, step: int = 30) -> list[str]:
    """Wall-clock times from ``first`` to ``last`` inclusive (may pass midnight)."""
    start = datetime.combine(date(2000, 1, 1), time.fromisoformat(first))
    end = datetime.combine(date(2000, 1, 1), time.fromisoformat(last))
    if end < start:
        end += timedelta(days=1)
    out = []
    while start <= end:
        out.append(start.strftime("%H:%M"))
        start += timedelta(minutes=step)
    return out


async def availability(
    client: httpx.AsyncClient,
    key: dict[str, str],
    day: str,
    party_size: int = 2,
    booking_type: str = "regular",
) -> dict[str, Any]:
    response = await client.get(
        URL,
        params={"date": day, "party_size": party_size, "booking_type": booking_type},
        headers=key,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True and set(body) == {"success", "data"}
    data: dict[str, Any] = body["data"]
    return data


def slots_by_time(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["time"]: s for s in data["time_slots"]}


def times(data: dict[str, Any]) -> list[str]:
    return [s["time"] for s in data["time_slots"]]


def alternatives(day: str, *slot_times: str) -> list[dict[str, str]]:
    return [{"date": day, "time": t} for t in slot_times]


async def set_setting(conn: asyncpg.Connection, key: str, value: Any) -> None:
    await conn.execute(
        "insert into system_settings (key, value) values ($1, $2::jsonb)"
        " on conflict (key) do update set value = excluded.value",
        key,
        json.dumps(value),
    )


async def special_hours(conn: asyncpg.Connection, day: str, **fields: Any) -> None:
    columns = ["date", *fields]
    values = [date.fromisoformat(day)] + [
        time.fromisoformat(v) if isinstance(v, str) and k != "note" else v
        for k, v in fields.items()
    ]
    placeholders = ", ".join(f"${i}" for i in range(1, len(values) + 1))
    await conn.execute(
        f"insert into special_hours ({', '.join(columns)}) values ({placeholders})",  # noqa: S608
        *values,
    )


class TestSlotGrid:
    async def test_tuesday_every_half_hour_until_half_an_hour_before_the_kitchen_closes(
        self, client: httpx.AsyncClient, key: dict[str, str]
    ) -> None:
        data = await availability(client, key, TUESDAY)
        assert times(data) == ALL_DAY_TUESDAY
        assert times(data) == grid("12:00", "20:30")
        assert all(
            s["available"] and s["available_capacity"] == 50 and s["reason"] is None
            for s in data["time_slots"]
        )

    async def test_friday_last_start_is_21_00(
        self, client: httpx.AsyncClient, key: dict[str, str]
    ) -> None:
        data = await availability(client, key, FRIDAY)
        assert times(data) == grid("12:00", "21:00")
        assert data["kitchen_hours"] == {
            "opens": "12:00",
            "closes": "21:30",
            "source": "business_hours",
        }

    async def test_sunday_regular_tables_until_16_30(
        self, client: httpx.AsyncClient, key: dict[str, str]
    ) -> None:
        data = await availability(client, key, SUNDAY)
        assert times(data) == grid("12:00", "16:30")
        assert data["available"] is True

    async def test_every_field_of_the_contract(
        self, client: httpx.AsyncClient, key: dict[str, str]
    ) -> None:
        data = await availability(client, key, TUESDAY, party_size=3)
        assert set(data) == {
            "date",
            "booking_type",
            "party_size",
            "purpose",
            "available",
            "kitchen_hours",
            "time_slots",
            "message",
            "alternatives",
        }
        assert data["date"] == TUESDAY
        assert data["purpose"] == "food"
        assert data["booking_type"] == "regular"
        assert data["party_size"] == 3
        assert data["available"] is True
        assert data["kitchen_hours"] == {
            "opens": "12:00",
            "closes": "21:00",
            "source": "business_hours",
        }
        assert data["message"] is None
        assert data["alternatives"] == []
        for slot in data["time_slots"]:
            assert slot == {
                "time": slot["time"],
                "available": True,
                "available_capacity": 50,
                "requires_prepayment": False,
                "reason": None,
                "message": None,
            }

    async def test_interval_setting_changes_the_grid(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        await set_setting(conn, "table_booking_slot_interval_minutes", {"value": 15})
        data = await availability(client, key, TUESDAY)
        assert times(data) == grid("12:00", "20:30", 15)

    async def test_margin_setting_changes_the_last_start(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        await set_setting(conn, "table_booking_last_start_margin_minutes", {"value": 90})
        data = await availability(client, key, TUESDAY)
        assert times(data) == grid("12:00", "19:30")

    @settings(
        max_examples=12,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(interval=st.sampled_from([15, 20, 30, 45, 60]), margin=st.integers(0, 120))
    async def test_any_interval_and_margin_follow_the_slot_generator(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
        interval: int,
        margin: int,
    ) -> None:
        # One database for all examples: each example overwrites both settings.
        await set_setting(conn, "table_booking_slot_interval_minutes", {"value": interval})
        await set_setting(conn, "table_booking_last_start_margin_minutes", {"value": margin})
        data = await availability(client, key, FRIDAY)
        expected = [
            t.strftime("%H:%M") for t, _ in expected_slots(time(12), time(21, 30), interval, margin)
        ]
        assert times(data) == expected


class TestOpeningHours:
    async def test_monday_kitchen_closed_offers_tuesday(
        self, client: httpx.AsyncClient, key: dict[str, str]
    ) -> None:
        data = await availability(client, key, MONDAY)
        assert data["available"] is False
        assert data["time_slots"] == []
        assert data["kitchen_hours"] is None
        assert data["message"] == (
            "The kitchen is closed on Monday 30 November, so we cannot take table bookings "
            "that day."
        )
        # The nearest bookable slots: the next day, Tuesday, from opening.
        assert data["alternatives"] == alternatives(TUESDAY, "12:00", "12:30", "13:00")

    async def test_christmas_day_closed(
        self, client: httpx.AsyncClient, key: dict[str, str]
    ) -> None:
        data = await availability(client, key, "2026-12-25")
        assert data["available"] is False
        assert data["time_slots"] == []
        assert data["kitchen_hours"] is None
        assert "closed on Friday 25 December" in data["message"]
        assert "Christmas Day" in data["message"]
        assert data["alternatives"] == alternatives("2026-12-26", "12:00", "12:30", "13:00")

    async def test_special_hours_give_other_kitchen_hours_for_one_date(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        await special_hours(conn, TUESDAY, kitchen_opens="14:00", kitchen_closes="18:00")
        data = await availability(client, key, TUESDAY)
        assert data["kitchen_hours"] == {
            "opens": "14:00",
            "closes": "18:00",
            "source": "special_hours",
        }
        assert times(data) == grid("14:00", "17:30")
        # The week after keeps its usual hours.
        other = await availability(client, key, "2026-12-08")
        assert other["kitchen_hours"]["source"] == "business_hours"
        assert times(other) == ALL_DAY_TUESDAY

    async def test_special_hours_open_the_kitchen_on_a_monday(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        await special_hours(conn, MONDAY, kitchen_opens="12:00", kitchen_closes="15:00")
        data = await availability(client, key, MONDAY)
        assert data["available"] is True
        assert times(data) == grid("12:00", "14:30")
        assert data["kitchen_hours"]["source"] == "special_hours"

    async def test_special_hours_close_the_kitchen_with_a_note(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        await special_hours(conn, TUESDAY, is_kitchen_closed=True, note="Private party.")
        data = await availability(client, key, TUESDAY)
        assert data["available"] is False and data["time_slots"] == []
        assert data["message"].startswith("The kitchen is closed on Tuesday 1 December")
        assert "Private party." in data["message"]

    async def test_kitchen_past_midnight(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
    ) -> None:
        day = "2026-11-25"  # a Wednesday
        await special_hours(
            conn, day, opens="12:00", closes="02:00", kitchen_opens="18:00", kitchen_closes="01:00"
        )
        data = await availability(client, key, day)
        assert data["kitchen_hours"] == {
            "opens": "18:00",
            "closes": "01:00",
            "source": "special_hours",
        }
        assert times(data) == grid("18:00", "00:30")
        assert all(s["available"] for s in data["time_slots"])

        booking = await create_booking(client, key, regular_body(day, "00:30", party_size=20))
        assert booking["date"] == day and booking["time"] == "00:30"
        response = await client.get(
            f"/api/table-bookings/{booking['booking_reference']}", headers=key
        )
        assert response.status_code == 200, response.text
        detail = response.json()["data"]
        # The service day is the 25th; the table is taken half an hour after midnight, the 26th.
        assert detail["starts_at"] == "2026-11-26T00:30:00+00:00"
        assert detail["ends_at"] == "2026-11-26T02:30:00+00:00"

        slots = slots_by_time(await availability(client, key, day))
        # Slots whose two hours overlap 00:30-02:30 on the 26th lose 20 covers ...
        for t in grid("23:00", "00:30"):
            assert slots[t]["available_capacity"] == 30, t
        # ... earlier ones (and the 26th's own lunch) do not.
        for t in grid("18:00", "22:30"):
            assert slots[t]["available_capacity"] == 50, t
        thursday = await availability(client, key, "2026-11-26")
        assert {s["available_capacity"] for s in thursday["time_slots"]} == {50}

    async def test_past_midnight_slot_still_bookable_after_midnight(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
        clock: FakeClock,
    ) -> None:
        day = "2026-11-25"
        await special_hours(
            conn, day, opens="12:00", closes="02:00", kitchen_opens="18:00", kitchen_closes="01:00"
        )
        # 00:10 on Thursday 26th: Wednesday's 00:30 table starts in twenty minutes.
        clock.set(datetime(2026, 11, 26, 0, 10, tzinfo=UTC))
        slots = slots_by_time(await availability(client, key, day))
        assert slots["00:00"]["reason"] == "IN_PAST"
        assert slots["00:30"]["available"] is True


class TestCapacity:
    async def test_bookings_fill_a_slot_and_the_slots_they_overlap(
        self, client: httpx.AsyncClient, key: dict[str, str]
    ) -> None:
        for party in (20, 20, 8):
            await create_booking(client, key, regular_body(FRIDAY, "19:00", party_size=party))

        data = await availability(client, key, FRIDAY, party_size=4)
        slots = slots_by_time(data)
        # A booking holds its covers for 120 minutes: 19:00-21:00 overlaps slots 17:30..20:30.
        for t in grid("17:30", "20:30"):
            assert slots[t]["available"] is False, t
            assert slots[t]["reason"] == "FULL", t
            assert slots[t]["available_capacity"] == 2, t
        for t in [*grid("12:00", "17:00"), "21:00"]:
            assert slots[t]["available"] is True, t
            assert slots[t]["available_capacity"] == 50, t
        assert data["available"] is True and data["message"] is None

        # Two guests still fit exactly.
        pair = slots_by_time(await availability(client, key, FRIDAY, party_size=2))
        assert pair["19:00"]["available"] is True and pair["19:00"]["available_capacity"] == 2

    async def test_cancelled_bookings_free_their_covers(
        self, client: httpx.AsyncClient, key: dict[str, str]
    ) -> None:
        booking = await create_booking(client, key, regular_body(FRIDAY, "19:00", party_size=20))
        before = slots_by_time(await availability(client, key, FRIDAY))
        assert before["19:00"]["available_capacity"] == 30
        response = await client.post(
            f"/api/table-bookings/{booking['booking_reference']}/cancel", headers=key
        )
        assert response.status_code == 200, response.text
        after = await availability(client, key, FRIDAY)
        assert {s["available_capacity"] for s in after["time_slots"]} == {50}

    async def test_overbooked_slot_shows_zero_not_a_negative_number(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        await create_booking(client, key, regular_body(FRIDAY, "19:00", party_size=20))
        await set_setting(conn, "restaurant_capacity", {"max_capacity": 10})
        slots = slots_by_time(await availability(client, key, FRIDAY, party_size=1))
        assert slots["19:00"]["available_capacity"] == 0
        assert slots["19:00"]["reason"] == "FULL"
        assert slots["17:00"]["available_capacity"] == 10

    async def test_a_day_with_no_room_says_so(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        await set_setting(conn, "restaurant_capacity", {"max_capacity": 3})
        data = await availability(client, key, FRIDAY, party_size=4)
        assert data["available"] is False
        assert {s["reason"] for s in data["time_slots"]} == {"FULL"}
        assert {s["available_capacity"] for s in data["time_slots"]} == {3}
        assert data["message"] == "Sorry, we are fully booked for 4 guests on Friday 27 November."
        # No day within reach has room for four: nothing to offer.
        assert data["alternatives"] == []

    async def test_pending_sunday_lunch_holds_count_until_the_hold_expires(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        menu: dict[str, str],
        clock: FakeClock,
        make_staff: Any,
    ) -> None:
        # Through a key, unpaid holds take at most half of a slot (tests/test_abuse.py); staff,
        # taking a phone booking, may hold more.
        staff = await make_staff("manager")
        held = [
            await create_booking(
                client, headers, sunday_body(menu, SUNDAY, "13:00", {"Roasted Chicken": 20})
            )
            for headers in (key, staff)
        ]
        assert {b["status"] for b in held} == {"pending_payment"}
        expires_at = datetime.fromisoformat(held[0]["payment_details"]["expires_at"])
        assert expires_at == clock.now + timedelta(minutes=30)

        slots = slots_by_time(await availability(client, key, SUNDAY, 12, "sunday_lunch"))
        for t in grid("12:00", "14:30"):
            assert slots[t]["reason"] == "FULL" and slots[t]["available_capacity"] == 10, t
        for t in grid("15:00", "16:30"):
            assert slots[t]["available"] is True and slots[t]["available_capacity"] == 50, t
        # Both booking types share the room.
        regular = slots_by_time(await availability(client, key, SUNDAY, 2))
        assert regular["13:00"]["available_capacity"] == 10

        clock.set(expires_at - timedelta(minutes=1))
        slots = slots_by_time(await availability(client, key, SUNDAY, 12, "sunday_lunch"))
        assert slots["13:00"]["available_capacity"] == 10

        clock.set(expires_at)
        data = await availability(client, key, SUNDAY, 12, "sunday_lunch")
        assert data["available"] is True
        assert {s["available_capacity"] for s in data["time_slots"]} == {50}
        assert {s["reason"] for s in data["time_slots"]} == {None}

    async def test_booking_time_slots_override_the_restaurant_capacity(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        await conn.executemany(
            "insert into booking_time_slots (day_of_week, slot_time, max_covers, booking_type,"
            " is_active) values ($1, $2, $3, $4::table_booking_type, $5)",
            [
                (2, time(19), 40, None, True),  # both types ...
                (2, time(19), 10, "regular", True),  # ... but the type's own row wins
                (2, time(18), 30, None, True),
                (2, time(18), 5, "sunday_lunch", True),  # another type: ignored
                (2, time(17), 1, None, False),  # inactive: ignored
                (3, time(12), 2, None, True),  # another weekday: ignored
            ],
        )
        slots = slots_by_time(await availability(client, key, TUESDAY, party_size=12))
        assert slots["19:00"]["available_capacity"] == 10
        assert slots["19:00"]["reason"] == "FULL" and slots["19:00"]["available"] is False
        assert slots["18:00"]["available_capacity"] == 30 and slots["18:00"]["available"]
        assert slots["17:00"]["available_capacity"] == 50
        assert slots["12:00"]["available_capacity"] == 50
        others = {t: s for t, s in slots.items() if t not in {"18:00", "19:00"}}
        assert {s["available_capacity"] for s in others.values()} == {50}

    async def test_restaurant_capacity_setting(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        await set_setting(conn, "restaurant_capacity", {"max_capacity": 30})
        data = await availability(client, key, TUESDAY)
        assert {s["available_capacity"] for s in data["time_slots"]} == {30}


class TestBookingWindow:
    async def test_today_slots_before_now_are_in_the_past(
        self, client: httpx.AsyncClient, key: dict[str, str], clock: FakeClock
    ) -> None:
        clock.set(datetime(2026, 11, 24, 14, 10, tzinfo=UTC))
        data = await availability(client, key, "2026-11-24")
        slots = slots_by_time(data)
        for t in grid("12:00", "14:00"):
            assert slots[t]["available"] is False and slots[t]["reason"] == "IN_PAST", t
        for t in grid("14:30", "20:30"):
            assert slots[t]["available"] is True and slots[t]["reason"] is None, t
        assert data["available"] is True

    async def test_today_with_every_slot_gone(
        self, client: httpx.AsyncClient, key: dict[str, str], clock: FakeClock
    ) -> None:
        clock.set(datetime(2026, 11, 24, 20, 45, tzinfo=UTC))
        data = await availability(client, key, "2026-11-24")
        assert data["available"] is False
        assert {s["reason"] for s in data["time_slots"]} == {"IN_PAST"}
        assert data["message"] == "There are no times left to book on Tuesday 24 November."
        assert data["alternatives"] == alternatives("2026-11-25", "12:00", "12:30", "13:00")

    async def test_a_past_date(self, client: httpx.AsyncClient, key: dict[str, str]) -> None:
        data = await availability(client, key, "2026-11-17")
        assert data["available"] is False
        assert {s["reason"] for s in data["time_slots"]} == {"IN_PAST"}
        assert data["message"] == "Tuesday 17 November has already passed."

    async def test_minimum_notice(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
        clock: FakeClock,
    ) -> None:
        await conn.execute(
            "update booking_policies set min_advance_hours = 2 where booking_type = 'regular'"
        )
        clock.set(datetime(2026, 11, 24, 10, 15, tzinfo=UTC))
        slots = slots_by_time(await availability(client, key, "2026-11-24"))
        assert slots["12:00"]["reason"] == "TOO_SOON" and slots["12:00"]["available"] is False
        assert slots["12:30"]["reason"] is None and slots["12:30"]["available"] is True
        # Exactly two hours ahead is enough.
        clock.set(datetime(2026, 11, 24, 10, 30, tzinfo=UTC))
        slots = slots_by_time(await availability(client, key, "2026-11-24"))
        assert slots["12:00"]["reason"] == "TOO_SOON"
        assert slots["12:30"]["available"] is True

    async def test_minimum_notice_is_per_booking_type(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        await conn.execute(
            "update booking_policies set min_advance_hours = 200 where booking_type = 'regular'"
        )
        sunday = slots_by_time(await availability(client, key, SUNDAY, 2, "sunday_lunch"))
        assert sunday["12:00"]["available"] is True
        regular = slots_by_time(await availability(client, key, SUNDAY, 2))
        assert regular["12:00"]["reason"] == "TOO_SOON"

    async def test_up_to_56_days_ahead(
        self, client: httpx.AsyncClient, key: dict[str, str]
    ) -> None:
        last = await availability(client, key, "2027-01-19")  # today + 56 days
        assert last["available"] is True

        data = await availability(client, key, "2027-01-20")
        assert data["available"] is False
        assert {s["reason"] for s in data["time_slots"]} == {"TOO_FAR"}
        assert data["message"] == (
            "Bookings open 56 days ahead: the latest date you can book today is Tuesday 19 January."
        )
        assert data["alternatives"] == alternatives("2027-01-19", "12:00", "12:30", "13:00")

    async def test_party_of_21_is_asked_to_call(
        self, client: httpx.AsyncClient, key: dict[str, str]
    ) -> None:
        data = await availability(client, key, FRIDAY, party_size=21)
        assert data["available"] is False
        assert {s["reason"] for s in data["time_slots"]} == {"PARTY_TOO_LARGE"}
        assert "01753 682707" in data["message"] and "call" in data["message"]
        assert data["alternatives"] == []

        twenty = await availability(client, key, FRIDAY, party_size=20)
        assert twenty["available"] is True

    async def test_requires_prepayment_only_for_sunday_lunch(
        self, client: httpx.AsyncClient, key: dict[str, str]
    ) -> None:
        lunch = await availability(client, key, SUNDAY, 2, "sunday_lunch")
        assert lunch["time_slots"]
        assert {s["requires_prepayment"] for s in lunch["time_slots"]} == {True}
        regular = await availability(client, key, SUNDAY, 2, "regular")
        assert {s["requires_prepayment"] for s in regular["time_slots"]} == {False}


class TestSundayLunch:
    async def test_sunday_lunch_slots(self, client: httpx.AsyncClient, key: dict[str, str]) -> None:
        data = await availability(client, key, SUNDAY, 4, "sunday_lunch")
        assert data["booking_type"] == "sunday_lunch"
        assert data["available"] is True
        assert times(data) == grid("12:00", "16:30")
        assert all(s["available"] and s["requires_prepayment"] for s in data["time_slots"])

    async def test_not_on_a_weekday(self, client: httpx.AsyncClient, key: dict[str, str]) -> None:
        data = await availability(client, key, "2026-11-25", 2, "sunday_lunch")
        assert data["available"] is False
        assert {s["reason"] for s in data["time_slots"]} == {"NOT_SUNDAY"}
        assert data["message"] == (
            "Sunday lunch is served on Sundays only, and Wednesday 25 November is not a Sunday."
        )

    async def test_not_on_a_weekday_offers_the_nearest_sunday(
        self, client: httpx.AsyncClient, key: dict[str, str]
    ) -> None:
        data = await availability(client, key, "2026-11-25", 2, "sunday_lunch")
        assert data["alternatives"] == alternatives(SUNDAY, "12:00", "12:30", "13:00")

    async def test_cut_off_at_13_00_on_the_saturday_before(
        self, client: httpx.AsyncClient, key: dict[str, str], clock: FakeClock
    ) -> None:
        clock.set(datetime(2026, 11, 28, 12, 59, tzinfo=UTC))  # GMT: London = UTC
        data = await availability(client, key, SUNDAY, 2, "sunday_lunch")
        assert data["available"] is True
        assert {s["reason"] for s in data["time_slots"]} == {None}

        clock.set(datetime(2026, 11, 28, 13, 0, tzinfo=UTC))
        data = await availability(client, key, SUNDAY, 2, "sunday_lunch")
        assert data["available"] is False
        assert {s["reason"] for s in data["time_slots"]} == {"CUT_OFF"}
        assert data["message"] == (
            "Sunday lunch for Sunday 29 November had to be booked by 1:00pm on Saturday "
            "28 November, so that the kitchen can prepare your roasts."
        )
        assert data["alternatives"] == alternatives("2026-12-06", "12:00", "12:30", "13:00")
        # A regular table that Sunday is still fine.
        regular = await availability(client, key, SUNDAY, 2)
        assert regular["available"] is True


class TestClockChanges:
    """BST 2027 starts Sunday 28 March (01:00 UTC) and ends Sunday 31 October (01:00 UTC)."""

    @pytest.mark.parametrize(
        ("now", "sunday"),
        [
            (datetime(2027, 3, 24, 10, 0, tzinfo=UTC), "2027-03-28"),
            (datetime(2027, 10, 27, 10, 0, tzinfo=UTC), "2027-10-31"),
        ],
    )
    @pytest.mark.parametrize("booking_type", ["sunday_lunch", "regular"])
    async def test_slots_on_the_day_the_clocks_change(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        clock: FakeClock,
        now: datetime,
        sunday: str,
        booking_type: str,
    ) -> None:
        clock.set(now)
        data = await availability(client, key, sunday, 4, booking_type)
        assert data["available"] is True
        assert times(data) == grid("12:00", "16:30")
        assert all(s["available"] and s["available_capacity"] == 50 for s in data["time_slots"])
        assert {s["requires_prepayment"] for s in data["time_slots"]} == {
            booking_type == "sunday_lunch"
        }

    @pytest.mark.parametrize(
        ("cut_off_utc", "sunday"),
        [
            # Saturday 27 March 2027 is still GMT: 13:00 London is 13:00 UTC.
            (datetime(2027, 3, 27, 13, 0, tzinfo=UTC), "2027-03-28"),
            # Saturday 30 October 2027 is still BST: 13:00 London is 12:00 UTC.
            (datetime(2027, 10, 30, 12, 0, tzinfo=UTC), "2027-10-31"),
        ],
    )
    async def test_cut_off_in_london_time(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        clock: FakeClock,
        cut_off_utc: datetime,
        sunday: str,
    ) -> None:
        clock.set(cut_off_utc - timedelta(minutes=1))
        before = await availability(client, key, sunday, 2, "sunday_lunch")
        assert before["available"] is True

        clock.set(cut_off_utc)
        after = await availability(client, key, sunday, 2, "sunday_lunch")
        assert after["available"] is False
        assert {s["reason"] for s in after["time_slots"]} == {"CUT_OFF"}
        assert "1:00pm" in after["message"]

    @pytest.mark.parametrize(
        ("now", "sunday", "starts_at", "ends_at"),
        [
            (
                datetime(2027, 3, 24, 10, 0, tzinfo=UTC),
                "2027-03-28",
                "2027-03-28T13:00:00+01:00",
                "2027-03-28T15:00:00+01:00",
            ),
            (
                datetime(2027, 10, 27, 10, 0, tzinfo=UTC),
                "2027-10-31",
                "2027-10-31T13:00:00+00:00",
                "2027-10-31T15:00:00+00:00",
            ),
        ],
    )
    async def test_booking_starts_at_london_wall_clock(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        clock: FakeClock,
        now: datetime,
        sunday: str,
        starts_at: str,
        ends_at: str,
    ) -> None:
        clock.set(now)
        booking = await create_booking(client, key, regular_body(sunday, "13:00", party_size=20))
        response = await client.get(
            f"/api/table-bookings/{booking['booking_reference']}", headers=key
        )
        assert response.status_code == 200, response.text
        detail = response.json()["data"]
        assert detail["starts_at"] == starts_at
        assert detail["ends_at"] == ends_at
        # It holds its covers 11:30 < slot < 15:00 wall clock, as on any other Sunday.
        slots = slots_by_time(await availability(client, key, sunday))
        assert [t for t, s in slots.items() if s["available_capacity"] == 30] == grid(
            "12:00", "14:30"
        )

    async def test_slots_in_the_past_in_summer_time(
        self, client: httpx.AsyncClient, key: dict[str, str], clock: FakeClock
    ) -> None:
        # 11:10 UTC on Tuesday 30 March 2027 is 12:10 BST: the 12:00 table has gone.
        clock.set(datetime(2027, 3, 30, 11, 10, tzinfo=UTC))
        slots = slots_by_time(await availability(client, key, "2027-03-30"))
        assert slots["12:00"]["reason"] == "IN_PAST"
        assert slots["12:30"]["available"] is True

    async def test_today_is_the_london_date(
        self, client: httpx.AsyncClient, key: dict[str, str], clock: FakeClock
    ) -> None:
        # 23:30 UTC on Tuesday 30 March 2027 is already Wednesday 31 March in London.
        clock.set(datetime(2027, 3, 30, 23, 30, tzinfo=UTC))
        tuesday = await availability(client, key, "2027-03-30")
        assert tuesday["available"] is False
        assert tuesday["message"] == "Tuesday 30 March has already passed."
        wednesday = await availability(client, key, "2027-03-31")
        assert wednesday["available"] is True
        assert slots_by_time(wednesday)["12:00"]["available"] is True


class TestRequests:
    @pytest.mark.parametrize(
        ("params", "field"),
        [
            ({"date": "2026-13-01"}, "date"),
            ({"date": "next tuesday"}, "date"),
            ({}, "date"),
            ({"date": TUESDAY, "party_size": 0}, "party_size"),
            ({"date": TUESDAY, "party_size": "two"}, "party_size"),
            ({"date": TUESDAY, "booking_type": "brunch"}, "booking_type"),
        ],
    )
    async def test_validation_errors(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        params: dict[str, Any],
        field: str,
    ) -> None:
        response = await client.get(URL, params=params, headers=key)
        assert response.status_code == 400
        error = envelope_error(response)
        assert error["code"] == "VALIDATION_ERROR"
        assert field in {d["field"] for d in error["details"]}

    async def test_no_key(self, client: httpx.AsyncClient) -> None:
        response = await client.get(URL, params={"date": TUESDAY})
        assert response.status_code == 401
        assert envelope_error(response)["code"] == "UNAUTHORIZED"

    async def test_key_without_read_scope(self, client: httpx.AsyncClient, make_key: Any) -> None:
        headers = await make_key(["write:table_bookings"])
        response = await client.get(URL, params={"date": TUESDAY}, headers=headers)
        assert response.status_code == 403
        assert envelope_error(response)["code"] == "FORBIDDEN"

    async def test_read_scope_is_enough(self, client: httpx.AsyncClient, make_key: Any) -> None:
        headers = await make_key(["read:table_bookings"])
        response = await client.get(URL, params={"date": TUESDAY}, headers=headers)
        assert response.status_code == 200
        assert response.json()["data"]["party_size"] == 2  # the default party
