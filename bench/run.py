"""The performance benchmark, in one command: ``.venv/bin/python bench/run.py``.

It starts its own PostgreSQL (the embedded server in a temporary folder, or ``TEST_DATABASE_URL``
when set), makes six databases from the migrations and the demo data, in two scenarios: covers
(the demo's floor removed: ``empty``, ``loaded`` with 100,000 bookings and 20,000 customers, and
``create``, a copy of ``loaded`` whose capacity never refuses, for the create phase) and tables
(the pub's floor of the demo data: ``tables_empty``, ``tables_loaded`` with the window's bookings
seated on the floor, and ``tables_create``, where the benchmark's creates give their tables back
at commit), serves each with uvicorn (one worker, ``bench/app.py``),
drives them with wrk (or ``bench/loadgen.py`` where wrk cannot be installed) at a fixed
concurrency for a fixed time, and prints medians and the ratios of the issue with their goals.
Phases run in rounds, each round every phase once, alternating the order, so both sides of a
ratio are measured close together; the spread across rounds is the noise. See bench/README.md.

Exit status: 0 when the run completed (the goals are reported, PASS or FAIL); 1 when any request
failed; 2 when the harness itself broke.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import resource
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path[:] = [str(REPO), *(p for p in sys.path if Path(p or ".").resolve() != HERE)]

import asyncpg  # noqa: E402
import httpx  # noqa: E402
import psutil  # noqa: E402

from app.db import migrations  # noqa: E402
from bench import loadgen  # noqa: E402

LONDON = ZoneInfo("Europe/London")
DATABASES = (
    "bench_empty",
    "bench_loaded",
    "bench_create",
    "bench_tables_empty",
    "bench_tables_loaded",
    "bench_tables_create",
)
TEMPLATE = "bench_template"
HUGE = 1_000_000_000
CUSTOMERS = 20_000
HISTORY_DAYS = 7 * 365
WINDOW_DAYS = 56
# X-Forwarded-For of the callers (documentation addresses: header text only, never dialled):
# guests of the website come from many addresses, so the per-client availability counter is
# not one hot row, as it would be if every request came from 127.0.0.1.
FORWARDED_FOR = [f"203.0.113.{a}" for a in range(1, 255)] + [
    f"198.51.100.{a}" for a in range(1, 255)
]
GOALS = {
    "availability_floor": (">=", 0.6, "availability / floor throughput"),
    "create_floor": (">=", 0.3, "create / floor throughput"),
    "loaded_empty": ("<=", 1.3, "loaded / empty median latency"),
}
#: The two scenarios: each one's (availability loaded, availability empty, create) phases. The
#: covers scenario is a venue without tables (the covers rule); the tables scenario is the pub's
#: floor of the demo data (12 tables, 11 join links, 2 standing walk-in holds).
SCENARIOS = {
    "covers": ("availability", "availability_empty", "create"),
    "tables": ("availability_tables", "availability_tables_empty", "create_tables"),
}


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class HarnessError(RuntimeError):
    """The benchmark could not run (not a slow service: a broken harness or setup)."""


# PostgreSQL --------------------------------------------------------------------------------------


def with_database(dsn: str, name: str) -> str:
    return urlunsplit(urlsplit(dsn)._replace(path="/" + name))


@contextlib.contextmanager
def postgres(workdir: Path) -> Iterator[str]:
    external = os.environ.get("TEST_DATABASE_URL")
    if external:
        log("PostgreSQL: TEST_DATABASE_URL")
        yield external
        return
    from app.db.embedded import EmbeddedPostgres

    server = EmbeddedPostgres(workdir / "pgdata")
    log(f"PostgreSQL: starting the embedded server in {workdir / 'pgdata'}")
    dsn = server.start()
    try:
        yield dsn
    finally:
        server.stop()


async def server_facts(dsn: str) -> dict[str, Any]:
    conn = await asyncpg.connect(dsn)
    try:
        facts = {"version": await conn.fetchval("show server_version")}
        for name in ("fsync", "synchronous_commit", "shared_buffers", "max_connections"):
            facts[name] = await conn.fetchval(f"show {name}")
        # The postmaster (the parent of this connection's backend, asked while it still runs)
        # when the server runs on this machine: its processes' CPU is counted per phase.
        try:
            facts["postmaster_pid"] = psutil.Process(
                await conn.fetchval("select pg_backend_pid()")
            ).ppid()
        except psutil.Error:
            facts["postmaster_pid"] = None
    finally:
        await conn.close()
    return facts


async def make_databases(admin_dsn: str, key_hash: str) -> None:
    admin = await asyncpg.connect(admin_dsn)
    try:
        for name in (*DATABASES, TEMPLATE):
            await admin.execute(f'drop database if exists "{name}" with (force)')
        await admin.execute(f'create database "{TEMPLATE}"')
    finally:
        await admin.close()
    conn = await asyncpg.connect(with_database(admin_dsn, TEMPLATE))
    try:
        started = time.perf_counter()
        await migrations.apply_pending(conn)
        await migrations.load_demo_data_once(conn)
        # The bench key, with a limit that never refuses; BOOTSTRAP_API_KEY then finds it active
        # with every scope and leaves its rate_limit alone.
        await conn.execute(
            "insert into api_keys (key_hash, name, permissions, rate_limit)"
            " values ($1, 'benchmark', $2::jsonb, $3)",
            key_hash,
            json.dumps(["read:table_bookings", "write:table_bookings", "manage:table_bookings"]),
            HUGE,
        )
        log(f"template: migrations and demo data in {time.perf_counter() - started:.1f} s")
    finally:
        await conn.close()
    admin = await asyncpg.connect(admin_dsn)
    try:
        # The tables scenario: the demo data as it is, the pub's floor included.
        for name in ("bench_tables_empty", "bench_tables_loaded"):
            await admin.execute(f'create database "{name}" template "{TEMPLATE}"')
    finally:
        await admin.close()
    conn = await asyncpg.connect(with_database(admin_dsn, TEMPLATE))
    try:
        # The covers scenario: a venue without tables, where the covers rule is all of capacity.
        await conn.execute(
            "delete from table_holds; delete from table_join_links; delete from tables"
        )
    finally:
        await conn.close()
    admin = await asyncpg.connect(admin_dsn)
    try:
        for name in ("bench_empty", "bench_loaded"):
            await admin.execute(f'create database "{name}" template "{TEMPLATE}"')
    finally:
        await admin.close()


# 100,000 bookings, one INSERT --------------------------------------------------------------------
# Every open slot of the 56-day window gets 0-2 confirmed bookings (mean 1) plus, one slot in
# eight, a cancelled one: a 50-cover room is then about half full, 10-40 covers booked at most
# slots, like a busy pub (capacity, not the benchmark, bounds how many bookings a future date can
# hold). The rest of the 100,000 are the pub's history: bookings on the open slots of the past
# seven years, completed, cancelled or no-show, which every availability query must step over.
# Times are on the slot grid of each day's kitchen hours, start/end are set as the service sets
# them, customers are 20,000 guests, some coming back often.

CUSTOMERS_SQL = """
insert into public.customers (first_name, last_name, mobile_number, mobile_e164, email,
                              sms_opt_in, created_at, sms_status)
