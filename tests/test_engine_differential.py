"""The pub's 2026 engine against OUR SERVICE, through HTTP (pub-engine-2026.md 0, 1, 3, 6, 7).

tests/test_floor.py and tests/test_pacing_and_deposits.py compare our SQL functions with the
pub's; this file compares what a caller of our HTTP API gets with what the pub's own
``create_table_booking_public_v06`` / ``create_table_booking_staff_v06`` do, on the pub's
database with the settings as live: ``table_allocation_v06_enabled`` true, the 11 join links
(every pair of the five Dining Room tables, and Low 4a-Low 4b) and ``kitchen_pacing_enabled``
true with the seeded values (ceilings 19 on a weekday, 14 on a Sunday; drinks 40).

1. Two copies, one sequence: copy A is driven through the pub's RPCs, copy B through our API
   (an API key books as ``online``, a staff token as ``staff``; our FakeClock is set to the
   database's clock before each step, the pub's RPCs use now()). Each step must give the same
   outcome: the state (confirmed / pending_payment / blocked), the pub's reason, the set of
   tables (the two copies share the fixture's table ids) and the deposit.
2. Interleaved on one copy: the pub's RPCs and our service book the same floor in turn, then
   both at once at one slot; no table is ever held by two live bookings at once and no
   booking's pacing window went over its ceiling.
3. Parallel creates through our service for the last tables of a slot: exactly as many succeed
   as there are tables, the rest are 409 ``no_table``.

**The oracle for a change** (the pub has no change RPC; its FOH party-size route is app code the
spec only sketches, 7.5): in one transaction on copy A, a savepoint, the booking marked
cancelled (so it no longer holds tables, covers, outside space or chairs: 7.2), and the pub's
create called again with the new date, time and party and the booking's own purpose, outside
and accessible flags, granted high chairs, waiver and channel (no pacing bypass, no overrides:
our change re-seats with neither). A refusal rolls back to the savepoint, so the original
booking stands as it was; a success keeps the new booking in its place. Our side is
``PATCH /api/table-bookings/{reference}`` by the booking's own caller (key or staff).
A cancellation is the pub's status change to ``cancelled`` on A and our
``POST .../cancel`` on B.

**Our reasons, as the pub's** (``OUR_REASON``): a 409 NO_AVAILABILITY carries the pub's code in
``details.reason`` already; a 422 POLICY_VIOLATION's ``details.reason`` is mapped: ``CUT_OFF`` to
``cut_off``, ``IN_PAST`` to ``in_past``, ``PARTY_TOO_LARGE`` to ``too_large_party``, ``CLOSED``,
``KITCHEN_CLOSED`` and ``NOT_A_SLOT`` to ``outside_hours``; the period codes are the pub's own.

**The known, deliberate differences** (and only these) are expected:
(a) a public caller's waiver is never honoured: online steps never ask for one (our API
refuses the staff-only field from a key with 403; the pub would confirm a waived 16);
(b) only times on our 15-minute slot grid are generated; (c) every booking is outside our own
day rules (2 h notice, the 56-day window, the Sunday lunch cut-off): Fri 2026-12-11 and Sun
2026-12-13 regular bookings, the machine's date being 2026-12-03; (d) customer counters are
not compared.

Not generated (they would make the two copies part ways): a change of party size that moves
the deposit, and a second online group owing a deposit at one time. Both are deliberate
differences (README), each tested at the end of this file with the pub's answer beside ours.

More seeds locally: ``DIFFERENTIAL_SEED=3 DIFFERENTIAL_STEPS=150`` (``-k "same and 7"`` runs it
once); ``DIFFERENTIAL_NO_UNPAID_LIMITS=1`` lifts our unpaid-hold limits on copy B, to look past
that reported disagreement.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, time
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest

from app.config import Settings
from app.db.postgres import PostgresDatabase
from app.main import create_app
from tests.conftest import (
    FakeClock,
    PubTemplates,
    asgi_client,
    copy_database,
    drop_database,
    regular_body,
)
from tests.pub_floor import add_live_join_links

PUB = pytest.mark.parametrize("database_kind", ["pub"], indirect=True)
FRIDAY = date(2026, 12, 11)
SUNDAY = date(2026, 12, 13)
#: Our 422 reasons as the pub's codes (a 409's details.reason is the pub's code already).
OUR_REASON = {
    "CUT_OFF": "cut_off",
    "IN_PAST": "in_past",
    "PARTY_TOO_LARGE": "too_large_party",
    "CLOSED": "outside_hours",
    "KITCHEN_CLOSED": "outside_hours",
    "NOT_A_SLOT": "outside_hours",
}
#: Kitchen (food) and pub (drinks) hours of the fixture: (first start, last start), the last
#: start being close - 30 min.
HOURS = {
    (FRIDAY, "food"): ("16:00", "20:30"),
    (FRIDAY, "drinks"): ("16:00", "22:30"),
    (SUNDAY, "food"): ("13:00", "17:30"),
    (SUNDAY, "drinks"): ("12:00", "19:30"),
}
#: Busy hours, where most bookings are made (so tables and pacing run out).
PEAK = {
    (FRIDAY, "food"): ("18:00", "20:00"),
    (FRIDAY, "drinks"): ("19:00", "21:30"),
    (SUNDAY, "food"): ("13:00", "15:00"),
    (SUNDAY, "drinks"): ("14:00", "17:00"),
}


# Set-up -----------------------------------------------------------------------------------------


async def live_settings(conn: asyncpg.Connection) -> None:
    """The settings as live (pub-engine-2026.md, scratch setup, plus pacing on)."""
    await conn.execute(
        """
        update system_settings set value = '{"value": true}'
         where key in ('table_allocation_v06_enabled', 'kitchen_pacing_enabled');
        """
    )
    await add_live_join_links(conn)


async def staff_on_the_pub(make_staff: Any, conn: asyncpg.Connection) -> dict[str, str]:
    """A manager's headers, with the profile the pub's handle_new_user trigger gives every user
    (that trigger is on auth.users, outside the fixture's dump; without the profile a staff
    create fails on customer_consents.captured_by_user_id, see the report)."""
    headers: dict[str, str] = await make_staff("manager")
    await conn.execute(
        "insert into profiles (id, email) select id, email from auth.users"
        " on conflict (id) do nothing"
    )
    return headers


async def pub_customer(conn: asyncpg.Connection) -> str:
    customer: str = await conn.fetchval(
        "insert into customers (first_name, last_name, mobile_number, mobile_e164, sms_opt_in,"
        " sms_status) values ('Pat', 'Example', '+447700900123', '+447700900123', true, 'active')"
        " returning id::text"
    )
    return customer


@pytest.fixture
async def copy_a(
    pg_admin_dsn: str, pub_templates: PubTemplates
) -> AsyncIterator[asyncpg.Connection]:
    """A second copy of the pub's database, for the pub's own RPCs."""
    name = f"anchor_test_{os.getpid()}_pub_a_{uuid.uuid4().hex[:8]}"
    dsn = await copy_database(pg_admin_dsn, await pub_templates.migrated(), name)
    connection = await asyncpg.connect(dsn)
    try:
        yield connection
    finally:
        await connection.close()
        await drop_database(pg_admin_dsn, name)


# Outcomes ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    state: str  # confirmed, pending_payment, blocked (or cancelled)
    reason: str | None = None
    tables: frozenset[str] = frozenset()
    deposit: Decimal = Decimal("0")

    def __str__(self) -> str:
        if self.state == "blocked":
            return f"blocked {self.reason}"
        return f"{self.state} {sorted(self.tables)} {self.deposit}"


async def booked(conn: asyncpg.Connection, booking_id: str) -> Outcome:
    """What a booking holds on one copy: its status, tables and deposit."""
    row = await conn.fetchrow(
        "select status::text, deposit_amount from table_bookings where id = $1::uuid", booking_id
    )
    assert row is not None
    tables = await conn.fetch(
        "select table_id::text from booking_table_assignments where table_booking_id = $1::uuid",
        booking_id,
    )
    return Outcome(
        row["status"],
        None,
        frozenset(r["table_id"] for r in tables),
        Decimal(row["deposit_amount"] or 0),
    )


def our_refusal(response: httpx.Response) -> Outcome:
    body = response.json()
    assert body["success"] is False, body
    error = body["error"]
    details = error.get("details") or {}
    reason = details.get("reason") if isinstance(details, dict) else None
    if response.status_code == 409 and error["code"] == "NO_AVAILABILITY":
        return Outcome("blocked", reason)
    if response.status_code == 422 and error["code"] == "POLICY_VIOLATION":
        return Outcome("blocked", OUR_REASON.get(str(reason), str(reason)))
    return Outcome("blocked", f"HTTP {response.status_code} {error['code']} {details}")


# The pub's side ---------------------------------------------------------------------------------


@dataclass
class Request:
    day: date
    at: str
    party: int
    purpose: str = "food"
    channel: str = "online"  # or staff
    outside: bool = False
    accessible: bool = False
    chairs: int = 0
    waived: bool = False
    bypass_pacing: bool = False

    def describe(self) -> str:
        flags = [
            name
            for name, on in (
                ("outside", self.outside),
                ("accessible", self.accessible),
                (f"chairs={self.chairs}", self.chairs > 0),
                ("waived", self.waived),
                ("bypass_pacing", self.bypass_pacing),
            )
            if on
        ]
        return f"{self.channel} {self.purpose} x{self.party} {self.day} {self.at}" + (
            " " + " ".join(flags) if flags else ""
        )


async def pub_create(
    conn: asyncpg.Connection, customer: str, r: Request
) -> tuple[dict[str, Any], str | None]:
    """The pub's create for r (public RPC online, staff RPC with the FOH's cut-off bypass);
    (its answer, the new booking's id or None)."""
    args = (
        customer,
        r.day,
        time.fromisoformat(r.at),
        r.party,
        r.purpose,
        r.chairs,
        r.outside,
        r.accessible,
        r.waived,
    )
    if r.channel == "online":
        raw = await conn.fetchval(
            "select create_table_booking_public_v06(p_customer_id => $1::uuid,"
            " p_booking_date => $2, p_booking_time => $3, p_party_size => $4,"
            " p_booking_purpose => $5, p_high_chair_count => $6, p_outside_seating => $7,"
            " p_requires_accessible_table => $8, p_deposit_waived => $9)",
            *args,
        )
    else:
        raw = await conn.fetchval(
            "select create_table_booking_staff_v06(p_customer_id => $1::uuid,"
            " p_booking_date => $2, p_booking_time => $3, p_party_size => $4,"
            " p_booking_purpose => $5, p_high_chair_count => $6, p_outside_seating => $7,"
            " p_requires_accessible_table => $8, p_deposit_waived => $9,"
            " p_bypass_cutoff => true, p_bypass_pacing => $10)",
            *args,
            r.bypass_pacing,
        )
    result: dict[str, Any] = json.loads(raw)
    if result.get("state") in ("confirmed", "pending_payment"):
        return result, str(result["table_booking_id"])
    return result, None


async def pub_outcome(
    conn: asyncpg.Connection, result: dict[str, Any], booking_id: str | None
) -> Outcome:
    if booking_id is None:
        assert result.get("state") == "blocked", result
        return Outcome("blocked", result.get("reason"))
    outcome = await booked(conn, booking_id)
    assert outcome.state == result["state"], result
    assert outcome.deposit == Decimal(str(result.get("deposit_amount") or 0)), result
    return outcome


# Our side ---------------------------------------------------------------------------------------


@dataclass
class Ours:
    client: httpx.AsyncClient
    conn: asyncpg.Connection
    clock: FakeClock
    key: dict[str, str]
    staff: dict[str, str]
    phones: Any = field(default_factory=lambda: iter(range(10**4)))

    def headers(self, channel: str) -> dict[str, str]:
        return self.key if channel == "online" else self.staff

    async def tick(self) -> None:
        """Our clock is the database's."""
        self.clock.set(await self.conn.fetchval("select clock_timestamp()"))

    def body(self, r: Request) -> dict[str, Any]:
        extra: dict[str, Any] = {
            "purpose": r.purpose,
            "is_outside_seating": r.outside,
            "requires_accessible_table": r.accessible,
            "high_chair_count": r.chairs,
        }
        if r.channel == "staff":
            extra |= {"deposit_waived": r.waived, "bypass_pacing": r.bypass_pacing}
        return regular_body(
            r.day.isoformat(), r.at, r.party, phone=f"07911 16{next(self.phones):04d}", **extra
        )

    async def create(self, r: Request) -> tuple[Outcome, dict[str, Any] | None]:
        await self.tick()
        response = await self.client.post(
            "/api/table-bookings", json=self.body(r), headers=self.headers(r.channel)
        )
        if response.status_code != 201:
            return our_refusal(response), None
        data: dict[str, Any] = response.json()["data"]
        outcome = await booked(self.conn, data["booking_id"])
        assert outcome.state == data["status"], data
        shown = (data.get("payment_details") or {}).get("deposit_amount")
        assert Decimal(str(shown or 0)) == outcome.deposit, data
        return outcome, data

    async def change(self, reference: str, channel: str, changes: dict[str, Any]) -> Outcome:
        await self.tick()
        response = await self.client.patch(
            f"/api/table-bookings/{reference}", json=changes, headers=self.headers(channel)
        )
        if response.status_code != 200:
            return our_refusal(response)
        return await booked(self.conn, response.json()["data"]["booking_id"])

    async def cancel(self, reference: str, channel: str) -> None:
        await self.tick()
        response = await self.client.post(
            f"/api/table-bookings/{reference}/cancel", json={}, headers=self.headers(channel)
        )
        assert response.status_code == 200, response.text


# The sequence ----------------------------------------------------------------------------------


def grid(day: date, purpose: str, span: dict[tuple[date, str], tuple[str, str]]) -> list[str]:
    first, last = (time.fromisoformat(t) for t in span[(day, purpose)])
    out = []
    at = first.hour * 60 + first.minute
    while at <= last.hour * 60 + last.minute:
        out.append(f"{at // 60:02d}:{at % 60:02d}")
        at += 15
    return out


def random_request(rng: random.Random) -> Request:
    day = rng.choice([FRIDAY, SUNDAY])
    purpose = "food" if rng.random() < 0.7 else "drinks"
    span = PEAK if rng.random() < 0.75 else HOURS
    at = rng.choice(grid(day, purpose, span))
    party = rng.choice([1, 2, 2, 2, 3, 4, 4, 4, 5, 6, 6, 7, 8, 9, 10, 12, 14, 15, 16, 18, 20])
    channel = "staff" if rng.random() < 0.35 else "online"
    staff = channel == "staff"
    return Request(
        day=day,
        at=at,
        party=party,
        purpose=purpose,
        channel=channel,
        outside=rng.random() < 0.1,
        accessible=rng.random() < 0.1,
        chairs=rng.choice([1, 2]) if rng.random() < 0.1 else 0,
        waived=staff and party >= 15 and rng.random() < 0.4,
        bypass_pacing=staff and rng.random() < 0.15,
    )


@dataclass
class Pair:
    """One booking on both copies."""

    request: Request
    pub_id: str
    reference: str


async def run_sequence(
    seed: int,
    steps: int,
    a: asyncpg.Connection,
    customer: str,
    ours: Ours,
) -> Counter[str]:
    rng = random.Random(seed)
    live: list[Pair] = []
    kinds: Counter[str] = Counter()
    for step in range(steps):
        roll = rng.random()
        if live and roll < 0.12:
            pair = live.pop(rng.randrange(len(live)))
            await a.execute(
                "update table_bookings set status = 'cancelled', cancelled_at = now(),"
                " cancelled_by = 'guest' where id = $1::uuid",
                pair.pub_id,
            )
            await ours.cancel(pair.reference, pair.request.channel)
            kinds["cancel"] += 1
            continue
        if live and roll < 0.30:
            pair = rng.choice(live)
            old = pair.request
            new = Request(**{**old.__dict__, "bypass_pacing": False})
            changes: dict[str, Any] = {}
            if old.party < 15 and rng.random() < 0.5:
                new.party = rng.choice([p for p in range(1, 15) if p != old.party])
                changes["party_size"] = new.party
            else:
                new.at = rng.choice([t for t in grid(old.day, old.purpose, PEAK) if t != old.at])
                changes["time"] = new.at
            new.chairs = await a.fetchval(
                "select high_chair_count from table_bookings where id = $1::uuid", pair.pub_id
            )
            what = f"change {old.describe()} -> {changes}"
            async with a.transaction():
                savepoint = a.transaction()
                await savepoint.start()
                await a.execute(
                    "update table_bookings set status = 'cancelled', cancelled_at = now()"
                    " where id = $1::uuid",
                    pair.pub_id,
                )
                result, new_id = await pub_create(a, customer, new)
                theirs = await pub_outcome(a, result, new_id)
                if new_id is None:
                    await savepoint.rollback()
                else:
                    await savepoint.commit()
            mine = await ours.change(pair.reference, old.channel, changes)
            kind = "change " + theirs.state + ("" if theirs.reason is None else " " + theirs.reason)
            if new_id is not None:
                pair.pub_id = new_id
                pair.request = Request(**{**new.__dict__, "chairs": old.chairs})
        else:
            request = random_request(rng)
            what = f"create {request.describe()}"
            result, new_id = await pub_create(a, customer, request)
            theirs = await pub_outcome(a, result, new_id)
            mine, data = await ours.create(request)
            if new_id is not None and data is not None:
                live.append(Pair(request, new_id, data["booking_reference"]))
            kind = theirs.state + ("" if theirs.reason is None else " " + theirs.reason)
        kinds[kind] += 1
        assert mine == theirs, f"seed {seed} step {step}: {what}: pub {theirs}, ours {mine}"
    return kinds


@PUB
@pytest.mark.parametrize("seed", [20261211, 7])
async def test_the_same_sequence_on_two_copies(
    seed: int,
    copy_a: asyncpg.Connection,
    conn: asyncpg.Connection,
    client: httpx.AsyncClient,
    clock: FakeClock,
    key: dict[str, str],
    make_staff: Any,
) -> None:
    await live_settings(copy_a)
    await live_settings(conn)
    customer = await pub_customer(copy_a)
    ours = Ours(client, conn, clock, key, await staff_on_the_pub(make_staff, conn))
    if os.environ.get("DIFFERENTIAL_NO_UNPAID_LIMITS"):
        # Exploring past the reported disagreement (test_two_online_groups_owing_deposits...):
        # our unpaid-hold limits lifted on copy B, locally only.
        await conn.execute(
            "insert into system_settings (key, value) values"
            " ('sunday_lunch_unpaid_share_percent', '{\"value\": 100000}'),"
            " ('sunday_lunch_unpaid_holds_per_client', '{\"value\": 100000}')"
            " on conflict (key) do update set value = excluded.value"
        )
    steps = int(os.environ.get("DIFFERENTIAL_STEPS", "120"))
    seed = int(os.environ.get("DIFFERENTIAL_SEED", seed))
    kinds = await run_sequence(seed, steps, copy_a, customer, ours)
    print(
        f"differential seed {seed}: {steps} steps, "
        + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items()))
    )


