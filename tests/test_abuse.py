"""What an abuser sends is refused (issue 14, "The abuser", items 1-11), each as reproduced."""
# ruff: noqa: RUF001 (the hostile inputs are the point: other digits, other apostrophes)

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil
import pytest

from app.config import Settings
from app.db.embedded import EmbeddedPostgres
from app.deps import TrustedProxies
from app.services import guest_text
from app.services.notifications import plan_messages, template_variables
from tests.conftest import (
    FakeClock,
    create_booking,
    envelope_error,
    regular_body,
    sunday_body,
)
from tests.services.test_notifications import NOW, STAFF, context

BOOKINGS = "/api/table-bookings"
AVAILABILITY = f"{BOOKINGS}/availability"
FRIDAY: dict[str, str | int] = {"date": "2026-11-27", "party_size": 2}
CRON = {"Authorization": "Bearer test-cron-secret-0123456789"}
PAYPAL_WEBHOOK = "/api/webhooks/paypal/table-bookings"

PHISHING = "Ann.\nURGENT: your card failed, pay at https://evil.example/x or lose the table\n"


def fields_of(response: httpx.Response) -> set[str]:
    assert response.status_code == 400, response.text
    error = envelope_error(response)
    assert error["code"] == "VALIDATION_ERROR"
    return {d["field"] for d in error["details"]} if isinstance(error["details"], list) else set()


async def bookings_count(conn: asyncpg.Connection) -> int:
    count: int = await conn.fetchval("select count(*) from table_bookings")
    return count


def with_customer(body: dict[str, Any], **customer: Any) -> dict[str, Any]:
    body["customer"] = {**body["customer"], **customer}
    return body


# 1. Guest text in the pub's SMS -------------------------------------------------------------


