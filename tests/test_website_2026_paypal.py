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
from tests.conftest import FakeClock, envelope_error
from tests.test_payments import (  # noqa: F401  (fixtures used by name)
    APPROVE_URL,
    ORDER_ID,
    FakePayPal,
    app,
    captured,
    order_body,
    outbox,
    paypal,
    paypal_settings,
    run_worker,
)
from tests.test_website_2026_create import WEBSITE_SCOPES, post, two_eights, website_body

pytestmark = pytest.mark.parametrize("database_kind", ["fresh", "pub"], indirect=True)

PAYPAL_RETURN = "https://tb.example/api/table-bookings/payment/return"


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


@pytest.fixture
async def website(make_key: Any) -> dict[str, str]:
    headers: dict[str, str] = await make_key(WEBSITE_SCOPES)
    return headers


async def pending_sixteen(
    client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
) -> dict[str, Any]:
    """A party of 16 the website booked: awaiting its £160 group deposit, no PayPal order."""
    await two_eights(conn)
    response = await post(client, key, website_body(16))
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    assert (data["state"], data["deposit_amount"]) == ("pending_payment", 160)
    return data


def pay_as(fake: FakePayPal, value: str) -> None:
    fake.create.respond(201, json=order_body(value=value))
    fake.get.respond(200, json=order_body(value=value))
    fake.capture.respond(201, json=captured(value))


class TestCreateOrder:
    async def test_an_order_for_the_canonical_deposit_then_the_same_stored_order(
        self,
        client: httpx.AsyncClient,
        website: dict[str, str],
        conn: asyncpg.Connection,
        db: PostgresDatabase,
        clock: FakeClock,
        paypal: FakePayPal,  # noqa: F811
        paypal_service: PayPal,
    ) -> None:
        made = await pending_sixteen(client, website, conn)
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
        website: dict[str, str],
        conn: asyncpg.Connection,
        db: PostgresDatabase,
        clock: FakeClock,
        paypal: FakePayPal,  # noqa: F811
        paypal_service: PayPal,
    ) -> None:
        made = await pending_sixteen(client, website, conn)
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
        website: dict[str, str],
        conn: asyncpg.Connection,
        db: PostgresDatabase,
        clock: FakeClock,
        paypal: FakePayPal,  # noqa: F811
        paypal_service: PayPal,
    ) -> None:
        made = await pending_sixteen(client, website, conn)
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
        website: dict[str, str],
        conn: asyncpg.Connection,
        db: PostgresDatabase,
        clock: FakeClock,
        paypal: FakePayPal,  # noqa: F811
        paypal_service: PayPal,
    ) -> None:
        made = await pending_sixteen(client, website, conn)
        no_deposit = (await post(client, website, website_body(2, time="17:00"))).json()["data"]
        no_deposit["booking_id"] = no_deposit["table_booking_id"]
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
        website: dict[str, str],
        conn: asyncpg.Connection,
        db: PostgresDatabase,
        clock: FakeClock,
        paypal: FakePayPal,  # noqa: F811
        paypal_service: PayPal,
    ) -> None:
        made = await pending_sixteen(client, website, conn)
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
        website: dict[str, str],
        conn: asyncpg.Connection,
        db: PostgresDatabase,
        clock: FakeClock,
        paypal: FakePayPal,  # noqa: F811
        paypal_service: PayPal,
    ) -> None:
        made = await pending_sixteen(client, website, conn)
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
        website: dict[str, str],
        conn: asyncpg.Connection,
        db: PostgresDatabase,
        clock: FakeClock,
        paypal: FakePayPal,  # noqa: F811
        paypal_service: PayPal,
    ) -> None:
        made = await pending_sixteen(client, website, conn)
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
        website: dict[str, str],
        conn: asyncpg.Connection,
        db: PostgresDatabase,
        clock: FakeClock,
        paypal: FakePayPal,  # noqa: F811
        paypal_service: PayPal,
    ) -> None:
        made = await pending_sixteen(client, website, conn)
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


def order_route(booking_id: str, step: str) -> str:
    return f"/management/api/external/table-bookings/{booking_id}/paypal/{step}"


def bearer(headers: dict[str, str]) -> dict[str, str]:
    """The website sends its key as ``Authorization: Bearer`` on the PayPal routes."""
    return {"Authorization": f"Bearer {headers['X-API-Key']}"}