# Interleaved on one copy -------------------------------------------------------------------------

#: Pairs of live bookings holding one table at overlapping times.
DOUBLE_SEATS = """
select a.table_booking_id::text, a2.table_booking_id::text, a.table_id::text
from booking_table_assignments a
join table_bookings b on b.id = a.table_booking_id
join booking_table_assignments a2
  on a2.table_id = a.table_id and a2.table_booking_id > a.table_booking_id
 and a2.start_datetime < a.end_datetime and a.start_datetime < a2.end_datetime
join table_bookings b2 on b2.id = a2.table_booking_id
where public.tb_is_live(b.status::text, b.left_at, b.hold_expires_at,
                        b.payment_status::text, clock_timestamp())
  and public.tb_is_live(b2.status::text, b2.left_at, b2.hold_expires_at,
                        b2.payment_status::text, clock_timestamp())
"""
#: Covers of live bookings of a purpose in the pacing window centred on (date, time): the
#: pub's 3.1 and 3.2 (30 minutes, half-open).
WINDOW = """
select coalesce(sum(coalesce(b.committed_party_size, b.party_size)), 0)::int
from table_bookings b
where b.booking_date = $1 and b.booking_purpose::text = $3
  and public.tb_is_live(b.status::text, b.left_at, b.hold_expires_at,
                        b.payment_status::text, clock_timestamp())
  and b.booking_time >= $2::time - interval '15 minutes'
  and b.booking_time < $2::time + interval '15 minutes'
"""
#: The most outside tables held at once (at the start of some live outside booking).
OUTSIDE_PEAK = """
select coalesce(max((
  select sum(o2.tables_reserved) from outside_reservations o2
  join table_bookings b2 on b2.id = o2.table_booking_id
  where public.tb_is_live(b2.status::text, b2.left_at, b2.hold_expires_at,
                          b2.payment_status::text, clock_timestamp())
    and o2.starts_at <= o.starts_at and o2.ends_at > o.starts_at)), 0)::int
from outside_reservations o join table_bookings b on b.id = o.table_booking_id
where public.tb_is_live(b.status::text, b.left_at, b.hold_expires_at,
                        b.payment_status::text, clock_timestamp())
"""


