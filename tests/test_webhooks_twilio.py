"""Twilio webhooks over HTTP: signed delivery status callbacks and inbound texts (STOP / START)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from twilio.request_validator import RequestValidator

from app.config import Settings
from app.db.postgres import PostgresDatabase
from app.main import create_app
from tests.conftest import FakeClock, asgi_client, envelope_error

AUTH_TOKEN = "tok"
PUBLIC = "https://tb.example"
STATUS = "/api/webhooks/twilio/status"
INBOUND = "/api/webhooks/twilio/inbound"
CUSTOMER_PHONE = "+447911123456"
PUB_PHONE = "+447700900123"


def twilio_settings(settings: Settings, **overrides: Any) -> Settings:
    return settings.model_copy(
        update={
            "twilio_account_sid": "AC123",
            "twilio_auth_token": SecretStr(AUTH_TOKEN),
            "twilio_messaging_service_sid": "MG123",
            "public_base_url": PUBLIC,
            **overrides,
        }
    )


@pytest.fixture
async def twilio(
    settings: Settings, db: PostgresDatabase, clock: FakeClock
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(twilio_settings(settings), database=db, clock=clock)
    async with asgi_client(app) as c:
        yield c


def sign(params: dict[str, str], url: str = PUBLIC + STATUS, token: str = AUTH_TOKEN) -> str:
    signature: str = RequestValidator(token).compute_signature(url, params)
    return signature


async def post(
    client: httpx.AsyncClient,
    path: str,
    params: dict[str, str],
    signature: str | None = "sign",
) -> httpx.Response:
    """POST the form as Twilio does; ``"sign"`` signs it for ``PUBLIC + path``."""
    headers = {}
    if signature == "sign":
        signature = sign(params, PUBLIC + path)
    if signature is not None:
        headers["X-Twilio-Signature"] = signature
    return await client.post(path, data=params, headers=headers)


def status_params(status: str, sid: str = "SM1", **extra: str) -> dict[str, str]:
    """A status callback's form fields, as Twilio posts them."""
    return {
        "AccountSid": "AC123",
        "ApiVersion": "2010-04-01",
        "From": PUB_PHONE,
        "MessageSid": sid,
        "MessageStatus": status,
        "MessagingServiceSid": "MG123",
        "SmsSid": sid,
        "SmsStatus": status,
        "To": CUSTOMER_PHONE,
        **extra,
    }


def inbound_params(body: str, sender: str = CUSTOMER_PHONE, sid: str = "SMin1") -> dict[str, str]:
    return {
        "AccountSid": "AC123",
        "ApiVersion": "2010-04-01",
        "Body": body,
        "From": sender,
        "FromCountry": "GB",
        "MessageSid": sid,
        "MessagingServiceSid": "MG123",
        "NumMedia": "0",
        "NumSegments": "1",
        "SmsMessageSid": sid,
        "SmsSid": sid,
        "SmsStatus": "received",
        "To": PUB_PHONE,
    }


async def add_customer(
    conn: asyncpg.Connection, phone: str = CUSTOMER_PHONE, *, opted_in: bool = True
) -> str:
    customer_id: str = await conn.fetchval(
        "insert into customers (first_name, last_name, mobile_number, mobile_e164, sms_opt_in,"
        " sms_status) values ('Ann', 'Lee', $1::text, $1::text, $2, $3) returning id::text",
        phone,
        opted_in,
        "active" if opted_in else "opted_out",
    )
    return customer_id


async def add_outbound(conn: asyncpg.Connection, customer_id: str, sid: str = "SM1") -> str:
    message_id: str = await conn.fetchval(
        "insert into messages (customer_id, direction, message_sid, twilio_message_sid, body,"
        " status, twilio_status, from_number, to_number, message_type, segments, sent_at)"
        " values ($1::uuid, 'outbound', $2, $2, 'Hi Ann, your table...', 'queued', 'queued',"
        " $3, $4, 'sms', 1, now()) returning id::text",
        customer_id,
        sid,
        PUB_PHONE,
        CUSTOMER_PHONE,
    )
    return message_id


@pytest.fixture
async def message(conn: asyncpg.Connection) -> str:
    """An outbound text "SM1", queued at Twilio; its id."""
    return await add_outbound(conn, await add_customer(conn))


