"""The pub's engine through the API, where the venue seats by tables (issue 15).

A fresh database with the pub's live floor (pub-engine-2026.md 1.1, 1.2 and 4): the twelve
tables, the eleven join links and the two standing walk-in holds. The suite's clock is Tuesday
24 November 2026 10:00, so Friday 27 November is more than 24 hours ahead: walk-in holds and table
minimums apply to online bookings.
"""

from __future__ import annotations

import itertools
import json
import random
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import FakeClock, create_booking, envelope_error, regular_body
from tests.pub_floor import add_live_join_links, set_setting

BASE = "/api/table-bookings"
FRIDAY = "2026-11-27"
MONDAY = "2026-11-30"
_PHONES = itertools.count(100)

#: The pub's floor: number, name, capacity, priority, bar priority, minimum party, step-free,
#: standard height, high-chair capable, bookable.
FLOOR = [
    ("8", "Dining Room 4a", 4, 10, 60, 1, True, True, True, True),
    ("9", "Dining Room 4b", 4, 20, 70, 1, True, True, True, True),
    ("10", "Dining Room 6a", 6, 30, 80, 4, True, True, True, True),
    ("11", "Dining Room 6b", 6, 40, 90, 4, True, True, True, True),
    ("12", "Dining Room 6c", 6, 50, 100, 4, True, True, True, True),
    ("3", "Small Bay", 5, 60, 40, 1, False, True, True, True),
    ("2", "Big Bay", 6, 70, 50, 4, True, True, True, True),
    ("4", "Low 4a", 4, 80, 10, 1, True, True, True, True),
    ("5", "Low 4b", 4, 90, 20, 1, True, True, True, True),
    ("6", "High 4", 4, 100, 30, 1, True, False, False, True),
    ("1", "Electric Cupbard", 4, 999, 999, 1, True, True, True, False),
    ("7", "High 2", 4, 999, 999, 1, True, True, True, False),
]


@pytest.fixture
async def floor(conn: asyncpg.Connection) -> dict[str, str]:
    """The pub's floor on the fresh database: table ids by name."""
    return await build_floor(conn)


async def build_floor(conn: asyncpg.Connection) -> dict[str, str]:
    """The pub's floor (FLOOR, its join links and standing walk-in holds): table ids by name."""
    ids: dict[str, str] = {}
    for number, name, cap, prio, bar, minimum, step, standard, chair, bookable in FLOOR:
        ids[name] = str(
            await conn.fetchval(
                """insert into tables (table_number, name, capacity, priority, bar_priority,
                                       min_party_size, step_free, standard_height,
                                       high_chair_capable, is_bookable)
                   values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) returning id""",
                number,
                name,
                cap,
                prio,
                bar,
                minimum,
                step,
                standard,
                chair,
                bookable,
            )
        )
    await add_live_join_links(conn)
    for name in ("Low 4a", "High 4"):
        await conn.execute(
            """insert into table_holds (scope, table_id, hold_type, status, starts_on, note)
               values ('table', $1, 'walk_in_hold', 'active', '2026-01-01', $2)""",
            ids[name],
            f"Standing walk-in hold: {name}",
        )
    return ids


async def one(conn: asyncpg.Connection, sql: str, *args: Any) -> asyncpg.Record:
    row = await conn.fetchrow(sql, *args)
    assert row is not None, sql
    return row


async def tables_of(conn: asyncpg.Connection, booking_id: str) -> list[str]:
    rows = await conn.fetch(
        """select t.name from booking_table_assignments a join tables t on t.id = a.table_id
           where a.table_booking_id = $1 order by t.name""",
        booking_id,
    )
    return [r["name"] for r in rows]


async def book(
    client: httpx.AsyncClient, headers: dict[str, str], time: str, party: int, **extra: Any
) -> httpx.Response:
    phone = f"07700 900{next(_PHONES):03d}"
    return await client.post(
        BASE, json=regular_body(FRIDAY, time, party, phone=phone, **extra), headers=headers
    )


async def fill_the_floor(client: httpx.AsyncClient, staff: dict[str, str], time: str) -> None:
    """Every bookable table taken at ``time`` (Friday), one staff booking each."""
    for party in (6, 6, 6, 6, 5, 4, 4, 4, 4, 4):
        assert (await book(client, staff, time, party)).status_code == 201