def ceiling(day: date, purpose: str) -> int:
    """The seeded ceilings: food 25 - 6 (Sunday 20 - 6), drinks 40."""
    if purpose == "drinks":
        return 40
    return 14 if day == SUNDAY else 19


async def assert_floor_sound(conn: asyncpg.Connection) -> None:
    assert await conn.fetch(DOUBLE_SEATS) == []
    assert await conn.fetchval(OUTSIDE_PEAK) <= 5


async def pub_create_alone(dsn: str, customer: str, r: Request) -> str | None:
    """The pub's create on a connection of its own (for creates in parallel)."""
    connection = await asyncpg.connect(dsn)
    try:
        _, booking_id = await pub_create(connection, customer, r)
        return booking_id
    finally:
        await connection.close()


@PUB
async def test_the_pub_and_our_service_book_one_floor_in_turn_and_at_once(
    database_url: str,
    conn: asyncpg.Connection,
    client: httpx.AsyncClient,
    clock: FakeClock,
    key: dict[str, str],
    make_staff: Any,
) -> None:
    await live_settings(conn)
    customer = await pub_customer(conn)
    ours = Ours(client, conn, clock, key, await staff_on_the_pub(make_staff, conn))
    rng = random.Random(20261213)
    made: Counter[str] = Counter()
    for step in range(60):
        request = random_request(rng)
        request.bypass_pacing = False
        if step % 2 == 0:
            _, booking_id = await pub_create(conn, customer, request)
            side = "pub"
        else:
            _, data = await ours.create(request)
            booking_id = None if data is None else data["booking_id"]
            side = "ours"
        made[f"{side} {'booked' if booking_id else 'refused'}"] += 1
        await assert_floor_sound(conn)
        if booking_id is not None:
            # When it was made, its own window was within the ceiling (3.1, 3.2).
            covers = await conn.fetchval(
                WINDOW, request.day, time.fromisoformat(request.at), request.purpose
            )
            assert covers <= ceiling(request.day, request.purpose), (step, request.describe())
    assert made["pub booked"] > 0 and made["ours booked"] > 0, made

    # At once at one slot: six of the pub's creates and six of ours, food at Friday 16:30.
    await ours.tick()
    slot = Request(FRIDAY, "16:30", 0)
    parties = [2, 4, 3, 5, 2, 6, 4, 2, 3, 4, 6, 2]
    pub_requests = [
        Request(FRIDAY, "16:30", p, channel="staff" if i % 3 == 0 else "online")
        for i, p in enumerate(parties[:6])
    ]
    our_requests = [
        Request(FRIDAY, "16:30", p, channel="staff" if i % 3 == 0 else "online")
        for i, p in enumerate(parties[6:])
    ]
    results = await asyncio.gather(
        *(pub_create_alone(database_url, customer, r) for r in pub_requests),
        *(
            ours.client.post(
                "/api/table-bookings", json=ours.body(r), headers=ours.headers(r.channel)
            )
            for r in our_requests
        ),
    )
    pub_booked = [r for r in results[:6] if r is not None]
    our_answers = [r for r in results[6:] if isinstance(r, httpx.Response)]
    assert all(r.status_code in (201, 409) for r in our_answers), [r.text for r in our_answers]
    our_booked = [r for r in our_answers if r.status_code == 201]
    assert all(
        our_refusal(r).reason in ("no_table", "slot_full")
        for r in our_answers
        if r.status_code == 409
    )
    assert pub_booked or our_booked
    await assert_floor_sound(conn)
    covers = await conn.fetchval(WINDOW, slot.day, time.fromisoformat(slot.at), "food")
    assert covers <= ceiling(FRIDAY, "food"), covers
    print(
        f"interleaved: {dict(made)}; at once at {slot.day} {slot.at}: pub {len(pub_booked)}/6,"
        f" ours {len(our_booked)}/6, window {covers} covers"
    )


