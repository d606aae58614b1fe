"""Test fixtures: a real PostgreSQL started by the suite, a database per test, an HTTP client.

PostgreSQL comes from ``TEST_DATABASE_URL`` (a superuser DSN, e.g. Debian's server) when set;
otherwise the suite starts the embedded server the service itself uses, in a temporary folder
that is deleted afterwards. The migrations are applied once, to a template database; each test
gets a fresh copy of it (``CREATE DATABASE ... TEMPLATE``), so tests never see each other's rows.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
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
from app.services.staff_auth import mint_staff_token

TEMPLATE_DB = "anchor_test_template"
#: The embedded default's demo data as a new user gets it: the demo pub and its floor of tables.
DEMO_TEMPLATE_DB = "anchor_test_demo_template"
#: The pub's own database (tests/fixtures/pub-database) with our migrations applied.
PUB_TEMPLATE_DB = "anchor_test_pub_template"
#: The pub's database as its app left it, without our migrations.
PUB_BARE_TEMPLATE_DB = "anchor_test_pub_bare_template"
PUB_FIXTURE_DIR = Path(__file__).resolve().parent / "fixtures" / "pub-database"
#: What the fixture's preamble sets on the loading database (not copied by CREATE DATABASE).
PUB_SEARCH_PATH = '"$user", public, extensions'
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


async def _fresh_database(admin_dsn: str, name: str) -> str:
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'drop database if exists "{name}" with (force)')
        await admin.execute(f'create database "{name}"')
    finally:
        await admin.close()
    return with_database(admin_dsn, name)


@pytest.fixture(scope="session")
async def template_dsn(pg_admin_dsn: str) -> str:
    dsn = await _fresh_database(pg_admin_dsn, TEMPLATE_DB)
    conn = await asyncpg.connect(dsn)
    try:
        await migrations.apply_pending(conn)
        # Tests book against the demo pub: hours, the Sunday lunch menu, 50 covers.
        await migrations.load_demo_data_once(conn)
    finally:
        await conn.close()
    # The demo data as the embedded default loads it, floor included (demo_database_url) ...
    await copy_database(pg_admin_dsn, TEMPLATE_DB, DEMO_TEMPLATE_DB)
    # ... and, for every other test, without its tables: most tests check the covers rule (a
    # venue with no bookable table); those of the floor add their own tables or use the demo's.
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "delete from table_holds; delete from table_join_links; delete from tables"
        )
    finally:
        await conn.close()
    return dsn


async def load_pub_database(dsn: str) -> None:
    """The pub's schema and rows (tests/fixtures/pub-database) into the empty database at dsn."""
    conn = await asyncpg.connect(dsn)
    try:
        for name in ("schema.sql", "data.sql"):
            sql = (PUB_FIXTURE_DIR / name).read_text(encoding="utf-8")
            async with conn.transaction():
                await conn.execute(sql)
    finally:
        await conn.close()


class PubTemplates:
    """The pub's database as two templates, each made the first time a test asks for it: bare
    (as the pub's own migrations leave it) and migrated (plus ours; no demo data: the pub's own
    hours, menu and booking policies are used)."""

    def __init__(self, admin_dsn: str) -> None:
        self.admin_dsn = admin_dsn
        self._made: set[str] = set()

    async def bare(self) -> str:
        if PUB_BARE_TEMPLATE_DB not in self._made:
            await load_pub_database(await _fresh_database(self.admin_dsn, PUB_BARE_TEMPLATE_DB))
            self._made.add(PUB_BARE_TEMPLATE_DB)
        return PUB_BARE_TEMPLATE_DB

    async def migrated(self) -> str:
        if PUB_TEMPLATE_DB not in self._made:
            dsn = await copy_database(self.admin_dsn, await self.bare(), PUB_TEMPLATE_DB)
            conn = await asyncpg.connect(dsn)
            try:
                await migrations.apply_pending(conn)
            finally:
                await conn.close()
            self._made.add(PUB_TEMPLATE_DB)
        return PUB_TEMPLATE_DB


@pytest.fixture(scope="session")
def pub_templates(pg_admin_dsn: str) -> PubTemplates:
    return PubTemplates(pg_admin_dsn)