class TestTheWebsitesPayPalFlow:
    async def test_create_order_capture_and_one_deposit_sorted_text(
        self,
        client: httpx.AsyncClient,
        website: dict[str, str],
        conn: asyncpg.Connection,
        paypal: FakePayPal,  # noqa: F811
    ) -> None:
        made = await pending_sixteen(client, website, conn)
        assert made["next_step_url"].startswith("https://tb.example/g/")
        pay_as(paypal, "160.00")
        booking_id = made["booking_id"]
        auth = bearer(website)

        created = await client.post(order_route(booking_id, "create-order"), headers=auth)
        again = await client.post(order_route(booking_id, "create-order"), headers=auth)

        assert (created.status_code, created.json()) == (200, {"orderId": ORDER_ID})
        assert (again.status_code, again.json()) == (200, {"orderId": ORDER_ID})
        assert paypal.create.call_count == 1
        assert paypal.create.calls[0].request.headers["PayPal-Request-Id"] == (
            f"tb-deposit-{booking_id}"
        )

        wrong = await client.post(
            order_route(booking_id, "capture-order"), json={"orderId": "OTHER"}, headers=auth
        )
        assert (wrong.status_code, wrong.json()) == (400, {"error": "Order ID mismatch"})
        bad = await client.post(order_route(booking_id, "capture-order"), json={}, headers=auth)
        assert (bad.status_code, bad.json()) == (
            400,
            {"error": "Invalid request body. orderId is required."},
        )
        captured_ = await client.post(
            order_route(booking_id, "capture-order"), json={"orderId": ORDER_ID}, headers=auth
        )

        assert (captured_.status_code, captured_.json()) == (200, {"success": True})
        status = await conn.fetchval(
            "select status::text from table_bookings where id = $1::uuid", booking_id
        )
        assert status == "confirmed"
        await run_worker(client)
        texts = await outbox(conn, "booking_confirmation_deposit_sorted")
        sms = [t for t in texts if t["channel"] == "sms"]
        assert len(sms) == 1
        assert sms[0]["recipient"] == "+447700900123"
        assert sms[0]["body"].startswith(
            "Hi Ann, Deposit sorted - your table for 16 people on Friday 11 December at 19:00 is "
            "locked in. See you then!"
        )
        [alert] = await outbox(conn, "staff_confirmed")
        assert alert["recipient"] == "manager@the-anchor.pub"
        # A second capture changes nothing and sends nothing more.
        repeat = await client.post(
            order_route(booking_id, "capture-order"), json={"orderId": ORDER_ID}, headers=auth
        )
        assert (repeat.status_code, repeat.json()) == (200, {"success": True})
        await run_worker(client)
        assert len(await outbox(conn, "booking_confirmation_deposit_sorted")) == len(texts)
        paid = await client.post(order_route(booking_id, "create-order"), headers=auth)
        assert (paid.status_code, paid.json()) == (
            409,
            {"error": "Deposit has already been paid for this booking"},
        )

    async def test_an_expired_hold_is_410(
        self,
        client: httpx.AsyncClient,
        website: dict[str, str],
        conn: asyncpg.Connection,
        clock: FakeClock,
        paypal: FakePayPal,  # noqa: F811
    ) -> None:
        made = await pending_sixteen(client, website, conn)
        clock.advance(days=2)

        response = await client.post(
            order_route(made["booking_id"], "create-order"), headers=bearer(website)
        )

        assert (response.status_code, response.json()) == (
            410,
            {"error": "This payment link has expired."},
        )
        assert paypal.create.call_count == 0

    async def test_who_may_call(
        self,
        client: httpx.AsyncClient,
        website: dict[str, str],
        make_key: Any,
        conn: asyncpg.Connection,
        paypal: FakePayPal,  # noqa: F811
    ) -> None:
        made = await pending_sixteen(client, website, conn)
        creator = await make_key(["create:bookings"])

        nobody = await client.post(order_route(made["booking_id"], "create-order"))
        not_allowed = await client.post(
            order_route(made["booking_id"], "capture-order"),
            json={"orderId": ORDER_ID},
            headers=bearer(creator),
        )

        assert nobody.status_code == 401
        assert envelope_error(nobody) == {
            "code": "UNAUTHORIZED",
            "message": "Invalid or missing API key",
            "details": None,
        }
        assert not_allowed.status_code == 403
        assert envelope_error(not_allowed)["message"] == "Insufficient permissions"
        assert paypal.create.call_count == 0
        assert paypal.capture.call_count == 0