class TestSeating:
    async def test_parties_get_the_tables_the_pub_would_give_them(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        floor: dict[str, str],
        conn: asyncpg.Connection,
    ) -> None:
        # pub-engine-2026.md 1.4, on an empty floor: each at its own time.
        cases = [
            ("12:00", 2, "Dining Room 4a"),
            ("14:30", 5, "Small Bay"),
            ("17:00", 8, "Dining Room 4a + Dining Room 4b"),
            ("19:30", 6, "Dining Room 6a"),
        ]
        for time, party, expected in cases:
            response = await book(client, key, time, party)
            assert response.status_code == 201, response.text
            data = response.json()["data"]
            assert data["table_name"] == expected, (time, party)
            assert data["tables_joined"] is ("+" in expected)
            assert await tables_of(conn, data["booking_id"]) == sorted(expected.split(" + "))

    async def test_the_booking_shows_its_tables_to_the_guest(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        floor: dict[str, str],
    ) -> None:
        made = (await book(client, key, "17:00", 8)).json()["data"]
        outside = (await book(client, key, "19:00", 6, is_outside_seating=True)).json()["data"]
        seen = {}
        for booking in (made, outside):
            response = await client.get(
                f"{BASE}/{booking['booking_reference']}",
                headers={"X-Booking-Token": booking["manage_token"]},
            )
            assert response.status_code == 200, response.text
            data = response.json()["data"]
            seen[booking["booking_reference"]] = (data["table_name"], data["is_outside_seating"])
        assert seen == {
            made["booking_reference"]: ("Dining Room 4a + Dining Room 4b", False),
            outside["booking_reference"]: ("Outside", True),
        }

    async def test_the_assignment_holds_the_table_for_the_booking_s_window(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        floor: dict[str, str],
        conn: asyncpg.Connection,
    ) -> None:
        made = (await book(client, key, "19:00", 4)).json()["data"]
        row = await one(
            conn,
            """select b.start_datetime, b.end_datetime, b.duration_minutes, a.start_datetime as a_s,
                      a.end_datetime as a_e, b.committed_party_size, b.booking_purpose
               from table_bookings b join booking_table_assignments a
                 on a.table_booking_id = b.id where b.id = $1""",
            made["booking_id"],
        )
        assert (row["a_s"], row["a_e"]) == (row["start_datetime"], row["end_datetime"])
        assert row["duration_minutes"] == 120
        assert (row["committed_party_size"], row["booking_purpose"]) == (4, "food")

    async def test_turn_times_size_the_stay_and_the_turnaround_only_the_table(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        floor: dict[str, str],
        conn: asyncpg.Connection,
    ) -> None:
        await set_setting(conn, "turn_times_enabled", True)
        made = (await book(client, key, "17:00", 4)).json()["data"]
        assert made["duration_minutes"] == 105
        row = await one(
            conn,
            """select extract(epoch from b.end_datetime - b.start_datetime) / 60 as guest,
                      extract(epoch from a.end_datetime - a.start_datetime) / 60 as held
               from table_bookings b join booking_table_assignments a on a.table_booking_id = b.id
               where b.id = $1""",
            made["booking_id"],
        )
        assert (row["guest"], row["held"]) == (105, 120)
        # A party of 4 at 18:45 cannot have Dining Room 4a (held until 19:00), at 19:00 it can.
        later = (await book(client, key, "18:45", 4)).json()["data"]
        assert later["table_name"] == "Dining Room 4b"
        again = (await book(client, key, "19:00", 3)).json()["data"]
        assert again["table_name"] == "Dining Room 4a"

    async def test_walk_in_holds_keep_tables_from_the_website_not_from_staff(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        make_staff: Any,
        floor: dict[str, str],
    ) -> None:
        online = (await book(client, key, "19:00", 2, purpose="drinks")).json()["data"]
        assert online["table_name"] == "Low 4b"
        staff = await make_staff("manager")
        by_staff = (await book(client, staff, "19:00", 2, purpose="drinks")).json()["data"]
        assert by_staff["table_name"] == "Low 4a"

    async def test_a_join_may_use_a_held_table(
        self, client: httpx.AsyncClient, key: dict[str, str], floor: dict[str, str]
    ) -> None:
        made = (await book(client, key, "19:00", 7, purpose="drinks")).json()["data"]
        assert made["table_name"] == "Low 4a + Low 4b"

    async def test_accessible_tables_and_high_chairs(
        self, client: httpx.AsyncClient, key: dict[str, str], floor: dict[str, str]
    ) -> None:
        accessible = await book(client, key, "12:00", 5, requires_accessible_table=True)
        assert accessible.json()["data"]["table_name"] == "Dining Room 6a"
        chairs = (await book(client, key, "14:30", 2, high_chair_count=2)).json()["data"]
        assert (chairs["high_chairs_granted"], chairs["high_chairs_short"]) == (2, 0)
        more = (await book(client, key, "15:00", 2, high_chair_count=1)).json()["data"]
        # Both chairs are at the 14:30 table until 16:30: booked anyway, without one.
        assert (more["high_chairs_granted"], more["high_chairs_short"]) == (0, 1)

    async def test_a_full_floor_is_no_table_in_words(
        self,
        client: httpx.AsyncClient,
        make_staff: Any,
        key: dict[str, str],
        floor: dict[str, str],
    ) -> None:
        staff = await make_staff("manager")
        await fill_the_floor(client, staff, "19:00")
        refused = await book(client, key, "19:00", 2)
        assert refused.status_code == 409, refused.text
        error = envelope_error(refused)
        assert error["code"] == "NO_AVAILABILITY"
        assert error["details"]["reason"] == "no_table"
        assert error["details"]["public_reason"] == "tables_full"
        assert error["message"] == (
            "We are fully booked at that time. Please try another time or give us a ring."
        )
        slots = (
            await client.get(
                f"{BASE}/availability", params={"date": FRIDAY, "party_size": 2}, headers=key
            )
        ).json()["data"]["time_slots"]
        by_time = {s["time"]: s for s in slots}
        # Slots every 15 minutes; 17:00 ends as the 19:00 bookings start (touching is free).
        assert [s["time"] for s in slots][:3] == ["12:00", "12:15", "12:30"]
        assert by_time["17:00"]["available"] is True
        assert by_time["17:15"]["reason"] == "no_table"
        assert by_time["17:15"]["message"].startswith("We are fully booked")
        assert by_time["19:00"]["available_capacity"] == 0

    async def test_a_cancelled_booking_frees_its_table(
        self, client: httpx.AsyncClient, key: dict[str, str], floor: dict[str, str]
    ) -> None:
        first = (await book(client, key, "19:00", 2)).json()["data"]
        cancelled = await client.post(
            f"{BASE}/{first['booking_reference']}/cancel", json={}, headers=key
        )
        assert cancelled.status_code == 200, cancelled.text
        again = (await book(client, key, "19:00", 2)).json()["data"]
        assert again["table_name"] == "Dining Room 4a"


