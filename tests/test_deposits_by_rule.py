"""Deposits by rule (a group of 15 or more, a seasonal period) end to end on a tables venue: the
PayPal order first, the texts and emails worded for a table, the payment, refunds by the frozen
terms in London calendar days, the payment hold and its expiry freeing the tables."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest

from app.services.refunds import RefundTerms, refund_for_cancellation
from tests.conftest import FakeClock, create_booking, regular_body
from tests.test_payments import (  # noqa: F401  (fixtures used by name)
    APPROVE_URL,
    FakePayPal,
    app,
    cancel,
    captured,
    expire_holds,
    guest,
    order_body,
    outbox,
    paypal,
    paypal_settings,
    return_from_paypal,
    run_worker,
)

FRIDAY = "2026-12-11"
REFUND_7 = (
    "Full refund up to 7 days before the booking date. Inside 7 days the deposit is not "
    "refunded, though a manager may waive that. The deposit comes off the bill on the day."
)


async def small_floor(conn: asyncpg.Connection) -> None:
    """Two tables of 8 that join, and one of 4."""
    ids = []
    for number, capacity in ((1, 8), (2, 8), (3, 4)):
        ids.append(
            await conn.fetchval(
                "insert into tables (table_number, name, capacity, priority, bar_priority)"
                " values ($1, $2, $3, $4, $4) returning id",
                str(number),
                f"Table {number}",
                capacity,
                number * 10,
            )
        )
    low, high = sorted(ids[:2])
    await conn.execute("insert into table_join_links values ($1, $2)", low, high)


def pay_as(fake: FakePayPal, value: str) -> None:
    fake.create.respond(201, json=order_body(value=value))
    fake.get.respond(200, json=order_body(value=value))
    fake.capture.respond(201, json=captured(value))


async def texts(conn: asyncpg.Connection, template: str) -> list[dict[str, Any]]:
    return await outbox(conn, template)


async def one(conn: asyncpg.Connection, sql: str, *args: Any) -> Any:
    row = await conn.fetchrow(sql, *args)
    assert row is not None
    return row


async def hold_of(conn: asyncpg.Connection, booking_id: str) -> Any:
    return await one(
        conn,
        "select hold_type, status, seats_or_covers_held, expires_at from booking_holds"
        " where table_booking_id = $1::uuid",
        booking_id,
    )


async def test_a_party_of_sixteen_pays_its_group_deposit(
    client: httpx.AsyncClient,
    key: dict[str, str],
    paypal: FakePayPal,  # noqa: F811
    conn: asyncpg.Connection,
    clock: FakeClock,
    make_staff: Any,
) -> None:
    await small_floor(conn)
    pay_as(paypal, "160.00")
    body = regular_body(FRIDAY, "19:00", 16)
    body["customer"]["email"] = "ann@example.com"

    made = await create_booking(client, key, body)

    assert made["status"] == "pending_payment"
    assert made["payment_details"]["deposit_amount"] == "160.00"
    assert made["payment_details"]["payment_url"] == APPROVE_URL
    assert paypal.create.call_count == 1  # the order was made before the booking
    ref = made["booking_reference"]
    assert made["cancellation_policy"] == (
        "Nothing has been paid yet, so cancelling now costs nothing. Once the £160.00 deposit "
        "is paid: Cancel by the end of Friday 4 December for a full refund of £160.00. Cancel "
        "by the end of Tuesday 8 December for a 50% refund (£80.00). From Wednesday 9 December "
        "the deposit cannot be refunded. The deposit comes off the bill on the day."
    )
    row = await one(
        conn,
        "select deposit_rule, refund_policy->>'refund_terms' as terms, hold_expires_at"
        " from table_bookings where id = $1::uuid",
        made["booking_id"],
    )
    assert (row["deposit_rule"], row["terms"]) == ("group", "group_days")
    hold = await hold_of(conn, made["booking_id"])
    assert tuple(hold) == ("payment_hold", "active", 16, row["hold_expires_at"])

    await run_worker(client)
    [sms, email] = await texts(conn, "payment_request_table")
    assert sms["body"] == (
        f"Hi Ann, to confirm your table for 16 on Friday 11 December at 19:00 please pay the "
        f"£160.00 deposit by 10:00 tomorrow: {APPROVE_URL} Ref: {ref}"
    )
    assert email["subject"] == f"Your table at The Anchor: deposit due ({ref})"
    assert "Deposit to pay now: £160.00; it comes off the bill on the day" in email["body"]
    assert await texts(conn, "payment_request") == []
    [alert] = await texts(conn, "staff_created")
    assert alert["subject"] == f"New booking (deposit due): {ref}, 16 on Fri 11 Dec at 19:00"

    response = await return_from_paypal(client)
    assert response.json()["data"]["outcome"] == "confirmed", response.text
    await run_worker(client)
    [sms, email] = await texts(conn, "booking_confirmation_regular_deposit")
    # With the guest's manage link (a new one, opened by the manage page), in two segments.
    link = re.search(r"https://tb\.example/g/([A-Za-z0-9_-]{43})/table-manage", sms["body"])
    assert link is not None, sms["body"]
    assert sms["body"] == (
        f"Hi Ann, your table for 16 at The Anchor on Friday 11 December at 19:00 is confirmed. "
        f"Your £160.00 deposit is paid and comes off your bill on the day. Reference: {ref}. "
        f"Manage your booking: {link.group(0)} Reply STOP to opt out."
    )
    assert f"To change or cancel your booking: {link.group(0)}" in email["body"]
    manage = await client.get(f"/g/{link.group(1)}/table-manage")
    assert manage.status_code == 200 and ref in manage.text
    assert "Deposit paid: £160.00; it comes off the bill on the day" in email["body"]
    assert (await hold_of(conn, made["booking_id"]))["status"] == "consumed"

    # Five London days before: the pub's day rule gives half.
    clock.set(datetime(2026, 12, 6, 23, 30, tzinfo=UTC))
    detail = (await client.get(f"/api/table-bookings/{ref}", headers=guest(made))).json()["data"]
    assert detail["cancellation_policy"]["refund_amount_now"] == "80.00"
    assert detail["cancellation_policy"]["summary"] == (
        "Cancel by the end of Tuesday 8 December for a 50% refund (£80.00). From Wednesday 9 "
        "December the deposit cannot be refunded. The deposit comes off the bill on the day."
    )
    answer = await cancel(client, ref, guest(made))
    assert answer.json()["data"]["refund"]["amount"] == "80.00", answer.text
    assert answer.json()["data"]["refund"]["percentage"] == 50


async def test_a_seasonal_period_refunds_all_or_nothing_by_london_days(
    client: httpx.AsyncClient,
    key: dict[str, str],
    paypal: FakePayPal,  # noqa: F811
    conn: asyncpg.Connection,
    clock: FakeClock,
    make_staff: Any,
) -> None:
    await small_floor(conn)
    period = await conn.fetchval(
        "insert into booking_periods (code, period_kind, name, starts_on, ends_on, guest_question,"
        " deposit_basis, deposit_amount, refund_cutoff_days, is_active)"
        " values ('festive-2026', 'christmas', 'Festive Fridays', $1::date, $1::date,"
        " 'Is this a festive booking?', 'per_head', 10.00, 7, true) returning id::text",
        date(2026, 12, 11),
    )
    pay_as(paypal, "40.00")
    body = regular_body(FRIDAY, "19:00", 4, booking_period_id=period, booking_period_answer=True)
    made = await create_booking(client, key, body)
    assert made["payment_details"]["deposit_amount"] == "40.00"
    snapshot = await one(
        conn,
        "select booking_period_code, booking_period_answer, deposit_rule, deposit_basis,"
        " deposit_rate, deposit_refund_cutoff_days, deposit_refund_policy,"
        " refund_policy->>'refund_terms' as terms from table_bookings where id = $1::uuid",
        made["booking_id"],
    )
    assert tuple(snapshot) == (
        "festive-2026",
        True,
        "period",
        "per_head",
        Decimal("10.00"),
        7,
        REFUND_7,
        "seasonal",
    )
    assert made["cancellation_policy"] == (
        "Nothing has been paid yet, so cancelling now costs nothing. Once the £40.00 deposit is "
        f"paid: {REFUND_7} For this booking: cancel by the end of Friday 4 December (London "
        "time) for a full refund of £40.00."
    )
    assert (await return_from_paypal(client)).json()["data"]["outcome"] == "confirmed"
    ref = made["booking_reference"]

    # Six London days before (Saturday 5 December, late): nothing.
    clock.set(datetime(2026, 12, 5, 23, 59, tzinfo=UTC))
    detail = (await client.get(f"/api/table-bookings/{ref}", headers=guest(made))).json()["data"]
    policy = detail["cancellation_policy"]
    assert policy["refund_amount_now"] == "0.00"
    assert policy["summary"] == f"{REFUND_7} The last day for a refund was Friday 4 December."
    # Seven London days before, at any hour (Friday 4 December, 23:59 in London): all of it.
    clock.set(datetime(2026, 12, 4, 23, 59, tzinfo=UTC))
    answer = await cancel(client, ref, guest(made))
    assert answer.json()["data"]["refund"] == {
        "eligible": True,
        "percentage": 100,
        "amount": "40.00",
        "paid_amount": "40.00",
        "currency": "GBP",
    }, answer.text


async def test_python_and_sql_agree_on_refunds_by_london_days(conn: asyncpg.Connection) -> None:
    start = datetime(2026, 3, 29, 19, 0, tzinfo=UTC)  # the clocks go forward that morning
    policies: list[dict[str, Any]] = [
        {"refund_terms": "seasonal", "deposit_refund_cutoff_days": n} for n in (0, 1, 7, 14)
    ]
    policies += [{"refund_terms": "group_days"}, {"refund_terms": "seasonal"}]
    for policy in policies:
        terms = RefundTerms.from_json(policy)
        for hours in range(0, 24 * 16, 7):
            now = start - timedelta(hours=hours)
            percentage, amount = await one(
                conn,
                "select percentage, amount from tb_refund_due($1::jsonb, 160.00, $2, $3)",
                json.dumps(policy),
                start,
                now,
            )
            expected = refund_for_cancellation(
                terms, paid=Decimal("160.00"), starts_at=start, now=now
            )
            assert (percentage, amount) == (expected.percentage, expected.amount), (policy, now)


async def test_a_lapsed_hold_is_cancelled_and_its_tables_are_free(
    client: httpx.AsyncClient,
    key: dict[str, str],
    paypal: FakePayPal,  # noqa: F811
    conn: asyncpg.Connection,
    clock: FakeClock,
) -> None:
    await small_floor(conn)
    pay_as(paypal, "160.00")
    made = await create_booking(client, key, regular_body(FRIDAY, "19:00", 16))
    ref = made["booking_reference"]
    await run_worker(client)
    clock.set(clock.now + timedelta(hours=24, minutes=1))
    # Past its hold the booking holds no table, even before the expiry runs.
    twelve = await create_booking(
        client, key, regular_body(FRIDAY, "19:00", 12, phone="07700 900123")
    )
    assert twelve["status"] == "confirmed"
    assert twelve["table_name"] == "Table 1 + Table 2"

    assert (await expire_holds(client))["cancelled"] == 1
    row = await one(
        conn,
        "select status::text, cancelled_by, cancellation_reason from table_bookings"
        " where id = $1::uuid",
        made["booking_id"],
    )
    assert tuple(row) == ("cancelled", "system", "payment_hold_expired")
    assert (await hold_of(conn, made["booking_id"]))["status"] == "expired"
    await run_worker(client)
    [sms] = await texts(conn, "cancellation_hold_expired_table")
    assert sms["body"] == (
        f"Hi Ann, your table for 16 on Friday 11 December at 19:00 ({ref}) has been cancelled "
        "because the deposit was not paid in time, so the table was released. No payment was "
        "taken. To book again call 01753 682707."
    )
    assert await texts(conn, "cancellation_hold_expired") == []


@pytest.mark.parametrize("seated_in_between", [False, True], ids=["still-free", "taken"])
async def test_a_deposit_paid_after_its_hold_lapsed_keeps_the_table_only_if_it_is_still_free(
    client: httpx.AsyncClient,
    key: dict[str, str],
    make_staff: Any,
    paypal: FakePayPal,  # noqa: F811
    conn: asyncpg.Connection,
    clock: FakeClock,
    seated_in_between: bool,
) -> None:
    """A payment PayPal captures after the hold ran out but before the expiry cron: kept when
    the booking's own tables are still its alone, refunded when another party was seated there
    in between (the tables were free again the moment the hold lapsed)."""
    await small_floor(conn)
    pay_as(paypal, "160.00")
    made = await create_booking(client, key, regular_body(FRIDAY, "19:00", 16))
    clock.advance(days=1, minutes=1)  # the hold has lapsed; the cron has not run
    if seated_in_between:
        staff = await make_staff("manager")
        taken = await client.post(
            "/api/table-bookings",
            json=regular_body(FRIDAY, "19:00", 8, phone="07700 900333"),
            headers=staff,
        )
        assert taken.status_code == 201, taken.text
        assert taken.json()["data"]["table_name"] == "Table 1"

    response = await return_from_paypal(client)

    assert response.status_code == 200, response.text
    outcome = response.json()["data"]["outcome"]
    status = await conn.fetchval(
        "select status::text from table_bookings where id = $1::uuid", made["booking_id"]
    )
    if seated_in_between:
        assert (outcome, status) == ("released", "pending_payment")
        refunds = await conn.fetch("select payload from jobs where type = 'table_booking_refund'")
        assert len(refunds) == 1
    else:
        assert (outcome, status) == ("confirmed", "confirmed")