async def message_row(conn: asyncpg.Connection, message_id: str) -> asyncpg.Record:
    row = await conn.fetchrow("select * from messages where id = $1::uuid", message_id)
    assert row is not None
    return row


async def history(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "select message_id::text, status, error_code, raw_webhook_data"
        " from message_delivery_status order by created_at, id"
    )
    return [
        {**dict(r), "raw_webhook_data": json.loads(r["raw_webhook_data"] or "null")} for r in rows
    ]


async def webhook_logs(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "select webhook_type, status, headers, body, params, error_message, message_sid"
        " from webhook_logs order by processed_at, id"
    )
    result = []
    for r in rows:
        row = dict(r)
        for column in ("headers", "params"):
            row[column] = json.loads(row[column]) if row[column] is not None else None
        result.append(row)
    return result


async def customer_row(conn: asyncpg.Connection, phone: str = CUSTOMER_PHONE) -> asyncpg.Record:
    row = await conn.fetchrow("select * from customers where mobile_e164 = $1", phone)
    assert row is not None
    return row


async def count(conn: asyncpg.Connection, table: str) -> int:
    value: int = await conn.fetchval(f"select count(*) from {table}")  # noqa: S608
    return value


# Delivery status -------------------------------------------------------------------------------


class TestStatusCallback:
    async def test_a_signed_callback_moves_the_status_and_is_kept(
        self, twilio: httpx.AsyncClient, conn: asyncpg.Connection, message: str
    ) -> None:
        params = status_params("sent")
        response = await post(twilio, STATUS, params)

        assert response.status_code == 200, response.text
        assert response.json() == {"success": True, "data": {"received": True, "known": True}}
        row = await message_row(conn, message)
        assert (row["status"], row["twilio_status"]) == ("sent", "sent")
        assert row["delivered_at"] is None and row["failed_at"] is None
        assert await history(conn) == [
            {
                "message_id": message,
                "status": "sent",
                "error_code": None,
                "raw_webhook_data": params,
            }
        ]

    async def test_delivered(
        self, twilio: httpx.AsyncClient, conn: asyncpg.Connection, message: str
    ) -> None:
        for status in ("sent", "delivered"):
            response = await post(twilio, STATUS, status_params(status))
            assert response.status_code == 200, response.text
        row = await message_row(conn, message)
        assert (row["status"], row["twilio_status"]) == ("delivered", "delivered")
        assert row["delivered_at"] is not None

    async def test_out_of_order_callbacks_never_move_the_status_back(
        self, twilio: httpx.AsyncClient, conn: asyncpg.Connection, message: str
    ) -> None:
        for status in ("delivered", "sent", "queued"):
            response = await post(twilio, STATUS, status_params(status))
            assert response.status_code == 200, response.text
        row = await message_row(conn, message)
        assert (row["status"], row["twilio_status"]) == ("delivered", "delivered")
        assert [h["status"] for h in await history(conn)] == ["delivered", "sent", "queued"]

    async def test_failed_with_an_error_code(
        self, twilio: httpx.AsyncClient, conn: asyncpg.Connection, message: str
    ) -> None:
        params = status_params("failed", ErrorCode="30003", ErrorMessage="Unreachable handset")
        response = await post(twilio, STATUS, params)
        assert response.status_code == 200, response.text
        row = await message_row(conn, message)
        assert (row["status"], row["twilio_status"]) == ("failed", "failed")
        assert row["error_code"] == "30003"
        assert row["error_message"] == "Unreachable handset"
        assert row["failed_at"] is not None
        assert row["delivered_at"] is None
        (entry,) = await history(conn)
        assert (entry["status"], entry["error_code"]) == ("failed", "30003")

    @pytest.mark.parametrize("status", ["undelivered", "canceled"])
    async def test_undelivered_and_canceled_are_failures(
        self, twilio: httpx.AsyncClient, conn: asyncpg.Connection, message: str, status: str
    ) -> None:
        response = await post(twilio, STATUS, status_params(status, ErrorCode="30005"))
        assert response.status_code == 200, response.text
        row = await message_row(conn, message)
        assert (row["status"], row["twilio_status"], row["error_code"]) == (
            "failed",
            status,
            "30005",
        )
        assert row["failed_at"] is not None

    async def test_delivered_then_read(
        self, twilio: httpx.AsyncClient, conn: asyncpg.Connection, message: str
    ) -> None:
        for status in ("delivered", "read"):
            assert (await post(twilio, STATUS, status_params(status))).status_code == 200
        row = await message_row(conn, message)
        assert (row["status"], row["twilio_status"]) == ("read", "read")

    async def test_a_repeated_callback_is_kept_twice_and_changes_nothing(
        self, twilio: httpx.AsyncClient, conn: asyncpg.Connection, message: str
    ) -> None:
        for _ in range(2):
            assert (await post(twilio, STATUS, status_params("delivered"))).status_code == 200
        assert [h["status"] for h in await history(conn)] == ["delivered", "delivered"]
        assert (await message_row(conn, message))["twilio_status"] == "delivered"

    async def test_legacy_sms_fields_alone(
        self, twilio: httpx.AsyncClient, conn: asyncpg.Connection, message: str
    ) -> None:
        params = {"AccountSid": "AC123", "SmsSid": "SM1", "SmsStatus": "sent"}
        assert (await post(twilio, STATUS, params)).status_code == 200
        assert (await message_row(conn, message))["twilio_status"] == "sent"

    async def test_matched_by_message_sid_too(
        self, twilio: httpx.AsyncClient, conn: asyncpg.Connection
    ) -> None:
        customer = await add_customer(conn)
        message_id = await add_outbound(conn, customer, sid="SM2")
        await conn.execute(
            "update messages set twilio_message_sid = null where id = $1::uuid", message_id
        )
        assert (await post(twilio, STATUS, status_params("sent", sid="SM2"))).status_code == 200
        assert (await message_row(conn, message_id))["twilio_status"] == "sent"

    async def test_unknown_sid_is_acknowledged(
        self, twilio: httpx.AsyncClient, conn: asyncpg.Connection, message: str
    ) -> None:
        response = await post(twilio, STATUS, status_params("delivered", sid="SMunknown"))
        assert response.status_code == 200, response.text
        assert response.json() == {"success": True, "data": {"received": True, "known": False}}
        assert await history(conn) == []
        assert (await message_row(conn, message))["twilio_status"] == "queued"
        (log,) = await webhook_logs(conn)
        assert (log["status"], log["message_sid"]) == ("ignored", "SMunknown")

    async def test_each_delivery_is_logged(
        self, twilio: httpx.AsyncClient, conn: asyncpg.Connection, message: str
    ) -> None:
        first = status_params("sent")
        second = status_params("delivered")
        for params in (first, second):
            assert (await post(twilio, STATUS, params)).status_code == 200
        logs = await webhook_logs(conn)
        assert len(logs) == 2
        for log, params in zip(logs, (first, second), strict=True):
            assert log["webhook_type"] == "twilio"
            assert log["status"] == "success"
            assert log["message_sid"] == "SM1"
            assert log["error_message"] is None
            assert log["params"] == {"event": "status", "status": params["MessageStatus"]}
            assert dict(httpx.QueryParams(log["body"])) == params
            assert log["headers"]["x-twilio-signature"] == sign(params)
            assert log["headers"]["content-type"] == "application/x-www-form-urlencoded"

    async def test_signed_with_a_query_string(
        self, twilio: httpx.AsyncClient, conn: asyncpg.Connection, message: str
    ) -> None:
        # Twilio signs the full URL it called, query included.
        params = status_params("sent")
        path = STATUS + "?attempt=1"
        response = await twilio.post(
            path, data=params, headers={"X-Twilio-Signature": sign(params, PUBLIC + path)}
        )
        assert response.status_code == 200, response.text
        assert (await message_row(conn, message))["twilio_status"] == "sent"