select 'Guest', 'No' || k, '+44781' || lpad(k::text, 7, '0'), '+44781' || lpad(k::text, 7, '0'),
       case when k % 3 = 0 then 'guest' || k || '@example.com' end, k % 5 <> 0,
       now() - make_interval(days => 3000 - k % 2900), 'active'
from generate_series(1, $1::int) k
"""

BOOKINGS_SQL = """
with cfg as (
  select (c ->> 'slot_interval_minutes')::int as step,
         (c ->> 'last_start_margin_minutes')::int as margin,
         (c ->> 'duration_minutes')::int as duration
  from (select public.tb_config() as c) x
),
grid as materialized (
  select d::date as day, s.slot_time, h.opens, h.overnight, random() as r1, random() as r2
  from cfg
  cross join lateral generate_series($1::date - $3::int, $1::date + $4::int, interval '1 day') d
  cross join lateral public.tb_day_hours(d::date) h
  cross join lateral public.tb_slot_times(h.opens, h.closes, cfg.step, cfg.margin) s
  where h.kitchen_open
),
win as materialized (
  select g.day, g.slot_time, g.opens, g.overnight,
         (case when n <= c.confirmed then 'confirmed' else 'cancelled' end)
           ::public.table_booking_status as status
  from grid g
  cross join lateral (
    select case when g.r1 < 0.2 then 0 when g.r1 < 0.8 then 1 else 2 end as confirmed,
           case when g.r2 < 0.125 then 1 else 0 end as cancelled) c
  cross join lateral generate_series(1, c.confirmed + c.cancelled) n
  where g.day >= $1::date
),
past as materialized (
  select row_number() over (order by day, slot_time) as k, day, slot_time, opens, overnight
  from grid where day < $1::date
),
hist as (
  select p.day, p.slot_time, p.opens, p.overnight,
         (case when x.r < 0.85 then 'completed' when x.r < 0.95 then 'cancelled'
               else 'no_show' end)::public.table_booking_status as status
  from (select random() as r,
               1 + floor(random() * (select count(*) from past))::bigint as k
        from generate_series(1, greatest($2::int - (select count(*) from win), 0))) x
  join past p on p.k = x.k
),
numbered as (
  select row_number() over () as i, u.*,
         (array[1,2,2,2,2,2,2,2,3,3,3,4,4,4,4,4,5,6,6,7,8])[1 + floor(random() * 21)::int]
           as party,
         1 + floor($5::int * random() ^ 2)::int as guest,
         random() as r3, random() as r4
  from (select * from win union all select * from hist) u
),
b as (
  select n.*, public.tb_start_instant(n.day, n.slot_time, n.opens, n.overnight) as start_at,
         (extract(dow from n.day) = 0 and n.r3 < 0.6) as sunday_lunch
  from numbered n
),
c as (
  select b.*, c.id as customer_id,
         least(b.start_at - make_interval(mins => (60 + b.r4 * 40000)::int), now()) as made_at
  from b join public.customers c on c.mobile_e164 = '+44781' || lpad(b.guest::text, 7, '0')
)
insert into public.table_bookings (
  booking_reference, customer_id, booking_date, booking_time, party_size, booking_type, status,
  duration_minutes, source, created_at, updated_at, confirmed_at, cancelled_at,
  cancellation_reason, completed_at, no_show_at, start_datetime, end_datetime, payment_status,
  deposit_amount, reminder_sent, policy_override, committed_party_size)
select 'TB-' || upper(lpad(to_hex(c.i), 8, '0')), c.customer_id, c.day, c.slot_time, c.party,
       (case when c.sunday_lunch then 'sunday_lunch' else 'regular' end)::public.table_booking_type,
       c.status, cfg.duration,
       (array['website', 'website', 'website', 'phone', 'walk-in'])[1 + floor(c.r3 * 5)::int],
       c.made_at, c.made_at,
       case when c.status <> 'cancelled' then c.made_at end,
       case when c.status = 'cancelled' then c.made_at + (c.start_at - c.made_at) * c.r4 end,
       case when c.status = 'cancelled' then 'Plans changed' end,
       case when c.status = 'completed' then c.start_at + make_interval(mins => cfg.duration) end,
       case when c.status = 'no_show' then c.start_at + interval '30 minutes' end,
       c.start_at, c.start_at + make_interval(mins => cfg.duration),
       (case when c.sunday_lunch then 'completed' end)::public.payment_status,
       case when c.sunday_lunch then 5.00 * c.party end,
       c.day < $1::date, false, c.party
from c, cfg
"""

CUSTOMER_STATS_SQL = """
update public.customers cu
   set table_booking_count = s.kept, no_show_count = s.no_shows, last_table_booking_date = s.last
  from (select customer_id,
               count(*) filter (where status in ('confirmed', 'completed')) as kept,
               count(*) filter (where status = 'no_show') as no_shows,
               max(booking_date) filter (where status in ('confirmed', 'completed')) as last
        from public.table_bookings group by customer_id) s
 where cu.id = s.customer_id
"""

# Booked covers at every open slot of the window, by the service's own capacity rule.
OCCUPANCY_SQL = """
select count(*) as slots,
       min(booked) as min, percentile_disc(0.1) within group (order by booked) as p10,
       percentile_disc(0.5) within group (order by booked) as median,
       percentile_disc(0.9) within group (order by booked) as p90, max(booked) as max,
       count(*) filter (where booked > 44) as over_44
