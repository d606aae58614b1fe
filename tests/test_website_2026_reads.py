"""The reads of the pub's 2026 website contract under /management/api (issue 16).

Each test replays the requests the pub's website sends (pub-api-2026.md, "Website use" of
sections 2, 3, 4 and 8: the same query strings) and asserts on the fields it reads, on a fresh
database (our stand-ins and the demo pub) and on the pub's own database with its live floor.
The suite's clock is Tuesday 24 November 2026 10:00 (London, GMT).
"""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import FakeClock, envelope_error, regular_body
from tests.pub_floor import add_live_join_links, set_setting
from tests.test_openapi_docs import _document, _problems, _validator

BOTH = pytest.mark.parametrize("database_kind", ["fresh", "pub"], indirect=True)
PUB = pytest.mark.parametrize("database_kind", ["pub"], indirect=True)
FRESH = pytest.mark.parametrize("database_kind", ["fresh"], indirect=True)

BASE = "/management/api"
FRIDAY = "2026-11-27"
MONDAY = "2026-11-30"
ADVENT_FRIDAY = "2026-12-04"
_PHONES = itertools.count(300)

TABLES_FULL = "We are fully booked at that time. Please try another time or give us a ring."
TOO_LARGE = (
    "For a group that size we look after you as a private booking. Get in touch and we will "
    "sort it out."
)
CLOSED = "We are closed then. Have a look at our opening times for another day."
UNKNOWN = "We cannot check availability right now. Please give us a ring and we will book you in."
REFUND_7 = (
    "Full refund up to 7 days before the booking date. Inside 7 days the deposit is not "
    "refunded, though a manager may waive that. The deposit comes off the bill on the day."
)


@pytest.fixture
async def website(make_key: Any, conn: asyncpg.Connection, database_kind: str) -> dict[str, str]:
    """The website's key (the scopes the pub gives it) on a database set up as the pub runs it:
    on the pub's database its live join links."""
    if database_kind == "pub":
        await add_live_join_links(conn)
    headers: dict[str, str] = await make_key(
        ["read:table_bookings", "read:menu", "write:table_bookings"]
    )
    return headers


_DOCUMENT: dict[str, Any] = {}


