"""The timed crons: reminders (once per booking, by London time, either side of the clock
changes), review requests and Saturday's Sunday lunch prep list for the kitchen."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import FakeClock, create_booking, regular_body, sunday_body

CRON = {"Authorization": "Bearer test-cron-secret-0123456789"}
REMINDERS = "/api/cron/table-booking-reminders"
REVIEWS = "/api/cron/table-booking-reviews"
PROCESS_JOBS = "/api/cron/process-jobs"
BOOKINGS = "/api/table-bookings"
KITCHEN = "kitchen@the-anchor.pub"
GUEST_EMAIL = "ann.lee@example.com"
REVIEW_LINK = "https://g.page/r/x"


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


async def cron(client: httpx.AsyncClient, path: str) -> dict[str, Any]:
    response = await client.get(path, headers=CRON)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    data: dict[str, Any] = body["data"]
    return data


async def reminders_queued(client: httpx.AsyncClient) -> int:
    queued: int = (await cron(client, REMINDERS))["reminders"]
    return queued


async def reviews_queued(client: httpx.AsyncClient) -> int:
    queued: int = (await cron(client, REVIEWS))["queued"]
    return queued


async def notify_events(conn: asyncpg.Connection, event: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "select payload from jobs where type = 'table_booking_notify'"
        " and payload ->> 'event' = $1 order by created_at",
        event,
    )
    return [json.loads(r["payload"]) for r in rows]


async def texts(conn: asyncpg.Connection, template: str) -> list[str]:
    """Bodies of the texts the worker recorded (outbox mode) for ``template``."""
    rows = await conn.fetch(
        "select body from messages where template_key = $1 order by created_at", template
    )
    return [r["body"] for r in rows]


async def confirm(conn: asyncpg.Connection, booking_id: str) -> None:
    """What the payment step does to a Sunday lunch once the deposit is paid."""
    await conn.execute(
        "update table_bookings set status = 'confirmed' where id = $1::uuid", booking_id
    )


async def set_review_link(conn: asyncpg.Connection, value: str = REVIEW_LINK) -> None:
    await conn.execute(
        "insert into system_settings (key, value) values ('google_review_link', $1::jsonb)",
        json.dumps({"value": value}),
    )


# Reminders ---------------------------------------------------------------------------------------


class TestRegularReminder:
    async def test_reminded_from_09_00_on_the_day_and_once(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
        clock: FakeClock,
    ) -> None:
        clock.set(utc(2026, 11, 24, 7, 0))
        made = await create_booking(client, key, regular_body("2026-11-24", "19:00"))

        clock.set(utc(2026, 11, 24, 8, 59))
        assert await reminders_queued(client) == 0
        clock.set(utc(2026, 11, 24, 9, 0))
        assert await reminders_queued(client) == 1
        assert await reminders_queued(client) == 0
        clock.set(utc(2026, 11, 24, 12, 0))
        assert await reminders_queued(client) == 0

        assert await conn.fetchval("select reminder_sent from table_bookings") is True
        assert await notify_events(conn, "reminder") == [
            {
                "table_booking_id": made["booking_id"],
                "event": "reminder",
                "stage": f"{made['date']}T{made['time']}",
            }
        ]
        await cron(client, PROCESS_JOBS)
        await cron(client, PROCESS_JOBS)
        assert await texts(conn, "reminder_regular") == [
            "Reminder: Your table at The Anchor is booked for today at 19:00. Party of 4."
            f" We look forward to seeing you! Ref: {made['booking_reference']}"
        ]
        history = await conn.fetch(
            "select booking_id::text, reminder_type, status from table_booking_reminder_history"
        )
        assert [tuple(r) for r in history] == [(made["booking_id"], "sms", "sent")]

    async def test_not_the_day_before_nor_after_the_start(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
        clock: FakeClock,
    ) -> None:
        await create_booking(client, key, regular_body("2026-11-27", "12:00"))
        clock.set(utc(2026, 11, 26, 12, 0))  # Thursday: the day before
        assert await reminders_queued(client) == 0
        clock.set(utc(2026, 11, 27, 12, 0, 1))  # Friday, just after it started
        assert await reminders_queued(client) == 0
        assert await conn.fetchval("select reminder_sent from table_bookings") is not True

    async def test_never_a_cancelled_booking(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
        clock: FakeClock,
    ) -> None:
        clock.set(utc(2026, 11, 24, 7, 0))
        made = await create_booking(client, key, regular_body("2026-11-24", "19:00"))
        response = await client.post(
            f"{BOOKINGS}/{made['booking_reference']}/cancel",
            json={},
            headers={"X-Booking-Token": made["manage_token"]},
        )
        assert response.status_code == 200, response.text
        clock.set(utc(2026, 11, 24, 10, 0))
        assert await reminders_queued(client) == 0
        await cron(client, PROCESS_JOBS)
        assert await notify_events(conn, "reminder") == []
        assert await texts(conn, "reminder_regular") == []

    async def test_a_booking_cancelled_after_its_reminder_was_queued_is_not_reminded(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
        clock: FakeClock,
    ) -> None:
        clock.set(utc(2026, 11, 24, 9, 0))
        made = await create_booking(client, key, regular_body("2026-11-24", "19:00"))
        await cron(client, PROCESS_JOBS)
        assert await reminders_queued(client) == 1
        # The guest cancels before the worker's next run.
        response = await client.post(
            f"{BOOKINGS}/{made['booking_reference']}/cancel",
            json={},
            headers={"X-Booking-Token": made["manage_token"]},
        )
        assert response.status_code == 200, response.text
        await cron(client, PROCESS_JOBS)
        assert len(await texts(conn, "cancellation")) == 1
        assert await texts(conn, "reminder_regular") == []

    async def test_a_moved_booking_is_reminded_for_its_new_date(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
        clock: FakeClock,
    ) -> None:
        clock.set(utc(2026, 11, 24, 9, 0))
        made = await create_booking(client, key, regular_body("2026-11-24", "19:00"))
        assert await reminders_queued(client) == 1
        await cron(client, PROCESS_JOBS)
        response = await client.patch(
            f"{BOOKINGS}/{made['booking_reference']}",
            json={"date": "2026-11-27"},
            headers={"X-Booking-Token": made["manage_token"]},
        )
        assert response.status_code == 200, response.text
        assert await conn.fetchval("select reminder_sent from table_bookings") is False
        clock.set(utc(2026, 11, 27, 9, 0))
        assert await reminders_queued(client) == 1
        await cron(client, PROCESS_JOBS)
        assert len(await notify_events(conn, "reminder")) == 2
        assert len(await texts(conn, "reminder_regular")) == 2

    async def test_bookings_not_made_by_this_service_are_not_reminded(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
        clock: FakeClock,
    ) -> None:
        clock.set(utc(2026, 11, 24, 7, 0))
        await create_booking(client, key, regular_body("2026-11-24", "19:00"))
        await conn.execute("update table_bookings set manage_token_hash = null")
        clock.set(utc(2026, 11, 24, 9, 30))
        assert await reminders_queued(client) == 0

    async def test_the_reminder_email_updates_the_same_calendar_event(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
        clock: FakeClock,
    ) -> None:
        clock.set(utc(2026, 11, 24, 9, 0))
        body = regular_body("2026-11-24", "19:00")
        body["customer"]["email"] = GUEST_EMAIL
        made = await create_booking(client, key, body)
        await cron(client, PROCESS_JOBS)
        assert await reminders_queued(client) == 1
        await cron(client, PROCESS_JOBS)

        rows = await conn.fetch(
            "select payload from jobs where type = 'table_booking_email' and payload ->> 'to' = $1"
            " order by created_at",
            GUEST_EMAIL,
        )
        payloads = [json.loads(r["payload"]) for r in rows]
        assert [p["metadata"]["template_key"] for p in payloads] == [
            "booking_confirmation_regular",
            "reminder_regular",
        ]
        uids = []
        for payload in payloads:
            [attachment] = payload["attachments"]
            ics = base64.b64decode(attachment["content_b64"]).decode()
            assert ics.count("BEGIN:VEVENT") == 1
            assert "DTSTART;TZID=Europe/London:20261124T190000" in ics
            uids += [line for line in ics.splitlines() if line.startswith("UID:")]
        assert uids == [f"UID:table-booking-{made['booking_id']}@the-anchor.pub"] * 2
        history = await conn.fetch(
            "select reminder_type, status from table_booking_reminder_history"
            " order by reminder_type"
        )
        assert [tuple(r) for r in history] == [("email", "sent"), ("sms", "sent")]


class TestSundayLunchReminder:
    async def test_reminded_on_saturday_from_10_00_once_with_roasts_and_allergies(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
        clock: FakeClock,
        menu: dict[str, str],
    ) -> None:
        made = await create_booking(
            client,
            key,
            sunday_body(
                menu,
                mains={"Roasted Chicken": 2, "Slow-Cooked Lamb Shank": 1},
                allergies=["peanuts", "sesame"],
            ),
        )
        await confirm(conn, made["booking_id"])
        clock.set(utc(2026, 11, 27, 12, 0))  # Friday: too early
        assert await reminders_queued(client) == 0
        clock.set(utc(2026, 11, 28, 9, 59))
        assert await reminders_queued(client) == 0
        clock.set(utc(2026, 11, 28, 10, 0))
        assert await reminders_queued(client) == 1
        clock.set(utc(2026, 11, 28, 11, 0))
        assert await reminders_queued(client) == 0
        assert len(await notify_events(conn, "reminder")) == 1

        await cron(client, PROCESS_JOBS)
        [text] = await texts(conn, "reminder_sunday_lunch")
        assert text == (
            "Sunday Lunch Reminder: Table for 3 at 13:00 tomorrow."
            " 2x Roasted Chicken, 1x Slow-Cooked Lamb Shank. Allergies noted: peanuts, sesame."
            f" £30.47 due on arrival. See you soon! Ref: {made['booking_reference']}"
        )
        assert await conn.fetchval("select count(*) from table_booking_reminder_history") == 1

    async def test_an_unpaid_sunday_lunch_is_not_reminded(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
        clock: FakeClock,
        menu: dict[str, str],
    ) -> None:
        await create_booking(client, key, sunday_body(menu))
        clock.set(utc(2026, 11, 28, 10, 30))
        assert await reminders_queued(client) == 0


class TestBritishSummerTime:
    """Vercel calls in UTC; the reminder hour is London's on both sides of a clock change."""

    @pytest.mark.parametrize(
        ("sunday", "before", "after"),
        [
            # Saturday 27 March 2027 is still GMT (the clocks go forward on Sunday morning).
            ("2027-03-28", utc(2027, 3, 27, 9, 59), utc(2027, 3, 27, 10, 1)),
            # Saturday 30 October 2027 is still BST: 10:00 in London is 09:00 UTC.
            ("2027-10-31", utc(2027, 10, 30, 8, 59), utc(2027, 10, 30, 9, 1)),
        ],
    )
    async def test_sunday_lunch_reminder_hour_is_london_time(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
        clock: FakeClock,
        menu: dict[str, str],
        sunday: str,
        before: datetime,
        after: datetime,
    ) -> None:
        clock.set(utc(int(sunday[:4]), int(sunday[5:7]), int(sunday[8:]) - 4, 10, 0))
        made = await create_booking(client, key, sunday_body(menu, day=sunday))
        await confirm(conn, made["booking_id"])
        clock.set(before)
        assert await reminders_queued(client) == 0
        clock.set(after)
        assert await reminders_queued(client) == 1
        await cron(client, PROCESS_JOBS)
        [text] = await texts(conn, "reminder_sunday_lunch")
        assert "Table for 2 at 13:00 tomorrow. 2x Roasted Chicken." in text

    @pytest.mark.parametrize(
        ("day", "before", "after"),
        [
            ("2027-03-27", utc(2027, 3, 27, 8, 59), utc(2027, 3, 27, 9, 1)),
            ("2027-10-30", utc(2027, 10, 30, 7, 59), utc(2027, 10, 30, 8, 1)),
            ("2027-06-16", utc(2027, 6, 16, 7, 59), utc(2027, 6, 16, 8, 1)),
        ],
    )
    async def test_regular_reminder_hour_is_london_time(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
        clock: FakeClock,
        day: str,
        before: datetime,
        after: datetime,
    ) -> None:
        clock.set(utc(int(day[:4]), int(day[5:7]), int(day[8:]) - 3, 10, 0))
        await create_booking(client, key, regular_body(day, "19:00"))
        clock.set(before)
        assert await reminders_queued(client) == 0
        clock.set(after)
        assert await reminders_queued(client) == 1
        await cron(client, PROCESS_JOBS)
        [text] = await texts(conn, "reminder_regular")
        assert "booked for today at 19:00" in text