from (
  select (public.tb_config() ->> 'capacity')::int - public.table_booking_covers_free(
           d::date, s.slot_time, public.tb_start_instant(d::date, s.slot_time, h.opens,
                                                          h.overnight),
           120, 'regular', now()) as booked
  from generate_series($1::date + 1, $1::date + $2::int, interval '1 day') d
  cross join lateral public.tb_day_hours(d::date) h
  cross join lateral public.tb_slot_times(h.opens, h.closes, 30, 30) s
  where h.kitchen_open
) x
"""

# The tables scenario's 56-day window: every bookable table of the pub's floor, every open day,
# is laid out in back-to-back two-hour sittings (the seeded durations: 120 minutes for food, no
# turnaround) from a per-table offset of 0-60 minutes after the kitchen opens, so its sittings
# never overlap (touching windows do not clash). A sitting is booked (confirmed, its table in
# booking_table_assignments) with probability 0.6 from 17:00 and 0.3 before; one in ten of the
# rest is a cancelled booking, which holds no table. Parties fit the table: from its minimum
# (at least 2) to its capacity. Walk-in held tables are booked as walk-ins.
TABLES_WINDOW_SQL = """
with cfg as (
  select (c ->> 'slot_interval_minutes')::int as step,
         (c ->> 'last_start_margin_minutes')::int as margin,
         (c ->> 'duration_minutes')::int as duration
  from (select public.tb_config() as c) x
),
days as materialized (
  select d::date as day, h.opens, h.closes, h.overnight
  from generate_series($1::date, $1::date + $2::int, interval '1 day') d
  cross join lateral public.tb_day_hours(d::date) h
  where h.kitchen_open
),
sittings as materialized (
  select dy.day, s.slot_time, dy.opens, dy.overnight, t.id as table_id, t.capacity,
         greatest(t.min_party_size, 2) as min_party,
         exists (select 1 from public.table_holds h
                 where h.table_id = t.id and h.hold_type = 'walk_in_hold') as held,
         random() as r, random() as r2, random() as r3, random() as r4
  from days dy
  cross join public.tables t
  cross join cfg
  cross join lateral public.tb_slot_times(dy.opens, dy.closes, cfg.step, cfg.margin) s
  where t.is_bookable
    and s.minutes_after_opening >= (abs(hashtext(dy.day::text || t.id::text)) % 5) * 15
    and (s.minutes_after_opening - (abs(hashtext(dy.day::text || t.id::text)) % 5) * 15)
        % 120 = 0
),
plan as materialized (
  select gen_random_uuid() as id,
         row_number() over (order by x.day, x.slot_time, x.table_id) as i,
         x.*, public.tb_start_instant(x.day, x.slot_time, x.opens, x.overnight) as start_at,
         (case when x.r < x.p then 'confirmed' else 'cancelled' end)
           ::public.table_booking_status as status,
         least(x.min_party + floor(x.r2 * (x.capacity - x.min_party + 1))::int, x.capacity)
           as party
  from (select sittings.*, case when slot_time >= '17:00' then 0.6 else 0.3 end as p
        from sittings) x
  where x.r < x.p + 0.1 * (1 - x.p)
),
c as (
  select p.*, cu.id as customer_id, cfg.duration,
         least(p.start_at - make_interval(mins => (60 + p.r4 * 40000)::int), now()) as made_at
  from plan p
  cross join cfg
  join public.customers cu
    on cu.mobile_e164 = '+44781' || lpad((1 + floor($3::int * p.r3 ^ 2)::int)::text, 7, '0')
),
booked as (
  insert into public.table_bookings (
    id, booking_reference, customer_id, booking_date, booking_time, party_size, booking_type,
    status, duration_minutes, source, created_at, updated_at, confirmed_at, cancelled_at,
    cancellation_reason, start_datetime, end_datetime, reminder_sent, policy_override,
    committed_party_size)
  select c.id, 'TB-F' || upper(lpad(to_hex(c.i), 7, '0')), c.customer_id, c.day, c.slot_time,
         c.party, 'regular', c.status, c.duration,
         case when c.held then 'walk-in'
              else (array['website', 'website', 'website', 'phone'])[1 + floor(c.r4 * 4)::int]
         end,
         c.made_at, c.made_at,
         case when c.status = 'confirmed' then c.made_at end,
         case when c.status = 'cancelled' then c.made_at + (c.start_at - c.made_at) * c.r2 end,
         case when c.status = 'cancelled' then 'Plans changed' end,
         c.start_at, c.start_at + make_interval(mins => c.duration), false, false, c.party
  from c
  returning id
)
insert into public.booking_table_assignments
  (table_booking_id, table_id, start_datetime, end_datetime)
select c.id, c.table_id, c.start_at, c.start_at + make_interval(mins => c.duration)
from c
where c.status = 'confirmed' and exists (select 1 from booked b where b.id = c.id)
"""

# Tables in use at each evening slot's start (17:00 onwards) of the window, as a share of the
# bookable tables.
TABLES_OCCUPANCY_SQL = """
with x as (
  select (select count(distinct a.table_id)
          from public.booking_table_assignments a
          join public.table_bookings b on b.id = a.table_booking_id
          where b.status = 'confirmed' and a.start_datetime <= st and a.end_datetime > st)::numeric
         / (select count(*) from public.tables where is_bookable) as share
  from (select public.tb_start_instant(d::date, s.slot_time, h.opens, h.overnight) as st
        from generate_series($1::date + 1, $1::date + $2::int, interval '1 day') d
        cross join lateral public.tb_day_hours(d::date) h
        cross join lateral public.tb_slot_times(h.opens, h.closes, 15, 30) s
        where h.kitchen_open and s.slot_time >= '17:00') y
)
select count(*) as evening_slots, round(min(share), 2) as min,
       round(percentile_disc(0.1) within group (order by share), 2) as p10,
       round(percentile_disc(0.5) within group (order by share), 2) as median,
       round(percentile_disc(0.9) within group (order by share), 2) as p90,
       round(max(share), 2) as max
from x
"""

# The tables scenario's create phase books only (day, time) pairs where the loaded floor can
# seat every party size it sends (1-4, online) and has at least 12 seats free for the two hours:
# on a full evening a create is refused (409 no_table), and the load generator would count that
# as an error. About a third of the evening pairs are left out at the loaded fill.
TABLES_ROOM_SQL = """
select g.day, g.at
from unnest($1::date[], $2::text[]) g(day, at)
cross join lateral public.tb_day_hours(g.day) h
cross join lateral (select public.tb_start_instant(g.day, g.at::time, h.opens, h.overnight) as st) s
where (select d.free_seats from public.tb_day_tables(array[s.st], 120, 1, 'food', 'online', 0,
                                                       false, now()) d) >= 12
  and not exists (
    select 1 from generate_series(1, 4) p
    cross join lateral public.tb_choose_tables(s.st, s.st + interval '120 minutes', p, 'food',
                                               'online', 0, false, '{}'::jsonb, now()) c
    where c.reason is not null)
order by 1, 2
"""

GRID_SQL = """
select d::date as day, to_char(s.slot_time, 'HH24:MI') as at
from (select public.tb_config() as c) cfg
cross join lateral generate_series($1::date, $2::date, interval '1 day') d
cross join lateral public.tb_day_hours(d::date) h
cross join lateral public.tb_slot_times(h.opens, h.closes, (cfg.c ->> 'slot_interval_minutes')::int,
                                        (cfg.c ->> 'last_start_margin_minutes')::int) s
