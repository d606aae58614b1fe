"""Which messages a booking event sends: the seeded templates against the plan's wording, the send
jobs for each event, the calendar file, staff and kitchen emails.

Seeded templates and message contexts come from the database (``table_booking_sms_templates``,
``table_booking_message_context``); the rest are pure functions over hand-built contexts.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from icalendar import Calendar

from app.services.calendar import CALENDAR_CONTENT_TYPE
from app.services.notifications import (
    StaffAddresses,
    guest_sms_template,
    kitchen_prep_email,
    plan_messages,
    sms_fallback_email,
    staff_alert,
    template_variables,
)
from app.services.sms_text import TemplateError, placeholders, render, sms_encoding
from tests.conftest import DEFAULT_NOW, create_booking, regular_body, sunday_body

BASE = "/api/table-bookings"
STAFF = StaffAddresses(manager="manager@the-anchor.pub", kitchen="kitchen@the-anchor.pub")
NOW = DEFAULT_NOW  # Tuesday 24 November 2026, 10:00 GMT
REVIEW_LINK = "https://g.page/r/CaBcDeFgHiJkLmNo/review"
PAYPAL_LINK = "https://www.sandbox.paypal.com/checkoutnow?token=5O190127TN364715T"

# The plan's wording (integration plan, section 2 "SMS Templates"), verbatim.
PLAN = {
    "booking_confirmation_regular": "Hi {{customer_name}}, your table for {{party_size}} at The "
    "Anchor on {{date}} at {{time}} is confirmed. Reference: {{reference}}. Reply STOP to opt out.",
    "booking_confirmation_sunday_lunch": "Hi {{customer_name}}, your Sunday lunch booking for "
    "{{party_size}} on {{date}} at {{time}} is confirmed. We have your roast selections ready! "
    "Reference: {{reference}}.",
    "reminder_regular": "Reminder: Your table at The Anchor is booked for today at {{time}}. Party "
    "of {{party_size}}. We look forward to seeing you! Ref: {{reference}}",
    "reminder_sunday_lunch": "Sunday Lunch Reminder: Table for {{party_size}} at {{time}} today. "
    "{{roast_summary}}. Allergies noted: {{allergies}}. See you soon! Ref: {{reference}}",
    "cancellation": "Your booking {{reference}} at The Anchor has been cancelled. "
    "{{refund_message}} For assistance call {{contact_phone}}.",
    "review_request": "Thanks for dining at The Anchor today! We'd love your feedback: "
    "{{review_link}} Reply STOP to opt out.",
}

TEMPLATE_KEYS = {
    "booking_confirmation_regular": "regular",
    "booking_confirmation_sunday_lunch": "sunday_lunch",
    "reminder_regular": "regular",
    "reminder_sunday_lunch": "sunday_lunch",
    "cancellation": None,
    "review_request": None,
    "payment_request": "sunday_lunch",
    "booking_update_regular": "regular",
    "booking_update_sunday_lunch": "sunday_lunch",
    "cancellation_hold_expired": "sunday_lunch",
    "refund_problem": None,
    "payment_request_table": "regular",
    "booking_confirmation_regular_deposit": "regular",
    "cancellation_hold_expired_table": "regular",
    "booking_confirmation_deposit_sorted": "regular",
    "booking_confirm_request": None,
}

#: Realistic values for every variable a seeded template uses.
VARIABLES = {
    "customer_name": "Alexandra",
    "party_size": "4",
    "date": "Saturday 28 November",
    "time": "19:00",
    "day": "tomorrow",
    "reference": "TB-8229A1B4",
    "contact_phone": "01753 682707",
    "deposit_amount": "15.00",
    "total_amount": "49.46",
    "outstanding_amount": "34.46",
    "roast_summary": "2x Roasted Chicken, 1x Slow-Cooked Lamb Shank, "
    "1x Beetroot & Butternut Squash Wellington",
    "allergies": "peanuts, shellfish",
    "refund_message": "A refund of £15.00 has been sent to the card or account you paid "
    "with; it usually arrives within 3-5 working days.",
    "refund_amount": "15.00",
    "review_link": REVIEW_LINK,
    "deadline": "10:30 today",
    "payment_link": "https://www.paypal.com/checkoutnow?token=8AB12345CD678901E",
    # A guest link on the service's public host: 43 characters of token.
    "confirm_link": "https://management.orangejelly.co.uk/g/"
    "xaDb1pSGT1UEMCzQVwnl9aWi7vdEelrumkIlVrhoKOc/confirm-booking",
}


# Arranging -----------------------------------------------------------------------------------


async def seeded_templates(conn: asyncpg.Connection) -> dict[str, str]:
    rows = await conn.fetch("select template_key, template_text from table_booking_sms_templates")
    return {r["template_key"]: r["template_text"] for r in rows}


async def message_context(conn: asyncpg.Connection, booking_id: str) -> dict[str, Any]:
    raw = await conn.fetchval("select public.table_booking_message_context($1::uuid)", booking_id)
    assert raw is not None
    ctx: dict[str, Any] = json.loads(raw)
    return ctx


async def set_setting(conn: asyncpg.Connection, key: str, value: Any) -> None:
    await conn.execute(
        "insert into system_settings (key, value) values ($1, $2::jsonb)"
        " on conflict (key) do update set value = excluded.value",
        key,
        json.dumps({"value": value}),
    )


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


def with_email(body: dict[str, Any], email: str = "ann.lee@example.com") -> dict[str, Any]:
    body["customer"]["email"] = email
    return body


def sunday_for_three(menu: dict[str, str], **extra: Any) -> dict[str, Any]:
    """Three guests (2 chicken, 1 lamb) and a side to share: £49.46, a £15.00 deposit."""
    return sunday_body(
        menu,
        mains={"Roasted Chicken": 2, "Slow-Cooked Lamb Shank": 1},
        extras={"Cauliflower Cheese": 1},
        **extra,
    )


SIMPLE_TEMPLATES = {key: key + " {{reference}}. Reply STOP to opt out." for key in TEMPLATE_KEYS}


def context(
    *,
    booking_type: str = "regular",
    status: str = "confirmed",
    mobile: str | None = "+447911123456",
    email: str | None = "ann.lee@example.com",
    first_name: str | None = "Ann",
    day: str = "2026-11-27",
    time: str = "19:00",
    allergies: list[str] | None = None,
    items: list[dict[str, Any]] | None = None,
    refund_due: str | None = None,
    payment_url: str | None = None,
    hold_expires_at: str | None = None,
    modification_count: int = 0,
    templates: dict[str, str] | None = None,
    booking_id: str = "3f2c1a9e-0000-4000-8000-000000000001",
) -> dict[str, Any]:
    """A message context shaped like ``table_booking_message_context``'s (London is GMT here)."""
    starts = datetime.fromisoformat(f"{day}T{time}:00+00:00")
    return {
        "booking": {
            "id": booking_id,
            "reference": "TB-8229A1B4",
            "status": status,
            "booking_type": booking_type,
            "date": day,
            "time": time,
            "party_size": 4,
            "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(hours=2)).isoformat(),
            "allergies": allergies or [],
            "dietary_requirements": [],
            "special_requirements": None,
            "celebration_type": None,
            "source": "website",
            "deposit_amount": "20.00" if booking_type == "sunday_lunch" else "0.00",
            "total_amount": "61.46" if booking_type == "sunday_lunch" else "0.00",
            "outstanding_amount": "41.46" if booking_type == "sunday_lunch" else "0.00",
            "hold_expires_at": hold_expires_at,
            "payment_url": payment_url,
            "modification_count": modification_count,
            "cancellation_reason": None,
            "refund_due": refund_due,
        },
        "customer": {
            "id": "a956e642-2c2b-4d32-81eb-2bfd74fd1fc1",
            "first_name": first_name,
            "last_name": "Lee",
            "mobile": mobile,
            "email": email,
        },
        "items": items or [],
        "templates": templates if templates is not None else SIMPLE_TEMPLATES,
        "settings": {"contact_phone": "01753 682707", "review_link": REVIEW_LINK},
    }


