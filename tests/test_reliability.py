"""Reliability: the database restarted under load, races on one slot, hostile strings, and
Twilio failing while texts are sent (nothing lost, nothing doubled).

Parallel worker runs and each provider failure on its own are tested in test_worker.py and
test_payments.py, the body size limit in test_logs_and_limits.py; not repeated here.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import itertools
import json
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import asyncpg
import httpx
import psutil
import pytest
import respx
from pydantic import SecretStr

from app.config import Settings
from app.db import migrations
from app.db.embedded import EmbeddedPostgres
from app.db.postgres import PostgresDatabase
from app.main import create_app
from app.services import guest_text
from tests.conftest import (
    FakeClock,
    asgi_client,
    create_booking,
    envelope_error,
    insert_api_key,
    regular_body,
    sunday_body,
)

BOOKINGS = "/api/table-bookings"
CRON = {"Authorization": "Bearer test-cron-secret-0123456789"}


def _json(response: httpx.Response) -> dict[str, Any]:
    assert response.headers["content-type"] == "application/json", response.headers
    body: dict[str, Any] = response.json()
    return body


# The database restarted under load ---------------------------------------------------------------


@dataclass
class Answer:
    index: int
    kind: str  # "create" or "read"
    started: float
    ended: float
    status: int
    code: str | None
    reference: str | None


def _bookable_days(first: date, count: int) -> list[date]:
    """Days the demo kitchen is open (not Monday, not Christmas Day), from ``first``."""
    days: list[date] = []
    day = first
    while len(days) < count:
        if day.weekday() != 0 and day != date(2026, 12, 25):
            days.append(day)
        day += timedelta(days=1)
    return days


class RestartLoad:
    """Creates (every other request, with an Idempotency-Key) and availability reads, on a
    schedule of days and times with room for all of them; Sunday lunches among the creates."""

    LIMIT = 800  # requests at most, whatever the timings

    def __init__(self, client: httpx.AsyncClient, key: dict[str, str], menu: dict[str, str]):
        self.client = client
        self.key = key
        self.menu = menu
        self.days = _bookable_days(date(2026, 11, 25), 30)
        self.sundays = [d for d in self.days if d.weekday() == 6]
        self.loop = asyncio.get_running_loop()

    def body(self, i: int) -> dict[str, Any]:
        phone = f"07911 2{i:05d}"
        if i % 10 == 0:
            day = self.sundays[(i // 10) % len(self.sundays)]
            return sunday_body(self.menu, day.isoformat(), f"{12 + (i // 10) % 4}:00", phone=phone)
        day = self.days[i % len(self.days)]
        slot = (i // len(self.days)) % 10  # 12:00 .. 16:30: the kitchen is open every day
        return regular_body(
            day.isoformat(), f"{12 + slot // 2}:{30 * (slot % 2):02d}", 2, phone=phone
        )

    async def request(self, i: int) -> Answer:
        started = self.loop.time()
        if i % 2 == 0:
            kind = "create"
            headers = {**self.key, "Idempotency-Key": f"restart-{i}"}
            response = await self.client.post(BOOKINGS, json=self.body(i), headers=headers)
        else:
            kind = "read"
            day = self.days[i % len(self.days)].isoformat()
            response = await self.client.get(
                f"{BOOKINGS}/availability", params={"date": day}, headers=self.key
            )
        payload = _json(response)
        code = None if payload["success"] else envelope_error(response)["code"]
        reference = payload["data"]["booking_reference"] if response.status_code == 201 else None
        return Answer(i, kind, started, self.loop.time(), response.status_code, code, reference)


async def _set_up_private(setup: asyncpg.Connection, name: str) -> str:
    """A private server's database as the service's: migrations, demo data, and an API key with
    every scope (its raw key returned)."""
    await migrations.apply_pending(setup)
    await migrations.load_demo_data_once(setup)
    return await insert_api_key(setup, rate_limit=100000, prefix=name)


class TestDatabaseRestart:
    async def test_requests_fail_with_503_while_it_is_down_and_succeed_after(
        self, tmp_path: Any, settings: Settings, clock: FakeClock
    ) -> None:
        # A PostgreSQL of this test's own, so stopping it disturbs no other test.
        server = EmbeddedPostgres(tmp_path / "pg")
        dsn = await asyncio.to_thread(server.start)
        database: PostgresDatabase | None = None
        try:
            setup = await asyncpg.connect(dsn)
            try:
                raw_key = await _set_up_private(setup, "restart")
                # The covers rule, as the rest of the suite has it: the load books more tables
                # than the demo's floor has (the floor is tests/test_demo_floor.py's).
                await setup.execute(
                    "delete from table_holds; delete from table_join_links; delete from tables"
                )
                # One key makes every create of the load: its unpaid Sunday lunches are not
                # bounded here (as its hourly limit is not), the outage is what is tested.
                await setup.execute(
                    "update system_settings set value = '{\"value\": 100000}'"
                    " where key = 'sunday_lunch_unpaid_holds_per_client'"
                )
                rows = await setup.fetch("select id::text, name from sunday_lunch_menu_items")
                menu = {r["name"]: r["id"] for r in rows}
            finally:
                await setup.close()

            database = await PostgresDatabase.connect(dsn, max_size=10)
            app = create_app(
                settings.model_copy(update={"availability_limit_per_minute": 100_000}),
                database=database,
                clock=clock,
            )
            marks: dict[str, float] = {}
            restarted: list[datetime] = []  # the database's clock when it was back
            async with asgi_client(app) as client:
                load = RestartLoad(client, {"X-API-Key": raw_key}, menu)
                answers = await self._load_with_a_restart(load, server, dsn, marks, restarted)
                # The same app, pool and client, never restarted: requests succeed again, and a
                # create that was answered 503 can be retried with its Idempotency-Key.
                after = [await load.request(RestartLoad.LIMIT + i) for i in range(10)]
                retried = [
                    await load.request(a.index)
                    for a in answers
                    if a.kind == "create" and a.status == 503
                ]
            assert app.state.db is database
        finally:
            if database is not None:
                await database.close()
            await asyncio.to_thread(server.stop)

        self._check_answers(answers, marks)
        assert {(a.kind, a.status) for a in after} <= {("create", 201), ("read", 200)}, after
        assert {(a.status, a.code) for a in retried} <= {(201, None), (409, "NO_AVAILABILITY")}
        # Checked on the server started once more: the data folder survived the restarts.
        dsn = await asyncio.to_thread(server.start)
        try:
            check = await asyncpg.connect(dsn)
            try:
                await self._check_nothing_half_written(
                    check, answers, after, retried, marks, restarted[0]
                )
            finally:
                await check.close()
        finally:
            await asyncio.to_thread(server.stop)

    @staticmethod
    async def _load_with_a_restart(
        load: RestartLoad,
        server: EmbeddedPostgres,
        dsn: str,
        marks: dict[str, float],
        restarted: list[datetime],
    ) -> list[Answer]:
        answers: list[Answer] = []
        done = asyncio.Event()
        counter = itertools.count()

        async def worker() -> None:
            while not done.is_set() and (i := next(counter)) < RestartLoad.LIMIT:
                answers.append(await load.request(i))
                await asyncio.sleep(0.02)

        async def answered_since(mark: float, count: int) -> None:
            # Phases last until enough answers are in (bounded), not a fixed time: on a busy
            # machine a first request can take longer than a second.
            deadline = load.loop.time() + 30
            while load.loop.time() < deadline:
                if sum(1 for a in answers if a.started > mark) >= count:
                    return
                await asyncio.sleep(0.05)

        async def restart() -> None:
            await asyncio.sleep(1.0)  # the service under load, healthy
            await answered_since(0.0, 12)
            marks["stopping"] = load.loop.time()
            await asyncio.to_thread(server.stop)  # pg_ctl stop (fast): sessions are cut
            marks["stopped"] = load.loop.time()
            await asyncio.sleep(1.0)  # the outage
            marks["starting"] = load.loop.time()
            again = await asyncio.to_thread(server.start)
            marks["started"] = load.loop.time()
            assert again == dsn  # the same data folder, socket and DSN
            probe = await asyncpg.connect(dsn)
            try:
                restarted.append(await probe.fetchval("select pg_postmaster_start_time()"))
            finally:
                await probe.close()
            await asyncio.sleep(1.5)  # the service under load, recovered
            await answered_since(marks["started"], 12)
            done.set()

        await asyncio.gather(restart(), *(worker() for _ in range(6)))
        return answers

    @staticmethod
    def _check_answers(answers: list[Answer], marks: dict[str, float]) -> None:
        assert len(answers) >= 100
        expected = {
            ("create", 201, None),
            ("create", 409, "NO_AVAILABILITY"),
            ("read", 200, None),
            ("create", 503, "SERVICE_UNAVAILABLE"),
            ("read", 503, "SERVICE_UNAVAILABLE"),
        }
        unexpected = [(a.kind, a.status, a.code) for a in answers]
        unexpected = [k for k in unexpected if k not in expected]
        assert unexpected == [], Counter(unexpected)  # never a 500
        before = [a for a in answers if a.ended < marks["stopping"]]
        down = [a for a in answers if marks["stopped"] < a.started and a.ended < marks["starting"]]
        up = [a for a in answers if a.started > marks["started"]]
        assert before and down and up, (len(before), len(down), len(up))
        assert all(a.status != 503 for a in before)
        assert all(a.status == 503 for a in down), Counter((a.kind, a.status) for a in down)
        # Connections the restart cut are replaced: every request after it is answered.
        assert all(a.status != 503 for a in up), Counter((a.kind, a.status) for a in up)
        assert any(a.status == 201 for a in up)

    @staticmethod
    async def _check_nothing_half_written(
        conn: asyncpg.Connection,
        answers: list[Answer],
        after: list[Answer],
        retried: list[Answer],
        marks: dict[str, float],
        restarted_at: datetime,
    ) -> None:
        rows = await conn.fetch(
            # updated_at is the database's clock at insert (nothing updates these rows);
            # created_at carries the app's fixed test clock and cannot be compared with it.
            "select b.booking_reference, c.mobile_e164, b.updated_at < $1 as before_restart"
            " from table_bookings b join customers c on c.id = b.customer_id",
            restarted_at,
        )
        stored = {r["booking_reference"]: int(r["mobile_e164"][-5:]) for r in rows}
        first = {a.index: a for a in answers}
        answered = {a.reference for a in [*answers, *after] if a.reference is not None}
        retries = {a.index: a.reference for a in retried if a.reference is not None}
        # Every 201 was kept, no create was booked twice, and nothing else exists.
        assert set(stored) == answered | set(retries.values())
        assert len(set(stored.values())) == len(stored)
        # A booking made before the restart but never answered 201 can only come from a create
        # in flight when the server stopped: its commit went through, its answer did not (the
        # 503 said "try again"), and the retry with its Idempotency-Key replayed that booking.
        for r in rows:
            if r["before_restart"] and r["booking_reference"] not in answered:
                was = first[stored[r["booking_reference"]]]
                assert was.status == 503, was
                assert was.started < marks["stopped"] and was.ended > marks["stopping"], was
                assert retries[was.index] == r["booking_reference"]

        orphans = await conn.fetchrow(
            "select"
            " (select count(*) from customers c where not exists"
            "   (select 1 from table_bookings b where b.customer_id = c.id)) as customers,"
            " (select count(*) from table_booking_items i where not exists"
            "   (select 1 from table_bookings b where b.id = i.booking_id)) as items,"
            " (select count(*) from table_booking_payments p where not exists"
            "   (select 1 from table_bookings b where b.id = p.booking_id)) as payments,"
            " (select count(*) from table_bookings b where b.booking_type = 'sunday_lunch'"
            "   and (not exists (select 1 from table_booking_items i where i.booking_id = b.id)"
            "        or (select count(*) from table_booking_payments p"
            "            where p.booking_id = b.id) <> 1)) as incomplete_sunday_lunches"
        )
        assert orphans is not None
        assert dict(orphans) == {
            "customers": 0,
            "items": 0,
            "payments": 0,
            "incomplete_sunday_lunches": 0,
        }
        # An Idempotency-Key is claimed by the creating transaction: kept with the booking,
        # never left behind by a create that did not commit.
        claims = await conn.fetchval(
            "select count(*) from idempotency_keys where key like 'table_booking_create:%'"
        )
        assert claims == len(stored)
        # One audit row and one notification job per booking, none for a booking not made.
        audited = await conn.fetch(
            "select b.booking_reference from audit_logs a"
            " join table_bookings b on b.id::text = a.resource_id"
            " where a.operation_type = 'table_booking.created'"
        )
        assert sorted(r["booking_reference"] for r in audited) == sorted(stored)
        created_audits = await conn.fetchval(
            "select count(*) from audit_logs where operation_type = 'table_booking.created'"
        )
        assert created_audits == len(stored)
        notified = await conn.fetch(
            "select payload->>'table_booking_id' as id from jobs"
            " where type = 'table_booking_notify' and payload->>'event' = 'created'"
        )
        booking_ids = {r["id"] for r in await conn.fetch("select id::text from table_bookings")}
        assert sorted(r["id"] for r in notified) == sorted(booking_ids)


# The database killed right after a 201 ------------------------------------------------------------


def _kill_postgres(data_dir: Any) -> None:
    """kill -9 of the postmaster and every backend: no shutdown, no checkpoint, no WAL written
    out, as when the machine loses power (what is on disk is what the kernel was told to sync)."""
    postmaster = psutil.Process(int((data_dir / "postmaster.pid").read_text().split()[0]))
    processes = [postmaster, *postmaster.children(recursive=True)]
    for process in processes:
        process.kill()
    psutil.wait_procs(processes, timeout=10)


class TestCrashAfterCreated:
    @pytest.mark.parametrize("at_once", [False, True], ids=["one_by_one", "at_once"])
    async def test_every_booking_answered_201_survives_a_crash(
        self, tmp_path: Any, settings: Settings, clock: FakeClock, at_once: bool
    ) -> None:
        # A create commits without waiting for the disk (flush_after_commit) and is answered only
        # after tb_flush_wal; here the WAL writer waits 10 s and 1 GB before writing anything
        # itself, so a 201 is on disk only if the service made it so. At once, the creates share
        # their flushes (FlushGroup): each still waits for one begun after its own commit.
        server = EmbeddedPostgres(tmp_path / "pg")
        dsn = await asyncio.to_thread(server.start)
        references: list[str] = []
        try:
            setup = await asyncpg.connect(dsn)
            try:
                raw_key = await _set_up_private(setup, "crash")  # the demo's floor: tables
                await setup.execute("checkpoint")
                await setup.execute("alter system set wal_writer_delay = '10s'")
                await setup.execute("alter system set wal_writer_flush_after = '1GB'")
                await setup.execute("select pg_reload_conf()")
            finally:
                await setup.close()
            database = await PostgresDatabase.connect(dsn, max_size=4)
            try:
                app = create_app(settings, database=database, clock=clock)
                async with asgi_client(app) as client:
                    days = _bookable_days(date(2026, 11, 25), 12 if at_once else 6)

                    async def book(i: int, day: date) -> str:
                        response = await client.post(
                            BOOKINGS,
                            json=regular_body(day.isoformat(), "13:00", 2, phone=f"07911 2{i:05d}"),
                            headers={"X-API-Key": raw_key, "Idempotency-Key": f"crash-{i}"},
                        )
                        assert response.status_code == 201, response.text
                        return str(response.json()["data"]["booking_reference"])

                    if at_once:
                        references += await asyncio.gather(
                            *(book(i, day) for i, day in enumerate(days))
                        )
                    else:
                        for i, day in enumerate(days):
                            references.append(await book(i, day))
                    # Killed at once after the last answer.
                    _kill_postgres(tmp_path / "pg")
            finally:
                with contextlib.suppress(Exception):
                    await database.close()
        finally:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(server.stop)
        dsn = await asyncio.to_thread(server.start)  # crash recovery from the WAL on disk
        try:
            check = await asyncpg.connect(dsn)
            try:
                rows = await check.fetch(
                    "select b.booking_reference, count(a.id) as tables"
                    " from table_bookings b"
                    " left join booking_table_assignments a on a.table_booking_id = b.id"
                    " group by b.booking_reference"
                )
                await check.execute("alter system reset wal_writer_delay")
                await check.execute("alter system reset wal_writer_flush_after")
            finally:
                await check.close()
        finally:
            await asyncio.to_thread(server.stop)
        kept = {r["booking_reference"]: r["tables"] for r in rows}
        assert set(kept) == set(references)
        assert all(n >= 1 for n in kept.values()), kept  # each seated, as answered


# Races on one slot -------------------------------------------------------------------------------

FRIDAY = date(2026, 11, 27)
LIVE_COVERS_PEAK = """
with live as (
  select start_datetime as s, end_datetime as e, party_size as p from table_bookings
  where booking_date = $1::date and status = 'confirmed'
)
select coalesce(max((select sum(l2.p) from live l2 where l2.s <= l1.s and l2.e > l1.s)), 0)
from live l1
"""


class TestRacesOnOneSlot:
    async def test_parallel_creates_changes_and_cancels_never_overbook(
        self,
        settings: Settings,
        database_url: str,
        clock: FakeClock,
        key: dict[str, str],
        conn: asyncpg.Connection,
    ) -> None:
        database = await PostgresDatabase.connect(database_url, max_size=20)
        app = create_app(settings, database=database, clock=clock)
        peaks: list[int] = []
        try:
            async with asgi_client(app) as client:
                # 40 of 50 covers at 19:00 on Friday in 20 parties of two; 16 parties at 13:00.
                at_seven = [
                    await create_booking(
                        client,
                        key,
                        regular_body(FRIDAY.isoformat(), "19:00", 2, phone=f"07911 1300{i:02d}"),
                    )
                    for i in range(20)
                ]
                at_one = [
                    await create_booking(
                        client,
                        key,
                        regular_body(FRIDAY.isoformat(), "13:00", 2, phone=f"07911 1400{i:02d}"),
                    )
                    for i in range(16)
                ]
                ref = [b["booking_reference"] for b in at_seven]
                requests: list[tuple[str, Any]] = []
                # 40 creates for the contested slot.
                for i in range(40):
                    body = regular_body(FRIDAY.isoformat(), "19:00", 2, phone=f"07911 1500{i:02d}")
                    requests.append(("create", client.post(BOOKINGS, json=body, headers=key)))
                # 20 changes into it: 16 moved from 13:00, 4 grown from two to four guests.
                for booking in at_one:
                    url = f"{BOOKINGS}/{booking['booking_reference']}"
                    requests.append(
                        ("change", client.patch(url, json={"time": "19:00"}, headers=key))
                    )
                for r in ref[16:]:
                    requests.append(
                        (
                            "change",
                            client.patch(f"{BOOKINGS}/{r}", json={"party_size": 4}, headers=key),
                        )
                    )
                # 20 cancels of bookings there: 16 different, 4 of them twice.
                for r in ref[:16] + ref[:4]:
                    requests.append(
                        (
                            "cancel",
                            client.post(
                                f"{BOOKINGS}/{r}/cancel", json={"reason": "race"}, headers=key
                            ),
                        )
                    )

                storm_over = asyncio.Event()

                async def observe() -> None:
                    watcher = await asyncpg.connect(database_url)
                    try:
                        while not storm_over.is_set():
                            peaks.append(await watcher.fetchval(LIVE_COVERS_PEAK, FRIDAY))
                            await asyncio.sleep(0.005)
                    finally:
                        await watcher.close()

                observer = asyncio.create_task(observe())
                try:
                    responses = await asyncio.gather(*(call for _, call in requests))
                finally:
                    storm_over.set()
                    await observer
        finally:
            await database.close()

        kinds = [kind for kind, _ in requests]
        outcomes = Counter(
            (kind, r.status_code, None if r.status_code < 300 else envelope_error(r)["code"])
            for kind, r in zip(kinds, responses, strict=True)
        )
        allowed = {
            ("create", 201, None),
            ("create", 409, "NO_AVAILABILITY"),
            ("change", 200, None),
            ("change", 409, "NO_AVAILABILITY"),
            ("cancel", 200, None),
            ("cancel", 409, "BOOKING_NOT_MODIFIABLE"),
        }
        assert set(outcomes) <= allowed, outcomes
        # Each booking is cancelled exactly once; its second cancel is refused.
        assert outcomes[("cancel", 200, None)] == 16
        assert outcomes[("cancel", 409, "BOOKING_NOT_MODIFIABLE")] == 4

        # Never more than 50 covers at once, during the storm or after it.
        assert peaks and max(peaks) <= 50, max(peaks)
        final = await conn.fetchval(LIVE_COVERS_PEAK, FRIDAY)
        assert final <= 50
        # What the answers say happened is what the database holds.
        created = outcomes[("create", 201, None)]
        moved = sum(r.status_code == 200 for r in responses[40:56])
        grown = sum(r.status_code == 200 for r in responses[56:60])
        seven_o_clock = await conn.fetchval(
            "select coalesce(sum(party_size), 0) from table_bookings where booking_date = $1::date"
            " and booking_time = '19:00' and status = 'confirmed'",
            FRIDAY,
        )
        assert seven_o_clock == 40 - 2 * 16 + 2 * created + 2 * moved + 2 * grown <= 50

        # The audit trail: one row per successful action, one per refused one.
        audit = Counter(
            r["operation_type"]
            for r in await conn.fetch(
                "select operation_type from audit_logs where operation_type like 'table_booking.%'"
            )
        )
        assert audit["table_booking.created"] == 36 + created
        assert audit["table_booking.updated"] == outcomes[("change", 200, None)]
        assert audit["table_booking.cancelled"] == 16
        assert audit["table_booking.create_refused"] == outcomes[("create", 409, "NO_AVAILABILITY")]
        assert audit["table_booking.update_refused"] == outcomes[("change", 409, "NO_AVAILABILITY")]
        assert audit["table_booking.cancel_refused"] == 4
        cancelled = await conn.fetch(
            "select resource_id from audit_logs where operation_type = 'table_booking.cancelled'"
        )
        assert sorted(r["resource_id"] for r in cancelled) == sorted(
            b["booking_id"] for b in at_seven[:16]
        )


# Hostile strings ---------------------------------------------------------------------------------

SQL = "'); drop table table_bookings; --"
HTML = "<script>alert(1)</script><img src=x onerror=alert(2)>"
EMOJI = "🍺👨‍👩‍👧 cheers"
RTL = "مرحبا \u202e\u05e9\u05dc\u05d5\u05dd\u202c abc"  # Arabic, then Hebrew reversed
CONTROL = "tab\there\nnew line\x07bell\x1b[31mred\x7fdel"
LONG = (" | ".join([SQL, HTML, EMOJI, RTL, CONTROL]) + " " + "ß" * 500)[:500]
ALLERGIES = [SQL, HTML, EMOJI, RTL, CONTROL]


#: Names must be names (tests/test_abuse.py): the hardest a name can be is a quote and a letter
#: from another alphabet.
FIRST, LAST = "Zoë", "O'Brien"


def one_line(text: str) -> str:
    return guest_text.clean_text(text, multiline=False)


class TestHostileStrings:
    async def test_stored_without_control_characters_and_escaped_in_emails(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        body = regular_body(
            special_requirements=LONG,
            allergies=ALLERGIES,
            dietary_requirements=[RTL, "🌱 vegan"],
            celebration_type="🎂 عيد ميلاد \u202e<b>",
        )
        for first, last in ((HTML, LAST), (FIRST, SQL), (EMOJI, LAST), (FIRST, CONTROL)):
            hostile = {**body, "customer": {**body["customer"], "first_name": first}}
            hostile["customer"]["last_name"] = last
            refused = await client.post(BOOKINGS, json=hostile, headers=key)
            assert refused.status_code == 400, refused.text
        body["customer"].update(first_name=FIRST, last_name=LAST, email="ann.lee@example.com")
        response = await client.post(BOOKINGS, json=body, headers=key)
        assert response.status_code == 201, response.text
        made = _json(response)["data"]
        reference, token = made["booking_reference"], made["manage_token"]
        assert len(LONG) == 500

        # SQL, HTML, emoji and other scripts are kept; control and formatting characters
        # (U+202E, ESC sequences, BEL, DEL) are not, and only notes keep their line breaks.
        requests = guest_text.clean_text(LONG, multiline=True)
        allergies = [one_line(a) for a in ALLERGIES]
        expected: dict[str, Any] = {
            "special_requirements": requests,
            "allergies": allergies,
            "dietary_requirements": [one_line(RTL), "🌱 vegan"],
            "celebration_type": "🎂 عيد ميلاد <b>",
        }
        assert SQL in requests and HTML in allergies
        assert requests.split("\n")[1].startswith("new line")
        assert allergies[4] == "tab here new linebellreddel"
        stored = await conn.fetchrow(
            "select b.special_requirements, b.allergies, b.dietary_requirements,"
            " b.celebration_type, c.first_name, c.last_name"
            " from table_bookings b join customers c on c.id = b.customer_id"
        )
        assert stored is not None
        assert {k: stored[k] for k in expected} == expected
        assert (stored["first_name"], stored["last_name"]) == (FIRST, LAST)
        assert await conn.fetchval("select count(*) from table_bookings") == 1  # no table dropped

        # The guest's view and the staff view echo every byte that was kept.
        for headers in ({"X-Booking-Token": token}, key):
            response = await client.get(f"{BOOKINGS}/{reference}", headers=headers)
            data = _json(response)["data"]
            assert {k: data[k] for k in expected} == expected
            assert (data["customer"]["first_name"], data["customer"]["last_name"]) == (FIRST, LAST)
        # The staff list finds it by the name with a quote, and echoes it.
        for search in (LAST, "' or 1=1 --"):
            response = await client.get(BOOKINGS, params={"search": search}, headers=key)
            items = _json(response)["data"]["items"]
            if search == "' or 1=1 --":
                assert items == []
                continue
            [item] = items
            assert item["customer_name"] == f"{FIRST} {LAST}"
            assert item["special_requirements"] == expected["special_requirements"]
            assert item["allergies"] == expected["allergies"]
        # The emails the worker writes carry them escaped in HTML, verbatim in plain text.
        await self._check_emails(client, conn, requests, allergies)
        # A change echoes too, and so does the staff alert about it (requirements alone send
        # none: only a new date, time or party size is announced).
        response = await client.patch(
            f"{BOOKINGS}/{reference}",
            json={"special_requirements": RTL + HTML, "party_size": 3},
            headers=key,
        )
        changed = guest_text.clean_text(RTL + HTML, multiline=True)
        assert _json(response)["data"]["special_requirements"] == changed
        await self._check_emails(client, conn, changed, allergies)

    @staticmethod
    async def _check_emails(
        client: httpx.AsyncClient, conn: asyncpg.Connection, requests: str, allergies: list[str]
    ) -> None:
        report = await client.get("/api/cron/process-jobs", headers=CRON)
        assert report.status_code == 200, report.text
        emails = [
            json.loads(r["payload"])
            for r in await conn.fetch(
                "select payload from jobs where type = 'table_booking_email'"
                " order by created_at, id"
            )
        ]
        staff = [e for e in emails if e["metadata"]["template_key"].startswith("staff_")]
        assert staff and len(emails) > len(staff)  # the manager's alert and the guest's email
        for email in emails:
            assert "<script" not in email["html"] and "<img" not in email["html"]
            assert "<b>" not in email["html"]
        latest = staff[-1]
        assert f"Guest: {html.escape(FIRST)} {html.escape(LAST)}" in latest["html"]
        assert f"Requests: {html.escape(requests)}" in latest["html"]
        assert html.escape(f"ALLERGIES: {', '.join(allergies)}") in latest["html"]
        # The plain text part keeps the words as they are.
        assert f"Guest: {FIRST} {LAST}" in latest["text"]
        assert f"Requests: {requests}" in latest["text"]


# Twilio failing while texts are sent --------------------------------------------------------------

TWILIO_SID = "AC123"
TWILIO_URL = f"https://api.twilio.com/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"


class TestTwilioFailing:
    async def test_twenty_texts_through_500s_and_timeouts_nothing_lost_nothing_doubled(
        self,
        settings: Settings,
        db: PostgresDatabase,
        clock: FakeClock,
        key: dict[str, str],
        conn: asyncpg.Connection,
        no_outbound_http: respx.MockRouter,
    ) -> None:
        calls: list[tuple[str, int]] = []  # (To, status) of every attempt, in order

        def twilio(request: httpx.Request) -> httpx.Response:
            to = parse_qs(request.content.decode())["To"][0]
            n = len(calls)
            if n < 20:
                calls.append((to, 500))
                return httpx.Response(500, json={"code": 20500, "message": "Internal Server Error"})
            if n < 25:
                calls.append((to, 503))
                return httpx.Response(503, text="Service Unavailable")
            if n < 30:
                calls.append((to, 0))
                error = httpx.ConnectError if n < 28 else httpx.ConnectTimeout
                raise error("no connection", request=request)
            sid = "SM" + uuid.uuid4().hex
            calls.append((to, 201))
            return httpx.Response(
                201, json={"sid": sid, "status": "accepted", "to": to, "num_segments": "1"}
            )

        no_outbound_http.post(TWILIO_URL).side_effect = twilio
        configured = settings.model_copy(
            update={
                "twilio_account_sid": TWILIO_SID,
                "twilio_auth_token": SecretStr("tok"),
                "twilio_messaging_service_sid": "MG123",
                "public_base_url": "https://tb.example",
            }
        )
        app = create_app(configured, database=db, clock=clock)
        async with asgi_client(app) as client:
            made = [
                await create_booking(
                    client, key, regular_body(phone=f"07911 1600{i:02d}", party_size=2)
                )
                for i in range(20)
            ]
            for _ in range(10):
                # Two runs at once each time, as overlapping cron invocations would.
                reports = await asyncio.gather(
                    *(client.get("/api/cron/process-jobs", headers=CRON) for _ in range(2))
                )
                assert all(r.status_code == 200 for r in reports), [r.text for r in reports]
                pending = await conn.fetchval(
                    "select count(*) from jobs where status <> 'completed'"
                )
                if not pending:
                    break
                # Bring retries forward, as the minutes of their backoff passing would.
                await conn.execute(
                    "update jobs set scheduled_for = now() - interval '1 second'"
                    " where status = 'pending'"
                )

        phones = {f"+4479111600{i:02d}" for i in range(20)}
        sent = Counter(to for to, status in calls if status == 201)
        assert sent == Counter({phone: 1 for phone in phones})  # each text once, none twice
        assert len(calls) == 50  # 30 failed attempts, each retried once, and nothing more
        jobs = await conn.fetch(
            "select status, attempts from jobs where type = 'table_booking_sms'"
        )
        assert len(jobs) == 20
        assert {j["status"] for j in jobs} == {"completed"}
        assert sum(j["attempts"] for j in jobs) == 50
        assert await conn.fetchval("select count(*) from jobs where status = 'failed'") == 0
        messages = await conn.fetch(
            "select table_booking_id::text, to_number, twilio_message_sid from messages"
        )
        assert sorted(m["table_booking_id"] for m in messages) == sorted(
            b["booking_id"] for b in made
        )
        assert {m["to_number"] for m in messages} == phones
        assert len({m["twilio_message_sid"] for m in messages}) == 20