where h.kitchen_open
order by 1, 2
"""


async def load_bookings(
    dsn: str, today: date, total: int, *, tables: bool = False
) -> dict[str, Any]:
    """The 100,000 bookings; with ``tables``, the window's on the pub's floor (TABLES_WINDOW_SQL)
    and the rest history, as in the covers scenario."""
    conn = await asyncpg.connect(dsn)
    try:
        started = time.perf_counter()
        async with conn.transaction():
            with contextlib.suppress(asyncpg.InsufficientPrivilegeError):
                # Skips the per-row triggers (booking reference, customer counters, messages,
                # the assignment guard: the window's sittings never overlap by construction);
                # counters are set below in one statement, references are given.
                await conn.execute("set local session_replication_role = replica")
            await conn.execute("select setseed(0.42)")
            await conn.execute(CUSTOMERS_SQL, CUSTOMERS)
            if tables:
                await conn.execute(TABLES_WINDOW_SQL, today, WINDOW_DAYS, CUSTOMERS)
                in_window = await conn.fetchval("select count(*) from table_bookings")
                # History only: a window that ends before today holds nothing.
                await conn.execute(
                    BOOKINGS_SQL, today, total - in_window, HISTORY_DAYS, -1, CUSTOMERS
                )
            else:
                await conn.execute(BOOKINGS_SQL, today, total, HISTORY_DAYS, WINDOW_DAYS, CUSTOMERS)
            await conn.execute(CUSTOMER_STATS_SQL)
        loaded_in = time.perf_counter() - started
        await conn.execute("vacuum analyze")
        rows = await conn.fetch(
            "select (booking_date >= $1) as window, status::text, count(*) as n"
            " from table_bookings group by 1, 2 order by 1, 2",
            today,
        )
        occupancy = dict(
            await conn.fetchrow(
                TABLES_OCCUPANCY_SQL if tables else OCCUPANCY_SQL, today, WINDOW_DAYS
            )
        )
        if tables:
            occupancy["assignments"] = await conn.fetchval(
                "select count(*) from booking_table_assignments"
            )
        return {
            "seconds": round(loaded_in, 1),
            "total": sum(r["n"] for r in rows),
            "window": {r["status"]: r["n"] for r in rows if r["window"]},
            "history": {r["status"]: r["n"] for r in rows if not r["window"]},
            "occupancy": occupancy,
        }
    finally:
        await conn.close()


async def prepare(admin_dsn: str, key_hash: str, today: date, bookings: int) -> dict[str, Any]:
    await make_databases(admin_dsn, key_hash)
    started = time.perf_counter()
    loaded = await load_bookings(with_database(admin_dsn, "bench_loaded"), today, bookings)
    log(
        f"loaded: {loaded['total']:,} bookings in {loaded['seconds']} s"
        f" (+ vacuum analyze: {time.perf_counter() - started:.1f} s in all)"
    )
    started = time.perf_counter()
    tables = await load_bookings(
        with_database(admin_dsn, "bench_tables_loaded"), today, bookings, tables=True
    )
    log(
        f"tables loaded: {tables['total']:,} bookings in {tables['seconds']} s"
        f" (+ vacuum analyze: {time.perf_counter() - started:.1f} s in all)"
    )
    # Creates go to a copy of the loaded database: the pub's customers and bookings are there,
    # as they are in production, where a new guest is looked up among all the customers.
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute('create database "bench_create" template "bench_loaded"')
        await admin.execute('create database "bench_tables_create" template "bench_tables_loaded"')
    finally:
        await admin.close()
    for name in ("bench_empty", "bench_create", "bench_tables_empty", "bench_tables_create"):
        conn = await asyncpg.connect(with_database(admin_dsn, name))
        try:
            if name == "bench_tables_create":
                await conn.execute(GIVE_TABLES_BACK_SQL)
            if name == "bench_create":
                # The create phase books thousands of tables on top of the loaded ones: capacity
                # must never be what refuses (the SQL is the same whatever the number).
                await conn.execute(
                    "update system_settings set value = $1::jsonb"
                    " where key = 'restaurant_capacity'",
                    json.dumps({"max_capacity": HUGE}),
                )
            await conn.execute("vacuum analyze")
        finally:
            await conn.close()
    grids = {}
    for scenario, name in (("covers", "bench_loaded"), ("tables", "bench_tables_loaded")):
        conn = await asyncpg.connect(with_database(admin_dsn, name))
        try:
            rows = await conn.fetch(GRID_SQL, today + timedelta(days=1), today + timedelta(days=55))
        finally:
            await conn.close()
        grids[scenario] = [(r["day"].isoformat(), r["at"]) for r in rows]
        if scenario == "tables":
            conn = await asyncpg.connect(with_database(admin_dsn, name))
            try:
                rows = await conn.fetch(
                    TABLES_ROOM_SQL, [r["day"] for r in rows], [r["at"] for r in rows]
                )
            finally:
                await conn.close()
            grids["tables_create"] = [(r["day"].isoformat(), r["at"]) for r in rows]
    return {"loaded": loaded, "tables": tables, "grids": grids}


# The tables scenario's create phase: thousands of creates cannot all find a table on a floor of
# ten bookable tables (about 2,000 two-hour sittings in 55 days, half of them already booked), so
# in that database (and only there) the benchmark's own creates give their tables back as they
# commit: a deferred trigger deletes each new assignment at the end of its transaction. The
# create does all its work (the venue lock, the chooser over the loaded floor, the guard
# trigger, the assignment rows), then the floor is as it was loaded; the bookings stay,
# confirmed. The loaded window's assignments are never touched.
GIVE_TABLES_BACK_SQL = """
create function public.bench_give_table_back() returns trigger
language plpgsql as $$
begin
  delete from public.booking_table_assignments where id = new.id;
  return null;
end
$$;
create constraint trigger bench_give_table_back
  after insert on public.booking_table_assignments
  deferrable initially deferred
  for each row execute function public.bench_give_table_back();
"""


# The service under test --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    name: str
    database: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid


def start_server(name: str, dsn: str, key: str, workdir: Path, cpus: list[int] | None) -> Server:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": dsn,
        "BOOTSTRAP_API_KEY": key,
        "APP_ENV": "test",
        "PORT": str(port),
        "AVAILABILITY_LIMIT_PER_MINUTE": str(HUGE),
        "CREATE_LIMIT_PER_PHONE_PER_HOUR": str(HUGE),
    }
    for unwanted in ("SUPABASE_URL", "TEST_DATABASE_URL", "PYTHONPATH"):
        env.pop(unwanted, None)
    log_path = workdir / f"server-{name}.log"
    with open(log_path, "wb") as out:
        process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "bench.app", "--port", str(port)],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    if cpus:
        psutil.Process(process.pid).cpu_affinity(cpus)
    return Server(name, urlsplit(dsn).path.lstrip("/"), port, process, log_path)


def wait_ready(server: Server, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            tail = server.log_path.read_text(errors="replace")[-3000:]
            raise HarnessError(f"the {server.name} server exited while starting:\n{tail}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"http://127.0.0.1:{server.port}/health", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise HarnessError(f"the {server.name} server did not answer /health in {timeout} s")


def stop_server(server: Server) -> None:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


# Phases ------------------------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    label: str
    server: str
    kind: str  # floor | availability | create
    scenario: str = "covers"  # whose slot grid it books (SCENARIOS)
    runs: int = 0  # how many times it has run (a new phone range and idempotency keys each time)

    def spec(self, key: str, grids: dict[str, list[tuple[str, str]]], token: str) -> dict[str, Any]:
        grid = grids[self.scenario]
        headers = {"X-API-Key": key, "User-Agent": "anchor-bench"}
        if self.kind == "floor":
            return {"kind": "get", "paths": ["/bench/floor"], "headers": headers}
        if self.kind == "availability":
            days = sorted({d for d, _ in grid})
            paths = [
                f"/api/table-bookings/availability?date={d}&party_size={p}"
                for d in days
                for p in range(2, 7)
            ]
            random.Random(7).shuffle(paths)
            return {
                "kind": "get",
                "paths": paths,
                "headers": headers,
                "forwarded_for": FORWARDED_FOR,
            }
        combos = [list(c) for c in grid]
        random.Random(11).shuffle(combos)
        self.runs += 1
        return {
            "kind": "create",
            "headers": headers,
            "forwarded_for": FORWARDED_FOR,
            "combos": combos,
            "phone_base": self.runs * 500_000,
            "idempotency_prefix": f"bench-{token}-{self.runs}-",
        }


PHASES = [
    Phase("floor", "floor (GET /bench/floor)", "loaded", "floor"),
    Phase("availability", "availability, loaded (100k)", "loaded", "availability"),
    Phase("availability_empty", "availability, empty", "empty", "availability"),
    Phase("create", "create (POST)", "create", "create"),
    Phase(
        "availability_tables",
        "tables: availability, loaded",
        "tables_loaded",
        "availability",
        "tables",
    ),
    Phase(
        "availability_tables_empty",
        "tables: availability, empty",
        "tables_empty",
        "availability",
        "tables",
    ),
    Phase("create_tables", "tables: create (POST)", "tables_create", "create", "tables_create"),
]


def lua_script(spec: dict[str, Any]) -> str:
    """wrk's request() for ``spec``: the same requests as loadgen.build_request, in Lua."""

    def table(values: list[str]) -> str:
        return "{" + ",".join(json.dumps(v) for v in values) + "}"

    headers = ",".join(f"[{json.dumps(k)}]={json.dumps(v)}" for k, v in spec["headers"].items())
    lines = [
        f"local headers = {{{headers}}}",
        f"local forwarded = {table(spec.get('forwarded_for') or [])}",
        "local counter = 0",
    ]
    if spec["kind"] == "create":
        lines += [
            f"local days = {table([c[0] for c in spec['combos']])}",
            f"local times = {table([c[1] for c in spec['combos']])}",
            f"local phone_base = {int(spec['phone_base'])}",
            f"local prefix = {json.dumps(spec['idempotency_prefix'])}",
            "local template = " + json.dumps(loadgen.create_body_template()),
        ]
    else:
        lines.append(f"local paths = {table(spec['paths'])}")
    lines += [
        "request = function()",
        "  local i = counter",
        "  counter = counter + 1",
        "  local h = {}",
        "  for k, v in pairs(headers) do h[k] = v end",
        "  if #forwarded > 0 then h['X-Forwarded-For'] = forwarded[(i % #forwarded) + 1] end",
    ]
    if spec["kind"] == "create":
        lines += [
            "  local k = (i % #days) + 1",
            "  local phone = string.format('0780%07d', phone_base + i)",
            "  h['Content-Type'] = 'application/json'",
            "  h['Idempotency-Key'] = prefix .. i",
            "  local body = string.format(template, days[k], times[k], 1 + (i % 4), phone, phone)",
            f"  return wrk.format('POST', '{loadgen.CREATE_PATH}', h, body)",
        ]
    else:
        lines.append("  return wrk.format('GET', paths[(i % #paths) + 1], h)")
    lines += [
        "end",
        "done = function(summary, latency, requests)",
        "  local e = summary.errors",
        '  io.write(string.format(\'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,\''
        ' .. \'"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,\''
        ' .. \'"p50":%d,"p95":%d,"p99":%d,"mean":%f,"max":%d}\\n\',',
        "    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,",
        "    e.status, e.timeout, latency:percentile(50), latency:percentile(95),",
        "    latency:percentile(99), latency.mean, latency.max))",
        "end",
    ]
    return "\n".join(lines) + "\n"