# Review requests ---------------------------------------------------------------------------------

#: A regular booking on Friday 27 November 2026, 19:00-21:00; a review is due from 00:00.
FRIDAY = "2026-11-27"
REVIEW_DUE = utc(2026, 11, 28, 0, 0)


class TestReviews:
    async def test_asked_once_three_hours_after_the_end(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
        clock: FakeClock,
    ) -> None:
        await set_review_link(conn)
        made = await create_booking(client, key, regular_body(FRIDAY, "19:00"))
        clock.set(utc(2026, 11, 27, 23, 59, 59))
        assert await reviews_queued(client) == 0
        clock.set(REVIEW_DUE)
        assert await reviews_queued(client) == 1
        assert await reviews_queued(client) == 0
        clock.set(utc(2026, 11, 28, 10, 0))
        assert await reviews_queued(client) == 0
        assert await notify_events(conn, "review") == [
            {"table_booking_id": made["booking_id"], "event": "review", "stage": "default"}
        ]
        assert await conn.fetchval("select review_sms_sent_at from table_bookings") == REVIEW_DUE

        await cron(client, PROCESS_JOBS)
        assert await texts(conn, "review_request") == [
            "Thanks for dining at The Anchor today! We'd love your feedback:"
            f" {REVIEW_LINK} Reply STOP to opt out."
        ]

    @pytest.mark.parametrize("setting", [None, "", "   "])
    async def test_not_without_a_review_link(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
        clock: FakeClock,
        setting: str | None,
    ) -> None:
        if setting is not None:
            await set_review_link(conn, setting)
        await create_booking(client, key, regular_body(FRIDAY, "19:00"))
        clock.set(REVIEW_DUE)
        data = await cron(client, REVIEWS)
        assert data == {"queued": 0, "skipped": "no_review_link"}
        assert await conn.fetchval("select review_sms_sent_at from table_bookings") is None
        assert await notify_events(conn, "review") == []

    async def test_a_plain_string_link_works_too(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
        clock: FakeClock,
    ) -> None:
        await conn.execute(
            "insert into system_settings (key, value) values ('google_review_link', $1::jsonb)",
            json.dumps(REVIEW_LINK),
        )
        await create_booking(client, key, regular_body(FRIDAY, "19:00"))
        clock.set(REVIEW_DUE)
        assert await reviews_queued(client) == 1

    async def test_not_for_an_opted_out_guest(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
        clock: FakeClock,
    ) -> None:
        await set_review_link(conn)
        body = regular_body(FRIDAY, "19:00")
        body["customer"]["sms_opt_in"] = False
        await create_booking(client, key, body)
        clock.set(REVIEW_DUE)
        assert await reviews_queued(client) == 0
        assert await notify_events(conn, "review") == []

    async def test_not_for_a_cancelled_booking(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
        clock: FakeClock,
    ) -> None:
        await set_review_link(conn)
        made = await create_booking(client, key, regular_body(FRIDAY, "19:00"))
        response = await client.post(
            f"{BOOKINGS}/{made['booking_reference']}/cancel", json={}, headers=key
        )
        assert response.status_code == 200, response.text
        clock.set(REVIEW_DUE)
        assert await reviews_queued(client) == 0

    async def test_not_once_two_days_have_passed(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
        clock: FakeClock,
    ) -> None:
        await set_review_link(conn)
        await create_booking(client, key, regular_body(FRIDAY, "19:00"))
        clock.set(utc(2026, 11, 29, 21, 0, 1))  # 48 h after the end
        assert await reviews_queued(client) == 0

    async def test_a_completed_booking_is_asked(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
        clock: FakeClock,
    ) -> None:
        await set_review_link(conn)
        await create_booking(client, key, regular_body(FRIDAY, "19:00"))
        await conn.execute("update table_bookings set status = 'completed'")
        clock.set(REVIEW_DUE)
        assert await reviews_queued(client) == 1