def kinds(jobs: list[dict[str, Any]]) -> list[tuple[str, str, str | None]]:
    """(job type, recipient, template key) of each job."""
    return [
        (j["type"], j["payload"]["to"], j["payload"]["metadata"].get("template_key")) for j in jobs
    ]


def only(jobs: list[dict[str, Any]], template_key: str, job_type: str) -> dict[str, Any]:
    found = [
        j
        for j in jobs
        if j["type"] == job_type and j["payload"]["metadata"]["template_key"] == template_key
    ]
    assert len(found) == 1, kinds(jobs)
    return found[0]


def calendar_of(email: dict[str, Any]) -> Calendar:
    (attachment,) = email["attachments"]
    assert attachment["content_type"] == CALENDAR_CONTENT_TYPE
    assert attachment["filename"].endswith(".ics")
    return Calendar.from_ical(base64.b64decode(attachment["content_b64"]))


# The seeded templates --------------------------------------------------------------------------


class TestSeededTemplates:
    async def test_every_template_is_seeded_and_active(self, conn: asyncpg.Connection) -> None:
        rows = await conn.fetch(
            "select template_key, booking_type, is_active, variables, template_text"
            " from table_booking_sms_templates"
        )
        assert {r["template_key"]: r["booking_type"] for r in rows} == TEMPLATE_KEYS
        for r in rows:
            assert r["is_active"] is True, r["template_key"]
            # The declared variables are exactly the placeholders the text uses.
            assert set(r["variables"]) == placeholders(r["template_text"]), r["template_key"]

    @pytest.mark.parametrize(
        ("name", "day"),
        [
            ("Alexandra", "Saturday 28 November"),
            ("Bartholomew", "Wednesday 30 September"),
            ("Jo", "Sunday 6 December"),
        ],
    )
    async def test_every_template_renders_as_gsm7_in_two_segments(
        self, conn: asyncpg.Connection, name: str, day: str
    ) -> None:
        templates = await seeded_templates(conn)
        assert len(templates) == len(TEMPLATE_KEYS)
        for key, template in templates.items():
            text = render(template, {**VARIABLES, "customer_name": name, "date": day})
            assert "{{" not in text and "}}" not in text, key
            encoding = sms_encoding(text)
            assert encoding.encoding == "GSM-7", (key, text)
            assert 1 <= encoding.segments <= 2, (key, encoding, text)

    async def test_the_worker_supplies_every_variable(self, conn: asyncpg.Connection) -> None:
        templates = await seeded_templates(conn)
        supplied = set(template_variables(context(), now=NOW))
        assert {key: placeholders(t) - supplied for key, t in templates.items()} == {
            key: set() for key in templates
        }

    async def test_regular_confirmation_is_the_plans_text(self, conn: asyncpg.Connection) -> None:
        templates = await seeded_templates(conn)
        variables = {
            **VARIABLES,
            "customer_name": "Ann",
            "date": "Friday 27 November",
            "time": "19:00",
        }
        text = render(templates["booking_confirmation_regular"], variables)
        assert text == (
            "Hi Ann, your table for 4 at The Anchor on Friday 27 November at 19:00 is confirmed. "
            "Reference: TB-8229A1B4. Reply STOP to opt out."
        )
        assert text == render(PLAN["booking_confirmation_regular"], variables)

    async def test_sunday_lunch_confirmation_adds_the_money_to_the_plans_text(
        self, conn: asyncpg.Connection
    ) -> None:
        templates = await seeded_templates(conn)
        text = render(templates["booking_confirmation_sunday_lunch"], VARIABLES)
        # Not "We have your roast selections ready!", read ten days before the lunch.
        assert text.startswith(
            "Hi Alexandra, your Sunday lunch booking for 4 on Saturday 28 November at 19:00 is "
            "confirmed, and your roast choices are noted."
        )
        assert "ready" not in text
        assert "£15.00 deposit paid, £34.46 due on arrival" in text
        assert "Reference: TB-8229A1B4." in text
        assert text.endswith("Reply STOP to opt out.")

    async def test_regular_reminder_on_the_day_is_the_plans_text(
        self, conn: asyncpg.Connection
    ) -> None:
        templates = await seeded_templates(conn)
        variables = {**VARIABLES, "day": "today"}
        assert render(templates["reminder_regular"], variables) == render(
            PLAN["reminder_regular"], variables
        )

    async def test_sunday_lunch_reminder_has_the_roasts_and_allergies(
        self, conn: asyncpg.Connection
    ) -> None:
        templates = await seeded_templates(conn)
        text = render(templates["reminder_sunday_lunch"], VARIABLES)
        assert text == (
            "Sunday Lunch Reminder: Table for 4 at 19:00 tomorrow. 2x Roasted Chicken, "
            "1x Slow-Cooked Lamb Shank, 1x Beetroot & Butternut Squash Wellington. "
            "Allergies noted: peanuts, shellfish. £34.46 due on arrival. See you soon! "
            "Ref: TB-8229A1B4"
        )
        # The plan's text, with the day in words and the balance added.
        plan = render(PLAN["reminder_sunday_lunch"], VARIABLES).replace(" today.", " tomorrow.")
        assert text == plan.replace(" See you soon!", " £34.46 due on arrival. See you soon!")

    @pytest.mark.parametrize(
        "refund_message",
        [
            "A refund of £7.50 will reach you within 3-5 working days.",
            "As it is so close to your booking, the deposit cannot be refunded.",
            "No payment was taken.",
        ],
    )
    async def test_cancellation_is_the_plans_text(
        self, conn: asyncpg.Connection, refund_message: str
    ) -> None:
        templates = await seeded_templates(conn)
        variables = {**VARIABLES, "refund_message": refund_message}
        text = render(templates["cancellation"], variables)
        assert text == render(PLAN["cancellation"], variables)
        assert text == (
            f"Your booking TB-8229A1B4 at The Anchor has been cancelled. {refund_message} "
            "For assistance call 01753 682707."
        )

    async def test_review_request_is_the_plans_text(self, conn: asyncpg.Connection) -> None:
        templates = await seeded_templates(conn)
        text = render(templates["review_request"], VARIABLES)
        assert text == render(PLAN["review_request"], VARIABLES)
        assert REVIEW_LINK in text
        assert text.endswith("Reply STOP to opt out.")

    async def test_payment_request_and_updates(self, conn: asyncpg.Connection) -> None:
        templates = await seeded_templates(conn)
        payment = render(templates["payment_request"], VARIABLES)
        assert "£15.00 deposit by 10:30 today: https://www.paypal.com/" in payment
        assert VARIABLES["payment_link"] in payment and "TB-8229A1B4" in payment
        for key in ("booking_update_regular", "booking_update_sunday_lunch"):
            text = render(templates[key], VARIABLES)
            assert "Saturday 28 November at 19:00" in text and "TB-8229A1B4" in text
            assert text.endswith("Reply STOP to opt out.")

    async def test_a_template_edited_by_the_pub_is_used(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        await conn.execute(
            "update table_booking_sms_templates set template_text = $1"
            " where template_key = 'booking_confirmation_regular'",
            "See you {{date}}, {{customer_name}}! Ref {{reference}}",
        )
        made = await create_booking(client, key, regular_body())
        jobs = plan_messages(
            "created",
            "default",
            await message_context(conn, made["booking_id"]),
            staff=STAFF,
            now=NOW,
        )
        sms = only(jobs, "booking_confirmation_regular", "table_booking_sms")
        assert sms["payload"]["message"] == (
            f"See you Friday 27 November, Ann! Ref {made['booking_reference']}"
        )

    async def test_an_edit_with_an_unknown_variable_fails_rather_than_sends_braces(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        await conn.execute(
            "update table_booking_sms_templates set template_text = $1"
            " where template_key = 'booking_confirmation_regular'",
            "Hi {{customer_name}}, you are at table {{table_number}}.",
        )
        made = await create_booking(client, key, regular_body())
        ctx = await message_context(conn, made["booking_id"])
        with pytest.raises(TemplateError, match="table_number"):
            plan_messages("created", "default", ctx, staff=STAFF, now=NOW)


# Messages planned from real bookings -----------------------------------------------------------


class TestPlannedFromTheDatabase:
    async def test_regular_booking_made(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        made = await create_booking(client, key, with_email(regular_body()))
        ctx = await message_context(conn, made["booking_id"])
        jobs = plan_messages("created", "default", ctx, staff=STAFF, now=NOW)
        ref = made["booking_reference"]

        assert kinds(jobs) == [
            ("table_booking_sms", "+447911123456", "booking_confirmation_regular"),
            ("table_booking_email", "ann.lee@example.com", "booking_confirmation_regular"),
            ("table_booking_email", "manager@the-anchor.pub", "staff_created"),
        ]
        sms = jobs[0]
        assert sms["payload"]["message"] == (
            f"Hi Ann, your table for 4 at The Anchor on Friday 27 November at 19:00 is "
            f"confirmed. Reference: {ref}. Reply STOP to opt out."
        )
        assert sms["payload"]["customer_id"] == ctx["customer"]["id"]
        assert all(j["table_booking_id"] == made["booking_id"] for j in jobs)
        email = jobs[1]["payload"]
        assert email["subject"] == f"Your table at The Anchor is booked ({ref})"
        assert "Reply STOP" not in email["text"]
        assert email["text"].startswith("Hi Ann, your table for 4 at The Anchor")
        assert f"Reference: {ref}" in email["text"]
        staff = jobs[2]["payload"]
        assert staff["subject"] == f"New booking: {ref}, 4 on Fri 27 Nov at 19:00"
        assert "Phone: +447911123456" in staff["text"]

    async def test_sunday_lunch_awaiting_its_deposit_tells_only_the_manager(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
        menu: dict[str, str],
    ) -> None:
        made = await create_booking(client, key, with_email(sunday_for_three(menu)))
        assert made["status"] == "pending_payment"
        ctx = await message_context(conn, made["booking_id"])
        jobs = plan_messages("created", "default", ctx, staff=STAFF, now=NOW)
        assert kinds(jobs) == [("table_booking_email", "manager@the-anchor.pub", "staff_created")]
        assert jobs[0]["payload"]["subject"].startswith("New Sunday lunch (deposit due): ")

    async def test_sunday_lunch_awaiting_its_deposit_gets_the_payment_link(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
        menu: dict[str, str],
    ) -> None:
        made = await create_booking(client, key, with_email(sunday_for_three(menu)))
        await conn.execute(
            "update table_booking_payments set payment_metadata = coalesce(payment_metadata,"
            " '{}'::jsonb) || jsonb_build_object('approve_url', $2::text)"
            " where booking_id = $1::uuid and status = 'pending'",
            made["booking_id"],
            PAYPAL_LINK,
        )
        ctx = await message_context(conn, made["booking_id"])
        assert ctx["booking"]["payment_url"] == PAYPAL_LINK
        jobs = plan_messages("created", "default", ctx, staff=STAFF, now=NOW)
        ref = made["booking_reference"]

        assert kinds(jobs) == [
            ("table_booking_sms", "+447911123456", "payment_request"),
            ("table_booking_email", "ann.lee@example.com", "payment_request"),
            ("table_booking_email", "manager@the-anchor.pub", "staff_created"),
        ]
        text = jobs[0]["payload"]["message"]
        assert text == (
            "Hi Ann, to confirm Sunday lunch for 3 on Sunday 29 November please pay the £15.00 "
            f"deposit by 10:30 today: {PAYPAL_LINK} Ref: {ref}"
        )
        assert sms_encoding(text).encoding == "GSM-7" and sms_encoding(text).segments <= 2
        email = jobs[1]["payload"]
        assert email["subject"] == f"Your Sunday lunch at The Anchor: deposit due ({ref})"
        assert email["attachments"] == []  # not booked yet: nothing for the calendar
        assert email["text"].startswith(text)

    async def test_sunday_lunch_confirmed_by_its_deposit(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
        menu: dict[str, str],
    ) -> None:
        body = with_email(sunday_for_three(menu, allergies=["peanuts", "shellfish"]))
        made = await create_booking(client, key, body)
        assert made["payment_details"]["deposit_amount"] == "15.00"
        assert made["payment_details"]["outstanding_amount"] == "34.46"
        await mark_paid(conn, made["booking_id"])
        ctx = await message_context(conn, made["booking_id"])
        jobs = plan_messages("confirmed", "default", ctx, staff=STAFF, now=NOW)
        ref = made["booking_reference"]

        assert kinds(jobs) == [
            ("table_booking_sms", "+447911123456", "booking_confirmation_sunday_lunch"),
            ("table_booking_email", "ann.lee@example.com", "booking_confirmation_sunday_lunch"),
            ("table_booking_email", "manager@the-anchor.pub", "staff_confirmed"),
            ("table_booking_email", "kitchen@the-anchor.pub", "staff_confirmed"),
        ]
        text = jobs[0]["payload"]["message"]
        assert text == (
            "Hi Ann, your Sunday lunch booking for 3 on Sunday 29 November at 13:00 is "
            "confirmed, and your roast choices are noted. £15.00 deposit paid, £34.46 due on "
            f"arrival. Reference: {ref}. Reply STOP to opt out."
        )
        assert sms_encoding(text).encoding == "GSM-7" and sms_encoding(text).segments == 2
        guest = jobs[1]["payload"]
        assert "Roasts: 2x Roasted Chicken, 1x Slow-Cooked Lamb Shank" in guest["text"]
        assert "Deposit paid: £15.00; due on arrival: £34.46" in guest["text"]
        assert "Allergies: peanuts, shellfish" in guest["text"]
        for staff in (jobs[2]["payload"], jobs[3]["payload"]):
            assert staff["subject"].endswith(" - ALLERGIES")
            assert staff["text"].startswith("ALLERGIES: peanuts, shellfish\n")

    async def test_sunday_lunch_reminder_the_day_before(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
        menu: dict[str, str],
    ) -> None:
        body = with_email(sunday_for_three(menu, allergies=["peanuts", "shellfish"]))
        made = await create_booking(client, key, body)
        await mark_paid(conn, made["booking_id"])
        ctx = await message_context(conn, made["booking_id"])
        saturday = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
        jobs = plan_messages("reminder", "default", ctx, staff=STAFF, now=saturday)

        assert kinds(jobs) == [
            ("table_booking_sms", "+447911123456", "reminder_sunday_lunch"),
            ("table_booking_email", "ann.lee@example.com", "reminder_sunday_lunch"),
        ]
        text = jobs[0]["payload"]["message"]
        assert text == (
            "Sunday Lunch Reminder: Table for 3 at 13:00 tomorrow. 2x Roasted Chicken, "
            "1x Slow-Cooked Lamb Shank. Allergies noted: peanuts, shellfish. £34.46 due on "
            f"arrival. See you soon! Ref: {made['booking_reference']}"
        )
        assert sms_encoding(text).segments <= 2
        assert calendar_of(jobs[1]["payload"]).events

    async def test_regular_reminder_on_the_day_is_the_plans_text(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        made = await create_booking(client, key, regular_body())
        ctx = await message_context(conn, made["booking_id"])
        friday_morning = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
        jobs = plan_messages("reminder", "default", ctx, staff=STAFF, now=friday_morning)
        assert kinds(jobs) == [("table_booking_sms", "+447911123456", "reminder_regular")]
        assert jobs[0]["payload"]["message"] == (
            "Reminder: Your table at The Anchor is booked for today at 19:00. Party of 4. "
            f"We look forward to seeing you! Ref: {made['booking_reference']}"
        )

    async def test_a_change_sends_the_update_with_the_next_calendar_sequence(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        made = await create_booking(client, key, with_email(regular_body()))
        first = plan_messages(
            "created",
            "default",
            await message_context(conn, made["booking_id"]),
            staff=STAFF,
            now=NOW,
        )
        response = await client.patch(
            f"{BASE}/{made['booking_reference']}",
            json={"party_size": 6, "time": "18:30"},
            headers={"X-Booking-Token": made["manage_token"]},
        )
        assert response.status_code == 200, response.text
        ctx = await message_context(conn, made["booking_id"])
        assert ctx["booking"]["modification_count"] == 1
        jobs = plan_messages("updated", "1:x", ctx, staff=STAFF, now=NOW)

        assert kinds(jobs) == [
            ("table_booking_sms", "+447911123456", "booking_update_regular"),
            ("table_booking_email", "ann.lee@example.com", "booking_update_regular"),
            ("table_booking_email", "manager@the-anchor.pub", "staff_updated"),
        ]
        assert jobs[0]["payload"]["message"] == (
            f"Hi Ann, your booking {made['booking_reference']} at The Anchor is now for 6 on "
            "Friday 27 November at 18:30. Reply STOP to opt out."
        )
        before = calendar_of(first[1]["payload"]).events[0]
        after = calendar_of(jobs[1]["payload"]).events[0]
        assert before["uid"] == after["uid"] == f"table-booking-{made['booking_id']}@the-anchor.pub"
        assert (before.decoded("sequence"), after.decoded("sequence")) == (0, 1)
        assert after.decoded("dtstart") == datetime(2026, 11, 27, 18, 30, tzinfo=UTC)
        assert jobs[1]["payload"]["subject"].startswith("Your booking at The Anchor has changed")

    async def test_cancelled_with_a_refund(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
        menu: dict[str, str],
    ) -> None:
        made = await create_booking(client, key, with_email(sunday_for_three(menu)))
        await mark_paid(conn, made["booking_id"])
        response = await client.post(
            f"{BASE}/{made['booking_reference']}/cancel",
            json={"reason": "Poorly"},
            headers={"X-Booking-Token": made["manage_token"]},
        )
        assert response.status_code == 200, response.text
        assert response.json()["data"]["refund"]["amount"] == "15.00"
        ctx = await message_context(conn, made["booking_id"])
        assert ctx["booking"]["refund_due"] == "15.00"
        jobs = plan_messages("cancelled", "default", ctx, staff=STAFF, now=NOW)

        assert kinds(jobs) == [
            ("table_booking_sms", "+447911123456", "cancellation"),
            ("table_booking_email", "ann.lee@example.com", "cancellation"),
            ("table_booking_email", "manager@the-anchor.pub", "staff_cancelled"),
            ("table_booking_email", "kitchen@the-anchor.pub", "staff_cancelled"),
        ]
        # Paid without a PayPal capture: nothing can refund it by itself, so nothing promises
        # that it is on its way, and staff are told (issue 18, item 10).
        assert ctx["booking"]["refund_state"] == "failed"
        assert jobs[0]["payload"]["message"] == (
            f"Your booking {made['booking_reference']} at The Anchor has been cancelled. A refund "
            "of £15.00 is due to you; our team will contact you to arrange it. For assistance "
            "call 01753 682707."
        )
        assert jobs[1]["payload"]["attachments"] == []
        assert "Refund: £15.00, NOT refunded: refund by hand" in jobs[2]["payload"]["text"]
        assert "Reason: Poorly" in jobs[2]["payload"]["text"]

    async def test_cancelled_unpaid_booking_took_no_payment(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        made = await create_booking(client, key, regular_body())
        response = await client.post(
            f"{BASE}/{made['booking_reference']}/cancel",
            headers={"X-Booking-Token": made["manage_token"]},
        )
        assert response.status_code == 200, response.text
        ctx = await message_context(conn, made["booking_id"])
        (sms,) = plan_messages(
            "cancelled", "default", ctx, staff=StaffAddresses(None, None), now=NOW
        )
        assert (
            "has been cancelled. No payment was taken. For assistance" in sms["payload"]["message"]
        )

    async def test_review_request_is_a_text_only(
        self, client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection
    ) -> None:
        await set_setting(conn, "google_review_link", REVIEW_LINK)
        made = await create_booking(client, key, with_email(regular_body()))
        ctx = await message_context(conn, made["booking_id"])
        jobs = plan_messages("review", "default", ctx, staff=STAFF, now=NOW)
        assert kinds(jobs) == [("table_booking_sms", "+447911123456", "review_request")]
        assert jobs[0]["payload"]["message"] == (
            f"Thanks for dining at The Anchor today! We'd love your feedback: {REVIEW_LINK} "
            "Reply STOP to opt out."
        )

    async def test_kitchen_prep_list_for_sunday(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
        menu: dict[str, str],
    ) -> None:
        first = await create_booking(
            client, key, sunday_for_three(menu, allergies=["peanuts", "shellfish"])
        )
        second = await create_booking(
            client,
            key,
            sunday_body(
                menu,
                time="14:00",
                mains={"Roasted Chicken": 1, "Crispy Pork Belly": 1},
                phone="07911 123457",
            ),
        )
        unpaid = await create_booking(client, key, sunday_body(menu, phone="07911 123458"))
        for made in (first, second):
            await mark_paid(conn, made["booking_id"])
        raw = await conn.fetchval("select public.table_booking_prep_list('2026-11-29')")
        email = kitchen_prep_email(json.loads(raw), recipient="kitchen@the-anchor.pub")

        assert email["to"] == "kitchen@the-anchor.pub"
        assert email["subject"] == "Sunday lunch prep list for Sunday 29 November: 5 covers"
        lines = email["text"].splitlines()
        assert lines[0] == "Sunday lunch, Sunday 29 November: 2 tables, 5 covers."
        totals = lines[lines.index("Totals:") + 1 : lines.index("ALLERGIES:") - 1]
        assert Counter(totals) == Counter(
            [
                "  1 x Crispy Pork Belly (main)",
                "  3 x Roasted Chicken (main)",
                "  1 x Slow-Cooked Lamb Shank (main)",
                "  1 x Cauliflower Cheese (side)",
                "  5 x Roast Potatoes (side)",
                "  5 x Seasonal Vegetables (side)",
                "  5 x Yorkshire Pudding (side)",
            ]
        )
        assert f"  13:00 {first['booking_reference']} Ann Lee: peanuts, shellfish" in lines
        assert unpaid["booking_reference"] not in email["text"]
        assert email["html"].startswith("<pre>")


# Which jobs an event makes: pure ----------------------------------------------------------------

EVENTS = [
    # (event, booking type, status) -> the guest's template, whether staff hear, whether the kitchen
    ("created", "regular", "confirmed", "booking_confirmation_regular", True, False),
    ("created", "sunday_lunch", "pending_payment", None, True, False),
    ("confirmed", "sunday_lunch", "confirmed", "booking_confirmation_sunday_lunch", True, True),
    ("updated", "regular", "confirmed", "booking_update_regular", True, False),
    ("updated", "sunday_lunch", "confirmed", "booking_update_sunday_lunch", True, True),
    ("cancelled", "regular", "cancelled", "cancellation", True, False),
    ("cancelled", "sunday_lunch", "cancelled", "cancellation", True, True),
    ("reminder", "regular", "confirmed", "reminder_regular", False, False),
    ("reminder", "sunday_lunch", "confirmed", "reminder_sunday_lunch", False, False),
    ("review", "regular", "confirmed", "review_request", False, False),
]


class TestPlanMessages:
    @pytest.mark.parametrize(
        ("event", "booking_type", "status", "template", "staff", "kitchen"), EVENTS
    )
    def test_jobs_for_each_event(
        self,
        event: str,
        booking_type: str,
        status: str,
        template: str | None,
        staff: bool,
        kitchen: bool,
    ) -> None:
        ctx = context(booking_type=booking_type, status=status)
        jobs = plan_messages(event, "default", ctx, staff=STAFF, now=NOW)
        expected: list[tuple[str, str, str | None]] = []
        if template is not None:
            expected.append(("table_booking_sms", "+447911123456", template))
            if event != "review":
                expected.append(("table_booking_email", "ann.lee@example.com", template))
        if staff:
            expected.append(("table_booking_email", "manager@the-anchor.pub", f"staff_{event}"))
        if kitchen:
            expected.append(("table_booking_email", "kitchen@the-anchor.pub", f"staff_{event}"))
        assert kinds(jobs) == expected
        assert guest_sms_template(event, status, booking_type) == template

    @pytest.mark.parametrize(
        ("event", "booking_type", "status", "template", "staff", "kitchen"), EVENTS
    )
    def test_unique_keys_are_distinct_and_stable(
        self,
        event: str,
        booking_type: str,
        status: str,
        template: str | None,
        staff: bool,
        kitchen: bool,
    ) -> None:
        ctx = context(booking_type=booking_type, status=status)
        first = plan_messages(event, "default", ctx, staff=STAFF, now=NOW)
        again = plan_messages(event, "default", ctx, staff=STAFF, now=NOW + timedelta(hours=5))
        keys = [j["unique_key"] for j in first]
        assert keys == [j["unique_key"] for j in again]
        assert len(set(keys)) == len(keys)
        booking_id = ctx["booking"]["id"]
        assert all(k.startswith(booking_id + ":") and ":default" in k for k in keys)
        assert all(j["table_booking_id"] == booking_id for j in first)

    def test_another_stage_is_another_message(self) -> None:
        ctx = context()
        one = {j["unique_key"] for j in plan_messages("updated", "1:a", ctx, staff=STAFF, now=NOW)}
        two = {j["unique_key"] for j in plan_messages("updated", "2:b", ctx, staff=STAFF, now=NOW)}
        assert one and two and not one & two

    def test_keys_differ_between_events_and_bookings(self) -> None:
        keys: list[str] = []
        for event in ("created", "updated", "cancelled", "reminder", "review"):
            keys += [
                j["unique_key"]
                for j in plan_messages(event, "default", context(), staff=STAFF, now=NOW)
            ]
        other = context(booking_id="3f2c1a9e-0000-4000-8000-000000000002")
        keys += [
            j["unique_key"]
            for j in plan_messages("created", "default", other, staff=STAFF, now=NOW)
        ]
        assert len(set(keys)) == len(keys)

    def test_the_sms_fallback_email_shares_the_guest_emails_key(self) -> None:
        # The worker turns an unsendable text into an email under the SMS key with ":sms:" made
        # ":email:"; that is the guest email's own key, so the guest never gets both.
        jobs = plan_messages("created", "default", context(), staff=STAFF, now=NOW)
        sms = only(jobs, "booking_confirmation_regular", "table_booking_sms")
        email = only(jobs, "booking_confirmation_regular", "table_booking_email")
        assert sms["unique_key"].replace(":sms:", ":email:") == email["unique_key"]

    def test_payment_link_when_paypal_gave_one(self) -> None:
        ctx = context(
            booking_type="sunday_lunch",
            status="pending_payment",
            payment_url=PAYPAL_LINK,
            hold_expires_at="2026-11-24T10:30:00+00:00",
        )
        jobs = plan_messages("created", "default", ctx, staff=STAFF, now=NOW)
        assert kinds(jobs) == [
            ("table_booking_sms", "+447911123456", "payment_request"),
            ("table_booking_email", "ann.lee@example.com", "payment_request"),
            ("table_booking_email", "manager@the-anchor.pub", "staff_created"),
        ]
        assert (
            guest_sms_template(
                "created", "pending_payment", "sunday_lunch", payment_url=PAYPAL_LINK
            )
            == "payment_request"
        )
        # Once the deposit is paid, the same link does not make a second payment request.
        confirmed = context(booking_type="sunday_lunch", payment_url=PAYPAL_LINK)
        (sms, *_) = plan_messages("confirmed", "default", confirmed, staff=STAFF, now=NOW)
        assert sms["payload"]["metadata"]["template_key"] == "booking_confirmation_sunday_lunch"

    def test_no_mobile_no_text(self) -> None:
        jobs = plan_messages("created", "default", context(mobile=None), staff=STAFF, now=NOW)
        assert [j["type"] for j in jobs] == ["table_booking_email", "table_booking_email"]
        assert jobs[0]["payload"]["to"] == "ann.lee@example.com"

    def test_no_email_no_guest_email(self) -> None:
        jobs = plan_messages("created", "default", context(email=None), staff=STAFF, now=NOW)
        assert kinds(jobs) == [
            ("table_booking_sms", "+447911123456", "booking_confirmation_regular"),
            ("table_booking_email", "manager@the-anchor.pub", "staff_created"),
        ]

    def test_neither_mobile_nor_email_only_staff(self) -> None:
        jobs = plan_messages(
            "confirmed",
            "default",
            context(booking_type="sunday_lunch", mobile=None, email=None),
            staff=STAFF,
            now=NOW,
        )
        assert [j["payload"]["to"] for j in jobs] == [
            "manager@the-anchor.pub",
            "kitchen@the-anchor.pub",
        ]

    def test_review_without_a_mobile_is_nothing(self) -> None:
        assert plan_messages("review", "default", context(mobile=None), staff=STAFF, now=NOW) == []

    def test_no_staff_addresses_no_staff_alerts(self) -> None:
        ctx = context(booking_type="sunday_lunch")
        jobs = plan_messages("confirmed", "default", ctx, staff=StaffAddresses(None, None), now=NOW)
        assert [j["type"] for j in jobs] == ["table_booking_sms", "table_booking_email"]
        kitchen_only = StaffAddresses(manager=None, kitchen="kitchen@the-anchor.pub")
        regular = plan_messages("updated", "default", context(), staff=kitchen_only, now=NOW)
        assert "kitchen@the-anchor.pub" not in [j["payload"]["to"] for j in regular]

    def test_unknown_event_is_nothing(self) -> None:
        assert plan_messages("archived", "default", context(), staff=STAFF, now=NOW) == []

    def test_sms_payload_and_metadata(self) -> None:
        (sms, *_) = plan_messages("created", "default", context(), staff=STAFF, now=NOW)
        assert sms["payload"] == {
            "to": "+447911123456",
            "message": "booking_confirmation_regular TB-8229A1B4. Reply STOP to opt out.",
            "customer_id": "a956e642-2c2b-4d32-81eb-2bfd74fd1fc1",
            "metadata": {
                "template_key": "booking_confirmation_regular",
                "table_booking_id": "3f2c1a9e-0000-4000-8000-000000000001",
                "stage": "default",
            },
        }


class TestGuestEmailCalendar:
    @pytest.mark.parametrize(
        ("event", "status"),
        [("created", "confirmed"), ("updated", "confirmed"), ("reminder", "confirmed")],
    )
    def test_calendar_attached(self, event: str, status: str) -> None:
        ctx = context(status=status, modification_count=3)
        jobs = plan_messages(event, "default", ctx, staff=STAFF, now=NOW)
        (email,) = [j["payload"] for j in jobs if j["payload"]["to"] == "ann.lee@example.com"]
        (attachment,) = email["attachments"]
        assert attachment["filename"] == "booking-TB-8229A1B4.ics"
        calendar = calendar_of(email)
        (vevent,) = calendar.events
        assert vevent["uid"] == "table-booking-3f2c1a9e-0000-4000-8000-000000000001@the-anchor.pub"
        assert vevent.decoded("sequence") == 3
        assert vevent.decoded("dtstart") == datetime(2026, 11, 27, 19, 0, tzinfo=UTC)
        assert vevent.decoded("dtend") == datetime(2026, 11, 27, 21, 0, tzinfo=UTC)
        assert vevent.decoded("dtstamp") == NOW

    def test_sunday_lunch_confirmation_has_the_calendar(self) -> None:
        ctx = context(booking_type="sunday_lunch", day="2026-11-29", time="13:00")
        jobs = plan_messages("confirmed", "default", ctx, staff=STAFF, now=NOW)
        email = only(jobs, "booking_confirmation_sunday_lunch", "table_booking_email")["payload"]
        assert calendar_of(email).events[0].decoded("sequence") == 0

    def test_cancellation_has_no_calendar(self) -> None:
        jobs = plan_messages(
            "cancelled", "default", context(status="cancelled"), staff=STAFF, now=NOW
        )
        assert only(jobs, "cancellation", "table_booking_email")["payload"]["attachments"] == []

    def test_summer_booking_calendar_is_in_london_time(self) -> None:
        ctx = context(day="2027-06-13", time="13:00")
        ctx["booking"]["starts_at"] = "2027-06-13T13:00:00+01:00"
        ctx["booking"]["ends_at"] = "2027-06-13T15:00:00+01:00"
        jobs = plan_messages("created", "default", ctx, staff=STAFF, now=NOW)
        event = calendar_of(
            only(jobs, "booking_confirmation_regular", "table_booking_email")["payload"]
        )
        assert event.events[0].decoded("dtstart") == datetime(2027, 6, 13, 12, 0, tzinfo=UTC)

    def test_guest_email_drops_the_opt_out_and_escapes_html(self) -> None:
        ctx = context(first_name="<Ann & Co>", allergies=["nuts"])
        ctx["templates"] = {
            **SIMPLE_TEMPLATES,
            "booking_confirmation_regular": "Hi {{customer_name}}. Reply STOP to opt out.",
        }
        jobs = plan_messages("created", "default", ctx, staff=STAFF, now=NOW)
        email = only(jobs, "booking_confirmation_regular", "table_booking_email")["payload"]
        assert email["text"].splitlines()[0] == "Hi <Ann & Co>."
        assert "&lt;Ann &amp; Co&gt;" in email["html"] and "<Ann" not in email["html"]
        assert "Allergies: nuts" in email["text"]
        assert email["customer_id"] == ctx["customer"]["id"]


class TestStaffAlert:
    def test_allergies_highlighted(self) -> None:
        ctx = context(allergies=["peanuts", "shellfish"])
        alert = staff_alert("created", ctx, recipient="manager@the-anchor.pub", stage="default")
        assert alert["subject"] == "New booking: TB-8229A1B4, 4 on Fri 27 Nov at 19:00 - ALLERGIES"
        first_line = alert["html"].split("<br>\n")[0]
        assert first_line == (
            '<strong style="color:#b00020;font-size:1.2em">ALLERGIES: peanuts, shellfish</strong>'
        )
        assert alert["text"].splitlines()[0] == "ALLERGIES: peanuts, shellfish"
        assert alert["metadata"] == {
            "template_key": "staff_created",
            "table_booking_id": "3f2c1a9e-0000-4000-8000-000000000001",
            "stage": "default",
        }
        assert alert["customer_id"] is None

    def test_allergies_are_escaped(self) -> None:
        ctx = context(allergies=["nuts & <seeds>"])
        alert = staff_alert("updated", ctx, recipient="m@x", stage="s")
        assert "ALLERGIES: nuts &amp; &lt;seeds&gt;</strong>" in alert["html"]
        assert "<seeds>" not in alert["html"]

    def test_no_allergies_no_warning(self) -> None:
        alert = staff_alert("cancelled", context(), recipient="m@x", stage="default")
        assert "ALLERGIES" not in alert["subject"] + alert["text"] + alert["html"]
        assert "<strong" not in alert["html"]
        assert alert["text"].startswith("Booking cancelled.\n\nGuest: Ann Lee\n")

    @pytest.mark.parametrize(
        ("event", "status", "words"),
        [
            ("created", "confirmed", "New booking"),
            ("created", "pending_payment", "New Sunday lunch (deposit due)"),
            ("confirmed", "confirmed", "Deposit paid"),
            ("updated", "confirmed", "Booking changed"),
            ("cancelled", "cancelled", "Booking cancelled"),
        ],
    )
    def test_the_words_for_each_event(self, event: str, status: str, words: str) -> None:
        kind = "sunday_lunch" if status == "pending_payment" else "regular"
        ctx = context(status=status, booking_type=kind)
        alert = staff_alert(event, ctx, recipient="m@x", stage="default")
        assert alert["subject"].startswith(f"{words}: TB-8229A1B4, ")
        assert alert["text"].startswith(f"{words}.\n")


class TestTemplateVariables:
    @pytest.mark.parametrize(
        ("refund_due", "refund_state", "message"),
        [
            (
                "7.50",
                "sent",
                "A refund of £7.50 has been sent to the card or account you paid with; it "
                "usually arrives within 3-5 working days.",
            ),
            (
                "15.00",
                "pending",
                "We have asked PayPal to refund £15.00 to the card or account you paid with, "
                "and will tell you if there is any problem.",
            ),
            (
                "15.00",
                "failed",
                "A refund of £15.00 is due to you; our team will contact you to arrange it.",
            ),
            (
                "15.00",
                "not_queued",
                "A refund of £15.00 is due to you; our team will contact you to arrange it.",
            ),
            ("0.00", None, "As it is so close to your booking, the deposit cannot be refunded."),
            (None, None, "No payment was taken."),
        ],
    )
    def test_refund_message(
        self, refund_due: str | None, refund_state: str | None, message: str
    ) -> None:
        ctx = context(refund_due=refund_due)
        ctx["booking"]["refund_state"] = refund_state
        ctx["booking"]["paid_amount"] = "15.00" if refund_due is not None else "0.00"
        variables = template_variables(ctx, now=NOW)
        assert variables["refund_message"] == message

    def test_refund_message_in_the_cancellation_text(
        self,
    ) -> None:
        ctx = context(
            status="cancelled",
            refund_due="7.50",
            templates={**SIMPLE_TEMPLATES, "cancellation": PLAN["cancellation"]},
        )
        ctx["booking"]["refund_state"] = "sent"
        (sms, *_) = plan_messages("cancelled", "default", ctx, staff=STAFF, now=NOW)
        assert sms["payload"]["message"] == (
            "Your booking TB-8229A1B4 at The Anchor has been cancelled. A refund of £7.50 has "
            "been sent to the card or account you paid with; it usually arrives within 3-5 "
            "working days. For assistance call 01753 682707."
        )

    @pytest.mark.parametrize(
        ("now", "day"),
        [
            # Sunday 13 June 2027 in BST (UTC+1): London's midnight is 23:00 UTC the day before.
            (datetime(2027, 6, 12, 22, 59, tzinfo=UTC), "tomorrow"),  # 23:59 Saturday in London
            (datetime(2027, 6, 12, 23, 0, tzinfo=UTC), "today"),  # 00:00 Sunday in London
            (datetime(2027, 6, 12, 23, 30, tzinfo=UTC), "today"),
            (datetime(2027, 6, 13, 22, 59, tzinfo=UTC), "today"),
            (datetime(2027, 6, 11, 22, 59, tzinfo=UTC), "on Sunday 13 June"),
            (datetime(2027, 6, 11, 23, 0, tzinfo=UTC), "tomorrow"),
        ],
    )
    def test_day_in_london_time_around_midnight_in_summer(self, now: datetime, day: str) -> None:
        variables = template_variables(context(day="2027-06-13", time="13:00"), now=now)
        assert variables["day"] == day
        assert variables["date"] == "Sunday 13 June"

    @pytest.mark.parametrize(
        ("hold_expires_at", "now", "deadline"),
        [
            ("2026-11-24T10:30:00+00:00", NOW, "10:30 today"),
            # 23:20 UTC on 12 June 2027 is 00:20 BST on Sunday 13 June.
            (
                "2027-06-12T23:20:00+00:00",
                datetime(2027, 6, 12, 22, 50, tzinfo=UTC),
                "00:20 tomorrow",
            ),
            ("2027-06-13T00:20:00+01:00", datetime(2027, 6, 12, 23, 5, tzinfo=UTC), "00:20 today"),
            (None, NOW, "the day before"),
        ],
    )
    def test_payment_deadline_in_london_time(
        self, hold_expires_at: str | None, now: datetime, deadline: str
    ) -> None:
        ctx = context(booking_type="sunday_lunch", hold_expires_at=hold_expires_at)
        assert template_variables(ctx, now=now)["deadline"] == deadline

    def test_day_in_winter(self) -> None:
        ctx = context(day="2026-11-27")
        assert template_variables(ctx, now=datetime(2026, 11, 26, 23, 59, tzinfo=UTC))["day"] == (
            "tomorrow"
        )
        assert template_variables(ctx, now=datetime(2026, 11, 27, 0, 0, tzinfo=UTC))["day"] == (
            "today"
        )

    def test_everything_else(self) -> None:
        items = [
            {"name": "Roasted Chicken", "item_type": "main", "quantity": 2},
            {"name": "Slow-Cooked Lamb Shank", "item_type": "main", "quantity": 1},
            {"name": "Crispy Pork Belly", "item_type": "main", "quantity": 1},
            {"name": "Roast Potatoes", "item_type": "side", "quantity": 4},
        ]
        ctx = context(
            booking_type="sunday_lunch",
            day="2026-11-29",
            time="13:00",
            allergies=["peanuts", "shellfish"],
            items=items,
        )
        variables = template_variables(ctx, now=NOW)
        assert variables == {
            "customer_name": "Ann",
            "party_size": "4",
            "date": "Sunday 29 November",
            "time": "13:00",
            "day": "on Sunday 29 November",
            "reference": "TB-8229A1B4",
            "contact_phone": "01753 682707",
            "deposit_amount": "20.00",
            "total_amount": "61.46",
            "outstanding_amount": "41.46",
            "roast_summary": "2x Roasted Chicken, 1x Slow-Cooked Lamb Shank, 1x Crispy Pork Belly",
            "allergies": "peanuts, shellfish",
            "refund_message": "No payment was taken.",
            "refund_amount": "0.00",
            "review_link": REVIEW_LINK,
            "payment_link": "",
            "deadline": "the day before",
            "confirm_link": "",  # minted only for the confirm text
        }

    def test_defaults_without_a_name_roasts_or_allergies(self) -> None:
        variables = template_variables(context(first_name=None), now=NOW)
        assert variables["customer_name"] == "there"
        assert variables["roast_summary"] == "No roasts chosen"
        assert variables["allergies"] == "none"


class TestKitchenAndFallback:
    def test_kitchen_prep_email(self) -> None:
        prep = {
            "date": "2026-11-29",
            "bookings": [
                {
                    "reference": "TB-AAAA0001",
                    "time": "12:30",
                    "party_size": 2,
                    "name": "Ann Lee",
                    "allergies": [],
                    "special_requirements": "High chair",
                    "items": [
                        {
                            "name": "Roasted Chicken",
                            "item_type": "main",
                            "quantity": 1,
                            "guest_name": "Ann",
                        },
                        {
                            "name": "Crispy Pork Belly",
                            "item_type": "main",
                            "quantity": 1,
                            "guest_name": None,
                        },
                        {
                            "name": "Roast Potatoes",
                            "item_type": "side",
                            "quantity": 2,
                            "guest_name": None,
                        },
                    ],
                },
                {
                    "reference": "TB-AAAA0002",
                    "time": "13:00",
                    "party_size": 3,
                    "name": "Bob Hall",
                    "allergies": ["peanuts"],
                    "special_requirements": None,
                    "items": None,
                },
            ],
            "totals": [
                {"name": "Crispy Pork Belly", "item_type": "main", "quantity": 1},
                {"name": "Roasted Chicken", "item_type": "main", "quantity": 1},
                {"name": "Roast Potatoes", "item_type": "side", "quantity": 2},
            ],
        }
        email = kitchen_prep_email(prep, recipient="kitchen@the-anchor.pub")
        assert email["subject"] == "Sunday lunch prep list for Sunday 29 November: 5 covers"
        assert email["text"] == "\n".join(
            [
                "Sunday lunch, Sunday 29 November: 2 tables, 5 covers.",
                "",
                "Totals:",
                "  1 x Crispy Pork Belly (main)",
                "  1 x Roasted Chicken (main)",
                "  2 x Roast Potatoes (side)",
                "",
                "ALLERGIES:",
                "  13:00 TB-AAAA0002 Bob Hall: peanuts",
                "",
                "Tables:",
                "  12:30 TB-AAAA0001 Ann Lee, 2: 1x Roasted Chicken (Ann), 1x Crispy Pork Belly",
                "      Note: High chair",
                "  13:00 TB-AAAA0002 Bob Hall, 3: ",
            ]
        )
        assert email["metadata"] == {
            "template_key": "kitchen_prep",
            "date": "2026-11-29",
            "stage": "default",
        }

    def test_empty_prep_list(self) -> None:
        email = kitchen_prep_email(
            {"date": "2026-11-29", "bookings": [], "totals": []}, recipient="k@x"
        )
        assert (
            email["text"].splitlines()[0] == "Sunday lunch, Sunday 29 November: 0 tables, 0 covers."
        )
        assert "ALLERGIES" not in email["text"]

    def test_sms_fallback_email_keeps_the_text(self) -> None:
        (sms, *_) = plan_messages("created", "default", context(), staff=STAFF, now=NOW)
        payload = {**sms["payload"], "message": "Hi Ann & Bob, <see you> at 19:00. Ref TB-1"}
        email = sms_fallback_email(payload, "ann.lee@example.com")
        assert email == {
            "to": "ann.lee@example.com",
            "customer_id": "a956e642-2c2b-4d32-81eb-2bfd74fd1fc1",
            "subject": "The Anchor: about your table booking",
            "text": "Hi Ann & Bob, <see you> at 19:00. Ref TB-1",
            "html": "<p>Hi Ann &amp; Bob, &lt;see you&gt; at 19:00. Ref TB-1</p>",
            "attachments": [],
            "metadata": {
                "template_key": "booking_confirmation_regular",
                "table_booking_id": "3f2c1a9e-0000-4000-8000-000000000001",
                "stage": "default",
                "fallback_for": "sms",
            },
        }


# Issue 18, item 12: what the guest and the staff are told, by its text ---------------------------


class TestWording:
    async def test_an_unpaid_regular_bookings_policy_has_no_refund_deadline(
        self, client: httpx.AsyncClient, key: dict[str, str]
    ) -> None:
        made = await create_booking(client, key, regular_body())
        detail = await client.get(
            f"{BASE}/{made['booking_reference']}",
            headers={"X-Booking-Token": made["manage_token"]},
        )
        policy = detail.json()["data"]["cancellation_policy"]
        # Not full_refund_until two hours before beside "free of charge until it starts".
        assert policy["full_refund_until"] is None
        assert policy["partial_refund_until"] is None
        assert (policy["refund_percentage_now"], policy["refund_amount_now"]) == (0, "0.00")
        assert policy["summary"] == (
            "Nothing has been paid for this booking, so you can cancel it free of charge until "
            "it starts at 19:00 on Friday 27 November."
        )

    async def test_an_unpaid_cancel_refunds_nothing_and_says_0_percent(
        self, client: httpx.AsyncClient, key: dict[str, str]
    ) -> None:
        made = await create_booking(client, key, regular_body())
        response = await client.post(
            f"{BASE}/{made['booking_reference']}/cancel",
            headers={"X-Booking-Token": made["manage_token"]},
        )
        assert response.json()["data"]["refund"] == {
            "eligible": False,
            "percentage": 0,
            "amount": "0.00",
            "paid_amount": "0.00",
            "currency": "GBP",
        }

    async def test_a_refund_override_on_nothing_paid_says_nothing_was_paid(
        self, client: httpx.AsyncClient, key: dict[str, str], make_staff: Any
    ) -> None:
        made = await create_booking(client, key, regular_body())
        response = await client.post(
            f"{BASE}/{made['booking_reference']}/cancel",
            json={"refund_amount": "1.00"},
            headers=await make_staff("super_admin"),  # the pub gives refund to super_admin only
        )
        assert response.status_code == 400, response.text
        message = response.json()["error"]["message"]
        assert message == "Nothing has been paid for this booking, so there is nothing to refund."
        assert "0.00" not in message

    async def test_an_unpaid_sunday_lunch_cancellation_claims_no_deposit(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
        menu: dict[str, str],
    ) -> None:
        made = await create_booking(client, key, with_email(sunday_for_three(menu)))
        response = await client.post(
            f"{BASE}/{made['booking_reference']}/cancel",
            headers={"X-Booking-Token": made["manage_token"]},
        )
        assert response.status_code == 200, response.text
        ctx = await message_context(conn, made["booking_id"])
        jobs = plan_messages("cancelled", "default", ctx, staff=STAFF, now=NOW)
        email = only(jobs, "cancellation", "table_booking_email")["payload"]["text"]
        # Greeted, and not "No payment was taken" then "Deposit: £15.00; due on arrival: £34.46".
        assert email.startswith("Hi Ann,\n\nYour booking ")
        assert "No payment was taken." in email
        assert "Deposit" not in email and "due on arrival" not in email

    async def test_an_expired_holds_cancellation_says_why(self, conn: asyncpg.Connection) -> None:
        templates = await seeded_templates(conn)
        ctx = context(
            booking_type="sunday_lunch",
            status="cancelled",
            day="2026-11-29",
            time="13:00",
            templates=templates,
        )
        ctx["booking"]["cancellation_reason"] = "payment_hold_expired"
        jobs = plan_messages("cancelled", "default", ctx, staff=STAFF, now=NOW)
        sms = only(jobs, "cancellation_hold_expired", "table_booking_sms")["payload"]["message"]
        assert sms == (
            "Hi Ann, your Sunday lunch TB-8229A1B4 on Sunday 29 November at 13:00 has been "
            "cancelled because the deposit was not paid in time, so the table was released. No "
            "payment was taken. To book again call 01753 682707."
        )
        alerts = [j["payload"]["text"] for j in jobs if j["unique_key"].count("staff_cancelled")]
        assert len(alerts) == 2  # manager and kitchen
        assert all("Reason: the deposit was not paid in time (hold expired)" in a for a in alerts)

    def test_the_confirmation_email_gives_the_pubs_number_to_change_or_cancel(self) -> None:
        jobs = plan_messages("created", "default", context(), staff=STAFF, now=NOW)
        email = only(jobs, "booking_confirmation_regular", "table_booking_email")["payload"]
        line = "To change or cancel your booking, call us on 01753 682707 and quote TB-8229A1B4."
        assert line in email["text"]
        assert "01753 682707" in email["html"]

    async def test_staff_alerts_list_paid_sides_and_each_guests_roast(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
        menu: dict[str, str],
    ) -> None:
        body = with_email(sunday_for_three(menu))
        names = iter(["Ann", "Raj"])
        for selection in body["menu_selections"]:
            if selection["menu_item_id"] != menu["Cauliflower Cheese"]:
                selection["guest_name"] = next(names)
        made = await create_booking(client, key, body)
        ctx = await message_context(conn, made["booking_id"])
        jobs = plan_messages("created", "default", ctx, staff=STAFF, now=NOW)
        alert = only(jobs, "staff_created", "table_booking_email")["payload"]["text"]
        assert "Roasts: 2x Roasted Chicken (Ann), 1x Slow-Cooked Lamb Shank (Raj)" in alert
        assert "Extra sides: 1x Cauliflower Cheese (£3.99 each)" in alert
        # Pending: the deposit is still to pay, so it is not called paid.
        assert "Deposit to pay now: £15.00; the rest, £34.46, on arrival" in alert

    def test_a_sunday_lunch_cancelled_before_its_alert_is_still_called_a_sunday_lunch(
        self,
    ) -> None:
        ctx = context(booking_type="sunday_lunch", status="cancelled")
        alert = staff_alert("created", ctx, recipient="m@x", stage="default")
        assert alert["subject"].startswith("New Sunday lunch: TB-8229A1B4, ")