class TestStatusSignature:
    async def assert_refused(
        self, response: httpx.Response, conn: asyncpg.Connection, message: str
    ) -> None:
        assert response.status_code == 401, response.text
        assert envelope_error(response)["code"] == "UNAUTHORIZED"
        assert await history(conn) == []
        assert await count(conn, "webhook_logs") == 0
        row = await message_row(conn, message)
        assert (row["status"], row["twilio_status"]) == ("queued", "queued")

    async def test_missing_signature(
        self, twilio: httpx.AsyncClient, conn: asyncpg.Connection, message: str
    ) -> None:
        response = await post(twilio, STATUS, status_params("delivered"), signature=None)
        await self.assert_refused(response, conn, message)

    @pytest.mark.parametrize("signature", ["", "not-a-signature", "AAAAAAAAAAAAAAAAAAAAAAAAAAA="])
    async def test_bad_signature(
        self, twilio: httpx.AsyncClient, conn: asyncpg.Connection, message: str, signature: str
    ) -> None:
        response = await post(twilio, STATUS, status_params("delivered"), signature=signature)
        await self.assert_refused(response, conn, message)

    async def test_signed_with_another_token(
        self, twilio: httpx.AsyncClient, conn: asyncpg.Connection, message: str
    ) -> None:
        params = status_params("delivered")
        response = await post(twilio, STATUS, params, signature=sign(params, token="other"))
        await self.assert_refused(response, conn, message)

    @pytest.mark.parametrize(
        "url",
        [
            "http://testserver" + STATUS,  # the URL the request arrived at, not the public one
            "http://tb.example" + STATUS,
            "https://evil.example" + STATUS,
            PUBLIC + INBOUND,
            PUBLIC + STATUS + "?x=1",
        ],
    )
    async def test_signed_for_another_url(
        self, twilio: httpx.AsyncClient, conn: asyncpg.Connection, message: str, url: str
    ) -> None:
        params = status_params("delivered")
        response = await post(twilio, STATUS, params, signature=sign(params, url))
        await self.assert_refused(response, conn, message)

    async def test_fields_changed_after_signing(
        self, twilio: httpx.AsyncClient, conn: asyncpg.Connection, message: str
    ) -> None:
        signature = sign(status_params("sent"))
        response = await post(twilio, STATUS, status_params("delivered"), signature=signature)
        await self.assert_refused(response, conn, message)

    async def test_a_field_added_after_signing(
        self, twilio: httpx.AsyncClient, conn: asyncpg.Connection, message: str
    ) -> None:
        params = status_params("failed")
        signature = sign(params)
        response = await post(twilio, STATUS, {**params, "ErrorCode": "30003"}, signature)
        await self.assert_refused(response, conn, message)

    async def test_without_an_auth_token_nothing_is_accepted(
        self,
        settings: Settings,
        db: PostgresDatabase,
        clock: FakeClock,
        conn: asyncpg.Connection,
        message: str,
    ) -> None:
        app: FastAPI = create_app(
            twilio_settings(settings, twilio_auth_token=None), database=db, clock=clock
        )
        async with asgi_client(app) as client:
            response = await post(client, STATUS, status_params("delivered"))
            await self.assert_refused(response, conn, message)
            inbound = await post(client, INBOUND, inbound_params("STOP"))
            assert inbound.status_code == 401
        assert (await customer_row(conn))["sms_opt_in"] is True

    async def test_the_public_base_url_may_end_with_a_slash(
        self,
        settings: Settings,
        db: PostgresDatabase,
        clock: FakeClock,
        conn: asyncpg.Connection,
        message: str,
    ) -> None:
        app = create_app(
            twilio_settings(settings, public_base_url=PUBLIC + "/"), database=db, clock=clock
        )
        async with asgi_client(app) as client:
            response = await post(client, STATUS, status_params("sent"))
        assert response.status_code == 200, response.text
        assert (await message_row(conn, message))["twilio_status"] == "sent"


