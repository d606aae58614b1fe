"""Tap-to-confirm (issue 16, item 3): the day-before text with its confirm link, sent once per
booking from the hour; the guest's yes (guest_confirmed_at) or no (our cancel); the staff call
list of guests who did not answer or could not be texted. On a fresh database and on the pub's.

Dates: bookings on Friday 27 November 2026 at 19:00 (the kitchen is open then in the demo hours
and the pub's); the day before is Thursday 26 November. November is GMT, so London = UTC.
"""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from app.db.postgres import PostgresDatabase
from app.services import guest_pages, notifications, tokens
from app.services.notifications import StaffAddresses
from app.services.sms_text import sms_encoding
from tests.browser import LiveServer, browser, chromium, live, screenshot  # noqa: F401
from tests.conftest import FakeClock, create_booking, regular_body
from tests.services.test_notifications import context

BOTH = pytest.mark.parametrize("database_kind", ["fresh", "pub"], indirect=True)
CRON = {"Authorization": "Bearer test-cron-secret-0123456789"}
SWEEP = "/api/cron/table-booking-confirmations"
PROCESS_JOBS = "/api/cron/process-jobs"
CALL_LIST = "/api/table-bookings/confirmations"
TEMPLATE = "booking_confirm_request"
FRIDAY = "2026-11-27"
LINK = re.compile(r"(https?://[^/\s]+)/g/([A-Za-z0-9_-]+)/confirm-booking")