# Kitchen prep list -------------------------------------------------------------------------------


class TestKitchenPrep:
    async def test_saturday_after_13_00_one_prep_list_counts_every_confirmed_sunday_lunch(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
        clock: FakeClock,
        menu: dict[str, str],
    ) -> None:
        first = await create_booking(
            client,
            key,
            sunday_body(menu, time="13:00", allergies=["peanuts"], phone="07911 123401"),
        )
        second = await create_booking(
            client,
            key,
            sunday_body(
                menu,
                time="14:00",
                mains={"Roasted Chicken": 1, "Slow-Cooked Lamb Shank": 1},
                extras={"Cauliflower Cheese": 2},
                phone="07911 123402",
            ),
        )
        # Unpaid: not cooked for.
        await create_booking(
            client, key, sunday_body(menu, mains={"Roasted Chicken": 5}, phone="07911 123403")
        )
        await confirm(conn, first["booking_id"])
        await confirm(conn, second["booking_id"])

        clock.set(utc(2026, 11, 28, 12, 59))
        assert (await cron(client, REMINDERS))["kitchen_prep"] == {"queued": False}
        clock.set(utc(2026, 11, 28, 13, 0))
        assert (await cron(client, REMINDERS))["kitchen_prep"] == {
            "queued": True,
            "date": "2026-11-29",
        }
        clock.set(utc(2026, 11, 28, 14, 0))
        assert (await cron(client, REMINDERS))["kitchen_prep"]["queued"] is False
        assert len(await notify_events(conn, "kitchen_prep")) == 1

        await cron(client, PROCESS_JOBS)
        await cron(client, PROCESS_JOBS)
        rows = await conn.fetch(
            "select recipient, subject, body, table_booking_id from table_booking_outbox"
            " where template_key = 'kitchen_prep'"
        )
        assert len(rows) == 1
        [prep] = rows
        assert prep["recipient"] == KITCHEN
        assert prep["table_booking_id"] is None
        assert prep["subject"] == "Sunday lunch prep list for Sunday 29 November: 4 covers"
        lines = prep["body"].splitlines()
        assert lines[0] == "Sunday lunch, Sunday 29 November: 2 tables, 4 covers."
        for line in (
            "  3 x Roasted Chicken (main)",
            "  1 x Slow-Cooked Lamb Shank (main)",
            "  4 x Roast Potatoes (side)",
            "  4 x Yorkshire Pudding (side)",
            "  2 x Cauliflower Cheese (side)",
        ):
            assert line in lines
        assert "5 x Roasted Chicken (main)" not in prep["body"]
        assert "ALLERGIES:" in lines
        assert f"  13:00 {first['booking_reference']} Ann Lee: peanuts" in lines
        assert f"  14:00 {second['booking_reference']} Ann Lee, 2: " in prep["body"]

    async def test_not_on_other_days(
        self, client: httpx.AsyncClient, conn: asyncpg.Connection, clock: FakeClock
    ) -> None:
        for moment in (utc(2026, 11, 27, 15, 0), utc(2026, 11, 29, 10, 0)):
            clock.set(moment)
            assert (await cron(client, REMINDERS))["kitchen_prep"] == {"queued": False}
        assert await notify_events(conn, "kitchen_prep") == []

    async def test_the_cut_off_is_london_time_in_summer(
        self, client: httpx.AsyncClient, conn: asyncpg.Connection, clock: FakeClock
    ) -> None:
        clock.set(utc(2027, 6, 19, 11, 59))  # 12:59 BST
        assert (await cron(client, REMINDERS))["kitchen_prep"] == {"queued": False}
        clock.set(utc(2027, 6, 19, 12, 0))  # 13:00 BST
        assert (await cron(client, REMINDERS))["kitchen_prep"] == {
            "queued": True,
            "date": "2027-06-20",
        }