async def copy_database(admin_dsn: str, template: str, name: str) -> str:
    """A copy of ``template``, with the database setting the pub's schema relies on."""
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'drop database if exists "{name}" with (force)')
        await admin.execute(f'create database "{name}" template "{template}"')
        if template in (PUB_TEMPLATE_DB, PUB_BARE_TEMPLATE_DB):
            await admin.execute(f'alter database "{name}" set search_path = {PUB_SEARCH_PATH}')
    finally:
        await admin.close()
    return with_database(admin_dsn, name)


async def drop_database(admin_dsn: str, name: str) -> None:
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'drop database if exists "{name}" with (force)')
    finally:
        await admin.close()


@pytest.fixture
def database_kind(request: pytest.FixtureRequest) -> str:
    """Which database a test runs on: ``fresh`` (our migrations and the demo data) unless the test
    is parametrised with ``@pytest.mark.parametrize("database_kind", ["fresh", "pub"],
    indirect=True)``; ``pub`` is the pub's own database (tests/fixtures/pub-database) plus our
    migrations."""
    kind: str = getattr(request, "param", "fresh")
    assert kind in ("fresh", "pub"), kind
    return kind


@pytest.fixture
async def database_url(
    pg_admin_dsn: str, database_kind: str, template_dsn: str, pub_templates: PubTemplates
) -> AsyncIterator[str]:
    """A fresh, migrated database for one test (a copy of the kind's template)."""
    template = await pub_templates.migrated() if database_kind == "pub" else TEMPLATE_DB
    name = f"anchor_test_{os.getpid()}_{next(_counter)}"
    dsn = await copy_database(pg_admin_dsn, template, name)
    try:
        yield dsn
    finally:
        await drop_database(pg_admin_dsn, name)


@pytest.fixture
async def demo_database_url(pg_admin_dsn: str, template_dsn: str) -> AsyncIterator[str]:
    """A fresh database with the embedded default's demo data, its floor of tables included."""
    name = f"anchor_test_demo_{os.getpid()}_{next(_counter)}"
    dsn = await copy_database(pg_admin_dsn, DEMO_TEMPLATE_DB, name)
    try:
        yield dsn
    finally:
        await drop_database(pg_admin_dsn, name)


@asynccontextmanager
async def _direct(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(database_url)
    try:
        yield connection
    finally:
        await connection.close()


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A direct connection, for arranging rows and checking what the service wrote."""
    async with _direct(database_url) as connection:
        yield connection


@pytest.fixture
async def other(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A second direct connection, for a transaction held open beside the service's (locks)."""
    async with _direct(database_url) as connection:
        yield connection


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[PostgresDatabase]:
    database = await PostgresDatabase.connect(database_url, max_size=5)
    try:
        yield database
    finally:
        await database.close()


STAFF_JWT_SECRET = "staff-jwt-secret-for-the-test-suite-0123456789"
#: Tuesday 24 November 2026, 10:00 in London (GMT): the suite's default "now".
DEFAULT_NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


class FakeClock:
    """The app's clock in tests: fixed until a test moves it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def set(self, now: datetime) -> None:
        self.now = now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(DEFAULT_NOW)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,
        APP_ENV="test",
        embedded_db_dir=tmp_path / "embedded",
        cron_secret="test-cron-secret-0123456789",
        supabase_jwt_secret=STAFF_JWT_SECRET,
        # Most tests book Sunday lunches without PayPal, as development does; the refusal
        # outside development is tested with this unset (tests/test_website_2025.py).
        allow_unpaid_sunday_lunch=True,
    )


@pytest.fixture
def app(settings: Settings, db: PostgresDatabase, clock: FakeClock) -> FastAPI:
    return create_app(settings, database=db, clock=clock)


@asynccontextmanager
async def asgi_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client that calls ``app`` in process (no network), inside its lifespan."""
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as c,
    ):
        yield c


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(app) as c:
        yield c


@pytest.fixture
def limited_app(settings: Settings, db: PostgresDatabase, clock: FakeClock) -> Any:
    """``limited_app(create_limit_per_phone_per_hour=2)``: a client of an app so configured."""

    def build(**update: Any) -> Any:
        app = create_app(settings.model_copy(update=update), database=db, clock=clock)
        return asgi_client(app)

    return build


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