class TestNames:
    async def test_a_message_as_a_first_name_is_refused(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        body = with_customer(regular_body(), first_name=PHISHING)
        response = await client.post(BOOKINGS, json=body, headers=key)
        assert fields_of(response) == {"customer.first_name"}
        assert await bookings_count(conn) == 0

    @pytest.mark.parametrize(
        "name", ["Ann http://x.example", "Ann.", "Ann 2", "<b>Ann</b>", "A" * 51, "-Ann"]
    )
    async def test_what_is_not_a_name_is_refused(
        self, client: httpx.AsyncClient, key: dict[str, str], name: str
    ) -> None:
        body = with_customer(regular_body(), last_name=name)
        response = await client.post(BOOKINGS, json=body, headers=key)
        assert fields_of(response) == {"customer.last_name"}

    @pytest.mark.parametrize(
        "name", ["Zoë", "O'Brien", "Ann-Marie", "D\u2019Arcy", "Siobhán Ní Bhriain", "李", "प्रिया"]
    )
    def test_names_as_people_write_them_are_kept(self, name: str) -> None:
        assert guest_text.check_name(name, required=True) == name

    def test_spaces_inside_a_name_are_collapsed(self) -> None:
        assert guest_text.check_name("Mary   Ann", required=True) == "Mary Ann"

    def test_a_stored_name_that_is_not_a_name_never_reaches_a_text(self) -> None:
        variables = template_variables(context(first_name=PHISHING), now=NOW)
        assert variables["customer_name"] == "there"
        assert template_variables(context(first_name="Zoë"), now=NOW)["customer_name"] == "Zoë"

    def test_allergies_that_are_not_words_never_reach_a_text(self) -> None:
        ctx = context(allergies=["peanuts", "call 09090101234 now http://evil.example"])
        allergies = template_variables(ctx, now=NOW)["allergies"]
        assert "peanuts" in allergies
        assert "evil" not in allergies and "0909" not in allergies


# 2. SMS toll fraud ----------------------------------------------------------------------------


class TestPhoneNumbers:
    @pytest.mark.parametrize(
        "phone", ["+44 909 010 1234", "09090101234", "+1 900 555 0123", "0871 234 5678"]
    )
    async def test_premium_rate_and_shared_cost_numbers_are_refused(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection, phone: str
    ) -> None:
        response = await client.post(BOOKINGS, json=regular_body(phone=phone), headers=key)
        assert response.status_code == 400, response.text
        error = envelope_error(response)
        assert error["details"] == {"field": "customer.mobile_number"}
        assert "premium-rate" in error["message"]
        assert await bookings_count(conn) == 0

    @pytest.mark.parametrize(
        "phone", ["01753 682707", "+44 70 1234 5678", "+881 612 345 678", "+44 56 1234 5678"]
    )
    async def test_numbers_that_cannot_be_mobiles_book_but_are_never_texted(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection, phone: str
    ) -> None:
        body = with_customer(regular_body(phone=phone), email="ann@example.com")
        await create_booking(client, key, body)
        assert await conn.fetchval("select sms_opt_in from customers") is False
        assert (await client.get("/api/cron/process-jobs", headers=CRON)).status_code == 200
        types = [r["type"] for r in await conn.fetch("select type from jobs")]
        assert "table_booking_sms" not in types
        assert "table_booking_email" in types

    @pytest.mark.parametrize("mobile", ["+441753682707", "+447012345678", "+881612345678"])
    def test_a_text_is_planned_only_for_a_mobile(self, mobile: str) -> None:
        jobs = plan_messages("created", "default", context(mobile=mobile), staff=STAFF, now=NOW)
        assert [j for j in jobs if j["type"] == "table_booking_sms"] == []
        assert [j for j in jobs if j["type"] == "table_booking_email"]

    @pytest.mark.parametrize("mobile", ["+447700900123", "+447911123456", "+12025550123"])
    def test_mobiles_and_the_drama_range_are_texted(self, mobile: str) -> None:
        jobs = plan_messages("created", "default", context(mobile=mobile), staff=STAFF, now=NOW)
        assert [j["payload"]["to"] for j in jobs if j["type"] == "table_booking_sms"] == [mobile]


# 3. Unpaid Sunday lunch holds -----------------------------------------------------------------


async def set_setting(conn: asyncpg.Connection, key: str, value: int) -> None:
    await conn.execute(
        "insert into system_settings (key, value) values ($1, jsonb_build_object('value', $2::int))"
        " on conflict (key) do update set value = excluded.value",
        key,
        value,
    )


def phone(n: int) -> str:
    return f"07700 900{n:03d}"


class TestUnpaidHolds:
    async def test_one_phone_holds_at_most_two_unpaid(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        menu: dict[str, str],
        clock: FakeClock,
    ) -> None:
        for time_ in ("12:00", "14:00"):
            await create_booking(client, key, sunday_body(menu, time=time_, phone=phone(1)))
        third = await client.post(
            BOOKINGS, json=sunday_body(menu, time="16:00", phone=phone(1)), headers=key
        )
        assert third.status_code == 429, third.text
        error = envelope_error(third)
        assert error["code"] == "RATE_LIMIT_EXCEEDED"
        assert error["details"]["reason"] == "UNPAID_HOLDS_PER_PHONE"
        assert third.headers["Retry-After"] == "1800"
        # Another number may; and once the holds lapse, this one may again.
        await create_booking(client, key, sunday_body(menu, time="16:00", phone=phone(2)))
        clock.advance(minutes=31)
        await create_booking(client, key, sunday_body(menu, time="16:00", phone=phone(1)))

    async def test_one_key_holds_at_most_its_setting(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        make_key: Any,
        menu: dict[str, str],
        conn: asyncpg.Connection,
    ) -> None:
        await set_setting(conn, "sunday_lunch_unpaid_holds_per_client", 3)
        for n in range(3):
            await create_booking(client, key, sunday_body(menu, phone=phone(10 + n)))
        fourth = await client.post(BOOKINGS, json=sunday_body(menu, phone=phone(20)), headers=key)
        assert fourth.status_code == 429, fourth.text
        assert envelope_error(fourth)["details"]["reason"] == "UNPAID_HOLDS_PER_CLIENT"
        other = await make_key()
        await create_booking(client, other, sunday_body(menu, phone=phone(21)))

    async def test_unpaid_holds_take_at_most_half_of_a_slots_covers(
        self, client: httpx.AsyncClient, key: dict[str, str], menu: dict[str, str]
    ) -> None:
        await create_booking(
            client, key, sunday_body(menu, mains={"Roasted Chicken": 20}, phone=phone(30))
        )
        # 20 of the 25 unpaid covers (50% of 50) over 13:00-15:00 are held.
        refused = await client.post(
            BOOKINGS,
            json=sunday_body(menu, time="14:00", mains={"Roasted Chicken": 6}, phone=phone(31)),
            headers=key,
        )
        assert refused.status_code == 409, refused.text
        error = envelope_error(refused)
        assert error["code"] == "NO_AVAILABILITY"
        assert error["details"] == {"reason": "UNPAID_HOLDS", "available_capacity": 5}
        await create_booking(
            client,
            key,
            sunday_body(menu, time="14:00", mains={"Roasted Chicken": 5}, phone=phone(32)),
        )
        # The room is still there for guests who book a table.
        await create_booking(client, key, regular_body("2026-11-29", "13:00", 20, phone=phone(33)))

    async def test_seven_creates_cannot_close_a_sunday(
        self, client: httpx.AsyncClient, key: dict[str, str], menu: dict[str, str]
    ) -> None:
        for n, time_ in enumerate(("12:00", "12:30", "13:00", "14:00", "15:00", "15:30", "16:30")):
            await client.post(
                BOOKINGS,
                json=sunday_body(menu, time=time_, mains={"Roasted Chicken": 20}, phone=phone(n)),
                headers=key,
            )
        response = await client.get(
            AVAILABILITY,
            params={"date": "2026-11-29", "party_size": 20, "booking_type": "regular"},
            headers=key,
        )
        slots = response.json()["data"]["time_slots"]
        assert slots and all(s["available_capacity"] >= 25 for s in slots), slots

    async def test_parallel_creates_cannot_exceed_the_share(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        menu: dict[str, str],
        conn: asyncpg.Connection,
    ) -> None:
        bodies = [
            sunday_body(menu, mains={"Roasted Chicken": 10}, phone=phone(40 + n)) for n in range(8)
        ]
        responses = await asyncio.gather(
            *(client.post(BOOKINGS, json=b, headers=key) for b in bodies)
        )
        assert sorted(r.status_code for r in responses) == [201, 201] + [409] * 6
        held = await conn.fetchval(
            "select sum(party_size) from table_bookings where status = 'pending_payment'"
        )
        assert held == 20

    async def test_staff_are_not_bounded(
        self,
        client: httpx.AsyncClient,
        make_staff: Any,
        menu: dict[str, str],
    ) -> None:
        staff = await make_staff("manager")
        for time_ in ("12:00", "14:00", "16:00"):
            await create_booking(client, staff, sunday_body(menu, time=time_, phone=phone(50)))


# 4. X-Forwarded-For ---------------------------------------------------------------------------


class TestForwardedFor:
    async def test_an_unknown_peer_cannot_choose_its_address(
        self, limited_app: Any, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        async with limited_app(availability_limit_per_minute=2) as c:
            statuses = [
                (
                    await c.get(
                        AVAILABILITY,
                        params=FRIDAY,
                        headers={**key, "X-Forwarded-For": f"203.0.113.{n}"},
                    )
                ).status_code
                for n in range(4)
            ]
            assert statuses == [200, 200, 429, 429]
            body = regular_body()
            forged = {**key, "X-Forwarded-For": "198.51.100.9"}
            assert (await c.post(BOOKINGS, json=body, headers=forged)).status_code == 201
        ips = {r["ip"] for r in await conn.fetch("select host(ip_address) as ip from audit_logs")}
        assert ips == {"127.0.0.1"}

    async def test_a_configured_proxy_is_believed(
        self, limited_app: Any, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        async with limited_app(trusted_proxies=["127.0.0.1"]) as c:
            headers = {**key, "X-Forwarded-For": "192.0.2.1, 198.51.100.9"}
            await create_booking(c, headers, regular_body())
        ip = await conn.fetchval("select host(ip_address) from audit_logs")
        assert ip == "198.51.100.9"

    def test_the_last_address_no_trusted_proxy_wrote_counts(self) -> None:
        proxies = TrustedProxies(["10.0.0.0/8", "127.0.0.1"])
        chain = "192.0.2.1, 203.0.113.5, 10.1.2.3"
        assert proxies.client_address("127.0.0.1", chain) == "203.0.113.5"
        assert proxies.client_address("198.51.100.1", chain) == "198.51.100.1"
        assert proxies.client_address("127.0.0.1", None) == "127.0.0.1"
        assert proxies.client_address("127.0.0.1", "junk, 10.0.0.1") == "10.0.0.1"
        assert TrustedProxies(["*"]).client_address("169.254.1.1", "203.0.113.5") == "203.0.113.5"
        assert TrustedProxies([]).client_address("127.0.0.1", "203.0.113.5") == "127.0.0.1"

    def test_the_setting_is_a_list_of_networks(self) -> None:
        parsed = Settings(_env_file=None, TRUSTED_PROXIES="10.0.0.0/8, 127.0.0.1")
        assert parsed.trusted_proxies == ["10.0.0.0/8", "127.0.0.1"]
        assert Settings(_env_file=None).trusted_proxies == []
        with pytest.raises(ValueError, match="TRUSTED_PROXIES"):
            Settings(_env_file=None, TRUSTED_PROXIES="the internet")


# 5. webhook_logs ------------------------------------------------------------------------------


class TestRefusedWebhooks:
    async def test_a_refused_delivery_stores_no_body(
        self, client: httpx.AsyncClient, conn: asyncpg.Connection
    ) -> None:
        body = json.dumps({"id": "WH-1", "event_type": "X", "junk": "x" * 10_000})
        response = await client.post(
            PAYPAL_WEBHOOK, content=body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 401
        [row] = await conn.fetch("select status, body, params from webhook_logs")
        assert row["status"] == "configuration_error"
        assert row["body"] is None
        assert json.loads(row["params"])["body_bytes"] == len(body)

    async def test_refusals_are_rate_limited(
        self, limited_app: Any, conn: asyncpg.Connection, clock: FakeClock
    ) -> None:
        limits = {
            "paypal_webhook_refusals_logged_per_minute": 2,
            "paypal_webhook_refusals_per_minute": 4,
        }
        async with limited_app(**limits) as c:
            statuses = [(await c.post(PAYPAL_WEBHOOK, content=b"{}")).status_code for _ in range(6)]
            assert statuses == [401, 401, 401, 401, 429, 429]
            assert await conn.fetchval("select count(*) from webhook_logs") == 2
            clock.advance(minutes=1)
            assert (await c.post(PAYPAL_WEBHOOK, content=b"{}")).status_code == 401
        assert await conn.fetchval("select count(*) from webhook_logs") == 3

    async def test_the_log_is_pruned(
        self, client: httpx.AsyncClient, conn: asyncpg.Connection, clock: FakeClock
    ) -> None:
        now = clock.now
        rows = [
            ("paypal", "confirmed", now - timedelta(days=31)),
            ("paypal", "confirmed", now - timedelta(days=29)),
            ("paypal", "signature_failed", now - timedelta(days=8)),
            ("paypal", "signature_failed", now - timedelta(days=6)),
            ("twilio", "received", now - timedelta(days=60)),
        ]
        await conn.executemany(
            "insert into webhook_logs (webhook_type, status, processed_at) values ($1, $2, $3)",
            rows,
        )
        response = await client.get("/api/cron/table-booking-monitoring", headers=CRON)
        assert response.status_code == 200, response.text
        left = await conn.fetch("select webhook_type, status, processed_at from webhook_logs")
        assert sorted((r["webhook_type"], r["processed_at"]) for r in left) == sorted(
            [(t, at) for t, _, at in (rows[1], rows[3], rows[4])]
        )


# 6. Unicode digits ----------------------------------------------------------------------------


class TestAsciiOnly:
    @pytest.mark.parametrize("time_", ["1٩:0٠", "1９:0０", "١٩:٠٠"])
    async def test_times_in_other_digits_are_400(
        self, client: httpx.AsyncClient, key: dict[str, str], time_: str
    ) -> None:
        response = await client.post(BOOKINGS, json=regular_body(time=time_), headers=key)
        assert fields_of(response) == {"time"}

    async def test_a_change_of_time_in_other_digits_is_400(
        self, client: httpx.AsyncClient, key: dict[str, str]
    ) -> None:
        made = await create_booking(client, key, regular_body())
        response = await client.patch(
            f"{BOOKINGS}/{made['booking_reference']}", json={"time": "2٠:00"}, headers=key
        )
        assert fields_of(response) == {"time"}

    @pytest.mark.parametrize("day", ["２０２６-11-27", "2026-1١-27"])
    async def test_dates_in_other_digits_are_400(
        self, client: httpx.AsyncClient, key: dict[str, str], day: str
    ) -> None:
        response = await client.get(AVAILABILITY, params={"date": day}, headers=key)
        assert fields_of(response) == {"date"}


# 7. Control and formatting characters ---------------------------------------------------------


class TestHiddenCharacters:
    @pytest.mark.parametrize(
        "name", ["Ann\u200b", "Ann\u202eeeL", "Ann\x1b[2J", "Ann\rLee", "An\u0000n", "Ann\ufeff"]
    )
    async def test_are_refused_in_names(
        self, client: httpx.AsyncClient, key: dict[str, str], name: str
    ) -> None:
        body = with_customer(regular_body(), first_name=name)
        assert fields_of(await client.post(BOOKINGS, json=body, headers=key)) == {
            "customer.first_name"
        }

    async def test_are_taken_out_of_free_text(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        body = regular_body(
            special_requirements="Window seat\r\n\x1b[31mhigh chair\x1b[0m\u202e please\u200b",
            celebration_type="Birth\nday\u2066",
            allergies=["nuts\u202e", "\x07shellfish"],
            dietary_requirements=["vegan\x1b]0;title\x07"],
        )
        await create_booking(client, key, body)
        row = await conn.fetchrow(
            "select special_requirements, celebration_type, allergies, dietary_requirements"
            " from table_bookings"
        )
        assert row is not None
        assert row["special_requirements"] == "Window seat\nhigh chair please"
        assert row["celebration_type"] == "Birth day"
        assert row["allergies"] == ["nuts", "shellfish"]
        assert row["dietary_requirements"] == ["vegan"]

    def test_line_breaks_may_stay_in_notes_only(self) -> None:
        assert guest_text.clean_text("a\u2028b\r\nc\n\n\n\nd", multiline=True) == "a\nb\nc\n\nd"
        assert guest_text.clean_text("a\u2028b\r\nc", multiline=False) == "a b c"


# 8. Loose types and duplicate keys ------------------------------------------------------------


class TestStrictJson:
    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"date": 1801008000}, "date"),
            ({"date": "2026-11-27T00:00:00"}, "date"),
            ({"party_size": "1"}, "party_size"),
            ({"party_size": True}, "party_size"),
            ({"party_size": 1.0}, "party_size"),
            ({"override": "false"}, "override"),
        ],
    )
    async def test_loose_types_are_refused(
        self, client: httpx.AsyncClient, key: dict[str, str], change: dict[str, Any], field: str
    ) -> None:
        response = await client.post(BOOKINGS, json={**regular_body(), **change}, headers=key)
        assert fields_of(response) == {field}

    @pytest.mark.parametrize("consent", ["yes", 1, "true"])
    async def test_consent_is_a_json_boolean(
        self, client: httpx.AsyncClient, key: dict[str, str], consent: Any
    ) -> None:
        body = with_customer(regular_body(), sms_opt_in=consent)
        response = await client.post(BOOKINGS, json=body, headers=key)
        assert fields_of(response) == {"customer.sms_opt_in"}

    async def test_a_quantity_is_a_json_integer(
        self, client: httpx.AsyncClient, key: dict[str, str], menu: dict[str, str]
    ) -> None:
        body = sunday_body(menu)
        body["menu_selections"][0]["quantity"] = "2"
        response = await client.post(BOOKINGS, json=body, headers=key)
        assert fields_of(response) == {"menu_selections.0.quantity"}

    async def test_date_zero_is_not_a_date(
        self, client: httpx.AsyncClient, key: dict[str, str]
    ) -> None:
        response = await client.get(AVAILABILITY, params={"date": "0"}, headers=key)
        assert fields_of(response) == {"date"}
        menu = await client.get(f"{BOOKINGS}/menu/sunday-lunch", params={"date": "0"}, headers=key)
        assert fields_of(menu) == {"date"}

    async def test_duplicate_keys_in_a_create_are_refused(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        text = json.dumps(regular_body(party_size=2))[:-1] + ', "party_size": 20}'
        response = await client.post(
            BOOKINGS, content=text, headers={**key, "Content-Type": "application/json"}
        )
        assert fields_of(response) == {"party_size"}
        assert await bookings_count(conn) == 0
        nested = json.dumps(regular_body()).replace(
            '"sms_opt_in": true', '"sms_opt_in": true, "sms_opt_in": false'
        )
        response = await client.post(
            BOOKINGS, content=nested, headers={**key, "Content-Type": "application/json"}
        )
        assert fields_of(response) == {"sms_opt_in"}

    async def test_duplicate_keys_in_a_change_are_refused(
        self, client: httpx.AsyncClient, key: dict[str, str]
    ) -> None:
        made = await create_booking(client, key, regular_body())
        response = await client.patch(
            f"{BOOKINGS}/{made['booking_reference']}",
            content='{"party_size": 2, "party_size": 3}',
            headers={**key, "Content-Type": "application/json"},
        )
        assert fields_of(response) == {"party_size"}
        loose = await client.patch(
            f"{BOOKINGS}/{made['booking_reference']}", json={"party_size": "3"}, headers=key
        )
        assert fields_of(loose) == {"party_size"}


# 9. Credentials and scope first ---------------------------------------------------------------


class TestCredentialsFirst:
    @pytest.mark.parametrize("body", [b"", b"{}", b"{", b'{"date": 0}'])
    async def test_a_create_without_credentials_is_401_whatever_its_body(
        self, client: httpx.AsyncClient, body: bytes
    ) -> None:
        response = await client.post(
            BOOKINGS, content=body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 401, response.text
        assert envelope_error(response)["code"] == "UNAUTHORIZED"

    @pytest.mark.parametrize("body", [b"{", b'{"party_size": 2, "party_size": 3}'])
    async def test_a_change_without_credentials_is_401_whatever_its_body(
        self, client: httpx.AsyncClient, body: bytes
    ) -> None:
        response = await client.patch(
            f"{BOOKINGS}/TB-12345678", content=body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 401, response.text

    async def test_availability_without_credentials_is_401_whatever_its_query(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get(AVAILABILITY, params={"date": "nonsense"})
        assert response.status_code == 401, response.text

    async def test_a_read_only_key_sending_an_empty_create_is_403(
        self, client: httpx.AsyncClient, make_key: Any
    ) -> None:
        reader = await make_key(["read:table_bookings"])
        response = await client.post(BOOKINGS, content=b"", headers=reader)
        assert response.status_code == 403, response.text
        assert envelope_error(response)["code"] == "FORBIDDEN"

    async def test_a_write_only_key_with_a_bad_query_is_403(
        self, client: httpx.AsyncClient, make_key: Any
    ) -> None:
        writer = await make_key(["write:table_bookings"])
        response = await client.get(AVAILABILITY, params={"date": "x"}, headers=writer)
        assert response.status_code == 403, response.text

    async def test_a_staff_member_without_create_permission_is_403_before_the_body(
        self, client: httpx.AsyncClient, make_staff: Any
    ) -> None:
        nobody = await make_staff(None)
        response = await client.post(BOOKINGS, content=b"{}", headers=nobody)
        assert response.status_code == 403, response.text


# 10. 405 --------------------------------------------------------------------------------------


class TestAllow:
    async def test_405_lists_every_method_of_the_path(self, client: httpx.AsyncClient) -> None:
        response = await client.delete(BOOKINGS)
        assert response.status_code == 405
        assert envelope_error(response)["code"] == "METHOD_NOT_ALLOWED"
        assert response.headers["Allow"] == "GET, POST"
        one = await client.delete(f"{BOOKINGS}/TB-12345678")
        assert one.headers["Allow"] == "GET, PATCH"


# 11. The embedded database's handles ----------------------------------------------------------


def handles_of(data_dir: Path) -> list[int]:
    pids: list[int] = json.loads((data_dir / ".handle_pids.json").read_text())
    return pids


class TestEmbeddedHandles:
    def test_a_killed_process_not_yet_reaped_holds_no_handle(self, tmp_path: Path) -> None:
        data_dir = tmp_path / "pgdata"
        data_dir.mkdir()
        dead = subprocess.Popen([sys.executable, "-c", "pass"])
        try:
            deadline = time.monotonic() + 10
            while psutil.Process(dead.pid).status() != psutil.STATUS_ZOMBIE:
                assert time.monotonic() < deadline
                time.sleep(0.05)
            (data_dir / ".handle_pids.json").write_text(json.dumps([dead.pid, os.getpid()]))
            EmbeddedPostgres(data_dir)._forget_dead_handles()
            assert handles_of(data_dir) == [os.getpid()]
        finally:
            dead.wait()

    def test_a_pid_reused_since_the_list_was_written_holds_no_handle(self, tmp_path: Path) -> None:
        data_dir = tmp_path / "pgdata"
        data_dir.mkdir()
        handles = data_dir / ".handle_pids.json"
        later = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
        try:
            # As after kill -9 and a restart: the list was written before this process began
            # (in a container the restarted process even gets the killed one's pid).
            handles.write_text(json.dumps([later.pid]))
            started = psutil.Process(later.pid).create_time()
            os.utime(handles, (started - 60, started - 60))
            EmbeddedPostgres(data_dir)._forget_dead_handles()
            assert handles_of(data_dir) == []
        finally:
            later.kill()
            later.wait()


class TestUnpaidHoldSettings:
    async def test_a_setting_that_is_not_a_number_is_its_default(
        self, conn: asyncpg.Connection
    ) -> None:
        await conn.execute(
            'update system_settings set value = \'{"value": "lots"}\''
            " where key = 'sunday_lunch_unpaid_holds_per_phone'"
        )
        read = "select tb_setting_int($1, 2)"
        assert await conn.fetchval(read, "sunday_lunch_unpaid_holds_per_phone") == 2
        await set_setting(conn, "sunday_lunch_unpaid_holds_per_phone", 5)
        assert await conn.fetchval(read, "sunday_lunch_unpaid_holds_per_phone") == 5
        assert await conn.fetchval(read, "sunday_lunch_unpaid_share_percent") == 50