class TestStaffChoices:
    @pytest.mark.parametrize(
        "choice",
        [
            {"deposit_waived": True},
            {"bypass_pacing": True},
            {"pin": True},
            {"table_overrides": {"allow_unjoined": True}},
        ],
    )
    async def test_a_key_may_not_make_staff_choices(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        floor: dict[str, str],
        conn: asyncpg.Connection,
        choice: dict[str, Any],
    ) -> None:
        response = await book(client, key, "19:00", 16, **choice)
        assert response.status_code == 403, response.text
        assert envelope_error(response)["details"]["fields"] == list(choice)
        assert await conn.fetchval("select count(*) from table_bookings") == 0

    async def test_staff_overrides_are_audited(
        self,
        client: httpx.AsyncClient,
        make_staff: Any,
        floor: dict[str, str],
        conn: asyncpg.Connection,
    ) -> None:
        staff = await make_staff("manager")
        made = await book(client, staff, "19:00", 30, table_overrides={"allow_unjoined": True})
        # Over the policy's 20 guests even for staff (booking_policies.max_party_size).
        assert made.status_code == 422, made.text
        made = await book(
            client,
            staff,
            "19:00",
            18,
            table_overrides={"allow_unjoined": True},
            deposit_waived=True,
            pin=True,
        )
        assert made.status_code == 201, made.text
        data = made.json()["data"]
        assert data["status"] == "confirmed"
        row = await one(
            conn,
            "select deposit_rule, deposit_waived, table_pinned from table_bookings where id = $1",
            data["booking_id"],
        )
        assert dict(row) == {"deposit_rule": "waived", "deposit_waived": True, "table_pinned": True}
        audit = await one(
            conn,
            """select resource_type, additional_info from audit_logs
               where operation_type = 'table_booking.table_override'""",
        )
        assert audit["resource_type"] == "table_booking_override"
        info = json.loads(audit["additional_info"])
        assert info["overrides"] == {
            "allow_unjoined": True,
            "ignore_minimum": False,
            "ignore_hold": False,
            "ignore_accessibility": False,
        }
        assert (info["deposit_waived"], info["pin"]) == (True, True)


