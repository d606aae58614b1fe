"""Rate limits: per API key per hour, creates per phone number, availability per client address."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.config import Settings
from app.db.postgres import PostgresDatabase
from app.main import create_app
from tests.conftest import (
    DEFAULT_NOW,
    FakeClock,
    asgi_client,
    create_booking,
    envelope_error,
    regular_body,
)

BASE = "/api/table-bookings"
AVAILABILITY = f"{BASE}/availability"
FRIDAY: dict[str, str | int] = {"date": "2026-11-27", "party_size": 2}
NEXT_HOUR = int((DEFAULT_NOW + timedelta(hours=1)).timestamp())  # the suite's clock is on the hour


def limit_headers(response: httpx.Response) -> tuple[str | None, str | None, str | None]:
    return (
        response.headers.get("X-RateLimit-Limit"),
        response.headers.get("X-RateLimit-Remaining"),
        response.headers.get("X-RateLimit-Reset"),
    )


class TestPerKeyLimit:
    async def test_the_fourth_request_of_a_three_an_hour_key_is_refused(
        self, client: httpx.AsyncClient, make_key: Any
    ) -> None:
        key = await make_key(rate_limit=3)
        for remaining in ("2", "1", "0"):
            response = await client.get(AVAILABILITY, params=FRIDAY, headers=key)
            assert response.status_code == 200, response.text
            assert limit_headers(response) == ("3", remaining, str(NEXT_HOUR))
        refused = await client.get(AVAILABILITY, params=FRIDAY, headers=key)
        assert refused.status_code == 429, refused.text
        assert envelope_error(refused)["code"] == "RATE_LIMIT_EXCEEDED"
        assert refused.headers["Retry-After"] == "3600"
        assert limit_headers(refused) == ("3", "0", str(NEXT_HOUR))

    async def test_every_endpoint_counts_against_the_same_key(
        self, client: httpx.AsyncClient, make_key: Any
    ) -> None:
        key = await make_key(rate_limit=3)
        assert (await client.post(BASE, json=regular_body(), headers=key)).status_code == 201
        assert (await client.get(BASE, headers=key)).status_code == 200
        menu = await client.get(
            f"{BASE}/menu/sunday-lunch", params={"date": "2026-11-29"}, headers=key
        )
        assert menu.status_code == 200
        refused = await client.get(f"{BASE}/TB-00000000", headers=key)
        assert refused.status_code == 429
        assert envelope_error(refused)["code"] == "RATE_LIMIT_EXCEEDED"

    async def test_another_key_is_unaffected(
        self, client: httpx.AsyncClient, make_key: Any
    ) -> None:
        busy = await make_key(rate_limit=1)
        other = await make_key(rate_limit=1)
        assert (await client.get(AVAILABILITY, params=FRIDAY, headers=busy)).status_code == 200
        assert (await client.get(AVAILABILITY, params=FRIDAY, headers=busy)).status_code == 429
        assert (await client.get(AVAILABILITY, params=FRIDAY, headers=other)).status_code == 200

    async def test_the_limit_resets_in_the_next_hour(
        self, client: httpx.AsyncClient, make_key: Any, clock: FakeClock
    ) -> None:
        key = await make_key(rate_limit=2)
        clock.set(DEFAULT_NOW + timedelta(minutes=40))
        for _ in range(2):
            assert (await client.get(AVAILABILITY, params=FRIDAY, headers=key)).status_code == 200
        refused = await client.get(AVAILABILITY, params=FRIDAY, headers=key)
        assert refused.status_code == 429
        assert refused.headers["Retry-After"] == str(20 * 60)
        clock.set(DEFAULT_NOW + timedelta(minutes=59, seconds=59))
        assert (await client.get(AVAILABILITY, params=FRIDAY, headers=key)).status_code == 429
        clock.set(DEFAULT_NOW + timedelta(hours=1))
        response = await client.get(AVAILABILITY, params=FRIDAY, headers=key)
        assert response.status_code == 200, response.text
        reset = int((DEFAULT_NOW + timedelta(hours=2)).timestamp())
        assert limit_headers(response) == ("2", "1", str(reset))

    async def test_bearer_key_is_counted_like_x_api_key(
        self, client: httpx.AsyncClient, make_key: Any
    ) -> None:
        key = await make_key(rate_limit=2)
        bearer = {"Authorization": f"Bearer {key['X-API-Key']}"}
        assert (await client.get(AVAILABILITY, params=FRIDAY, headers=key)).status_code == 200
        assert (await client.get(AVAILABILITY, params=FRIDAY, headers=bearer)).status_code == 200
        assert (await client.get(AVAILABILITY, params=FRIDAY, headers=bearer)).status_code == 429


class TestBurstAgainstTheKeyLimit:
    async def test_a_burst_gets_exactly_the_limit_through(
        self, settings: Settings, database_url: str, clock: FakeClock, make_key: Any
    ) -> None:
        """Parallel requests on parallel connections: each is counted when it draws its number
        (tb_key_hits), so no more than the limit pass, however many are in flight."""
        key = await make_key(rate_limit=10)
        busy_db = await PostgresDatabase.connect(database_url, max_size=8)
        try:
            app: FastAPI = create_app(settings, database=busy_db, clock=clock)
            async with asgi_client(app) as busy:
                first = await busy.get(AVAILABILITY, params=FRIDAY, headers=key)
                assert first.status_code == 200
                burst = await asyncio.gather(
                    *(busy.get(AVAILABILITY, params=FRIDAY, headers=key) for _ in range(16))
                )
        finally:
            await busy_db.close()
        statuses = sorted(r.status_code for r in burst)
        assert statuses == [200] * 9 + [429] * 7
        remaining = sorted(int(r.headers["X-RateLimit-Remaining"]) for r in burst)
        assert remaining == [0] * 8 + list(range(1, 9))

    async def test_the_hours_first_requests_in_parallel_start_the_count_at_one(
        self, settings: Settings, database_url: str, clock: FakeClock, make_key: Any
    ) -> None:
        key = await make_key(rate_limit=100)
        busy_db = await PostgresDatabase.connect(database_url, max_size=8)
        try:
            app: FastAPI = create_app(settings, database=busy_db, clock=clock)
            async with asgi_client(app) as busy:
                burst = await asyncio.gather(
                    *(busy.get(AVAILABILITY, params=FRIDAY, headers=key) for _ in range(8))
                )
                after = await busy.get(AVAILABILITY, params=FRIDAY, headers=key)
        finally:
            await busy_db.close()
        assert {r.status_code for r in burst} == {200}
        # However the first requests raced, the hour's count holds all of them.
        assert limit_headers(after) == ("100", "91", str(NEXT_HOUR))


class TestKeyedCreateInOneCall:
    """A create with an API key checks the key, counts it and books in one transaction
    (table_booking_create_for_key): a refusal at any step leaves no booking and is counted."""

    async def test_a_create_over_the_limit_books_nothing(
        self, client: httpx.AsyncClient, make_key: Any, conn: Any
    ) -> None:
        key = await make_key(rate_limit=1)
        assert (await client.post(BASE, json=regular_body(), headers=key)).status_code == 201
        refused = await client.post(BASE, json=regular_body("2026-11-28"), headers=key)
        assert refused.status_code == 429, refused.text
        assert envelope_error(refused)["code"] == "RATE_LIMIT_EXCEEDED"
        assert limit_headers(refused) == ("1", "0", str(NEXT_HOUR))
        assert refused.headers["Retry-After"] == "3600"
        assert await conn.fetchval("select count(*) from table_bookings") == 1
        # The refused request is not replayable as a success either: nothing was claimed.
        assert await conn.fetchval("select count(*) from idempotency_keys") == 0

    async def test_a_key_without_write_scope_books_nothing(
        self, client: httpx.AsyncClient, make_key: Any, conn: Any
    ) -> None:
        reader = await make_key(["read:table_bookings"], rate_limit=5)
        refused = await client.post(
            BASE, json=regular_body(), headers={**reader, "Idempotency-Key": "r-1"}
        )
        assert refused.status_code == 403, refused.text
        assert envelope_error(refused)["details"] == {"required": "write:table_bookings"}
        assert limit_headers(refused) == ("5", "4", str(NEXT_HOUR))
        assert await conn.fetchval("select count(*) from table_bookings") == 0
        assert await conn.fetchval("select count(*) from idempotency_keys") == 0

    async def test_a_refused_create_is_counted_and_audited(
        self, client: httpx.AsyncClient, make_key: Any, conn: Any
    ) -> None:
        key = await make_key(rate_limit=5)
        full = regular_body(party_size=21)
        refused = await client.post(BASE, json=full, headers=key)
        assert refused.status_code == 422, refused.text
        assert envelope_error(refused)["code"] == "POLICY_VIOLATION"
        assert limit_headers(refused) == ("5", "4", str(NEXT_HOUR))
        assert await conn.fetchval("select count(*) from table_bookings") == 0
        audit = await conn.fetchrow(
            "select operation_status, additional_info from audit_logs"
            " where operation_type = 'table_booking.create_refused'"
        )
        assert audit is not None and audit["operation_status"] == "failure"

    async def test_an_unknown_key_is_told_before_a_bad_phone(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.post(
            BASE, json=regular_body(phone="not a phone"), headers={"X-API-Key": "anch_nobody"}
        )
        assert response.status_code == 401, response.text
        assert envelope_error(response)["code"] == "UNAUTHORIZED"

    @pytest.mark.parametrize(
        ("method", "path", "kwargs"),
        [
            ("POST", BASE, {"json": {"party_size": 0}}),
            ("POST", BASE, {"content": b"{not json"}),
            ("GET", AVAILABILITY, {"params": {"date": "tomorrow"}}),
        ],
    )
    async def test_an_unknown_key_is_told_before_an_invalid_request(
        self, client: httpx.AsyncClient, method: str, path: str, kwargs: dict[str, Any]
    ) -> None:
        headers = {"X-API-Key": "anch_nobody", "Content-Type": "application/json"}
        response = await client.request(method, path, headers=headers, **kwargs)
        assert response.status_code == 401, response.text
        assert envelope_error(response)["code"] == "UNAUTHORIZED"

    async def test_a_used_up_key_is_told_before_an_invalid_request(
        self, client: httpx.AsyncClient, make_key: Any
    ) -> None:
        key = await make_key(rate_limit=1)
        assert (await client.get(AVAILABILITY, params=FRIDAY, headers=key)).status_code == 200
        response = await client.get(AVAILABILITY, params={"date": "tomorrow"}, headers=key)
        assert response.status_code == 429, response.text
        assert envelope_error(response)["code"] == "RATE_LIMIT_EXCEEDED"
        assert response.headers["Retry-After"] == "3600"

    async def test_a_bad_phone_with_a_good_key_is_counted(
        self, client: httpx.AsyncClient, make_key: Any
    ) -> None:
        key = await make_key(rate_limit=5)
        response = await client.post(BASE, json=regular_body(phone="not a phone"), headers=key)
        assert response.status_code == 400, response.text
        assert envelope_error(response)["details"] == {"field": "customer.mobile_number"}
        assert limit_headers(response) == ("5", "4", str(NEXT_HOUR))


class TestLimitHeaders:
    async def test_on_success_and_on_errors(self, client: httpx.AsyncClient, make_key: Any) -> None:
        key = await make_key(rate_limit=50)
        created = await client.post(BASE, json=regular_body(), headers=key)
        assert created.status_code == 201
        assert limit_headers(created) == ("50", "49", str(NEXT_HOUR))
        not_found = await client.get(f"{BASE}/TB-00000000", headers=key)
        assert not_found.status_code == 404
        assert envelope_error(not_found)["code"] == "NOT_FOUND"
        assert limit_headers(not_found) == ("50", "48", str(NEXT_HOUR))
        monday = await client.post(BASE, json=regular_body("2026-11-30"), headers=key)
        assert monday.status_code == 422
        assert envelope_error(monday)["code"] == "POLICY_VIOLATION"
        assert limit_headers(monday) == ("50", "47", str(NEXT_HOUR))
        invalid = await client.post(BASE, json=regular_body(party_size=0), headers=key)
        assert invalid.status_code == 400
        assert envelope_error(invalid)["code"] == "VALIDATION_ERROR"
        assert limit_headers(invalid) == ("50", "46", str(NEXT_HOUR))

    async def test_on_conflict_and_forbidden(
        self, client: httpx.AsyncClient, make_key: Any
    ) -> None:
        key = await make_key(rate_limit=50)
        made = await create_booking(client, key, regular_body())
        ref = made["booking_reference"]
        assert (await client.post(f"{BASE}/{ref}/cancel", headers=key)).status_code == 200
        again = await client.post(f"{BASE}/{ref}/cancel", headers=key)
        assert again.status_code == 409
        assert limit_headers(again) == ("50", "47", str(NEXT_HOUR))
        reader = await make_key(["read:table_bookings"], rate_limit=7)
        forbidden = await client.get(BASE, headers=reader)
        assert forbidden.status_code == 403
        assert limit_headers(forbidden) == ("7", "6", str(NEXT_HOUR))

    async def test_on_malformed_json(self, client: httpx.AsyncClient, make_key: Any) -> None:
        key = await make_key(rate_limit=50)
        response = await client.post(
            BASE, content=b"{not json", headers={**key, "Content-Type": "application/json"}
        )
        assert response.status_code == 400
        assert envelope_error(response)["code"] == "VALIDATION_ERROR"
        assert limit_headers(response) == ("50", "49", str(NEXT_HOUR))

    async def test_not_on_a_request_without_a_key(self, client: httpx.AsyncClient) -> None:
        response = await client.get(AVAILABILITY, params=FRIDAY)
        assert response.status_code == 401
        assert response.headers.get("X-RateLimit-Limit") is None


class TestSharedCounter:
    async def test_two_apps_over_one_database_share_the_count(
        self,
        client: httpx.AsyncClient,
        make_key: Any,
        settings: Settings,
        database_url: str,
        clock: FakeClock,
    ) -> None:
        key = await make_key(rate_limit=3)
        second_db = await PostgresDatabase.connect(database_url, max_size=2)
        try:
            second_app: FastAPI = create_app(settings, database=second_db, clock=clock)
            async with asgi_client(second_app) as other:
                first = await client.get(AVAILABILITY, params=FRIDAY, headers=key)
                second = await other.get(AVAILABILITY, params=FRIDAY, headers=key)
                third = await client.get(AVAILABILITY, params=FRIDAY, headers=key)
                assert [r.status_code for r in (first, second, third)] == [200, 200, 200]
                assert limit_headers(second)[1] == "1"
                refused = await other.get(AVAILABILITY, params=FRIDAY, headers=key)
                assert refused.status_code == 429, refused.text
                assert envelope_error(refused)["code"] == "RATE_LIMIT_EXCEEDED"
                assert (
                    await client.get(AVAILABILITY, params=FRIDAY, headers=key)
                ).status_code == 429
        finally:
            await second_db.close()


class TestCreatesPerPhone:
    async def test_the_default_is_twenty_an_hour(self, settings: Settings) -> None:
        assert settings.create_limit_per_phone_per_hour == 20

    async def test_the_third_booking_for_one_number_is_refused(
        self, limited_app: Any, key: dict[str, str]
    ) -> None:
        async with limited_app(create_limit_per_phone_per_hour=2) as c:
            await create_booking(c, key, regular_body(phone="07911 123456"))
            await create_booking(c, key, regular_body("2026-11-28", phone="+447911123456"))
            refused = await c.post(
                BASE, json=regular_body("2026-12-01", phone="0044 7911 123 456"), headers=key
            )
            assert refused.status_code == 429, refused.text
            error = envelope_error(refused)
            assert error["code"] == "RATE_LIMIT_EXCEEDED"
            assert "call" in error["message"].lower()
            assert "01753 682707" in error["message"]
            # Another number is not affected.
            await create_booking(c, key, regular_body("2026-12-01", phone="07700 900123"))

    async def test_the_refusal_says_when_to_retry(
        self, limited_app: Any, key: dict[str, str]
    ) -> None:
        async with limited_app(create_limit_per_phone_per_hour=1) as c:
            await create_booking(c, key, regular_body())
            refused = await c.post(BASE, json=regular_body("2026-11-28"), headers=key)
            assert refused.status_code == 429
            assert refused.headers.get("Retry-After") == "3600"

    async def test_the_refusal_creates_nothing(
        self, limited_app: Any, key: dict[str, str], conn: Any
    ) -> None:
        async with limited_app(create_limit_per_phone_per_hour=1) as c:
            await create_booking(c, key, regular_body())
            refused = await c.post(BASE, json=regular_body("2026-11-28"), headers=key)
            assert refused.status_code == 429
        assert await conn.fetchval("select count(*) from table_bookings") == 1
        details = envelope_error(refused)["details"]
        assert details["limit"] == 1

    async def test_refused_creates_that_fail_for_other_reasons_do_not_count(
        self, limited_app: Any, key: dict[str, str]
    ) -> None:
        async with limited_app(create_limit_per_phone_per_hour=1) as c:
            monday = await c.post(BASE, json=regular_body("2026-11-30"), headers=key)
            assert monday.status_code == 422
            await create_booking(c, key, regular_body())

    async def test_the_limit_resets_in_the_next_hour(
        self, limited_app: Any, key: dict[str, str], clock: FakeClock
    ) -> None:
        async with limited_app(create_limit_per_phone_per_hour=1) as c:
            await create_booking(c, key, regular_body())
            assert (
                await c.post(BASE, json=regular_body("2026-11-28"), headers=key)
            ).status_code == 429
            clock.advance(hours=1)
            await create_booking(c, key, regular_body("2026-11-28"))

    async def test_staff_creates_are_not_limited(
        self, limited_app: Any, key: dict[str, str], make_staff: Any
    ) -> None:
        staff = await make_staff("staff")
        async with limited_app(create_limit_per_phone_per_hour=1) as c:
            await create_booking(c, key, regular_body())
            for day in ("2026-11-28", "2026-12-01", "2026-12-02"):
                await create_booking(c, staff, regular_body(day, phone="+44 7911 123456"))
            assert (
                await c.post(BASE, json=regular_body("2026-12-03"), headers=key)
            ).status_code == 429


class TestAvailabilityPerAddress:
    async def test_over_the_limit_from_one_address(
        self, limited_app: Any, key: dict[str, str], make_key: Any, clock: FakeClock
    ) -> None:
        here = {**key, "X-Forwarded-For": "203.0.113.7, 10.0.0.1"}
        there = {**key, "X-Forwarded-For": "198.51.100.20"}
        # Behind proxies the service trusts (the test client's peer is 127.0.0.1); from anyone
        # else X-Forwarded-For counts for nothing (tests/test_abuse.py, TestForwardedFor).
        proxies = ["127.0.0.1", "10.0.0.0/8"]
        async with limited_app(availability_limit_per_minute=2, trusted_proxies=proxies) as c:
            for _ in range(2):
                assert (await c.get(AVAILABILITY, params=FRIDAY, headers=here)).status_code == 200
            refused = await c.get(AVAILABILITY, params=FRIDAY, headers=here)
            assert refused.status_code == 429, refused.text
            assert envelope_error(refused)["code"] == "RATE_LIMIT_EXCEEDED"
            assert refused.headers["Retry-After"] == "60"
            assert refused.headers.get("X-RateLimit-Limit") is not None
            # Another address is fine, and so is the key on other endpoints.
            assert (await c.get(AVAILABILITY, params=FRIDAY, headers=there)).status_code == 200
            menu = await c.get(
                f"{BASE}/menu/sunday-lunch", params={"date": "2026-11-29"}, headers=here
            )
            assert menu.status_code == 200
            # The limit is the address's, whichever key it uses.
            other_key = {**(await make_key()), "X-Forwarded-For": "203.0.113.7"}
            assert (await c.get(AVAILABILITY, params=FRIDAY, headers=other_key)).status_code == 429
            # A minute later it may ask again.
            clock.advance(minutes=1)
            assert (await c.get(AVAILABILITY, params=FRIDAY, headers=here)).status_code == 200

    async def test_without_forwarding_the_peer_address_counts(
        self, limited_app: Any, key: dict[str, str]
    ) -> None:
        async with limited_app(availability_limit_per_minute=1) as c:
            assert (await c.get(AVAILABILITY, params=FRIDAY, headers=key)).status_code == 200
            assert (await c.get(AVAILABILITY, params=FRIDAY, headers=key)).status_code == 429

    async def test_the_default_is_generous(
        self, client: httpx.AsyncClient, key: dict[str, str]
    ) -> None:
        for _ in range(5):
            response = await client.get(AVAILABILITY, params=FRIDAY, headers=key)
            assert response.status_code == 200


def test_next_hour_constant() -> None:
    assert datetime.fromtimestamp(NEXT_HOUR, UTC) == datetime(2026, 11, 24, 11, 0, tzinfo=UTC)