# Arranging bookings ------------------------------------------------------------------------------

ALL_SCOPES = ["read:table_bookings", "write:table_bookings", "manage:table_bookings"]


async def insert_api_key(
    conn: asyncpg.Connection,
    scopes: list[str] | None = None,
    *,
    rate_limit: int = 1000,
    prefix: str = "test",
) -> str:
    """An active API key with ``scopes`` (every scope when None) in the database; its raw key."""
    raw = f"anch_{prefix}_{next(_counter)}_{os.urandom(6).hex()}"
    await conn.execute(
        "insert into api_keys (key_hash, name, permissions, rate_limit)"
        " values ($1, $2, $3::jsonb, $4)",
        hashlib.sha256(raw.encode()).hexdigest(),
        f"{prefix} key {raw[-6:]}",
        json.dumps(scopes if scopes is not None else ALL_SCOPES),
        rate_limit,
    )
    return raw


@pytest.fixture
def make_key(conn: asyncpg.Connection) -> Any:
    """``await make_key(["read:table_bookings"], rate_limit=1000)`` -> headers for that key."""

    async def make(scopes: list[str] | None = None, *, rate_limit: int = 1000) -> dict[str, str]:
        return {"X-API-Key": await insert_api_key(conn, scopes, rate_limit=rate_limit)}

    return make


@pytest.fixture
async def key(make_key: Any) -> dict[str, str]:
    """Headers of a key with every table-booking scope."""
    headers: dict[str, str] = await make_key()
    return headers


@pytest.fixture
def make_staff(conn: asyncpg.Connection) -> Any:
    """``await make_staff("manager")`` -> Authorization headers of a staff member in that role
    (``None``: signed in, no role)."""

    async def make(role: str | None, *, email: str | None = None) -> dict[str, str]:
        user_id = str(uuid.uuid4())
        email = email or f"{role or 'nobody'}-{user_id[:8]}@the-anchor.pub"
        await conn.execute(
            "insert into auth.users (id, email) values ($1::uuid, $2)", user_id, email
        )
        if role is not None:
            await conn.execute(
                "insert into user_roles (user_id, role_id)"
                " select $1::uuid, id from roles where name = $2",
                user_id,
                role,
            )
        token = mint_staff_token(secret=STAFF_JWT_SECRET, user_id=user_id, email=email)
        return {"Authorization": f"Bearer {token}"}

    return make


@pytest.fixture
async def menu(conn: asyncpg.Connection) -> dict[str, str]:
    """Demo Sunday lunch menu ids by name."""
    rows = await conn.fetch("select id::text, name from sunday_lunch_menu_items")
    return {r["name"]: r["id"] for r in rows}


def regular_body(
    day: str = "2026-11-27",
    time: str = "19:00",
    party_size: int = 4,
    *,
    phone: str = "07911 123456",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "booking_type": "regular",
        "date": day,
        "time": time,
        "party_size": party_size,
        "customer": {
            "first_name": "Ann",
            "last_name": "Lee",
            "mobile_number": phone,
            "email": None,
            "sms_opt_in": True,
        },
        **extra,
    }


def sunday_body(
    menu: dict[str, str],
    day: str = "2026-11-29",
    time: str = "13:00",
    mains: dict[str, int] | None = None,
    *,
    phone: str = "07911 123456",
    extras: dict[str, int] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A Sunday lunch for one guest per main in ``mains`` (default: two roast chickens)."""
    mains = mains if mains is not None else {"Roasted Chicken": 2}
    selections = [
        {"menu_item_id": menu[name], "quantity": n}
        for name, n in {**mains, **(extras or {})}.items()
    ]
    body = regular_body(day, time, sum(mains.values()), phone=phone, **extra)
    return {**body, "booking_type": "sunday_lunch", "menu_selections": selections}


async def create_booking(
    client: httpx.AsyncClient, headers: dict[str, str], body: dict[str, Any]
) -> dict[str, Any]:
    """Create and return ``data``; fails the test unless it was created."""
    response = await client.post("/api/table-bookings", json=body, headers=headers)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data
