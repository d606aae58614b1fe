"""The embedded default's demo data seats by tables (supabase/seed.sql: the pub's floor).

Every test here runs on a fresh database with the demo data as ``load_demo_data_once`` loads it
for a new user, its floor of tables included (the rest of the suite removes the floor to test
the covers rule). The suite's clock reads Tue 2026-11-24 10:00 London; the evening booked is
Fri 2026-11-27 19:00, more than 24 hours ahead, so walk-in holds and minimum party sizes bite
for online guests.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import FakeClock, create_booking, regular_body

FRIDAY = "2026-11-27"


@pytest.fixture
def database_url(demo_database_url: str) -> str:
    """This module's tests (and their conn, db, app, client and key) use the demo database."""
    return demo_database_url


async def seated(conn: asyncpg.Connection, booking_id: str) -> list[str]:
    rows = await conn.fetch(
        "select t.name from booking_table_assignments a join tables t on t.id = a.table_id"
        " where a.table_booking_id = $1::uuid order by t.name",
        booking_id,
    )
    return [r["name"] for r in rows]


async def test_the_demo_floor_is_the_pubs(conn: asyncpg.Connection) -> None:
    floor = await conn.fetch(
        "select table_number, name, capacity, priority, bar_priority, min_party_size,"
        " is_bookable, step_free, standard_height, high_chair_capable"
        " from tables order by table_number::int"
    )
    assert [tuple(r) for r in floor] == [
        ("1", "Electric Cupbard", 4, 999, 999, 1, False, True, True, True),
        ("2", "Big Bay", 6, 70, 50, 4, True, True, True, True),
        ("3", "Small Bay", 5, 60, 40, 1, True, False, True, True),
        ("4", "Low 4a", 4, 80, 10, 1, True, True, True, True),
        ("5", "Low 4b", 4, 90, 20, 1, True, True, True, True),
        ("6", "High 4", 4, 100, 30, 1, True, True, False, False),
        ("7", "High 2", 4, 999, 999, 1, False, True, True, True),
        ("8", "Dining Room 4a", 4, 10, 60, 1, True, True, True, True),
        ("9", "Dining Room 4b", 4, 20, 70, 1, True, True, True, True),
        ("10", "Dining Room 6a", 6, 30, 80, 4, True, True, True, True),
        ("11", "Dining Room 6b", 6, 40, 90, 4, True, True, True, True),
        ("12", "Dining Room 6c", 6, 50, 100, 4, True, True, True, True),
    ]
    links = await conn.fetch(
        "select a.name || ' - ' || b.name as pair from table_join_links l"
        " join tables a on a.id = l.table_id join tables b on b.id = l.join_table_id"
    )
    pairs = {frozenset(r["pair"].split(" - ")) for r in links}
    dining = [f"Dining Room {n}" for n in ("4a", "4b", "6a", "6b", "6c")]
    assert pairs == {frozenset((a, b)) for a in dining for b in dining if a < b} | {
        frozenset(("Low 4a", "Low 4b"))
    }
    holds = await conn.fetch(
        "select t.name, h.hold_type, h.status, h.ends_on, h.day_of_week, h.starts_at::text,"
        " h.ends_at::text from table_holds h join tables t on t.id = h.table_id order by t.name"
    )
    assert [tuple(r) for r in holds] == [
        ("High 4", "walk_in_hold", "active", None, None, "00:00:00", "23:59:00"),
        ("Low 4a", "walk_in_hold", "active", None, None, "00:00:00", "23:59:00"),
    ]
    assert await conn.fetchval("select public.tb_venue_has_tables()") is True


async def test_loading_the_demo_data_again_adds_no_tables(conn: asyncpg.Connection) -> None:
    from app.db.migrations import SEED_FILE

    counts = (
        "select (select count(*) from tables), (select count(*) from table_join_links),"
        " (select count(*) from table_holds)"
    )
    before = tuple(await conn.fetchrow(counts) or ())
    await conn.execute(SEED_FILE.read_text(encoding="utf-8"))
    assert before == tuple(await conn.fetchrow(counts) or ()) == (12, 11, 2)


