"""Migrations: idempotent, recorded, harmless to a database that already has the shared tables."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from app.db import migrations
from tests.conftest import with_database

SNAPSHOT_QUERIES = {
    "columns": """
        select table_schema, table_name, column_name, data_type, udt_name, column_default,
               is_nullable
        from information_schema.columns
        where table_schema in ('public', 'auth')
        order by 1, 2, 3""",
    "constraints": """
        select conrelid::regclass::text, conname, pg_get_constraintdef(oid)
        from pg_constraint where connamespace in ('public'::regnamespace, 'auth'::regnamespace)
        order by 1, 2""",
    "indexes": """
        select schemaname, tablename, indexname, indexdef from pg_indexes
        where schemaname in ('public', 'auth') order by 1, 2, 3""",
    "functions": """
        select n.nspname, p.proname, pg_get_function_identity_arguments(p.oid), md5(p.prosrc),
               p.prosecdef, p.proconfig::text, p.proacl::text
        from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname in ('public', 'auth') order by 1, 2, 3""",
    "triggers": """
        select tgrelid::regclass::text, tgname, pg_get_triggerdef(oid) from pg_trigger
        where not tgisinternal order by 1, 2""",
    "policies": """
        select schemaname, tablename, policyname, cmd, roles::text, qual, with_check
        from pg_policies order by 1, 2, 3""",
    "views": """
        select schemaname, viewname, definition from pg_views
        where schemaname in ('public', 'auth') order by 1, 2""",
    "types": """
        select t.typname, string_agg(e.enumlabel, ',' order by e.enumsortorder)
        from pg_type t join pg_enum e on e.enumtypid = t.oid group by 1 order by 1""",
    "rls": """
        select relname, relrowsecurity from pg_class
        where relnamespace = 'public'::regnamespace and relkind = 'r' order by 1""",
    "roles": "select rolname, rolcanlogin, rolbypassrls from pg_roles where rolname in "
    "('anon', 'authenticated', 'service_role') order by 1",
    "rbac": """
        select r.name, p.module_name, p.action from role_permissions rp
        join roles r on r.id = rp.role_id join permissions p on p.id = rp.permission_id
        order by 1, 2, 3""",
    "policy_rows": "select booking_type::text, full_refund_hours, partial_refund_hours,"
    " partial_refund_percentage, max_party_size, max_advance_days from booking_policies order by 1",
}


async def snapshot(conn: asyncpg.Connection) -> dict[str, list[tuple[Any, ...]]]:
    return {
        name: [tuple(r) for r in await conn.fetch(sql)] for name, sql in SNAPSHOT_QUERIES.items()
    }


@pytest.fixture
async def empty_db(pg_admin_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    admin = await asyncpg.connect(pg_admin_dsn)
    await admin.execute("drop database if exists anchor_migration_test with (force)")
    await admin.execute("create database anchor_migration_test")
    conn = await asyncpg.connect(with_database(pg_admin_dsn, "anchor_migration_test"))
    try:
        yield conn
    finally:
        await conn.close()
        await admin.execute("drop database anchor_migration_test with (force)")
        await admin.close()


async def apply_raw(conn: asyncpg.Connection) -> None:
    for migration in migrations.discover():
        await conn.execute(migration.path.read_text(encoding="utf-8"))


class TestIdempotence:
    async def test_applying_every_file_twice_changes_nothing(
        self, empty_db: asyncpg.Connection
    ) -> None:
        await apply_raw(empty_db)
        first = await snapshot(empty_db)
        await apply_raw(empty_db)
        second = await snapshot(empty_db)
        for name in SNAPSHOT_QUERIES:
            assert first[name] == second[name], name
        # The snapshot sees what it should: the tables, functions and grants exist.
        tables = {row[1] for row in first["columns"]}
        for table in (
            "customers",
            "jobs",
            "audit_logs",
            "api_keys",
            "table_bookings",
            "table_booking_items",
            "table_booking_payments",
            "booking_policies",
        ):
            assert table in tables
        # The stand-in RBAC is the pub's: no permission of this service's own invention.
        table_bookings = {(r, a) for r, m, a in first["rbac"] if m == "table_bookings"}
        assert table_bookings == {
            ("super_admin", "view"),
            ("super_admin", "create"),
            ("super_admin", "delete"),
            ("super_admin", "manage"),
            ("super_admin", "refund"),
            ("manager", "view"),
            ("manager", "create"),
            ("manager", "delete"),
            ("manager", "manage"),
            ("staff", "view"),
            ("staff", "create"),
            ("staff", "edit"),
        }

    async def test_pending_migrations_are_applied_once_and_recorded(
        self, empty_db: asyncpg.Connection
    ) -> None:
        applied = await migrations.apply_pending(empty_db)
        assert applied == [m.version for m in migrations.discover()]
        assert await migrations.apply_pending(empty_db) == []
        recorded = await empty_db.fetch(
            f"select version, name from {migrations.HISTORY_TABLE} order by version"  # noqa: S608
        )
        assert [(r["version"], r["name"]) for r in recorded] == [
            (m.version, m.name) for m in migrations.discover()
        ]


class TestOnAnExistingProject:
    async def test_existing_functions_and_rows_are_kept(self, empty_db: asyncpg.Connection) -> None:
        # A project that already has the pub's app: its own versions of shared functions, data.
        first_file = migrations.discover()[0]
        await empty_db.execute(first_file.path.read_text(encoding="utf-8"))
        await empty_db.execute(
            """
            create table public.customers (
              id uuid primary key default gen_random_uuid(),
              first_name text not null, last_name text not null, mobile_number text,
              created_at timestamptz not null default now(), sms_opt_in boolean default true);
            insert into public.customers (first_name, last_name, mobile_number)
              values ('Existing', 'Guest', '+447911123456');
            create function public.user_has_permission(p_user_id uuid, p_module_name text,
                                                      p_action text)
              returns boolean language sql as $$ select true /* the pub's own */ $$;
            """
        )
        await apply_raw(empty_db)
        source = await empty_db.fetchval(
            "select prosrc from pg_proc where proname = 'user_has_permission'"
        )
        assert "the pub's own" in source
        row = await empty_db.fetchrow("select first_name, mobile_number from customers")
        assert row is not None and tuple(row) == ("Existing", "+447911123456")
        columns = {
            r["column_name"]
            for r in await empty_db.fetch(
                "select column_name from information_schema.columns where table_name = 'customers'"
            )
        }
        assert {
            "mobile_e164",
            "table_booking_count",
            "no_show_count",
            "last_table_booking_date",
        } <= columns


class TestCustomerCounters:
    async def test_the_trigger_keeps_the_counters(self, conn: asyncpg.Connection) -> None:
        customer = await conn.fetchval(
            "insert into customers (first_name, last_name, mobile_number, mobile_e164)"
            " values ('Ann', 'Lee', '+447911123456', '+447911123456') returning id"
        )
        booking = await conn.fetchval(
            "insert into table_bookings (customer_id, booking_date, booking_time, party_size,"
            " committed_party_size, booking_type, status) values ($1, '2026-12-06', '13:00', 4,"
            " 4, 'sunday_lunch', 'pending_payment') returning id",
            customer,
        )
        counts = await conn.fetchrow(
            "select table_booking_count, last_table_booking_date, no_show_count"
            " from customers where id = $1",
            customer,
        )
        assert counts is not None and counts["table_booking_count"] == 0
        await conn.execute("update table_bookings set status = 'confirmed' where id = $1", booking)
        await conn.execute("update table_bookings set status = 'no_show' where id = $1", booking)
        counts = await conn.fetchrow(
            "select table_booking_count, last_table_booking_date::text, no_show_count"
            " from customers where id = $1",
            customer,
        )
        assert counts is not None
        assert tuple(counts) == (1, "2026-12-06", 1)
        reference = await conn.fetchval(
            "select booking_reference from table_bookings where id = $1", booking
        )
        assert reference.startswith("TB-") and len(reference) == 11

    async def test_audit_logs_are_immutable(self, conn: asyncpg.Connection) -> None:
        await conn.execute(
            "insert into audit_logs (operation_type, resource_type, operation_status)"
            " values ('table_booking.created', 'table_booking', 'success')"
        )
        with pytest.raises(asyncpg.PostgresError):
            await conn.execute("update audit_logs set operation_status = 'failure'")
        with pytest.raises(asyncpg.PostgresError):
            await conn.execute("delete from audit_logs")


class TestTheBaseline:
    def test_each_function_is_defined_once_across_the_files(self) -> None:
        definitions: dict[str, list[str]] = {}
        pattern = re.compile(
            r"^\s*create\s+(?:or\s+replace\s+)?function\s+([\w.]+)\s*\(", re.I | re.M
        )
        for migration in migrations.discover():
            for name in pattern.findall(migration.path.read_text(encoding="utf-8")):
                definitions.setdefault(name.lower(), []).append(migration.path.name)
        assert len(definitions) > 80
        twice = {name: files for name, files in definitions.items() if len(files) > 1}
        assert twice == {}
