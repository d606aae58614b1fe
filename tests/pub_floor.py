"""The pub's floor in tests: its live join links (pub-engine-2026.md 1.2) and its settings."""

from __future__ import annotations

import json
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
