"""The message worker (``GET /api/cron/process-jobs``): booking events become send jobs in the
shared format, sent through Twilio and Graph (respx) or recorded in the outbox; retries, quiet
hours, opt-outs, overlapping runs, expired leases, audit."""

from __future__ import annotations

import asyncio
import base64
import email
import email.policy
import json
import logging
import re
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qs

import asyncpg
import httpx
import pytest
import respx
from pydantic import SecretStr

from app.config import Settings
from app.db.postgres import PostgresDatabase
from app.integrations.graph import mailer as graph_mailer
from app.main import create_app
from app.services.notifications import StaffAddresses
from app.services.worker import Senders, process_jobs, quiet_until
from tests.conftest import (
    FakeClock,
    asgi_client,
    create_booking,
    envelope_error,
    regular_body,
    sunday_body,
)

CRON = {"Authorization": "Bearer test-cron-secret-0123456789"}
PROCESS_JOBS = "/api/cron/process-jobs"
BOOKINGS = "/api/table-bookings"
MOBILE = "+447911123456"
GUEST_EMAIL = "ann.lee@example.com"
MANAGER = "manager@the-anchor.pub"
KITCHEN = "kitchen@the-anchor.pub"

ACCOUNT_SID = "AC123"
AUTH_TOKEN = "tok"
SERVICE_SID = "MG123"
TWILIO_URL = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
BASIC_AUTH = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
STATUS_CALLBACK = "https://tb.example/api/webhooks/twilio/status"

TENANT = "tenant"
SENDER = "bookings@the-anchor.pub"
OPENID_URL = f"https://login.microsoftonline.com/{TENANT}/v2.0/.well-known/openid-configuration"
TOKEN_URL = f"https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/token"
SENDMAIL_URL = f"https://graph.microsoft.com/v1.0/users/{SENDER}/sendMail"
ACCESS_TOKEN = "graph-access-token-for-the-worker-tests"
OPENID_CONFIGURATION = {
    "issuer": f"https://login.microsoftonline.com/{TENANT}/v2.0",
    "authorization_endpoint": f"https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/authorize",
    "token_endpoint": TOKEN_URL,
}

PROVIDER_SETTINGS: dict[str, Any] = {
    "twilio_account_sid": ACCOUNT_SID,
    "twilio_auth_token": SecretStr(AUTH_TOKEN),
    "twilio_messaging_service_sid": SERVICE_SID,
    "public_base_url": "https://tb.example",
    "microsoft_tenant_id": TENANT,
    "microsoft_client_id": "client",
    "microsoft_client_secret": SecretStr("secret"),
    "microsoft_user_email": SENDER,
}


# Helpers -----------------------------------------------------------------------------------------


def with_email(body: dict[str, Any], address: str = GUEST_EMAIL) -> dict[str, Any]:
    body["customer"]["email"] = address
    return body


async def run_worker(client: httpx.AsyncClient) -> dict[str, int]:
    response = await client.get(PROCESS_JOBS, headers=CRON)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    report: dict[str, int] = body["data"]
    return report


def _decode(row: asyncpg.Record) -> dict[str, Any]:
    out = dict(row)
    for column in ("payload", "result", "attachments", "new_values", "additional_info"):
        if isinstance(out.get(column), str):
            out[column] = json.loads(out[column])
    return out


async def jobs(conn: asyncpg.Connection, kind: str | None = None) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "select id, type, status, payload, attempts, max_attempts, scheduled_for, result,"
        " error_message, failed_at from jobs where $1::text is null or type = $1"
        " order by created_at, id",
        kind,
    )
    return [_decode(r) for r in rows]


