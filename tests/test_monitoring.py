"""Monitoring: the figures for the last hour and day, alerts to the manager once per condition
and hour, the database-unreachable path, ``/metrics`` in Prometheus text, and the per-request
statistics middleware."""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import APIRouter, FastAPI

from app.config import Settings
from app.db.postgres import PostgresDatabase
from app.errors import ServiceUnavailable
from app.integrations.graph import Email
from app.main import create_app
from app.services.monitoring import RequestStats, UsageRecorder
from tests.conftest import FakeClock, asgi_client, create_booking, envelope_error, sunday_body

CRON = {"Authorization": "Bearer test-cron-secret-0123456789"}
MONITORING = "/api/cron/table-booking-monitoring"
METRICS = "/metrics"
MANAGER = "manager@the-anchor.pub"
PERIOD = "2026-11-24T10"  # the default clock's hour (UTC)


# Seeding -----------------------------------------------------------------------------------------


class Seed:
    """Rows written straight into the test's database, at times relative to the clock."""

    def __init__(self, conn: asyncpg.Connection, now: datetime) -> None:
        self.conn = conn
        self.now = now
        self._customer: Any = None
        self._booking: Any = None

    def ago(self, **delta: float) -> datetime:
        return self.now - timedelta(**delta)

    async def audit(
        self,
        operation: str,
        status: str,
        at: datetime,
        *,
        resource_id: str | None = None,
        new_values: dict[str, Any] | None = None,
    ) -> None:
        await self.conn.execute(
            "insert into audit_logs (operation_type, resource_type, resource_id,"
            " operation_status, new_values, created_at) values ($1, 'table_booking', $2, $3,"
            " $4::jsonb, $5)",
            operation,
            resource_id or str(uuid.uuid4()),
            status,
            json.dumps(new_values) if new_values is not None else None,
            at,
        )

    async def customer(self) -> Any:
        if self._customer is None:
            self._customer = await self.conn.fetchval(
                "insert into customers (first_name, last_name, mobile_number, mobile_e164)"
                " values ('Ann', 'Lee', '+447911123456', '+447911123456') returning id"
            )
        return self._customer

    async def booking(self, status: str = "confirmed", start: datetime | None = None) -> Any:
        start = start or self.now + timedelta(days=3)
        return await self.conn.fetchval(
            "insert into table_bookings (customer_id, booking_date, booking_time, party_size,"
            " committed_party_size, booking_type, status, start_datetime, end_datetime) values ($1,"
            " ($2 at time zone 'Europe/London')::date, ($2 at time zone 'Europe/London')::time,"
            " 2, 2, 'regular', $3, $2, $2 + interval '2 hours') returning id",
            await self.customer(),
            start,
            status,
        )

    async def any_booking(self) -> Any:
        if self._booking is None:
            self._booking = await self.booking()
        return self._booking

    async def sms(
        self,
        twilio_status: str | None,
        at: datetime,
        *,
        status: str | None = None,
        direction: str = "outbound",
        table_booking: bool = True,
    ) -> None:
        await self.conn.execute(
            "insert into messages (customer_id, direction, message_sid, body, status,"
            " twilio_status, table_booking_id, created_at, updated_at)"
            " values ($1, $2, $3, 'text', $4, $5, $6, $7, $7)",
            await self.customer(),
            direction,
            f"SM{uuid.uuid4().hex}",
            status or twilio_status or "queued",
            twilio_status,
            await self.any_booking() if table_booking else None,
            at,
        )

    async def deposit(self, created: datetime, paid: datetime | None, status: str) -> None:
        await self.conn.execute(
            "insert into table_booking_payments (booking_id, amount, status, created_at, paid_at)"
            " values ($1, 10.00, $2, $3, $4)",
            await self.booking(),
            status,
            created,
            paid,
        )

    async def requests(self, rows: list[tuple[int, float, datetime]]) -> None:
        await self.conn.executemany(
            "insert into table_booking_request_stats (route, method, status, duration_ms,"
            " created_at) values ('/api/table-bookings', 'GET', $1, $2, $3)",
            rows,
        )


