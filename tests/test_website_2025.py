"""The pub's 2025 website (peterjpitcher/the-anchor.pub), replayed: what its code sends, and
exactly the fields its code reads from our answers (issue 14).

The requests are written from the website's 2025 sources (its API client ``lib/api.ts``, the
booking wizard's submit route, ``TableBookingForm``, ``SundayLunchBookingForm``, the later
``SundayLunchBooking`` with dish names, ``BookingConfirmation`` and the
``/booking-confirmation?ref=`` page); none of its code is copied here. Its client unwraps our
envelope (``data.success === true && data.data``), so the assertions read ``data``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from app.config import Environment, Settings
from app.db.postgres import PostgresDatabase
from app.main import create_app
from tests.conftest import FakeClock, asgi_client, envelope_error
from tests.test_payments import WEBHOOK_ID, FakePayPal, paypal, return_from_paypal

__all__ = ["paypal"]  # the PayPal fakes of tests/test_payments.py, as a fixture here too

BOOKINGS = "/api/table-bookings"
MENU = f"{BOOKINGS}/menu/sunday-lunch"
SUNDAY = "2026-11-29"  # the suite's clock is Tuesday 24 November 2026, 10:00 London
POLICY_WORDS = (
    "Nothing has been paid for this booking, so you can cancel it free of charge until it starts"
    " at 19:00 on Friday 27 November."
)


def idempotency() -> dict[str, str]:
    # The client sends crypto.randomUUID() when the caller gives no key.
    return {"Idempotency-Key": str(uuid.uuid4())}


def regular_form(**changes: Any) -> dict[str, Any]:
    """TableBookingForm's request (customer details from CustomerDetails)."""
    body: dict[str, Any] = {
        "booking_type": "regular",
        "date": "2026-11-27",
        "time": "19:00",
        "party_size": 4,
        "customer": {
            "first_name": "Ann",
            "last_name": "Lee",
            "email": "ann@example.com",
            "mobile_number": "07911 123456",
            "sms_opt_in": True,
        },
        "duration_minutes": 120,
        "special_requirements": "Window table please",
        "dietary_requirements": ["vegetarian"],
        "allergies": ["peanuts"],
        "celebration_type": "birthday",
        "source": "website",
    }
    body.update(changes)
    return body


def wizard(**changes: Any) -> dict[str, Any]:
    """The booking wizard's submit route: the guest left email out (undefined is dropped by
    JSON.stringify), and marketing opt-in feeds sms_opt_in."""
    body: dict[str, Any] = {
        "booking_type": "regular",
        "date": "2026-11-27",
        "time": "18:30",
        "party_size": 2,
        "customer": {
            "first_name": "Raj",
            "last_name": "Patel",
            "mobile_number": "07700900456",
            "sms_opt_in": False,
        },
        "duration_minutes": 120,
        "special_requirements": "",
        "source": "website_wizard",
        "marketing_opt_in": False,
    }
    body.update(changes)
    return body


def sunday_form(menu: dict[str, str]) -> dict[str, Any]:
    """SundayLunchBookingForm: a main per guest by id with the price it showed, then the paid
    extras for the table on one row named "Table"."""
    return {
        "booking_type": "sunday_lunch",
        "date": SUNDAY,
        "time": "13:00",
        "party_size": 2,
        "customer": {
            "first_name": "Ann",
            "last_name": "Lee",
            "mobile_number": "07911 123456",
            "sms_opt_in": True,
        },
        "special_requirements": "",
        "dietary_requirements": [],
        "allergies": [],
        "menu_selections": [
            {
                "guest_name": "Guest 1",
                "menu_item_id": menu["Roasted Chicken"],
                "item_type": "main",
                "quantity": 1,
                "price_at_booking": 14.99,
            },
            {
                "guest_name": "Guest 2",
                "menu_item_id": menu["Crispy Pork Belly"],
                "item_type": "main",
                "quantity": 1,
                "price_at_booking": 15.99,
            },
            {
                "guest_name": "Table",
                "menu_item_id": menu["Cauliflower Cheese"],
                "item_type": "side",
                "quantity": 2,
                "price_at_booking": 3.99,
            },
        ],
        "source": "website",
    }


