"""Live on the pub's own database (issue 13): tests/fixtures/pub-database, the pub's schema and
rows as its 620 migrations leave them, loaded into a fresh database.

- Our migrations only add: a fingerprint of every object and row before and after migrating
  (twice) shows nothing of the pub's removed or changed, and only what may be added was added.
- The pub's app is unharmed: its public booking RPC, its cancel and a staff insert under RLS give
  the same rows and counters before and after our migrations.
- Our service works there as on a fresh database: the API flows run on both (``database_kind``).
- One truth: counters counted once, consent the pub's way, our own job types, the pub's
  permissions.

Every date here is the suite's (FakeClock, November 2026) or relative to the database's own
clock where the pub's RPC decides by now(): nothing depends on today falling in the fixture's
dated rows (its service_slots run from 2026-12-03 for three months).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from app.db import migrations
from tests import pub_fingerprint as fp
from tests.conftest import (
    PubTemplates,
    copy_database,
    create_booking,
    drop_database,
    regular_body,
    sunday_body,
)
from tests.test_payments import (  # noqa: F401  (fixtures: PayPal faked with respx)
    CRON,
    FakePayPal,
    app,
    guest,
    paypal,
    paypal_settings,
    return_from_paypal,
    run_worker,
)

BASE = "/api/table-bookings"
BOTH = pytest.mark.parametrize("database_kind", ["fresh", "pub"], indirect=True)
PUB = pytest.mark.parametrize("database_kind", ["pub"], indirect=True)
FRIDAY = "2026-11-27"  # kitchen open at 19:00 in both the demo hours and the pub's
PHONE = "+447911123456"


async def booking(conn: asyncpg.Connection, booking_id: str) -> dict[str, Any]:
    row = await conn.fetchrow(
        "select status::text, party_size, committed_party_size, booking_purpose, is_venue_event,"
        " deposit_waived, high_chair_count, is_outside_seating, table_pinned, assignment_soft,"
        " requires_accessible_table, customer_id, payment_status::text, booking_reference"
        " from table_bookings where id = $1::uuid",
        booking_id,
    )
    assert row is not None
    return dict(row)


async def customer(conn: asyncpg.Connection, phone: str = PHONE) -> dict[str, Any]:
    row = await conn.fetchrow(
        "select id, table_booking_count, no_show_count, sms_opt_in, sms_status"
        " from customers where mobile_e164 = $1",
        phone,
    )
    assert row is not None
    return dict(row)


# The service on both databases -------------------------------------------------------------------


@BOTH
class TestTheServiceOnBothDatabases:
    async def test_a_regular_booking_is_made_changed_and_cancelled(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        make_staff: Any,
        conn: asyncpg.Connection,
        clock: Any,
    ) -> None:
        availability = await client.get(
            f"{BASE}/availability",
            params={"date": FRIDAY, "party_size": 4, "booking_type": "regular"},
            headers=key,
        )
        assert availability.status_code == 200, availability.text
        made = await create_booking(client, key, regular_body(FRIDAY))
        row = await booking(conn, made["booking_id"])
        # Every NOT NULL column filled as the pub's own RPC fills it.
        assert row["status"] == "confirmed"
        assert (row["party_size"], row["committed_party_size"]) == (4, 4)
        assert (row["booking_purpose"], row["is_venue_event"], row["deposit_waived"]) == (
            "food",
            False,
            False,
        )
        assert row["high_chair_count"] == 0
        assert not (row["is_outside_seating"] or row["table_pinned"] or row["assignment_soft"])
        assert row["requires_accessible_table"] is False
        ref = made["booking_reference"]

        viewed = await client.get(f"{BASE}/{ref}", headers=guest(made))
        assert viewed.status_code == 200, viewed.text
        listed = await client.get(
            BASE, params={"date_from": FRIDAY, "date_to": FRIDAY}, headers=key
        )
        assert listed.status_code == 200, listed.text
        assert ref in listed.text
        menu = await client.get(
            f"{BASE}/menu/sunday-lunch", params={"date": "2026-11-29"}, headers=key
        )
        assert menu.status_code == 200, menu.text
        assert "Roasted Chicken" in menu.text

        # Staff change the party: both sizes follow.
        staff = await make_staff("staff")
        changed = await client.patch(f"{BASE}/{ref}", json={"party_size": 6}, headers=staff)
        assert changed.status_code == 200, changed.text
        row = await booking(conn, made["booking_id"])
        assert (row["party_size"], row["committed_party_size"]) == (6, 6)

        # The guest, more than 72 hours ahead: committed too.
        changed = await client.patch(f"{BASE}/{ref}", json={"party_size": 5}, headers=guest(made))
        assert changed.status_code == 200, changed.text
        row = await booking(conn, made["booking_id"])
        assert (row["party_size"], row["committed_party_size"]) == (5, 5)

        # The guest inside 72 hours: the kitchen keeps the covers it planned (the pub's rule).
        clock.advance(days=1)
        changed = await client.patch(f"{BASE}/{ref}", json={"party_size": 3}, headers=guest(made))
        assert changed.status_code == 200, changed.text
        row = await booking(conn, made["booking_id"])
        assert (row["party_size"], row["committed_party_size"]) == (3, 5)

        cancelled = await client.post(f"{BASE}/{ref}/cancel", headers=guest(made))
        assert cancelled.status_code == 200, cancelled.text
        assert (await booking(conn, made["booking_id"]))["status"] == "cancelled"
        # Counted once, by the pub's counter (or its stand-in), and taken back by our cancel
        # (the pub's own cancel never takes it back: a deliberate difference).
        assert (await customer(conn))["table_booking_count"] == 0

    async def test_staff_mark_a_booking_completed_and_another_a_no_show(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        make_staff: Any,
        conn: asyncpg.Connection,
        clock: Any,
    ) -> None:
        first = await create_booking(client, key, regular_body(FRIDAY))
        second = await create_booking(client, key, regular_body(FRIDAY, "19:30"))
        clock.advance(days=3, hours=10)  # Friday 20:00
        staff = await make_staff("staff")
        for made, status in ((first, "completed"), (second, "no_show")):
            response = await client.post(
                f"{BASE}/{made['booking_reference']}/status",
                json={"status": status},
                headers=staff,
            )
            assert response.status_code == 200, response.text
            assert (await booking(conn, made["booking_id"]))["status"] == status
        counters = await customer(conn)
        assert (counters["table_booking_count"], counters["no_show_count"]) == (2, 1)

    async def test_a_sunday_lunch_is_paid_through_paypal_and_cancelled_with_its_refund(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        menu: dict[str, str],
        paypal: FakePayPal,  # noqa: F811
        conn: asyncpg.Connection,
    ) -> None:
        made = await create_booking(client, key, sunday_body(menu))
        row = await booking(conn, made["booking_id"])
        assert (row["status"], row["committed_party_size"]) == ("pending_payment", 2)
        assert (await customer(conn))["table_booking_count"] == 0

        start = await client.post(f"{BASE}/{made['booking_reference']}/payment", headers=key)
        assert start.status_code == 200, start.text
        returned = await return_from_paypal(client)
        assert returned.status_code == 200, returned.text
        assert returned.json()["data"]["outcome"] == "confirmed"
        assert (await booking(conn, made["booking_id"]))["status"] == "confirmed"
        assert (await customer(conn))["table_booking_count"] == 1  # once, when paid

        cancelled = await client.post(
            f"{BASE}/{made['booking_reference']}/cancel", headers=guest(made)
        )
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["data"]["refund"]["eligible"] is True
        await run_worker(client)
        assert paypal.refund.call_count == 1
        assert (await customer(conn))["table_booking_count"] == 0

    async def test_messages_go_through_the_worker_into_the_outbox(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
    ) -> None:
        made = await create_booking(client, key, regular_body(FRIDAY))
        report = await run_worker(client)
        assert report["failed"] == 0, report
        sent = await conn.fetch(
            "select channel, template_key from table_booking_outbox where table_booking_id = $1",
            made["booking_id"],
        )
        assert ("sms", "booking_confirmation_regular") in {tuple(r) for r in sent}
        leftover = await conn.fetchval(
            "select count(*) from jobs where type like 'table_booking%'"
            " and status not in ('completed')"
        )
        assert leftover == 0

    @pytest.mark.parametrize(
        "path",
        [
            "process-jobs",
            "table-booking-reminders",
            "table-booking-reviews",
            "table-booking-payment-expiry",
            "table-booking-monitoring",
        ],
    )
    async def test_every_cron_runs(self, client: httpx.AsyncClient, path: str) -> None:
        response = await client.get(f"/api/cron/{path}", headers=CRON)
        assert response.status_code == 200, response.text


# Additions only ----------------------------------------------------------------------------------


@pytest.fixture
async def pub_bare(pg_admin_dsn: str, pub_templates: PubTemplates) -> AsyncIterator[str]:
    """A copy of the pub's database as its own app leaves it (none of our migrations)."""
    name = f"anchor_pub_bare_{next(_copies)}"
    dsn = await copy_database(pg_admin_dsn, await pub_templates.bare(), name)
    try:
        yield dsn
    finally:
        await drop_database(pg_admin_dsn, name)