async def seed_figures(seed: Seed) -> None:
    """A small, known mix across the hour, the day and older."""
    # Bookings: 3 created and 1 refused in the hour; 1 more created 2 hours ago; 1 refused 25h ago.
    for minutes in (10, 20, 30):
        await seed.audit("table_booking.created", "success", seed.ago(minutes=minutes))
    await seed.audit("table_booking.create_refused", "failure", seed.ago(minutes=5))
    await seed.audit("table_booking.created", "success", seed.ago(hours=2))
    await seed.audit("table_booking.create_refused", "failure", seed.ago(hours=25))
    # Captures: b1 and b2 in the hour (b2 reported twice: return page and webhook), b3 3h ago.
    b1, b2, b3, b4, b5 = (str(uuid.uuid4()) for _ in range(5))
    await seed.audit("payment.captured", "success", seed.ago(minutes=10), resource_id=b1)
    await seed.audit("payment.captured", "success", seed.ago(minutes=40), resource_id=b2)
    await seed.audit(
        "payment.capture_after_release", "success", seed.ago(minutes=39), resource_id=b2
    )
    await seed.audit("payment.captured", "success", seed.ago(hours=3), resource_id=b3)
    # Failures: b4 mismatched (twice) in the hour; b5 denied 5h ago; a refund is no failure.
    for minutes in (15, 14):
        await seed.audit(
            "payment.capture_amount_mismatch", "failure", seed.ago(minutes=minutes), resource_id=b4
        )
    await seed.audit("payment.capture_denied", "failure", seed.ago(hours=5), resource_id=b5)
    await seed.audit("payment.refunded", "success", seed.ago(minutes=3))
    # Deposits: 2 asked in the hour (1 paid); 1 asked 3h ago and paid; 1 asked 26h ago.
    await seed.deposit(seed.ago(minutes=20), seed.ago(minutes=10), "completed")
    await seed.deposit(seed.ago(minutes=50), None, "pending")
    await seed.deposit(seed.ago(hours=3), seed.ago(hours=2, minutes=50), "completed")
    await seed.deposit(seed.ago(hours=26), None, "failed")
    # Texts: in the hour 4 delivered (one read), 1 undelivered, 1 still sent, plus rows that do
    # not count (outbox, inbound, not a table booking's); 1 failed 2h ago.
    for minutes in (10, 20, 30):
        await seed.sms("delivered", seed.ago(minutes=minutes))
    await seed.sms("read", seed.ago(minutes=35))
    await seed.sms("undelivered", seed.ago(minutes=15), status="failed")
    await seed.sms("sent", seed.ago(minutes=5))
    await seed.sms(None, seed.ago(minutes=5), status="outbox")
    await seed.sms("received", seed.ago(minutes=5), direction="inbound")
    await seed.sms("failed", seed.ago(minutes=5), table_booking=False)
    await seed.sms("failed", seed.ago(hours=2))
    # Provider refusals: one final (counts), one to be retried (does not).
    await seed.audit("message.sms_failed", "failure", seed.ago(minutes=20))
    await seed.audit(
        "message.sms_failed", "failure", seed.ago(minutes=20), new_values={"outcome": "retry"}
    )
    # Requests: 10 in the hour (10..100 ms; one 500, one 404), 2 five hours ago.
    rows = [(200, float(ms), seed.ago(minutes=ms // 2)) for ms in range(10, 101, 10)]
    rows[0], rows[1] = (500, 10.0, rows[0][2]), (404, 20.0, rows[1][2])
    await seed.requests([*rows, (503, 1000.0, seed.ago(hours=5)), (200, 2000.0, seed.ago(hours=5))])
    # No-shows: started 30 min ago 1 no-show and 3 completed (and a confirmed one, unmarked);
    # 3h ago 1 no-show; 2 days ago 1 no-show (outside both windows).
    await seed.booking("no_show", seed.ago(minutes=30))
    for _ in range(3):
        await seed.booking("completed", seed.ago(minutes=30))
    await seed.booking("confirmed", seed.ago(minutes=30))
    await seed.booking("no_show", seed.ago(hours=3))
    await seed.booking("no_show", seed.ago(days=2))


async def seed_every_alert(seed: Seed) -> None:
    """Each condition once: a failed capture, an undelivered text, a server error."""
    await seed.audit("payment.capture_denied", "failure", seed.ago(minutes=10))
    await seed.sms("undelivered", seed.ago(minutes=10), status="failed")
    await seed.requests([(200, 5.0, seed.ago(minutes=5)), (500, 7.0, seed.ago(minutes=4))])


# Helpers -----------------------------------------------------------------------------------------


async def run_monitoring(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get(MONITORING, headers=CRON)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    data: dict[str, Any] = body["data"]
    return data


async def alert_keys(conn: asyncpg.Connection) -> list[str]:
    rows = await conn.fetch(
        "select unique_key from table_booking_message_ledger where unique_key like 'alert:%'"
        " order by unique_key"
    )
    return [r["unique_key"] for r in rows]


SAMPLE = re.compile(
    r'^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>[a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*"'
    r'(?:,[a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*")*)\})? (?P<value>\S+)$'
)
COMMENT = re.compile(r"^# (?P<kind>HELP|TYPE) (?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*) (?P<rest>.+)$")


def parse_prometheus(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every line is a HELP, a TYPE (gauge, before the samples) or a sample; values are floats."""
    assert text.endswith("\n")
    typed: set[str] = set()
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for line in text.splitlines():
        if line.startswith("#"):
            comment = COMMENT.match(line)
            assert comment is not None, line
            if comment["kind"] == "TYPE":
                assert comment["rest"] == "gauge", line
                assert comment["name"] not in typed, f"TYPE twice: {line}"
                typed.add(comment["name"])
            continue
        sample = SAMPLE.match(line)
        assert sample is not None, line
        assert sample["name"] in typed, f"sample before its TYPE: {line}"
        labels = frozenset(
            tuple(pair.split("=", 1)) for pair in (sample["labels"] or "").split(",") if pair
        )
        key = (sample["name"], frozenset((k, v.strip('"')) for k, v in labels))
        assert key not in samples, f"duplicate sample: {line}"
        samples[key] = float(sample["value"])
    return samples


def gauge(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return samples[(name, frozenset(labels.items()))]


@pytest.fixture
def seed(conn: asyncpg.Connection, clock: FakeClock) -> Seed:
    return Seed(conn, clock.now)


@pytest.fixture
async def down_database() -> AsyncIterator[PostgresDatabase]:
    # A port nothing listens on: every call is ServiceUnavailable.
    down = await PostgresDatabase.connect(
        "postgresql://postgres@127.0.0.1:9/postgres", connect_timeout=1
    )
    try:
        yield down
    finally:
        await down.close()


# The figures -------------------------------------------------------------------------------------


class TestFigures:
    async def test_rates_are_exact_and_windows_honoured(
        self, client: httpx.AsyncClient, seed: Seed
    ) -> None:
        await seed_figures(seed)
        data = await run_monitoring(client)
        assert data["now"] == "2026-11-24T10:00:00Z"
        hour, day = data["windows"]["hour"], data["windows"]["day"]
        assert (hour["from"], hour["to"]) == ("2026-11-24T09:00:00Z", "2026-11-24T10:00:00Z")
        assert day["from"] == "2026-11-23T10:00:00Z"

        assert hour["bookings"] == {"created": 3, "refused": 1, "success_rate": 0.75}
        assert day["bookings"] == {"created": 4, "refused": 1, "success_rate": 0.8}

        assert hour["payments"] == {
            "deposits_requested": 2,
            "deposits_paid": 1,
            "completion_rate": 0.5,
            "captured": 2,
            "failed": 1,
            "failure_rate": 0.3333,
        }
        assert day["payments"] == {
            "deposits_requested": 3,
            "deposits_paid": 2,
            "completion_rate": 0.6667,
            "captured": 3,
            "failed": 2,
            "failure_rate": 0.4,
        }

        assert hour["sms"] == {
            "delivered": 4,
            "failed": 1,
            "rejected": 1,
            "pending": 1,
            "delivery_rate": 0.6667,
        }
        assert day["sms"] == {
            "delivered": 4,
            "failed": 2,
            "rejected": 1,
            "pending": 1,
            "delivery_rate": 0.5714,
        }

        assert hour["api"] == {
            "requests": 10,
            "errors": 1,
            "client_errors": 1,
            "error_rate": 0.1,
            "latency_ms": {"avg": 55.0, "p50": 55.0, "p95": 95.5, "p99": 99.1, "max": 100.0},
        }
        assert day["api"] == {
            "requests": 12,
            "errors": 2,
            "client_errors": 1,
            "error_rate": 0.1667,
            "latency_ms": {"avg": 295.8, "p50": 65.0, "p95": 1450.0, "p99": 1890.0, "max": 2000.0},
        }

        assert hour["no_shows"] == {"no_shows": 1, "attended": 3, "rate": 0.25}
        assert day["no_shows"] == {"no_shows": 2, "attended": 3, "rate": 0.4}

    async def test_nothing_happened_means_no_rates(self, client: httpx.AsyncClient) -> None:
        data = await run_monitoring(client)
        hour = data["windows"]["hour"]
        assert hour["bookings"]["success_rate"] is None
        assert hour["payments"]["failure_rate"] is None
        assert hour["sms"]["delivery_rate"] is None
        assert hour["api"] == {
            "requests": 0,
            "errors": 0,
            "client_errors": 0,
            "error_rate": None,
            "latency_ms": {"avg": None, "p50": None, "p95": None, "p99": None, "max": None},
        }
        assert data["alerts"] == []

    async def test_old_request_rows_are_pruned_after_eight_days(
        self, client: httpx.AsyncClient, seed: Seed, conn: asyncpg.Connection
    ) -> None:
        await seed.requests([(200, 5.0, seed.ago(days=9)), (200, 5.0, seed.ago(days=7))])
        data = await run_monitoring(client)
        assert data["request_stats"] == {"flushed": 0, "pruned": 1}
        assert await conn.fetchval("select count(*) from table_booking_request_stats") == 1

    async def test_rate_counter_rows_of_past_days_are_cleared(
        self, client: httpx.AsyncClient, seed: Seed, conn: asyncpg.Connection
    ) -> None:
        await conn.execute(
            "insert into api_rate_counters (bucket, window_start, hits) values"
            " ('availability:203.0.113.9', $1, 3), ('availability:203.0.113.9', $2, 2),"
            " ('create_phone:+447700900123', $3, 1)",
            seed.ago(days=2),
            seed.ago(minutes=1),
            seed.ago(hours=2),
        )
        await run_monitoring(client)
        left = await conn.fetch("select bucket, hits from api_rate_counters order by hits")
        assert [tuple(r) for r in left] == [
            ("create_phone:+447700900123", 1),
            ("availability:203.0.113.9", 2),
        ]


# Alerts ------------------------------------------------------------------------------------------


class TestAlerts:
    async def test_each_alert_is_emailed_once_per_hour(
        self, client: httpx.AsyncClient, seed: Seed, conn: asyncpg.Connection, clock: FakeClock
    ) -> None:
        await seed_every_alert(seed)
        first = await run_monitoring(client)
        assert first["alerts"] == [
            {
                "condition": "payment_failures",
                "period": PERIOD,
                "value": 1.0,
                "threshold": 0.05,
                "queued": True,
            },
            {
                "condition": "sms_delivery",
                "period": PERIOD,
                "value": 0.0,
                "threshold": 0.95,
                "queued": True,
            },
            {
                "condition": "api_errors",
                "period": PERIOD,
                "value": 0.5,
                "threshold": 0.01,
                "queued": True,
            },
        ]
        # Again, as an overlapping or repeated run would: the conditions still hold, no email.
        second = await run_monitoring(client)
        assert [a["condition"] for a in second["alerts"]] == [
            "payment_failures",
            "sms_delivery",
            "api_errors",
        ]
        assert all(a["queued"] is False for a in second["alerts"])
        assert await alert_keys(conn) == [
            f"alert:api_errors:{PERIOD}",
            f"alert:payment_failures:{PERIOD}",
            f"alert:sms_delivery:{PERIOD}",
        ]
        jobs = await conn.fetch(
            "select payload from jobs where type = 'table_booking_email'"
            " and payload ->> 'unique_key' like 'alert:%'"
        )
        assert len(jobs) == 3
        assert {json.loads(j["payload"])["to"] for j in jobs} == {MANAGER}

        # The worker sends them (here: into the outbox), each once.
        response = await client.get("/api/cron/process-jobs", headers=CRON)
        assert response.status_code == 200, response.text
        await run_monitoring(client)
        await client.get("/api/cron/process-jobs", headers=CRON)
        emails = await conn.fetch(
            "select recipient, subject, body from table_booking_outbox where channel = 'email'"
            " order by subject"
        )
        assert [e["recipient"] for e in emails] == [MANAGER] * 3
        assert [e["subject"] for e in emails] == [
            "Table bookings alert: api errors at 50.0% in the last hour",
            "Table bookings alert: payment failures at 100.0% in the last hour",
            "Table bookings alert: sms delivery at 0.0% in the last hour",
        ]
        assert "1 of 2 API requests failed" in emails[0]["body"]
        assert "10:00 on Tuesday 24 November 2026 (London time)" in emails[0]["body"]

        # The next hour is another period: a condition that holds again is emailed again.
        clock.advance(hours=1)
        seed.now = clock.now
        await seed.audit("payment.capture_amount_mismatch", "failure", seed.ago(minutes=1))
        third = await run_monitoring(client)
        assert third["alerts"] == [
            {
                "condition": "payment_failures",
                "period": "2026-11-24T11",
                "value": 1.0,
                "threshold": 0.05,
                "queued": True,
            }
        ]
        assert len(await alert_keys(conn)) == 4

    async def test_failures_two_hours_ago_do_not_alert(
        self, client: httpx.AsyncClient, seed: Seed, conn: asyncpg.Connection
    ) -> None:
        seed.now = seed.ago(hours=2)
        await seed_every_alert(seed)
        data = await run_monitoring(client)
        assert data["alerts"] == []
        day = data["windows"]["day"]
        assert (day["payments"]["failed"], day["sms"]["failed"], day["api"]["errors"]) == (1, 1, 1)
        assert await alert_keys(conn) == []

    async def test_healthy_figures_at_the_thresholds_do_not_alert(
        self, client: httpx.AsyncClient, seed: Seed, conn: asyncpg.Connection
    ) -> None:
        # 1 failure in 21 captures (4.8%), 19 of 20 texts delivered (95%), 1 error in 100 (1%).
        for _ in range(20):
            await seed.audit("payment.captured", "success", seed.ago(minutes=20))
        await seed.audit("payment.capture_denied", "failure", seed.ago(minutes=20))
        for _ in range(19):
            await seed.sms("delivered", seed.ago(minutes=20))
        await seed.sms("undelivered", seed.ago(minutes=20), status="failed")
        await seed.requests(
            [(500 if i == 0 else 200, 5.0, seed.ago(minutes=10)) for i in range(100)]
        )
        data = await run_monitoring(client)
        hour = data["windows"]["hour"]
        assert hour["payments"]["failure_rate"] == 0.0476
        assert hour["sms"]["delivery_rate"] == 0.95
        assert hour["api"]["error_rate"] == 0.01
        assert data["alerts"] == []
        assert await alert_keys(conn) == []

    async def test_without_a_manager_address_alerts_are_logged(
        self,
        db: PostgresDatabase,
        clock: FakeClock,
        seed: Seed,
        conn: asyncpg.Connection,
        caplog: pytest.LogCaptureFixture,
        tmp_path: Any,
    ) -> None:
        settings = Settings(
            _env_file=None,
            APP_ENV="test",
            embedded_db_dir=tmp_path / "embedded",
            cron_secret="test-cron-secret-0123456789",
            manager_email=None,
        )
        await seed.audit("payment.capture_denied", "failure", seed.ago(minutes=10))
        async with asgi_client(create_app(settings, database=db, clock=clock)) as c:
            data = await run_monitoring(c)
        assert [(a["condition"], a["queued"]) for a in data["alerts"]] == [
            ("payment_failures", False)
        ]
        assert await alert_keys(conn) == []
        assert any(
            r.levelno == logging.ERROR and "monitoring.alert alert:payment_failures" in r.message
            for r in caplog.records
        )


class FakeMailer:
    def __init__(self) -> None:
        self.sent: list[Email] = []

    async def send(self, email: Email) -> None:
        self.sent.append(email)


class TestDatabaseUnreachable:
    async def test_logged_once_per_hour_without_a_mail_provider(
        self,
        settings: Settings,
        clock: FakeClock,
        down_database: PostgresDatabase,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        async with asgi_client(create_app(settings, database=down_database, clock=clock)) as c:
            first = await c.get(MONITORING, headers=CRON)
            second = await c.get(MONITORING, headers=CRON)
        assert first.status_code == 503
        error = envelope_error(first)
        assert error["code"] == "SERVICE_UNAVAILABLE"
        assert error["details"]["alerts"] == [
            {
                "condition": "database_unreachable",
                "period": PERIOD,
                "value": 1.0,
                "threshold": 0.0,
                "notified": "log",
            }
        ]
        assert second.status_code == 503
        assert envelope_error(second)["details"]["alerts"][0]["notified"] == "already"
        logged = [
            r
            for r in caplog.records
            if r.levelno == logging.ERROR and "monitoring.alert database_unreachable" in r.message
        ]
        assert len(logged) == 1

    async def test_emailed_once_per_hour_with_a_mail_provider(
        self, settings: Settings, clock: FakeClock, down_database: PostgresDatabase
    ) -> None:
        mailer = FakeMailer()
        app = create_app(settings, database=down_database, clock=clock)
        async with asgi_client(app) as c:
            app.state.senders = dataclasses.replace(app.state.senders, email=mailer)
            for _ in range(2):
                response = await c.get(MONITORING, headers=CRON)
                assert response.status_code == 503
            assert len(mailer.sent) == 1
            clock.advance(hours=1)
            response = await c.get(MONITORING, headers=CRON)
            assert envelope_error(response)["details"]["alerts"][0] == {
                "condition": "database_unreachable",
                "period": "2026-11-24T11",
                "value": 1.0,
                "threshold": 0.0,
                "notified": "email",
            }
        assert len(mailer.sent) == 2
        email = mailer.sent[0]
        assert email.to == (MANAGER,)
        assert email.subject == "Table bookings alert: the database is not answering"
        assert "could not reach its database at 10:00 on Tuesday" in email.text

    async def test_metrics_say_the_database_is_down(
        self, settings: Settings, clock: FakeClock, down_database: PostgresDatabase
    ) -> None:
        async with asgi_client(create_app(settings, database=down_database, clock=clock)) as c:
            response = await c.get(METRICS, headers=CRON)
        assert response.status_code == 200
        samples = parse_prometheus(response.text)
        assert samples == {("table_booking_database_up", frozenset()): 0.0}


# /metrics and authentication ---------------------------------------------------------------------


class TestMetrics:
    async def test_prometheus_text_parses_line_by_line(
        self, client: httpx.AsyncClient, seed: Seed
    ) -> None:
        await seed_figures(seed)
        response = await client.get(METRICS, headers=CRON)
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
        samples = parse_prometheus(response.text)
        assert gauge(samples, "table_booking_database_up") == 1
        assert gauge(samples, "table_booking_creation_success_ratio", window="hour") == 0.75
        assert gauge(samples, "table_booking_creation_success_ratio", window="day") == 0.8
        assert gauge(samples, "table_booking_payment_failure_ratio", window="hour") == 0.3333
        assert gauge(samples, "table_booking_payment_completion_ratio", window="day") == 0.6667
        assert gauge(samples, "table_booking_sms_delivery_ratio", window="hour") == 0.6667
        assert gauge(samples, "table_booking_api_error_ratio", window="day") == 0.1667
        assert gauge(samples, "table_booking_api_requests", window="hour") == 10
        assert (
            gauge(samples, "table_booking_api_latency_seconds", window="hour", quantile="0.95")
            == 0.0955
        )
        assert gauge(samples, "table_booking_no_show_ratio", window="day") == 0.4
        assert gauge(samples, "table_booking_alert", condition="payment_failures") == 1
        assert gauge(samples, "table_booking_alert", condition="api_errors") == 1
        # Reading the figures queues nothing.
        assert await alert_keys(seed.conn) == []

    async def test_a_rate_with_nothing_to_divide_has_no_sample(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get(METRICS, headers=CRON)
        samples = parse_prometheus(response.text)
        assert gauge(samples, "table_booking_bookings_created", window="hour") == 0
        names = {name for name, _ in samples}
        assert "table_booking_creation_success_ratio" not in names
        assert "table_booking_api_latency_seconds" not in names
        assert "# TYPE table_booking_creation_success_ratio gauge" in response.text

    @pytest.mark.parametrize("path", [MONITORING, METRICS])
    @pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-the-secret"}])
    async def test_the_cron_secret_is_required(
        self, client: httpx.AsyncClient, path: str, headers: dict[str, str]
    ) -> None:
        response = await client.get(path, headers=headers)
        assert response.status_code == 401
        assert envelope_error(response)["code"] == "UNAUTHORIZED"


# Per-request statistics --------------------------------------------------------------------------

probe = APIRouter(prefix="/_probe")


@probe.get("/boom")
async def boom() -> dict[str, Any]:
    raise RuntimeError("probe failure")


@probe.get("/outage")
async def outage() -> dict[str, Any]:
    raise ServiceUnavailable()


class FakeDb:
    def __init__(self, *, fail: bool) -> None:
        self.fail = fail
        self.calls: list[list[dict[str, Any]]] = []

    async def rpc(self, name: str, params: Any = None, *, flush_after: bool = False) -> Any:
        if self.fail:
            raise ServiceUnavailable()
        self.calls.append(params["p_rows"])
        return len(params["p_rows"])

    async def close(self) -> None:
        return None


class TestUsageRecorder:
    @pytest.fixture
    def recorded_app(
        self, settings: Settings, db: PostgresDatabase, clock: FakeClock
    ) -> tuple[FastAPI, RequestStats]:
        app = create_app(settings, database=db, clock=clock)
        app.include_router(probe)
        stats = RequestStats(max_age_seconds=3600)  # flushed by the cron, in this test
        app.add_middleware(UsageRecorder, stats=stats)
        return app, stats

    async def test_requests_feed_the_api_figures_and_alert(
        self, recorded_app: tuple[FastAPI, RequestStats], conn: asyncpg.Connection
    ) -> None:
        app, stats = recorded_app
        async with asgi_client(app) as c:
            assert (await c.get("/health")).status_code == 200
            unknown = await c.get("/api/table-bookings/TB-NOPE1234?token=secret-token-value")
            assert unknown.status_code == 404
            assert (await c.get("/api/nothing-here")).status_code == 404
            assert (await c.get("/_probe/boom")).status_code == 500
            assert (await c.get(METRICS, headers=CRON)).status_code == 200  # not recorded
            # /metrics flushed what was waiting; the cron sees it too.
            assert len(stats) == 0
            data = await run_monitoring(c)
            assert len(stats) == 1  # the cron's own request, after its response
        api = data["windows"]["hour"]["api"]
        assert (api["requests"], api["errors"], api["error_rate"]) == (4, 1, 0.25)
        assert api["client_errors"] == 2  # the unknown path and the unknown booking
        assert [a["condition"] for a in data["alerts"]] == ["api_errors"]
        rows = await conn.fetch(
            "select route, method, status from table_booking_request_stats order by id"
        )
        assert sorted((r["route"], r["status"]) for r in rows) == sorted(
            [
                ("/health", 200),
                ("/api/table-bookings/{reference}", 404),
                ("(unmatched)", 404),
                ("/_probe/boom", 500),
            ]
        )
        stored = json.dumps([dict(r) for r in rows])
        assert "NOPE" not in stored and "secret" not in stored

    async def test_a_provider_not_configured_is_not_an_outage(
        self,
        recorded_app: tuple[FastAPI, RequestStats],
        key: dict[str, str],
        menu: dict[str, str],
    ) -> None:
        # Issue 18, item 8: trying to pay with no PayPal configured (development) is a 503 for
        # the caller but no API error; a real 503 still is one.
        app, _ = recorded_app
        async with asgi_client(app) as c:
            made = await create_booking(c, key, sunday_body(menu))
            for _ in range(3):
                paying = await c.post(
                    f"/api/table-bookings/{made['booking_reference']}/payment", headers=key
                )
                assert paying.status_code == 503
                assert envelope_error(paying)["code"] == "SERVICE_UNAVAILABLE"
            quiet = await run_monitoring(c)
            assert (await c.get("/_probe/outage")).status_code == 503
            loud = await run_monitoring(c)
        api = quiet["windows"]["hour"]["api"]
        assert (api["requests"], api["errors"]) == (1, 0)  # the create
        assert quiet["alerts"] == []
        api = loud["windows"]["hour"]["api"]
        assert (api["requests"], api["errors"]) == (3, 1)  # + the first cron run, the outage
        assert [a["condition"] for a in loud["alerts"]] == ["api_errors"]

    async def test_a_request_is_counted_once_however_many_recorders_wrap_it(
        self, recorded_app: tuple[FastAPI, RequestStats]
    ) -> None:
        # As when app.main wires a recorder and a test wraps the app in one more.
        app, inner = recorded_app
        outer = RequestStats(max_age_seconds=3600)
        app.add_middleware(UsageRecorder, stats=outer)
        async with asgi_client(app) as c:
            await c.get("/health")
        assert (len(outer), len(inner)) == (1, 0)

    async def test_the_buffer_is_flushed_when_the_app_shuts_down(
        self,
        recorded_app: tuple[FastAPI, RequestStats],
        conn: asyncpg.Connection,
        clock: FakeClock,
    ) -> None:
        app, stats = recorded_app
        stats.record(route="/health", method="GET", status=200, duration_ms=1.5, at=clock.now)
        messages = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return messages.pop(0)

        async def send(message: Any) -> None:
            sent.append(message)

        await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)
        assert [m["type"] for m in sent] == [
            "lifespan.startup.complete",
            "lifespan.shutdown.complete",
        ]
        assert len(stats) == 0
        assert await conn.fetchval("select count(*) from table_booking_request_stats") == 1

    async def test_the_buffer_is_bounded_and_survives_a_failed_flush(
        self, clock: FakeClock
    ) -> None:
        ticks = [0.0]
        stats = RequestStats(
            max_rows=3, batch_size=100, max_age_seconds=10, monotonic=lambda: ticks[0]
        )
        for i in range(5):
            stats.record(route="/health", method="GET", status=200 + i, duration_ms=1, at=clock.now)
        assert (len(stats), stats.dropped) == (3, 2)
        assert not stats.due()
        ticks[0] = 10.0
        assert stats.due()
        assert await stats.flush(FakeDb(fail=True)) == 0
        assert len(stats) == 3  # kept for the next flush
        working = FakeDb(fail=False)
        assert await stats.flush(working) == 3
        assert [row["status"] for row in working.calls[0]] == [202, 203, 204]
        assert len(stats) == 0 and not stats.due()
