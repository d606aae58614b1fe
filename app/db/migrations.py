"""Apply ``supabase/migrations/*.sql`` in filename order and record them.

Applied versions are recorded in ``table_booking_service.schema_migrations``, this service's
own history table: on the pub's Supabase project the pub's migrations are recorded in
``supabase_migrations.schema_migrations`` by the Supabase CLI, and each side's tooling must see
only its own versions (a version the CLI does not find in the pub's own folder stops its
``supabase db push``). Every file is also written to be safe to apply twice.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path

import asyncpg

logger = logging.getLogger("app.db.migrations")

SUPABASE_DIR = Path(__file__).resolve().parents[2] / "supabase"
MIGRATIONS_DIR = SUPABASE_DIR / "migrations"
SEED_FILE = SUPABASE_DIR / "seed.sql"

# Serialises concurrent migrators (two instances starting at once) on one database.
_MIGRATION_LOCK_KEY = 0x7AB1E_B00C

#: This service's history table (never the Supabase CLI's ``supabase_migrations``).
HISTORY_TABLE = "table_booking_service.schema_migrations"

_TRACKING_SQL = f"""
create schema if not exists table_booking_service;
revoke all on schema table_booking_service from public;
create table if not exists {HISTORY_TABLE} (
    version text primary key,
    name text not null,
    applied_at timestamptz not null default now()
);
"""

#: A row in system_settings that says the demo data was loaded into this database.
DEMO_DATA_MARKER = "embedded_demo_data_loaded"


@dataclass(frozen=True, slots=True)
class Migration:
    version: str
    name: str
    path: Path


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    migrations = []
    for path in sorted(directory.glob("*.sql")):
        version, _, name = path.stem.partition("_")
        if not version.isdigit():
            raise ValueError(f"migration file name must start with a timestamp: {path.name}")
        migrations.append(Migration(version=version, name=name, path=path))
    return migrations


async def apply_pending(conn: asyncpg.Connection, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply the migrations this database has not recorded; return the versions applied."""
    await conn.execute("select pg_advisory_lock($1)", _MIGRATION_LOCK_KEY)
    try:
        await conn.execute(_TRACKING_SQL)
        rows = await conn.fetch(f"select version from {HISTORY_TABLE}")  # noqa: S608
        done = {r["version"] for r in rows}
        applied = []
        for migration in discover(directory):
            if migration.version in done:
                continue
            sql = await asyncio.to_thread(migration.path.read_text, encoding="utf-8")
            async with conn.transaction():
                await conn.execute(sql)
                await conn.execute(
                    f"insert into {HISTORY_TABLE} (version, name) values ($1, $2)",  # noqa: S608
                    migration.version,
                    migration.name,
                )
            logger.info("db.migration_applied version=%s", migration.path.name)
            applied.append(migration.version)
        return applied
    finally:
        await conn.execute("select pg_advisory_unlock($1)", _MIGRATION_LOCK_KEY)


async def load_demo_data_once(conn: asyncpg.Connection, seed_file: Path = SEED_FILE) -> bool:
    """Load ``supabase/seed.sql`` unless this database already has it; True when loaded now."""
    await conn.execute("select pg_advisory_lock($1)", _MIGRATION_LOCK_KEY)
    try:
        loaded = await conn.fetchval(
            "select exists (select 1 from public.system_settings where key = $1)", DEMO_DATA_MARKER
        )
        if loaded:
            return False
        async with conn.transaction():
            await conn.execute(await asyncio.to_thread(seed_file.read_text, encoding="utf-8"))
            await conn.execute(
                "insert into public.system_settings (key, value, description)"
                " values ($1, jsonb_build_object('value', now()), $2)",
                DEMO_DATA_MARKER,
                "When the embedded server's demo data was loaded (never set on a real project).",
            )
        logger.info("db.demo_data_loaded")
        return True
    finally:
        await conn.execute("select pg_advisory_unlock($1)", _MIGRATION_LOCK_KEY)
