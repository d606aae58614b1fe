"""Which database this process uses: DATABASE_URL, else SUPABASE_URL, else the embedded server.

The server's lifespan and the command line both open the database through :func:`open_database`,
so ``python -m app.cli ...`` with nothing configured works on the same embedded data folder.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from app.config import DatabaseMode, Settings
from app.db import migrations
from app.db.embedded import EmbeddedPostgres
from app.db.port import Database
from app.db.postgres import PostgresDatabase
from app.db.supabase import SupabaseDatabase

logger = logging.getLogger("app.db")


@asynccontextmanager
async def embedded_dsn(settings: Settings) -> AsyncIterator[str]:
    """Start the embedded server, migrate it, load the demo data once; stop it on exit."""
    server = EmbeddedPostgres(settings.embedded_db_dir)
    dsn = await asyncio.to_thread(server.start)
    try:
        conn = await asyncpg.connect(dsn)
        try:
            await migrations.apply_pending(conn)
            await migrations.load_demo_data_once(conn)
        finally:
            await conn.close()
        yield dsn
    finally:
        await asyncio.to_thread(server.stop)


@asynccontextmanager
async def open_database(settings: Settings) -> AsyncIterator[Database]:
    mode = settings.database_mode
    logger.info("db.opening mode=%s", mode.value)
    if mode is DatabaseMode.supabase:
        # Settings refuses SUPABASE_URL without the key, so both are here.
        assert settings.supabase_url is not None
        assert settings.supabase_service_role_key is not None
        supabase = await SupabaseDatabase.connect(
            settings.supabase_url,
            settings.supabase_service_role_key.get_secret_value(),
            request_timeout=settings.supabase_timeout,
        )
        try:
            yield supabase
        finally:
            await supabase.close()
        return
    if mode is DatabaseMode.postgres:
        assert settings.database_url is not None
        async with _pool(settings, settings.database_url.get_secret_value()) as db:
            yield db
        return
    async with embedded_dsn(settings) as dsn, _pool(settings, dsn) as db:
        yield db


@asynccontextmanager
async def _pool(settings: Settings, dsn: str) -> AsyncIterator[PostgresDatabase]:
    db = await PostgresDatabase.connect(
        dsn,
        statement_cache_size=settings.db_statement_cache_size,
        min_size=settings.db_pool_min_size,
        max_size=settings.db_pool_max_size,
        command_timeout=settings.db_command_timeout,
        connect_timeout=settings.db_connect_timeout,
    )
    try:
        yield db
    finally:
        await db.close()
