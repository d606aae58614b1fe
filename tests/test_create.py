"""Creating bookings over HTTP: regular, Sunday lunch, validation, customers, idempotency, load."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from app.config import Settings
from app.db.postgres import PostgresDatabase
from app.main import create_app
from tests.conftest import (
    FakeClock,
    asgi_client,
    create_booking,
    envelope_error,
    regular_body,
    sunday_body,
)

BOOKINGS = "/api/table-bookings"


class TestRegularBooking:
    async def test_confirmed_at_once(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        data = await create_booking(client, key, regular_body(allergies=["peanuts"]))
        assert data["status"] == "confirmed"
        assert data["booking_reference"].startswith("TB-")
        assert data["payment_required"] is False
        assert (data["date"], data["time"], data["party_size"]) == ("2026-11-27", "19:00", 4)
        assert data["duration_minutes"] == 120
        assert len(data["manage_token"]) == 43
        row = await conn.fetchrow(
            "select b.status::text, b.confirmed_at, b.allergies, b.manage_token_hash,"
            " b.refund_policy, c.mobile_e164, c.mobile_number"
            " from table_bookings b join customers c on c.id = b.customer_id"
        )
        assert row is not None
        assert row["status"] == "confirmed" and row["confirmed_at"] is not None
        assert row["allergies"] == ["peanuts"]
        assert row["mobile_e164"] == row["mobile_number"] == "+447911123456"
        # The token is kept only as a hash.
        assert row["manage_token_hash"] != data["manage_token"]
        assert len(row["manage_token_hash"]) == 64

    async def test_the_token_opens_the_booking(
        self, client: httpx.AsyncClient, key: dict[str, str]
    ) -> None:
        data = await create_booking(client, key, regular_body())
        response = await client.get(
            f"{BOOKINGS}/{data['booking_reference']}",
            headers={"X-Booking-Token": data["manage_token"]},
        )
        assert response.status_code == 200
        assert response.json()["data"]["booking_id"] == data["booking_id"]

    async def test_created_is_audited(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        data = await create_booking(client, key, regular_body())
        audit = await conn.fetchrow(
            "select operation_type, resource_type, resource_id, operation_status,"
            " additional_info from audit_logs"
        )
        assert audit is not None
        assert audit["operation_type"] == "table_booking.created"
        assert audit["resource_type"] == "table_booking"
        assert audit["resource_id"] == data["booking_id"]
        assert audit["operation_status"] == "success"
        assert '"booking_reference": "' + data["booking_reference"] in audit["additional_info"]


class TestSmsConsentWithoutTheLedger:
    """Where the pub's consent ledger is absent (a fresh database), the form's SMS choice is
    kept in the customers summary; the ledger's way is tests/test_pub_database.py's."""

    @staticmethod
    async def _customer(conn: asyncpg.Connection) -> asyncpg.Record:
        row = await conn.fetchrow(
            "select sms_opt_in, sms_status, sms_opt_in_at, sms_opted_out_at from customers"
        )
        assert row is not None
        return row

    async def test_a_second_yes_changes_nothing_and_a_no_opts_out(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        await create_booking(client, key, regular_body("2026-11-27"))
        first = await self._customer(conn)
        assert (first["sms_opt_in"], first["sms_status"]) == (True, "active")
        await create_booking(client, key, regular_body("2026-11-28"))
        # The same consent again: the time it was given stays the first booking's.
        assert await self._customer(conn) == first
        await create_booking(
            client,
            key,
            {
                **regular_body("2026-11-26"),
                "customer": {**regular_body()["customer"], "sms_opt_in": False},
            },
        )
        after = await self._customer(conn)
        assert (after["sms_opt_in"], after["sms_status"]) == (False, "opted_out")

    async def test_opted_out_stays_opted_out(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        await create_booking(client, key, regular_body("2026-11-27"))
        await conn.execute("update customers set sms_opt_in = false, sms_status = 'opted_out'")
        before = await self._customer(conn)
        await create_booking(client, key, regular_body("2026-11-28"))
        assert await self._customer(conn) == before


class TestSundayLunch:
    async def test_pending_payment_with_exact_money(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        menu: dict[str, str],
        conn: asyncpg.Connection,
        clock: FakeClock,
    ) -> None:
        body = sunday_body(
            menu,
            mains={"Roasted Chicken": 2, "Slow-Cooked Lamb Shank": 1},
            extras={"Cauliflower Cheese": 1},
        )
        data = await create_booking(client, key, body)
        assert data["status"] == "pending_payment"
        assert data["payment_required"] is True
        # 2 x 14.99 + 15.49 + 3.99 = 49.46; deposit 3 x 5.00; balance due on arrival.
        assert data["payment_details"] == {
            "deposit_amount": "15.00",
            "total_amount": "49.46",
            "outstanding_amount": "34.46",
            "currency": "GBP",
            "payment_url": None,
            "expires_at": (clock.now + timedelta(minutes=30)).isoformat(),
        }
        items = await conn.fetch(
            "select m.name, i.quantity, i.price_at_booking, i.item_type::text"
            " from table_booking_items i join sunday_lunch_menu_items m on m.id = i.menu_item_id"
            " order by m.display_order"
        )
        assert [
            (r["name"], r["quantity"], r["price_at_booking"], r["item_type"]) for r in items
        ] == [
            ("Roasted Chicken", 2, Decimal("14.99"), "main"),
            ("Slow-Cooked Lamb Shank", 1, Decimal("15.49"), "main"),
            ("Roast Potatoes", 3, Decimal("0.00"), "side"),
            ("Yorkshire Pudding", 3, Decimal("0.00"), "side"),
            ("Seasonal Vegetables", 3, Decimal("0.00"), "side"),
            ("Cauliflower Cheese", 1, Decimal("3.99"), "side"),
        ]
        payment = await conn.fetchrow(
            "select amount, currency, status::text, payment_method from table_booking_payments"
        )
        assert payment is not None
        assert tuple(payment) == (Decimal("15.00"), "GBP", "pending", "paypal")

    async def test_deposit_per_guest_comes_from_settings(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        menu: dict[str, str],
        conn: asyncpg.Connection,
    ) -> None:
        await conn.execute(
            "insert into system_settings (key, value) values"
            " ('sunday_lunch_deposit_per_guest', '{\"value\": \"7.50\"}')"
        )
        data = await create_booking(
            client, key, sunday_body(menu, mains={"Kids Roasted Chicken": 3})
        )
        assert data["payment_details"]["deposit_amount"] == "22.50"
        assert data["payment_details"]["total_amount"] == "29.97"
        assert data["payment_details"]["outstanding_amount"] == "7.47"

    async def test_prices_come_from_the_menu_not_the_client(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        menu: dict[str, str],
        conn: asyncpg.Connection,
    ) -> None:
        body = sunday_body(menu, mains={"Crispy Pork Belly": 1})
        # The website sends the price it showed; it is accepted and ignored.
        body["menu_selections"][0]["price_at_booking"] = 0.01
        data = await create_booking(client, key, body)
        assert data["payment_details"]["total_amount"] == "15.99"
        stored = await conn.fetchval(
            "select price_at_booking from table_booking_items where menu_item_id = $1::uuid",
            menu["Crispy Pork Belly"],
        )
        assert stored == Decimal("15.99")

    async def test_included_sides_sent_by_the_client_are_not_doubled(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        menu: dict[str, str],
        conn: asyncpg.Connection,
    ) -> None:
        body = sunday_body(menu, extras={"Roast Potatoes": 5})
        await create_booking(client, key, body)
        quantity = await conn.fetchval(
            "select sum(quantity) from table_booking_items i"
            " join sunday_lunch_menu_items m on m.id = i.menu_item_id"
            " where m.name = 'Roast Potatoes'"
        )
        assert quantity == 2

    async def test_terms_are_copied_onto_the_booking(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        menu: dict[str, str],
        conn: asyncpg.Connection,
    ) -> None:
        data = await create_booking(client, key, sunday_body(menu))
        await conn.execute(
            "update booking_policies set full_refund_hours = 1, partial_refund_percentage = 0"
            " where booking_type = 'sunday_lunch'"
        )
        stored = await conn.fetchval(
            "select refund_policy->>'full_refund_hours' from table_bookings where id = $1::uuid",
            data["booking_id"],
        )
        assert stored == "48"

    @pytest.mark.parametrize(
        ("mains", "code"),
        [
            ({"Roasted Chicken": 1}, "INVALID_MEAL_SELECTION"),  # 2 guests, 1 main
            ({"Roasted Chicken": 3}, "INVALID_MEAL_SELECTION"),  # 2 guests, 3 mains
            ({}, "INVALID_MEAL_SELECTION"),
        ],
    )
    async def test_one_main_per_guest(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        menu: dict[str, str],
        conn: asyncpg.Connection,
        mains: dict[str, int],
        code: str,
    ) -> None:
        body = sunday_body(menu, mains=mains)
        body["party_size"] = 2
        response = await client.post(BOOKINGS, json=body, headers=key)
        assert response.status_code == 422
        error = envelope_error(response)
        assert error["code"] == code
        assert "one main course per guest" in error["message"]
        assert await conn.fetchval("select count(*) from table_bookings") == 0

    async def test_unknown_and_inactive_items(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        menu: dict[str, str],
        conn: asyncpg.Connection,
    ) -> None:
        await conn.execute(
            "update sunday_lunch_menu_items set is_active = false where name = 'Crispy Pork Belly'"
        )
        unknown = "00000000-0000-4000-8000-00000000beef"
        body = sunday_body(menu, mains={"Crispy Pork Belly": 1, "Roasted Chicken": 1})
        body["menu_selections"].append({"menu_item_id": unknown, "quantity": 1})
        response = await client.post(BOOKINGS, json=body, headers=key)
        assert response.status_code == 422
        error = envelope_error(response)
        assert error["code"] == "INVALID_MENU_ITEMS"
        assert sorted(error["details"]["menu_item_ids"]) == sorted(
            [menu["Crispy Pork Belly"], unknown]
        )

    async def test_selections_on_a_regular_booking_are_refused(
        self, client: httpx.AsyncClient, key: dict[str, str], menu: dict[str, str]
    ) -> None:
        body = regular_body(
            menu_selections=[{"menu_item_id": menu["Roasted Chicken"], "quantity": 4}]
        )
        response = await client.post(BOOKINGS, json=body, headers=key)
        assert response.status_code == 400
        assert envelope_error(response)["code"] == "VALIDATION_ERROR"

    async def test_the_menu(self, client: httpx.AsyncClient, key: dict[str, str]) -> None:
        response = await client.get(f"{BOOKINGS}/menu/sunday-lunch?date=2026-11-29", headers=key)
        assert response.status_code == 200
        data = response.json()["data"]
        assert [m["name"] for m in data["mains"]][:2] == [
            "Roasted Chicken",
            "Slow-Cooked Lamb Shank",
        ]
        sides = {s["name"]: (s["price"], s["included"]) for s in data["sides"]}
        # Prices are JSON numbers (the website formats them with toFixed(2)).
        assert sides["Yorkshire Pudding"] == (0, True)
        assert sides["Cauliflower Cheese"] == (3.99, False)
        assert response.text.count('"price":3.99') == 1
        assert all(item["is_available"] is True for item in data["mains"] + data["sides"])
        assert "gluten" in data["mains"][0]["allergens"]
        assert data["order_cutoff"] == "2026-11-28T13:00:00+00:00"
        assert data["ordering_open"] is True
        assert data["deposit_per_guest"] == "5.00"
        monday = await client.get(f"{BOOKINGS}/menu/sunday-lunch?date=2026-11-30", headers=key)
        assert monday.status_code == 422
        assert envelope_error(monday)["code"] == "POLICY_VIOLATION"

    async def test_the_menu_on_a_saturday_says_plainly_why_not(
        self, client: httpx.AsyncClient, key: dict[str, str]
    ) -> None:
        response = await client.get(f"{BOOKINGS}/menu/sunday-lunch?date=2026-11-28", headers=key)
        assert response.status_code == 422
        error = envelope_error(response)
        assert (error["code"], error["details"]) == ("POLICY_VIOLATION", {"reason": "NOT_SUNDAY"})
        assert error["message"] == (
            "Sunday lunch is served on Sundays only, and Saturday 28 November is not a Sunday."
        )


class TestRefusals:
    @pytest.mark.parametrize(
        ("body", "fragment"),
        [
            (regular_body("2026-11-30"), "kitchen is closed on Monday 30 November"),
            (regular_body(time="22:00"), "not serving at 22:00"),
            (regular_body(time="21:30"), "last table can be booked for 21:00"),
            (regular_body(time="11:30"), "not serving at 11:30"),
            (regular_body(party_size=21), "call us on 01753 682707"),
            (regular_body("2026-11-23"), "has already passed"),
            (regular_body("2027-01-20"), "56 days ahead"),
            (regular_body("2026-12-25"), "closed on Friday 25 December"),
        ],
    )
    async def test_policy_violations_say_why(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
        body: dict[str, Any],
        fragment: str,
    ) -> None:
        response = await client.post(BOOKINGS, json=body, headers=key)
        assert response.status_code == 422, response.text
        error = envelope_error(response)
        assert error["code"] == "POLICY_VIOLATION"
        assert fragment in error["message"]
        assert await conn.fetchval("select count(*) from table_bookings") == 0
        assert await conn.fetchval("select count(*) from customers") == 0
        refused = await conn.fetchrow(
            "select operation_type, operation_status, new_values::text from audit_logs"
        )
        assert refused is not None
        assert refused["operation_type"] == "table_booking.create_refused"
        assert refused["operation_status"] == "failure"
        assert "07911" not in refused["new_values"] and "+447911" not in refused["new_values"]

    async def test_a_time_off_the_slot_grid_is_refused_with_the_nearest_slots(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        availability = await client.get(
            f"{BOOKINGS}/availability",
            params={"date": "2026-11-27", "party_size": 4},
            headers=key,
        )
        offered = [s["time"] for s in availability.json()["data"]["time_slots"]]
        assert "19:00" in offered and "19:30" in offered and "19:10" not in offered

        response = await client.post(BOOKINGS, json=regular_body(time="19:10"), headers=key)

        assert response.status_code == 422, response.text
        error = envelope_error(response)
        assert error["code"] == "POLICY_VIOLATION"
        assert error["details"] == {
            "reason": "NOT_A_SLOT",
            "slot_interval_minutes": 30,
            "nearest": ["19:00", "19:30"],
        }
        assert error["message"] == (
            "Tables are booked every 30 minutes from 12:00, so 19:10 is not a time we can book."
            " The nearest times are 19:00 and 19:30."
        )
        assert await conn.fetchval("select count(*) from table_bookings") == 0
        made = await create_booking(client, key, regular_body(time="19:30"))
        moved = await client.patch(
            f"{BOOKINGS}/{made['booking_reference']}", json={"time": "19:45"}, headers=key
        )
        assert moved.status_code == 422, moved.text
        assert envelope_error(moved)["details"]["nearest"] == ["19:30", "20:00"]

    async def test_sunday_lunch_on_a_saturday(
        self, client: httpx.AsyncClient, key: dict[str, str], menu: dict[str, str]
    ) -> None:
        response = await client.post(
            BOOKINGS, json=sunday_body(menu, day="2026-11-28"), headers=key
        )
        assert response.status_code == 422
        error = envelope_error(response)
        assert (error["code"], error["details"]) == ("POLICY_VIOLATION", {"reason": "NOT_SUNDAY"})
        assert error["message"] == (
            "Sunday lunch is served on Sundays only, and Saturday 28 November is not a Sunday."
        )

    async def test_no_room(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        for phone in ("07911 123401", "07911 123402"):
            await create_booking(client, key, regular_body(party_size=20, phone=phone))
        response = await client.post(
            BOOKINGS, json=regular_body(time="20:00", party_size=11), headers=key
        )
        assert response.status_code == 409
        error = envelope_error(response)
        assert error["code"] == "NO_AVAILABILITY"
        assert error["details"] == {"available_capacity": 10}
        assert "only 10 covers are free at 20:00" in error["message"]
        assert await conn.fetchval("select count(*) from table_bookings") == 2

    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"customer": {"mobile_number": "not-a-phone"}}, "customer.mobile_number"),
            ({"customer": {"mobile_number": "0791112345"}}, "customer.mobile_number"),
            ({"time": "7pm"}, "time"),
            ({"party_size": 0}, "party_size"),
            ({"booking_type": "brunch"}, "booking_type"),
            ({"date": "27/11/2026"}, "date"),
            ({"surprise": True}, "surprise"),
            ({"customer": {"email": "not-an-email"}}, "customer.email"),
        ],
    )
    async def test_validation_names_the_field(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        change: dict[str, Any],
        field: str,
    ) -> None:
        body = regular_body()
        for name, value in change.items():
            if name == "customer":
                body["customer"] = {**body["customer"], **value}
            else:
                body[name] = value
        response = await client.post(BOOKINGS, json=body, headers=key)
        assert response.status_code == 400, response.text
        error = envelope_error(response)
        assert error["code"] == "VALIDATION_ERROR"
        fields = (
            {error["details"]["field"]}
            if isinstance(error["details"], dict)
            else {d["field"] for d in error["details"]}
        )
        assert field in fields

    async def test_needs_the_write_scope(self, client: httpx.AsyncClient, make_key: Any) -> None:
        reader = await make_key(["read:table_bookings"])
        response = await client.post(BOOKINGS, json=regular_body(), headers=reader)
        assert response.status_code == 403
        assert envelope_error(response)["code"] == "FORBIDDEN"


class TestReadingTheRequest:
    """The route reads its header and body itself (one pass over the JSON text); what it
    answers must be what FastAPI answered when it read them."""

    async def test_header_and_body_errors_in_one_answer_and_nothing_booked(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        body = {**regular_body(), "party_size": 0, "surprise": True}
        response = await client.post(
            BOOKINGS, json=body, headers={**key, "Idempotency-Key": "k" * 201}
        )
        assert response.status_code == 400, response.text
        error = envelope_error(response)
        assert error["code"] == "VALIDATION_ERROR"
        assert [d["field"] for d in error["details"]] == [
            "header.Idempotency-Key",
            "party_size",
            "surprise",
        ]
        assert error["message"] == (
            "The request is not valid: header.Idempotency-Key, party_size, surprise."
        )
        assert await conn.fetchval("select count(*) from table_bookings") == 0

    async def test_a_key_of_200_characters_is_taken(
        self, client: httpx.AsyncClient, key: dict[str, str]
    ) -> None:
        headers = {**key, "Idempotency-Key": "k" * 200}
        response = await client.post(BOOKINGS, json=regular_body(), headers=headers)
        assert response.status_code == 201, response.text

    @pytest.mark.parametrize(
        ("content", "message"),
        [
            (b"", "Field required"),
            (b"  ", "Field required"),
            (b"{not json", "Invalid JSON: key must be a string at line 1 column 2"),
            (b"[]", "Input should be an object"),
        ],
    )
    async def test_no_body_or_not_an_object(
        self, client: httpx.AsyncClient, key: dict[str, str], content: bytes, message: str
    ) -> None:
        response = await client.post(
            BOOKINGS, content=content, headers={**key, "Content-Type": "application/json"}
        )
        assert response.status_code == 400, response.text
        error = envelope_error(response)
        assert error["details"][0]["field"] == "body"
        assert error["details"][0]["message"].startswith(message)

    async def test_the_answer_has_every_documented_field_in_order(
        self, client: httpx.AsyncClient, key: dict[str, str]
    ) -> None:
        response = await client.post(BOOKINGS, json=regular_body(), headers=key)
        assert response.status_code == 201
        assert response.headers["content-type"] == "application/json"
        data = response.json()["data"]
        assert list(data) == [
            "booking_id",
            "booking_reference",
            "status",
            "booking_type",
            "date",
            "time",
            "party_size",
            "duration_minutes",
            "manage_token",
            "payment_required",
            "payment_details",
            "booking_purpose",
            "table_name",
            "tables_joined",
            "is_outside_seating",
            "high_chairs_granted",
            "high_chairs_short",
            "confirmation_details",
            "booking_details",
            "cancellation_policy",
        ]
        assert data["payment_details"] is None
        assert data["payment_required"] is False


class TestCustomers:
    async def test_one_customer_whatever_the_format(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        for i, phone in enumerate(["07911 123456", "+44 7911 123456", "00447911123456"]):
            await create_booking(client, key, regular_body(time=f"1{2 + i}:00", phone=phone))
        assert await conn.fetchval("select count(*) from customers") == 1
        counts = await conn.fetchrow(
            "select table_booking_count, last_table_booking_date::text from customers"
        )
        assert counts is not None
        assert tuple(counts) == (3, "2026-11-27")

    async def test_legacy_number_is_found_and_upgraded(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        legacy = await conn.fetchval(
            "insert into customers (first_name, last_name, mobile_number, sms_opt_in)"
            " values ('Old', 'Regular', '07911123456', false) returning id"
        )
        await create_booking(client, key, regular_body(phone="+447911123456"))
        row = await conn.fetchrow("select id, mobile_e164, sms_opt_in, first_name from customers")
        assert row is not None
        assert row["id"] == legacy
        assert row["mobile_e164"] == "+447911123456"
        assert row["sms_opt_in"] is True  # the guest opted in this time
        assert row["first_name"] == "Old"  # a real name is not overwritten
        assert await conn.fetchval("select count(*) from customers") == 1

    async def test_missing_email_is_filled_never_overwritten(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        body = regular_body()
        await create_booking(client, key, body)
        body["customer"]["email"] = "Ann@Example.com"
        await create_booking(client, key, {**body, "time": "12:00"})
        body["customer"]["email"] = "other@example.com"
        await create_booking(client, key, {**body, "time": "13:00"})
        assert await conn.fetchval("select email from customers") == "ann@example.com"

    async def test_an_email_of_someone_else_is_not_taken(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        await conn.execute(
            "insert into customers (first_name, last_name, mobile_e164, mobile_number, email)"
            " values ('Sam', 'Other', '+447911999999', '+447911999999', 'shared@example.com')"
        )
        body = regular_body()
        body["customer"]["email"] = "shared@example.com"
        await create_booking(client, key, body)
        emails = await conn.fetch("select mobile_e164, email from customers order by mobile_e164")
        assert [tuple(r) for r in emails] == [
            ("+447911123456", None),
            ("+447911999999", "shared@example.com"),
        ]

    async def test_parallel_requests_for_a_new_number_make_one_customer(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        times = ["12:00", "12:30", "13:00", "13:30", "14:00", "14:30", "15:00", "15:30"]
        responses = await asyncio.gather(
            *(
                client.post(BOOKINGS, json=regular_body(time=t, party_size=1), headers=key)
                for t in times
            )
        )
        assert [r.status_code for r in responses] == [201] * len(times)
        assert await conn.fetchval("select count(*) from customers") == 1


class TestIdempotency:
    async def test_replay_returns_the_same_booking_and_a_working_token(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        headers = {**key, "Idempotency-Key": "order-42"}
        first = await client.post(BOOKINGS, json=regular_body(), headers=headers)
        again = await client.post(BOOKINGS, json=regular_body(), headers=headers)
        assert first.status_code == again.status_code == 201
        assert again.json() == first.json()
        assert await conn.fetchval("select count(*) from table_bookings") == 1
        stored = await conn.fetchval("select response::text from idempotency_keys")
        assert first.json()["data"]["manage_token"] not in stored

    async def test_same_key_other_body_is_a_conflict(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        headers = {**key, "Idempotency-Key": "order-43"}
        await client.post(BOOKINGS, json=regular_body(), headers=headers)
        response = await client.post(BOOKINGS, json=regular_body(party_size=5), headers=headers)
        assert response.status_code == 409
        assert envelope_error(response)["code"] == "IDEMPOTENCY_KEY_CONFLICT"
        assert await conn.fetchval("select count(*) from table_bookings") == 1

    async def test_keys_are_per_caller(
        self, client: httpx.AsyncClient, make_key: Any, conn: asyncpg.Connection
    ) -> None:
        for phone in ("07911 123451", "07911 123452"):
            headers = {**(await make_key()), "Idempotency-Key": "same"}
            await create_booking(client, headers, regular_body(phone=phone))
        assert await conn.fetchval("select count(*) from table_bookings") == 2

    async def test_a_refused_request_can_be_retried_with_the_same_key(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        headers = {**key, "Idempotency-Key": "retry-me"}
        blocker = await create_booking(
            client, key, regular_body(party_size=20, phone="07911 123401")
        )
        await create_booking(client, key, regular_body(party_size=20, phone="07911 123402"))
        full = await client.post(BOOKINGS, json=regular_body(party_size=12), headers=headers)
        assert full.status_code == 409
        assert await conn.fetchval("select count(*) from idempotency_keys") == 0
        await client.post(f"{BOOKINGS}/{blocker['booking_reference']}/cancel", headers=key, json={})
        retried = await client.post(BOOKINGS, json=regular_body(party_size=12), headers=headers)
        assert retried.status_code == 201

    async def test_a_key_expires_after_a_day(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
        clock: FakeClock,
    ) -> None:
        headers = {**key, "Idempotency-Key": "yesterday"}
        first = await create_booking(client, headers, regular_body())
        clock.advance(hours=24, seconds=1)
        second = await create_booking(client, headers, regular_body())
        assert second["booking_reference"] != first["booking_reference"]

    async def test_a_sunday_lunch_replays_with_its_payment_details(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        menu: dict[str, str],
        conn: asyncpg.Connection,
    ) -> None:
        # A Sunday lunch's response is stored when its payment details are known (the end of its
        # transaction), a table's at its claim: both must replay what was answered.
        headers = {**key, "Idempotency-Key": "sunday-7"}
        body = sunday_body(menu, mains={"Roasted Chicken": 2}, extras={"Cauliflower Cheese": 1})
        first = await client.post(BOOKINGS, json=body, headers=headers)
        again = await client.post(BOOKINGS, json=body, headers=headers)
        assert first.status_code == again.status_code == 201
        assert again.json() == first.json()
        assert first.json()["data"]["payment_details"]["total_amount"] == "33.97"
        assert await conn.fetchval("select count(*) from table_bookings") == 1
        stored = await conn.fetchval("select response from idempotency_keys")
        assert "state" not in json.loads(stored)

    async def test_a_table_replays_what_was_answered(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        headers = {**key, "Idempotency-Key": "table-9"}
        first = await create_booking(client, headers, regular_body(party_size=3))
        stored = json.loads(await conn.fetchval("select response from idempotency_keys"))
        booking = await conn.fetchrow(
            "select id::text, booking_reference from table_bookings where booking_reference = $1",
            first["booking_reference"],
        )
        assert booking is not None
        assert stored["booking_id"] == booking["id"] == first["booking_id"]
        assert {k: stored[k] for k in ("booking_reference", "status", "party_size")} == {
            "booking_reference": first["booking_reference"],
            "status": "confirmed",
            "party_size": 3,
        }

    async def test_parallel_retries_make_one_booking(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        headers = {**key, "Idempotency-Key": "double-click"}
        responses = await asyncio.gather(
            *(client.post(BOOKINGS, json=regular_body(), headers=headers) for _ in range(8))
        )
        assert {r.status_code for r in responses} == {201}
        assert len({r.json()["data"]["booking_reference"] for r in responses}) == 1
        assert await conn.fetchval("select count(*) from table_bookings") == 1


class TestUnderLoad:
    async def test_last_covers_are_never_overbooked(
        self,
        settings: Settings,
        database_url: str,
        clock: FakeClock,
        key: dict[str, str],
        conn: asyncpg.Connection,
    ) -> None:
        database = await PostgresDatabase.connect(database_url, max_size=20)
        app: FastAPI = create_app(settings, database=database, clock=clock)
        try:
            async with asgi_client(app) as client:
                for phone in ("07911 123401", "07911 123402"):
                    await create_booking(client, key, regular_body(party_size=20, phone=phone))
                # 10 covers left at 19:00 on Friday; 60 parties of two race for them.
                bodies = [regular_body(party_size=2, phone=f"07911 1235{i:02d}") for i in range(60)]
                responses = await asyncio.gather(
                    *(client.post(BOOKINGS, json=b, headers=key) for b in bodies)
                )
        finally:
            await database.close()
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [201] * 5 + [409] * 55
        refused = [envelope_error(r)["code"] for r in responses if r.status_code == 409]
        assert set(refused) == {"NO_AVAILABILITY"}
        booked = await conn.fetchval(
            "select sum(party_size) from table_bookings where status = 'confirmed'"
        )
        assert booked == 50