class TestPacingAndDrinks:
    async def test_the_kitchen_is_paced_and_staff_may_bypass_it(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        make_staff: Any,
        floor: dict[str, str],
        conn: asyncpg.Connection,
    ) -> None:
        await set_setting(conn, "kitchen_pacing_enabled", True)
        # Friday: 25 covers a window less 6 for walk-ins = 19 (pub-engine-2026.md 3.1).
        for party in (4, 6, 6):
            assert (await book(client, key, "19:00", party)).status_code == 201
        refused = await book(client, key, "19:00", 4)
        assert refused.status_code == 409
        assert envelope_error(refused)["details"]["reason"] == "slot_full"
        assert envelope_error(refused)["message"].startswith("Our kitchen is at capacity")
        assert (await book(client, key, "19:00", 3)).status_code == 201
        staff = await make_staff("manager")
        assert (await book(client, staff, "19:00", 4)).status_code == 409
        assert (await book(client, staff, "19:00", 4, bypass_pacing=True)).status_code == 201

    async def test_drinks_keep_the_pub_s_hours(
        self, client: httpx.AsyncClient, key: dict[str, str], floor: dict[str, str]
    ) -> None:
        # Monday: the kitchen is closed, the pub open 16:00-23:00.
        food = await client.post(BASE, json=regular_body(MONDAY, "19:00", 2), headers=key)
        assert food.status_code == 422
        drinks = await client.post(
            BASE, json=regular_body(MONDAY, "19:00", 2, purpose="drinks"), headers=key
        )
        assert drinks.status_code == 201, drinks.text
        assert drinks.json()["data"]["duration_minutes"] == 90
        slots = (
            await client.get(
                f"{BASE}/availability",
                params={"date": MONDAY, "party_size": 2, "purpose": "drinks"},
                headers=key,
            )
        ).json()["data"]["time_slots"]
        assert (slots[0]["time"], slots[-1]["time"]) == ("16:00", "22:30")


class TestDeposits:
    async def test_a_group_of_fifteen_pays_ten_pounds_a_head(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        floor: dict[str, str],
        conn: asyncpg.Connection,
    ) -> None:
        fourteen = (await book(client, key, "12:00", 14)).json()["data"]
        assert (fourteen["status"], fourteen["payment_details"]) == ("confirmed", None)
        made = (await book(client, key, "19:00", 16)).json()["data"]
        assert made["status"] == "pending_payment"
        assert made["payment_details"]["deposit_amount"] == "160.00"
        row = await one(
            conn,
            """select deposit_rule, deposit_basis, deposit_rate, deposit_amount, hold_expires_at,
                      start_datetime from table_bookings where id = $1""",
            made["booking_id"],
        )
        assert (row["deposit_rule"], row["deposit_basis"]) == ("group", "per_head")
        assert (str(row["deposit_rate"]), str(row["deposit_amount"])) == ("10.00", "160.00")

    async def test_the_deposit_is_asked_in_availability(
        self, client: httpx.AsyncClient, key: dict[str, str], floor: dict[str, str]
    ) -> None:
        for party, prepay in ((14, False), (15, True)):
            data = (
                await client.get(
                    f"{BASE}/availability",
                    params={"date": FRIDAY, "party_size": party},
                    headers=key,
                )
            ).json()["data"]
            assert {s["requires_prepayment"] for s in data["time_slots"]} == {prepay}


