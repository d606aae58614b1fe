"""Structured logs (request ids, masking, no query strings) and the request body limit."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from app.logs import JsonFormatter, mask, request_id
from tests.conftest import create_booking, envelope_error, regular_body

BOOKINGS = "/api/table-bookings"


class TestMask:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("to +447911123456 now", "to +*********456 now"),
            ("call 07911 123456", "call 0*******456"),
            ("0044 7911 123456", "0**********456"),
            ("+1 202 555 0123", "+********123"),
            ("mail ann.lee@example.com", "mail a***@example.com"),
            ("ANN@Example.CO.UK sent", "A***@Example.CO.UK sent"),
        ],
    )
    def test_masks_phones_and_emails(self, text: str, expected: str) -> None:
        assert mask(text) == expected

    @pytest.mark.parametrize(
        "text",
        [
            "booking 723338c6-c4ba-42cb-bda7-5b0462a7a822",
            "at 2026-11-24T08:53:00+00:00 and 2026-11-24 08:53",
            "TB-8229A1B4 for 15.00 GBP, 120 minutes, 20261124000600",
            "SM0123456789abcdef0123456789abcdef",
        ],
    )
    def test_leaves_ids_times_and_money(self, text: str) -> None:
        assert mask(text) == text


class TestJsonLines:
    def test_one_json_object_with_the_request_id(self) -> None:
        record = logging.makeLogRecord(
            {"name": "app.x", "levelname": "INFO", "msg": "sent to %s", "args": ("+447911123456",)}
        )
        record.route = "/api/x"
        token = request_id.set("req-1")
        try:
            line = JsonFormatter().format(record)
        finally:
            request_id.reset(token)
        entry = json.loads(line)
        assert entry["event"] == "sent to +*********456"
        assert entry["request_id"] == "req-1"
        assert entry["route"] == "/api/x"
        assert entry["level"] == "info"


@pytest.fixture
async def logged(caplog: pytest.LogCaptureFixture) -> AsyncIterator[list[str]]:
    """Every record of the test, formatted as the service writes it."""
    caplog.set_level(logging.DEBUG)
    lines: list[str] = []
    yield lines
    lines.extend(JsonFormatter().format(r) for r in caplog.records)


class TestRequestLog:
    async def test_every_request_gets_an_id_and_one_line(
        self, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.INFO)
        response = await client.get(
            f"{BOOKINGS}/TB-12345678?token=guest-secret-token", headers={"X-Request-ID": "abc-1"}
        )
        assert response.headers["x-request-id"] == "abc-1"
        lines = [r for r in caplog.records if r.name == "app.http"]
        assert len(lines) == 1
        line: Any = lines[0]
        assert (line.method, line.route, line.status) == (
            "GET",
            "/api/table-bookings/{reference}",
            response.status_code,
        )
        assert line.duration_ms >= 0
        # (The test client's own httpx logger prints its URL; the service silences httpx.)
        formatted = [JsonFormatter().format(r) for r in caplog.records if r.name != "httpx"]
        assert not any("guest-secret-token" in f for f in formatted)

    async def test_an_odd_request_id_is_replaced(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/health", headers={"X-Request-ID": "<script>" * 20})
        assert len(response.headers["x-request-id"]) == 32

    async def test_a_booking_leaves_no_phone_or_email_in_the_logs(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        caplog.set_level(logging.DEBUG)
        body = regular_body(phone="07911 123456")
        body["customer"]["email"] = "ann.lee@example.com"
        await create_booking(client, key, body)
        await client.post(BOOKINGS, json={**body, "party_size": 99}, headers=key)
        formatted = "\n".join(
            JsonFormatter().format(r) for r in caplog.records if r.name != "httpx"
        )
        assert "table_booking.created" in formatted
        for secret in ("7911123456", "07911 123456", "ann.lee@example.com", key["X-API-Key"]):
            assert secret not in formatted


class TestBodyLimit:
    async def test_a_declared_large_body_is_refused_before_reading(
        self, client: httpx.AsyncClient, key: dict[str, str], settings: Any
    ) -> None:
        body = regular_body(special_requirements="x" * (settings.max_body_bytes + 10))
        response = await client.post(BOOKINGS, json=body, headers=key)
        assert response.status_code == 413
        error = envelope_error(response)
        assert error["code"] == "PAYLOAD_TOO_LARGE"
        assert error["details"] == {"max_bytes": settings.max_body_bytes}

    async def test_a_streamed_large_body_is_refused(
        self, client: httpx.AsyncClient, key: dict[str, str], settings: Any
    ) -> None:
        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(settings.max_body_bytes // 1024 + 2):
                yield b" " * 1024

        response = await client.post(
            BOOKINGS,
            content=chunks(),
            headers={**key, "Content-Type": "application/json"},
        )
        assert response.status_code == 413
        assert envelope_error(response)["code"] == "PAYLOAD_TOO_LARGE"

    async def test_a_normal_body_passes(
        self, client: httpx.AsyncClient, key: dict[str, str]
    ) -> None:
        await create_booking(client, key, regular_body())
