"""Test fixtures: a real PostgreSQL started by the suite, a database per test, an HTTP client.

PostgreSQL comes from ``TEST_DATABASE_URL`` (a superuser DSN, e.g. Debian's server) when set;
otherwise the suite starts the embedded server the service itself uses, in a temporary folder
that is deleted afterwards. The migrations are applied once, to a template database; each test
gets a fresh copy of it (``CREATE DATABASE ... TEMPLATE``), so tests never see each other's rows.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
import respx
from fastapi import FastAPI

from app.config import Settings
from app.db import migrations
from app.db.embedded import EmbeddedPostgres
from app.db.postgres import PostgresDatabase
from app.main import create_app

TEMPLATE_DB = "anchor_test_template"
_counter = itertools.count()


def with_database(dsn: str, name: str) -> str:
    """The same server DSN, pointing at database ``name``."""
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path="/" + name))


@pytest.fixture(scope="session")
def pg_admin_dsn() -> Iterator[str]:
    external = os.environ.get("TEST_DATABASE_URL")
    if external:
        yield external
        return
    with tempfile.TemporaryDirectory(prefix="anchor-tests-") as tmp:
        server = EmbeddedPostgres(Path(tmp) / "pgdata")
        dsn = server.start()
        try:
            yield dsn
        finally:
            server.stop()


@pytest.fixture(scope="session")
async def template_dsn(pg_admin_dsn: str) -> str:
    admin = await asyncpg.connect(pg_admin_dsn)
    try:
        await admin.execute(f'drop database if exists "{TEMPLATE_DB}" with (force)')
        await admin.execute(f'create database "{TEMPLATE_DB}"')
    finally:
        await admin.close()
    dsn = with_database(pg_admin_dsn, TEMPLATE_DB)
    conn = await asyncpg.connect(dsn)
    try:
        await migrations.apply_pending(conn)
    finally:
        await conn.close()
    return dsn


@pytest.fixture
async def database_url(pg_admin_dsn: str, template_dsn: str) -> AsyncIterator[str]:
    """A fresh, migrated database for one test."""
    name = f"anchor_test_{os.getpid()}_{next(_counter)}"
    admin = await asyncpg.connect(pg_admin_dsn)
    try:
        await admin.execute(f'create database "{name}" template "{TEMPLATE_DB}"')
    finally:
        await admin.close()
    try:
        yield with_database(pg_admin_dsn, name)
    finally:
        admin = await asyncpg.connect(pg_admin_dsn)
        try:
            await admin.execute(f'drop database if exists "{name}" with (force)')
        finally:
            await admin.close()


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A direct connection, for arranging rows and checking what the service wrote."""
    connection = await asyncpg.connect(database_url)
    try:
        yield connection
    finally:
        await connection.close()


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[PostgresDatabase]:
    database = await PostgresDatabase.connect(database_url, max_size=5)
    try:
        yield database
    finally:
        await database.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,
        APP_ENV="test",
        embedded_db_dir=tmp_path / "embedded",
        cron_secret="test-cron-secret-0123456789",
    )


@pytest.fixture
def app(settings: Settings, db: PostgresDatabase) -> FastAPI:
    return create_app(settings, database=db)


@asynccontextmanager
async def asgi_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client that calls ``app`` in process (no network, no lifespan)."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(app) as c:
        yield c


@pytest.fixture(autouse=True)
def no_outbound_http() -> Iterator[respx.MockRouter]:
    """Fail a test that sends an HTTP request nobody mocked (the test client is ASGI, not HTTP)."""
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        yield router


def envelope_error(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert body["success"] is False, body
    error: dict[str, Any] = body["error"]
    assert set(error) == {"code", "message", "details"}, error
    return error
