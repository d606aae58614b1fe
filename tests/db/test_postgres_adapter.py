"""The asyncpg adapter against real Postgres: call shapes, results and error mapping."""

from __future__ import annotations

import logging

import asyncpg
import pytest

from app.db.postgres import PostgresDatabase
from app.errors import (
    DatabaseConflict,
    InternalError,
    NoAvailability,
    PolicyViolation,
    ServiceUnavailable,
)

FIXTURE_FUNCTIONS = """
create table probe_items (id int primary key, label text not null);

create function public.probe_echo(p_day date, p_size int default 2, p_tags text[] default '{}',
                                  p_doc jsonb default null)
returns jsonb language sql as $$
  select jsonb_build_object('day', p_day, 'next_day', p_day + 1, 'size', p_size,
                            'tags', p_tags, 'doc', p_doc)
$$;

create function public.probe_scalar() returns int language sql as $$ select 42 $$;

create function public.probe_money() returns text language sql
  as $$ select 5.00::numeric(10,2)::text $$;

create function public.probe_rows(p_n int)
returns table (n int, label text) language sql as $$
  select g, 'row ' || g from generate_series(1, p_n) g
$$;

create function public.probe_nothing(p_label text) returns void language sql as $$
  insert into probe_items values (1, p_label)
$$;

create function public.probe_refuse(p_code text) returns jsonb language plpgsql as $$
begin
  raise exception using errcode = 'P0001', message = p_code,
    detail = 'Only 3 covers are left at 19:00.', hint = '{"available_capacity": 3}';
end
$$;

create function public.probe_duplicate() returns void language sql as $$
  insert into probe_items values (7, 'a'); insert into probe_items values (7, 'b');
$$;

create function public.probe_crash() returns int language sql as $$ select 1 / 0 $$;
"""


@pytest.fixture
async def probes(conn: asyncpg.Connection) -> None:
    await conn.execute(FIXTURE_FUNCTIONS)


@pytest.mark.usefixtures("probes")
class TestCalls:
    async def test_named_json_arguments_are_typed_by_the_function(
        self, db: PostgresDatabase
    ) -> None:
        result = await db.rpc(
            "probe_echo",
            {"p_day": "2026-03-28", "p_size": 4, "p_tags": ["a", "b"], "p_doc": {"x": [1]}},
        )
        assert result == {
            "day": "2026-03-28",
            "next_day": "2026-03-29",
            "size": 4,
            "tags": ["a", "b"],
            "doc": {"x": [1]},
        }

    async def test_defaults_apply_to_omitted_arguments(self, db: PostgresDatabase) -> None:
        result = await db.rpc("probe_echo", {"p_day": "2026-01-01"})
        assert result["size"] == 2 and result["tags"] == [] and result["doc"] is None

    async def test_scalar_and_money(self, db: PostgresDatabase) -> None:
        assert await db.rpc("probe_scalar") == 42
        assert await db.rpc("probe_money") == "5.00"

    async def test_table_function_gives_a_list(self, db: PostgresDatabase) -> None:
        assert await db.rpc("probe_rows", {"p_n": 2}) == [
            {"n": 1, "label": "row 1"},
            {"n": 2, "label": "row 2"},
        ]
        assert await db.rpc("probe_rows", {"p_n": 0}) == []

    async def test_void_function_runs(self, db: PostgresDatabase, conn: asyncpg.Connection) -> None:
        assert await db.rpc("probe_nothing", {"p_label": "done"}) is None
        assert await conn.fetchval("select label from probe_items where id = 1") == "done"

    async def test_hostile_text_is_data(self, db: PostgresDatabase) -> None:
        text = "'); drop table probe_items; -- \u202e\U0001f37a"
        result = await db.rpc("probe_echo", {"p_day": "2026-01-01", "p_tags": [text]})
        assert result["tags"] == [text]


@pytest.mark.usefixtures("probes")
class TestErrors:
    @pytest.mark.parametrize(
        ("code", "error"),
        [("NO_AVAILABILITY", NoAvailability), ("POLICY_VIOLATION", PolicyViolation)],
    )
    async def test_business_refusal_becomes_its_app_error(
        self, db: PostgresDatabase, code: str, error: type[Exception]
    ) -> None:
        with pytest.raises(error) as info:
            await db.rpc("probe_refuse", {"p_code": code})
        assert info.value.message == "Only 3 covers are left at 19:00."  # type: ignore[attr-defined]
        assert info.value.details == {"available_capacity": 3}  # type: ignore[attr-defined]

    async def test_unknown_business_code_is_internal(self, db: PostgresDatabase) -> None:
        with pytest.raises(InternalError) as info:
            await db.rpc("probe_refuse", {"p_code": "SOMETHING_ELSE"})
        assert "covers" not in info.value.message

    async def test_unique_violation(self, db: PostgresDatabase) -> None:
        with pytest.raises(DatabaseConflict):
            await db.rpc("probe_duplicate")

    async def test_sql_error_is_internal_and_says_no_sql(self, db: PostgresDatabase) -> None:
        with pytest.raises(InternalError) as info:
            await db.rpc("probe_crash")
        assert "division" not in info.value.message

    async def test_missing_function_is_internal(self, db: PostgresDatabase) -> None:
        with pytest.raises(InternalError):
            await db.rpc("probe_does_not_exist", {"p_x": 1})

    async def test_unknown_argument_is_internal(self, db: PostgresDatabase) -> None:
        with pytest.raises(InternalError):
            await db.rpc("probe_scalar", {"p_surprise": 1})

    async def test_unreachable_database(self) -> None:
        down = await PostgresDatabase.connect(
            "postgresql://postgres@127.0.0.1:9/postgres", connect_timeout=1
        )
        try:
            with pytest.raises(ServiceUnavailable):
                await down.rpc("service_health")
        finally:
            await down.close()

    async def test_unreachable_database_logs_the_reason(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        down = await PostgresDatabase.connect(
            "postgresql://postgres@127.0.0.1:9/postgres", connect_timeout=1
        )
        try:
            with (
                caplog.at_level(logging.WARNING, logger="app.db"),
                pytest.raises(ServiceUnavailable),
            ):
                await down.rpc("service_health")
        finally:
            await down.close()
        [record] = [r for r in caplog.records if r.getMessage() == "db.unreachable"]
        # Why it could not connect, not only the exception's class (issue 18, item 5).
        reason = getattr(record, "reason", "")
        assert "127.0.0.1" in reason and "9" in reason, vars(record)

    async def test_terminated_connection_recovers(
        self, db: PostgresDatabase, conn: asyncpg.Connection
    ) -> None:
        assert await db.rpc("service_health") == "ok"
        await conn.execute(
            "select pg_terminate_backend(pid) from pg_stat_activity"
            " where datname = current_database() and pid <> pg_backend_pid()"
        )
        # The pooled connection was killed: the next call fails as unavailable, not as a 500...
        try:
            first = await db.rpc("service_health")
        except ServiceUnavailable:
            first = None
        # ...and the pool replaces it, so the call after that works without a restart.
        assert first in (None, "ok")
        assert await db.rpc("service_health") == "ok"


async def test_statement_cache_off_for_poolers(database_url: str) -> None:
    db = await PostgresDatabase.connect(database_url, statement_cache_size=0)
    try:
        assert await db.rpc("service_health") == "ok"
        assert await db.rpc("service_health") == "ok"
    finally:
        await db.close()