# Parallel creates for the last tables ------------------------------------------------------------


@PUB
async def test_parallel_creates_for_the_last_tables(
    settings: Settings,
    database_url: str,
    conn: asyncpg.Connection,
    clock: FakeClock,
    key: dict[str, str],
    make_staff: Any,
) -> None:
    await live_settings(conn)
    staff = await staff_on_the_pub(make_staff, conn)
    database = await PostgresDatabase.connect(database_url, max_size=20)
    app = create_app(settings, database=database, clock=clock)
    try:
        async with asgi_client(app) as client:
            ours = Ours(client, conn, clock, key, staff)
            # Seven staff drinks parties of four at 18:00 (until 19:30) take seven tables: the
            # bar's order (1.4) leaves the three Dining Room six-tops.
            for _ in range(7):
                outcome, _ = await ours.create(Request(FRIDAY, "18:00", 4, "drinks", "staff"))
                assert outcome.state == "confirmed", outcome
            free = {
                r["id"]
                for r in await conn.fetch(
                    "select id::text from tables where is_bookable and id not in"
                    " (select table_id from booking_table_assignments)"
                )
            }
            assert len(free) == 3
            # Ten online food parties of four at 19:00, all at once: 12 covers fit the
            # kitchen's 19, the tables are the limit.
            await ours.tick()
            responses = await asyncio.gather(
                *(
                    client.post(
                        "/api/table-bookings",
                        json=ours.body(Request(FRIDAY, "19:00", 4)),
                        headers=key,
                    )
                    for _ in range(10)
                )
            )
    finally:
        await database.close()
    outcomes = Counter(
        r.status_code if r.status_code == 201 else our_refusal(r).reason for r in responses
    )
    assert outcomes == {201: 3, "no_table": 7}, outcomes
    seated = await conn.fetch(
        "select a.table_id::text from booking_table_assignments a"
        " join table_bookings b on b.id = a.table_booking_id where b.booking_time = '19:00'"
    )
    assert sorted(r["table_id"] for r in seated) == sorted(free)
    await assert_floor_sound(conn)