def sunday_by_name(*, price: float | None = None) -> dict[str, Any]:
    """SundayLunchBooking (later in 2025): every dish by name, the included sides once per
    guest at 0, and one row per paid extra, each on a row named "Table"."""
    included = ["Roast Potatoes", "Yorkshire Pudding", "Seasonal Vegetables"]
    selections: list[dict[str, Any]] = []
    for guest, main, shown in (
        ("Ann", "Roasted Chicken", 14.99),
        ("Guest 2", "Slow-Cooked Lamb Shank", 15.49),
    ):
        selections.append(
            {
                "custom_item_name": main,
                "item_type": "main",
                "quantity": 1,
                "guest_name": guest,
                "price_at_booking": shown if price is None else price,
            }
        )
        selections += [
            {
                "custom_item_name": side,
                "item_type": "side",
                "quantity": 1,
                "guest_name": guest,
                "price_at_booking": 0,
            }
            for side in included
        ]
    selections += [
        {
            "custom_item_name": "Cauliflower Cheese",
            "item_type": "side",
            "quantity": 1,
            "guest_name": "Table",
            "price_at_booking": 3.99 if price is None else price,
        }
        for _ in range(2)
    ]
    return {
        "booking_type": "sunday_lunch",
        "date": SUNDAY,
        "time": "13:30",
        "party_size": 2,
        "customer": {
            "first_name": "Ann",
            "last_name": "Lee",
            "email": "ann@example.com",
            "mobile_number": "07911 123456",
            "sms_opt_in": True,
        },
        "special_requirements": "SUNDAY ROAST PRE-ORDER",
        "dietary_requirements": ["no pork"],
        "celebration_type": "sunday_roast",
        "source": "website",
        "menu_selections": selections,
    }


async def created(
    client: httpx.AsyncClient, key: dict[str, str], body: dict[str, Any]
) -> dict[str, Any]:
    response = await client.post(BOOKINGS, json=body, headers={**key, **idempotency()})
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