async def test_a_party_of_two_gets_dining_room_4a(
    client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
) -> None:
    data = await create_booking(client, key, regular_body(FRIDAY, "19:00", 2))
    assert data["status"] == "confirmed"
    assert (data["table_name"], data["tables_joined"]) == ("Dining Room 4a", False)
    assert await seated(conn, data["booking_id"]) == ["Dining Room 4a"]


async def test_a_party_of_eight_gets_two_joined_dining_room_tables(
    client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
) -> None:
    data = await create_booking(client, key, regular_body(FRIDAY, "19:00", 8))
    assert data["status"] == "confirmed"
    assert (data["table_name"], data["tables_joined"]) == (
        "Dining Room 4a + Dining Room 4b",
        True,
    )
    assert await seated(conn, data["booking_id"]) == ["Dining Room 4a", "Dining Room 4b"]


async def test_availability_is_by_tables_every_15_minutes(
    client: httpx.AsyncClient, key: dict[str, str]
) -> None:
    response = await client.get(
        "/api/table-bookings/availability",
        params={"date": FRIDAY, "party_size": 4},
        headers=key,
    )
    assert response.status_code == 200, response.text
    slots = response.json()["data"]["time_slots"]
    assert [s["time"] for s in slots[:3]] == ["12:00", "12:15", "12:30"]
    # The seats of the ten bookable tables, and no message on a slot that is free.
    assert {(s["available"], s["available_capacity"], s["message"]) for s in slots} == {
        (True, 49, None)
    }


async def availability_at(
    client: httpx.AsyncClient, key: dict[str, str], party: int, at: str
) -> dict[str, Any]:
    response = await client.get(
        "/api/table-bookings/availability",
        params={"date": FRIDAY, "party_size": party},
        headers=key,
    )
    assert response.status_code == 200, response.text
    [slot] = [s for s in response.json()["data"]["time_slots"] if s["time"] == at]
    return dict(slot)


async def test_walk_in_holds_are_kept_from_online_guests_more_than_24_hours_ahead(
    client: httpx.AsyncClient, key: dict[str, str], clock: FakeClock
) -> None:
    # Online parties of two fill the tables they may have alone: the two 4s of the Dining Room,
    # Low 4b and the Small Bay (the 6s need four guests until the day; Low 4a and High 4 are
    # held). Then, as the pub's engine does, two linked tables: inside a join a table's minimum
    # does not apply. Low 4a could join only Low 4b, which is taken; High 4 joins nothing.
    names = []
    for n in range(5):
        body = regular_body(FRIDAY, "19:00", 2, phone=f"07911 12345{n}")
        names.append((await create_booking(client, key, body))["table_name"])
    assert names == [
        "Dining Room 4a",
        "Dining Room 4b",
        "Low 4b",
        "Small Bay",
        "Dining Room 6a + Dining Room 6b",
    ]
    slot = await availability_at(client, key, 2, "19:00")
    assert (slot["available"], slot["reason"]) == (False, "no_table")
    assert slot["message"] == (
        "We are fully booked at that time. Please try another time or give us a ring."
    )
    refused = await client.post(
        "/api/table-bookings",
        json=regular_body(FRIDAY, "19:00", 2, phone="07911 123458"),
        headers=key,
    )
    assert refused.status_code == 409, refused.text
    # Within 24 hours of the sitting the holds are released: Low 4a is the best fit left.
    clock.set(clock.now.replace(day=27, hour=9))
    assert (await availability_at(client, key, 2, "19:00"))["available"] is True
    late = await create_booking(client, key, regular_body(FRIDAY, "19:00", 2, phone="07911 123458"))
    assert late["table_name"] == "Low 4a"