def ensure_wrk(choice: str) -> str | None:
    """The wrk binary, installing Debian's package when missing and allowed; else None."""
    if choice == "python":
        return None
    found = shutil.which("wrk")
    if found or choice == "python":
        return found
    apt = shutil.which("apt-get")
    if apt and os.geteuid() == 0:
        log("wrk is missing: apt-get install -y wrk")
        for command in (
            [apt, "install", "-y", "wrk"],
            [apt, "update"],
            [apt, "install", "-y", "wrk"],
        ):
            subprocess.run(command, capture_output=True, check=False, timeout=600)  # noqa: S603
            if shutil.which("wrk"):
                break
        found = shutil.which("wrk")
    if not found and choice == "wrk":
        raise HarnessError("wrk is not installed and could not be installed")
    if not found:
        log("wrk is not available: using bench/loadgen.py (asyncio, one process) instead")
    return found


@dataclass
class Result:
    phase: str
    round: int
    requests: int
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    errors: dict[str, int]
    cpu: dict[str, float] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


class CpuMeter:
    """CPU seconds used during a phase by the server, PostgreSQL, the load generator, the rest."""

    def __init__(self, server_pid: int, postmaster_pid: int | None) -> None:
        self.server = psutil.Process(server_pid)
        self.postmaster = psutil.Process(postmaster_pid) if postmaster_pid else None

    def _pg(self) -> dict[int, float]:
        if self.postmaster is None:
            return {}
        times = {}
        for proc in [self.postmaster, *self.postmaster.children()]:
            with contextlib.suppress(psutil.Error):
                t = proc.cpu_times()
                times[proc.pid] = t.user + t.system
        return times

    def __enter__(self) -> CpuMeter:
        t = self.server.cpu_times()
        self.server_start = t.user + t.system
        self.pg_start = self._pg()
        c = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.gen_start = c.ru_utime + c.ru_stime
        self.machine_start = psutil.cpu_times()
        self.wall_start = time.perf_counter()
        return self

    def __exit__(self, *_: object) -> None:
        wall = time.perf_counter() - self.wall_start
        t = self.server.cpu_times()
        pg_end = self._pg()
        c = resource.getrusage(resource.RUSAGE_CHILDREN)
        machine = psutil.cpu_times()
        busy = sum(
            getattr(machine, f) - getattr(self.machine_start, f)
            for f in ("user", "nice", "system", "irq", "softirq", "steal")
            if hasattr(machine, f)
        )
        self.values = {
            "wall": wall,
            "server": t.user + t.system - self.server_start,
            "postgres": sum(v - self.pg_start.get(pid, 0.0) for pid, v in pg_end.items()),
            "loadgen": c.ru_utime + c.ru_stime - self.gen_start,
            "machine": busy,
        }
        ours = self.values["server"] + self.values["postgres"] + self.values["loadgen"]
        self.values["others"] = max(busy - ours, 0.0)


def run_load(
    spec: dict[str, Any],
    server: Server,
    args: argparse.Namespace,
    wrk: str | None,
    workdir: Path,
    seconds: float,
    postmaster_pid: int | None,
) -> tuple[dict[str, Any], dict[str, float]]:
    spec_path = workdir / "spec.json"
    spec_path.write_text(json.dumps(spec))
    if wrk:
        script = workdir / "phase.lua"
        script.write_text(lua_script(spec))
        command = [
            wrk,
            "-t1",
            f"-c{args.concurrency}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            f"http://127.0.0.1:{server.port}",
        ]
    else:
        command = [
            sys.executable,
            str(HERE / "loadgen.py"),
            str(spec_path),
            "127.0.0.1",
            str(server.port),
            str(args.concurrency),
            str(seconds),
        ]
    with CpuMeter(server.pid, postmaster_pid) as meter:
        process = subprocess.Popen(  # noqa: S603
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO
        )
        if args.loadgen_cpus:
            with contextlib.suppress(psutil.Error):
                psutil.Process(process.pid).cpu_affinity(args.loadgen_cpus)
        out, err = process.communicate(timeout=seconds + 120)
    text = out.decode(errors="replace")
    line = next((x for x in text.splitlines() if x.startswith("BENCH_JSON ")), None)
    if process.returncode != 0 or line is None:
        raise HarnessError(f"the load generator failed ({process.returncode}): {text}{err!r}")
    return json.loads(line.removeprefix("BENCH_JSON ")), meter.values


def to_result(phase: str, round_: int, raw: dict[str, Any], cpu: dict[str, float]) -> Result:
    return Result(
        phase=phase,
        round=round_,
        requests=int(raw["requests"]),
        seconds=raw["duration_us"] / 1e6,
        p50_ms=raw["p50"] / 1000,
        p95_ms=raw["p95"] / 1000,
        p99_ms=raw["p99"] / 1000,
        errors={k: int(raw[k]) for k in ("connect", "read", "write", "status", "timeout")},
        cpu=cpu,
    )


