"""Sunday lunch deposits end to end against a respx PayPal: the link at create, start paying,
the return (capture, amount check, confirm, redirect), webhooks (signed as PayPal signs them),
refunds by policy through the worker, staff overrides, and holds that expire."""

from __future__ import annotations

import base64
import contextlib
import json
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import asyncpg
import httpx
import pytest
import respx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from fastapi import FastAPI
from pydantic import SecretStr

from app.config import Settings
from app.db.postgres import PostgresDatabase
from app.main import create_app
from tests.conftest import FakeClock, create_booking, envelope_error, sunday_body

SANDBOX = "https://api-m.sandbox.paypal.com"
TOKEN_URL = f"{SANDBOX}/v1/oauth2/token"
ORDERS_URL = f"{SANDBOX}/v2/checkout/orders"
ORDER_ID = "5O190127TN364715T"
ORDER_URL = f"{ORDERS_URL}/{ORDER_ID}"
CAPTURE_URL = f"{ORDER_URL}/capture"
CAPTURE_ID = "3C679366HH908993F"
REFUND_ID = "1JU08902781691411"
REFUND_URL = f"{SANDBOX}/v2/payments/captures/{CAPTURE_ID}/refund"
APPROVE_URL = f"https://www.sandbox.paypal.com/checkoutnow?token={ORDER_ID}"
PAYER_EMAIL = "payer.ann@example.com"
CERT_URL = "https://api.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594"
WEBHOOK_ID = "WH-ID"
TRANSMISSION_ID = "69cd13f0-d67a-11e5-baa3-778b53f4ae55"

BASE = "/api/table-bookings"
RETURN = f"{BASE}/payment/return"
WEBHOOK = "/api/webhooks/paypal/table-bookings"
PROCESS_JOBS = "/api/cron/process-jobs"
EXPIRY = "/api/cron/table-booking-payment-expiry"
CRON = {"Authorization": "Bearer test-cron-secret-0123456789"}
JSON = {"Accept": "application/json"}
SUCCESS_URL = "https://www.the-anchor.pub/booked?via=paypal"
FAILURE_URL = "https://www.the-anchor.pub/payment-failed"
GUEST_EMAIL = "ann.lee@example.com"
DEPOSIT = "10.00"  # two guests at £5.00
#: Sunday 29 November 2026, 13:00 in London (GMT): the Sunday lunch's start.
START = datetime(2026, 11, 29, 13, 0, tzinfo=UTC)


# PayPal, faked with respx ------------------------------------------------------------------------


def money(value: str = DEPOSIT, currency: str = "GBP") -> dict[str, str]:
    return {"currency_code": currency, "value": value}


def capture_body(
    value: str = DEPOSIT, currency: str = "GBP", status: str = "COMPLETED", booking_id: str = ""
) -> dict[str, Any]:
    return {
        "id": CAPTURE_ID,
        "status": status,
        "amount": money(value, currency),
        "final_capture": True,
        "custom_id": booking_id,
        "seller_protection": {"status": "ELIGIBLE"},
        "supplementary_data": {"related_ids": {"order_id": ORDER_ID}},
        "create_time": "2026-11-24T10:01:00Z",
    }


def order_body(
    status: str = "PAYER_ACTION_REQUIRED",
    *,
    value: str = DEPOSIT,
    captures: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    unit: dict[str, Any] = {
        "reference_id": "tb-deposit",
        "custom_id": "booking",
        "description": "Sunday lunch deposit",
        "amount": money(value),
        "payee": {"merchant_id": "MERCHANT123"},
    }
    if captures is not None:
        unit["payments"] = {"captures": captures}
    return {
        "id": ORDER_ID,
        "intent": "CAPTURE",
        "status": status,
        # What PayPal tells us about the payer: never to be stored.
        "payment_source": {"paypal": {"email_address": PAYER_EMAIL, "account_id": "QYR5Z8XDVJNXQ"}},
        "payer": {"email_address": PAYER_EMAIL, "name": {"given_name": "Ann", "surname": "Payer"}},
        "purchase_units": [unit],
        "links": [
            {"href": ORDER_URL, "rel": "self", "method": "GET"},
            {"href": APPROVE_URL, "rel": "payer-action", "method": "GET"},
        ],
    }


def captured(value: str = DEPOSIT, currency: str = "GBP", status: str = "COMPLETED") -> Any:
    return order_body("COMPLETED", captures=[capture_body(value, currency, status)])


def paypal_error(name: str, issue: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": name,
        "message": "The requested action could not be performed.",
        "debug_id": "f0a8c2e1b2d3",
    }
    if issue is not None:
        body["details"] = [{"issue": issue, "description": issue}]
    return body


def refund_answer(request: httpx.Request) -> httpx.Response:
    """PayPal refunds what it is asked to, under one refund id."""
    asked = json.loads(request.content)["amount"]
    return httpx.Response(201, json={"id": REFUND_ID, "status": "COMPLETED", "amount": asked})


@cache
def signing_key(name: str = "paypal") -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@cache
def certificate_pem() -> bytes:
    """A self-signed certificate for ``signing_key()``, as PayPal's cert URL serves it."""
    key = signing_key("paypal")
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "messageverificationcerts")])
    now = datetime(2026, 11, 24, tzinfo=UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=30))
        .not_valid_after(now + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM)


def signed_headers(
    body: bytes, *, sent: datetime, webhook_id: str = WEBHOOK_ID, key: str = "paypal"
) -> dict[str, str]:
    """PayPal's headers: its signature over id|time|webhook id|crc32(raw body)."""
    transmission_time = sent.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    message = f"{TRANSMISSION_ID}|{transmission_time}|{webhook_id}|{zlib.crc32(body)}"
    signature = signing_key(key).sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())
    return {
        "PAYPAL-TRANSMISSION-ID": TRANSMISSION_ID,
        "PAYPAL-TRANSMISSION-TIME": transmission_time,
        "PAYPAL-TRANSMISSION-SIG": base64.b64encode(signature).decode(),
        "PAYPAL-CERT-URL": CERT_URL,
        "PAYPAL-AUTH-ALGO": "SHA256withRSA",
        "Content-Type": "application/json",
        "User-Agent": "PayPal/AUHD-214.0-58791495",
    }


@dataclass
class FakePayPal:
    token: respx.Route
    create: respx.Route
    get: respx.Route
    capture: respx.Route
    refund: respx.Route
    cert: respx.Route

    def posted(self, route: respx.Route, index: int = -1) -> Any:
        return json.loads(route.calls[index].request.content)


@pytest.fixture
def paypal(no_outbound_http: respx.MockRouter) -> FakePayPal:
    router = no_outbound_http
    token = router.post(TOKEN_URL)
    token.respond(
        200,
        json={"access_token": "A21AAtest-token", "token_type": "Bearer", "expires_in": 32400},
    )
    create = router.post(ORDERS_URL)
    create.respond(201, json=order_body())
    get = router.get(ORDER_URL)
    get.respond(200, json=order_body())
    capture = router.post(CAPTURE_URL)
    capture.respond(201, json=captured())
    refund = router.post(REFUND_URL)
    refund.side_effect = refund_answer
    cert = router.get(CERT_URL)
    cert.respond(200, content=certificate_pem(), headers={"Content-Type": "text/plain"})
    return FakePayPal(token, create, get, capture, refund, cert)


@pytest.fixture
def paypal_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "paypal_client_id": "cid",
            "paypal_client_secret": SecretStr("csecret"),
            "paypal_environment": "sandbox",
            "paypal_webhook_id": WEBHOOK_ID,
            "public_base_url": "https://tb.example",
            "payment_success_url": SUCCESS_URL,
            "payment_failure_url": FAILURE_URL,
        }
    )


@pytest.fixture
def app(paypal_settings: Settings, db: PostgresDatabase, clock: FakeClock) -> FastAPI:
    """The app with PayPal configured; conftest's ``client`` talks to it."""
    return create_app(paypal_settings, database=db, clock=clock)


