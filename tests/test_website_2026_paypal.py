"""The deposit's PayPal order and capture of the 2026 contract (pub-api-2026.md sections 6, 7):
app.services.deposit_orders, against a respx PayPal, on a fresh database and the pub's."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from app.db.postgres import PostgresDatabase
from app.integrations.paypal import PayPalClient
from app.services import deposit_orders
from app.services.payments import PayPal
from tests.conftest import FakeClock, create_booking, regular_body
from tests.test_payments import (  # noqa: F401  (fixtures used by name)
    APPROVE_URL,
    ORDER_ID,
    FakePayPal,
    captured,
    order_body,
    paypal,
)

pytestmark = pytest.mark.parametrize("database_kind", ["fresh", "pub"], indirect=True)

FRIDAY = "2026-12-11"
PAYPAL_RETURN = "https://tb.example/api/table-bookings/payment/return"


async def eights(conn: asyncpg.Connection) -> None:
    """Two joined tables of 8 (on the pub's floor too), so a party of 16 is seated."""
    ids = [
        await conn.fetchval(
            "insert into tables (table_number, name, capacity, priority, bar_priority)"
            " values ($1, $2, 8, 1, 1) returning id",
            number,
            f"Test {number}",
        )
        for number in ("T81", "T82")
    ]
    low, high = sorted(ids)
    await conn.execute(
        "insert into table_join_links (table_id, join_table_id) values ($1, $2)", low, high
    )


@pytest.fixture
async def paypal_service() -> AsyncIterator[PayPal]:
    """Our PayPal client as the app makes it (sandbox), over an httpx client respx intercepts."""
    async with httpx.AsyncClient() as http:
        client = PayPalClient(
            client_id="cid", client_secret="csecret", environment="sandbox", http=http
        )
        yield PayPal(
            client=client,
            verifier=None,
            return_url=PAYPAL_RETURN,
            cancel_url=PAYPAL_RETURN + "?cancelled=1",
        )


async def pending_sixteen(
    client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
) -> dict[str, Any]:
    """A party of 16 awaiting its £160 group deposit, with no PayPal order yet."""
    await eights(conn)
    made = await create_booking(client, key, regular_body(FRIDAY, "19:00", 16))
    assert made["status"] == "pending_payment"
    assert made["payment_details"]["deposit_amount"] == "160.00"
    return made


def pay_as(fake: FakePayPal, value: str) -> None:
    fake.create.respond(201, json=order_body(value=value))
    fake.get.respond(200, json=order_body(value=value))
    fake.capture.respond(201, json=captured(value))


class TestCreateOrder:
    async def test_an_order_for_the_canonical_deposit_then_the_same_stored_order(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
        db: PostgresDatabase,
        clock: FakeClock,
        paypal: FakePayPal,  # noqa: F811
        paypal_service: PayPal,
    ) -> None:
        made = await pending_sixteen(client, key, conn)
        pay_as(paypal, "160.00")
        booking_id = made["booking_id"]

        status, body = await deposit_orders.create_order(
            db, paypal_service, booking_id, now=clock.now
        )

        assert (status, body) == (200, {"orderId": ORDER_ID})
        sent = paypal.create.calls[-1].request
        assert sent.headers["PayPal-Request-Id"] == f"tb-deposit-{booking_id}"
        unit = json.loads(sent.content)["purchase_units"][0]
        assert unit["reference_id"] == f"tb-deposit-{booking_id}"
        assert unit["custom_id"] == booking_id
        assert unit["amount"] == {"currency_code": "GBP", "value": "160.00"}
        assert unit["description"] == "Table booking deposit \u2013 16 guests"
        assert (
            await conn.fetchval(
                "select paypal_deposit_order_id from table_bookings where id = $1::uuid",
                booking_id,
            )
            == ORDER_ID
        )

        again = await deposit_orders.create_order(db, paypal_service, booking_id, now=clock.now)
        assert again == (200, {"orderId": ORDER_ID})
        assert paypal.create.call_count == 1  # the stored order, still open at £160, reused
        assert paypal.get.call_count == 1

    async def test_the_guest_page_gets_the_approval_link(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
        db: PostgresDatabase,
        clock: FakeClock,
        paypal: FakePayPal,  # noqa: F811
        paypal_service: PayPal,
    ) -> None:
        made = await pending_sixteen(client, key, conn)
        pay_as(paypal, "160.00")
        back = "https://tb.example/g/tok/table-payment"

        status, body = await deposit_orders.create_order(
            db, paypal_service, made["booking_id"], now=clock.now, return_url=back
        )

        assert (status, body) == (200, {"orderId": ORDER_ID, "approve_url": APPROVE_URL})
        context = json.loads(paypal.create.calls[-1].request.content)["payment_source"]
        assert context["paypal"]["experience_context"]["return_url"] == back

    async def test_an_order_at_another_amount_is_replaced(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
        db: PostgresDatabase,
        clock: FakeClock,
        paypal: FakePayPal,  # noqa: F811
        paypal_service: PayPal,
    ) -> None:
        made = await pending_sixteen(client, key, conn)
        pay_as(paypal, "160.00")
        await deposit_orders.create_order(db, paypal_service, made["booking_id"], now=clock.now)
        paypal.get.respond(200, json=order_body(value="150.00"))

        status, _ = await deposit_orders.create_order(
            db, paypal_service, made["booking_id"], now=clock.now
        )

        assert status == 200
        assert paypal.create.call_count == 2

    async def test_refusals_in_the_pubs_words(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
        db: PostgresDatabase,
        clock: FakeClock,
        paypal: FakePayPal,  # noqa: F811
        paypal_service: PayPal,
    ) -> None:
        made = await pending_sixteen(client, key, conn)
        no_deposit = await create_booking(client, key, regular_body(FRIDAY, "17:00", 2))
        booking_id = made["booking_id"]

        assert await deposit_orders.create_order(
            db, paypal_service, "not-a-uuid", now=clock.now
        ) == (404, {"error": "Booking not found"})
        assert await deposit_orders.create_order(
            db, paypal_service, "6f1c0000-0000-4000-8000-000000000000", now=clock.now
        ) == (404, {"error": "Booking not found"})
        assert await deposit_orders.create_order(
            db, paypal_service, no_deposit["booking_id"], now=clock.now
        ) == (400, {"error": "This booking does not require a deposit payment"})
        expired = clock.now + timedelta(days=2)
        assert await deposit_orders.create_order(db, paypal_service, booking_id, now=expired) == (
            410,
            {"error": "This payment link has expired."},
        )
        paypal.create.respond(500, json={"name": "INTERNAL_SERVICE_ERROR"})
        assert await deposit_orders.create_order(db, paypal_service, booking_id, now=clock.now) == (
            502,
            {"error": "Failed to create PayPal order. Please try again."},
        )
        assert (
            await conn.fetchval(
                "select paypal_deposit_order_id from table_bookings where id = $1::uuid",
                booking_id,
            )
            is None
        )


class TestCaptureOrder:
    async def test_capture_confirms_the_booking_once(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
        db: PostgresDatabase,
        clock: FakeClock,
        paypal: FakePayPal,  # noqa: F811
        paypal_service: PayPal,
    ) -> None:
        made = await pending_sixteen(client, key, conn)
        pay_as(paypal, "160.00")
        booking_id = made["booking_id"]
        await deposit_orders.create_order(db, paypal_service, booking_id, now=clock.now)

        assert await deposit_orders.capture_order(
            db, paypal_service, booking_id, "WRONG", now=clock.now
        ) == (400, {"error": "Order ID mismatch"})
        result = await deposit_orders.capture_order(
            db, paypal_service, booking_id, ORDER_ID, now=clock.now
        )

        assert result == (200, {"success": True})
        row = await conn.fetchrow(
            "select status::text, payment_status::text, paypal_deposit_capture_id,"
            " hold_expires_at from table_bookings where id = $1::uuid",
            booking_id,
        )
        assert row is not None
        assert tuple(row) == ("confirmed", "completed", "3C679366HH908993F", None)
        jobs = await conn.fetchval(
            "select count(*) from jobs where payload->>'table_booking_id' = $1"
            " and payload->>'event' = 'confirmed'",
            booking_id,
        )
        assert jobs == 1
        # Again: already captured, nothing asked of PayPal.
        assert await deposit_orders.capture_order(
            db, paypal_service, booking_id, ORDER_ID, now=clock.now
        ) == (200, {"success": True})
        assert paypal.capture.call_count == 1

    async def test_an_amount_that_no_longer_matches_is_not_captured(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
        db: PostgresDatabase,
        clock: FakeClock,
        paypal: FakePayPal,  # noqa: F811
        paypal_service: PayPal,
    ) -> None:
        made = await pending_sixteen(client, key, conn)
        pay_as(paypal, "160.00")
        await deposit_orders.create_order(db, paypal_service, made["booking_id"], now=clock.now)
        paypal.get.respond(200, json=order_body(value="150.00"))

        result = await deposit_orders.capture_order(
            db, paypal_service, made["booking_id"], ORDER_ID, now=clock.now
        )

        assert result == (409, {"error": deposit_orders.AMOUNT_CHANGED})
        assert deposit_orders.AMOUNT_CHANGED == (
            "Payment amount no longer matches this booking. Please refresh and try again."
        )
        assert paypal.capture.call_count == 0

    async def test_an_expired_hold_is_not_captured(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
        db: PostgresDatabase,
        clock: FakeClock,
        paypal: FakePayPal,  # noqa: F811
        paypal_service: PayPal,
    ) -> None:
        made = await pending_sixteen(client, key, conn)
        pay_as(paypal, "160.00")
        await deposit_orders.create_order(db, paypal_service, made["booking_id"], now=clock.now)

        result = await deposit_orders.capture_order(
            db, paypal_service, made["booking_id"], ORDER_ID, now=clock.now + timedelta(days=2)
        )

        assert result == (410, {"error": "This payment link has expired."})
        assert paypal.capture.call_count == 0

    async def test_a_capture_of_another_amount_is_reported_not_confirmed(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
        db: PostgresDatabase,
        clock: FakeClock,
        paypal: FakePayPal,  # noqa: F811
        paypal_service: PayPal,
    ) -> None:
        made = await pending_sixteen(client, key, conn)
        pay_as(paypal, "160.00")
        await deposit_orders.create_order(db, paypal_service, made["booking_id"], now=clock.now)
        paypal.capture.respond(201, json=captured("16.00"))

        status, body = await deposit_orders.capture_order(
            db, paypal_service, made["booking_id"], ORDER_ID, now=clock.now
        )

        assert status == 502
        assert body["error"].startswith("Payment captured but amount did not match")
        status_now = await conn.fetchval(
            "select status::text from table_bookings where id = $1::uuid", made["booking_id"]
        )
        assert status_now == "pending_payment"