_copies = iter(range(1_000_000))

#: The columns we add to the pub's tables (each nullable or defaulted; README lists them).
OUR_COLUMNS_ON_PUB_TABLES = {
    "public.table_bookings.manage_token_hash",
    "public.table_bookings.refund_policy",
    "public.table_bookings.total_amount",
    "public.table_bookings.policy_override",
}
#: Our plain indexes on the pub's tables.
OUR_INDEXES_ON_PUB_TABLES = {
    "public.idx_table_bookings_manage_token_hash",
    "public.idx_table_bookings_hold_expires_at",
    "public.idx_table_bookings_holding_span",
    "public.idx_table_bookings_unpaid_holds",
    "public.idx_webhook_logs_type_processed_at",
}


class TestOurMigrationsOnlyAdd:
    async def test_migrating_twice_removes_or_changes_nothing_of_the_pubs(
        self, pub_bare: str
    ) -> None:
        conn = await asyncpg.connect(pub_bare)
        try:
            before = await fp.fingerprint(conn)
            assert await migrations.apply_pending(conn) == [
                m.version for m in migrations.discover()
            ]
            assert await migrations.apply_pending(conn) == []
            after = await fp.fingerprint(conn, columns_of=before)
            # And the files themselves, applied again over what they made, change nothing.
            for migration in migrations.discover():
                await conn.execute(migration.path.read_text(encoding="utf-8"))
            again = await fp.fingerprint(conn, columns_of=before)
        finally:
            await conn.close()

        assert fp.changes(before, after) == []
        assert fp.changes(after, again) == []
        added = fp.additions(before, after)
        pub_tables = set(before.rows)

        def on_pub_table(key: str) -> bool:
            return any(key.startswith(t + ".") for t in pub_tables)

        # Columns on the pub's tables: only ours, each nullable or with a default.
        new_columns = {c for c in added.get("column", []) if on_pub_table(c)}
        assert new_columns == OUR_COLUMNS_ON_PUB_TABLES
        for column in new_columns:
            _type, not_null, default, *_ = after.objects["column"][column].split("|")
            assert not_null == "false" or default, column
        # No trigger, rule or policy on them; no constraint over their columns.
        for category in ("trigger", "rule", "policy"):
            assert [k for k in added.get(category, []) if on_pub_table(k)] == [], category
        assert [
            k
            for k in added.get("constraint", [])
            if on_pub_table(k) and not k.endswith("_not_null")
        ] == []
        # Indexes on them: ours, plain (not unique), none a twin of one the pub has.
        pub_index_defs = {_shape(d) for d in before.objects["index"].values()}
        new_indexes = {
            k: after.objects["index"][k]
            for k in added.get("index", [])
            if " ON " + _table_of(after.objects["index"][k]) + " " in after.objects["index"][k]
            and _table_of(after.objects["index"][k]) in pub_tables
        }
        assert set(new_indexes) == OUR_INDEXES_ON_PUB_TABLES
        for name, definition in new_indexes.items():
            assert not definition.startswith("CREATE UNIQUE"), name
            assert _shape(definition) not in pub_index_defs, name
        # No rows in the pub's RBAC grant tables or the Supabase CLI's history; no other rows
        # of the pub's changed (fp.changes above); added only the SMS templates and settings we
        # need that the pub lacks.
        assert fp.rows_added(before, after) == {
            "public.table_booking_sms_templates": 7,
            "public.system_settings": 3,
        }
        check = await asyncpg.connect(pub_bare)
        try:
            templates = await check.fetch(
                "select template_key from table_booking_sms_templates"
                " where template_key in ('cancellation_hold_expired', 'refund_problem',"
                " 'payment_request_table', 'booking_confirmation_regular_deposit',"
                " 'cancellation_hold_expired_table', 'booking_confirmation_deposit_sorted',"
                " 'booking_confirm_request') order by 1"
            )
            # Our own history.
            ours = await check.fetchval(f"select count(*) from {migrations.HISTORY_TABLE}")  # noqa: S608
            theirs = await check.fetchval(
                "select count(*) from supabase_migrations.schema_migrations"
            )
        finally:
            await check.close()
        assert [r["template_key"] for r in templates] == [
            "booking_confirm_request",
            "booking_confirmation_deposit_sorted",
            "booking_confirmation_regular_deposit",
            "cancellation_hold_expired",
            "cancellation_hold_expired_table",
            "payment_request_table",
            "refund_problem",
        ]
        assert (ours, theirs) == (len(migrations.discover()), 620)