class TestTheRegularForm:
    async def test_booked_and_its_confirmation_screen_has_what_it_reads(
        self, client: httpx.AsyncClient, key: dict[str, str]
    ) -> None:
        booking = await created(client, key, regular_form())
        # BookingConfirmation: the reference, then confirmation_details (or booking_details).
        assert booking["booking_reference"].startswith("TB-")
        for details in ("confirmation_details", "booking_details"):
            assert booking[details] == {
                "date": "2026-11-27",
                "time": "19:00",
                "party_size": 4,
                "duration_minutes": 120,
                "special_requirements": "Window table please",
            }
        # Rendered as text in a <p>: words, not an object.
        assert booking["cancellation_policy"] == POLICY_WORDS
        assert booking["status"] == "confirmed"

    async def test_an_empty_email_and_no_requirements_are_fine(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        body = regular_form(special_requirements="", celebration_type="")
        body["customer"]["email"] = ""
        del body["dietary_requirements"], body["allergies"]  # sent as undefined
        booking = await created(client, key, body)
        assert booking["confirmation_details"]["special_requirements"] is None
        assert await conn.fetchval("select email from customers") is None

    async def test_the_policy_words_are_those_of_the_booking_view(
        self, client: httpx.AsyncClient, key: dict[str, str]
    ) -> None:
        booking = await created(client, key, regular_form())
        view = await client.get(
            f"{BOOKINGS}/{booking['booking_reference']}",
            headers={"X-Booking-Token": booking["manage_token"]},
        )
        assert (
            view.json()["data"]["cancellation_policy"]["summary"]
            == (booking["cancellation_policy"])
        )

    async def test_the_availability_check_with_its_extra_parameters(
        self, client: httpx.AsyncClient, key: dict[str, str]
    ) -> None:
        # checkTableAvailability sends time and duration too; they are not ours to use.
        response = await client.get(
            f"{BOOKINGS}/availability",
            params={
                "date": "2026-11-27",
                "time": "19:00",
                "party_size": "4",
                "duration": "120",
                "booking_type": "regular",
            },
            headers=key,
        )
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        slot = next(s for s in data["time_slots"] if s["time"] == "19:00")
        assert (data["available"], slot["available"], slot["available_capacity"]) == (
            True,
            True,
            50,
        )


class TestTheWizard:
    async def test_booked_with_its_extra_fields_accepted_and_ignored(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        booking = await created(client, key, wizard(duration_minutes=90))
        # The wizard reads these to decide between PayPal and its confirmation.
        assert booking["payment_required"] is False
        assert booking["status"] == "confirmed"
        assert booking["booking_reference"]
        assert booking["confirmation_details"]["date"] == "2026-11-27"
        assert booking["confirmation_details"]["time"] == "18:30"
        assert booking["confirmation_details"]["party_size"] == 2
        row = await conn.fetchrow("select source, duration_minutes from table_bookings")
        assert row is not None
        # The pub's duration, not the body's; the channel is the caller's.
        assert (row["source"], row["duration_minutes"]) == ("website", 120)

    async def test_its_sunday_lunch_with_the_menu_step_by_name(
        self, client: httpx.AsyncClient, key: dict[str, str]
    ) -> None:
        # The wizard's menu step gives dishes by name (MenuSelectionPayload); its submit route
        # adds duration_minutes, source and marketing_opt_in as for a table.
        body = {
            **wizard(marketing_opt_in=True),
            **{k: sunday_by_name()[k] for k in ("booking_type", "date", "menu_selections")},
            "time": "14:00",
        }
        booking = await created(client, key, body)
        # It redirects to PayPal on payment_required and payment_details.payment_url, and keeps
        # the reference (booking_reference) for /booking-confirmation?ref=.
        assert booking["payment_required"] is True
        assert set(booking["payment_details"]) >= {"payment_url", "deposit_amount"}
        assert booking["booking_reference"].startswith("TB-")
        assert booking["confirmation_details"]["party_size"] == 2

    async def test_a_website_key_cannot_label_a_booking_staff_or_walk_in(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        for claimed, time in (("staff", "18:00"), ("walk-in", "18:30"), ("phone", "19:00")):
            await created(client, key, wizard(source=claimed, time=time))
        sources = await conn.fetch("select source from table_bookings")
        assert [r["source"] for r in sources] == ["website"] * 3
        audited = await conn.fetch(
            "select additional_info from audit_logs where operation_type = 'table_booking.created'"
        )
        assert all('"source": "website"' in r["additional_info"] for r in audited)

    async def test_staff_name_their_channel(
        self, client: httpx.AsyncClient, make_staff: Any, conn: asyncpg.Connection
    ) -> None:
        staff = await make_staff("manager")
        for claimed, time in (("walk-in", "18:00"), ("website_wizard", "18:30"), (None, "19:00")):
            body = wizard(source=claimed, time=time)
            response = await client.post(BOOKINGS, json=body, headers=staff)
            assert response.status_code == 201, response.text
        rows = await conn.fetch("select source from table_bookings order by booking_time")
        assert [r["source"] for r in rows] == ["walk-in", "staff", "staff"]


class TestSundayLunchForms:
    async def test_the_form_by_id_with_the_tables_extras(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        menu: dict[str, str],
        conn: asyncpg.Connection,
    ) -> None:
        booking = await created(client, key, sunday_form(menu))
        # What the form reads: status, then payment_details.payment_url (null without PayPal,
        # which only development, and this suite, allow).
        assert booking["status"] == "pending_payment"
        assert booking["payment_details"]["payment_url"] is None
        # 14.99 + 15.99 + 2 x 3.99, from the menu.
        assert booking["payment_details"]["total_amount"] == "38.96"
        assert booking["payment_details"]["deposit_amount"] == "10.00"
        table = await conn.fetchrow(
            "select i.quantity, i.guest_name, i.price_at_booking from table_booking_items i"
            " join sunday_lunch_menu_items m on m.id = i.menu_item_id"
            " where m.name = 'Cauliflower Cheese'"
        )
        assert table is not None
        assert tuple(table) == (2, "Table", Decimal("3.99"))

    async def test_the_form_by_name_with_included_sides_per_guest(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
    ) -> None:
        booking = await created(client, key, sunday_by_name())
        assert booking["payment_required"] is True
        assert booking["confirmation_details"]["time"] == "13:30"
        # 14.99 + 15.49 + 2 x 3.99; the included sides cost nothing and are not doubled.
        assert booking["payment_details"]["total_amount"] == "38.46"
        items = await conn.fetch(
            "select m.name, sum(i.quantity)::int as n, min(i.price_at_booking) as price"
            " from table_booking_items i join sunday_lunch_menu_items m on m.id = i.menu_item_id"
            " group by m.name, m.display_order order by m.display_order"
        )
        assert [(r["name"], r["n"], r["price"]) for r in items] == [
            ("Roasted Chicken", 1, Decimal("14.99")),
            ("Slow-Cooked Lamb Shank", 1, Decimal("15.49")),
            ("Roast Potatoes", 2, Decimal("0.00")),
            ("Yorkshire Pudding", 2, Decimal("0.00")),
            ("Seasonal Vegetables", 2, Decimal("0.00")),
            ("Cauliflower Cheese", 2, Decimal("3.99")),
        ]
        guests = await conn.fetch(
            "select i.guest_name from table_booking_items i"
            " join sunday_lunch_menu_items m on m.id = i.menu_item_id"
            " where m.category = 'main' order by m.display_order"
        )
        assert [r["guest_name"] for r in guests] == ["Ann", "Guest 2"]

    async def test_prices_sent_are_ignored(
        self, client: httpx.AsyncClient, key: dict[str, str]
    ) -> None:
        booking = await created(client, key, sunday_by_name(price=0.01))
        assert booking["payment_details"]["total_amount"] == "38.46"

    async def test_a_dish_the_menu_does_not_have_is_refused_and_nothing_is_written(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        body = sunday_by_name()
        body["menu_selections"][0]["custom_item_name"] = "Beef Wellington"
        response = await client.post(BOOKINGS, json=body, headers=key)
        assert response.status_code == 422, response.text
        error = envelope_error(response)
        assert (error["code"], error["details"]) == (
            "INVALID_MENU_ITEMS",
            {"names": ["Beef Wellington"]},
        )
        assert await conn.fetchval("select count(*) from table_bookings") == 0

    async def test_a_selection_naming_no_dish_is_a_validation_error(
        self, client: httpx.AsyncClient, key: dict[str, str]
    ) -> None:
        body = sunday_by_name()
        del body["menu_selections"][0]["custom_item_name"]
        response = await client.post(BOOKINGS, json=body, headers=key)
        assert response.status_code == 400
        assert envelope_error(response)["details"][0]["field"] == "menu_selections.0"


class TestTheMenu:
    async def test_without_a_date_with_the_fields_the_website_reads(
        self, client: httpx.AsyncClient, key: dict[str, str]
    ) -> None:
        response = await client.get(MENU, headers=key)
        assert response.status_code == 200, response.text
        menu = response.json()["data"]
        assert menu["menu_date"] == SUNDAY
        mains = [m for m in menu["mains"] if m["is_available"]]
        assert [m["name"] for m in mains][:2] == ["Roasted Chicken", "Slow-Cooked Lamb Shank"]
        for item in menu["mains"] + menu["sides"]:
            # price.toFixed(2): a JSON number, never a string.
            assert type(item["price"]) in (int, float), item
            assert item["is_available"] is True
        sides = {s["name"]: (f"{s['price']:.2f}", s["included"]) for s in menu["sides"]}
        assert sides["Roast Potatoes"] == ("0.00", True)
        assert sides["Cauliflower Cheese"] == ("3.99", False)
        assert f"{mains[0]['price']:.2f}" == "14.99"
        # Shown as "Saturday 1pm" by formatCutoff(cutoff_time).
        assert menu["cutoff_time"] == "2026-11-28T13:00:00+00:00"

    async def test_after_the_cut_off_it_is_the_following_sunday(
        self, client: httpx.AsyncClient, key: dict[str, str], clock: FakeClock
    ) -> None:
        clock.set(datetime(2026, 11, 28, 12, 59, tzinfo=UTC))  # 12:59 London, GMT
        before = await client.get(MENU, headers=key)
        assert before.json()["data"]["menu_date"] == SUNDAY
        clock.set(datetime(2026, 11, 28, 13, 0, tzinfo=UTC))
        after = await client.get(MENU, headers=key)
        assert after.json()["data"]["menu_date"] == "2026-12-06"
        assert after.json()["data"]["ordering_open"] is True

    async def test_a_closed_sunday_is_skipped(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        await conn.execute(
            "insert into special_hours (date, is_closed, is_kitchen_closed, note)"
            " values ($1::date, true, true, 'Private party')",
            date(2026, 11, 29),
        )
        response = await client.get(MENU, headers=key)
        assert response.json()["data"]["menu_date"] == "2026-12-06"

    async def test_a_date_is_still_taken(
        self, client: httpx.AsyncClient, key: dict[str, str]
    ) -> None:
        response = await client.get(MENU, params={"date": "2026-12-13"}, headers=key)
        assert response.json()["data"]["menu_date"] == "2026-12-13"


@pytest.fixture
def outside_development(settings: Settings) -> Settings:
    """The suite's settings as a deployment has them: APP_ENV=test, no PayPal, nothing said
    about unpaid holds."""
    return settings.model_copy(update={"allow_unpaid_sunday_lunch": None})


class TestNoSundayLunchWithoutPayments:
    async def test_refused_with_503_and_nothing_written(
        self,
        outside_development: Settings,
        db: PostgresDatabase,
        clock: FakeClock,
        key: dict[str, str],
        menu: dict[str, str],
        conn: asyncpg.Connection,
    ) -> None:
        assert outside_development.environment is Environment.test
        async with asgi_client(create_app(outside_development, database=db, clock=clock)) as c:
            for body in (sunday_form(menu), sunday_by_name()):
                response = await c.post(BOOKINGS, json=body, headers={**key, **idempotency()})
                assert response.status_code == 503, response.text
                assert envelope_error(response)["code"] == "SERVICE_UNAVAILABLE"
            for table in (
                "table_bookings",
                "customers",
                "table_booking_payments",
                "idempotency_keys",
                "jobs",
            ):
                assert await conn.fetchval(f"select count(*) from {table}") == 0, table  # noqa: S608
            # A table needs no deposit.
            regular = await c.post(BOOKINGS, json=regular_form(), headers=key)
            assert regular.status_code == 201

    async def test_credentials_are_judged_first(
        self,
        outside_development: Settings,
        db: PostgresDatabase,
        clock: FakeClock,
        make_key: Any,
        menu: dict[str, str],
    ) -> None:
        read_only = await make_key(["read:table_bookings"])
        async with asgi_client(create_app(outside_development, database=db, clock=clock)) as c:
            unknown = await c.post(
                BOOKINGS, json=sunday_form(menu), headers={"X-API-Key": "anch_nobody"}
            )
            assert unknown.status_code == 401
            forbidden = await c.post(BOOKINGS, json=sunday_form(menu), headers=read_only)
            assert forbidden.status_code == 403

    def test_only_development_holds_unpaid_unless_told(self, settings: Settings) -> None:
        unset = settings.model_copy(update={"allow_unpaid_sunday_lunch": None})
        for environment, allowed in (
            (Environment.development, True),
            (Environment.test, False),
            (Environment.production, False),
        ):
            assert (
                unset.model_copy(update={"environment": environment}).unpaid_sunday_lunch_allowed
                is allowed
            )
        assert unset.model_copy(
            update={"allow_unpaid_sunday_lunch": True}
        ).unpaid_sunday_lunch_allowed


@pytest.fixture
def website_paypal_settings(outside_development: Settings) -> Settings:
    """PayPal configured, and the payment pages left at their defaults."""
    return outside_development.model_copy(
        update={
            "paypal_client_id": "cid",
            "paypal_client_secret": SecretStr("csecret"),
            "paypal_webhook_id": WEBHOOK_ID,
            "public_base_url": "https://tb.example",
        }
    )


class TestPaymentReturn:
    @pytest.fixture
    def app(
        self, website_paypal_settings: Settings, db: PostgresDatabase, clock: FakeClock
    ) -> FastAPI:
        return create_app(website_paypal_settings, database=db, clock=clock)

    async def test_the_guest_lands_on_the_websites_confirmation_page(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        menu: dict[str, str],
        paypal: FakePayPal,
    ) -> None:
        booking = await created(client, key, sunday_form(menu))
        # Both Sunday lunch forms send the guest to payment_details.payment_url.
        assert booking["payment_details"]["payment_url"].startswith("https://www.sandbox.paypal")
        response = await return_from_paypal(client, json_wanted=False)
        assert response.status_code == 303
        assert response.headers["Location"] == (
            "https://www.the-anchor.pub/booking-confirmation"
            f"?ref={booking['booking_reference']}&outcome=confirmed"
        )

    async def test_the_reference_parameter_is_configurable(
        self,
        website_paypal_settings: Settings,
        db: PostgresDatabase,
        clock: FakeClock,
        key: dict[str, str],
        menu: dict[str, str],
        paypal: FakePayPal,
    ) -> None:
        settings = website_paypal_settings.model_copy(update={"payment_reference_param": "booking"})
        async with asgi_client(create_app(settings, database=db, clock=clock)) as c:
            booking = await created(c, key, sunday_form(menu))
            response = await return_from_paypal(c, json_wanted=False)
        assert response.headers["Location"] == (
            "https://www.the-anchor.pub/booking-confirmation"
            f"?booking={booking['booking_reference']}&outcome=confirmed"
        )

    def test_a_bad_parameter_name_is_refused(self) -> None:
        with pytest.raises(ValueError, match="payment_reference_param"):
            Settings(_env_file=None, PAYMENT_REFERENCE_PARAM="ref&x=1")
