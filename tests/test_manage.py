"""Managing bookings: guest self-service, refunds, staff actions, listing, audit, customer stats."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from app.services.staff_auth import mint_staff_token
from tests.conftest import (
    DEFAULT_NOW,
    STAFF_JWT_SECRET,
    FakeClock,
    create_booking,
    envelope_error,
    regular_body,
    sunday_body,
)
from tests.pub_floor import set_setting

BASE = "/api/table-bookings"
THURSDAY = "2026-11-26"
FRIDAY = "2026-11-27"
FRIDAY_1900 = datetime(2026, 11, 27, 19, 0, tzinfo=UTC)  # GMT: London = UTC in November
SUNDAY = "2026-11-29"
SUNDAY_1300 = datetime(2026, 11, 29, 13, 0, tzinfo=UTC)
MONDAY = "2026-11-30"
PHONE = "07911 123456"
PHONE_E164 = "+447911123456"
PHONE_DIGITS = "7911123456"
EMAIL = "ann.lee@example.com"


def guest(token: str) -> dict[str, str]:
    return {"X-Booking-Token": token}


def person(
    first: str,
    last: str,
    phone: str,
    day: str = FRIDAY,
    time: str = "19:00",
    party_size: int = 4,
    email: str | None = None,
) -> dict[str, Any]:
    body = regular_body(day, time, party_size, phone=phone)
    body["customer"].update(first_name=first, last_name=last, email=email)
    return body


async def mark_paid(conn: asyncpg.Connection, booking_id: str) -> None:
    """What a captured PayPal deposit leaves behind."""
    await conn.execute(
        "update table_booking_payments set status = 'completed', paid_at = now()"
        " where booking_id = $1::uuid",
        booking_id,
    )
    await conn.execute(
        "update table_bookings set status = 'confirmed', payment_status = 'completed',"
        " confirmed_at = now(), hold_expires_at = null where id = $1::uuid",
        booking_id,
    )


async def booking_row(conn: asyncpg.Connection, booking_id: str) -> asyncpg.Record:
    row = await conn.fetchrow("select * from table_bookings where id = $1::uuid", booking_id)
    assert row is not None
    return row


async def payment_row(conn: asyncpg.Connection, booking_id: str) -> dict[str, Any]:
    row = await conn.fetchrow(
        "select status::text, amount, payment_metadata from table_booking_payments"
        " where booking_id = $1::uuid",
        booking_id,
    )
    assert row is not None
    return {
        "status": row["status"],
        "amount": row["amount"],
        "metadata": json.loads(row["payment_metadata"] or "{}"),
    }


async def audits(conn: asyncpg.Connection, operation: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "select * from audit_logs where operation_type = $1 order by created_at, id", operation
    )
    result = []
    for r in rows:
        row = dict(r)
        for column in ("old_values", "new_values", "additional_info"):
            row[column] = json.loads(row[column]) if row[column] is not None else None
        result.append(row)
    return result


async def patch(
    client: httpx.AsyncClient, reference: str, headers: dict[str, str], body: dict[str, Any]
) -> httpx.Response:
    return await client.patch(f"{BASE}/{reference}", json=body, headers=headers)


async def cancel(
    client: httpx.AsyncClient,
    reference: str,
    headers: dict[str, str],
    body: dict[str, Any] | None = None,
) -> httpx.Response:
    if body is None:
        return await client.post(f"{BASE}/{reference}/cancel", headers=headers)
    return await client.post(f"{BASE}/{reference}/cancel", json=body, headers=headers)


async def set_status(
    client: httpx.AsyncClient, reference: str, headers: dict[str, str], status: str
) -> httpx.Response:
    return await client.post(f"{BASE}/{reference}/status", json={"status": status}, headers=headers)


# Guest self-service: viewing ---------------------------------------------------------------------


class TestGuestView:
    async def test_guest_sees_booking_with_the_token_header(
        self, client: httpx.AsyncClient, key: dict[str, str]
    ) -> None:
        made = await create_booking(client, key, person("Ann", "Lee", PHONE, email=EMAIL))
        response = await client.get(
            f"{BASE}/{made['booking_reference']}", headers=guest(made["manage_token"])
        )
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        assert data["booking_reference"] == made["booking_reference"]
        assert data["status"] == "confirmed"
        assert (data["date"], data["time"], data["party_size"]) == (FRIDAY, "19:00", 4)
        assert data["can_cancel"] is True
        assert data["modification_count"] == 0
        # A guest sees a name, never how to reach the customer.
        assert data["customer"] == {"first_name": "Ann", "last_name": "Lee"}
        assert PHONE_DIGITS not in response.text
        assert EMAIL not in response.text.lower()
        policy = data["cancellation_policy"]
        assert policy["refund_amount_now"] == "0.00"
        assert "Nothing has been paid" in policy["summary"]

    async def test_guest_token_in_the_query(
        self, client: httpx.AsyncClient, key: dict[str, str]
    ) -> None:
        made = await create_booking(client, key, regular_body())
        response = await client.get(
            f"{BASE}/{made['booking_reference']}", params={"token": made["manage_token"]}
        )
        assert response.status_code == 200, response.text
        assert response.json()["data"]["booking_id"] == made["booking_id"]

    async def test_another_bookings_token_sees_not_found(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        mine = await create_booking(client, key, regular_body())
        theirs = await create_booking(client, key, regular_body(phone="07700 900123"))
        ref = mine["booking_reference"]
        wrong = guest(theirs["manage_token"])
        for response in (
            await client.get(f"{BASE}/{ref}", headers=wrong),
            await client.get(f"{BASE}/{ref}", params={"token": theirs["manage_token"]}),
            await patch(client, ref, wrong, {"party_size": 2}),
            await cancel(client, ref, wrong),
            await client.get(f"{BASE}/{ref}", headers=guest("not-any-token")),
        ):
            assert response.status_code == 404, response.text
            assert envelope_error(response)["code"] == "NOT_FOUND"
        anonymous = await client.get(f"{BASE}/{ref}")
        assert anonymous.status_code == 401
        assert envelope_error(anonymous)["code"] == "UNAUTHORIZED"
        row = await booking_row(conn, mine["booking_id"])
        assert (row["status"], row["party_size"]) == ("confirmed", 4)

    async def test_staff_and_manage_key_see_phone_and_email(
        self, client: httpx.AsyncClient, key: dict[str, str], make_staff: Any
    ) -> None:
        made = await create_booking(client, key, person("Ann", "Lee", PHONE, email=EMAIL))
        staff = await make_staff("staff")
        for headers in (key, staff):
            response = await client.get(f"{BASE}/{made['booking_reference']}", headers=headers)
            assert response.status_code == 200, response.text
            customer = response.json()["data"]["customer"]
            assert customer["first_name"] == "Ann"
            assert customer["mobile_number"] == PHONE_E164
            assert customer["email"] == EMAIL

    async def test_paid_sunday_lunch_policy_in_dates_and_words(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        menu: dict[str, str],
        conn: asyncpg.Connection,
    ) -> None:
        made = await create_booking(client, key, sunday_body(menu, mains={"Roasted Chicken": 3}))
        assert made["payment_details"]["deposit_amount"] == "15.00"
        await mark_paid(conn, made["booking_id"])
        response = await client.get(
            f"{BASE}/{made['booking_reference']}", headers=guest(made["manage_token"])
        )
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        assert data["status"] == "confirmed"
        assert data["can_cancel"] is True
        policy = data["cancellation_policy"]
        assert policy["full_refund_until"] == "2026-11-27T13:00:00+00:00"
        assert policy["partial_refund_until"] == "2026-11-28T13:00:00+00:00"
        assert policy["partial_refund_percentage"] == 50
        assert policy["refund_percentage_now"] == 100
        assert policy["refund_amount_now"] == "15.00"
        summary = policy["summary"]
        assert "13:00 on Friday 27 November" in summary
        assert "13:00 on Saturday 28 November" in summary
        assert "£15.00" in summary and "£7.50" in summary

    async def test_after_the_start_the_guest_can_no_longer_cancel(
        self, client: httpx.AsyncClient, key: dict[str, str], clock: FakeClock
    ) -> None:
        made = await create_booking(client, key, regular_body())
        clock.set(FRIDAY_1900 + timedelta(minutes=5))
        response = await client.get(
            f"{BASE}/{made['booking_reference']}", headers=guest(made["manage_token"])
        )
        assert response.status_code == 200
        assert response.json()["data"]["can_cancel"] is False

    @pytest.mark.parametrize(
        ("ending", "because"),
        [
            ("cancelled", "it has already been cancelled"),
            ("completed", "it has been marked as completed"),
            ("no_show", "it has been marked as a no-show"),
            ("started", "it started at 19:00 on Friday 27 November"),
        ],
    )
    async def test_a_booking_that_cannot_be_cancelled_says_so_and_why(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        clock: FakeClock,
        ending: str,
        because: str,
    ) -> None:
        made = await create_booking(client, key, regular_body())
        ref = made["booking_reference"]
        before = (await client.get(f"{BASE}/{ref}", headers=key)).json()["data"]
        assert before["can_cancel"] is True
        assert "free of charge until it starts" in before["cancellation_policy"]["summary"]
        if ending == "cancelled":
            assert (await cancel(client, ref, key)).status_code == 200
        else:
            clock.set(FRIDAY_1900 + timedelta(minutes=30))
        if ending in ("completed", "no_show"):
            marked = await set_status(client, ref, key, ending)
            assert marked.status_code == 200, marked.text
            assert marked.json()["data"]["cancellation_policy"]["summary"] == (
                f"This booking can no longer be cancelled because {because}."
            )
        for headers in (key, guest(made["manage_token"])):
            data = (await client.get(f"{BASE}/{ref}", headers=headers)).json()["data"]
            assert data["can_cancel"] is False
            summary = data["cancellation_policy"]["summary"]
            assert summary == f"This booking can no longer be cancelled because {because}."

    async def test_a_paid_booking_once_cancelled_no_longer_offers_a_refund_in_words(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        menu: dict[str, str],
        conn: asyncpg.Connection,
    ) -> None:
        made = await create_booking(client, key, sunday_body(menu, mains={"Roasted Chicken": 3}))
        await mark_paid(conn, made["booking_id"])
        ref, headers = made["booking_reference"], guest(made["manage_token"])
        assert (await cancel(client, ref, headers)).status_code == 200
        data = (await client.get(f"{BASE}/{ref}", headers=headers)).json()["data"]
        assert (data["status"], data["can_cancel"]) == ("cancelled", False)
        assert data["cancellation_policy"]["summary"] == (
            "This booking can no longer be cancelled because it has already been cancelled."
        )
        # Nor in figures: cancelling again would refund nothing.
        policy = data["cancellation_policy"]
        assert (policy["refund_percentage_now"], policy["refund_amount_now"]) == (0, "0.00")


# Guest self-service: changing --------------------------------------------------------------------


class TestGuestChanges:
    async def test_change_date_time_party_and_requirements(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        made = await create_booking(client, key, regular_body())
        ref, token = made["booking_reference"], made["manage_token"]
        response = await patch(
            client,
            ref,
            guest(token),
            {
                "date": THURSDAY,
                "time": "18:30",
                "party_size": 6,
                "special_requirements": "Window seat please",
                "allergies": ["peanuts"],
            },
        )
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        assert (data["date"], data["time"], data["party_size"]) == (THURSDAY, "18:30", 6)
        assert data["special_requirements"] == "Window seat please"
        assert data["allergies"] == ["peanuts"]
        assert data["modification_count"] == 1
        assert data["customer"] == {"first_name": "Ann", "last_name": "Lee"}

        row = await booking_row(conn, made["booking_id"])
        assert row["start_datetime"] == datetime(2026, 11, 26, 18, 30, tzinfo=UTC)
        assert row["end_datetime"] == datetime(2026, 11, 26, 20, 30, tzinfo=UTC)
        mods = await conn.fetch(
            "select modification_type, old_values, new_values from table_booking_modifications"
            " where booking_id = $1::uuid",
            made["booking_id"],
        )
        by_type: dict[str, list[tuple[Any, Any]]] = {}
        for m in mods:
            by_type.setdefault(m["modification_type"], []).append(
                (json.loads(m["old_values"]), json.loads(m["new_values"]))
            )
        assert by_type["date_change"] == [({"date": FRIDAY}, {"date": THURSDAY})]
        assert by_type["time_change"] == [({"time": "19:00"}, {"time": "18:30"})]
        assert by_type["party_size"] == [({"party_size": 4}, {"party_size": 6})]
        assert len(by_type["requirements"]) == 2

        same = await patch(client, ref, guest(token), {"party_size": 6, "time": "18:30"})
        assert same.status_code == 200, same.text
        assert same.json()["data"]["modification_count"] == 1  # nothing changed, nothing recorded
        again = await patch(client, ref, guest(token), {"celebration_type": "birthday"})
        assert again.status_code == 200, again.text
        assert again.json()["data"]["modification_count"] == 2
        assert again.json()["data"]["celebration_type"] == "birthday"

    async def test_change_to_a_monday_is_a_policy_violation(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        made = await create_booking(client, key, regular_body())
        response = await patch(
            client, made["booking_reference"], guest(made["manage_token"]), {"date": MONDAY}
        )
        assert response.status_code == 422, response.text
        assert envelope_error(response)["code"] == "POLICY_VIOLATION"
        row = await booking_row(conn, made["booking_id"])
        assert str(row["booking_date"]) == FRIDAY
        assert row["modification_count"] == 0

    async def test_change_into_a_full_slot_is_no_availability(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        made = await create_booking(client, key, regular_body(THURSDAY, party_size=2))
        for n, size in enumerate((20, 20, 10)):
            await create_booking(
                client, key, regular_body(party_size=size, phone=f"07700 90010{n}")
            )
        response = await patch(
            client, made["booking_reference"], guest(made["manage_token"]), {"date": FRIDAY}
        )
        assert response.status_code == 409, response.text
        assert envelope_error(response)["code"] == "NO_AVAILABILITY"
        row = await booking_row(conn, made["booking_id"])
        assert str(row["booking_date"]) == THURSDAY

    async def test_a_change_within_its_own_slot_does_not_count_itself(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        await conn.execute(
            "update booking_policies set max_party_size = 50 where booking_type = 'regular'"
        )
        made = await create_booking(client, key, regular_body(party_size=40))
        ref, headers = made["booking_reference"], guest(made["manage_token"])
        response = await patch(client, ref, headers, {"time": "19:30"})
        assert response.status_code == 200, response.text
        assert response.json()["data"]["time"] == "19:30"
        bigger = await patch(client, ref, headers, {"party_size": 45})
        assert bigger.status_code == 200, bigger.text
        assert bigger.json()["data"]["party_size"] == 45

    async def test_sunday_lunch_party_size_cannot_change(
        self, client: httpx.AsyncClient, key: dict[str, str], menu: dict[str, str]
    ) -> None:
        made = await create_booking(client, key, sunday_body(menu))
        response = await patch(
            client, made["booking_reference"], guest(made["manage_token"]), {"party_size": 3}
        )
        assert response.status_code == 422, response.text
        assert envelope_error(response)["code"] == "POLICY_VIOLATION"

    @pytest.mark.parametrize("body", [{}, {"override": False}])
    async def test_an_empty_change_is_a_validation_error(
        self, client: httpx.AsyncClient, key: dict[str, str], body: dict[str, Any]
    ) -> None:
        made = await create_booking(client, key, regular_body())
        response = await patch(client, made["booking_reference"], guest(made["manage_token"]), body)
        assert response.status_code == 400, response.text
        assert envelope_error(response)["code"] == "VALIDATION_ERROR"

    async def test_a_guest_cannot_override_the_policy(
        self, client: httpx.AsyncClient, key: dict[str, str]
    ) -> None:
        made = await create_booking(client, key, regular_body())
        response = await patch(
            client,
            made["booking_reference"],
            guest(made["manage_token"]),
            {"time": "19:30", "override": True},
        )
        assert response.status_code == 403, response.text
        assert envelope_error(response)["code"] == "FORBIDDEN"


class TestNotModifiable:
    async def test_a_cancelled_booking_cannot_be_changed_or_cancelled_again(
        self, client: httpx.AsyncClient, key: dict[str, str]
    ) -> None:
        made = await create_booking(client, key, regular_body())
        ref, headers = made["booking_reference"], guest(made["manage_token"])
        assert (await cancel(client, ref, headers)).status_code == 200
        for response in (
            await patch(client, ref, headers, {"time": "19:30"}),
            await cancel(client, ref, headers),
            await patch(client, ref, key, {"time": "19:30"}),
            await cancel(client, ref, key),
        ):
            assert response.status_code == 409, response.text
            assert envelope_error(response)["code"] == "BOOKING_NOT_MODIFIABLE"

    async def test_no_change_after_the_start(
        self, client: httpx.AsyncClient, key: dict[str, str], clock: FakeClock, make_staff: Any
    ) -> None:
        made = await create_booking(client, key, regular_body())
        clock.set(FRIDAY_1900)
        manager = await make_staff("manager")
        for headers in (guest(made["manage_token"]), manager):
            response = await patch(
                client, made["booking_reference"], headers, {"special_requirements": "High chair"}
            )
            assert response.status_code == 409, response.text
            assert envelope_error(response)["code"] == "BOOKING_NOT_MODIFIABLE"

    async def test_guest_cannot_cancel_after_the_start_but_a_manager_can(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        clock: FakeClock,
        make_staff: Any,
        conn: asyncpg.Connection,
    ) -> None:
        made = await create_booking(client, key, regular_body())
        clock.set(FRIDAY_1900 + timedelta(minutes=1))
        response = await cancel(client, made["booking_reference"], guest(made["manage_token"]))
        assert response.status_code == 409, response.text
        assert envelope_error(response)["code"] == "BOOKING_NOT_MODIFIABLE"
        assert (await booking_row(conn, made["booking_id"]))["status"] == "confirmed"
        staff = await cancel(client, made["booking_reference"], await make_staff("manager"))
        assert staff.status_code == 200, staff.text

    async def test_no_change_once_the_payment_hold_expired(
        self, client: httpx.AsyncClient, key: dict[str, str], menu: dict[str, str], clock: FakeClock
    ) -> None:
        made = await create_booking(client, key, sunday_body(menu))
        assert made["status"] == "pending_payment"
        clock.advance(minutes=10)
        within = await patch(
            client, made["booking_reference"], guest(made["manage_token"]), {"time": "13:30"}
        )
        assert within.status_code == 200, within.text
        clock.advance(minutes=21)
        response = await patch(
            client, made["booking_reference"], guest(made["manage_token"]), {"time": "14:00"}
        )
        assert response.status_code == 409, response.text
        assert envelope_error(response)["code"] == "BOOKING_NOT_MODIFIABLE"


# Cancelling and refunds --------------------------------------------------------------------------


class TestCancellation:
    async def test_guest_cancels_a_regular_booking(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        made = await create_booking(client, key, regular_body())
        response = await cancel(
            client,
            made["booking_reference"],
            guest(made["manage_token"]),
            {"reason": "Plans changed"},
        )
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        assert data["status"] == "cancelled"
        assert data["booking_reference"] == made["booking_reference"]
        refund = data["refund"]
        assert (refund["eligible"], refund["amount"], refund["paid_amount"]) == (
            False,
            "0.00",
            "0.00",
        )
        row = await booking_row(conn, made["booking_id"])
        assert row["status"] == "cancelled"
        assert row["cancelled_at"] == DEFAULT_NOW
        assert row["cancellation_reason"] == "Plans changed"
        assert row["cancelled_by"] == "guest"
        view = await client.get(
            f"{BASE}/{made['booking_reference']}", headers=guest(made["manage_token"])
        )
        assert view.json()["data"]["status"] == "cancelled"
        assert view.json()["data"]["can_cancel"] is False

    async def test_cancelling_an_unpaid_sunday_lunch_fails_its_payment(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        menu: dict[str, str],
        conn: asyncpg.Connection,
    ) -> None:
        made = await create_booking(client, key, sunday_body(menu))
        response = await cancel(client, made["booking_reference"], guest(made["manage_token"]))
        assert response.status_code == 200, response.text
        assert response.json()["data"]["refund"]["amount"] == "0.00"
        payment = await payment_row(conn, made["booking_id"])
        assert payment["status"] == "failed"
        assert "refund_due" not in payment["metadata"]
        row = await booking_row(conn, made["booking_id"])
        assert row["status"] == "cancelled"
        assert row["hold_expires_at"] is None

    @pytest.mark.parametrize(
        ("deposit", "guests", "before", "percentage", "amount"),
        [
            (None, 3, timedelta(hours=48), 100, "15.00"),
            (None, 3, timedelta(hours=47, minutes=59), 50, "7.50"),
            (None, 3, timedelta(hours=24), 50, "7.50"),
            (None, 3, timedelta(hours=23, minutes=59, seconds=59), 0, "0.00"),
            ("3.33", 3, timedelta(days=4), 100, "9.99"),
            ("3.33", 3, timedelta(hours=30), 50, "5.00"),  # 4.995 rounds half up
            ("3.33", 1, timedelta(hours=30), 50, "1.67"),  # 1.665 rounds half up
            ("3.33", 3, timedelta(hours=1), 0, "0.00"),
        ],
        ids=[
            "48h-full",
            "47h59m-half",
            "24h-half",
            "just-under-24h-nothing",
            "odd-pennies-full",
            "odd-pennies-half",
            "one-guest-half",
            "odd-pennies-nothing",
        ],
    )
    async def test_refund_of_a_paid_sunday_lunch(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        menu: dict[str, str],
        conn: asyncpg.Connection,
        clock: FakeClock,
        deposit: str | None,
        guests: int,
        before: timedelta,
        percentage: int,
        amount: str,
    ) -> None:
        if deposit is not None:
            await set_setting(conn, "sunday_lunch_deposit_per_guest", deposit)
        made = await create_booking(
            client, key, sunday_body(menu, mains={"Roasted Chicken": guests})
        )
        paid = made["payment_details"]["deposit_amount"]
        await mark_paid(conn, made["booking_id"])
        clock.set(SUNDAY_1300 - before)
        ref, headers = made["booking_reference"], guest(made["manage_token"])

        # What the guest is told before cancelling agrees with what cancelling does.
        view = await client.get(f"{BASE}/{ref}", headers=headers)
        assert view.status_code == 200, view.text
        policy = view.json()["data"]["cancellation_policy"]
        assert (policy["refund_percentage_now"], policy["refund_amount_now"]) == (
            percentage,
            amount,
        )

        response = await cancel(client, ref, headers, {"reason": "Poorly"})
        assert response.status_code == 200, response.text
        refund = response.json()["data"]["refund"]
        assert refund == {
            "eligible": amount != "0.00",
            "percentage": percentage,
            "amount": amount,
            "paid_amount": paid,
            "currency": "GBP",
        }
        payment = await payment_row(conn, made["booking_id"])
        assert payment["status"] == "completed"
        assert payment["metadata"]["refund_due"] == amount
        assert payment["metadata"]["refund_percentage"] == percentage
        row = await booking_row(conn, made["booking_id"])
        assert row["status"] == "cancelled"
        assert row["cancelled_at"] == SUNDAY_1300 - before
        assert row["cancellation_reason"] == "Poorly"
        assert row["cancelled_by"] == "guest"

    async def test_the_terms_in_force_when_booked_apply(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        menu: dict[str, str],
        conn: asyncpg.Connection,
        clock: FakeClock,
    ) -> None:
        made = await create_booking(client, key, sunday_body(menu, mains={"Roasted Chicken": 3}))
        await mark_paid(conn, made["booking_id"])
        # The pub tightens its policy after this booking was made.
        await conn.execute(
            "update booking_policies set full_refund_hours = 72, partial_refund_percentage = 25"
            " where booking_type = 'sunday_lunch'"
        )
        clock.set(SUNDAY_1300 - timedelta(hours=50))
        response = await cancel(client, made["booking_reference"], guest(made["manage_token"]))
        assert response.status_code == 200, response.text
        assert response.json()["data"]["refund"]["percentage"] == 100
        assert response.json()["data"]["refund"]["amount"] == "15.00"

    async def test_refund_hours_are_real_hours_across_the_clocks_going_forward(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        menu: dict[str, str],
        conn: asyncpg.Connection,
        clock: FakeClock,
    ) -> None:
        # British Summer Time starts at 01:00 UTC on Sunday 28 March 2027.
        clock.set(datetime(2027, 3, 20, 10, 0, tzinfo=UTC))
        made = await create_booking(
            client, key, sunday_body(menu, "2027-03-28", mains={"Roasted Chicken": 3})
        )
        await mark_paid(conn, made["booking_id"])
        ref, headers = made["booking_reference"], guest(made["manage_token"])
        data = (await client.get(f"{BASE}/{ref}", headers=headers)).json()["data"]
        assert data["starts_at"] == "2027-03-28T13:00:00+01:00"
        policy = data["cancellation_policy"]
        assert policy["full_refund_until"] == "2027-03-26T12:00:00+00:00"
        assert policy["partial_refund_until"] == "2027-03-27T12:00:00+00:00"
        assert "12:00 on Friday 26 March" in policy["summary"]
        clock.set(datetime(2027, 3, 26, 12, 0, 1, tzinfo=UTC))
        response = await cancel(client, ref, headers)
        assert response.status_code == 200, response.text
        assert response.json()["data"]["refund"]["amount"] == "7.50"

    async def test_staff_cancel_records_who_and_the_refund(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        menu: dict[str, str],
        conn: asyncpg.Connection,
        clock: FakeClock,
        make_staff: Any,
    ) -> None:
        made = await create_booking(client, key, sunday_body(menu, mains={"Roasted Chicken": 3}))
        await mark_paid(conn, made["booking_id"])
        clock.set(SUNDAY_1300 - timedelta(hours=30))
        response = await cancel(
            client, made["booking_reference"], await make_staff("manager"), {"reason": "Closed"}
        )
        assert response.status_code == 200, response.text
        assert response.json()["data"]["refund"]["amount"] == "7.50"
        row = await booking_row(conn, made["booking_id"])
        assert row["cancelled_by"] == "staff"
        assert (await payment_row(conn, made["booking_id"]))["metadata"]["refund_due"] == "7.50"


# Staff and manage keys ---------------------------------------------------------------------------


class TestListing:
    @pytest.fixture
    async def bookings(
        self, client: httpx.AsyncClient, key: dict[str, str], menu: dict[str, str]
    ) -> dict[str, dict[str, Any]]:
        dan = sunday_body(menu, phone="07700 900789")
        dan["customer"].update(first_name="Dan", last_name="Eve")
        made = {
            "ann_fri": await create_booking(client, key, person("Ann", "Lee", PHONE)),
            "bob_thu": await create_booking(
                client, key, person("Bob", "Stone", "07700 900123", THURSDAY, "18:00")
            ),
            "cara_sat": await create_booking(
                client, key, person("Cara", "Diaz", "07700 900456", "2026-11-28", "12:00")
            ),
            "dan_sun": await create_booking(client, key, dan),
            "ann_dec": await create_booking(
                client, key, person("Ann", "Lee", PHONE, "2026-12-04", "19:00")
            ),
        }
        bob = made["bob_thu"]
        response = await cancel(client, bob["booking_reference"], guest(bob["manage_token"]))
        assert response.status_code == 200
        return made

    @staticmethod
    async def listing(
        client: httpx.AsyncClient, headers: dict[str, str], **params: Any
    ) -> dict[str, Any]:
        response = await client.get(BASE, params=params, headers=headers)
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()["data"]
        return data

    @staticmethod
    def refs(data: dict[str, Any]) -> list[str]:
        return [item["booking_reference"] for item in data["items"]]

    async def test_everything_in_date_and_time_order_and_paged(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        bookings: dict[str, dict[str, Any]],
    ) -> None:
        data = await self.listing(client, key)
        assert data["total"] == 5
        order = ["bob_thu", "ann_fri", "cara_sat", "dan_sun", "ann_dec"]
        assert self.refs(data) == [bookings[k]["booking_reference"] for k in order]
        first = data["items"][1]
        assert first["customer_name"] == "Ann Lee"
        assert first["mobile_number"] == PHONE_E164
        assert (first["date"], first["time"], first["party_size"]) == (FRIDAY, "19:00", 4)

        page2 = await self.listing(client, key, page=2, page_size=2)
        assert (page2["page"], page2["page_size"], page2["total"]) == (2, 2, 5)
        assert self.refs(page2) == [
            bookings["cara_sat"]["booking_reference"],
            bookings["dan_sun"]["booking_reference"],
        ]
        page3 = await self.listing(client, key, page=3, page_size=2)
        assert self.refs(page3) == [bookings["ann_dec"]["booking_reference"]]
        page4 = await self.listing(client, key, page=4, page_size=2)
        assert (page4["items"], page4["total"]) == ([], 5)

    async def test_filters(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        make_staff: Any,
        bookings: dict[str, dict[str, Any]],
    ) -> None:
        def ref(name: str) -> str:
            return str(bookings[name]["booking_reference"])

        in_range = await self.listing(client, key, date_from=FRIDAY, date_to=SUNDAY)
        assert self.refs(in_range) == [ref("ann_fri"), ref("cara_sat"), ref("dan_sun")]
        assert in_range["total"] == 3
        cancelled = await self.listing(client, key, status="cancelled")
        assert self.refs(cancelled) == [ref("bob_thu")]
        open_ = await self.listing(client, key, status="confirmed,pending_payment")
        assert open_["total"] == 4
        pending = await self.listing(client, key, status="pending_payment")
        assert self.refs(pending) == [ref("dan_sun")]
        sunday = await self.listing(client, key, booking_type="sunday_lunch")
        assert self.refs(sunday) == [ref("dan_sun")]
        combined = await self.listing(
            client, key, date_from=FRIDAY, status="confirmed", booking_type="regular"
        )
        assert self.refs(combined) == [ref("ann_fri"), ref("cara_sat"), ref("ann_dec")]
        by_staff = await self.listing(client, await make_staff("staff"), date_from=SUNDAY)
        assert self.refs(by_staff) == [ref("dan_sun"), ref("ann_dec")]

    async def test_search_by_reference_name_and_phone_digits(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        bookings: dict[str, dict[str, Any]],
    ) -> None:
        def ref(name: str) -> str:
            return str(bookings[name]["booking_reference"])

        by_ref = await self.listing(client, key, search=ref("cara_sat").lower())
        assert self.refs(by_ref) == [ref("cara_sat")]
        by_name = await self.listing(client, key, search="ann lee")
        assert self.refs(by_name) == [ref("ann_fri"), ref("ann_dec")]
        by_last = await self.listing(client, key, search="STONE")
        assert self.refs(by_last) == [ref("bob_thu")]
        by_digits = await self.listing(client, key, search="900456")
        assert self.refs(by_digits) == [ref("cara_sat")]
        by_spaced = await self.listing(client, key, search="7700 900 789")
        assert self.refs(by_spaced) == [ref("dan_sun")]
        by_intl = await self.listing(client, key, search="+44 7700 900123")
        assert self.refs(by_intl) == [ref("bob_thu")]
        nothing = await self.listing(client, key, search="Zebedee")
        assert (nothing["items"], nothing["total"]) == ([], 0)

    async def test_wildcards_are_searched_as_typed(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        bookings: dict[str, dict[str, Any]],
    ) -> None:
        for typed in ("%", "_", "a%e", "_nn", "\\"):
            found = await self.listing(client, key, search=typed)
            assert (found["items"], found["total"]) == ([], 0), typed
        assert self.refs(await self.listing(client, key, search="ann")) == [
            bookings["ann_fri"]["booking_reference"],
            bookings["ann_dec"]["booking_reference"],
        ]

    async def test_search_by_phone_as_written_in_the_uk(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        bookings: dict[str, dict[str, Any]],
    ) -> None:
        data = await self.listing(client, key, search="07700 900456")
        assert self.refs(data) == [bookings["cara_sat"]["booking_reference"]]

    async def test_unknown_status_is_a_validation_error(
        self, client: httpx.AsyncClient, key: dict[str, str]
    ) -> None:
        response = await client.get(BASE, params={"status": "confirmed,lost"}, headers=key)
        assert response.status_code == 400
        assert envelope_error(response)["code"] == "VALIDATION_ERROR"

    async def test_a_guest_token_cannot_list(
        self, client: httpx.AsyncClient, key: dict[str, str]
    ) -> None:
        made = await create_booking(client, key, regular_body())
        response = await client.get(BASE, headers=guest(made["manage_token"]))
        assert response.status_code == 401
        assert envelope_error(response)["code"] == "UNAUTHORIZED"


class TestStaffStatus:
    async def test_no_show_before_the_start_is_refused(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        make_staff: Any,
        clock: FakeClock,
        conn: asyncpg.Connection,
    ) -> None:
        made = await create_booking(client, key, regular_body())
        clock.set(FRIDAY_1900 - timedelta(minutes=1))
        response = await set_status(
            client, made["booking_reference"], await make_staff("staff"), "no_show"
        )
        assert response.status_code == 422, response.text
        assert envelope_error(response)["code"] == "POLICY_VIOLATION"
        assert (await booking_row(conn, made["booking_id"]))["status"] == "confirmed"

    async def test_no_show_after_the_start_counts_against_the_customer(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        make_staff: Any,
        clock: FakeClock,
        conn: asyncpg.Connection,
    ) -> None:
        made = await create_booking(client, key, regular_body())
        clock.set(FRIDAY_1900 + timedelta(minutes=20))
        response = await set_status(
            client, made["booking_reference"], await make_staff("staff"), "no_show"
        )
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        assert data["status"] == "no_show"
        assert data["customer"]["no_show_count"] == 1
        row = await booking_row(conn, made["booking_id"])
        assert row["status"] == "no_show"
        assert row["no_show_at"] == FRIDAY_1900 + timedelta(minutes=20)
        assert row["no_show_marked_by"] is not None
        count = await conn.fetchval(
            "select no_show_count from customers where id = $1", row["customer_id"]
        )
        assert count == 1

    async def test_completed_before_the_start_is_refused_like_a_no_show(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        make_staff: Any,
        clock: FakeClock,
        conn: asyncpg.Connection,
    ) -> None:
        made = await create_booking(client, key, regular_body())
        ref, staff = made["booking_reference"], await make_staff("staff")
        clock.set(FRIDAY_1900 - timedelta(minutes=1))
        completed = await set_status(client, ref, staff, "completed")
        by_key = await set_status(client, ref, key, "completed")
        no_show = await set_status(client, ref, staff, "no_show")
        for response in (completed, by_key, no_show):
            assert response.status_code == 422, response.text
        error = envelope_error(completed)
        assert error == envelope_error(by_key)
        assert error["code"] == envelope_error(no_show)["code"] == "POLICY_VIOLATION"
        assert error["details"] == envelope_error(no_show)["details"] == {"reason": "NOT_STARTED"}
        assert error["message"] == "A booking can be marked completed only after it starts (19:00)."
        row = await booking_row(conn, made["booking_id"])
        assert (row["status"], row["completed_at"]) == ("confirmed", None)
        refused = await audits(conn, "table_booking.status_refused")
        assert [r["additional_info"]["error_code"] for r in refused] == ["POLICY_VIOLATION"] * 3
        assert await audits(conn, "table_booking.status_changed") == []
        # From the start time on, it can be marked completed.
        clock.set(FRIDAY_1900)
        response = await set_status(client, ref, staff, "completed")
        assert response.status_code == 200, response.text
        assert response.json()["data"]["status"] == "completed"

    async def test_completed_from_confirmed_by_a_manage_key(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        clock: FakeClock,
        conn: asyncpg.Connection,
    ) -> None:
        made = await create_booking(client, key, regular_body())
        clock.set(FRIDAY_1900 + timedelta(hours=2))
        response = await set_status(client, made["booking_reference"], key, "completed")
        assert response.status_code == 200, response.text
        assert response.json()["data"]["status"] == "completed"
        row = await booking_row(conn, made["booking_id"])
        assert (row["status"], row["completed_at"]) == ("completed", clock.now)
        # Completed is final: neither a no-show nor a change afterwards.
        again = await set_status(client, made["booking_reference"], key, "no_show")
        assert again.status_code == 409
        assert envelope_error(again)["code"] == "BOOKING_NOT_MODIFIABLE"

    async def test_status_of_a_cancelled_booking_is_not_modifiable(
        self, client: httpx.AsyncClient, key: dict[str, str], clock: FakeClock
    ) -> None:
        made = await create_booking(client, key, regular_body())
        assert (await cancel(client, made["booking_reference"], key)).status_code == 200
        clock.set(FRIDAY_1900 + timedelta(minutes=30))
        for status in ("completed", "no_show"):
            response = await set_status(client, made["booking_reference"], key, status)
            assert response.status_code == 409, response.text
            assert envelope_error(response)["code"] == "BOOKING_NOT_MODIFIABLE"

    async def test_other_statuses_and_unknown_references(
        self, client: httpx.AsyncClient, key: dict[str, str]
    ) -> None:
        made = await create_booking(client, key, regular_body())
        response = await set_status(client, made["booking_reference"], key, "cancelled")
        assert response.status_code == 400
        assert envelope_error(response)["code"] == "VALIDATION_ERROR"
        unknown = await set_status(client, "TB-00000000", key, "completed")
        assert unknown.status_code == 404
        assert envelope_error(unknown)["code"] == "NOT_FOUND"

    async def test_a_guest_cannot_set_the_status(
        self, client: httpx.AsyncClient, key: dict[str, str], clock: FakeClock
    ) -> None:
        made = await create_booking(client, key, regular_body())
        clock.set(FRIDAY_1900 + timedelta(minutes=30))
        response = await set_status(
            client, made["booking_reference"], guest(made["manage_token"]), "completed"
        )
        assert response.status_code == 401
        assert envelope_error(response)["code"] == "UNAUTHORIZED"


class TestStaffPermissions:
    async def test_staff_role_may_view_create_edit_and_cancel_as_the_pub_allows(
        self, client: httpx.AsyncClient, make_staff: Any, conn: asyncpg.Connection
    ) -> None:
        # The pub's staff role has table_bookings view, create and edit ("FOH status actions").
        staff = await make_staff("staff")
        made = await create_booking(client, staff, regular_body())
        ref = made["booking_reference"]
        assert (await client.get(f"{BASE}/{ref}", headers=staff)).status_code == 200
        edited = await patch(client, ref, staff, {"time": "19:30"})
        assert edited.status_code == 200, edited.text
        cancelled = await cancel(client, ref, staff)
        assert cancelled.status_code == 200, cancelled.text
        assert (await booking_row(conn, made["booking_id"]))["status"] == "cancelled"

    async def test_a_role_without_table_booking_permissions_may_not_cancel(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        make_staff: Any,
        conn: asyncpg.Connection,
    ) -> None:
        made = await create_booking(client, key, regular_body())
        await conn.execute(
            "insert into roles (name, description, is_system) values ('bar', 'Bar only', false)"
        )
        await conn.execute(
            "insert into role_permissions (role_id, permission_id) select r.id, p.id"
            " from roles r, permissions p where r.name = 'bar' and p.module_name = 'table_bookings'"
            " and p.action = 'view'"
        )
        refused = await cancel(client, made["booking_reference"], await make_staff("bar"))
        assert refused.status_code == 403, refused.text
        error = envelope_error(refused)
        assert error["code"] == "FORBIDDEN"
        assert "table_bookings:cancel" in error["message"]
        assert (await booking_row(conn, made["booking_id"]))["status"] == "confirmed"

    @pytest.mark.parametrize("role", ["manager", "super_admin"])
    async def test_managers_and_super_admins_cancel_without_a_token(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        make_staff: Any,
        conn: asyncpg.Connection,
        role: str,
    ) -> None:
        made = await create_booking(client, key, regular_body())
        response = await cancel(
            client, made["booking_reference"], await make_staff(role), {"reason": "Rang us"}
        )
        assert response.status_code == 200, response.text
        row = await booking_row(conn, made["booking_id"])
        assert (row["status"], row["cancelled_by"]) == ("cancelled", "staff")

    async def test_manage_key_changes_and_cancels_without_a_token(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        made = await create_booking(client, key, regular_body())
        ref = made["booking_reference"]
        changed = await patch(client, ref, key, {"party_size": 5})
        assert changed.status_code == 200, changed.text
        assert changed.json()["data"]["customer"]["mobile_number"] == PHONE_E164
        assert (await cancel(client, ref, key)).status_code == 200
        row = await booking_row(conn, made["booking_id"])
        assert (row["party_size"], row["status"], row["cancelled_by"]) == (
            5,
            "cancelled",
            "api_key",
        )

    async def test_signed_in_without_a_role_is_forbidden(
        self, client: httpx.AsyncClient, key: dict[str, str], make_staff: Any
    ) -> None:
        made = await create_booking(client, key, regular_body())
        nobody = await make_staff(None)
        for response in (
            await client.get(f"{BASE}/{made['booking_reference']}", headers=nobody),
            await client.get(BASE, headers=nobody),
            await client.post(BASE, json=regular_body(phone="07700 900123"), headers=nobody),
        ):
            assert response.status_code == 403, response.text
            assert envelope_error(response)["code"] == "FORBIDDEN"

    @pytest.mark.parametrize(
        "token",
        [
            "not-a-jwt",
            mint_staff_token(secret="some-other-secret-0123456789abcdef", user_id="", email=None),
            "expired",
        ],
        ids=["garbage", "wrong-secret", "expired"],
    )
    async def test_an_invalid_or_expired_sign_in_is_unauthorized(
        self, client: httpx.AsyncClient, key: dict[str, str], make_staff: Any, token: str
    ) -> None:
        made = await create_booking(client, key, regular_body())
        if token == "expired":
            token = mint_staff_token(
                secret=STAFF_JWT_SECRET,
                user_id="7d3c8d6e-1f0a-4c2b-9e5d-2a1b3c4d5e6f",
                email="old@the-anchor.pub",
                ttl_seconds=-3600,
            )
        headers = {"Authorization": f"Bearer {token}"}
        for response in (
            await client.get(f"{BASE}/{made['booking_reference']}", headers=headers),
            await client.get(BASE, headers=headers),
        ):
            assert response.status_code == 401, response.text
            assert envelope_error(response)["code"] == "UNAUTHORIZED"


class TestKeyScopes:
    async def test_a_read_only_key_cannot_view_a_booking(
        self, client: httpx.AsyncClient, key: dict[str, str], make_key: Any
    ) -> None:
        made = await create_booking(client, key, regular_body())
        reader = await make_key(["read:table_bookings"])
        for response in (
            await client.get(f"{BASE}/{made['booking_reference']}", headers=reader),
            await client.get(BASE, headers=reader),
            await patch(client, made["booking_reference"], reader, {"party_size": 2}),
            await cancel(client, made["booking_reference"], reader),
        ):
            assert response.status_code == 403, response.text
            assert envelope_error(response)["code"] == "FORBIDDEN"

    async def test_a_write_key_creates_but_cannot_list_or_view(
        self, client: httpx.AsyncClient, make_key: Any
    ) -> None:
        writer = await make_key(["write:table_bookings"])
        made = await create_booking(client, writer, regular_body())
        for response in (
            await client.get(BASE, headers=writer),
            await client.get(f"{BASE}/{made['booking_reference']}", headers=writer),
        ):
            assert response.status_code == 403, response.text
            assert envelope_error(response)["code"] == "FORBIDDEN"
        # The guest's token still works for the booking that key made.
        view = await client.get(
            f"{BASE}/{made['booking_reference']}", headers=guest(made["manage_token"])
        )
        assert view.status_code == 200


class TestOverride:
    async def test_staff_override_the_minimum_notice_and_it_is_audited(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        make_staff: Any,
        clock: FakeClock,
        conn: asyncpg.Connection,
    ) -> None:
        await conn.execute(
            "update booking_policies set min_advance_hours = 2 where booking_type = 'regular'"
        )
        clock.set(datetime(2026, 11, 24, 11, 0, tzinfo=UTC))
        body = regular_body("2026-11-24", "12:00")
        staff = await make_staff("staff")
        for headers in (key, staff):
            refused = await client.post(BASE, json=body, headers=headers)
            assert refused.status_code == 422, refused.text
            assert envelope_error(refused)["code"] == "POLICY_VIOLATION"
        by_key = await client.post(BASE, json={**body, "override": True}, headers=key)
        assert by_key.status_code == 403, by_key.text
        assert envelope_error(by_key)["code"] == "FORBIDDEN"

        made = await create_booking(client, staff, {**body, "override": True})
        assert made["status"] == "confirmed"
        row = await booking_row(conn, made["booking_id"])
        assert row["policy_override"] is True
        overrides = await audits(conn, "table_booking.policy_override")
        assert len(overrides) == 1
        assert overrides[0]["resource_id"] == made["booking_id"]
        assert overrides[0]["operation_status"] == "success"
        assert overrides[0]["additional_info"]["booking_reference"] == made["booking_reference"]
        assert overrides[0]["additional_info"]["actor"]["kind"] == "staff"

    async def test_staff_override_the_sunday_lunch_cut_off(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        menu: dict[str, str],
        make_staff: Any,
        clock: FakeClock,
        conn: asyncpg.Connection,
    ) -> None:
        clock.set(datetime(2026, 11, 28, 14, 0, tzinfo=UTC))  # Saturday, after 13:00
        body = sunday_body(menu)
        refused = await client.post(BASE, json=body, headers=key)
        assert refused.status_code == 422, refused.text
        assert envelope_error(refused)["code"] == "POLICY_VIOLATION"
        made = await create_booking(client, await make_staff("manager"), {**body, "override": True})
        assert made["status"] == "pending_payment"
        overrides = await audits(conn, "table_booking.policy_override")
        assert [a["resource_id"] for a in overrides] == [made["booking_id"]]


# Audit -------------------------------------------------------------------------------------------


class TestAudit:
    async def test_create_change_cancel_and_status_are_audited(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        make_staff: Any,
        clock: FakeClock,
        conn: asyncpg.Connection,
    ) -> None:
        a = await create_booking(client, key, person("Ann", "Lee", PHONE, email=EMAIL))
        b = await create_booking(client, key, regular_body(THURSDAY, party_size=2))
        token = guest(a["manage_token"])
        assert (await patch(client, a["booking_reference"], token, {"party_size": 6})).is_success
        assert (await cancel(client, a["booking_reference"], token)).is_success
        clock.set(datetime(2026, 11, 26, 21, 0, tzinfo=UTC))
        staff = await make_staff("staff")
        assert (await set_status(client, b["booking_reference"], staff, "completed")).is_success

        expected = {
            "table_booking.created": [(a, 4, "api_key"), (b, 2, "api_key")],
            "table_booking.updated": [(a, 6, "guest")],
            "table_booking.cancelled": [(a, 6, "guest")],
            "table_booking.status_changed": [(b, 2, "staff")],
        }
        for operation, wanted in expected.items():
            rows = await audits(conn, operation)
            assert len(rows) == len(wanted), operation
            for row, (booking, party, actor) in zip(rows, wanted, strict=True):
                assert row["resource_type"] == "table_booking"
                assert row["resource_id"] == booking["booking_id"]
                assert row["operation_status"] == "success"
                info = row["additional_info"]
                assert info["booking_reference"] == booking["booking_reference"]
                assert info["booking_type"] == "regular"
                assert info["party_size"] == party
                assert info["booking_date"] == booking["date"]
                assert info["source"] == "website"
                assert info["actor"]["kind"] == actor
        updated = (await audits(conn, "table_booking.updated"))[0]
        assert updated["old_values"]["party_size"] == 4
        assert updated["new_values"]["party_size"] == 6
        status = (await audits(conn, "table_booking.status_changed"))[0]
        assert status["new_values"] == {"status": "completed"}

    async def test_refused_attempts_write_failure_rows(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        make_staff: Any,
        conn: asyncpg.Connection,
    ) -> None:
        refused = await client.post(BASE, json=regular_body(MONDAY), headers=key)
        assert refused.status_code == 422
        made = await create_booking(client, key, regular_body())
        ref = made["booking_reference"]
        assert (
            await patch(client, ref, guest(made["manage_token"]), {"date": MONDAY})
        ).status_code == 422
        assert (await cancel(client, ref, key)).status_code == 200
        assert (await cancel(client, ref, key)).status_code == 409
        assert (await set_status(client, ref, key, "completed")).status_code == 409

        for operation, code, resource in (
            ("table_booking.create_refused", "POLICY_VIOLATION", None),
            ("table_booking.update_refused", "POLICY_VIOLATION", made["booking_id"]),
            ("table_booking.cancel_refused", "BOOKING_NOT_MODIFIABLE", made["booking_id"]),
            ("table_booking.status_refused", "BOOKING_NOT_MODIFIABLE", made["booking_id"]),
        ):
            rows = await audits(conn, operation)
            assert len(rows) == 1, operation
            assert rows[0]["operation_status"] == "failure"
            assert rows[0]["additional_info"]["error_code"] == code
            assert rows[0]["resource_id"] == resource
            assert rows[0]["error_message"]
        create_refused = (await audits(conn, "table_booking.create_refused"))[0]
        assert create_refused["new_values"]["date"] == MONDAY

    async def test_a_refusal_for_a_lower_case_reference_names_the_booking(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        made = await create_booking(client, key, regular_body())
        response = await patch(
            client,
            made["booking_reference"].lower(),
            guest(made["manage_token"]),
            {"date": MONDAY},
        )
        assert response.status_code == 422, response.text
        rows = await audits(conn, "table_booking.update_refused")
        assert [r["resource_id"] for r in rows] == [made["booking_id"]]

    async def test_audit_rows_never_hold_the_guests_phone_or_email(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        make_staff: Any,
        clock: FakeClock,
        conn: asyncpg.Connection,
    ) -> None:
        body = person("Ann", "Lee", PHONE, email=EMAIL)
        assert (
            await client.post(BASE, json={**body, "date": MONDAY}, headers=key)
        ).status_code == 422
        made = await create_booking(client, key, body)
        staff = await create_booking(client, await make_staff("staff"), {**body, "date": THURSDAY})
        ref = made["booking_reference"]
        assert (await patch(client, ref, guest(made["manage_token"]), {"time": "19:30"})).is_success
        assert (await patch(client, ref, key, {"date": MONDAY})).status_code == 422
        assert (await cancel(client, ref, key)).is_success
        clock.set(datetime(2026, 11, 26, 21, 0, tzinfo=UTC))
        assert (await set_status(client, staff["booking_reference"], key, "no_show")).is_success

        rows = await conn.fetch("select a::text as line from audit_logs a")
        assert len(rows) >= 7
        for row in rows:
            line = row["line"].lower()
            assert PHONE_DIGITS not in line.replace(" ", "")
            assert EMAIL not in line


# Customers ---------------------------------------------------------------------------------------


class TestCustomerStats:
    async def test_booking_count_and_last_date(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        menu: dict[str, str],
        conn: asyncpg.Connection,
    ) -> None:
        await create_booking(client, key, regular_body("2026-12-03"))
        await create_booking(client, key, regular_body(FRIDAY, phone="+447911123456"))
        lunch = await create_booking(client, key, sunday_body(menu, phone="447911123456"))

        async def stats() -> tuple[int, str]:
            row = await conn.fetchrow(
                "select table_booking_count, last_table_booking_date::text as last"
                " from customers where mobile_e164 = $1",
                PHONE_E164,
            )
            assert row is not None
            return row["table_booking_count"], row["last"]

        # One customer for every way of writing the number; a pending lunch is not yet counted.
        # The counter is the pub's (update_customer_stats_on_booking): the last date is that of
        # the booking confirmed last.
        assert await conn.fetchval("select count(*) from customers") == 1
        assert await stats() == (2, FRIDAY)
        await mark_paid(conn, lunch["booking_id"])
        lunch_date = await conn.fetchval(
            "select booking_date::text from table_bookings where id = $1", lunch["booking_id"]
        )
        assert await stats() == (3, lunch_date)

    async def test_last_date_follows_a_booking_moved_later(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        made = await create_booking(client, key, regular_body())
        response = await patch(
            client, made["booking_reference"], guest(made["manage_token"]), {"date": "2026-12-04"}
        )
        assert response.status_code == 200, response.text
        last = await conn.fetchval(
            "select last_table_booking_date::text from customers where mobile_e164 = $1",
            PHONE_E164,
        )
        assert last == "2026-12-04"