def _table_of(indexdef: str) -> str:
    return indexdef.split(" ON ", 1)[1].split(" ", 1)[0]


def _shape(indexdef: str) -> str:
    """An index definition without its name."""
    head, _, rest = indexdef.partition(" ON ")
    return head.rsplit(" ", 1)[0] + " ON " + rest


# The pub's app behaves as before -----------------------------------------------------------------

#: The pub app's public booking path (tests/fixtures/pub-database/example_rpc.sql) as its
#: service-role client runs it, for 4 people at 19:00 on the first Friday at least a week after
#: the database's own today (the pub's RPC decides by now()).
PUB_PUBLIC_BOOKING = """
with c as (
  insert into public.customers (first_name, last_name, mobile_number, mobile_e164, email,
    sms_opt_in, sms_status, marketing_sms_opt_in, whatsapp_opt_in, whatsapp_status,
    marketing_whatsapp_opt_in, marketing_email_opt_in)
  values ('Pat', 'Example', '+447700900123', '+447700900123', 'pat.example@example.com', true,
    'active', false, true, 'active', false, false)
  returning id)
select c.id, public.create_table_booking_public_v06(
  p_customer_id => c.id,
  p_booking_date => current_date + 7 + (12 - extract(dow from current_date + 7)::int) % 7,
  p_booking_time => '19:00'::time, p_party_size => 4, p_booking_purpose => 'food',
  p_notes => null, p_sunday_lunch => false, p_source => 'brand_site', p_high_chair_count => 0,
  p_outside_seating => false, p_requires_accessible_table => false,
  p_booking_period_id => null, p_booking_period_answer => null) as result
from c
"""