def preflight(phase: Phase, spec: dict[str, Any], server: Server) -> None:
    """Send the phase's first requests once and check they succeed the way the phase expects."""
    with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=30) as client:
        for i in range(3):
            method, path, headers, body = loadgen.build_request(spec, i)
            response = client.request(method, path, headers=headers, content=body)
            ok = response.status_code in (200, 201) and response.json().get("success") is True
            data = response.json().get("data") if ok else None
            if ok and phase.kind == "availability":
                ok = bool(data["time_slots"]) and data["kitchen_hours"] is not None
            if ok and phase.kind == "create":
                ok = data["status"] == "confirmed"
            if not ok:
                raise HarnessError(
                    f"{phase.name}: {method} {path} answered {response.status_code}: "
                    f"{response.text[:500]}"
                )


def server_errors(server: Server, limit: int = 5) -> list[str]:
    """A few request lines with an error status from a server's JSON log."""
    found = []
    for line in server.log_path.read_text(errors="replace").splitlines():
        with contextlib.suppress(ValueError):
            entry = json.loads(line)
            failed = entry.get("event") == "http.request" and int(entry.get("status", 0)) >= 400
            if failed or entry.get("level") in ("error", "critical"):
                found.append(line)
    return found[-limit:]


# The database side, without HTTP -----------------------------------------------------------------


async def sql_probe(
    admin_dsn: str, key: str, grids: dict[str, list[tuple[str, str]]], calls: int
) -> dict[str, float]:
    """Mean milliseconds per call, sequential on one pooled connection, of each RPC a phase makes
    (the same PostgresDatabase.rpc the service uses), so request time splits into SQL and
    Python."""
    from app.db.postgres import PostgresDatabase
    from app.services import api_keys

    now = datetime.now(UTC)
    key_hash = api_keys.hash_key(key)
    out: dict[str, float] = {}

    async def timed(name: str, call: Any, n: int) -> None:
        for i in range(min(20, n)):
            await call(i)
        started = time.perf_counter()
        for i in range(n):
            await call(1000 + i)
        out[name] = (time.perf_counter() - started) / n * 1000

    for database in ("bench_loaded", "bench_empty", "bench_tables_loaded", "bench_tables_empty"):
        grid = grids["tables" if "tables" in database else "covers"]
        days = sorted({d for d, _ in grid})
        cases = [(d, p) for d in days for p in range(2, 7)]
        random.Random(7).shuffle(cases)
        db = await PostgresDatabase.connect(with_database(admin_dsn, database), max_size=1)
        try:
            tag = database.removeprefix("bench_")

            async def availability(
                i: int, db: PostgresDatabase = db, cases: list[tuple[str, int]] = cases
            ) -> None:
                d, p = cases[i % len(cases)]
                await db.rpc(
                    "table_booking_availability",
                    {
                        "p_date": d,
                        "p_party_size": p,
                        "p_booking_type": "regular",
                        "p_now": now.isoformat(),
                    },
                )

            async def availability_for_key(
                i: int, db: PostgresDatabase = db, cases: list[tuple[str, int]] = cases
            ) -> None:
                # What the endpoint sends: the key, its client limit and the slots, one call.
                d, p = cases[i % len(cases)]
                await db.rpc(
                    "table_booking_availability_for_key",
                    {
                        "p_key_hash": key_hash,
                        "p_now": datetime.now(UTC).isoformat(),
                        "p_limits": [
                            {
                                "bucket": f"client:read:{FORWARDED_FOR[i % 500]}",
                                "limit": HUGE,
                                "window_seconds": 60,
                            }
                        ],
                        "p_date": d,
                        "p_party_size": p,
                        "p_booking_type": "regular",
                    },
                )

            await timed(f"table_booking_availability ({tag})", availability, calls)
            await timed(f"table_booking_availability_for_key ({tag})", availability_for_key, calls)
            if database == "bench_loaded":

                async def health(i: int, db: PostgresDatabase = db) -> None:
                    await db.rpc("service_health")

                async def authenticate(i: int, db: PostgresDatabase = db) -> None:
                    await db.rpc(
                        "api_key_authenticate",
                        {
                            "p_key_hash": key_hash,
                            "p_now": datetime.now(UTC).isoformat(),
                            "p_limits": [
                                {
                                    "bucket": f"client:read:{FORWARDED_FOR[i % 500]}",
                                    "limit": HUGE,
                                    "window_seconds": 60,
                                }
                            ],
                        },
                    )

                await timed("service_health (floor)", health, calls)
                await timed("api_key_authenticate", authenticate, calls)
        finally:
            await db.close()
    for database in ("bench_create", "bench_tables_create"):
        await probe_create(admin_dsn, database, key, grids, calls, timed)
    return out


async def probe_create(
    admin_dsn: str,
    database: str,
    key: str,
    grids: dict[str, list[tuple[str, str]]],
    calls: int,
    timed: Any,
) -> None:
    """The create half of sql_probe, on one create database."""
    from app.db.postgres import PostgresDatabase
    from app.schemas import CreateBookingRequest
    from app.services import api_keys, bookings
    from app.services.actors import Actor, ClientInfo

    now = datetime.now(UTC)
    key_hash = api_keys.hash_key(key)
    db = await PostgresDatabase.connect(with_database(admin_dsn, database), max_size=1)
    tag = "" if database == "bench_create" else " (tables)"
    try:
        key_id = await db.rpc(
            "api_key_authenticate", {"p_key_hash": key_hash, "p_now": now.isoformat()}
        )
        actor = Actor(kind="api_key", id=key_id["id"], name=key_id["name"])
        combos = list(grids["tables_create" if "tables" in database else "covers"])
        random.Random(13).shuffle(combos)
        spec = {"combos": combos, "phone_base": 9_000_000}

        async def create(i: int) -> None:
            body = json.loads(loadgen.create_body(spec, i))
            await bookings.create_booking(
                db,
                request=CreateBookingRequest(**body),
                actor=actor,
                client=ClientInfo(ip="203.0.113.9", user_agent="anchor-bench"),
                now=datetime.now(UTC),
                idempotency_key=f"probe-{i}",
                create_limit_per_phone=HUGE,
            )

        async def create_for_key(i: int) -> None:
            # What the endpoint does for an API key: key, counting and booking in one call.
            body = json.loads(loadgen.create_body(spec, 50_000 + i))
            await bookings.create_booking_for_key(
                db,
                request=CreateBookingRequest(**body),
                raw_key=key,
                scope=api_keys.WRITE,
                client=ClientInfo(ip="203.0.113.9", user_agent="anchor-bench"),
                now=datetime.now(UTC),
                on_caller=lambda caller: None,
                idempotency_key=f"probe-key-{i}",
                create_limit_per_phone=HUGE,
            )

        await timed(f"table_booking_create (+ Python){tag}", create, calls)
        await timed(f"table_booking_create_for_key (+ Python){tag}", create_for_key, calls)
    finally:
        await db.close()


# Profiles ----------------------------------------------------------------------------------------


def py_spy() -> str | None:
    return shutil.which("py-spy") or (
        str(Path(sys.executable).with_name("py-spy"))
        if Path(sys.executable).with_name("py-spy").exists()
        else None
    )