async def ok(response: httpx.Response) -> dict[str, Any]:
    """The data of a 200, which must match the documented schema strictly (no field the
    operation's response model does not name, none it requires missing)."""
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True, body
    if not _DOCUMENT:
        # The document is the same for every test: read once from the first client.
        _DOCUMENT.update(await _document(_CLIENTS[0]))
    path = response.request.url.path
    schema = _DOCUMENT["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
    assert _problems(_validator(_DOCUMENT, schema["schema"], strict=True), body) == [], path
    data: dict[str, Any] = body["data"]
    return data


_CLIENTS: list[httpx.AsyncClient] = []


@pytest.fixture(autouse=True)
def remember_client(client: httpx.AsyncClient) -> None:
    _CLIENTS[:] = [client]


async def load(client: httpx.AsyncClient, key: dict[str, str], query: str) -> httpx.Response:
    return await client.get(f"{BASE}/table-bookings/load?{query}", headers=key)


async def availability(
    client: httpx.AsyncClient, key: dict[str, str], day: str, party: int
) -> dict[str, Any]:
    """table_availability as the website asks for it (date, party_size, purpose)."""
    data = await ok(await load(client, key, f"date={day}&party_size={party}&purpose=food"))
    table: dict[str, Any] = data["table_availability"]
    return table


async def book(
    client: httpx.AsyncClient,
    key: dict[str, str],
    day: str,
    time: str,
    party: int,
    **extra: Any,
) -> httpx.Response:
    """A create through our 2025 route."""
    phone = f"07700 900{next(_PHONES):03d}"
    return await client.post(
        "/api/table-bookings",
        json=regular_body(day, time, party, phone=phone, **extra),
        headers=key,
    )


# Hours ---------------------------------------------------------------------------------------


def hhmmss(value: Any) -> str | None:
    return None if value is None else value.strftime("%H:%M:%S")


class TestBusinessHours:
    @BOTH
    async def test_the_website_reads_the_weekday_and_the_special_day(
        self, client: httpx.AsyncClient, conn: asyncpg.Connection
    ) -> None:
        await conn.execute(
            """insert into special_hours (date, is_closed, is_kitchen_closed, note)
               values ('2026-12-25', true, true, 'Closed for Christmas Day')
               on conflict (date) do nothing"""
        )
        await conn.execute(
            """insert into special_hours (date, opens, closes, kitchen_opens, kitchen_closes,
                                          is_closed, note)
               values ('2026-12-24', '12:00', '18:00', '12:00', '16:00', false, 'Christmas Eve')"""
        )
        # No key: the website calls it with the booking date before each create.
        response = await client.get(f"{BASE}/business/hours?date={FRIDAY}")
        data = await ok(response)
        assert response.headers["cache-control"] == "no-store"
        row = await conn.fetchrow("select * from business_hours where day_of_week = 5")
        assert row is not None
        friday = data["regularHours"]["friday"]
        assert friday["is_closed"] is False
        assert (friday["opens"], friday["closes"]) == (hhmmss(row["opens"]), hhmmss(row["closes"]))
        assert friday["kitchen"] == {
            "opens": hhmmss(row["kitchen_opens"]),
            "closes": hhmmss(row["kitchen_closes"]),
        }
        assert friday["schedule_config"] == json.loads(row["schedule_config"] or "[]")
        # Monday: the kitchen is closed in both pubs.
        assert data["regularHours"]["monday"]["kitchen"] is None
        assert data["regularHours"]["monday"]["is_kitchen_closed"] is True
        special = {s["date"]: s for s in data["specialHours"]}
        assert special["2026-12-25"]["status"] == "closed"
        assert special["2026-12-25"]["is_closed"] is True
        assert (special["2026-12-25"]["opens"], special["2026-12-25"]["closes"]) == (None, None)
        eve = special["2026-12-24"]
        assert (eve["status"], eve["opens"], eve["closes"]) == ("modified", "12:00:00", "18:00:00")
        assert eve["kitchen"] == {"opens": "12:00:00", "closes": "16:00:00"}
        assert eve["note"] == "Christmas Eve"
        # The weekly services do not fit the day's own kitchen hours: none are named.
        assert eve["schedule_config"] == []
        # A special day that changes only the pub's closing keeps the weekly kitchen and
        # services, as the engine reads it (the website must not take it for closed).
        await conn.execute(
            """insert into special_hours (date, closes, note)
               values ('2026-12-31', '01:00', 'New Year''s Eve')"""
        )
        thursday = await conn.fetchrow("select * from business_hours where day_of_week = 4")
        assert thursday is not None
        data = await ok(await client.get(f"{BASE}/business/hours?date={FRIDAY}"))
        eve = {s["date"]: s for s in data["specialHours"]}["2026-12-31"]
        assert (eve["status"], eve["opens"], eve["closes"]) == (
            "modified",
            hhmmss(thursday["opens"]),
            "01:00:00",
        )
        assert eve["kitchen"] == data["regularHours"]["thursday"]["kitchen"]
        assert eve["schedule_config"] == json.loads(thursday["schedule_config"] or "[]")

    @BOTH
    async def test_the_version_in_force_on_the_date(
        self, client: httpx.AsyncClient, conn: asyncpg.Connection
    ) -> None:
        version = await conn.fetchval(
            """insert into business_hours_versions (effective_from, status, label, published_at)
               values ('2026-12-01', 'published', 'Winter', now()) returning id"""
        )
        await conn.execute(
            """insert into business_hours (day_of_week, opens, closes, kitchen_opens,
                                           kitchen_closes, is_closed, is_kitchen_closed,
                                           version_id)
               values (5, '11:00', '23:30', '11:30', '22:00', false, false, $1)""",
            version,
        )
        before = await ok(await client.get(f"{BASE}/business/hours?date={FRIDAY}"))
        after = await ok(await client.get(f"{BASE}/business/hours?date={ADVENT_FRIDAY}"))
        assert before["regularHours"]["friday"]["opens"] != "11:00:00"
        assert after["regularHours"]["friday"]["opens"] == "11:00:00"
        assert after["regularHours"]["friday"]["kitchen"] == {
            "opens": "11:30:00",
            "closes": "22:00:00",
        }

    @BOTH
    async def test_what_is_open_now(
        self, client: httpx.AsyncClient, conn: asyncpg.Connection, clock: FakeClock
    ) -> None:
        row = await conn.fetchrow("select * from business_hours where day_of_week = 2")
        assert row is not None
        # Tuesday 10:00: before opening.
        data = await ok(await client.get(f"{BASE}/business/hours"))
        status = data["currentStatus"]
        assert (status["isOpen"], status["kitchenOpen"], status["closesIn"]) == (False, False, None)
        hours_to_open = row["opens"].hour - 10
        assert status["opensIn"] == f"{hours_to_open} hours"
        assert data["today"]["date"] == "2026-11-24"
        assert data["today"]["dayName"] == "Tuesday"
        assert [d["date"] for d in data["upcomingWeek"]][:2] == ["2026-11-24", "2026-11-25"]
        # Tuesday 20:30: open, the kitchen closes at 21:00 in both pubs.
        clock.set(datetime(2026, 11, 24, 20, 30, tzinfo=UTC))
        status = (await ok(await client.get(f"{BASE}/business/hours")))["currentStatus"]
        assert (status["isOpen"], status["kitchenOpen"], status["opensIn"]) == (True, True, None)
        hours = row["closes"].hour - 21  # 23:00 on the demo pub, 22:00 on the pub's
        assert status["closesIn"] == f"{hours} hour{'s' if hours > 1 else ''} 30 minutes"

    @BOTH
    async def test_a_date_that_is_not_real_is_refused(self, client: httpx.AsyncClient) -> None:
        for date in ("2026-02-30", "27-11-2026", "2026-11-27T10:00", ""):
            response = await client.get(f"{BASE}/business/hours?date={date}")
            assert response.status_code == 400, date
            error = envelope_error(response)
            assert error["code"] == "VALIDATION_ERROR"
            assert error["message"] == "date must be a real calendar date in YYYY-MM-DD form"


# Load and table availability ------------------------------------------------------------------


class TestLoad:
    @BOTH
    async def test_the_slots_are_the_engines_and_an_available_one_books(
        self, client: httpx.AsyncClient, website: dict[str, str]
    ) -> None:
        table = await availability(client, website, FRIDAY, 4)
        assert table["contract_version"] == 1
        assert table["calculation_state"] == "complete"
        assert table["max_party_size_online"] == 20
        engine = (
            await client.get(
                "/api/table-bookings/availability",
                params={"date": FRIDAY, "party_size": 4},
                headers=website,
            )
        ).json()["data"]["time_slots"]
        assert [(s["time"], s["state"] == "available") for s in table["slots"]] == [
            (s["time"], s["available"]) for s in engine
        ]
        available = [s for s in table["slots"] if s["state"] == "available"]
        assert available
        assert all(s["public_reason"] is None and s["message"] is None for s in available)
        assert all(s["high_chairs_remaining"] == 2 for s in table["slots"])
        made = await book(client, website, FRIDAY, available[0]["time"], 4)
        assert made.status_code == 201, made.text

    @BOTH
    async def test_a_full_slot_is_tables_full_and_create_agrees(
        self, client: httpx.AsyncClient, website: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        for _ in range(20):
            slots = {
                s["time"]: s for s in (await availability(client, website, FRIDAY, 4))["slots"]
            }
            if slots["19:00"]["state"] == "unavailable":
                break
            made = await book(client, website, FRIDAY, "19:00", 4)
            assert made.status_code == 201, made.text
        assert slots["19:00"] == {
            "time": "19:00",
            "state": "unavailable",
            "public_reason": "tables_full",
            "message": TABLES_FULL,
            "high_chairs_remaining": 2,
        }
        refused = await book(client, website, FRIDAY, "19:00", 4)
        assert refused.status_code == 409, refused.text
        # The pub's own words for it, when it has set them.
        await set_setting(conn, "booking_message_tables_full", "Every table is taken then, sorry.")
        slots = {s["time"]: s for s in (await availability(client, website, FRIDAY, 4))["slots"]}
        assert slots["19:00"]["message"] == "Every table is taken then, sorry."

    @PUB
    async def test_kitchen_pacing_is_kitchen_full_and_create_agrees(
        self, client: httpx.AsyncClient, website: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        # Where the venue seats by tables: the pub's pacing, 25 covers a window on a Friday less
        # 6 for walk-ins = 19 (pub-engine-2026.md 3.1).
        await set_setting(conn, "kitchen_pacing_enabled", True)
        for _ in range(4):
            assert (await book(client, website, FRIDAY, "19:00", 4)).status_code == 201
        slots = {s["time"]: s for s in (await availability(client, website, FRIDAY, 4))["slots"]}
        assert (slots["19:00"]["public_reason"], slots["19:00"]["message"]) == (
            "kitchen_full",
            "Our kitchen is at capacity for that time. There is usually room a little earlier or "
            "later.",
        )
        assert slots["18:45"]["state"] == "available"
        assert (await book(client, website, FRIDAY, "19:00", 4)).status_code == 409
        three = {s["time"]: s for s in (await availability(client, website, FRIDAY, 3))["slots"]}
        assert three["19:00"]["state"] == "available"
        assert (await book(client, website, FRIDAY, "19:00", 3)).status_code == 201
        data = await ok(await load(client, website, f"date={FRIDAY}"))
        assert data["capacity"]["enabled"] is True
        grid = {s["time"]: s for s in data["slots"]}
        assert (grid["19:00"]["covers"], grid["19:00"]["remaining"]) == (19, 0)

    @PUB
    async def test_outside_full(self, client: httpx.AsyncClient, website: dict[str, str]) -> None:
        # Five outside tables of eight: five parties of eight fill them.
        for _ in range(5):
            made = await book(client, website, FRIDAY, "19:00", 8, is_outside_seating=True)
            assert made.status_code == 201, made.text
        query = f"date={FRIDAY}&party_size=2&purpose=food&outside=true"
        slots = {
            s["time"]: s
            for s in (await ok(await load(client, website, query)))["table_availability"]["slots"]
        }
        assert (slots["19:00"]["public_reason"], slots["19:00"]["message"]) == (
            "outside_full",
            "All our outside tables are taken for that time. We can seat you inside if you would "
            "like.",
        )
        refused = await book(client, website, FRIDAY, "19:00", 2, is_outside_seating=True)
        assert refused.status_code == 409, refused.text

    @BOTH
    async def test_too_large_and_closed_have_no_slots(
        self, client: httpx.AsyncClient, website: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        large = await availability(client, website, FRIDAY, 21)
        assert large["calculation_state"] == "complete"
        assert (large["slots"], large["public_reason"], large["message"]) == (
            [],
            "too_large",
            TOO_LARGE,
        )
        # Monday: the kitchen is closed in both pubs.
        monday = await availability(client, website, MONDAY, 2)
        assert (monday["slots"], monday["public_reason"], monday["message"]) == (
            [],
            "closed",
            CLOSED,
        )
        await conn.execute(
            """insert into special_hours (date, is_closed, is_kitchen_closed, note)
               values ('2026-12-25', true, true, 'Christmas Day') on conflict (date) do nothing"""
        )
        christmas = await availability(client, website, "2026-12-25", 2)
        assert (christmas["calculation_state"], christmas["public_reason"]) == (
            "complete",
            "closed",
        )

    @BOTH
    async def test_the_day_s_covers_thresholds_and_pacing_grid(
        self, client: httpx.AsyncClient, website: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        assert (await book(client, website, FRIDAY, "19:00", 4)).status_code == 201
        response = await load(client, website, f"date={FRIDAY}")
        data = await ok(response)
        assert response.headers["cache-control"] == "no-store"
        assert data["date"] == FRIDAY
        assert data["table_availability"] is None
        assert (
            data["window_minutes"],
            data["busy_threshold_covers"],
            data["filling_threshold_covers"],
        ) == (60, 30, 20)
        assert data["bookings"] == [{"time": "19:00", "covers": 4}]
        assert data["capacity"] == {
            "enabled": False,
            "window_minutes": 30,
            "ceiling_covers": 19,
            "walk_in_reserve": 6,
        }
        row = await conn.fetchrow("select * from business_hours where day_of_week = 5")
        assert row is not None
        times = [s["time"] for s in data["slots"]]
        assert times[0] == row["kitchen_opens"].strftime("%H:%M")
        assert times[-1] < row["kitchen_closes"].strftime("%H:%M")
        by_time = {s["time"]: s for s in data["slots"]}
        assert by_time["18:45"]["covers"] == 0
        assert by_time["19:00"] == {
            "time": "19:00",
            "covers": 4,
            "remaining": 15,
            "high_chairs_remaining": 2,
        }
        # The pub's settings for the thresholds; one out of range is its default.
        await set_setting(conn, "pacing_window_minutes", 90)
        await set_setting(conn, "pacing_busy_threshold_covers", 500)
        await set_setting(conn, "pacing_filling_threshold_covers", 12)
        data = await ok(await load(client, website, f"date={FRIDAY}"))
        assert (
            data["window_minutes"],
            data["busy_threshold_covers"],
            data["filling_threshold_covers"],
        ) == (90, 30, 12)

    @BOTH
    async def test_the_website_s_optional_fields(
        self, client: httpx.AsyncClient, website: dict[str, str], database_kind: str
    ) -> None:
        query = (
            f"date={FRIDAY}&party_size=2&purpose=drinks&outside=true"
            "&requires_accessible_table=true&high_chair_count=1"
        )
        table = (await ok(await load(client, website, query)))["table_availability"]
        assert table["calculation_state"] == "complete"
        assert (table["purpose"], table["outside"], table["requires_accessible_table"]) == (
            "drinks",
            True,
            True,
        )
        # Drinks hold a table 90 minutes where the venue seats by tables; the covers rule of a
        # venue without tables holds every booking its table_booking_duration_minutes (120).
        assert table["duration_minutes"] == (90 if database_kind == "pub" else 120)
        assert any(s["state"] == "available" for s in table["slots"])
        # parseInt's reading of the number, however long.
        huge = await ok(await load(client, website, f"date={FRIDAY}&party_size={'9' * 5000}"))
        assert huge["table_availability"]["public_reason"] == "too_large"
        # No party, party 0 or not a number: no table_availability, as the pub answers.
        for party in ("", "0", "abc"):
            data = await ok(await load(client, website, f"date={FRIDAY}&party_size={party}"))
            assert data["table_availability"] is None, party

    @BOTH
    async def test_a_failed_calculation_is_unknown_not_an_error(
        self, client: httpx.AsyncClient, website: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        await conn.execute(
            "alter function public.tb_day_slots_for(date, integer, public.table_booking_type,"
            " timestamptz, boolean, jsonb, public.tb_hours, jsonb) rename to tb_day_slots_gone"
        )
        response = await load(client, website, f"date={FRIDAY}&party_size=4&purpose=food")
        table = (await ok(response))["table_availability"]
        assert table["calculation_state"] == "unknown"
        assert (table["slots"], table["public_reason"], table["message"]) == (
            [],
            "unknown",
            UNKNOWN,
        )

    @BOTH
    async def test_bad_inputs_and_keys(
        self, client: httpx.AsyncClient, website: dict[str, str], make_key: Any
    ) -> None:
        for query in ("", "date=2026-11-31", "date=tomorrow"):
            response = await load(client, website, query)
            assert response.status_code == 400, query
            error = envelope_error(response)
            assert (error["code"], error["message"]) == (
                "VALIDATION_ERROR",
                "Date must use YYYY-MM-DD format",
            )
        missing = await client.get(f"{BASE}/table-bookings/load?date={FRIDAY}")
        assert (missing.status_code, envelope_error(missing)["code"]) == (401, "UNAUTHORIZED")
        menu_only = await make_key(["read:menu"])
        refused = await load(client, menu_only, f"date={FRIDAY}")
        assert (refused.status_code, envelope_error(refused)["code"]) == (403, "FORBIDDEN")
        # Counted against the key's limit, as the 2025 routes are.
        assert "x-ratelimit-remaining" in refused.headers


# Booking periods ----------------------------------------------------------------------------------


async def winter_period(conn: asyncpg.Connection, *, requires_preorder: bool = False) -> str:
    """A live Christmas-like period: 1 to 20 December, GBP 10 a head, 6 to 20 guests."""
    period_id: str = await conn.fetchval(
        """insert into booking_periods
             (code, period_kind, name, starts_on, ends_on, guest_question, guest_blurb,
              requires_preorder, deposit_basis, deposit_amount, refund_cutoff_days,
              min_party_size, max_party_size, min_notice_hours, is_active)
           values ('winter-feast-2026', 'christmas', 'Winter feast 2026', '2026-12-01',
                   '2026-12-20', 'Are you joining us for the winter feast?',
                   'Three courses by the fire.', $1, 'per_head', 10, 7, 6, 20, 24, true)
           returning id::text""",
        requires_preorder,
    )
    return period_id


async def periods(client: httpx.AsyncClient, key: dict[str, str], query: str) -> httpx.Response:
    return await client.get(f"{BASE}/table-bookings/periods?{query}", headers=key)


class TestPeriods:
    @BOTH
    async def test_a_party_of_eight_accepting_pays_the_period_and_declining_nothing(
        self, client: httpx.AsyncClient, website: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        period_id = await winter_period(conn)
        data = await ok(await periods(client, website, f"date={ADVENT_FRIDAY}&party_size=8"))
        period = data["period"]
        assert (period["id"], period["code"], period["period_kind"]) == (
            period_id,
            "winter-feast-2026",
            "christmas",
        )
        assert period["guest_question"] == "Are you joining us for the winter feast?"
        assert period["guest_blurb"] == "Three courses by the fire."
        assert (period["bookable"], period["not_bookable_message"], period["menu"]) == (
            True,
            None,
            [],
        )
        deposit = data["deposit"]
        assert (deposit["party_size"], deposit["collect"]) == (8, True)
        assert deposit["if_accepted_rejection"] is None
        accepted = deposit["if_accepted"]
        assert accepted["required"] is True
        assert accepted["amount"] == 80
        assert (accepted["rule"], accepted["basis"], accepted["rate"]) == ("period", "per_head", 10)
        assert (accepted["refund_cutoff_days"], accepted["refund_policy"]) == (7, REFUND_7)
        declined = deposit["if_declined"]
        assert (declined["required"], declined["amount"], declined["rule"]) == (False, 0, "none")
        assert (declined["refund_policy"], declined["reason"]) == (
            None,
            "No deposit is due for this booking.",
        )

    @BOTH
    async def test_a_party_of_sixteen_pays_the_group_deposit_when_declining(
        self, client: httpx.AsyncClient, website: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        await winter_period(conn)
        answer = await ok(await periods(client, website, f"date={ADVENT_FRIDAY}&party_size=16"))
        deposit = answer["deposit"]
        # Accepting: the period's 160 ties the group's 160, and a tie goes to the period.
        assert (deposit["if_accepted"]["amount"], deposit["if_accepted"]["rule"]) == (160, "period")
        declined = deposit["if_declined"]
        assert (declined["required"], declined["amount"], declined["rule"]) == (True, 160, "group")
        assert (declined["basis"], declined["rate"]) == ("per_head", 10)
        # Too small to accept: why, and the ordinary terms.
        small = (await ok(await periods(client, website, f"date={ADVENT_FRIDAY}&party_size=4")))[
            "deposit"
        ]
        assert small["if_accepted"] is None
        assert small["if_accepted_rejection"] == {
            "code": "period_party_too_small",
            "message": "That booking period has a larger minimum party size.",
        }
        assert small["if_declined"]["rule"] == "none"

    @BOTH
    async def test_an_ordinary_date_has_no_period(
        self, client: httpx.AsyncClient, website: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        await winter_period(conn)
        # Section 4.2: no live period, no deposit answer (the create still charges a group of
        # 16 its deposit: tests/test_deposits_by_rule.py).
        data = await ok(await periods(client, website, f"date={FRIDAY}&party_size=16"))
        assert data == {"date": FRIDAY, "period": None, "deposit": None}
        # Without a party: the period, no deposit.
        data = await ok(await periods(client, website, f"date={ADVENT_FRIDAY}"))
        assert data["period"]["code"] == "winter-feast-2026"
        assert data["deposit"] is None

    @BOTH
    async def test_a_period_whose_menu_is_not_ready_cannot_be_accepted(
        self, client: httpx.AsyncClient, website: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        period_id = await winter_period(conn, requires_preorder=True)
        data = await ok(await periods(client, website, f"date={ADVENT_FRIDAY}&party_size=8"))
        assert (data["period"]["bookable"], data["period"]["not_bookable_reason"]) == (
            False,
            "menu_not_ready",
        )
        assert data["period"]["not_bookable_message"].startswith(
            "The menu for this period has not been published yet"
        )
        assert data["deposit"]["if_accepted"] is None
        assert data["deposit"]["if_accepted_rejection"]["code"] == "period_menu_not_ready"
        await conn.execute(
            """insert into booking_period_menu_items (period_id, course, name, sort_order)
               values ($1, 'main', 'Roast turkey', 1)""",
            period_id,
        )
        data = await ok(await periods(client, website, f"date={ADVENT_FRIDAY}&party_size=8"))
        assert data["period"]["bookable"] is True
        assert [(m["course"], m["name"]) for m in data["period"]["menu"]] == [
            ("main", "Roast turkey")
        ]
        assert data["deposit"]["if_accepted"]["amount"] == 80

    @BOTH
    async def test_bad_inputs(self, client: httpx.AsyncClient, website: dict[str, str]) -> None:
        cases = {
            "date=2026-13-01": "Date must use YYYY-MM-DD format",
            "party_size=8": "Date must use YYYY-MM-DD format",
            f"date={FRIDAY}&party_size=0": "party_size must be between 1 and 200",
            f"date={FRIDAY}&party_size=201": "party_size must be between 1 and 200",
            f"date={FRIDAY}&party_size=eight": "party_size must be between 1 and 200",
        }
        for query, message in cases.items():
            response = await periods(client, website, query)
            assert response.status_code == 400, query
            error = envelope_error(response)
            assert (error["code"], error["message"]) == ("VALIDATION_ERROR", message)


# Menus --------------------------------------------------------------------------------------------


class TestMenus:
    @BOTH
    async def test_the_sunday_lunch_dishes(
        self,
        client: httpx.AsyncClient,
        website: dict[str, str],
        conn: asyncpg.Connection,
        database_kind: str,
    ) -> None:
        data = await ok(await client.get(f"{BASE}/menu/sunday-lunch", headers=website))
        assert isinstance(data["mains"], list)
        assert isinstance(data["sides"], list)
        if database_kind == "pub":
            # The pub's sunday_lunch menu: its dish ids, as the pub's route answers.
            rows = await conn.fetch(
                """select d.id::text, d.name, c.code from menu_dish_menu_assignments a
                   join menu_menus m on m.id = a.menu_id and m.code = 'sunday_lunch'
                   join menu_dishes d on d.id = a.dish_id and d.is_active
                   join menu_categories c on c.id = a.category_id"""
            )
        else:
            rows = await conn.fetch(
                """select id::text, name, category as code from sunday_lunch_menu_items
                   where is_active"""
            )
        mains = {r["id"]: r["name"] for r in rows if "side" not in r["code"]}
        sides = {r["id"]: r["name"] for r in rows if "side" in r["code"]}
        assert {m["id"]: m["name"] for m in data["mains"]} == mains
        assert {s["id"]: s["name"] for s in data["sides"]} == sides
        assert all(m["is_available"] is True for m in data["mains"])
        assert all(s["included"] is (s["price"] == 0) for s in data["sides"])
        assert any(s["included"] for s in data["sides"])

    @PUB
    async def test_a_menu_by_its_code(
        self, client: httpx.AsyncClient, website: dict[str, str], clock: FakeClock
    ) -> None:
        food = await ok(await client.get(f"{BASE}/menu", headers=website))
        assert (food["menu_code"], food["menu_name"]) == ("website_food", "Website Food Menu")
        assert food["menu"]["@type"] == "Menu"
        assert [s["name"] for s in food["sections"]][:2] == ["Starters", "Light Bites"]
        christmas = await ok(await client.get(f"{BASE}/menu?menu=CHRISTMAS", headers=website))
        items = [i for s in christmas["sections"] for i in s["items"]]
        assert items
        assert all(i["available_until"] == "2026-12-20" for i in items)
        # The day after, the Christmas dishes are off sale.
        clock.set(datetime(2026, 12, 21, 10, 0, tzinfo=UTC))
        christmas = await ok(await client.get(f"{BASE}/menu?menu=christmas", headers=website))
        assert [i for s in christmas["sections"] for i in s["items"]] == []
        kids = await client.get(f"{BASE}/menu?menu=kids", headers=website)
        assert (kids.status_code, envelope_error(kids)["message"]) == (
            404,
            "Menu configuration missing",
        )

    @FRESH
    async def test_without_the_pub_s_menu_tables_there_is_no_menu(
        self, client: httpx.AsyncClient, website: dict[str, str]
    ) -> None:
        response = await client.get(f"{BASE}/menu", headers=website)
        assert response.status_code == 404
        error = envelope_error(response)
        assert (error["code"], error["message"]) == ("NOT_FOUND", "Menu configuration missing")

    @BOTH
    async def test_an_unknown_code_and_the_scope(
        self, client: httpx.AsyncClient, website: dict[str, str], make_key: Any
    ) -> None:
        response = await client.get(f"{BASE}/menu?menu=lunch", headers=website)
        assert response.status_code == 400
        assert envelope_error(response)["message"] == (
            "Unknown menu code. Allowed values: website_food, kids, sunday_lunch, christmas, drinks"
        )
        tables_only = await make_key(["read:table_bookings"])
        for path in ("/menu", "/menu/sunday-lunch"):
            refused = await client.get(f"{BASE}{path}", headers=tables_only)
            assert (refused.status_code, envelope_error(refused)["code"]) == (403, "FORBIDDEN")
        everything = await make_key(["*"])
        assert (
            await client.get(f"{BASE}/menu/sunday-lunch", headers=everything)
        ).status_code == 200


# OPTIONS and headers --------------------------------------------------------------------------


class TestOptions:
    async def test_options_answers_as_the_pub_s(self, client: httpx.AsyncClient) -> None:
        for path in ("/table-bookings/load", "/menu", "/menu/sunday-lunch"):
            response = await client.options(f"{BASE}{path}")
            assert response.status_code == 200, path
            assert response.json() == {"success": True, "data": {}}
            assert response.headers["access-control-allow-origin"] == "https://www.the-anchor.pub"
        preflight = await client.options(f"{BASE}/table-bookings/periods")
        assert preflight.status_code == 200
        assert preflight.headers["access-control-max-age"] == "86400"
        assert "X-Turnstile-Token" in preflight.headers["access-control-allow-headers"]