BOOKING_STATE = """
select b.status::text, b.booking_type::text, b.party_size, b.committed_party_size,
       b.booking_purpose, b.source, b.payment_status::text, b.cancelled_by,
       b.booking_reference ~ '^TB-[0-9A-F]{8}$' as pub_reference,
       b.end_datetime - b.start_datetime as length,
       (select string_agg(t.name, ',' order by t.name) from public.booking_table_assignments a
        join public.tables t on t.id = a.table_id where a.table_booking_id = b.id) as tables,
       c.table_booking_count, c.no_show_count, c.last_table_booking_date = b.booking_date as dated
from public.table_bookings b join public.customers c on c.id = b.customer_id
where b.id = $1
"""


def _stable(result: dict[str, Any]) -> dict[str, Any]:
    """The RPC's answer without what differs every call (ids, reference, instants)."""
    return {
        k: v
        for k, v in result.items()
        if not k.endswith(("_id", "_ids", "reference", "datetime", "_at"))
    }


async def pub_app_path(dsn: str) -> dict[str, Any]:
    """The pub app's booking, cancel and a staff insert under RLS; what each left behind."""
    conn = await asyncpg.connect(dsn)
    seen: dict[str, Any] = {}
    try:
        async with conn.transaction():
            await conn.execute("set local role service_role")
            await conn.execute(
                "select set_config('request.jwt.claims', '{\"role\": \"service_role\"}', true)"
            )
            made = await conn.fetchrow(PUB_PUBLIC_BOOKING)
            assert made is not None
            result = json.loads(made["result"])
            seen["rpc"] = _stable(result)
            if result.get("table_booking_id"):
                seen["booked"] = dict(
                    await conn.fetchrow(BOOKING_STATE, result["table_booking_id"]) or {}
                )
            # The pub's walk-in insert without the RPC (pub-engine-2026.md 10.7), on a date the
            # database's clock cannot make a difference to, then the pub's cancel of it.
            walk_in = await conn.fetchval(
                "insert into public.table_bookings (customer_id, booking_date, booking_time,"
                " party_size, committed_party_size, booking_type, status, source, confirmed_at,"
                " duration_minutes, booking_reference) values ($1, current_date + 40, '19:00',"
                " 3, 3, 'regular', 'confirmed', 'walk-in', now(), 120,"
                " 'TB-W' || upper(substr(md5(random()::text), 1, 8))) returning id",
                made["id"],
            )
            seen["walk_in"] = dict(await conn.fetchrow(BOOKING_STATE, walk_in) or {})
            await conn.execute(
                "update public.table_bookings set status = 'cancelled', cancelled_at = now(),"
                " cancelled_by = 'staff', cancellation_reason = 'guest rang' where id = $1",
                walk_in,
            )
            seen["cancelled"] = dict(await conn.fetchrow(BOOKING_STATE, walk_in) or {})
            await conn.execute("reset role")

            # A member of staff signed in to the pub's app inserts a booking under RLS.
            staff_id = await conn.fetchval(
                "insert into auth.users (id, email)"
                " values (gen_random_uuid(), 'foh@the-anchor.pub') returning id"
            )
            await conn.execute(
                "insert into public.user_roles (user_id, role_id)"
                " select $1, id from public.roles where name = 'staff'",
                staff_id,
            )
            await conn.execute("set local role authenticated")
            await conn.execute(
                "select set_config('request.jwt.claims', $1, true)",
                json.dumps({"sub": str(staff_id), "role": "authenticated"}),
            )
            inserted = await conn.fetchval(
                "insert into public.table_bookings (customer_id, booking_date, booking_time,"
                " party_size, committed_party_size, booking_type, status, source)"
                " values ($1, current_date + 30, '18:00', 2, 2, 'regular', 'confirmed',"
                " 'admin') returning id",
                made["id"],
            )
            await conn.execute("reset role")
            seen["staff_insert"] = dict(await conn.fetchrow(BOOKING_STATE, inserted) or {})
            raise _RollBack
    except _RollBack:
        pass
    finally:
        await conn.close()
    return seen


