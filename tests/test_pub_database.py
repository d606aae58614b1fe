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

from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import (
    create_booking,
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
        # Counted once, by the pub's counter (or its stand-in), and never taken back.
        assert (await customer(conn))["table_booking_count"] == 1

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
        assert (await customer(conn))["table_booking_count"] == 1

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