async def outbox(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    rows = await conn.fetch("select * from table_booking_outbox order by created_at, id")
    return [_decode(r) for r in rows]


async def audits(conn: asyncpg.Connection, operation: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "select operation_type, resource_id, operation_status, new_values, error_message,"
        " additional_info from audit_logs where operation_type = $1 order by created_at, id",
        operation,
    )
    return [_decode(r) for r in rows]


async def seconds_until(conn: asyncpg.Connection, job_id: uuid.UUID) -> float:
    """How far in the database's future the job is scheduled."""
    value = await conn.fetchval(
        "select extract(epoch from scheduled_for - now())::float8 from jobs where id = $1", job_id
    )
    assert isinstance(value, float)
    return value


async def make_due(conn: asyncpg.Connection) -> None:
    """Bring every pending job forward, as the minutes of a backoff passing would."""
    await conn.execute(
        "update jobs set scheduled_for = now() - interval '1 second' where status = 'pending'"
    )


def sms_job(rows: list[dict[str, Any]], template: str | None = None) -> dict[str, Any]:
    found = [
        j
        for j in rows
        if j["type"] == "table_booking_sms"
        and (template is None or j["payload"]["metadata"]["template_key"] == template)
    ]
    assert len(found) == 1, found
    return found[0]


def twilio_created(request: httpx.Request) -> httpx.Response:
    """Twilio's 201 for a new message, with a fresh SID."""
    form = parse_qs(request.content.decode())
    return httpx.Response(
        201,
        json={
            "sid": "SM" + uuid.uuid4().hex,
            "status": "accepted",
            "to": form["To"][0],
            "from": None,
            "body": form["Body"][0],
            "messaging_service_sid": SERVICE_SID,
            "num_segments": "1",
            "price": None,
        },
    )


def twilio_error(status: int, code: int, message: str) -> httpx.Response:
    return httpx.Response(
        status,
        json={
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
    )


def then_created(
    *first: httpx.Response | Exception,
) -> Callable[[httpx.Request], httpx.Response]:
    """A Twilio side effect: the answers given in order, then 201 for every later request."""
    queue = list(first)

    def side_effect(request: httpx.Request) -> httpx.Response:
        if queue:
            answer = queue.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer
        return twilio_created(request)

    return side_effect


def twilio_form(request: httpx.Request) -> dict[str, list[str]]:
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    return parse_qs(request.content.decode(), keep_blank_values=True, strict_parsing=True)


def mime_of(request: httpx.Request) -> EmailMessage:
    message = email.message_from_bytes(
        base64.b64decode(request.content, validate=True), policy=email.policy.default
    )
    assert isinstance(message, EmailMessage)
    return message


class Providers:
    """Twilio and Graph as respx routes on the suite's no-outbound-HTTP router."""

    def __init__(self, router: respx.MockRouter) -> None:
        self.twilio = router.post(TWILIO_URL)
        self.twilio.side_effect = twilio_created
        self.openid = router.get(OPENID_URL)
        self.openid.respond(200, json=OPENID_CONFIGURATION)
        self.token = router.post(TOKEN_URL)
        self.token.respond(
            200, json={"token_type": "Bearer", "expires_in": 3599, "access_token": ACCESS_TOKEN}
        )
        self.sendmail = router.post(SENDMAIL_URL)
        self.sendmail.respond(202)

    def mails(self) -> list[EmailMessage]:
        return [mime_of(call.request) for call in self.sendmail.calls]

    def texts(self) -> list[str]:
        return [twilio_form(call.request)["Body"][0] for call in self.twilio.calls]


@pytest.fixture
def providers(no_outbound_http: respx.MockRouter) -> Providers:
    return Providers(no_outbound_http)


@pytest.fixture
async def live(
    settings: Settings, db: PostgresDatabase, clock: FakeClock, providers: Providers
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app with Twilio and Graph configured (their HTTP mocked by respx)."""
    app = create_app(settings.model_copy(update=PROVIDER_SETTINGS), database=db, clock=clock)
    async with asgi_client(app) as c:
        yield c


# Outbox mode (no provider credentials) -----------------------------------------------------------


class TestOutboxMode:
    async def test_a_regular_booking_records_its_messages_in_the_outbox(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        made = await create_booking(client, key, with_email(regular_body(allergies=["peanuts"])))
        booking_id, reference = made["booking_id"], made["booking_reference"]
        [notify] = await jobs(conn)
        assert notify["type"] == "table_booking_notify"
        assert notify["payload"] == {
            "table_booking_id": booking_id,
            "event": "created",
            "stage": "default",
        }

        report = await run_worker(client)

        assert report["claimed"] == 4
        assert report["queued"] == 3
        assert report["outbox"] == 3
        assert report["sent"] == report["failed"] == report["retrying"] == 0
        all_jobs = await jobs(conn)
        assert {j["status"] for j in all_jobs} == {"completed"}
        customer_id = await conn.fetchval(
            "select customer_id::text from table_bookings where id = $1::uuid", booking_id
        )
        sms = sms_job(all_jobs)
        text = (
            f"Hi Ann, your table for 4 at The Anchor on Friday 27 November at 19:00 is confirmed."
            f" Reference: {reference}. Reply STOP to opt out."
        )
        # The shared format: to, message, customer_id, metadata (template, booking).
        assert sms["payload"]["to"] == MOBILE
        assert sms["payload"]["message"] == text
        assert sms["payload"]["customer_id"] == customer_id
        assert sms["payload"]["metadata"]["template_key"] == "booking_confirmation_regular"
        assert sms["payload"]["metadata"]["table_booking_id"] == booking_id
        emails = [j for j in all_jobs if j["type"] == "table_booking_email"]
        assert sorted(j["payload"]["to"] for j in emails) == sorted([GUEST_EMAIL, MANAGER])
        for job in emails:
            assert job["payload"]["metadata"]["table_booking_id"] == booking_id

        recorded = await outbox(conn)
        assert sorted((r["channel"], r["recipient"], r["template_key"]) for r in recorded) == [
            ("email", GUEST_EMAIL, "booking_confirmation_regular"),
            ("email", MANAGER, "staff_created"),
            ("sms", MOBILE, "booking_confirmation_regular"),
        ]
        assert {str(r["table_booking_id"]) for r in recorded} == {booking_id}
        by_recipient = {r["recipient"]: r for r in recorded}
        assert by_recipient[MOBILE]["body"] == text
        guest = by_recipient[GUEST_EMAIL]
        assert reference in guest["subject"]
        assert guest["attachments"] == [
            {
                "filename": f"booking-{reference}.ics",
                "content_type": "text/calendar; method=PUBLISH; charset=utf-8",
            }
        ]
        assert "Reply STOP" not in guest["body"]
        manager = by_recipient[MANAGER]
        assert manager["subject"].endswith("- ALLERGIES")
        assert manager["body"].startswith("ALLERGIES: peanuts")

        [message] = await conn.fetch("select * from messages")
        assert message["status"] == "outbox"
        assert message["direction"] == "outbound"
        assert message["body"] == text
        assert message["to_number"] == MOBILE
        assert str(message["customer_id"]) == customer_id
        assert str(message["table_booking_id"]) == booking_id
        assert message["template_key"] == "booking_confirmation_regular"
        assert message["segments"] >= 1
        assert message["twilio_message_sid"] is None

        [sms_audit] = await audits(conn, "message.sms_sent")
        assert sms_audit["resource_id"] == booking_id
        assert sms_audit["operation_status"] == "success"
        assert sms_audit["new_values"]["template_key"] == "booking_confirmation_regular"
        assert len(await audits(conn, "message.email_sent")) == 2
        # The audit names no recipient.
        for row in await audits(conn, "message.email_sent"):
            assert GUEST_EMAIL not in json.dumps(row["new_values"])

        # Nothing is left to do: a second run sends nothing more.
        again = await run_worker(client)
        assert again["claimed"] == 0
        assert len(await outbox(conn)) == 3
        assert await conn.fetchval("select count(*) from messages") == 1

    async def test_the_guest_email_has_text_html_and_a_calendar_file(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        made = await create_booking(client, key, with_email(regular_body()))
        await run_worker(client)
        [guest] = [
            j for j in await jobs(conn, "table_booking_email") if j["payload"]["to"] == GUEST_EMAIL
        ]
        payload = guest["payload"]
        assert made["booking_reference"] in payload["text"]
        assert made["booking_reference"] in payload["html"]
        assert payload["html"].lstrip().startswith("<")
        [attachment] = payload["attachments"]
        ics = base64.b64decode(attachment["content_b64"]).decode()
        assert ics.count("BEGIN:VEVENT") == 1
        assert "DTSTART;TZID=Europe/London:20261127T190000" in ics
        assert f"UID:table-booking-{made['booking_id']}@the-anchor.pub" in ics

    async def test_a_notify_job_processed_twice_queues_nothing_twice(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        made = await create_booking(client, key, with_email(regular_body()))
        await run_worker(client)
        before = await jobs(conn)
        # The same event again: a duplicate job (e.g. a retried transaction) and a re-queue.
        await conn.execute(
            "insert into jobs (type, payload, priority, max_attempts)"
            " values ('table_booking_notify', $1::jsonb, 5, 5)",
            json.dumps(
                {"table_booking_id": made["booking_id"], "event": "created", "stage": "default"}
            ),
        )
        await conn.execute("select tb_queue_notification($1::uuid, 'created')", made["booking_id"])

        report = await run_worker(client)

        assert report["claimed"] == 1
        assert report["queued"] == 0
        after = await jobs(conn)
        assert len(after) == len(before) + 1
        duplicate = after[-1]
        assert duplicate["status"] == "completed"
        assert duplicate["result"] == {"event": "created", "queued": 0, "duplicates": 3}
        assert len(await outbox(conn)) == 3
        assert await conn.fetchval("select count(*) from messages") == 1

    async def test_a_retried_create_request_queues_one_notification(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        headers = {**key, "Idempotency-Key": "retry-1"}
        for _ in range(2):
            response = await client.post(BOOKINGS, json=regular_body(), headers=headers)
            assert response.status_code == 201
        assert len(await jobs(conn)) == 1
        await run_worker(client)
        assert len(await jobs(conn, "table_booking_sms")) == 1

    async def test_a_template_that_cannot_be_rendered_fails_the_job_and_is_audited(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        await conn.execute(
            "update table_booking_sms_templates set template_text = 'Hi {{nickname}}'"
            " where template_key = 'booking_confirmation_regular'"
        )
        made = await create_booking(client, key, regular_body())
        report = await run_worker(client)
        assert report["failed"] == 1
        [notify] = await jobs(conn)
        assert notify["status"] == "failed"
        assert notify["attempts"] == 1  # not retried: the template will not fix itself
        assert "nickname" in notify["error_message"]
        assert await conn.fetchval("select count(*) from messages") == 0
        [failed] = await audits(conn, "message.failed")
        assert failed["resource_id"] == made["booking_id"]
        assert failed["operation_status"] == "failure"
        assert await conn.fetchval("select status from table_bookings") == "confirmed"


# Twilio and Graph configured ---------------------------------------------------------------------


class TestProviders:
    async def test_the_confirmation_text_goes_to_twilio(
        self,
        live: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
        providers: Providers,
    ) -> None:
        made = await create_booking(live, key, with_email(regular_body()))
        report = await run_worker(live)
        assert report["sent"] == 3
        assert report["outbox"] == 0

        assert providers.twilio.call_count == 1
        request = providers.twilio.calls.last.request
        assert request.method == "POST"
        assert str(request.url) == TWILIO_URL
        assert request.headers["Authorization"] == BASIC_AUTH
        # The confirmation carries the guest's manage link (on PUBLIC_BASE_URL).
        link = re.search(
            r"https://tb\.example/g/[A-Za-z0-9_-]{43}/table-manage",
            twilio_form(request)["Body"][0],
        )
        assert link is not None
        text = (
            "Hi Ann, your table for 4 at The Anchor on Friday 27 November at 19:00 is confirmed."
            f" Reference: {made['booking_reference']}. Manage your booking: {link.group(0)}"
            " Reply STOP to opt out."
        )
        assert twilio_form(request) == {
            "To": [MOBILE],
            "Body": [text],
            "MessagingServiceSid": [SERVICE_SID],
            "StatusCallback": [STATUS_CALLBACK],
        }
        sid = providers.twilio.calls.last.response.json()["sid"]
        [message] = await conn.fetch("select * from messages")
        assert message["message_sid"] == message["twilio_message_sid"] == sid
        assert message["status"] == "queued"
        assert message["twilio_status"] == "accepted"
        assert message["direction"] == "outbound"
        assert message["body"] == text
        assert message["segments"] == 1
        assert str(message["table_booking_id"]) == made["booking_id"]
        assert message["template_key"] == "booking_confirmation_regular"
        assert sms_job(await jobs(conn))["result"]["sid"] == sid
        # Sent, not recorded: nothing in the outbox.
        assert await outbox(conn) == []
        [audit] = await audits(conn, "message.sms_sent")
        assert audit["new_values"]["sid"] == sid

    async def test_the_confirmation_email_goes_to_graph_as_mime_with_a_calendar_file(
        self,
        live: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
        providers: Providers,
    ) -> None:
        made = await create_booking(live, key, with_email(regular_body(allergies=["shellfish"])))
        await run_worker(live)

        assert providers.openid.call_count == 1
        assert providers.token.call_count == 1
        token_form = parse_qs(providers.token.calls.last.request.content.decode())
        assert token_form["grant_type"] == ["client_credentials"]
        assert token_form["client_id"] == ["client"]
        assert providers.sendmail.call_count == 2
        for call in providers.sendmail.calls:
            assert str(call.request.url) == SENDMAIL_URL
            assert call.request.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
            assert call.request.headers["Content-Type"] == "text/plain"
        mails = {m["To"]: m for m in providers.mails()}
        assert set(mails) == {GUEST_EMAIL, MANAGER}

        guest = mails[GUEST_EMAIL]
        assert guest["From"] == SENDER
        assert made["booking_reference"] in guest["Subject"]
        assert guest.get_content_type() == "multipart/mixed"
        plain = guest.get_body(preferencelist=("plain",))
        html = guest.get_body(preferencelist=("html",))
        assert plain is not None and html is not None
        assert made["booking_reference"] in plain.get_content()
        assert made["booking_reference"] in html.get_content()
        [alternative, calendar] = list(guest.iter_parts())
        assert alternative.get_content_type() == "multipart/alternative"
        assert [p.get_content_type() for p in alternative.iter_parts()] == [
            "text/plain",
            "text/html",
        ]
        assert calendar.get_content_type() == "text/calendar"
        assert calendar.get_filename() == f"booking-{made['booking_reference']}.ics"
        assert calendar.get_param("method") == "PUBLISH"
        ics_bytes = calendar.get_payload(decode=True)
        assert isinstance(ics_bytes, bytes)
        ics = ics_bytes.decode()
        assert ics.count("BEGIN:VEVENT") == 1
        assert "DTSTART;TZID=Europe/London:20261127T190000" in ics
        assert "DTEND;TZID=Europe/London:20261127T210000" in ics
        assert f"UID:table-booking-{made['booking_id']}@the-anchor.pub" in ics
        assert "BEGIN:VTIMEZONE" in ics and "TZID:Europe/London" in ics

        manager = mails[MANAGER]
        assert "ALLERGIES" in manager["Subject"]
        manager_html = manager.get_body(preferencelist=("html",))
        assert manager_html is not None
        assert "<strong" in manager_html.get_content()
        assert "ALLERGIES: shellfish" in manager_html.get_content()
        assert list(manager.iter_attachments()) == []
        assert {j["status"] for j in await jobs(conn)} == {"completed"}
        assert len(await audits(conn, "message.email_sent")) == 2

    async def test_twilio_500_is_retried_after_a_minute_then_sent(
        self,
        live: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
        providers: Providers,
    ) -> None:
        providers.twilio.side_effect = then_created(
            twilio_error(500, 20500, "Internal Server Error")
        )
        await create_booking(live, key, regular_body())
        report = await run_worker(live)
        assert report["retrying"] == 1

        sms = sms_job(await jobs(conn))
        assert sms["status"] == "pending"
        assert sms["attempts"] == 1
        assert 50 <= await seconds_until(conn, sms["id"]) <= 61
        assert "Twilio 500" in sms["error_message"]
        # Not sent: its claim is released so the retry may send it.
        assert (
            await conn.fetchval("select count(*) from idempotency_keys where key like 'sms:%'") == 0
        )
        [failure] = await audits(conn, "message.sms_failed")
        assert failure["new_values"]["outcome"] == "retry"
        assert failure["operation_status"] == "failure"
        # Not due yet: a run now leaves it alone.
        assert (await run_worker(live))["claimed"] == 0

        await make_due(conn)
        report = await run_worker(live)
        assert report["sent"] == 1
        sms = sms_job(await jobs(conn))
        assert sms["status"] == "completed"
        assert sms["attempts"] == 2
        assert providers.twilio.call_count == 2
        assert await conn.fetchval("select count(*) from messages") == 1
        assert await conn.fetchval("select status from table_bookings") == "confirmed"

    async def test_retries_back_off_1_2_4_minutes_then_fail(
        self,
        live: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
        providers: Providers,
    ) -> None:
        providers.twilio.side_effect = None
        providers.twilio.respond(503, text="Service Unavailable")
        await create_booking(live, key, regular_body())
        await run_worker(live)
        for attempt, minutes in ((1, 1), (2, 2), (3, 4)):
            sms = sms_job(await jobs(conn))
            assert (sms["status"], sms["attempts"]) == ("pending", attempt)
            delay = await seconds_until(conn, sms["id"])
            assert minutes * 60 - 10 <= delay <= minutes * 60 + 1, (attempt, delay)
            await make_due(conn)
            await run_worker(live)
        sms = sms_job(await jobs(conn))
        assert (sms["status"], sms["attempts"], sms["max_attempts"]) == ("failed", 4, 4)
        assert sms["failed_at"] is not None
        assert providers.twilio.call_count == 4
        outcomes = [a["new_values"]["outcome"] for a in await audits(conn, "message.sms_failed")]
        assert outcomes == ["retry", "retry", "retry", "failed"]
        await make_due(conn)
        assert (await run_worker(live))["claimed"] == 0
        assert await conn.fetchval("select count(*) from messages") == 0
        assert await conn.fetchval("select status from table_bookings") == "confirmed"

    async def test_twilio_21610_opts_the_customer_out_and_is_not_retried(
        self,
        live: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
        providers: Providers,
    ) -> None:
        providers.twilio.side_effect = then_created(
            twilio_error(400, 21610, "Attempt to send to unsubscribed recipient")
        )
        made = await create_booking(live, key, regular_body())
        report = await run_worker(live)
        assert report["failed"] == 1

        customer = await conn.fetchrow("select sms_opt_in, sms_status from customers")
        assert customer is not None
        assert customer["sms_opt_in"] is False
        assert customer["sms_status"] == "opted_out"
        sms = sms_job(await jobs(conn))
        assert (sms["status"], sms["attempts"]) == ("failed", 1)
        assert "21610" in sms["error_message"]
        [audit] = await audits(conn, "message.sms_failed")
        assert audit["resource_id"] == made["booking_id"]
        assert audit["operation_status"] == "failure"
        assert audit["new_values"]["error_code"] == 21610

        await make_due(conn)
        await run_worker(live)
        assert providers.twilio.call_count == 1
        assert await conn.fetchval("select count(*) from messages") == 0
        assert await conn.fetchval("select status from table_bookings") == "confirmed"

    async def test_a_read_timeout_is_never_resent(
        self,
        live: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
        providers: Providers,
    ) -> None:
        # Twilio may have taken the text: the job fails and its claim is kept (intended).
        providers.twilio.side_effect = then_created(httpx.ReadTimeout("no answer"))
        await create_booking(live, key, regular_body())
        report = await run_worker(live)
        assert report["failed"] == 1

        sms = sms_job(await jobs(conn))
        assert sms["status"] == "failed"
        assert "outcome unknown" in sms["error_message"]
        claim = await conn.fetchrow(
            "select response from idempotency_keys where key = $1",
            "sms:" + sms["payload"]["unique_key"],
        )
        assert claim is not None
        assert json.loads(claim["response"])["state"] == "refused"
        [audit] = await audits(conn, "message.sms_failed")
        assert audit["new_values"]["outcome"] == "unknown"

        # Even a job put back by hand is not sent a second time.
        await conn.execute(
            "update jobs set status = 'pending', attempts = 0, scheduled_for = now() where id = $1",
            sms["id"],
        )
        await run_worker(live)
        assert providers.twilio.call_count == 1
        sms = sms_job(await jobs(conn))
        assert sms["status"] == "completed"
        assert sms["result"] == {"skipped": "already_sent"}

    async def test_a_refused_connection_is_retried(
        self,
        live: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
        providers: Providers,
    ) -> None:
        # Nothing reached Twilio: safe to send again.
        providers.twilio.side_effect = then_created(httpx.ConnectError("refused"))
        await create_booking(live, key, regular_body())
        assert (await run_worker(live))["retrying"] == 1
        await make_due(conn)
        await run_worker(live)
        assert providers.twilio.call_count == 2
        assert sms_job(await jobs(conn))["status"] == "completed"
        assert await conn.fetchval("select count(*) from messages") == 1

    async def test_graph_429_with_retry_after_puts_the_email_back(
        self,
        live: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
        providers: Providers,
    ) -> None:
        providers.sendmail.respond(
            429,
            json={"error": {"code": "TooManyRequests", "message": "Slow down"}},
            headers={"Retry-After": "120"},
        )
        await create_booking(live, key, with_email(regular_body()))
        report = await run_worker(live)
        assert report["retrying"] == 2
        assert report["sent"] == 1  # the text still went

        emails = await jobs(conn, "table_booking_email")
        assert len(emails) == 2
        for job in emails:
            assert (job["status"], job["attempts"]) == ("pending", 1)
            assert 110 <= await seconds_until(conn, job["id"]) <= 121
            assert "Graph 429" in job["error_message"]
        # Graph was asked once per email: a long Retry-After is not waited for in the request.
        assert providers.sendmail.call_count == 2

        providers.sendmail.respond(202)
        await make_due(conn)
        await run_worker(live)
        assert {j["status"] for j in await jobs(conn, "table_booking_email")} == {"completed"}
        assert providers.sendmail.call_count == 4

    async def test_a_sub_second_retry_after_still_backs_off(
        self,
        live: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
        providers: Providers,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        async def no_wait(delay: float) -> None:
            pass

        monkeypatch.setattr(graph_mailer, "sleep", no_wait)
        providers.sendmail.respond(
            429,
            json={"error": {"code": "TooManyRequests", "message": "Slow down"}},
            headers={"Retry-After": "0.5"},
        )
        await create_booking(live, key, with_email(regular_body()))
        await run_worker(live)
        emails = await jobs(conn, "table_booking_email")
        assert [(j["status"], j["attempts"]) for j in emails] == [("pending", 1)] * 2
        # The mailer's own single short wait: two requests per email, not eight.
        assert providers.sendmail.call_count == 4

    async def test_graph_refusing_an_email_fails_it_and_is_audited(
        self,
        live: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
        providers: Providers,
    ) -> None:
        providers.sendmail.respond(
            400, json={"error": {"code": "ErrorInvalidRecipients", "message": "Bad address"}}
        )
        made = await create_booking(live, key, with_email(regular_body()))
        await run_worker(live)
        emails = await jobs(conn, "table_booking_email")
        assert {(j["status"], j["attempts"]) for j in emails} == {("failed", 1)}
        failures = await audits(conn, "message.failed")
        assert len(failures) == 2
        assert {a["resource_id"] for a in failures} == {made["booking_id"]}
        assert {a["operation_status"] for a in failures} == {"failure"}

    async def test_failing_providers_never_change_the_booking(
        self,
        live: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
        providers: Providers,
    ) -> None:
        providers.twilio.side_effect = None
        providers.twilio.respond(500, json={"code": 20500, "message": "down"})
        providers.sendmail.respond(503)
        made = await create_booking(live, key, with_email(regular_body()))
        before = await conn.fetchval(
            "select to_jsonb(b)::text from table_bookings b where id = $1::uuid",
            made["booking_id"],
        )
        report = await run_worker(live)
        assert report["retrying"] == 3
        after = await conn.fetchval(
            "select to_jsonb(b)::text from table_bookings b where id = $1::uuid",
            made["booking_id"],
        )
        assert json.loads(after) == json.loads(before)
        view = await live.get(
            f"{BOOKINGS}/{made['booking_reference']}",
            headers={"X-Booking-Token": made["manage_token"]},
        )
        assert view.status_code == 200
        assert view.json()["data"]["status"] == "confirmed"


# Quiet hours -------------------------------------------------------------------------------------


class TestQuietHours:
    @pytest.mark.parametrize(
        ("now", "until"),
        [
            (datetime(2026, 11, 24, 8, 59, tzinfo=UTC), datetime(2026, 11, 24, 9, 0, tzinfo=UTC)),
            (datetime(2026, 11, 24, 9, 0, tzinfo=UTC), None),
            (datetime(2026, 11, 24, 20, 59, tzinfo=UTC), None),
            (datetime(2026, 11, 24, 21, 0, tzinfo=UTC), datetime(2026, 11, 25, 9, 0, tzinfo=UTC)),
            (datetime(2026, 11, 24, 23, 59, tzinfo=UTC), datetime(2026, 11, 25, 9, 0, tzinfo=UTC)),
            # British Summer Time: 21:30 BST is 20:30 UTC; 09:00 BST is 08:00 UTC.
            (datetime(2027, 6, 1, 20, 30, tzinfo=UTC), datetime(2027, 6, 2, 8, 0, tzinfo=UTC)),
            (datetime(2027, 6, 1, 19, 59, tzinfo=UTC), None),
            (datetime(2027, 6, 2, 7, 59, tzinfo=UTC), datetime(2027, 6, 2, 8, 0, tzinfo=UTC)),
            # The night the clocks go back: 09:00 on Sunday is GMT again.
            (datetime(2027, 10, 30, 22, 0, tzinfo=UTC), datetime(2027, 10, 31, 9, 0, tzinfo=UTC)),
        ],
    )
    def test_quiet_until_is_london_time(self, now: datetime, until: datetime | None) -> None:
        assert quiet_until(now) == until

    async def test_a_text_at_21_30_waits_until_09_00_and_the_email_still_goes(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
        clock: FakeClock,
    ) -> None:
        clock.set(datetime(2026, 11, 24, 21, 30, tzinfo=UTC))  # 21:30 in London (GMT)
        await create_booking(client, key, with_email(regular_body()))
        report = await run_worker(client)
        assert report["deferred"] == 1

        sms = sms_job(await jobs(conn))
        assert sms["status"] == "pending"
        assert sms["scheduled_for"] == datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
        assert sms["attempts"] == 0  # waiting uses up no attempt
        assert await conn.fetchval("select count(*) from messages") == 0
        recorded = await outbox(conn)
        assert sorted((r["channel"], r["recipient"]) for r in recorded) == [
            ("email", GUEST_EMAIL),
            ("email", MANAGER),
        ]

        # Due again (by the database clock) but still night by the pub's: deferred again.
        await make_due(conn)
        clock.set(datetime(2026, 11, 25, 6, 0, tzinfo=UTC))
        assert (await run_worker(client))["deferred"] == 1
        sms = sms_job(await jobs(conn))
        assert sms["attempts"] == 0
        assert sms["scheduled_for"] == datetime(2026, 11, 25, 9, 0, tzinfo=UTC)

        clock.set(datetime(2026, 11, 25, 9, 0, tzinfo=UTC))
        await make_due(conn)
        assert (await run_worker(client))["outbox"] == 1
        assert sms_job(await jobs(conn))["status"] == "completed"
        assert await conn.fetchval("select count(*) from messages") == 1

    async def test_a_run_handles_each_job_once_when_the_database_clock_disagrees(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
        clock: FakeClock,
    ) -> None:
        await create_booking(client, key, with_email(regular_body()))
        # The app's clock says 21:30 in London; the database's says it is days later, so the
        # text deferred to 09:00 (by the app's clock) is already due again by the database's.
        clock.set(datetime(2026, 11, 24, 21, 30, tzinfo=UTC))
        await conn.execute("update jobs set scheduled_for = now() - interval '1 second'")
        report = await run_worker(client)
        sms = sms_job(await jobs(conn))
        assert await conn.fetchval("select $1::timestamptz <= now()", sms["scheduled_for"])
        # notify, then the guest's text and email and the manager's alert: each claimed once.
        assert report["claimed"] == 4, report
        assert report["deferred"] == 1
        assert sms["status"] == "pending"
        assert sms["attempts"] == 0

        # The next run meets it again, once, and defers it again (still night by the app's clock).
        again = await run_worker(client)
        assert (again["claimed"], again["deferred"]) == (1, 1), again

    async def test_a_deferred_text_says_why_in_the_log(
        self,
        client: httpx.AsyncClient,
        db: PostgresDatabase,
        key: dict[str, str],
        clock: FakeClock,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        clock.set(datetime(2026, 11, 24, 7, 30, tzinfo=UTC))
        await create_booking(client, key, regular_body())
        senders = Senders(sms=None, email=None, staff=StaffAddresses(manager=None, kitchen=None))
        with caplog.at_level(logging.INFO, logger="app.worker"):
            report = await process_jobs(db, senders=senders, now=clock())
        assert (report.deferred, report.outbox) == (1, 0)
        lines = {r.getMessage() for r in caplog.records if "message.deferred" in r.getMessage()}
        [line] = lines
        assert "until=2026-11-24T09:00:00+00:00" in line and "SMS_QUIET_HOURS=false" in line

    async def test_development_switch_sends_texts_at_once(
        self,
        settings: Settings,
        db: PostgresDatabase,
        key: dict[str, str],
        conn: asyncpg.Connection,
        clock: FakeClock,
    ) -> None:
        # Issue 18, item 4: at 07:30 a newcomer in outbox mode sees the text with the switch off.
        app = create_app(
            settings.model_copy(update={"sms_quiet_hours": False}), database=db, clock=clock
        )
        clock.set(datetime(2026, 11, 24, 7, 30, tzinfo=UTC))
        async with asgi_client(app) as client:
            await create_booking(client, key, regular_body())
            report = await run_worker(client)
        assert (report["deferred"], report["outbox"]) == (0, 2)  # the guest's text, the alert
        assert [r["recipient"] for r in await outbox(conn) if r["channel"] == "sms"] == [MOBILE]


# Opt-outs and messaging health -------------------------------------------------------------------


class TestOptOut:
    async def test_an_opted_out_guest_gets_no_text_and_one_email(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        body = with_email(regular_body())
        body["customer"]["sms_opt_in"] = False
        await create_booking(client, key, body)
        report = await run_worker(client)
        assert report["skipped"] == 1

        sms = sms_job(await jobs(conn))
        assert sms["status"] == "completed"
        assert sms["result"] == {"skipped": "opted_out", "fallback": "email"}
        assert await conn.fetchval("select count(*) from messages") == 0
        # The confirmation email already exists, so the fallback queues nothing more.
        guest = [
            j for j in await jobs(conn, "table_booking_email") if j["payload"]["to"] == GUEST_EMAIL
        ]
        assert len(guest) == 1
        assert [r["channel"] for r in await outbox(conn) if r["recipient"] == GUEST_EMAIL] == [
            "email"
        ]
        assert not [r for r in await outbox(conn) if r["channel"] == "sms"]

    async def test_a_text_that_cannot_go_falls_back_to_email_when_none_was_queued(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
        clock: FakeClock,
    ) -> None:
        # A review request is a text only; when the guest opted out meanwhile, it goes by email.
        await conn.execute(
            "insert into system_settings (key, value)"
            " values ('google_review_link', '{\"value\": \"https://g.page/r/x\"}')"
        )
        made = await create_booking(client, key, with_email(regular_body()))
        await run_worker(client)
        clock.set(datetime(2026, 11, 28, 10, 0, tzinfo=UTC))
        response = await client.get("/api/cron/table-booking-reviews", headers=CRON)
        assert response.json()["data"]["queued"] == 1
        await conn.execute("update customers set sms_opt_in = false")

        await run_worker(client)

        review = sms_job(await jobs(conn), "review_request")
        assert review["result"] == {"skipped": "opted_out", "fallback": "email"}
        [fallback] = [
            j
            for j in await jobs(conn, "table_booking_email")
            if j["payload"]["metadata"].get("template_key") == "review_request"
        ]
        assert fallback["status"] == "completed"
        assert fallback["payload"]["to"] == GUEST_EMAIL
        assert "https://g.page/r/x" in fallback["payload"]["text"]
        assert fallback["payload"]["metadata"]["fallback_for"] == "sms"
        assert fallback["payload"]["metadata"]["table_booking_id"] == made["booking_id"]
        [recorded] = [r for r in await outbox(conn) if r["template_key"] == "review_request"]
        assert (recorded["channel"], recorded["recipient"]) == ("email", GUEST_EMAIL)
        assert (
            await conn.fetchval(
                "select count(*) from messages where template_key = 'review_request'"
            )
            == 0
        )

    async def test_an_unhealthy_number_gets_no_text(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        await create_booking(client, key, regular_body())
        await conn.execute("update customers set messaging_status = 'invalid_number'")
        await run_worker(client)
        sms = sms_job(await jobs(conn))
        assert sms["status"] == "completed"
        # No email address: nothing to fall back to.
        assert sms["result"] == {"skipped": "messaging_invalid_number", "fallback": None}
        assert await conn.fetchval("select count(*) from messages") == 0
        assert [r["recipient"] for r in await outbox(conn)] == [MANAGER]


# Overlapping runs and leases ---------------------------------------------------------------------


async def queue_texts(conn: asyncpg.Connection, booking_id: str, count: int) -> list[str]:
    """``count`` distinct texts to the booking's guest, queued as the worker queues them."""
    customer_id = await conn.fetchval(
        "select customer_id::text from table_bookings where id = $1::uuid", booking_id
    )
    keys = [f"{booking_id}:test_{i}:sms:default" for i in range(count)]
    sends = [
        {
            "unique_key": k,
            "type": "table_booking_sms",
            "table_booking_id": booking_id,
            "payload": {
                "to": MOBILE,
                "message": f"Test message {i}",
                "customer_id": customer_id,
                "metadata": {"template_key": f"test_{i}", "table_booking_id": booking_id},
            },
        }
        for i, k in enumerate(keys)
    ]
    result = json.loads(
        await conn.fetchval("select table_booking_queue_sends($1::jsonb)::text", json.dumps(sends))
    )
    assert result == {"queued": count, "duplicates": 0}
    return keys


async def booking_without_messages(
    client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
) -> str:
    made = await create_booking(client, key, regular_body())
    await conn.execute("update jobs set status = 'completed' where type = 'table_booking_notify'")
    booking_id: str = made["booking_id"]
    return booking_id


class TestOverlappingRuns:
    async def test_two_overlapping_runs_send_each_text_once(
        self,
        live: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
        providers: Providers,
    ) -> None:
        async def slow(request: httpx.Request) -> httpx.Response:
            await asyncio.sleep(0.02)
            return twilio_created(request)

        providers.twilio.side_effect = slow
        booking_id = await booking_without_messages(live, key, conn)
        # More than one batch (25), so both runs claim; three jobs repeat a text's unique key.
        keys = await queue_texts(conn, booking_id, 28)
        await conn.execute(
            "insert into jobs (type, payload, priority, max_attempts)"
            " select type, payload, priority, max_attempts from jobs"
            " where type = 'table_booking_sms' and payload ->> 'unique_key' = any($1::text[])",
            keys[:3],
        )

        first, second = await asyncio.gather(run_worker(live), run_worker(live))

        assert first["claimed"] > 0 and second["claimed"] > 0
        assert first["claimed"] + second["claimed"] == 31
        bodies = Counter(providers.texts())
        assert len(bodies) == 28
        assert set(bodies.values()) == {1}
        assert providers.twilio.call_count == 28
        rows = await conn.fetch("select body from messages")
        assert len(rows) == 28
        assert len({r["body"] for r in rows}) == 28
        assert {j["status"] for j in await jobs(conn, "table_booking_sms")} == {"completed"}

    async def test_a_run_that_takes_over_an_expired_lease_mid_send_sends_nothing_twice(
        self,
        live: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
        providers: Providers,
    ) -> None:
        second_run: list[dict[str, int]] = []
        started = False

        async def slow_first(request: httpx.Request) -> httpx.Response:
            nonlocal started
            if not started:
                started = True
                # The first run is so slow that its leases run out; another run starts.
                await conn.execute(
                    "update jobs set lease_expires_at = now() - interval '1 second'"
                    " where status = 'processing'"
                )
                second_run.append(await run_worker(live))
            return twilio_created(request)

        providers.twilio.side_effect = slow_first
        booking_id = await booking_without_messages(live, key, conn)
        await queue_texts(conn, booking_id, 3)

        first = await run_worker(live)

        assert first["claimed"] == 3
        assert second_run[0]["claimed"] == 3
        assert Counter(providers.texts()) == {f"Test message {i}": 1 for i in range(3)}
        assert await conn.fetchval("select count(*) from messages") == 3
        # The text that was in flight when its lease was taken over is handed back for later,
        # not marked sent by the run that could not know; once due, it completes unsent.
        assert sorted(j["status"] for j in await jobs(conn, "table_booking_sms")) == [
            "completed",
            "completed",
            "pending",
        ]
        await conn.execute(
            "update jobs set scheduled_for = now() - interval '1 second' where status = 'pending'"
        )
        await run_worker(live)
        assert {j["status"] for j in await jobs(conn, "table_booking_sms")} == {"completed"}
        assert providers.twilio.call_count == 3
        assert await conn.fetchval("select count(*) from messages") == 3

    async def test_a_failed_send_whose_lease_was_taken_over_is_still_sent_later(
        self,
        live: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
        providers: Providers,
    ) -> None:
        started = False

        async def slow_then_500(request: httpx.Request) -> httpx.Response:
            nonlocal started
            if started:
                return twilio_created(request)
            started = True
            await conn.execute(
                "update jobs set lease_expires_at = now() - interval '1 second'"
                " where status = 'processing'"
            )
            await run_worker(live)  # takes over the lease while Twilio is still answering
            return twilio_error(500, 20500, "Internal Server Error")

        providers.twilio.side_effect = slow_then_500
        booking_id = await booking_without_messages(live, key, conn)
        await queue_texts(conn, booking_id, 1)
        await run_worker(live)
        await make_due(conn)
        await run_worker(live)

        assert providers.twilio.call_count == 2
        assert providers.texts() == ["Test message 0"] * 2
        assert await conn.fetchval("select count(*) from messages") == 1

    async def test_an_expired_lease_is_recovered_and_processed(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        await create_booking(client, key, regular_body())
        # A worker claimed the job and died.
        await conn.execute(
            "update jobs set status = 'processing', attempts = 1,"
            " processing_token = gen_random_uuid(), started_at = now() - interval '5 minutes',"
            " lease_expires_at = now() - interval '3 minutes'"
        )
        report = await run_worker(client)
        assert report["claimed"] == 3
        [notify] = await jobs(conn, "table_booking_notify")
        assert (notify["status"], notify["attempts"]) == ("completed", 2)
        assert sms_job(await jobs(conn))["status"] == "completed"
        assert await conn.fetchval("select count(*) from messages") == 1

    async def test_a_live_lease_is_left_alone(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        await create_booking(client, key, regular_body())
        await conn.execute(
            "update jobs set status = 'processing', attempts = 1,"
            " processing_token = gen_random_uuid(), lease_expires_at = now() + interval '1 minute'"
        )
        assert (await run_worker(client))["claimed"] == 0
        assert (await jobs(conn))[0]["status"] == "processing"

    async def test_an_expired_lease_with_no_attempts_left_fails(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        await create_booking(client, key, regular_body())
        await conn.execute(
            "update jobs set status = 'processing', attempts = max_attempts,"
            " processing_token = gen_random_uuid(), lease_expires_at = now() - interval '1 minute'"
        )
        assert (await run_worker(client))["claimed"] == 0
        [notify] = await jobs(conn)
        assert notify["status"] == "failed"
        assert notify["error_message"] == "lease expired"
        assert notify["failed_at"] is not None


# Sunday lunch and cancellation -------------------------------------------------------------------


class TestSundayLunch:
    async def test_the_deposit_confirms_and_only_then_the_guest_hears(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
        menu: dict[str, str],
    ) -> None:
        made = await create_booking(
            client, key, with_email(sunday_body(menu, allergies=["tree nuts"]))
        )
        assert made["status"] == "pending_payment"
        await run_worker(client)
        assert await jobs(conn, "table_booking_sms") == []
        assert await conn.fetchval("select count(*) from messages") == 0
        [alert] = await outbox(conn)
        assert (alert["channel"], alert["recipient"]) == ("email", MANAGER)
        assert alert["subject"].startswith("New Sunday lunch (deposit due)")
        assert "ALLERGIES" in alert["subject"]

        # The payment step confirms it, as each writer of ours does: the update, then the hook
        # that queues what follows from it (no trigger on the pub's table does).
        await conn.execute(
            "with before as (select t from table_bookings t where id = $1::uuid),"
            " after as (update table_bookings t set status = 'confirmed' where id = $1::uuid"
            " returning t)"
            " select tb_booking_written((select t from before), (select t from after))",
            made["booking_id"],
        )
        await run_worker(client)

        sms = sms_job(await jobs(conn), "booking_confirmation_sunday_lunch")
        text = sms["payload"]["message"]
        assert "Sunday lunch booking for 2 on Sunday 29 November at 13:00 is confirmed" in text
        assert "£10.00 deposit paid, £19.98 due on arrival" in text
        assert made["booking_reference"] in text
        [message] = await conn.fetch("select body, template_key from messages")
        assert message["body"] == text
        recorded = {(r["recipient"], r["template_key"]): r for r in await outbox(conn)}
        assert set(recorded) == {
            (MANAGER, "staff_created"),
            (MOBILE, "booking_confirmation_sunday_lunch"),
            (GUEST_EMAIL, "booking_confirmation_sunday_lunch"),
            (MANAGER, "staff_confirmed"),
            (KITCHEN, "staff_confirmed"),
        }
        kitchen = recorded[(KITCHEN, "staff_confirmed")]
        assert kitchen["body"].startswith("ALLERGIES: tree nuts")
        assert "Roasts: 2x Roasted Chicken" in kitchen["body"]
        assert "Deposit paid" in kitchen["subject"]
        assert recorded[(GUEST_EMAIL, "booking_confirmation_sunday_lunch")]["attachments"]


class TestCancellation:
    async def test_cancelling_over_http_sends_the_cancellation(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        made = await create_booking(client, key, with_email(regular_body()))
        await run_worker(client)
        response = await client.post(
            f"{BOOKINGS}/{made['booking_reference']}/cancel",
            json={"reason": "Plans changed"},
            headers={"X-Booking-Token": made["manage_token"]},
        )
        assert response.status_code == 200, response.text
        notifies = await jobs(conn, "table_booking_notify")
        assert [j["payload"]["event"] for j in notifies] == ["created", "cancelled"]

        await run_worker(client)

        sms = sms_job(await jobs(conn), "cancellation")
        assert sms["status"] == "completed"
        assert sms["payload"]["message"] == (
            f"Your booking {made['booking_reference']} at The Anchor has been cancelled."
            " No payment was taken. For assistance call 01753 682707."
        )
        recorded = {(r["recipient"], r["template_key"]): r for r in await outbox(conn)}
        assert (MOBILE, "cancellation") in recorded
        guest = recorded[(GUEST_EMAIL, "cancellation")]
        assert "has been cancelled" in guest["body"]
        assert guest["attachments"] == []
        assert recorded[(MANAGER, "staff_cancelled")]["subject"].startswith("Booking cancelled")

    async def test_a_refund_without_paypal_configured_reaches_staff_not_a_promise(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
        menu: dict[str, str],
    ) -> None:
        made = await create_booking(client, key, with_email(sunday_body(menu)))
        # Paid through PayPal (capture recorded), and PayPal is not configured here.
        await conn.execute(
            "update table_booking_payments set status = 'completed', paid_at = now(),"
            " transaction_id = 'CAPTURE-1' where booking_id = $1::uuid",
            made["booking_id"],
        )
        await conn.execute(
            "update table_bookings set status = 'confirmed', payment_status = 'completed',"
            " paypal_deposit_capture_id = 'CAPTURE-1', hold_expires_at = null"
            " where id = $1::uuid",
            made["booking_id"],
        )
        response = await client.post(
            f"{BOOKINGS}/{made['booking_reference']}/cancel",
            headers={"X-Booking-Token": made["manage_token"]},
        )
        assert response.json()["data"]["refund"]["amount"] == "10.00"

        await run_worker(client)

        [job] = await jobs(conn, "table_booking_refund")
        assert (job["status"], job["error_message"]) == ("failed", "PayPal is not configured")
        [audit] = await audits(conn, "payment.refund_failed")
        assert audit["error_message"] == "PayPal is not configured"
        recorded = {(r["recipient"], r["template_key"]): r for r in await outbox(conn)}
        assert "could not be made" in recorded[(MANAGER, "staff_refund_failed")]["body"]
        for channel_to in (MOBILE, GUEST_EMAIL):
            body = recorded[(channel_to, "cancellation")]["body"]
            assert "A refund of £10.00 is due to you; our team will contact you" in body
            assert "3-5 working days" not in body


async def move_to(client: httpx.AsyncClient, made: dict[str, Any], time: str) -> None:
    """The guest moves their booking to another time."""
    response = await client.patch(
        f"{BOOKINGS}/{made['booking_reference']}",
        json={"time": time},
        headers={"X-Booking-Token": made["manage_token"]},
    )
    assert response.status_code == 200, response.text


class TestChanges:
    async def test_an_allergy_added_alone_is_announced_to_guest_and_staff(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        made = await create_booking(client, key, with_email(regular_body()))
        await run_worker(client)
        reference, token = made["booking_reference"], made["manage_token"]
        response = await client.patch(
            f"{BOOKINGS}/{reference}",
            json={"allergies": ["sesame"]},
            headers={"X-Booking-Token": token},
        )
        assert response.status_code == 200, response.text
        notifies = await jobs(conn, "table_booking_notify")
        assert [j["payload"]["event"] for j in notifies] == ["created", "updated"]

        await run_worker(client)

        recorded = {(r["recipient"], r["template_key"]): r for r in await outbox(conn)}
        alert = recorded[(MANAGER, "staff_updated")]
        assert "ALLERGIES" in alert["subject"]
        assert "ALLERGIES: sesame" in alert["body"]
        assert (MOBILE, "booking_update_regular") in recorded

    async def test_a_change_that_changes_nothing_announces_nothing(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        made = await create_booking(client, key, regular_body())
        response = await client.patch(
            f"{BOOKINGS}/{made['booking_reference']}",
            json={"party_size": 4, "time": "19:00"},
            headers={"X-Booking-Token": made["manage_token"]},
        )
        assert response.status_code == 200, response.text
        notifies = await jobs(conn, "table_booking_notify")
        assert [j["payload"]["event"] for j in notifies] == ["created"]

    async def test_a_change_before_the_confirmation_went_sends_one_current_confirmation(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        made = await create_booking(client, key, with_email(regular_body()))
        await move_to(client, made, "19:30")

        await run_worker(client)

        guest = [r for r in await outbox(conn) if r["recipient"] in (MOBILE, GUEST_EMAIL)]
        assert sorted((r["channel"], r["template_key"]) for r in guest) == [
            ("email", "booking_confirmation_regular"),
            ("sms", "booking_confirmation_regular"),
        ]
        for record in guest:
            assert "19:30" in record["body"] and "19:00" not in record["body"], record["body"]
        superseded = [j for j in await jobs(conn) if j["status"] == "cancelled"]
        assert {j["type"] for j in superseded} == {"table_booking_sms", "table_booking_email"}
        assert all(j["result"] == {"skipped": "superseded"} for j in superseded)
        # The staff still hear of both.
        staff = {r["template_key"] for r in await outbox(conn) if r["recipient"] == MANAGER}
        assert staff == {"staff_created", "staff_updated"}

    async def test_a_held_back_text_is_replaced_by_the_current_confirmation(
        self,
        live: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
        providers: Providers,
    ) -> None:
        providers.twilio.side_effect = then_created(
            twilio_error(500, 20500, "Internal Server Error")
        )
        made = await create_booking(live, key, with_email(regular_body()))
        await run_worker(live)  # the email goes; the text waits a minute for its retry
        assert sms_job(await jobs(conn))["status"] == "pending"
        await move_to(live, made, "19:30")

        await run_worker(live)
        await make_due(conn)
        await run_worker(live)

        texts = providers.texts()
        assert len(texts) == 2, texts  # the refused attempt, then one text
        assert "19:00" in texts[0]
        assert texts[1].startswith("Hi Ann, your table for 4 at The Anchor on Friday 27 November")
        assert "at 19:30 is confirmed" in texts[1]
        [old] = [j for j in await jobs(conn, "table_booking_sms") if j["status"] == "cancelled"]
        assert old["result"] == {"skipped": "superseded"}
        # The email had gone with the old time, so by email the guest gets the update.
        subjects = [str(m["Subject"]) for m in providers.mails() if m["To"] == GUEST_EMAIL]
        assert [s.split(" (")[0] for s in subjects] == [
            "Your table at The Anchor is booked",
            "Your booking at The Anchor has changed",
        ]


# Cron authentication -----------------------------------------------------------------------------


class TestCronAuth:
    @pytest.mark.parametrize(
        "path",
        [
            PROCESS_JOBS,
            "/api/cron/table-booking-reminders",
            "/api/cron/table-booking-reviews",
        ],
    )
    @pytest.mark.parametrize(
        "headers",
        [
            {},
            {"Authorization": "Bearer wrong-secret"},
            {"Authorization": "test-cron-secret-0123456789"},
            {"Authorization": "Bearer test-cron-secret-012345678"},
            {"Authorization": "Basic dGVzdC1jcm9uLXNlY3JldC0wMTIzNDU2Nzg5"},
        ],
    )
    async def test_without_the_secret_it_is_401(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
        path: str,
        headers: dict[str, str],
    ) -> None:
        await create_booking(client, key, regular_body())
        response = await client.get(path, headers=headers)
        assert response.status_code == 401
        assert envelope_error(response)["code"] == "UNAUTHORIZED"
        assert [j["status"] for j in await jobs(conn)] == ["pending"]

    async def test_an_api_key_is_not_the_cron_secret(
        self, client: httpx.AsyncClient, key: dict[str, str]
    ) -> None:
        response = await client.get(
            PROCESS_JOBS, headers={"Authorization": f"Bearer {key['X-API-Key']}"}
        )
        assert response.status_code == 401
        assert envelope_error(response)["code"] == "UNAUTHORIZED"
