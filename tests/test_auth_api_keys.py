"""Who is calling: API keys through a router that exists only in these tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import asyncpg
import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI

from app.deps import Caller, require_scope
from app.errors import ValidationFailed
from app.services import api_keys
from app.services.api_keys import ApiKeyCaller
from tests.conftest import FakeClock, asgi_client, envelope_error

probe = APIRouter(prefix="/_probe")


@probe.get("/whoami")
async def whoami(caller: Caller) -> dict[str, Any]:
    return {"success": True, "data": {"name": caller.name, "scopes": sorted(caller.scopes)}}


@probe.get("/read")
async def needs_read(
    caller: Annotated[ApiKeyCaller, Depends(require_scope(api_keys.READ))],
) -> dict[str, Any]:
    return {"success": True, "data": {"name": caller.name}}


@probe.get("/write")
async def needs_write(
    caller: Annotated[ApiKeyCaller, Depends(require_scope(api_keys.WRITE))],
) -> dict[str, Any]:
    return {"success": True, "data": {"name": caller.name}}


@pytest.fixture
async def probe_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    app.include_router(probe)
    async with asgi_client(app) as c:
        yield c


async def insert_key(
    conn: asyncpg.Connection,
    raw: str,
    scopes: list[str],
    *,
    active: bool = True,
    expires_at: datetime | None = None,
) -> None:
    await conn.execute(
        "insert into api_keys (key_hash, name, permissions, is_active, expires_at)"
        " values ($1, $2, $3::jsonb, $4, $5)",
        api_keys.hash_key(raw),
        f"key {raw[-4:]}",
        '["' + '","'.join(scopes) + '"]',
        active,
        expires_at,
    )


class TestPresentingAKey:
    async def test_no_credential_is_unauthorized(self, probe_client: httpx.AsyncClient) -> None:
        response = await probe_client.get("/_probe/whoami")
        assert response.status_code == 401
        assert envelope_error(response)["code"] == "UNAUTHORIZED"

    async def test_unknown_key_is_unauthorized(self, probe_client: httpx.AsyncClient) -> None:
        response = await probe_client.get("/_probe/whoami", headers={"X-API-Key": "anch_nope"})
        assert response.status_code == 401
        assert envelope_error(response)["code"] == "UNAUTHORIZED"

    async def test_x_api_key_header(
        self, probe_client: httpx.AsyncClient, conn: asyncpg.Connection
    ) -> None:
        await insert_key(conn, "anch_reader", [api_keys.READ])
        response = await probe_client.get("/_probe/whoami", headers={"X-API-Key": "anch_reader"})
        assert response.status_code == 200
        assert response.json()["data"] == {"name": "key ader", "scopes": [api_keys.READ]}

    async def test_bearer_key(
        self, probe_client: httpx.AsyncClient, conn: asyncpg.Connection
    ) -> None:
        await insert_key(conn, "anch_bearer", [api_keys.READ])
        response = await probe_client.get(
            "/_probe/whoami", headers={"Authorization": "Bearer anch_bearer"}
        )
        assert response.status_code == 200

    async def test_bearer_that_is_not_a_key_is_unauthorized(
        self, probe_client: httpx.AsyncClient
    ) -> None:
        response = await probe_client.get(
            "/_probe/whoami", headers={"Authorization": "Bearer eyJhbGciOi.not.akey"}
        )
        assert response.status_code == 401

    async def test_x_api_key_wins_over_bearer(
        self, probe_client: httpx.AsyncClient, conn: asyncpg.Connection
    ) -> None:
        await insert_key(conn, "anch_header", [api_keys.READ])
        response = await probe_client.get(
            "/_probe/whoami",
            headers={"X-API-Key": "anch_header", "Authorization": "Bearer anch_unknown"},
        )
        assert response.status_code == 200

    async def test_inactive_key_is_unauthorized(
        self, probe_client: httpx.AsyncClient, conn: asyncpg.Connection
    ) -> None:
        await insert_key(conn, "anch_off", [api_keys.READ], active=False)
        response = await probe_client.get("/_probe/whoami", headers={"X-API-Key": "anch_off"})
        assert response.status_code == 401

    async def test_expired_key_is_unauthorized(
        self, probe_client: httpx.AsyncClient, conn: asyncpg.Connection, clock: FakeClock
    ) -> None:
        # Expiry is judged by the app's clock, which the tests fix: measure from it.
        past = clock.now - timedelta(minutes=1)
        await insert_key(conn, "anch_old", [api_keys.READ], expires_at=past)
        response = await probe_client.get("/_probe/whoami", headers={"X-API-Key": "anch_old"})
        assert response.status_code == 401

    async def test_key_not_yet_expired_works(
        self, probe_client: httpx.AsyncClient, conn: asyncpg.Connection, clock: FakeClock
    ) -> None:
        future = clock.now + timedelta(minutes=1)
        await insert_key(conn, "anch_fresh", [api_keys.READ], expires_at=future)
        response = await probe_client.get("/_probe/whoami", headers={"X-API-Key": "anch_fresh"})
        assert response.status_code == 200

    async def test_use_is_recorded(
        self, probe_client: httpx.AsyncClient, conn: asyncpg.Connection
    ) -> None:
        await insert_key(conn, "anch_used", [api_keys.READ])
        await probe_client.get("/_probe/whoami", headers={"X-API-Key": "anch_used"})
        used = await conn.fetchval(
            "select last_used_at from api_keys where key_hash = $1", api_keys.hash_key("anch_used")
        )
        assert used is not None


class TestScopes:
    @pytest.mark.parametrize(
        ("scopes", "path", "status"),
        [
            ([api_keys.READ], "/_probe/read", 200),
            ([api_keys.READ], "/_probe/write", 403),
            ([api_keys.WRITE], "/_probe/read", 403),
            ([api_keys.WRITE], "/_probe/write", 200),
            ([api_keys.MANAGE], "/_probe/read", 200),
            ([api_keys.MANAGE], "/_probe/write", 200),
            (["*"], "/_probe/write", 200),
            (["read:events"], "/_probe/read", 403),
            (["manage:events"], "/_probe/read", 403),
        ],
    )
    async def test_scope_decides(
        self,
        probe_client: httpx.AsyncClient,
        conn: asyncpg.Connection,
        scopes: list[str],
        path: str,
        status: int,
    ) -> None:
        await insert_key(conn, "anch_scoped", scopes)
        response = await probe_client.get(path, headers={"X-API-Key": "anch_scoped"})
        assert response.status_code == status
        if status == 403:
            error = envelope_error(response)
            assert error["code"] == "FORBIDDEN"
            assert error["details"]["required"] in (api_keys.READ, api_keys.WRITE)


class TestMintingKeys:
    def test_generated_keys_look_like_the_apps(self) -> None:
        key = api_keys.generate_key()
        assert key.startswith("anch_")
        assert len(key) == 5 + 43  # 32 bytes, base64url without padding
        assert key != api_keys.generate_key()

    def test_hash_is_sha256_hex(self) -> None:
        # printf 'anch_x' | sha256sum
        assert (
            api_keys.hash_key("anch_x")
            == "1ed4d8f7ff0c1bcd19c2fd892ea2501b7a9f777c29786a55713022d80e9a5c15"
        )

    def test_unknown_scope_is_refused(self) -> None:
        with pytest.raises(ValidationFailed):
            api_keys.parse_scopes("read:table_bookings,delete:everything")

    async def test_created_key_authenticates_and_is_stored_hashed(
        self, db: Any, conn: asyncpg.Connection
    ) -> None:
        raw, row = await api_keys.create_api_key(db, name="website", scopes=[api_keys.READ])
        stored = await conn.fetchrow("select key_hash, permissions from api_keys")
        assert stored is not None
        assert stored["key_hash"] == api_keys.hash_key(raw)
        assert raw not in str(dict(stored))
        caller = await api_keys.authenticate_api_key(db, raw_key=raw, now=datetime.now(UTC))
        assert caller.name == "website" and caller.scopes == {api_keys.READ}
        assert row["id"] == caller.key_id

    async def test_bootstrap_key_is_ensured_once(self, db: Any, conn: asyncpg.Connection) -> None:
        await api_keys.ensure_bootstrap_key(db, raw_key="anch_bootstrap_value")
        await conn.execute("update api_keys set is_active = false")
        await api_keys.ensure_bootstrap_key(db, raw_key="anch_bootstrap_value")
        rows = await conn.fetch("select key_hash, is_active, permissions from api_keys")
        assert len(rows) == 1
        assert rows[0]["key_hash"] == api_keys.hash_key("anch_bootstrap_value")
        assert rows[0]["is_active"] is True
        caller = await api_keys.authenticate_api_key(
            db, raw_key="anch_bootstrap_value", now=datetime.now(UTC)
        )
        assert caller.scopes == {*api_keys.TABLE_BOOKING_SCOPES, *api_keys.WEBSITE_2026_SCOPES}


class TestScopeRuleInSql:
    """The keyed create checks its scope in SQL (tb_scope_allows), so that a key without
    write:table_bookings never reaches table_booking_create: the same rule as scope_allows."""

    PERMISSIONS: tuple[list[str], ...] = (
        [],
        ["*"],
        [api_keys.READ],
        [api_keys.WRITE],
        [api_keys.MANAGE],
        [api_keys.READ, api_keys.WRITE],
        ["manage:events"],
        ["write:events"],
        ["read:table_bookings_extra"],
        ["manage:"],
        ["WRITE:table_bookings"],
    )
    SCOPES = (api_keys.READ, api_keys.WRITE, api_keys.MANAGE, "write:events", "odd")

    async def test_same_answers_as_python(self, conn: asyncpg.Connection) -> None:
        cases = [(p, s) for p in self.PERMISSIONS for s in self.SCOPES]
        for permissions, scope in cases:
            in_sql = await conn.fetchval(
                "select public.tb_scope_allows($1::jsonb, $2)",
                '["' + '","'.join(permissions) + '"]' if permissions else "[]",
                scope,
            )
            assert in_sql == api_keys.scope_allows(frozenset(permissions), scope), (
                permissions,
                scope,
            )
        assert await conn.fetchval("select public.tb_scope_allows(null, 'read:x')") is False