class _RollBack(Exception):
    pass


class TestThePubsAppIsUnharmed:
    async def test_its_booking_cancel_and_staff_insert_give_the_same_results_after_our_migrations(
        self, pub_bare: str
    ) -> None:
        before = await pub_app_path(pub_bare)
        conn = await asyncpg.connect(pub_bare)
        try:
            await migrations.apply_pending(conn)
            await migrations.apply_pending(conn)
        finally:
            await conn.close()
        after = await pub_app_path(pub_bare)

        assert after == before
        # And what it gave is the pub's: each confirmed booking counted once (no twin counter),
        # nothing taken back by the cancel.
        booked = 1 if "booked" in before else 0
        assert before["walk_in"]["table_booking_count"] == booked + 1
        assert before["cancelled"]["table_booking_count"] == booked + 1
        assert before["staff_insert"]["status"] == "confirmed"
        if booked:  # the RPC books relative to today; on a fresh load it confirms
            assert before["booked"]["status"] == "confirmed"
            assert before["booked"]["pub_reference"]


# One truth ---------------------------------------------------------------------------------------

#: A text queued by the pub's own app (its send_sms shape: no unique_key).
PUB_SMS_PAYLOAD = {
    "to": "+447700900123",
    "body": "The Anchor: your table is booked.",
    "customer_id": None,
    "metadata": {"template_key": "table_booking_confirm_reminder"},
}