class TestChanges:
    async def test_a_bigger_party_is_reseated(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        floor: dict[str, str],
        conn: asyncpg.Connection,
    ) -> None:
        made = (await book(client, key, "12:00", 2)).json()["data"]
        response = await client.patch(
            f"{BASE}/{made['booking_reference']}", json={"party_size": 5}, headers=key
        )
        assert response.status_code == 200, response.text
        assert await tables_of(conn, made["booking_id"]) == ["Small Bay"]

    async def test_a_move_to_a_full_time_is_refused_and_changes_nothing(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        make_staff: Any,
        floor: dict[str, str],
        conn: asyncpg.Connection,
        clock: FakeClock,
    ) -> None:
        staff = await make_staff("manager")
        await fill_the_floor(client, staff, "19:00")
        made = (await book(client, key, "12:00", 2)).json()["data"]
        response = await client.patch(
            f"{BASE}/{made['booking_reference']}", json={"time": "19:00"}, headers=key
        )
        assert response.status_code == 409, response.text
        assert envelope_error(response)["details"]["reason"] == "no_table"
        row = await one(
            conn, "select booking_time::text from table_bookings where id = $1", made["booking_id"]
        )
        assert row["booking_time"] == "12:00:00"
        assert await tables_of(conn, made["booking_id"]) == ["Dining Room 4a"]

    async def test_growing_into_a_deposit_is_refused_online(
        self, client: httpx.AsyncClient, key: dict[str, str], floor: dict[str, str]
    ) -> None:
        made = (await book(client, key, "19:00", 12)).json()["data"]
        response = await client.patch(
            f"{BASE}/{made['booking_reference']}", json={"party_size": 15}, headers=key
        )
        assert response.status_code == 422, response.text
        error = envelope_error(response)
        assert error["details"]["reason"] == "DEPOSIT_DUE"
        assert "£150.00" in error["message"]