# Inbound texts ---------------------------------------------------------------------------------


def assert_twiml(response: httpx.Response) -> None:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/xml")
    assert "<Response>" in response.text and "</Response>" in response.text
    assert "<Message" not in response.text  # Twilio answers STOP itself; we say nothing


class TestInbound:
    @pytest.mark.parametrize(
        "body",
        ["STOP", "stop", " Stop ", "stop please", "UNSUBSCRIBE", "StopAll", "cancel", "QUIT"],
    )
    async def test_stop_and_the_like_opt_out(
        self, twilio: httpx.AsyncClient, conn: asyncpg.Connection, body: str
    ) -> None:
        customer_id = await add_customer(conn)
        response = await post(twilio, INBOUND, inbound_params(body))

        assert_twiml(response)
        customer = await customer_row(conn)
        assert customer["sms_opt_in"] is False
        assert customer["sms_status"] == "opted_out"
        assert customer["sms_opted_out_at"] is not None
        inbound = await conn.fetch("select * from messages where direction = 'inbound'")
        assert len(inbound) == 1
        assert str(inbound[0]["customer_id"]) == customer_id
        assert inbound[0]["body"] == body
        assert (inbound[0]["from_number"], inbound[0]["to_number"]) == (CUSTOMER_PHONE, PUB_PHONE)
        assert (inbound[0]["message_sid"], inbound[0]["twilio_message_sid"]) == ("SMin1", "SMin1")
        assert inbound[0]["status"] == "received"
        (log,) = await webhook_logs(conn)
        assert log["status"] == "success"
        assert log["params"] == {"event": "inbound", "action": "opt_out"}

    @pytest.mark.parametrize("body", ["START", "start", "Yes", "UNSTOP"])
    async def test_start_opts_back_in(
        self, twilio: httpx.AsyncClient, conn: asyncpg.Connection, body: str
    ) -> None:
        await add_customer(conn, opted_in=False)
        response = await post(twilio, INBOUND, inbound_params(body))

        assert_twiml(response)
        customer = await customer_row(conn)
        assert customer["sms_opt_in"] is True
        assert customer["sms_status"] == "active"
        assert customer["sms_opt_in_at"] is not None
        assert customer["sms_opt_in_source"] == "sms_keyword"

    async def test_stop_then_start(
        self, twilio: httpx.AsyncClient, conn: asyncpg.Connection
    ) -> None:
        await add_customer(conn)
        assert_twiml(await post(twilio, INBOUND, inbound_params("STOP", sid="SMa")))
        assert (await customer_row(conn))["sms_opt_in"] is False
        assert_twiml(await post(twilio, INBOUND, inbound_params("START", sid="SMb")))
        customer = await customer_row(conn)
        assert (customer["sms_opt_in"], customer["sms_status"]) == (True, "active")
        bodies = await conn.fetch(
            "select body from messages where direction = 'inbound' order by created_at"
        )
        assert [r["body"] for r in bodies] == ["STOP", "START"]

    @pytest.mark.parametrize(
        "body", ["Running 10 mins late, sorry!", "Please don't stop the music", "", "STOPPED"]
    )
    async def test_other_text_changes_nothing(
        self, twilio: httpx.AsyncClient, conn: asyncpg.Connection, body: str
    ) -> None:
        await add_customer(conn)
        before = dict(await customer_row(conn))
        response = await post(twilio, INBOUND, inbound_params(body))

        assert_twiml(response)
        assert dict(await customer_row(conn)) == before
        # The text itself is kept for the pub to read.
        (row,) = await conn.fetch("select body from messages where direction = 'inbound'")
        assert row["body"] == body
        (log,) = await webhook_logs(conn)
        assert log["params"] == {"event": "inbound", "action": None}

    async def test_unknown_sender_changes_nothing(
        self, twilio: httpx.AsyncClient, conn: asyncpg.Connection
    ) -> None:
        await add_customer(conn)
        before = dict(await customer_row(conn))
        response = await post(twilio, INBOUND, inbound_params("STOP", sender="+447911999999"))

        assert_twiml(response)
        assert dict(await customer_row(conn)) == before
        assert await count(conn, "messages") == 0
        (log,) = await webhook_logs(conn)
        assert log["status"] == "ignored"

    async def test_only_that_customer_is_opted_out(
        self, twilio: httpx.AsyncClient, conn: asyncpg.Connection
    ) -> None:
        await add_customer(conn)
        await add_customer(conn, "+447911123457")
        assert_twiml(await post(twilio, INBOUND, inbound_params("STOP")))
        assert (await customer_row(conn))["sms_opt_in"] is False
        assert (await customer_row(conn, "+447911123457"))["sms_opt_in"] is True

    async def test_a_bad_signature_changes_nothing(
        self, twilio: httpx.AsyncClient, conn: asyncpg.Connection
    ) -> None:
        await add_customer(conn)
        params = inbound_params("STOP")
        for signature in (None, "forged", sign(params)):  # the last: signed for the status URL
            response = await post(twilio, INBOUND, params, signature=signature)
            assert response.status_code == 401, response.text
            assert envelope_error(response)["code"] == "UNAUTHORIZED"
        assert (await customer_row(conn))["sms_opt_in"] is True
        assert await count(conn, "messages") == 0
        assert await count(conn, "webhook_logs") == 0

    async def test_a_retried_inbound_text_is_kept_once(
        self, twilio: httpx.AsyncClient, conn: asyncpg.Connection
    ) -> None:
        await add_customer(conn)
        for _ in range(2):
            assert_twiml(await post(twilio, INBOUND, inbound_params("Table for 2 tonight?")))
        assert await count(conn, "messages") == 1