# Deliberate differences (README, "Where we differ from the pub's engine") ------------------------


@PUB
async def test_unpaid_deposit_holds_are_bounded_where_the_pub_holds_every_one(
    copy_a: asyncpg.Connection,
    conn: asyncpg.Connection,
    client: httpx.AsyncClient,
    clock: FakeClock,
    key: dict[str, str],
    make_staff: Any,
) -> None:
    """Difference 9: two online groups owing deposits at one time. The pub holds both for a
    day; this service bounds the covers held unpaid per slot (and per phone and per key), so
    that an abuser cannot close the pub with holds nobody pays."""
    await live_settings(copy_a)
    await live_settings(conn)
    customer = await pub_customer(copy_a)
    ours = Ours(client, conn, clock, key, await staff_on_the_pub(make_staff, conn))
    answers = []
    for _ in range(2):
        request = Request(FRIDAY, "19:00", 16, "drinks", outside=True)
        result, booking_id = await pub_create(copy_a, customer, request)
        theirs = await pub_outcome(copy_a, result, booking_id)
        assert theirs == Outcome("pending_payment", deposit=Decimal("160.00"))
        answers.append(await ours.create(request))
    (first, _), (second, _) = answers
    assert first == Outcome("pending_payment", deposit=Decimal("160.00"))
    assert (second.state, second.reason) == ("blocked", "UNPAID_HOLDS")


