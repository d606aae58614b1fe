"""The pub's floor in tests: its live join links (pub-engine-2026.md 1.2), its settings, and
bookings seated on it as the pub's app writes them."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import asyncpg

#: The five Dining Room tables: every pair of them is joined.
DINING_ROOM = [
    "Dining Room 4a",
    "Dining Room 4b",
    "Dining Room 6a",
    "Dining Room 6b",
    "Dining Room 6c",
]


async def set_setting(conn: asyncpg.Connection, key: str, value: Any) -> None:
    """A system setting in the pub's shape, {"value": value}."""
    await conn.execute(
        "insert into system_settings (key, value) values ($1, $2::jsonb)"
        " on conflict (key) do update set value = excluded.value",
        key,
        json.dumps({"value": value}),
    )


async def add_live_join_links(conn: asyncpg.Connection) -> None:
    """The eleven live join links (the rebuilt database has none): all ten pairs of the Dining
    Room tables, and Low 4a with Low 4b."""
    await conn.execute(
        """
        insert into table_join_links (table_id, join_table_id)
        select a.id, b.id from tables a join tables b on a.id < b.id
         where (a.name like 'Dining Room %' and b.name like 'Dining Room %')
            or (a.name in ('Low 4a', 'Low 4b') and b.name in ('Low 4a', 'Low 4b'))
        """
    )
    assert await conn.fetchval("select count(*) from table_join_links") == 11


async def seat_bookings(
    conn: asyncpg.Connection,
    start: datetime,
    table_ids: list[Any] | None = None,
    *,
    hold_until: datetime | None = None,
) -> None:
    """A booking of 4 at ``start`` for two hours on each of ``table_ids`` (every bookable table
    when None), written as the pub's app writes one (its row and its assignment): confirmed, or
    unpaid until ``hold_until``."""
    if table_ids is None:
        table_ids = [r["id"] for r in await conn.fetch("select id from tables where is_bookable")]
    customer = await conn.fetchval(
        "insert into customers (first_name, last_name, mobile_number)"
        " values ('Hold', 'Er', '+447700900999') returning id"
    )
    end = start + timedelta(hours=2)
    for table_id in table_ids:
        booking = await conn.fetchval(
            """insert into table_bookings (booking_reference, customer_id, booking_date,
                 booking_time, party_size, committed_party_size, booking_type, status,
                 hold_expires_at, start_datetime, end_datetime, duration_minutes, payment_status)
               values ('TB-H' || substr(md5(random()::text), 1, 6), $1,
                       ($2 at time zone 'Europe/London')::date,
                       ($2 at time zone 'Europe/London')::time, 4, 4, 'regular',
                       case when $3::timestamptz is null then 'confirmed'
                            else 'pending_payment' end::table_booking_status,
                       $3, $2, $4, 120,
                       case when $3::timestamptz is null then null
                            else 'pending' end::payment_status)
               returning id""",
            customer,
            start,
            hold_until,
            end,
        )
        await conn.execute(
            """insert into booking_table_assignments (table_booking_id, table_id, start_datetime,
                 end_datetime) values ($1, $2, $3, $4)""",
            booking,
            table_id,
            start,
            end,
        )