# What a sample was doing, by a function on its stack (the shares overlap: nested lines are
# part of the line above them).
PROFILE_LINES = (
    ("route handler (FastAPI: dependencies, endpoint, response)", ("get_request_handler.",)),
    ("  dependencies (solve_dependencies, API key check)", ("solve_dependencies ",)),
    ("  sync dependencies run in the thread pool", ("run_in_threadpool ",)),
    ("  endpoint function", ("run_endpoint_function ",)),
    ("  response_model validation + serialisation", ("serialize_response ",)),
    ("  JSONResponse render", ("JSONResponse.render ",)),
    ("database calls (PostgresDatabase.rpc)", ("PostgresDatabase.rpc ",)),
    ("  asyncpg pool acquire + release/reset", ("Pool.acquire ", "PoolConnectionHolder.release ")),
    ("  json.dumps/loads of RPC arguments and results", ("dumps (json", "loads (json")),
    ("request body parsing + validation (create)", ("_extract_form_body", "request_body_to_args")),
    ("request log line (RequestLog -> logging)", ("Logger.info ",)),
    ("uuid4 (X-Request-ID)", ("uuid4 ",)),
    ("uvicorn HTTP protocol (parse, send)", ("data_received ", "RequestResponseCycle.send ")),
    ("threads other than the event loop", ("Thread._bootstrap ",)),
)


def summarise_profile(raw: Path, top: int = 10) -> list[str]:
    """Where the server's Python time goes, from py-spy's raw (collapsed) output taken with
    --gil: the share of samples with each function of PROFILE_LINES on the stack, then the
    functions the samples were in (self time)."""
    counts: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit() or not stack:
            continue
        n = int(count)
        total += n
        for label, needles in PROFILE_LINES:
            if any(needle in stack for needle in needles):
                counts[label] += n
        leaf = stack.rsplit(";", 1)[-1]
        own[leaf.rsplit(":", 1)[0] + ")"] += n
    if not total:
        return ["(no samples)"]
    lines = [f"{total} samples (GIL held), share with ... on the stack:"]
    lines += [f"  {counts[label] / total:6.1%}  {label}" for label, _ in PROFILE_LINES]
    lines.append("self time, top functions:")
    lines += [f"  {n / total:6.1%}  {frame}" for frame, n in own.most_common(top)]
    return lines


# Report ------------------------------------------------------------------------------------------


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def spread(values: list[float]) -> str:
    if len(values) < 2:
        return "-"
    mid = median(values)
    return f"±{(max(values) - min(values)) / 2 / mid:.0%}" if mid else "-"


def report(results: list[Result], rounds: int, meta: dict[str, Any]) -> tuple[str, bool]:
    by_phase: dict[str, list[Result]] = {p.name: [] for p in PHASES}
    for r in results:
        by_phase[r.phase].append(r)
    lines = [
        f"machine: {meta['machine']}",
        f"run: {meta['run']}",
        "",
        f"{'phase':<30}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'errors':>8}"
        f"  {'req/s per round':<24}{'server':>8}{'pg':>7}{'gen':>6}{'others':>8}",
    ]
    for phase in PHASES:
        rs = by_phase[phase.name]
        if not rs:
            continue

        def per_req(k: str, rs: list[Result] = rs) -> float:
            return median([r.cpu[k] / r.requests * 1000 for r in rs if r.requests])

        lines.append(
            f"{phase.label:<30}{median([r.rps for r in rs]):>9.0f}"
            f"{median([r.p50_ms for r in rs]):>9.2f}{median([r.p95_ms for r in rs]):>9.2f}"
            f"{sum(r.error_count for r in rs):>8}"
            f"  {'/'.join(f'{r.rps:.0f}' for r in rs):<24}"
            f"{per_req('server'):>8.2f}{per_req('postgres'):>7.2f}"
            f"{median([r.cpu['loadgen'] / r.cpu['wall'] for r in rs]):>6.0%}"
            f"{median([r.cpu['others'] / r.cpu['wall'] for r in rs]):>8.0%}"
        )
    lines.append(
        "  (server, pg: CPU ms per request; gen: load generator CPU, others: CPU of everything"
        " else on the machine, in cores)"
    )
    all_pass = True
    cpu = {
        name: median([(r.cpu["server"] + r.cpu["postgres"]) / r.requests * 1000 for r in rs])
        for name, rs in by_phase.items()
        if rs and all(r.requests and r.cpu.get("postgres") for r in rs)
    }
    for scenario, (avail, empty, create) in SCENARIOS.items():
        ratios: dict[str, list[float]] = {
            "availability_floor": [],
            "create_floor": [],
            "loaded_empty": [],
        }
        for n in range(1, rounds + 1):
            got = {r.phase: r for r in results if r.round == n}
            if {"floor", avail} <= got.keys():
                ratios["availability_floor"].append(got[avail].rps / got["floor"].rps)
            if {"floor", create} <= got.keys():
                ratios["create_floor"].append(got[create].rps / got["floor"].rps)
            if {avail, empty} <= got.keys():
                ratios["loaded_empty"].append(got[avail].p50_ms / got[empty].p50_ms)
        if not any(ratios.values()):
            continue
        lines += [
            "",
            f"{scenario + ': ratio (same round)':<34}{'median':>8}{'goal':>9}{'':>7}"
            "  per round (noise)",
        ]
        for name, values in ratios.items():
            if not values:
                continue
            op, goal, label = GOALS[name]
            value = median(values)
            ok = value >= goal if op == ">=" else value <= goal
            all_pass &= ok
            lines.append(
                f"{label:<34}{value:>8.2f}{op + ' ' + str(goal):>9}{'PASS' if ok else 'FAIL':>7}"
                f"  {' / '.join(f'{v:.2f}' for v in values)} ({spread(values)})"
            )
        if {"floor", avail, empty, create} <= cpu.keys():
            lines.append(
                f"{'  same, from CPU ms per request':<34}"
                f"  {cpu['floor'] / cpu[avail]:.2f} (availability/floor),"
                f" {cpu['floor'] / cpu[create]:.2f} (create/floor),"
                f" {cpu[avail] / cpu[empty]:.2f} (loaded/empty):"
                " steadier when other work shares the machine"
            )
    errors = sum(r.error_count for r in results)
    lines.append(
        f"{'errors (all phases)':<34}{errors:>8}{'= 0':>9}{'PASS' if not errors else 'FAIL':>7}"
    )
    return "\n".join(lines), all_pass and not errors


def machine_line() -> str:
    model = platform.processor() or "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return (
        f"{os.cpu_count()} cores ({model}), {psutil.virtual_memory().total / 2**30:.0f} GiB,"
        f" Python {platform.python_version()}, {platform.system()} {platform.release()},"
        f" load average {os.getloadavg()[0]:.1f} at start"
    )