@PUB
@pytest.mark.parametrize(
    ("before", "after", "reason"), [(14, 16, "DEPOSIT_DUE"), (16, 14, "DEPOSIT_PENDING")]
)
async def test_a_change_of_party_that_moves_the_deposit_is_refused(
    before: int,
    after: int,
    reason: str,
    copy_a: asyncpg.Connection,
    conn: asyncpg.Connection,
    client: httpx.AsyncClient,
    clock: FakeClock,
    key: dict[str, str],
    make_staff: Any,
) -> None:
    """Difference 6: where a new booking of the new size would owe another deposit (or none),
    the pub's oracle (cancel and book again) re-prices it; our change is refused and the booking
    stands as it was: growing into a deposit (DEPOSIT_DUE), or changing the party of a booking
    whose deposit and PayPal order are for its party (DEPOSIT_PENDING)."""
    await live_settings(copy_a)
    await live_settings(conn)
    customer = await pub_customer(copy_a)
    ours = Ours(client, conn, clock, key, await staff_on_the_pub(make_staff, conn))
    request = Request(FRIDAY, "19:00", before)
    _, pub_id = await pub_create(copy_a, customer, request)
    _, data = await ours.create(request)
    assert pub_id is not None and data is not None
    await copy_a.execute(
        "update table_bookings set status = 'cancelled' where id = $1::uuid", pub_id
    )
    result, new_id = await pub_create(copy_a, customer, Request(FRIDAY, "19:00", after))
    theirs = await pub_outcome(copy_a, result, new_id)
    assert theirs.state == ("pending_payment" if after >= 15 else "confirmed")
    mine = await ours.change(data["booking_reference"], "online", {"party_size": after})
    assert (mine.state, mine.reason) == ("blocked", reason)
    row = await conn.fetchrow(
        "select party_size, status::text from table_bookings where id = $1::uuid",
        data["booking_id"],
    )
    assert row is not None
    assert (row["party_size"], row["status"]) == (
        before,
        "pending_payment" if before >= 15 else "confirmed",
    )