# Helpers ---------------------------------------------------------------------------------------


def guest(made: dict[str, Any]) -> dict[str, str]:
    return {"X-Booking-Token": made["manage_token"]}


async def book(
    client: httpx.AsyncClient, key: dict[str, str], menu: dict[str, str]
) -> dict[str, Any]:
    """A Sunday lunch for two (deposit £10.00) at 13:00 on Sunday 29 November."""
    body = sunday_body(menu)
    body["customer"]["email"] = GUEST_EMAIL
    return await create_booking(client, key, body)


async def return_from_paypal(
    client: httpx.AsyncClient, *, json_wanted: bool = True, order_id: str = ORDER_ID
) -> httpx.Response:
    return await client.get(
        RETURN,
        params={"token": order_id, "PayerID": "QYR5Z8XDVJNXQ"},
        headers=JSON if json_wanted else {},
    )


async def paid(client: httpx.AsyncClient, key: dict[str, str], menu: dict[str, str]) -> Any:
    """A booking whose deposit was paid through the return URL."""
    made = await book(client, key, menu)
    response = await return_from_paypal(client)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["outcome"] == "confirmed"
    return made


async def run_worker(client: httpx.AsyncClient) -> dict[str, int]:
    response = await client.get(PROCESS_JOBS, headers=CRON)
    assert response.status_code == 200, response.text
    report: dict[str, int] = response.json()["data"]
    return report