# Main --------------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/run.py", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10, help="length of each phase run")
    parser.add_argument("--concurrency", type=int, default=16, help="connections kept busy")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every phase (1-8)")
    parser.add_argument("--warmup", type=float, default=3, help="seconds per phase, not counted")
    parser.add_argument("--bookings", type=int, default=100_000, help="in the loaded database")
    parser.add_argument(
        "--loadgen", choices=("auto", "wrk", "python"), default="auto", help="load generator"
    )
    parser.add_argument(
        "--pin",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="server on CPU 0, load generator on CPU 1 (PostgreSQL unpinned); default on",
    )
    parser.add_argument("--sql-calls", type=int, default=300, help="calls per RPC in the SQL probe")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="after the rounds, one more run of each phase under py-spy (not counted)",
    )
    parser.add_argument("--only", nargs="*", choices=[p.name for p in PHASES], help="phases")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--out", type=Path, help="write the results as JSON here too")
    args = parser.parse_args()
    if not 1 <= args.rounds <= 8:
        parser.error("--rounds must be 1 to 8")
    cores = os.cpu_count() or 1
    args.server_cpus = [0] if args.pin and cores >= 2 else None
    args.loadgen_cpus = [1] if args.pin and cores >= 2 else None
    return args


def main() -> int:
    args = parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    key = "anch_bench_" + secrets.token_urlsafe(24)
    token = secrets.token_hex(3)
    today = datetime.now(LONDON).date()
    servers: dict[str, Server] = {}
    results: list[Result] = []
    try:
        wrk = ensure_wrk(args.loadgen)
        with contextlib.ExitStack() as stack:
            admin_dsn = stack.enter_context(postgres(workdir))
            # Registered after PostgreSQL started, so run before it stops.
            stack.callback(lambda: [stop_server(s) for s in servers.values()])
            facts = asyncio.run(server_facts(admin_dsn))
            log(
                f"PostgreSQL {facts['version']}: fsync={facts['fsync']}"
                f" synchronous_commit={facts['synchronous_commit']}"
                f" shared_buffers={facts['shared_buffers']}"
            )
            from app.services.api_keys import hash_key

            data = asyncio.run(prepare(admin_dsn, hash_key(key), today, args.bookings))
            loaded, grids = data["loaded"], data["grids"]
            log(f"loaded, window: {loaded['window']}; history: {loaded['history']}")
            log(f"loaded, booked covers per open slot (of 50): {loaded['occupancy']}")
            tables = data["tables"]
            log(f"tables loaded, window: {tables['window']}; history: {tables['history']}")
            log(f"tables loaded, share of tables in use at evening slots: {tables['occupancy']}")
            log(
                f"tables create: {len(grids['tables_create'])} of {len(grids['tables'])}"
                " (day, time) pairs have room for 1-4 guests on the loaded floor"
            )
            for name in (
                "loaded",
                "empty",
                "create",
                "tables_loaded",
                "tables_empty",
                "tables_create",
            ):
                servers[name] = start_server(
                    name, with_database(admin_dsn, f"bench_{name}"), key, workdir, args.server_cpus
                )
            for server in servers.values():
                wait_ready(server)
            log(
                "servers: "
                + ", ".join(f"{s.name} pid {s.pid} :{s.port}" for s in servers.values())
                + (
                    f"; pinned: server CPU {args.server_cpus}, load generator CPU"
                    f" {args.loadgen_cpus}"
                    if args.server_cpus
                    else "; not pinned"
                )
            )
            phases = [p for p in PHASES if not args.only or p.name in args.only]
            for phase in phases:
                preflight(phase, phase.spec(key, grids, token), servers[phase.server])
            log(
                f"load generator: {'wrk (1 thread)' if wrk else 'bench/loadgen.py'},"
                f" {args.concurrency} connections, {args.seconds:g} s a run"
            )
            if args.warmup > 0:
                for phase in phases:
                    spec = phase.spec(key, grids, token)
                    server = servers[phase.server]
                    run_load(spec, server, args, wrk, workdir, args.warmup, facts["postmaster_pid"])
                log("warmed up")
            for n in range(1, args.rounds + 1):
                order = phases if n % 2 else list(reversed(phases))
                for phase in order:
                    spec = phase.spec(key, grids, token)
                    raw, cpu = run_load(
                        spec,
                        servers[phase.server],
                        args,
                        wrk,
                        workdir,
                        args.seconds,
                        facts["postmaster_pid"],
                    )
                    result = to_result(phase.name, n, raw, cpu)
                    results.append(result)
                    log(
                        f"round {n} {phase.name:<19} {result.rps:8.0f} req/s"
                        f"  p50 {result.p50_ms:6.2f} ms  p95 {result.p95_ms:6.2f} ms"
                        f"  errors {result.error_count}"
                    )
            probe = asyncio.run(sql_probe(admin_dsn, key, grids, args.sql_calls))
            profiles: dict[str, list[str]] = {}
            spy = py_spy() if args.profile else None
            if args.profile and not spy:
                log("--profile: py-spy is not installed (.venv/bin/pip install py-spy)")
            if spy:
                for phase in phases:
                    server = servers[phase.server]
                    raw_path = workdir / f"profile-{phase.name}.txt"
                    spy_proc = subprocess.Popen(  # noqa: S603
                        [
                            spy,
                            "record",
                            "--format",
                            "raw",
                            "-o",
                            str(raw_path),
                            "--pid",
                            str(server.pid),
                            "--duration",
                            str(int(args.seconds)),
                            "--rate",
                            "250",
                            "--nonblocking",
                            "--gil",
                        ],
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.PIPE,
                    )
                    time.sleep(0.5)
                    run_load(
                        phase.spec(key, grids, token),
                        server,
                        args,
                        wrk,
                        workdir,
                        args.seconds,
                        facts["postmaster_pid"],
                    )
                    _, spy_err = spy_proc.communicate(timeout=60)
                    if raw_path.exists():
                        profiles[phase.name] = summarise_profile(raw_path)
                    else:
                        profiles[phase.name] = [f"(py-spy failed: {spy_err.decode()[-300:]})"]
        meta = {
            "machine": machine_line(),
            "run": (
                f"{args.rounds} rounds x {args.seconds:g} s per phase, {args.concurrency}"
                f" connections, {'wrk' if wrk else 'loadgen.py'}, PostgreSQL {facts['version']}"
                f" (fsync={facts['fsync']}, synchronous_commit={facts['synchronous_commit']}),"
                f" {'pinned' if args.server_cpus else 'not pinned'}, {today.isoformat()}"
            ),
        }
        text, passed = report(results, args.rounds, meta)
        print(text)
        print("\nSQL per call, sequential on one connection, through PostgresDatabase.rpc:")
        for name, ms in probe.items():
            print(f"  {name:<52}{ms:8.2f} ms")
        for name, top in profiles.items():
            print(f"\npy-spy --gil, {name} (raw stacks: {workdir}/profile-{name}.txt)")
            print("\n".join("  " + line for line in top))
        print(f"\nwork folder: {workdir}" + ("" if args.keep else " (deleted)"))
        errors = sum(r.error_count for r in results)
        if errors:
            for server in servers.values():
                for line in server_errors(server):
                    print(f"  {server.name}: {line}")
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(
                json.dumps(
                    {
                        "meta": meta,
                        "loaded": loaded,
                        "results": [{**r.__dict__, "rps": r.rps} for r in results],
                        "sql_ms": probe,
                        "profiles": profiles,
                        "all_goals_met": passed,
                    },
                    indent=2,
                    default=str,
                )
            )
        return 1 if errors else 0
    except Exception:
        traceback.print_exc()
        for server in servers.values():
            tail = server.log_path.read_text(errors="replace")[-1500:]
            print(f"--- {server.name} server log (tail) ---\n{tail}", file=sys.stderr)
        return 2
    finally:
        for server in servers.values():
            stop_server(server)
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