@BOTH
class TestTheQueueIsShared:
    async def test_our_worker_never_claims_resets_or_touches_another_apps_job(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        pending = await conn.fetchval(
            "insert into jobs (type, payload, status, scheduled_for)"
            " values ('send_sms', $1::jsonb, 'pending', now() - interval '1 hour') returning id",
            json.dumps(PUB_SMS_PAYLOAD),
        )
        stuck = await conn.fetchval(
            "insert into jobs (type, payload, status, attempts, processing_token,"
            " lease_expires_at, started_at) values ('send_sms', $1::jsonb, 'processing', 1,"
            " gen_random_uuid(), now() - interval '1 hour', now() - interval '2 hours')"
            " returning id",
            json.dumps(PUB_SMS_PAYLOAD),
        )
        before = await conn.fetch(
            "select * from jobs where id = any($1::uuid[]) order by id", [pending, stuck]
        )
        await create_booking(client, key, regular_body(FRIDAY))
        report = await run_worker(client)
        assert report["claimed"] > 0  # our own jobs ran
        after = await conn.fetch(
            "select * from jobs where id = any($1::uuid[]) order by id", [pending, stuck]
        )
        assert [dict(r) for r in after] == [dict(r) for r in before]

    async def test_a_job_of_ours_whose_payload_cannot_be_read_fails_with_the_reason(
        self, client: httpx.AsyncClient, conn: asyncpg.Connection
    ) -> None:
        job = await conn.fetchval(
            "insert into jobs (type, payload, status, scheduled_for)"
            " values ('table_booking_sms', $1::jsonb, 'pending', now() - interval '1 minute')"
            " returning id",
            json.dumps(PUB_SMS_PAYLOAD),
        )
        report = await run_worker(client)
        assert report["failed"] == 1
        row = await conn.fetchrow("select status, error_message from jobs where id = $1", job)
        assert row is not None
        assert row["status"] == "failed"
        assert "unreadable payload" in row["error_message"]
        assert "unique_key" in row["error_message"]


@PUB
class TestConsentThePubsWay:
    async def test_a_booking_forms_opt_in_is_recorded_in_the_pubs_ledger(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        made = await create_booking(client, key, regular_body(FRIDAY))
        rows = await conn.fetch(
            "select channel, purpose, status, source, capture_method, related_entity_type,"
            " related_entity_id from customer_consents where customer_id = $1",
            (await customer(conn))["id"],
        )
        assert [tuple(r) for r in rows] == [
            (
                "sms",
                "service",
                "opted_in",
                "public_table_booking",
                "checkbox",
                "table_booking",
                made["booking_id"],
            )
        ]
        assert (await customer(conn))["sms_status"] == "active"

    async def test_a_customer_the_pub_opted_out_is_not_opted_back_in_by_a_booking_form(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        customer_id = await conn.fetchval(
            "insert into customers (first_name, last_name, mobile_number, mobile_e164,"
            " sms_opt_in, sms_status) values ('Ann', 'Lee', $1::text, $1::text, true, 'active')"
            " returning id",
            PHONE,
        )
        await conn.execute(
            "select record_customer_consent(p_customer_id => $1, p_channel => 'sms',"
            " p_purpose => 'service', p_status => 'opted_out', p_legal_basis => 'consent',"
            " p_source => 'twilio_inbound_sms', p_capture_method => 'inbound_keyword')",
            customer_id,
        )
        made = await create_booking(client, key, regular_body(FRIDAY))  # sms_opt_in: true
        assert (await booking(conn, made["booking_id"]))["customer_id"] == customer_id
        after = await customer(conn)
        assert (after["sms_opt_in"], after["sms_status"]) == (False, "opted_out")
        statuses = await conn.fetch(
            "select status from customer_consents where customer_id = $1", customer_id
        )
        assert [r["status"] for r in statuses] == ["opted_out"]

    async def test_stop_and_start_are_recorded_in_the_pubs_ledger(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        await create_booking(client, key, regular_body(FRIDAY))
        for sid, action in (("SMstop", "opt_out"), ("SMstart", "opt_in")):
            await conn.execute(
                "select twilio_inbound_message($1, $2, '+447700900000', 'STOP', $3)",
                sid,
                PHONE,
                action,
            )
        rows = await conn.fetch(
            "select status, source, capture_method from customer_consents"
            " where customer_id = $1 order by event_sequence",
            (await customer(conn))["id"],
        )
        assert [tuple(r) for r in rows][1:] == [
            ("opted_out", "twilio_inbound_sms", "inbound_keyword"),
            ("opted_in", "twilio_inbound_sms", "inbound_keyword"),
        ]
        assert (await customer(conn))["sms_status"] == "active"


@PUB
class TestThePubsPermissions:
    async def test_a_manager_cannot_refund_through_us_because_the_pub_gives_refund_to_super_admin(
        self, conn: asyncpg.Connection
    ) -> None:
        grants = {
            (r["name"], r["action"])
            for r in await conn.fetch(
                "select r.name, p.action from role_permissions rp join roles r on r.id = rp.role_id"
                " join permissions p on p.id = rp.permission_id"
                " where p.module_name = 'table_bookings'"
            )
        }
        assert ("super_admin", "refund") in grants and ("manager", "refund") not in grants

        async def may(role: str, action: str) -> bool:
            user = await conn.fetchval(
                "insert into auth.users (id, email) values (gen_random_uuid(), $1) returning id",
                f"{role}-{action}@the-anchor.pub",
            )
            await conn.execute(
                "insert into user_roles (user_id, role_id)"
                " select $1, id from roles where name = $2",
                user,
                role,
            )
            allowed: bool = await conn.fetchval("select staff_has_permission($1, $2)", user, action)
            return allowed

        assert await may("super_admin", "refund")
        assert not await may("manager", "refund")
        assert await may("manager", "cancel")  # the pub's manage
        assert await may("staff", "cancel")  # the pub's edit (its FOH actions)
        assert not await may("staff", "refund")
        assert not await may("portal_shift_manager", "view")


# The columns our SQL names exist in the pub's schema ---------------------------------------------


class TestOurSchemaMatchesThePubs:
    async def test_every_column_of_a_shared_table_exists_in_the_pubs_with_the_same_type(
        self, template_dsn: str, pub_templates: PubTemplates, pg_admin_dsn: str
    ) -> None:
        """Our SQL is written against the fresh database's tables (the stand-ins of the pub's and
        the columns we add): each of their columns must exist on the pub's database after our
        migrations, with the same type, or a function of ours would fail there."""
        query = """
            select c.table_name || '.' || c.column_name, format_type(a.atttypid, a.atttypmod)
            from information_schema.columns c
            join pg_attribute a on a.attrelid = ('public.' || quote_ident(c.table_name))::regclass
             and a.attname = c.column_name
            where c.table_schema = 'public'"""
        fresh = await asyncpg.connect(template_dsn)
        pub = await asyncpg.connect(
            copy_database_dsn := await copy_database(
                pg_admin_dsn, await pub_templates.migrated(), "anchor_pub_columns"
            )
        )
        try:
            ours = {r[0]: r[1] for r in await fresh.fetch(query)}
            theirs = {r[0]: r[1] for r in await pub.fetch(query)}
        finally:
            await fresh.close()
            await pub.close()
            await drop_database(pg_admin_dsn, "anchor_pub_columns")
        assert copy_database_dsn
        shared_tables = {k.split(".")[0] for k in ours} & {k.split(".")[0] for k in theirs}
        assert {"table_bookings", "customers", "jobs", "audit_logs"} <= shared_tables
        missing = sorted(k for k in ours if k.split(".")[0] in shared_tables and k not in theirs)
        assert missing == []
        different = sorted(
            f"{k}: ours {ours[k]}, the pub's {theirs[k]}"
            for k in ours
            if k in theirs and not _compatible(ours[k], theirs[k])
        )
        assert different == []


def _compatible(ours: str, theirs: str) -> bool:
    """The same type, or text where the pub has a varchar (what we write fits either way)."""
    if ours == theirs:
        return True
    return {ours.split("(")[0], theirs.split("(")[0]} <= {"text", "character varying"}