async def expire_holds(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get(EXPIRY, headers=CRON)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def cancel(
    client: httpx.AsyncClient, ref: str, headers: dict[str, str], body: Any = None
) -> httpx.Response:
    return await client.post(f"{BASE}/{ref}/cancel", headers=headers, json=body)


def _decode(row: asyncpg.Record | None) -> dict[str, Any]:
    assert row is not None
    out = dict(row)
    for column, value in out.items():
        if isinstance(value, str) and value[:1] in "{[":
            with contextlib.suppress(ValueError):
                out[column] = json.loads(value)
    return out


async def booking_row(conn: asyncpg.Connection, booking_id: str) -> dict[str, Any]:
    return _decode(
        await conn.fetchrow(
            "select status::text, payment_status::text, confirmed_at, cancelled_at,"
            " cancellation_reason, paypal_deposit_order_id, paypal_deposit_capture_id,"
            " hold_expires_at, internal_notes, booking_date, booking_time, start_datetime,"
            " duration_minutes, booking_type from table_bookings where id = $1::uuid",
            booking_id,
        )
    )


async def payment_row(conn: asyncpg.Connection, booking_id: str) -> dict[str, Any]:
    rows = await conn.fetch(
        "select status::text, amount, transaction_id, paid_at, refund_amount,"
        " refund_transaction_id, refunded_at, payment_metadata"
        " from table_booking_payments where booking_id = $1::uuid",
        booking_id,
    )
    assert len(rows) == 1, rows
    return _decode(rows[0])


async def audits(conn: asyncpg.Connection, operation: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "select resource_id, operation_status, old_values, new_values, error_message,"
        " additional_info from audit_logs where operation_type = $1 order by created_at, id",
        operation,
    )
    return [_decode(r) for r in rows]


async def webhook_logs(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "select status, params, error_message, headers, body from webhook_logs"
        " where webhook_type = 'paypal' order by processed_at, id"
    )
    return [_decode(r) for r in rows]


async def jobs(conn: asyncpg.Connection, kind: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "select id, status, payload, result, error_message from jobs where type = $1"
        " order by created_at, id",
        kind,
    )
    return [_decode(r) for r in rows]


async def outbox(conn: asyncpg.Connection, template: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "select channel, recipient, subject, body from table_booking_outbox"
        " where template_key = $1"
        " order by created_at, id",
        template,
    )
    return [dict(r) for r in rows]


async def counts(conn: asyncpg.Connection) -> dict[str, int]:
    """Rows in the tables a webhook may write to, to show one wrote nothing."""
    out: dict[str, int] = {}
    for table in ("audit_logs", "idempotency_keys", "jobs"):
        out[table] = await conn.fetchval(f"select count(*) from {table}")  # noqa: S608
    return out


def event(
    event_type: str, resource: dict[str, Any], event_id: str = "WH-58D329510W468432D-8HN650336L"
) -> bytes:
    return json.dumps(
        {
            "id": event_id,
            "event_version": "1.0",
            "create_time": "2026-11-24T10:00:05.000Z",
            "resource_type": "capture",
            "event_type": event_type,
            "summary": f"{event_type} event",
            "resource": resource,
        },
        separators=(",", ":"),
    ).encode()


def refund_resource(value: str = DEPOSIT) -> dict[str, Any]:
    return {
        "id": REFUND_ID,
        "status": "COMPLETED",
        "amount": money(value),
        "links": [
            {"href": f"{SANDBOX}/v2/payments/refunds/{REFUND_ID}", "rel": "self"},
            {"href": f"{SANDBOX}/v2/payments/captures/{CAPTURE_ID}", "rel": "up"},
        ],
    }


async def deliver(
    client: httpx.AsyncClient, clock: FakeClock, body: bytes, **kwargs: Any
) -> httpx.Response:
    sent = kwargs.pop("sent", clock.now - timedelta(seconds=20))
    headers = signed_headers(body, sent=sent, **kwargs)
    return await client.post(WEBHOOK, content=body, headers=headers)


def at_hours_before_start(hours: float) -> datetime:
    return START - timedelta(hours=hours)


# Starting to pay -------------------------------------------------------------------------------


class TestStartPayment:
    async def test_create_fills_in_the_approval_link_and_records_the_order(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        menu: dict[str, str],
        paypal: FakePayPal,
        conn: asyncpg.Connection,
    ) -> None:
        made = await book(client, key, menu)

        assert made["status"] == "pending_payment"
        details = made["payment_details"]
        assert details["payment_url"] == APPROVE_URL
        assert details["deposit_amount"] == DEPOSIT
        assert paypal.create.call_count == 1
        request = paypal.create.calls.last.request
        booking_id = made["booking_id"]
        assert request.headers["PayPal-Request-Id"] == f"tb-deposit-{booking_id}-{DEPOSIT}"
        sent = paypal.posted(paypal.create)
        unit = sent["purchase_units"][0]
        assert unit["amount"] == {"currency_code": "GBP", "value": DEPOSIT}
        assert unit["custom_id"] == booking_id
        context = sent["payment_source"]["paypal"]["experience_context"]
        assert context["return_url"] == "https://tb.example/api/table-bookings/payment/return"
        row = await booking_row(conn, booking_id)
        assert row["paypal_deposit_order_id"] == ORDER_ID
        payment = await payment_row(conn, booking_id)
        assert payment["status"] == "pending"
        assert payment["payment_metadata"]["approve_url"] == APPROVE_URL
        assert payment["payment_metadata"]["order_amount"] == DEPOSIT
        [audit] = await audits(conn, "payment.order_created")
        assert audit["resource_id"] == booking_id
        assert audit["new_values"]["amount"] == DEPOSIT

    async def test_starting_twice_reuses_the_open_order(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        menu: dict[str, str],
        paypal: FakePayPal,
    ) -> None:
        made = await book(client, key, menu)
        ref = made["booking_reference"]

        first = await client.post(f"{BASE}/{ref}/payment", headers=guest(made))
        second = await client.post(f"{BASE}/{ref}/payment", headers=key)

        for response in (first, second):
            assert response.status_code == 200, response.text
            data = response.json()["data"]
            assert data["payment_url"] == APPROVE_URL
            assert data["order_id"] == ORDER_ID
            assert (data["amount"], data["currency"]) == (DEPOSIT, "GBP")
            assert data["booking_reference"] == ref
        assert paypal.create.call_count == 1
        assert paypal.get.call_count == 2

    @pytest.mark.parametrize(
        "paypal_answer",
        [
            httpx.Response(503, json=paypal_error("SERVICE_UNAVAILABLE")),
            httpx.Response(422, json=paypal_error("UNPROCESSABLE_ENTITY")),
        ],
        ids=["paypal-down", "paypal-refuses"],
    )
    async def test_a_sunday_lunch_paypal_cannot_take_a_deposit_for_is_not_booked(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        menu: dict[str, str],
        paypal: FakePayPal,
        conn: asyncpg.Connection,
        paypal_answer: httpx.Response,
    ) -> None:
        paypal.create.side_effect = [paypal_answer]
        body = sunday_body(menu)
        customers_before = await conn.fetchval("select count(*) from customers")

        response = await client.post(BASE, json=body, headers=key)

        # Refused before anything is written: no booking held for a deposit nobody can pay.
        assert response.status_code == 503, response.text
        error = response.json()["error"]
        assert error["code"] == "SERVICE_UNAVAILABLE"
        assert "Nothing was booked" in error["message"]
        assert response.headers["Retry-After"] == "300"
        assert paypal.create.call_count == 1
        assert await conn.fetchval("select count(*) from table_bookings") == 0
        assert await conn.fetchval("select count(*) from table_booking_payments") == 0
        assert await conn.fetchval("select count(*) from customers") == customers_before
        assert await conn.fetchval("select count(*) from jobs") == 0
        assert await audits(conn, "table_booking.created") == []

    async def test_the_order_is_made_before_the_booking_and_the_key_counted_once(
        self,
        client: httpx.AsyncClient,
        make_key: Any,
        menu: dict[str, str],
        paypal: FakePayPal,
        conn: asyncpg.Connection,
    ) -> None:
        key = await make_key(rate_limit=5)

        made = await create_booking(client, key, sunday_body(menu))

        # The order names the booking it was made for, and the create recorded it.
        assert paypal.create.call_count == 1
        assert made["payment_details"]["payment_url"] == APPROVE_URL
        sent = paypal.posted(paypal.create)
        assert sent["purchase_units"][0]["custom_id"] == made["booking_id"]
        row = await booking_row(conn, made["booking_id"])
        assert row["paypal_deposit_order_id"] == ORDER_ID

        response = await client.get(f"{BASE}/{made['booking_reference']}", headers=key)
        # One create and one read: 2 of the key's 5 requests.
        assert response.headers["X-RateLimit-Remaining"] == "3"

    async def test_a_refused_create_asks_paypal_nothing(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        menu: dict[str, str],
        paypal: FakePayPal,
        conn: asyncpg.Connection,
    ) -> None:
        body = sunday_body(menu)
        body["party_size"] = 3  # two mains for three guests

        response = await client.post(BASE, json=body, headers=key)

        assert response.status_code == 422, response.text
        assert await conn.fetchval("select count(*) from table_bookings") == 0
        # Refused by the rules before any order is made.
        assert paypal.create.call_count == 0
        assert await audits(conn, "payment.order_created") == []

    async def test_an_already_paid_booking_is_409(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        menu: dict[str, str],
        paypal: FakePayPal,
    ) -> None:
        made = await paid(client, key, menu)

        response = await client.post(
            f"{BASE}/{made['booking_reference']}/payment", headers=guest(made)
        )

        assert response.status_code == 409, response.text
        error = envelope_error(response)
        assert error["code"] == "BOOKING_NOT_MODIFIABLE"
        assert error["details"]["reason"] == "ALREADY_PAID"
        assert paypal.create.call_count == 1

    async def test_an_expired_hold_is_409_and_says_so(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        menu: dict[str, str],
        paypal: FakePayPal,
        clock: FakeClock,
    ) -> None:
        made = await book(client, key, menu)
        clock.advance(minutes=31)

        response = await client.post(
            f"{BASE}/{made['booking_reference']}/payment", headers=guest(made)
        )

        assert response.status_code == 409, response.text
        error = envelope_error(response)
        assert error["code"] == "BOOKING_NOT_MODIFIABLE"
        assert error["details"]["reason"] == "HOLD_EXPIRED"
        assert "ran out" in error["message"]
        assert (paypal.create.call_count, paypal.get.call_count) == (1, 0)

    async def test_a_released_booking_takes_no_payment(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        menu: dict[str, str],
        paypal: FakePayPal,
        clock: FakeClock,
    ) -> None:
        made = await book(client, key, menu)
        clock.advance(minutes=31)
        await expire_holds(client)

        response = await client.post(
            f"{BASE}/{made['booking_reference']}/payment", headers=guest(made)
        )

        assert response.status_code == 409, response.text
        error = envelope_error(response)
        assert error["code"] == "BOOKING_NOT_MODIFIABLE"
        assert error["details"]["reason"] == "NOT_PAYABLE"


# The return from PayPal -----------------------------------------------------------------------


class TestReturn:
    async def test_happy_path_confirms_and_the_worker_sends_the_confirmation(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        menu: dict[str, str],
        paypal: FakePayPal,
        conn: asyncpg.Connection,
        clock: FakeClock,
    ) -> None:
        made = await book(client, key, menu)
        booking_id = made["booking_id"]
        clock.advance(minutes=3)

        response = await return_from_paypal(client)

        assert response.status_code == 200, response.text
        assert response.json() == {
            "success": True,
            "data": {
                "booking_reference": made["booking_reference"],
                "outcome": "confirmed",
                "confirmed": True,
            },
        }
        request = paypal.capture.calls.last.request
        assert request.headers["PayPal-Request-Id"] == f"tb-capture-{ORDER_ID}"
        row = await booking_row(conn, booking_id)
        assert (row["status"], row["payment_status"]) == ("confirmed", "completed")
        assert row["confirmed_at"] == clock.now
        assert row["paypal_deposit_capture_id"] == CAPTURE_ID
        assert row["hold_expires_at"] is None
        payment = await payment_row(conn, booking_id)
        assert payment["status"] == "completed"
        assert payment["transaction_id"] == CAPTURE_ID
        assert payment["paid_at"] == clock.now
        assert payment["payment_metadata"]["capture_id"] == CAPTURE_ID
        [audit] = await audits(conn, "payment.captured")
        assert audit["resource_id"] == booking_id
        assert audit["new_values"] == {
            "capture_id": CAPTURE_ID,
            "amount": DEPOSIT,
            "currency": "GBP",
        }
        [notify] = [
            j
            for j in await jobs(conn, "table_booking_notify")
            if j["payload"]["event"] == "confirmed"
        ]
        assert notify["payload"]["table_booking_id"] == booking_id

        await run_worker(client)

        texts = await outbox(conn, "booking_confirmation_sunday_lunch")
        sms = [t for t in texts if t["channel"] == "sms"]
        assert [t["recipient"] for t in sms] == ["+447911123456"]
        assert "£10.00 deposit paid" in sms[0]["body"]
        assert made["booking_reference"] in sms[0]["body"]
        emails = [t for t in texts if t["channel"] == "email"]
        assert [e["recipient"] for e in emails] == [GUEST_EMAIL]
        assert "£10.00 deposit paid" in emails[0]["body"]
        # No PayPal account details anywhere in what was stored.
        for table in ("table_booking_payments", "table_bookings", "audit_logs", "jobs"):
            query = f"select coalesce(string_agg(t::text, ''), '') from {table} t"  # noqa: S608
            dump = await conn.fetchval(query)
            assert PAYER_EMAIL not in dump, table
            assert "QYR5Z8XDVJNXQ" not in dump, table

    async def test_a_browser_is_redirected_to_the_success_page(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        menu: dict[str, str],
        paypal: FakePayPal,
    ) -> None:
        made = await book(client, key, menu)

        response = await return_from_paypal(client, json_wanted=False)

        assert response.status_code == 303
        ref = made["booking_reference"]
        assert response.headers["Location"] == f"{SUCCESS_URL}&ref={ref}&outcome=confirmed"

    @pytest.mark.parametrize(
        ("value", "currency"), [("1.00", "GBP"), ("10.01", "GBP"), (DEPOSIT, "EUR")]
    )
    async def test_a_capture_that_is_not_the_deposit_confirms_nothing_and_is_audited(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        menu: dict[str, str],
        paypal: FakePayPal,
        conn: asyncpg.Connection,
        value: str,
        currency: str,
    ) -> None:
        made = await book(client, key, menu)
        paypal.capture.respond(201, json=captured(value, currency))

        response = await return_from_paypal(client)

        assert response.status_code == 200, response.text
        assert response.json()["data"] == {
            "booking_reference": made["booking_reference"],
            "outcome": "mismatch",
            "confirmed": False,
        }
        row = await booking_row(conn, made["booking_id"])
        assert (row["status"], row["payment_status"]) == ("pending_payment", "pending")
        assert row["confirmed_at"] is None
        assert row["paypal_deposit_capture_id"] is None
        payment = await payment_row(conn, made["booking_id"])
        assert (payment["status"], payment["paid_at"]) == ("pending", None)
        [audit] = await audits(conn, "payment.capture_amount_mismatch")
        assert audit["operation_status"] == "failure"
        assert audit["resource_id"] == made["booking_id"]
        assert audit["new_values"]["amount"] == value
        assert audit["new_values"]["currency"] == currency
        assert audit["additional_info"]["expected"] == DEPOSIT
        assert await audits(conn, "payment.captured") == []
        notified = [j["payload"]["event"] for j in await jobs(conn, "table_booking_notify")]
        assert "confirmed" not in notified

        browser = await return_from_paypal(client, json_wanted=False)
        assert browser.status_code == 303
        assert browser.headers["Location"].startswith(f"{FAILURE_URL}?")
        assert "outcome=mismatch" in browser.headers["Location"]

    @pytest.mark.parametrize(
        "failure",
        [
            httpx.Response(503, json=paypal_error("SERVICE_UNAVAILABLE")),
            httpx.Response(500, json=paypal_error("INTERNAL_SERVER_ERROR")),
            httpx.ReadTimeout("timed out"),
            httpx.ConnectTimeout("timed out"),
        ],
        ids=["503", "500", "read-timeout", "connect-timeout"],
    )
    async def test_paypal_failing_on_capture_leaves_the_booking_pending_and_a_retry_works(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        menu: dict[str, str],
        paypal: FakePayPal,
        conn: asyncpg.Connection,
        failure: httpx.Response | Exception,
    ) -> None:
        made = await book(client, key, menu)
        paypal.capture.side_effect = [
            failure,
            failure,
            httpx.Response(201, json=captured()),
        ]

        as_json = await return_from_paypal(client)
        assert as_json.status_code == 503, as_json.text
        assert envelope_error(as_json)["code"] == "SERVICE_UNAVAILABLE"
        browser = await return_from_paypal(client, json_wanted=False)
        assert browser.status_code == 303
        assert browser.headers["Location"] == f"{FAILURE_URL}?reason=service_unavailable"
        row = await booking_row(conn, made["booking_id"])
        assert (row["status"], row["payment_status"]) == ("pending_payment", "pending")
        assert (await payment_row(conn, made["booking_id"]))["status"] == "pending"
        assert await audits(conn, "payment.captured") == []

        retried = await return_from_paypal(client)

        assert retried.status_code == 200, retried.text
        assert retried.json()["data"]["outcome"] == "confirmed"
        assert (await booking_row(conn, made["booking_id"]))["status"] == "confirmed"
        ids = {call.request.headers["PayPal-Request-Id"] for call in paypal.capture.calls}
        assert ids == {f"tb-capture-{ORDER_ID}"}
        assert paypal.capture.call_count == 3

    async def test_a_pending_capture_waits_for_the_webhook(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        menu: dict[str, str],
        paypal: FakePayPal,
        conn: asyncpg.Connection,
        clock: FakeClock,
    ) -> None:
        made = await book(client, key, menu)
        paypal.capture.respond(201, json=captured(status="PENDING"))

        response = await return_from_paypal(client)

        assert response.json()["data"]["outcome"] == "pending"
        assert response.json()["data"]["confirmed"] is False
        assert (await booking_row(conn, made["booking_id"]))["status"] == "pending_payment"
        payment = await payment_row(conn, made["booking_id"])
        assert payment["status"] == "pending"
        assert payment["payment_metadata"]["capture_status"] == "PENDING"

        clock.advance(minutes=2)
        body = event("PAYMENT.CAPTURE.COMPLETED", completed(made["booking_id"]))
        assert (await deliver(client, clock, body)).json()["data"]["outcome"] == "confirmed"
        assert (await booking_row(conn, made["booking_id"]))["status"] == "confirmed"

    async def test_a_declined_capture_is_409_and_changes_nothing(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        menu: dict[str, str],
        paypal: FakePayPal,
        conn: asyncpg.Connection,
    ) -> None:
        made = await book(client, key, menu)
        paypal.capture.respond(
            422, json=paypal_error("UNPROCESSABLE_ENTITY", "INSTRUMENT_DECLINED")
        )

        response = await return_from_paypal(client)

        assert response.status_code == 409, response.text
        error = envelope_error(response)
        assert error["code"] == "BOOKING_NOT_MODIFIABLE"
        assert error["details"] == {"reason": "INSTRUMENT_DECLINED"}
        assert (await booking_row(conn, made["booking_id"]))["status"] == "pending_payment"

    async def test_an_unknown_order_is_404(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        menu: dict[str, str],
        paypal: FakePayPal,
    ) -> None:
        await book(client, key, menu)

        response = await return_from_paypal(client, order_id="9XX99999XX999999X")

        assert response.status_code == 404, response.text
        assert envelope_error(response)["code"] == "NOT_FOUND"
        browser = await return_from_paypal(client, order_id="9XX99999XX999999X", json_wanted=False)
        assert browser.status_code == 303
        assert browser.headers["Location"] == f"{FAILURE_URL}?reason=not_found"
        assert paypal.capture.call_count == 0

    async def test_returning_twice_confirms_once(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        menu: dict[str, str],
        paypal: FakePayPal,
        conn: asyncpg.Connection,
    ) -> None:
        made = await paid(client, key, menu)

        again = await return_from_paypal(client, json_wanted=False)

        assert again.status_code == 303
        ref = made["booking_reference"]
        assert again.headers["Location"] == (f"{SUCCESS_URL}&ref={ref}&outcome=already_confirmed")
        assert len(await audits(conn, "payment.captured")) == 1
        notified = [j["payload"]["event"] for j in await jobs(conn, "table_booking_notify")]
        assert notified.count("confirmed") == 1


# Webhooks -----------------------------------------------------------------------------------


def completed(booking_id: str, value: str = DEPOSIT) -> dict[str, Any]:
    return capture_body(value, booking_id=booking_id)


class TestWebhook:
    async def test_capture_completed_confirms_a_pending_booking_once(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        menu: dict[str, str],
        paypal: FakePayPal,
        conn: asyncpg.Connection,
        clock: FakeClock,
    ) -> None:
        made = await book(client, key, menu)
        body = event("PAYMENT.CAPTURE.COMPLETED", completed(made["booking_id"]))

        first = await deliver(client, clock, body)
        replay = await deliver(client, clock, body)

        assert first.status_code == 200, first.text
        assert first.json()["data"] == {"received": True, "outcome": "confirmed"}
        assert replay.status_code == 200, replay.text
        assert replay.json()["data"] == {"received": True, "duplicate": True}
        row = await booking_row(conn, made["booking_id"])
        assert (row["status"], row["paypal_deposit_capture_id"]) == ("confirmed", CAPTURE_ID)
        [audit] = await audits(conn, "payment.captured")
        assert audit["additional_info"]["source"] == "webhook"
        logs = await webhook_logs(conn)
        assert [log["status"] for log in logs] == ["confirmed", "duplicate"]
        assert logs[0]["params"]["event_type"] == "PAYMENT.CAPTURE.COMPLETED"
        assert logs[0]["headers"]["paypal-transmission-id"] == TRANSMISSION_ID
        assert "paypal-transmission-sig" not in logs[0]["headers"]
        notified = [j["payload"]["event"] for j in await jobs(conn, "table_booking_notify")]
        assert notified.count("confirmed") == 1
        # The certificate was fetched once, from PayPal.
        assert paypal.cert.call_count == 1

    async def test_a_duplicate_webhook_after_the_return_changes_nothing(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        menu: dict[str, str],
        paypal: FakePayPal,
        conn: asyncpg.Connection,
        clock: FakeClock,
    ) -> None:
        made = await paid(client, key, menu)
        before = await booking_row(conn, made["booking_id"])
        payment_before = await payment_row(conn, made["booking_id"])
        body = event("PAYMENT.CAPTURE.COMPLETED", completed(made["booking_id"]))
        clock.advance(minutes=1)

        first = await deliver(client, clock, body)
        second = await deliver(client, clock, body)

        assert first.json()["data"]["outcome"] == "already_confirmed"
        assert second.json()["data"]["duplicate"] is True
        assert await booking_row(conn, made["booking_id"]) == before
        assert await payment_row(conn, made["booking_id"]) == payment_before
        assert len(await audits(conn, "payment.captured")) == 1

    async def test_refunded_before_completed_is_503_then_recorded_once_redelivered(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        menu: dict[str, str],
        paypal: FakePayPal,
        conn: asyncpg.Connection,
        clock: FakeClock,
    ) -> None:
        made = await book(client, key, menu)
        refunded = event("PAYMENT.CAPTURE.REFUNDED", refund_resource(), "WH-REFUND-1")
        complete = event(
            "PAYMENT.CAPTURE.COMPLETED", completed(made["booking_id"]), "WH-COMPLETE-1"
        )

        early = await deliver(client, clock, refunded)

        assert early.status_code == 503, early.text
        assert envelope_error(early)["code"] == "SERVICE_UNAVAILABLE"
        claimed = await conn.fetchval(
            "select count(*) from idempotency_keys where key like 'webhook:paypal:%'"
        )
        assert claimed == 0
        payment = await payment_row(conn, made["booking_id"])
        assert (payment["status"], payment["refund_amount"]) == ("pending", None)
        [log] = await webhook_logs(conn)
        assert log["status"] == "error"
        assert CAPTURE_ID in log["error_message"]

        clock.advance(minutes=1)
        assert (await deliver(client, clock, complete)).status_code == 200
        clock.advance(minutes=1)
        redelivered = await deliver(client, clock, refunded)

        assert redelivered.status_code == 200, redelivered.text
        assert redelivered.json()["data"] == {"received": True, "outcome": "recorded"}
        payment = await payment_row(conn, made["booking_id"])
        assert payment["status"] == "refunded"
        assert str(payment["refund_amount"]) == DEPOSIT
        assert payment["refund_transaction_id"] == REFUND_ID
        assert payment["refunded_at"] == clock.now
        assert (await booking_row(conn, made["booking_id"]))["payment_status"] == "refunded"
        [audit] = await audits(conn, "payment.refunded")
        assert audit["additional_info"]["source"] == "webhook"
        statuses = [log["status"] for log in await webhook_logs(conn)]
        assert statuses == ["error", "confirmed", "recorded"]

    async def test_capture_denied_flags_the_payment(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        menu: dict[str, str],
        paypal: FakePayPal,
        conn: asyncpg.Connection,
        clock: FakeClock,
    ) -> None:
        made = await book(client, key, menu)
        resource = capture_body(status="DECLINED", booking_id=made["booking_id"])

        response = await deliver(client, clock, event("PAYMENT.CAPTURE.DENIED", resource))

        assert response.status_code == 200, response.text
        assert response.json()["data"]["outcome"] == "flagged"
        payment = await payment_row(conn, made["booking_id"])
        assert payment["payment_metadata"]["flag"] == "PAYMENT.CAPTURE.DENIED"
        assert payment["status"] == "failed"
        row = await booking_row(conn, made["booking_id"])
        assert row["status"] == "pending_payment"
        assert "PayPal denied" in row["internal_notes"]
        [audit] = await audits(conn, "payment.capture_denied")
        assert audit["operation_status"] == "failure"
        assert audit["resource_id"] == made["booking_id"]
        assert audit["additional_info"]["flagged"] is True
        assert [log["status"] for log in await webhook_logs(conn)] == ["flagged"]

    async def test_capture_reversed_flags_a_confirmed_booking(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        menu: dict[str, str],
        paypal: FakePayPal,
        conn: asyncpg.Connection,
        clock: FakeClock,
    ) -> None:
        made = await paid(client, key, menu)
        resource = {"id": CAPTURE_ID, "status": "REVERSED", "amount": money()}

        response = await deliver(client, clock, event("PAYMENT.CAPTURE.REVERSED", resource))

        assert response.json()["data"]["outcome"] == "flagged"
        payment = await payment_row(conn, made["booking_id"])
        assert payment["payment_metadata"]["flag"] == "PAYMENT.CAPTURE.REVERSED"
        assert payment["status"] == "completed"
        [audit] = await audits(conn, "payment.capture_reversed")
        assert audit["operation_status"] == "failure"

    async def test_an_unknown_event_is_acknowledged_and_logged_as_ignored(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        menu: dict[str, str],
        paypal: FakePayPal,
        conn: asyncpg.Connection,
        clock: FakeClock,
    ) -> None:
        made = await book(client, key, menu)
        before = await booking_row(conn, made["booking_id"])

        response = await deliver(
            client, clock, event("BILLING.SUBSCRIPTION.CREATED", {"id": "I-BW452GLLEP1G"})
        )

        assert response.status_code == 200, response.text
        assert response.json()["data"] == {"received": True, "outcome": "ignored"}
        [log] = await webhook_logs(conn)
        assert log["status"] == "ignored"
        assert log["params"]["event_type"] == "BILLING.SUBSCRIPTION.CREATED"
        assert await booking_row(conn, made["booking_id"]) == before

    @pytest.mark.parametrize(
        ("how", "reason"),
        [
            ("tampered", "bad_signature"),
            ("another_webhook", "bad_signature"),
            ("another_key", "bad_signature"),
            ("stale", "stale"),
            ("future", "stale"),
        ],
    )
    async def test_a_bad_or_stale_signature_is_401_and_changes_nothing(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        menu: dict[str, str],
        paypal: FakePayPal,
        conn: asyncpg.Connection,
        clock: FakeClock,
        how: str,
        reason: str,
    ) -> None:
        made = await book(client, key, menu)
        body = event("PAYMENT.CAPTURE.COMPLETED", completed(made["booking_id"]))
        before = (await booking_row(conn, made["booking_id"]), await counts(conn))
        payment_before = await payment_row(conn, made["booking_id"])
        headers = signed_headers(body, sent=clock.now - timedelta(seconds=20))
        if how == "tampered":
            body = body.replace(b'"10.00"', b'"10.01"')
        elif how == "another_webhook":
            headers = signed_headers(body, sent=clock.now, webhook_id="WH-OTHER")
        elif how == "another_key":
            headers = signed_headers(body, sent=clock.now, key="forger")
        elif how == "stale":
            headers = signed_headers(body, sent=clock.now - timedelta(minutes=5, seconds=1))
        else:
            headers = signed_headers(body, sent=clock.now + timedelta(minutes=6))

        response = await client.post(WEBHOOK, content=body, headers=headers)

        assert response.status_code == 401, response.text
        assert envelope_error(response)["code"] == "UNAUTHORIZED"
        [log] = await webhook_logs(conn)
        assert (log["status"], log["error_message"]) == ("signature_failed", reason)
        assert (await booking_row(conn, made["booking_id"]), await counts(conn)) == before
        assert await payment_row(conn, made["booking_id"]) == payment_before

    async def test_a_transmission_within_five_minutes_is_accepted(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        menu: dict[str, str],
        paypal: FakePayPal,
        clock: FakeClock,
    ) -> None:
        made = await book(client, key, menu)
        body = event("PAYMENT.CAPTURE.COMPLETED", completed(made["booking_id"]))

        response = await deliver(client, clock, body, sent=clock.now - timedelta(minutes=4))

        assert response.status_code == 200, response.text

    async def test_no_paypal_account_details_are_stored_from_a_webhook(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        menu: dict[str, str],
        paypal: FakePayPal,
        conn: asyncpg.Connection,
        clock: FakeClock,
    ) -> None:
        await book(client, key, menu)
        body = event("CHECKOUT.ORDER.APPROVED", order_body("APPROVED"), "WH-APPROVED-1")

        response = await deliver(client, clock, body)

        assert response.status_code == 200, response.text
        [log] = await webhook_logs(conn)
        assert log["status"] == "ignored"
        dump = await conn.fetchval("select string_agg(w::text, '') from webhook_logs w")
        assert PAYER_EMAIL not in dump
        assert "QYR5Z8XDVJNXQ" not in dump


# Refunds ------------------------------------------------------------------------------------


class TestRefunds:
    @pytest.mark.parametrize(
        ("hours", "who", "refund", "status"),
        [
            (49, "guest", "10.00", "refunded"),
            (30, "guest", "5.00", "partial_refund"),
            (30, "staff", "5.00", "partial_refund"),
            (10, "guest", None, "completed"),
        ],
    )
    async def test_cancelling_a_paid_booking_refunds_what_the_policy_allows(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        menu: dict[str, str],
        paypal: FakePayPal,
        conn: asyncpg.Connection,
        clock: FakeClock,
        make_staff: Any,
        hours: int,
        who: str,
        refund: str | None,
        status: str,
    ) -> None:
        made = await paid(client, key, menu)
        booking_id = made["booking_id"]
        await run_worker(client)  # the confirmation goes; nothing to refund yet
        assert paypal.refund.call_count == 0
        clock.set(at_hours_before_start(hours))
        headers = guest(made) if who == "guest" else await make_staff("manager")

        response = await cancel(client, made["booking_reference"], headers)

        assert response.status_code == 200, response.text
        assert response.json()["data"]["refund"] == {
            "eligible": refund is not None,
            "percentage": {49: 100, 30: 50, 10: 0}[hours],
            "amount": refund or "0.00",
            "paid_amount": DEPOSIT,
            "currency": "GBP",
        }
        payment = await payment_row(conn, booking_id)
        assert payment["payment_metadata"]["refund_due"] == (refund or "0.00")
        await run_worker(client)

        payment = await payment_row(conn, booking_id)
        assert payment["status"] == status
        refund_jobs = await jobs(conn, "table_booking_refund")
        if refund is None:
            assert paypal.refund.call_count == 0
            assert refund_jobs == []
            assert payment["refund_amount"] is None
            assert payment["refunded_at"] is None
            assert await audits(conn, "payment.refunded") == []
            message = "the deposit cannot be refunded"
        else:
            assert paypal.refund.call_count == 1
            request = paypal.refund.calls.last.request
            assert request.headers["PayPal-Request-Id"] == f"refund-{booking_id}-cancellation"
            assert paypal.posted(paypal.refund)["amount"] == {
                "value": refund,
                "currency_code": "GBP",
            }
            [job] = refund_jobs
            assert job["status"] == "completed"
            assert str(payment["refund_amount"]) == refund
            assert payment["refund_transaction_id"] == REFUND_ID
            assert payment["refunded_at"] == clock.now
            assert (await booking_row(conn, booking_id))["payment_status"] == status
            [audit] = await audits(conn, "payment.refunded")
            assert audit["resource_id"] == booking_id
            assert audit["new_values"]["amount"] == refund
            message = (
                f"A refund of £{refund} has been sent to the card or account you paid with; "
                "it usually arrives within 3-5 working days."
            )
        emails = [e for e in await outbox(conn, "cancellation") if e["channel"] == "email"]
        assert [e["recipient"] for e in emails] == [GUEST_EMAIL]
        assert message in emails[0]["body"]

    async def test_the_refund_is_sent_once_even_if_the_worker_runs_twice(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        menu: dict[str, str],
        paypal: FakePayPal,
        conn: asyncpg.Connection,
        clock: FakeClock,
    ) -> None:
        made = await paid(client, key, menu)
        clock.set(at_hours_before_start(49))
        assert (await cancel(client, made["booking_reference"], guest(made))).status_code == 200

        await run_worker(client)
        await run_worker(client)
        assert paypal.refund.call_count == 1

        # A worker whose lease ran out after PayPal answered runs the job again: the same
        # PayPal-Request-Id goes (PayPal answers with the same refund) and nothing is counted twice.
        await conn.execute(
            "update jobs set status = 'pending', completed_at = null, processing_token = null,"
            " scheduled_for = now() - interval '1 second' where type = 'table_booking_refund'"
        )
        await run_worker(client)

        assert paypal.refund.call_count == 2
        request_ids = {c.request.headers["PayPal-Request-Id"] for c in paypal.refund.calls}
        assert request_ids == {f"refund-{made['booking_id']}-cancellation"}
        payment = await payment_row(conn, made["booking_id"])
        assert (payment["status"], str(payment["refund_amount"])) == ("refunded", DEPOSIT)
        assert len(await audits(conn, "payment.refunded")) == 1
        assert len(await jobs(conn, "table_booking_refund")) == 1

        # PayPal's webhook for the same refund records nothing again.
        webhook = await deliver(client, clock, event("PAYMENT.CAPTURE.REFUNDED", refund_resource()))
        assert webhook.status_code == 200, webhook.text
        payment = await payment_row(conn, made["booking_id"])
        assert (payment["status"], str(payment["refund_amount"])) == ("refunded", DEPOSIT)
        assert len(await audits(conn, "payment.refunded")) == 1

    async def test_a_refund_paypal_could_not_take_is_retried_with_the_same_request_id(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        menu: dict[str, str],
        paypal: FakePayPal,
        conn: asyncpg.Connection,
        clock: FakeClock,
    ) -> None:
        made = await paid(client, key, menu)
        clock.set(at_hours_before_start(49))
        assert (await cancel(client, made["booking_reference"], guest(made))).status_code == 200
        answers = iter([httpx.Response(503, json=paypal_error("SERVICE_UNAVAILABLE"))])
        paypal.refund.side_effect = lambda request: next(answers, None) or refund_answer(request)

        await run_worker(client)

        [job] = await jobs(conn, "table_booking_refund")
        assert job["status"] == "pending"
        assert "PayPal 503" in job["error_message"]
        assert (await payment_row(conn, made["booking_id"]))["status"] == "completed"
        await conn.execute(
            "update jobs set scheduled_for = now() - interval '1 second' where status = 'pending'"
        )
        await run_worker(client)

        assert paypal.refund.call_count == 2
        request_ids = {c.request.headers["PayPal-Request-Id"] for c in paypal.refund.calls}
        assert request_ids == {f"refund-{made['booking_id']}-cancellation"}
        payment = await payment_row(conn, made["booking_id"])
        assert (payment["status"], str(payment["refund_amount"])) == ("refunded", DEPOSIT)

    async def test_a_staff_override_is_what_paypal_is_asked_to_refund(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        menu: dict[str, str],
        paypal: FakePayPal,
        conn: asyncpg.Connection,
        clock: FakeClock,
        make_staff: Any,
    ) -> None:
        made = await paid(client, key, menu)
        clock.set(at_hours_before_start(10))  # the policy refunds nothing now
        # The pub gives table_bookings.refund to super_admin only.
        super_admin = await make_staff("super_admin")

        response = await cancel(
            client, made["booking_reference"], super_admin, {"refund_amount": "3.00"}
        )

        assert response.status_code == 200, response.text
        assert response.json()["data"]["refund"]["amount"] == "3.00"
        [override] = await audits(conn, "payment.refund_override")
        assert override["old_values"] == {"refund_due": "0.00"}
        assert override["new_values"] == {"refund_due": "3.00"}
        assert override["additional_info"]["actor"]["kind"] == "staff"
        await run_worker(client)
        assert paypal.refund.call_count == 1
        assert paypal.posted(paypal.refund)["amount"] == {"value": "3.00", "currency_code": "GBP"}
        payment = await payment_row(conn, made["booking_id"])
        assert (payment["status"], str(payment["refund_amount"])) == ("partial_refund", "3.00")

    async def test_an_override_above_what_was_paid_is_refused(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        menu: dict[str, str],
        paypal: FakePayPal,
        conn: asyncpg.Connection,
        make_staff: Any,
    ) -> None:
        made = await paid(client, key, menu)

        response = await cancel(
            client,
            made["booking_reference"],
            await make_staff("super_admin"),
            {"refund_amount": "10.01"},
        )

        assert response.status_code == 400, response.text
        assert envelope_error(response)["code"] == "VALIDATION_ERROR"
        assert (await booking_row(conn, made["booking_id"]))["status"] == "confirmed"
        assert await jobs(conn, "table_booking_refund") == []

    async def test_a_guest_a_key_or_staff_without_the_refund_permission_cannot_set_the_refund(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        menu: dict[str, str],
        paypal: FakePayPal,
        conn: asyncpg.Connection,
        make_staff: Any,
    ) -> None:
        made = await paid(client, key, menu)
        ref = made["booking_reference"]

        staff_roles = (await make_staff("staff"), await make_staff("manager"))
        for headers in (guest(made), key, *staff_roles):
            response = await cancel(client, ref, headers, {"refund_amount": "10.00"})
            assert response.status_code == 403, response.text
            assert envelope_error(response)["code"] == "FORBIDDEN"

        assert (await booking_row(conn, made["booking_id"]))["status"] == "confirmed"
        assert await audits(conn, "payment.refund_override") == []
        assert await jobs(conn, "table_booking_refund") == []

    async def test_cancelling_after_a_partial_refund_refunds_the_rest_the_policy_allows(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        menu: dict[str, str],
        paypal: FakePayPal,
        conn: asyncpg.Connection,
        clock: FakeClock,
    ) -> None:
        made = await paid(client, key, menu)
        # The pub refunded £5.00 at PayPal; PayPal tells us by webhook.
        refunded = event("PAYMENT.CAPTURE.REFUNDED", refund_resource("5.00"), "WH-PARTIAL-1")
        assert (await deliver(client, clock, refunded)).json()["data"]["outcome"] == "recorded"
        assert (await payment_row(conn, made["booking_id"]))["status"] == "partial_refund"
        detail = await client.get(f"{BASE}/{made['booking_reference']}", headers=key)
        assert detail.json()["data"]["payment"]["paid_amount"] == DEPOSIT
        clock.set(at_hours_before_start(49))  # the policy refunds 100%

        response = await cancel(client, made["booking_reference"], guest(made))
        await run_worker(client)

        assert response.status_code == 200, response.text
        assert response.json()["data"]["refund"]["paid_amount"] == DEPOSIT
        emails = [e for e in await outbox(conn, "cancellation") if e["channel"] == "email"]
        assert "No payment was taken." not in emails[0]["body"]
        assert paypal.refund.call_count == 1
        assert paypal.posted(paypal.refund)["amount"]["value"] == "5.00"

    async def test_cancelling_an_unpaid_booking_refunds_nothing(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        menu: dict[str, str],
        paypal: FakePayPal,
        conn: asyncpg.Connection,
    ) -> None:
        made = await book(client, key, menu)

        response = await cancel(client, made["booking_reference"], guest(made))

        assert response.status_code == 200, response.text
        assert response.json()["data"]["refund"]["paid_amount"] == "0.00"
        await run_worker(client)
        assert paypal.refund.call_count == 0
        assert await jobs(conn, "table_booking_refund") == []
        emails = [e for e in await outbox(conn, "cancellation") if e["channel"] == "email"]
        assert "No payment was taken." in emails[0]["body"]


class TestRefundsThatCannotBeMade:
    """Issue 18, item 10: money that is not on its way is never promised, and staff hear of a
    refund that cannot be made (an alert, an audit row, a note on the booking)."""

    async def test_paypal_refusing_the_refund_reaches_staff_and_the_guest_is_told_the_truth(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        menu: dict[str, str],
        paypal: FakePayPal,
        conn: asyncpg.Connection,
        clock: FakeClock,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        made = await paid(client, key, menu)
        await run_worker(client)
        clock.set(at_hours_before_start(49))
        paypal.refund.side_effect = None
        paypal.refund.respond(422, json=paypal_error("UNPROCESSABLE_ENTITY", "CAPTURE_DISPUTED"))
        assert (await cancel(client, made["booking_reference"], guest(made))).status_code == 200

        with caplog.at_level("ERROR", logger="app.worker"):
            await run_worker(client)

        [job] = await jobs(conn, "table_booking_refund")
        assert job["status"] == "failed"
        assert any("payment.refund.failed" in r.getMessage() for r in caplog.records)
        [audit] = await audits(conn, "payment.refund_failed")
        assert audit["resource_id"] == made["booking_id"]
        assert audit["operation_status"] == "failure"
        assert audit["new_values"] == {"refund_due": DEPOSIT}
        assert "PayPal 422" in audit["error_message"]
        row = await booking_row(conn, made["booking_id"])
        assert "the refund of £10.00 could not be made" in row["internal_notes"]
        [alert] = await outbox(conn, "staff_refund_failed")
        assert alert["recipient"] == "manager@the-anchor.pub"
        assert alert["subject"].startswith(f"REFUND NOT MADE: {made['booking_reference']}")
        assert "The refund of £10.00 for this cancelled booking could not be made" in alert["body"]
        assert f"Email: {GUEST_EMAIL}" in alert["body"]
        [email] = [e for e in await outbox(conn, "cancellation") if e["channel"] == "email"]
        assert "A refund of £10.00 is due to you; our team will contact you" in email["body"]
        assert "3-5 working days" not in email["body"]
        # The cancellation already said so: no second message to the guest.
        assert await outbox(conn, "refund_problem") == []

    async def test_a_refund_paypal_keeps_failing_is_reported_to_the_guest_who_was_told_it_was_asked(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        menu: dict[str, str],
        paypal: FakePayPal,
        conn: asyncpg.Connection,
        clock: FakeClock,
    ) -> None:
        made = await paid(client, key, menu)
        await run_worker(client)
        clock.set(at_hours_before_start(49))
        paypal.refund.side_effect = None
        paypal.refund.respond(503, json=paypal_error("SERVICE_UNAVAILABLE"))
        assert (await cancel(client, made["booking_reference"], guest(made))).status_code == 200

        await run_worker(client)  # PayPal 503: the refund waits for its retry

        [email] = [e for e in await outbox(conn, "cancellation") if e["channel"] == "email"]
        assert "We have asked PayPal to refund £10.00" in email["body"]
        assert await audits(conn, "payment.refund_failed") == []
        await conn.execute(
            "update jobs set attempts = max_attempts - 1,"
            " scheduled_for = now() - interval '1 second'"
            " where type = 'table_booking_refund'"
        )
        await run_worker(client)

        [job] = await jobs(conn, "table_booking_refund")
        assert job["status"] == "failed"
        assert len(await audits(conn, "payment.refund_failed")) == 1
        assert len(await outbox(conn, "staff_refund_failed")) == 1
        problem = await outbox(conn, "refund_problem")
        assert sorted(p["channel"] for p in problem) == ["email", "sms"]
        for message in problem:
            assert "we could not send the refund of £10.00" in message["body"]
            assert "Our team will contact you" in message["body"]

    async def test_a_booking_paid_without_a_capture_is_not_promised_a_refund(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        menu: dict[str, str],
        paypal: FakePayPal,
        conn: asyncpg.Connection,
    ) -> None:
        made = await book(client, key, menu)
        # Paid, but not through a PayPal capture (recorded by hand): PayPal cannot refund it.
        await conn.execute(
            "update table_booking_payments set status = 'completed', paid_at = now()"
            " where booking_id = $1::uuid",
            made["booking_id"],
        )
        await conn.execute(
            "update table_bookings set status = 'confirmed', payment_status = 'completed',"
            " hold_expires_at = null where id = $1::uuid",
            made["booking_id"],
        )

        response = await cancel(client, made["booking_reference"], guest(made))
        await run_worker(client)

        assert response.json()["data"]["refund"]["amount"] == DEPOSIT
        assert await jobs(conn, "table_booking_refund") == []
        [audit] = await audits(conn, "payment.refund_failed")
        assert audit["error_message"] == "no PayPal capture to refund"
        [alert] = await outbox(conn, "staff_refund_failed")
        assert "£10.00" in alert["body"]
        texts = [e for e in await outbox(conn, "cancellation") if e["channel"] == "sms"]
        assert "A refund of £10.00 is due to you; our team will contact you" in texts[0]["body"]
        assert paypal.refund.call_count == 0


# Holds that expire ----------------------------------------------------------------------------


async def covers_free(conn: asyncpg.Connection, booking_id: str, now: datetime) -> int:
    row = await booking_row(conn, booking_id)
    free: int = await conn.fetchval(
        "select table_booking_covers_free($1, $2, $3, $4, $5, $6)",
        row["booking_date"],
        row["booking_time"],
        row["start_datetime"],
        row["duration_minutes"],
        row["booking_type"],
        now,
    )
    return free


class TestHoldExpiry:
    async def test_the_cron_releases_unpaid_holds_and_tells_the_guest(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        menu: dict[str, str],
        paypal: FakePayPal,
        conn: asyncpg.Connection,
        clock: FakeClock,
    ) -> None:
        made = await book(client, key, menu)
        booking_id = made["booking_id"]
        held = await covers_free(conn, booking_id, clock.now)
        clock.advance(minutes=29)
        assert await expire_holds(client) == {"cancelled": 0}
        clock.advance(minutes=2)

        assert await expire_holds(client) == {"cancelled": 1}
        assert await expire_holds(client) == {"cancelled": 0}

        row = await booking_row(conn, booking_id)
        assert row["status"] == "cancelled"
        assert row["cancellation_reason"] == "payment_hold_expired"
        assert row["cancelled_at"] == clock.now
        assert await covers_free(conn, booking_id, clock.now) == held + 2
        payment = await payment_row(conn, booking_id)
        assert payment["status"] == "failed"
        assert payment["payment_metadata"]["closed_reason"] == "payment_hold_expired"
        [audit] = await audits(conn, "table_booking.auto_cancelled")
        assert audit["resource_id"] == booking_id
        assert audit["additional_info"]["reason"] == "payment_hold_expired"
        cancelled = [
            j
            for j in await jobs(conn, "table_booking_notify")
            if j["payload"]["event"] == "cancelled"
        ]
        assert [j["payload"]["table_booking_id"] for j in cancelled] == [booking_id]
        await run_worker(client)
        emails = [
            e for e in await outbox(conn, "cancellation_hold_expired") if e["channel"] == "email"
        ]
        assert [e["recipient"] for e in emails] == [GUEST_EMAIL]
        assert made["booking_reference"] in emails[0]["body"]
        # The guest is told why (issue 18, item 12), and no deposit is claimed as due.
        assert "because the deposit was not paid in time" in emails[0]["body"]
        assert "Deposit" not in emails[0]["body"]
        assert paypal.refund.call_count == 0

    async def test_a_capture_after_the_release_is_refunded_in_full_and_audited(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        menu: dict[str, str],
        paypal: FakePayPal,
        conn: asyncpg.Connection,
        clock: FakeClock,
    ) -> None:
        made = await book(client, key, menu)
        booking_id = made["booking_id"]
        clock.advance(minutes=31)
        await expire_holds(client)

        response = await return_from_paypal(client)

        assert response.status_code == 200, response.text
        assert response.json()["data"] == {
            "booking_reference": made["booking_reference"],
            "outcome": "released",
            "confirmed": False,
        }
        row = await booking_row(conn, booking_id)
        assert row["status"] == "cancelled"
        [released] = await audits(conn, "payment.capture_after_release")
        assert released["resource_id"] == booking_id
        assert released["additional_info"]["refund"] == DEPOSIT
        [job] = await jobs(conn, "table_booking_refund")
        assert job["payload"]["amount"] == DEPOSIT
        assert job["payload"]["capture_id"] == CAPTURE_ID

        await run_worker(client)

        assert paypal.refund.call_count == 1
        request = paypal.refund.calls.last.request
        assert request.headers["PayPal-Request-Id"] == f"refund-{booking_id}-released"
        assert paypal.posted(paypal.refund)["amount"] == {"value": DEPOSIT, "currency_code": "GBP"}
        payment = await payment_row(conn, booking_id)
        assert payment["status"] == "refunded"
        assert str(payment["refund_amount"]) == DEPOSIT
        assert payment["refund_transaction_id"] == REFUND_ID
        assert payment["refunded_at"] == clock.now
        [refunded] = await audits(conn, "payment.refunded")
        assert refunded["resource_id"] == booking_id
        await run_worker(client)
        assert paypal.refund.call_count == 1

    async def test_a_capture_by_webhook_after_the_release_is_refunded(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        menu: dict[str, str],
        paypal: FakePayPal,
        conn: asyncpg.Connection,
        clock: FakeClock,
    ) -> None:
        made = await book(client, key, menu)
        clock.advance(minutes=31)
        await expire_holds(client)

        response = await deliver(
            client, clock, event("PAYMENT.CAPTURE.COMPLETED", completed(made["booking_id"]))
        )

        assert response.json()["data"]["outcome"] == "released"
        assert (await booking_row(conn, made["booking_id"]))["status"] == "cancelled"
        assert len(await audits(conn, "payment.capture_after_release")) == 1
        await run_worker(client)
        assert paypal.posted(paypal.refund)["amount"]["value"] == DEPOSIT

    async def test_a_capture_after_the_hold_but_before_the_cron_still_confirms(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        menu: dict[str, str],
        paypal: FakePayPal,
        conn: asyncpg.Connection,
        clock: FakeClock,
    ) -> None:
        made = await book(client, key, menu)
        clock.advance(minutes=35)

        response = await return_from_paypal(client)

        assert response.json()["data"]["outcome"] == "confirmed"
        assert (await booking_row(conn, made["booking_id"]))["status"] == "confirmed"
        assert await expire_holds(client) == {"cancelled": 0}
        assert await jobs(conn, "table_booking_refund") == []

    async def test_returning_again_after_a_released_capture_is_not_reported_as_confirmed(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        menu: dict[str, str],
        paypal: FakePayPal,
        conn: asyncpg.Connection,
        clock: FakeClock,
    ) -> None:
        made = await book(client, key, menu)
        clock.advance(minutes=31)
        await expire_holds(client)
        first = await return_from_paypal(client)
        assert first.json()["data"]["outcome"] == "released"

        # The guest reloads the return page (PayPal replays the same capture for the same
        # PayPal-Request-Id).
        again = await return_from_paypal(client, json_wanted=False)

        assert (await booking_row(conn, made["booking_id"]))["status"] == "cancelled"
        assert again.status_code == 303
        assert again.headers["Location"].startswith(f"{FAILURE_URL}?")
        assert "outcome=released" in again.headers["Location"]