class TestWithoutTables:
    async def test_a_venue_without_tables_keeps_the_covers_rule(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        made = await create_booking(client, key, regular_body(FRIDAY, "19:00", 4))
        assert made["table_name"] is None
        assert await conn.fetchval("select count(*) from booking_table_assignments") == 0
        refused = await client.post(
            BASE, json=regular_body(FRIDAY, "19:00", 2, is_outside_seating=True), headers=key
        )
        assert refused.status_code == 400


class TestTheWorkedDay:
    """The README's worked day ("The booking rules"), step by step: Friday 27 November on the
    pub's floor, kitchen pacing on with the pub's seeded weekday values (19 covers a window)."""

    async def test_the_worked_day(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        make_staff: Any,
        floor: dict[str, str],
        conn: asyncpg.Connection,
    ) -> None:
        await set_setting(conn, "kitchen_pacing_enabled", True)
        staff = await make_staff("manager")
        steps: list[tuple[str, dict[str, str], str, int, dict[str, Any]]] = [
            ("1", key, "18:00", 2, {}),
            ("2", key, "18:00", 5, {}),
            ("3", key, "18:30", 8, {}),
            ("4", key, "18:15", 6, {}),
            ("5", key, "18:15", 2, {}),
            ("6", key, "18:15", 3, {}),
            ("7", staff, "18:15", 2, {}),
            ("8", key, "20:00", 2, {}),
            ("9", key, "19:30", 16, {}),
            ("10", key, "21:00", 16, {}),
            ("11", key, "18:10", 2, {}),
            ("12", key, "19:00", 2, {"purpose": "drinks"}),
        ]
        outcomes = {}
        for step, who, time, party, extra in steps:
            response = await book(client, who, time, party, **extra)
            body = response.json()
            if response.status_code == 201:
                data = body["data"]
                outcomes[step] = (
                    data["status"],
                    data["table_name"],
                    (data["payment_details"] or {}).get("deposit_amount"),
                )
            else:
                outcomes[step] = (
                    response.status_code,
                    body["error"]["details"].get("reason"),
                    body["error"]["message"],
                )
        full = "We are fully booked at that time. Please try another time or give us a ring."
        assert outcomes == {
            "1": ("confirmed", "Dining Room 4a", None),
            "2": ("confirmed", "Small Bay", None),
            "3": ("confirmed", "Low 4a + Low 4b", None),
            "4": ("confirmed", "Dining Room 6a", None),
            "5": ("confirmed", "Dining Room 4b", None),
            "6": ("confirmed", "Dining Room 6b + Dining Room 6c", None),
            "7": (
                409,
                "slot_full",
                "Our kitchen is at capacity for that time. There is usually room a little "
                "earlier or later.",
            ),
            "8": ("confirmed", "Dining Room 4a", None),
            "9": (409, "no_table", full),
            "10": (
                "pending_payment",
                "Dining Room 4b + Dining Room 6a + Dining Room 6b",
                "160.00",
            ),
            "11": (
                422,
                "NOT_A_SLOT",
                "Tables are booked every 15 minutes from 12:00, so 18:10 is not a time we can "
                "book. The nearest times are 18:00 and 18:15.",
            ),
            "12": (409, "no_table", full),
        }


class TestOnePassAvailability:
    """Availability answers every slot in one pass (tb_day_tables, tb_pacing_load); a create
    asks tb_seat_verdict for its one slot. On random floors the two agree on every slot."""

    @pytest.mark.parametrize("seed", [1, 2, 3, 4])
    async def test_every_slot_answers_as_a_create_would(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        make_staff: Any,
        floor: dict[str, str],
        conn: asyncpg.Connection,
        clock: FakeClock,
        seed: int,
    ) -> None:
        rng = random.Random(seed)
        await set_setting(conn, "kitchen_pacing_enabled", seed % 2 == 1)
        await set_setting(conn, "turn_times_enabled", seed > 2)
        await set_setting(conn, "drinks_arrivals_ceiling", 12)
        held = rng.choice(list(floor))
        await conn.execute(
            """insert into table_holds (scope, table_id, hold_type, status, starts_on, starts_at,
                                        ends_at, note)
               values ('table', $1, 'maintenance', 'active', $2::text::date, '17:00', '19:30',
                       'x')""",
            floor[held],
            FRIDAY,
        )
        staff = await make_staff("manager")
        grid_times = [f"{h:02d}:{m:02d}" for h in range(12, 21) for m in (0, 15, 30, 45)]
        made = []
        for _ in range(30):
            who = rng.choice([key, staff])
            response = await book(
                client,
                who,
                rng.choice(grid_times),
                rng.randint(1, 10),
                purpose=rng.choice(["food", "food", "drinks"]),
            )
            if response.status_code == 201:
                made.append(response.json()["data"])
        for booking in rng.sample(made, k=len(made) // 5):
            await client.post(
                f"{BASE}/{booking['booking_reference']}/cancel", json={}, headers=staff
            )
        compared = 0
        for party in (1, 2, 4, 5, 7, 9, 12):
            for purpose in ("food", "drinks"):
                accessible = rng.random() < 0.3
                chairs = rng.choice([0, 0, 1])
                data = (
                    await client.get(
                        f"{BASE}/availability",
                        params={
                            "date": FRIDAY,
                            "party_size": party,
                            "purpose": purpose,
                            "requires_accessible_table": str(accessible).lower(),
                            "high_chair_count": chairs,
                        },
                        headers=key,
                    )
                ).json()["data"]
                for slot in data["time_slots"]:
                    verdict = await conn.fetchval(
                        """select v.reason
                           from tb_hours_of($1::text::date, $3) h,
                                tb_seat_verdict($1::text::date, $2::text::time,
                                  tb_start_instant($1::text::date, $2::text::time, h.opens,
                                                   h.overnight),
                                  $4, $3, 'online', false, $5, $6, null, false, $7, null) v""",
                        FRIDAY,
                        slot["time"],
                        purpose,
                        party,
                        accessible,
                        chairs,
                        clock.now,
                    )
                    assert slot["reason"] == verdict, (party, purpose, accessible, chairs, slot)
                    compared += 1
        assert compared > 300


class TestMessages:
    async def test_the_confirmation_and_the_staff_alert_name_the_tables(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        floor: dict[str, str],
        conn: asyncpg.Connection,
    ) -> None:
        body = regular_body(FRIDAY, "17:00", 8, phone="07700 900555", high_chair_count=1)
        body["customer"]["email"] = "ann@example.com"
        await create_booking(client, key, body)
        response = await client.get(
            "/api/cron/process-jobs",
            headers={"Authorization": "Bearer test-cron-secret-0123456789"},
        )
        assert response.status_code == 200, response.text
        rows = await conn.fetch(
            "select recipient, body from table_booking_outbox where channel = 'email'"
            " order by recipient"
        )
        bodies = {r["recipient"]: r["body"] for r in rows}
        for recipient in ("ann@example.com", "manager@the-anchor.pub"):
            assert "Table: Dining Room 4a + Dining Room 4b\nHigh chairs: 1\n" in bodies[recipient]