def utc(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


async def sweep(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get(SWEEP, headers=CRON)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def run_worker(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get(PROCESS_JOBS, headers=CRON)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def confirm_texts(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(
            "select table_booking_id::text as booking_id, body, to_number, sent_at"
            " from messages where template_key = $1 order by created_at",
            TEMPLATE,
        )
    )


async def book(
    client: httpx.AsyncClient, key: dict[str, str], phone: str, time: str = "19:00", **extra: Any
) -> dict[str, Any]:
    return await create_booking(client, key, regular_body(FRIDAY, time, phone=phone, **extra))


async def texted(
    client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection, clock: FakeClock
) -> tuple[dict[str, Any], str]:
    """A booking whose guest got the confirm text (Thursday 10:00), and the link's token."""
    clock.set(utc(24, 10))
    made = await book(client, key, "07911 200001")
    clock.set(utc(26, 10))
    assert (await sweep(client))["queued"] == 1
    await run_worker(client)
    [text] = await confirm_texts(conn)
    found = LINK.search(text["body"])
    assert found is not None, text["body"]
    return made, found.group(2)


async def page(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.get(f"/g/{token}/confirm-booking")


async def answer(client: httpx.AsyncClient, token: str, value: str) -> httpx.Response:
    return await client.post(
        f"/g/{token}/confirm-booking",
        content=f"answer={value}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )


async def opt_out(conn: asyncpg.Connection, booking_id: str) -> None:
    """What a STOP text does to the guest (twilio_inbound_message without the pub's ledger)."""
    await conn.execute(
        "update customers set sms_opt_in = false, sms_status = 'opted_out'"
        " where id = (select customer_id from table_bookings where id = $1::uuid)",
        booking_id,
    )


# The plan of the confirm text (pure) ------------------------------------------------------------

CONFIRM_TEMPLATES = {
    TEMPLATE: "Hi {{customer_name}}, still coming on {{date}}? {{confirm_link}} Ref: {{reference}}"
}
STAFF = StaffAddresses(manager="manager@the-anchor.pub", kitchen="kitchen@the-anchor.pub")


class TestPlan:
    def test_one_text_with_its_link_and_no_email_or_staff_alert(self) -> None:
        ctx = {
            **context(templates=CONFIRM_TEMPLATES),
            "confirm_link": "https://x.example/g/t/confirm-booking",
        }
        jobs = notifications.plan_messages(
            "confirm_request", "2026-11-27T19:00", ctx, staff=STAFF, now=utc(26, 10)
        )
        assert [(j["type"], j["unique_key"]) for j in jobs] == [
            ("table_booking_sms", f"{ctx['booking']['id']}:{TEMPLATE}:sms:2026-11-27T19:00")
        ]
        assert jobs[0]["payload"]["message"] == (
            "Hi Ann, still coming on Friday 27 November? https://x.example/g/t/confirm-booking"
            " Ref: TB-8229A1B4"
        )

    def test_never_without_its_link_nor_for_a_cancelled_booking(self) -> None:
        bare = context(templates=CONFIRM_TEMPLATES)
        assert (
            notifications.plan_messages("confirm_request", "s", bare, staff=STAFF, now=utc(26, 10))
            == []
        )
        cancelled = {
            **context(templates=CONFIRM_TEMPLATES, status="cancelled"),
            "confirm_link": "https://x.example/g/t/confirm-booking",
        }
        assert (
            notifications.plan_messages(
                "confirm_request", "s", cancelled, staff=STAFF, now=utc(26, 10)
            )
            == []
        )
        assert not notifications.confirm_request_wanted(cancelled)
        assert not notifications.confirm_request_wanted(
            context(templates=CONFIRM_TEMPLATES, mobile="+441753682707")  # a landline
        )
        assert notifications.confirm_request_wanted(context(templates=CONFIRM_TEMPLATES))


# The sweep -----------------------------------------------------------------------------------


@BOTH
class TestSweep:
    async def test_from_the_hour_once_per_booking_with_its_link(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
        clock: FakeClock,
    ) -> None:
        made = await book(client, key, "07911 200001")
        clock.set(utc(26, 9, 59))
        assert await sweep(client) == {"queued": 0, "date": FRIDAY, "waiting": True}
        assert await conn.fetchval("select count(*) from table_booking_confirm_reminders") == 0

        clock.set(utc(26, 10, 0))
        assert await sweep(client) == {"queued": 1, "date": FRIDAY, "waiting": False}
        assert (await sweep(client))["queued"] == 0
        mark = await conn.fetchrow(
            "select table_booking_id::text, sent_at from table_booking_confirm_reminders"
        )
        assert mark is not None and mark["table_booking_id"] == made["booking_id"]

        clock.set(utc(26, 10, 5))
        await run_worker(client)
        await run_worker(client)
        [text] = await confirm_texts(conn)
        assert text["booking_id"] == made["booking_id"] and text["to_number"] == "+447911200001"
        assert text["body"].startswith(
            "Hi Ann, are you still coming to The Anchor on Friday 27 November at 19:00 for 4?"
        )
        assert text["body"].endswith(f"Ref: {made['booking_reference']}")
        encoding = sms_encoding(text["body"])
        assert encoding.encoding == "GSM-7" and encoding.segments <= 2
        found = LINK.search(text["body"])
        assert found is not None and found.group(1) == "http://testserver"
        # The link: a booking_confirm guest link of this booking, until it starts.
        row = await conn.fetchrow(
            "select table_booking_id::text, action_type, expires_at from guest_tokens"
            " where hashed_token = $1",
            tokens.hash_token(found.group(2)),
        )
        assert row is not None
        assert (row["table_booking_id"], row["action_type"]) == (
            made["booking_id"],
            "booking_confirm",
        )
        assert row["expires_at"] == utc(27, 19)
        # The pub's row says when the text went.
        assert await conn.fetchval("select sent_at from table_booking_confirm_reminders") == utc(
            26, 10, 5
        )
        # Later runs text nobody again.
        clock.set(utc(26, 18))
        assert (await sweep(client))["queued"] == 0
        await run_worker(client)
        assert len(await confirm_texts(conn)) == 1

    async def test_overlapping_runs_queue_each_booking_once(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        db: PostgresDatabase,
        conn: asyncpg.Connection,
        clock: FakeClock,
    ) -> None:
        for n in range(4):
            await book(client, key, f"07911 20000{n}")
        runs = await asyncio.gather(
            *(
                db.rpc(
                    "table_booking_queue_confirm_requests",
                    {"p_now": utc(26, 10).isoformat(), "p_hour": 10},
                )
                for _ in range(3)
            )
        )
        assert sum(r["queued"] for r in runs) == 4
        assert await conn.fetchval("select count(*) from table_booking_confirm_reminders") == 4
        assert (
            await conn.fetchval(
                "select count(*) from jobs where type = 'table_booking_notify'"
                " and payload ->> 'event' = 'confirm_request'"
            )
            == 4
        )

    async def test_not_cancelled_pending_other_days_or_opted_out(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
        clock: FakeClock,
    ) -> None:
        wanted = await book(client, key, "07911 200001")
        cancelled = await book(client, key, "07911 200002")
        pending = await book(client, key, "07911 200003")
        opted_out = await book(client, key, "07911 200004", "20:00")
        response = await client.post(
            f"/api/table-bookings/{cancelled['booking_reference']}/cancel",
            headers=key,
            json={"reason": "plans changed"},
        )
        assert response.status_code == 200, response.text
        await conn.execute(
            "update table_bookings set status = 'pending_payment' where id = $1::uuid",
            pending["booking_id"],
        )
        await opt_out(conn, opted_out["booking_id"])

        clock.set(utc(25, 12))  # Wednesday: Friday is not tomorrow
        assert (await sweep(client))["queued"] == 0
        clock.set(utc(26, 10))
        assert (await sweep(client))["queued"] == 1
        marked = await conn.fetch(
            "select table_booking_id::text from table_booking_confirm_reminders"
        )
        assert [r[0] for r in marked] == [wanted["booking_id"]]
        await run_worker(client)
        assert [t["booking_id"] for t in await confirm_texts(conn)] == [wanted["booking_id"]]

        # The opted-out guest is on the call list instead, the texted one as unanswered.
        listed = await client.get(CALL_LIST, headers=key)
        assert listed.status_code == 200, listed.text
        data = listed.json()["data"]
        assert data["date"] == FRIDAY
        assert [(r["booking_reference"], r["reason"]) for r in data["not_texted"]] == [
            (opted_out["booking_reference"], "opted_out")
        ]
        [unanswered] = data["unanswered"]
        assert unanswered["booking_reference"] == wanted["booking_reference"]
        assert (unanswered["name"], unanswered["phone"]) == ("Ann Lee", "+447911200001")
        assert (unanswered["time"], unanswered["party_size"]) == ("19:00", 4)
        assert unanswered["texted_at"] == "2026-11-26T10:00:00+00:00"
        assert unanswered["delivery_status"] == "outbox"
        assert data["counts"] == {
            "confirmed": 2,
            "answered_yes": 0,
            "unanswered": 1,
            "not_texted": 1,
            "waiting": 0,
        }


# The worker: checked again at send time, quiet hours ------------------------------------------


@BOTH
class TestWorker:
    async def test_quiet_hours_hold_the_text_until_nine(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
        clock: FakeClock,
    ) -> None:
        made = await book(client, key, "07911 200001")
        clock.set(utc(26, 22))  # after the hour, in quiet hours
        assert (await sweep(client))["queued"] == 1
        report = await run_worker(client)
        assert report["deferred"] >= 1
        assert await confirm_texts(conn) == []
        scheduled = await conn.fetchval(
            "select scheduled_for from jobs where type = 'table_booking_sms'"
            " and payload #>> '{metadata,template_key}' = $1",
            TEMPLATE,
        )
        assert scheduled == utc(27, 9)
        # Waiting, so not yet on the call list.
        listed = (await client.get(CALL_LIST, params={"date": FRIDAY}, headers=key)).json()
        assert listed["data"]["counts"]["waiting"] == 1
        assert listed["data"]["unanswered"] == listed["data"]["not_texted"] == []

        clock.set(utc(27, 9))
        await run_worker(client)
        [text] = await confirm_texts(conn)
        assert text["booking_id"] == made["booking_id"]
        assert await conn.fetchval("select sent_at from table_booking_confirm_reminders") == utc(
            27, 9
        )

    async def test_never_sent_after_a_cancel(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
        clock: FakeClock,
    ) -> None:
        made = await book(client, key, "07911 200001")
        clock.set(utc(26, 22))
        assert (await sweep(client))["queued"] == 1
        await run_worker(client)  # written, held for quiet hours
        response = await client.post(
            f"/api/table-bookings/{made['booking_reference']}/cancel", headers=key, json={}
        )
        assert response.status_code == 200, response.text
        clock.set(utc(27, 9))
        await run_worker(client)
        assert await confirm_texts(conn) == []
        result = await conn.fetchval(
            "select result from jobs where type = 'table_booking_sms'"
            " and payload #>> '{metadata,template_key}' = $1",
            TEMPLATE,
        )
        assert json.loads(result) == {"skipped": "booking_cancelled"}

    async def test_never_sent_for_a_booking_moved_since(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
        clock: FakeClock,
    ) -> None:
        made = await book(client, key, "07911 200001")
        clock.set(utc(26, 22))
        assert (await sweep(client))["queued"] == 1
        await run_worker(client)
        moved = await client.patch(
            f"/api/table-bookings/{made['booking_reference']}",
            headers=key,
            json={"time": "19:30"},
        )
        assert moved.status_code == 200, moved.text
        clock.set(utc(27, 9))
        await run_worker(client)
        assert await confirm_texts(conn) == []
        listed = (await client.get(CALL_LIST, params={"date": FRIDAY}, headers=key)).json()
        assert [r["reason"] for r in listed["data"]["not_texted"]] == ["booking_moved"]


async def test_a_booking_made_on_the_day_is_rung_not_texted(
    client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection, clock: FakeClock
) -> None:
    clock.set(utc(27, 10))  # Friday morning, for Friday evening
    made = await book(client, key, "07911 200001")
    assert (await sweep(client))["queued"] == 0
    listed = (await client.get(CALL_LIST, params={"date": FRIDAY}, headers=key)).json()["data"]
    assert [(r["booking_id"], r["reason"]) for r in listed["not_texted"]] == [
        (made["booking_id"], "too_late_to_text")
    ]
    # While its day is ahead, a booking not yet swept is only counted.
    clock.set(utc(26, 9))
    ahead = (await client.get(CALL_LIST, params={"date": FRIDAY}, headers=key)).json()["data"]
    assert ahead["not_texted"] == [] and ahead["counts"]["waiting"] == 1


async def test_the_link_points_at_the_public_base_url(
    limited_app: Any, key: dict[str, str], conn: asyncpg.Connection, clock: FakeClock
) -> None:
    async with limited_app(public_base_url="https://book.the-anchor.pub/") as client:
        await book(client, key, "07911 200001")
        clock.set(utc(26, 10))
        assert (await sweep(client))["queued"] == 1
        await run_worker(client)
        [text] = await confirm_texts(conn)
        found = LINK.search(text["body"])
        assert found is not None and found.group(1) == "https://book.the-anchor.pub"
        assert (await page(client, found.group(2))).status_code == 200


# The guest's page ------------------------------------------------------------------------------


@BOTH
class TestConfirmPage:
    async def test_yes_records_the_answer_once(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
        clock: FakeClock,
    ) -> None:
        made, token = await texted(client, key, conn, clock)
        clock.set(utc(26, 12))
        shown = await page(client, token)
        assert shown.status_code == 200
        assert shown.headers["cache-control"] == "no-store"
        html = shown.text
        for fact in ("Friday 27 November", "19:00", "4 guests", made["booking_reference"]):
            assert fact in html
        assert "Yes, we're coming" in html and "No, cancel my booking" in html
        # Opening the page answers nothing (messaging apps open links to preview them).
        assert await conn.fetchval("select guest_confirmed_at from table_bookings") is None

        yes = await answer(client, token, "yes")
        assert yes.status_code == 303 and yes.headers["location"] == f"/g/{token}/confirm-booking"
        assert await conn.fetchval("select guest_confirmed_at from table_bookings") == utc(26, 12)
        after = await page(client, token)
        assert after.status_code == 200 and "You're confirmed" in after.text

        clock.set(utc(26, 13))
        again = await answer(client, token, "yes")
        assert again.status_code == 303
        assert await conn.fetchval("select guest_confirmed_at from table_bookings") == utc(26, 12)
        audits = await conn.fetch(
            "select resource_id from audit_logs"
            " where operation_type = 'table_booking.guest_confirmed'"
        )
        assert [r[0] for r in audits] == [made["booking_id"]]
        assert await conn.fetchval("select status::text from table_bookings") == "confirmed"

        # Off the call list: answered.
        listed = (await client.get(CALL_LIST, headers=key)).json()["data"]
        assert listed["unanswered"] == [] and listed["counts"]["answered_yes"] == 1

    async def test_no_cancels_through_our_cancel_and_uses_the_link_up(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
        clock: FakeClock,
    ) -> None:
        made, token = await texted(client, key, conn, clock)
        count_before = await conn.fetchval(
            "select table_booking_count from customers where mobile_e164 = '+447911200001'"
        )
        clock.set(utc(26, 12))
        no = await answer(client, token, "no")
        assert no.status_code == 303
        row = await conn.fetchrow(
            "select status::text, cancelled_by, cancellation_reason, cancelled_at"
            " from table_bookings where id = $1::uuid",
            made["booking_id"],
        )
        assert row is not None
        assert tuple(row) == ("cancelled", "guest", "guest_declined_confirmation", utc(26, 12))
        # As any cancel of ours: audited, counted back, and the guest told.
        assert (
            await conn.fetchval(
                "select count(*) from audit_logs where operation_type = 'table_booking.cancelled'"
                " and resource_id = $1",
                made["booking_id"],
            )
            == 1
        )
        assert await conn.fetchval(
            "select table_booking_count from customers where mobile_e164 = '+447911200001'"
        ) == max((count_before or 0) - 1, 0)
        assert (
            await conn.fetchval(
                "select count(*) from jobs where type = 'table_booking_notify'"
                " and payload ->> 'event' = 'cancelled'"
            )
            == 1
        )

        result = await page(client, token)
        assert result.status_code == 200 and "Your booking is cancelled" in result.text
        assert "<form" not in result.text
        # The link is used up: a later yes changes nothing.
        await answer(client, token, "yes")
        assert await conn.fetchval("select guest_confirmed_at from table_bookings") is None
        assert await conn.fetchval("select status::text from table_bookings") == "cancelled"

    async def test_used_expired_unknown_links_and_closed_bookings_are_refused(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        db: PostgresDatabase,
        conn: asyncpg.Connection,
        clock: FakeClock,
    ) -> None:
        made, token = await texted(client, key, conn, clock)
        unknown = await page(client, "not-a-token")
        assert unknown.status_code == 404 and "We can't find that link" in unknown.text
        assert "tel:+441753682707" in unknown.text
        # Another action's link does not open this page.
        manage = await tokens.issue_guest_token(
            db, booking_id=made["booking_id"], action="manage", expires_at=utc(28, 0)
        )
        assert (await page(client, manage)).status_code == 404

        # Expired at the booking's start.
        clock.set(utc(27, 19))
        expired = await page(client, token)
        assert expired.status_code == 410 and "This link has expired" in expired.text
        await answer(client, token, "yes")
        assert await conn.fetchval("select guest_confirmed_at from table_bookings") is None

        # Used up (by whatever used it).
        clock.set(utc(26, 12))
        opened = await tokens.open_guest_token(db, token, action="booking_confirm", now=clock.now)
        assert await tokens.consume_guest_token(db, opened["token_id"], now=clock.now)
        used = await page(client, token)
        assert used.status_code == 410 and "already been used" in used.text
        await answer(client, token, "no")
        assert await conn.fetchval("select status::text from table_bookings") == "confirmed"

    async def test_a_cancelled_booking_and_a_bad_answer(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
        clock: FakeClock,
    ) -> None:
        made, token = await texted(client, key, conn, clock)
        clock.set(utc(26, 12))
        bad = await answer(client, token, "maybe")
        assert bad.status_code == 400 and "choose one of the two answers" in bad.text
        assert await conn.fetchval("select guest_confirmed_at from table_bookings") is None
        response = await client.post(
            f"/api/table-bookings/{made['booking_reference']}/cancel", headers=key, json={}
        )
        assert response.status_code == 200
        shown = await page(client, token)
        assert shown.status_code == 409 and "This booking has been cancelled" in shown.text
        assert "<form" not in shown.text
        await answer(client, token, "yes")
        assert await conn.fetchval("select guest_confirmed_at from table_bookings") is None


async def test_a_guest_who_said_yes_may_still_cancel(
    client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection, clock: FakeClock
) -> None:
    _made, token = await texted(client, key, conn, clock)
    clock.set(utc(26, 12))
    await answer(client, token, "yes")
    confirmed = await page(client, token)
    assert "Can't make it after all?" in confirmed.text and 'value="yes"' not in confirmed.text
    clock.set(utc(27, 8))
    assert (await answer(client, token, "no")).status_code == 303
    row = await conn.fetchrow("select status::text, cancellation_reason from table_bookings")
    assert row is not None and tuple(row) == ("cancelled", "guest_declined_confirmation")


async def test_a_link_opened_too_often_waits(
    client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection, clock: FakeClock
) -> None:
    _made, token = await texted(client, key, conn, clock)
    clock.set(utc(26, 12))
    for _ in range(guest_pages.PAGE_LIMIT):
        assert (await page(client, token)).status_code == 200
    busy = await page(client, token)
    assert busy.status_code == 429 and "try again in a few minutes" in busy.text
    await answer(client, token, "yes")
    assert await conn.fetchval("select guest_confirmed_at from table_bookings") is None
    clock.set(utc(26, 12, 11))  # the window has passed
    assert (await answer(client, token, "yes")).status_code == 303
    assert await conn.fetchval("select guest_confirmed_at from table_bookings") == utc(26, 12, 11)


async def test_no_frees_the_table(
    client: httpx.AsyncClient, key: dict[str, str], conn: asyncpg.Connection, clock: FakeClock
) -> None:
    """A venue of one table: full at 19:00 until the guest says no."""
    await conn.execute(
        "insert into tables (table_number, name, capacity, priority, bar_priority)"
        " values ('1', 'Window', 4, 10, 10)"
    )
    made, token = await texted(client, key, conn, clock)
    assert made["table_name"] == "Window"
    full = await client.post(
        "/api/table-bookings", json=regular_body(FRIDAY, "19:00", phone="07911 200009"), headers=key
    )
    assert full.status_code == 409, full.text
    clock.set(utc(26, 12))
    assert (await answer(client, token, "no")).status_code == 303
    again = await create_booking(client, key, regular_body(FRIDAY, "19:00", phone="07911 200009"))
    assert again["table_name"] == "Window"


# The staff call list ---------------------------------------------------------------------------


@BOTH
class TestCallListAccess:
    async def test_staff_and_manage_keys_only(
        self,
        client: httpx.AsyncClient,
        make_key: Any,
        make_staff: Any,
        clock: FakeClock,
    ) -> None:
        manager = await make_staff("manager")
        answered = await client.get(CALL_LIST, headers=manager)
        assert answered.status_code == 200, answered.text
        assert answered.json()["data"]["date"] == "2026-11-25"  # tomorrow, from Tuesday
        manage_key = await make_key(["manage:table_bookings"])
        assert (await client.get(CALL_LIST, headers=manage_key)).status_code == 200

        for headers, status, code in (
            ({}, 401, "UNAUTHORIZED"),
            (await make_key(["read:table_bookings", "write:table_bookings"]), 403, "FORBIDDEN"),
            (await make_staff(None), 403, "FORBIDDEN"),
        ):
            refused = await client.get(CALL_LIST, headers=headers)
            assert refused.status_code == status, refused.text
            assert refused.json()["error"]["code"] == code
        bad = await client.get(CALL_LIST, params={"date": "27/11/2026"}, headers=manager)
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "VALIDATION_ERROR"


async def test_the_call_list_and_sweep_answer_as_documented(
    client: httpx.AsyncClient,
    key: dict[str, str],
    conn: asyncpg.Connection,
    clock: FakeClock,
) -> None:
    """Real answers, checked strictly (no field the schema does not name) against /openapi.json."""
    from tests.test_openapi_docs import _document, _problems, _validator

    document = await _document(client)
    texted_booking = await book(client, key, "07911 200001")
    opted_out = await book(client, key, "07911 200002", "20:00")
    await opt_out(conn, opted_out["booking_id"])
    clock.set(utc(26, 10))
    answers = [(SWEEP, await client.get(SWEEP, headers=CRON))]
    await run_worker(client)
    answers.append((CALL_LIST, await client.get(CALL_LIST, headers=key)))
    problems = []
    for path, response in answers:
        assert response.status_code == 200, response.text
        schema = document["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
        validator = _validator(document, schema["schema"], strict=True)
        problems += [f"{path}: {p}" for p in _problems(validator, response.json())]
    assert problems == []
    data = answers[1][1].json()["data"]
    assert [r["booking_id"] for r in data["unanswered"]] == [texted_booking["booking_id"]]
    assert [r["booking_id"] for r in data["not_texted"]] == [opted_out["booking_id"]]


# In a browser, at phone width -----------------------------------------------------------------


async def test_in_a_browser_yes_then_no(
    client: httpx.AsyncClient,
    key: dict[str, str],
    conn: asyncpg.Connection,
    clock: FakeClock,
    live: LiveServer,  # noqa: F811
    browser: webdriver.Chrome,  # noqa: F811
) -> None:
    await conn.execute(
        "insert into tables (table_number, name, capacity, priority, bar_priority)"
        " values ('1', 'Dining Room 4a', 4, 10, 10), ('2', 'Snug', 4, 20, 20)"
    )
    coming = await book(client, key, "07911 200001")
    not_coming = await book(client, key, "07911 200002", "20:00")
    clock.set(utc(26, 10))
    assert (await sweep(client))["queued"] == 2
    await run_worker(client)
    links = {}
    for text in await confirm_texts(conn):
        found = LINK.search(text["body"])
        assert found is not None
        links[text["booking_id"]] = live.url(f"/g/{found.group(2)}/confirm-booking")
    clock.set(utc(26, 12))

    def heading() -> str:
        return str(browser.find_element(By.TAG_NAME, "h1").text)

    def press(value: str, then: str) -> None:
        browser.find_element(By.CSS_SELECTOR, f"button[name=answer][value={value}]").click()
        WebDriverWait(browser, 10).until(
            expected_conditions.text_to_be_present_in_element((By.TAG_NAME, "h1"), then)
        )

    await asyncio.to_thread(browser.get, links[coming["booking_id"]])
    assert heading() == "Are you still coming?"
    page_text = browser.find_element(By.TAG_NAME, "main").text
    for fact in ("Friday 27 November", "19:00", "4 guests", "Dining Room 4a"):
        assert fact in page_text
    await asyncio.to_thread(screenshot, browser, "confirm-booking")
    # Both answers are in reach on a phone without scrolling sideways.
    width = browser.execute_script("return document.documentElement.scrollWidth")
    assert width <= 390
    await asyncio.to_thread(press, "yes", "You're confirmed")
    assert await conn.fetchval(
        "select guest_confirmed_at from table_bookings where id = $1::uuid", coming["booking_id"]
    ) == utc(26, 12)

    await asyncio.to_thread(browser.get, links[not_coming["booking_id"]])
    assert heading() == "Are you still coming?"
    await asyncio.to_thread(press, "no", "Your booking is cancelled")
    row = await conn.fetchrow(
        "select status::text, cancelled_by, cancellation_reason from table_bookings"
        " where id = $1::uuid",
        not_coming["booking_id"],
    )
    assert row is not None
    assert tuple(row) == ("cancelled", "guest", "guest_declined_confirmation")
