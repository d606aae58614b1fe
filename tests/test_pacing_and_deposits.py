"""Kitchen pacing and the deposit rule as our own SQL (issue 15; pub-engine-2026.md 3, 5.5, 6, 7.3).

Our functions (supabase/migrations/20261124000420_pacing.sql, 20261124000430_deposits.sql) are
checked three ways:

1. every worked example of 3.1, 3.2, 6.3, 6.6 and 7.3, on the pub's own schema with the spec's
   scratch setup (table_allocation_v06_enabled true; the join links of the Dining Room and of Low
   4a-Low 4b);
2. against the pub's own functions as the oracle, on seeded random sequences: the pacing refusal
   against what create_table_booking_staff_v06 does, the deposit rule against
   resolve_table_booking_deposit (with the core's own checks around it, as mapped in
   ``pub_deposit``);
3. on a fresh database (our stand-ins): a pacing refusal and a group deposit.

The pub's functions use now(): the machine's date is 2026-12-03, so every date here is after it.
"""

from __future__ import annotations

import json
import random
import uuid
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from tests.pub_floor import add_live_join_links, set_setting

PUB = pytest.mark.parametrize("database_kind", ["pub"], indirect=True)
FRESH = pytest.mark.parametrize("database_kind", ["fresh"], indirect=True)

FRIDAY = date(2026, 12, 11)
SUNDAY = date(2026, 12, 13)
CHRISTMAS_ID = "9f47d0f6-7007-44b1-9a90-7a16faaa5ab4"  # the pub's seeded christmas-2026
REFUND_7 = (
    "Full refund up to 7 days before the booking date. Inside 7 days the deposit is not "
    "refunded, though a manager may waive that. The deposit comes off the bill on the day."
)
NOT_REFUNDABLE = (
    "The deposit is not refundable once the booking is made, though a manager may waive that."
)


# Set-up -----------------------------------------------------------------------------------------


async def scratch(conn: asyncpg.Connection) -> str:
    """The spec's scratch setup; returns a customer id for the pub's RPC."""
    await set_setting(conn, "table_allocation_v06_enabled", True)
    await add_live_join_links(conn)
    customer: str = await conn.fetchval(
        "insert into customers (first_name, last_name, mobile_number, mobile_e164, sms_opt_in,"
        " sms_status) values ('Pat', 'Example', '+447700900123', '+447700900123', true, 'active')"
        " returning id::text"
    )
    return customer


async def huge_floor(conn: asyncpg.Connection, count: int = 40) -> None:
    """Extra bookable 20-seat tables, so that the pub's picker never decides an outcome."""
    await conn.execute(
        "insert into tables (table_number, capacity, name, is_bookable, priority, bar_priority)"
        " select 'X' || g, 20, 'Extra ' || g, true, 500 + g, 500 + g"
        " from generate_series(1, $1::int) g",
        count,
    )


async def pub_create(
    conn: asyncpg.Connection,
    customer: str,
    day: date,
    at: time,
    party: int,
    purpose: str = "food",
    *,
    bypass_pacing: bool = False,
) -> dict[str, Any]:
    """The pub's front-of-house create (staff channel, cut-off bypassed, as staff always are)."""
    raw = await conn.fetchval(
        "select public.create_table_booking_staff_v06(p_customer_id => $1::uuid,"
        " p_booking_date => $2, p_booking_time => $3, p_party_size => $4,"
        " p_booking_purpose => $5, p_bypass_cutoff => true, p_bypass_pacing => $6)",
        customer,
        day,
        at,
        party,
        purpose,
        bypass_pacing,
    )
    result: dict[str, Any] = json.loads(raw)
    return result


async def refusal(
    conn: asyncpg.Connection,
    day: date,
    at: time,
    party: int,
    purpose: str = "food",
    *,
    bypass: bool = False,
    exclude: str | None = None,
) -> str | None:
    value: str | None = await conn.fetchval(
        "select public.tb_pacing_refusal($1, $2, $3, $4, $5, now(), $6::uuid)",
        day,
        at,
        party,
        purpose,
        bypass,
        exclude,
    )
    return value


async def resolve(
    conn: asyncpg.Connection,
    party: int,
    day: date,
    period_id: str | None = None,
    answer: bool | None = None,
    purpose: str = "food",
    waived: bool = False,
) -> dict[str, Any]:
    raw = await conn.fetchval(
        "select public.tb_resolve_deposit($1, $2, $3::uuid, $4, $5, $6)",
        party,
        day,
        period_id,
        answer,
        purpose,
        waived,
    )
    result: dict[str, Any] = json.loads(raw, parse_float=Decimal)
    return result


async def pair(conn: asyncpg.Connection, sql: str, *args: Any) -> tuple[Any, Any]:
    row = await conn.fetchrow(sql, *args)
    assert row is not None
    return row[0], row[1]


async def activate_christmas(conn: asyncpg.Connection, *, menu: bool = True) -> None:
    await conn.execute(
        "update booking_periods set is_active = true where id = $1::uuid", CHRISTMAS_ID
    )
    if menu:
        await conn.execute(
            "insert into booking_period_menu_items (period_id, course, name)"
            " values ($1::uuid, 'main', 'Roast turkey')",
            CHRISTMAS_ID,
        )


async def add_mothers_day(conn: asyncpg.Connection) -> str:
    period: str = await conn.fetchval(
        "insert into booking_periods (code, period_kind, name, starts_on, ends_on, guest_question,"
        " deposit_basis, deposit_amount, refund_cutoff_days, is_active)"
        " values ('mothers-day-2027', 'mothers_day', 'Mother''s Day 2027', '2027-03-14',"
        " '2027-03-14', 'Is this a Mother''s Day booking?', 'per_booking', 25.00, 14, true)"
        " returning id::text"
    )
    return period


# 1. The worked examples -------------------------------------------------------------------------


@PUB
class TestKitchenPacingExamples:
    async def test_the_friday_sequence_of_3_1(self, conn: asyncpg.Connection) -> None:
        customer = await scratch(conn)
        await set_setting(conn, "kitchen_pacing_enabled", True)
        steps = [  # time, party, expected refusal
            ("19:00", 4, None),
            ("19:00", 6, None),
            ("19:10", 6, None),
            ("19:14", 4, "slot_full"),
            ("19:14", 3, None),
            ("19:15", 2, "slot_full"),
            ("19:16", 2, None),
            ("18:45", 2, None),
            ("19:00", 4, "slot_full"),
        ]
        for at, party, expected in steps:
            t = time.fromisoformat(at)
            assert await refusal(conn, FRIDAY, t, party) == expected, (at, party)
            made = await pub_create(conn, customer, FRIDAY, t, party)
            assert made.get("reason", made["state"]) == (expected or "confirmed"), (at, made)
        # Bypass (staff with p_bypass_pacing): nothing refused, as the pub confirms.
        assert await refusal(conn, FRIDAY, time(19), 4, bypass=True) is None
        made = await pub_create(conn, customer, FRIDAY, time(19), 4, bypass_pacing=True)
        assert made["state"] == "confirmed"
        # Drinks never count toward the kitchen.
        assert await refusal(conn, FRIDAY, time(19, 5), 6, "drinks") is None
        # The load grid counts as the refusal does: 18:45-19:14 holds 2+4+6+6+3 and the bypassed 4.
        load = {
            r["slot_time"]: r
            for r in await conn.fetch("select * from public.tb_pacing_load($1, now())", FRIDAY)
        }
        assert len(load) == 96
        assert load[time(19)]["food_covers"] == 25
        assert load[time(19, 15)]["food_covers"] == 4 + 6 + 6 + 3 + 2 + 4
        assert (load[time(18, 30)]["food_covers"], load[time(18, 45)]["food_covers"]) == (0, 2)
        assert (load[time(19)]["food_ceiling"], load[time(19)]["drinks_ceiling"]) == (19, 40)
        assert load[time(19)]["pacing_enabled"] is True

    async def test_sunday_ceiling_its_override_and_an_expired_hold(
        self, conn: asyncpg.Connection
    ) -> None:
        customer = await scratch(conn)
        await set_setting(conn, "kitchen_pacing_enabled", True)
        assert await refusal(conn, SUNDAY, time(14), 14) is None
        assert (await pub_create(conn, customer, SUNDAY, time(14), 14))["state"] == "confirmed"
        assert await refusal(conn, SUNDAY, time(14), 1) == "slot_full"
        assert (await pub_create(conn, customer, SUNDAY, time(14), 1))["reason"] == "slot_full"
        await conn.execute(
            "insert into special_hours (date, kitchen_pace_covers, kitchen_walk_in_reserve)"
            " values ($1, 30, 0)",
            SUNDAY,
        )
        assert await refusal(conn, SUNDAY, time(14), 1) is None
        # Each override on its own: the pace alone (30 - 6 seeded reserve = 24).
        await conn.execute(
            "update special_hours set kitchen_walk_in_reserve = null where date = $1", SUNDAY
        )
        assert await refusal(conn, SUNDAY, time(14), 10) is None
        assert await refusal(conn, SUNDAY, time(14), 11) == "slot_full"
        # An unpaid deposit hold stops counting the moment it lapses.
        later = date(2026, 12, 18)
        held = await pub_create(conn, customer, later, time(19), 15)
        assert held["state"] == "pending_payment"
        assert await refusal(conn, later, time(19), 5) == "slot_full"
        await conn.execute(
            "update table_bookings set hold_expires_at = now() - interval '1 minute'"
            " where id = $1::uuid",
            held["table_booking_id"],
        )
        assert await refusal(conn, later, time(19), 5) is None
        # Pacing off: food is never refused.
        await set_setting(conn, "kitchen_pacing_enabled", False)
        assert await refusal(conn, SUNDAY, time(14), 40) is None

    async def test_the_drinks_ceiling_of_3_2(self, conn: asyncpg.Connection) -> None:
        customer = await scratch(conn)  # kitchen pacing stays off: drinks are not gated by it
        await huge_floor(conn)
        first = await pub_create(conn, customer, FRIDAY, time(20), 20, "drinks")
        second = await pub_create(conn, customer, FRIDAY, time(20, 10), 20, "drinks")
        # Twenty guests owe the group deposit: held, and counted, until the hold lapses.
        assert (first["state"], second["state"]) == ("pending_payment", "pending_payment")
        assert await refusal(conn, FRIDAY, time(20, 5), 1, "drinks") == "drinks_full"
        assert (await pub_create(conn, customer, FRIDAY, time(20, 5), 1, "drinks"))[
            "reason"
        ] == "drinks_full"
        assert await refusal(conn, FRIDAY, time(20, 5), 1, "drinks", bypass=True) is None
        # A booking being changed does not count against itself.
        assert (
            await refusal(
                conn, FRIDAY, time(20, 5), 1, "drinks", exclude=second["table_booking_id"]
            )
            is None
        )
        # Food never counts toward drinks; purpose is read as the pub reads it.
        assert await refusal(conn, FRIDAY, time(20, 5), 1, " Drinks ") == "drinks_full"
        assert await refusal(conn, FRIDAY, time(20, 5), 1, "food") is None
        load = {
            r["slot_time"]: r
            for r in await conn.fetch("select * from public.tb_pacing_load($1, now())", FRIDAY)
        }
        assert (load[time(20)]["drinks_covers"], load[time(20)]["food_covers"]) == (40, 0)
        assert load[time(20, 30)]["drinks_covers"] == 0


@PUB
class TestDepositExamples:
    async def test_the_rule_without_a_period(self, conn: asyncpg.Connection) -> None:
        await scratch(conn)
        none = await resolve(conn, 14, FRIDAY)
        assert (none["blocked"], none["deposit_required"], none["deposit_rule"]) == (
            None,
            False,
            "none",
        )
        assert none["deposit_amount"] == 0 and none["period"] is None
        assert none["booking_type"] == "regular"
        group = await resolve(conn, 15, FRIDAY)
        assert (group["deposit_amount"], group["deposit_rule"], group["deposit_basis"]) == (
            Decimal("150.00"),
            "group",
            "per_head",
        )
        assert group["deposit_rate"] == Decimal("10.00") and group["deposit_required"] is True
        assert (group["refund_cutoff_days"], group["refund_policy"]) == (None, None)
        waived = await resolve(conn, 16, FRIDAY, waived=True)
        assert (waived["deposit_rule"], waived["deposit_required"], waived["deposit_amount"]) == (
            "waived",
            False,
            0,
        )
        assert (await resolve(conn, 0, FRIDAY))["blocked"] == "invalid_party_size"
        assert (await resolve(conn, 4, FRIDAY, purpose="brunch"))["blocked"] == "invalid_purpose"
        # The seeded Christmas period is inactive: Christmas is not open, an answer is stale.
        assert (await resolve(conn, 8, FRIDAY, purpose="christmas"))[
            "blocked"
        ] == "christmas_not_open"
        assert (await resolve(conn, 8, FRIDAY, answer=True))["blocked"] == "period_not_available"
        assert (await resolve(conn, 8, FRIDAY, CHRISTMAS_ID))["blocked"] == "period_date_mismatch"

    async def test_the_christmas_period_of_6_3(self, conn: asyncpg.Connection) -> None:
        await scratch(conn)
        await activate_christmas(conn)
        xmas = await resolve(conn, 8, FRIDAY, purpose="christmas")
        assert (xmas["deposit_amount"], xmas["deposit_rule"], xmas["deposit_basis"]) == (
            Decimal("80.00"),
            "period",
            "per_head",
        )
        assert (xmas["deposit_rate"], xmas["refund_cutoff_days"]) == (Decimal("10.00"), 7)
        assert xmas["refund_policy"] == REFUND_7
        assert xmas["booking_type"] == "christmas" and xmas["min_notice_hours"] == 24
        assert xmas["period"] == {
            "id": CHRISTMAS_ID,
            "code": "christmas-2026",
            "name": "Christmas dinner 2026",
            "answer": True,
            "requires_preorder": True,
            "min_notice_hours": 24,
        }
        tie = await resolve(conn, 16, FRIDAY, CHRISTMAS_ID, True)
        assert (tie["deposit_amount"], tie["deposit_rule"]) == (Decimal("160.00"), "period")
        assert tie["booking_type"] == "christmas"  # the period's legacy type
        declined = await resolve(conn, 16, FRIDAY, CHRISTMAS_ID, False)
        assert (declined["deposit_amount"], declined["deposit_rule"]) == (
            Decimal("160.00"),
            "group",
        )
        assert declined["period"]["code"] == "christmas-2026"
        assert declined["period"]["answer"] is False
        assert declined["period"]["requires_preorder"] is None
        assert (declined["refund_cutoff_days"], declined["refund_policy"]) == (None, None)
        assert declined["booking_type"] == "regular" and declined["min_notice_hours"] == 0
        omitted = await resolve(conn, 8, FRIDAY)
        assert (omitted["deposit_required"], omitted["deposit_rule"]) == (False, "none")
        assert omitted["period"]["answer"] is False
        assert (await resolve(conn, 5, FRIDAY, CHRISTMAS_ID, True))[
            "blocked"
        ] == "period_party_too_small"
        assert (await resolve(conn, 21, FRIDAY, CHRISTMAS_ID, True))[
            "blocked"
        ] == "period_party_too_large"
        assert (await resolve(conn, 5, FRIDAY, purpose="christmas"))[
            "blocked"
        ] == "christmas_party_too_small"
        # Waived: no deposit, the accepted period still recorded.
        waived = await resolve(conn, 8, FRIDAY, purpose="christmas", waived=True)
        assert waived["deposit_rule"] == "waived" and waived["period"]["answer"] is True
        # Stale Christmas id after the period.
        assert (await resolve(conn, 8, date(2026, 12, 22), CHRISTMAS_ID, True))[
            "blocked"
        ] == "period_date_mismatch"

    async def test_an_unready_menu_and_the_kill_switch(self, conn: asyncpg.Connection) -> None:
        await scratch(conn)
        await activate_christmas(conn, menu=False)
        assert (await resolve(conn, 8, FRIDAY, purpose="christmas"))[
            "blocked"
        ] == "period_menu_not_ready"
        await conn.execute(
            "insert into booking_period_menu_items (period_id, course, name)"
            " values ($1::uuid, 'main', 'Roast turkey')",
            CHRISTMAS_ID,
        )
        await set_setting(conn, "booking_period_deposits_enabled", False)
        off = await resolve(conn, 8, FRIDAY, purpose="christmas")
        assert (off["deposit_required"], off["deposit_rule"], off["booking_type"]) == (
            False,
            "none",
            "christmas",
        )
        group = await resolve(conn, 16, FRIDAY, CHRISTMAS_ID, True)
        assert (group["deposit_amount"], group["deposit_rule"]) == (Decimal("160.00"), "group")
        assert (group["refund_cutoff_days"], group["refund_policy"]) == (7, REFUND_7)

    async def test_a_mothers_day_period_per_booking(self, conn: asyncpg.Connection) -> None:
        await scratch(conn)
        mothers_day = await add_mothers_day(conn)
        day = date(2027, 3, 14)
        two = await resolve(conn, 2, day, mothers_day, True)
        assert (two["deposit_amount"], two["deposit_rule"], two["deposit_basis"]) == (
            Decimal("25.00"),
            "period",
            "per_booking",
        )
        assert (two["deposit_rate"], two["refund_cutoff_days"]) == (Decimal("25.00"), 14)
        assert two["booking_type"] == "regular" and two["period"]["requires_preorder"] is False
        fifteen = await resolve(conn, 15, day, mothers_day, True)
        assert (fifteen["deposit_amount"], fifteen["deposit_rule"]) == (Decimal("150.00"), "group")
        assert fifteen["refund_cutoff_days"] == 14
        assert fifteen["refund_policy"].startswith("Full refund up to 14 days before")
        # Christmas on Mother's Day is not open.
        assert (await resolve(conn, 8, day, purpose="christmas"))["blocked"] == "christmas_not_open"

    async def test_hold_expiry_refunds_and_the_sentence(self, conn: asyncpg.Connection) -> None:
        created = datetime.fromisoformat("2026-12-03T08:25:47+00:00")
        start = datetime.fromisoformat("2026-12-11T19:00:00+00:00")
        assert await conn.fetchval(
            "select public.tb_deposit_hold_expiry($1, $2)", start, created
        ) == created + timedelta(hours=24)
        thursday = datetime.fromisoformat("2026-12-03T19:00:00+00:00")
        assert (
            await conn.fetchval("select public.tb_deposit_hold_expiry($1, $2)", thursday, created)
            == thursday
        )
        due = "select public.tb_seasonal_refund_due($1, $2, $3, $4)"
        booked = date(2026, 12, 18)
        assert await conn.fetchval(due, Decimal("80.00"), booked, 7, date(2026, 12, 11)) == Decimal(
            "80.00"
        )
        assert await conn.fetchval(due, Decimal("80.00"), booked, 7, date(2026, 12, 12)) == 0
        assert await conn.fetchval(due, Decimal("80.00"), booked, 0, date(2026, 11, 1)) == 0
        assert await conn.fetchval(due, Decimal("80.00"), booked, None, date(2026, 12, 1)) is None
        sentence = "select public.tb_refund_policy_sentence($1)"
        assert await conn.fetchval(sentence, 7) == REFUND_7
        assert await conn.fetchval(sentence, 0) == NOT_REFUNDABLE


@PUB
class TestReasonsAndMessages:
    async def test_the_mapping_and_the_messages_match_the_pubs(
        self, conn: asyncpg.Connection
    ) -> None:
        internal = [
            "no_table",
            "table_occupied",
            "table_private_block",
            "table_blocked",
            "table_communal",
            "table_held",
            "table_not_bookable",
            "too_large_for_table",
            "below_table_minimum",
            "not_accessible",
            "no_high_chair_here",
            "slot_full",
            "drinks_full",
            "outside_full",
            "outside_hours",
            "hours_not_configured",
            "in_past",
            "cut_off",
            "too_large_party",
            "invalid_purpose",
            "period_menu_not_ready",
            "whatever",
        ]
        for code in internal:
            ours, pubs = await pair(
                conn, "select public.tb_public_reason($1), public.public_booking_reason($1)", code
            )
            assert ours == pubs, code
        assert await conn.fetchval("select public.tb_public_reason('no_table')") == "tables_full"
        assert await conn.fetchval("select public.tb_public_reason('slot_full')") == "kitchen_full"
        assert await conn.fetchval("select public.tb_public_reason('cut_off')") == "too_late"
        # Ours also hides the API's private-booking code (the pub's maps it to unknown).
        assert (
            await conn.fetchval("select public.tb_public_reason('private_booking_blocked')")
            == "tables_full"
        )
        public = [
            "tables_full",
            "kitchen_full",
            "outside_full",
            "closed",
            "too_late",
            "too_large",
            "unknown",
            "nonsense",
        ]
        # The seeded settings, then none at all (the coded defaults): the same as the pub's.
        for _ in range(2):
            for reason in public:
                ours, pubs = await pair(
                    conn,
                    "select public.tb_public_message($1), public.public_booking_message($1)",
                    reason,
                )
                assert ours == pubs, reason
            await conn.execute("delete from system_settings where key like 'booking_message_%'")
        assert await conn.fetchval("select public.tb_public_message(null)") is None
        await set_setting(conn, "booking_message_kitchen_full", "  Busy kitchen, try 19:30.  ")
        assert (
            await conn.fetchval("select public.tb_public_message('kitchen_full')")
            == "Busy kitchen, try 19:30."
        )
        default = await conn.fetchval("select public.public_booking_message('unknown')")
        for unusable in ("   ", "x" * 201, "<b>Full</b>", 42):
            await set_setting(conn, "booking_message_closed", unusable)
            closed = await conn.fetchval("select public.tb_public_message('closed')")
            assert closed == "We are closed then. Have a look at our opening times for another day."
            assert closed != default
        await set_setting(conn, "booking_message_closed", "y" * 200)
        assert await conn.fetchval("select public.tb_public_message('closed')") == "y" * 200


# 2. Against the pub's functions -------------------------------------------------------------------

KITCHEN = {FRIDAY: (16 * 60, 21 * 60), SUNDAY: (13 * 60, 18 * 60)}
BAR = {FRIDAY: (16 * 60, 23 * 60), SUNDAY: (12 * 60, 20 * 60)}
PEAK = {FRIDAY: (18 * 60, 19 * 60 + 45), SUNDAY: (13 * 60, 14 * 60 + 30)}


def random_time(rng: random.Random, day: date, purpose: str) -> time:
    """A minute inside the kitchen's (food) or the pub's (drinks) hours, 30 minutes before close
    at the latest; mostly in the evening's peak, so that ceilings are reached."""
    opens, closes = (KITCHEN if purpose == "food" else BAR)[day]
    if rng.random() < 0.7:
        opens, closes = PEAK[day]
    minute = rng.randrange(opens, closes - 29)
    return time(minute // 60, minute % 60)


@PUB
class TestAgainstThePub:
    @pytest.mark.parametrize(
        ("seed", "day", "override"),
        [(1, FRIDAY, False), (2, SUNDAY, True), (3, FRIDAY, False)],
    )
    async def test_pacing_agrees_with_the_pubs_create(
        self, conn: asyncpg.Connection, seed: int, day: date, override: bool
    ) -> None:
        rng = random.Random(seed)
        customer = await scratch(conn)
        await huge_floor(conn)
        await set_setting(conn, "kitchen_pacing_enabled", True)
        if override:
            await conn.execute(
                "insert into special_hours (date, kitchen_pace_covers, kitchen_walk_in_reserve,"
                " opens, closes, kitchen_opens, kitchen_closes, schedule_config)"
                " select $1, 16, 2, opens, closes, kitchen_opens, kitchen_closes, schedule_config"
                " from business_hours_for_date($1)",
                day,
            )
            await set_setting(conn, "drinks_arrivals_ceiling", 25)
        if seed == 3:
            await set_setting(conn, "kitchen_pacing_window_minutes", 25)  # half-minute bounds
        outcomes: dict[str, int] = {}
        made: list[str] = []
        for step in range(120):
            purpose = "drinks" if rng.random() < 0.3 else "food"
            at = random_time(rng, day, purpose)
            party = rng.randint(1, 12)
            ours = await refusal(conn, day, at, party, purpose)
            result = await pub_create(conn, customer, day, at, party, purpose)
            pubs = result.get("reason", result["state"])
            outcomes[pubs] = outcomes.get(pubs, 0) + 1
            if pubs in ("slot_full", "drinks_full", "confirmed", "pending_payment"):
                expected = pubs if pubs in ("slot_full", "drinks_full") else None
                assert ours == expected, (step, day, at, party, purpose, result)
            if "table_booking_id" in result:
                made.append(result["table_booking_id"])
            # Now and then the floor changes as it does in service: a cancellation, a party
            # that has left, a size change inside 72 hours (committed stays).
            if made and step % 9 == 8:
                victim = rng.choice(made)
                change = rng.choice(
                    [
                        "status = 'cancelled', cancelled_at = now()",
                        "left_at = now()",
                        "party_size = greatest(1, party_size - 2)",
                        "committed_party_size = greatest(1, committed_party_size - 2)",
                    ]
                )
                await conn.execute(
                    f"update table_bookings set {change} where id = $1::uuid",  # noqa: S608
                    victim,
                )
        assert outcomes.get("confirmed", 0) > 20, outcomes
        assert outcomes.get("slot_full", 0) > 5, outcomes
        assert outcomes.get("drinks_full", 0) > 0, outcomes
        others = sum(
            n
            for k, n in outcomes.items()
            if k not in ("slot_full", "drinks_full", "confirmed", "pending_payment")
        )
        assert others <= 6, outcomes  # the pub's tables or hours decided: not compared
        # The load grid says what the refusal says, slot by slot.
        for row in await conn.fetch("select * from public.tb_pacing_load($1, now())", day):
            for party, purpose, covers, ceiling, reason in (
                (1, "food", row["food_covers"], row["food_ceiling"], "slot_full"),
                (4, "drinks", row["drinks_covers"], row["drinks_ceiling"], "drinks_full"),
            ):
                expected = reason if covers + party > ceiling else None
                assert await refusal(conn, day, row["slot_time"], party, purpose) == expected

    async def test_the_deposit_rule_agrees_with_the_pubs_resolver(
        self, conn: asyncpg.Connection
    ) -> None:
        """Inputs mapped as the pub's core maps them before it asks its resolver (schema.sql,
        create_table_booking_core_v06): christmas below 6 or above 20 raises there (ours:
        christmas_party_too_small/_large); a named period that is not the live one is
        period_date_mismatch; answer true with no live period period_not_available; christmas
        with no live Christmas-kind period is refused by the pub's seasonal type guard at the
        insert (ours: christmas_not_open); otherwise the resolver is asked with the live period's
        id and true when accepted (live and answer true, or christmas and a Christmas-kind
        period), else null and false, and the caller's waiver."""
        rng = random.Random(15)
        await scratch(conn)
        await activate_christmas(conn)
        mothers_day = await add_mothers_day(conn)
        days = [
            FRIDAY,
            date(2026, 12, 20),
            date(2026, 12, 22),
            date(2027, 3, 14),
            date(2027, 3, 20),
            date(2026, 11, 10),
        ]
        seen: dict[str, int] = {}
        for case in range(400):
            if case % 50 == 0:
                await set_setting(conn, "booking_period_deposits_enabled", rng.random() < 0.7)
                await conn.execute(
                    "update booking_period_menu_items set is_active = $1", rng.random() < 0.8
                )
            party = rng.randint(1, 20)
            day = rng.choice(days)
            answer = rng.choice([True, False, None])
            purpose = rng.choice(["food", "food", "christmas"])
            waived = rng.random() < 0.15
            live = await conn.fetchrow(
                "select id::text, period_kind from public.get_booking_period_for_date($1)", day
            )
            live_id = live["id"] if live else None
            named = rng.choice(["right", "stale", "none"])
            stale = mothers_day if live_id == CHRISTMAS_ID else CHRISTMAS_ID
            period_id = {"right": live_id, "stale": stale, "none": None}[named]

            ours = await resolve(conn, party, day, period_id, answer, purpose, waived)
            christmas = purpose == "christmas"
            expected: dict[str, Any]
            if christmas and not 6 <= party <= 20:
                code = "christmas_party_too_small" if party < 6 else "christmas_party_too_large"
                expected = {"blocked": code}
            elif period_id is not None and period_id != live_id:
                expected = {"blocked": "period_date_mismatch"}
            elif answer and live_id is None:
                expected = {"blocked": "period_not_available"}
            elif christmas and (live is None or live["period_kind"] != "christmas"):
                expected = {"blocked": "christmas_not_open"}
            else:
                accepted = live_id is not None and (bool(answer) or christmas)
                pub: dict[str, Any] = json.loads(
                    await conn.fetchval(
                        "select public.resolve_table_booking_deposit($1, $2, $3::uuid, $4, $5)",
                        party,
                        day,
                        live_id if accepted else None,
                        accepted,
                        waived,
                    ),
                    parse_float=Decimal,
                )
                if not pub["ok"]:
                    expected = {"blocked": pub["error_code"]}
                else:
                    expected = {
                        "blocked": None,
                        "deposit_required": pub["required"],
                        "deposit_amount": Decimal(pub["amount"]),
                        "deposit_rule": pub["rule"],
                        "deposit_basis": pub["basis"],
                        "deposit_rate": None if pub["rate"] is None else Decimal(pub["rate"]),
                        "refund_cutoff_days": pub["refund_cutoff_days"],
                        "refund_policy": pub["refund_policy"],
                    }
            got = {k: ours.get(k) for k in expected}
            if ours.get("deposit_amount") is not None:
                got["deposit_amount"] = Decimal(ours["deposit_amount"])
            assert got == expected, (case, party, day, period_id, answer, purpose, waived, ours)
            key = str(expected["blocked"] or expected["deposit_rule"])
            seen[key] = seen.get(key, 0) + 1
        for outcome in (
            "none",
            "group",
            "period",
            "waived",
            "period_date_mismatch",
            "period_not_available",
            "christmas_not_open",
            "period_party_too_small",
            "period_menu_not_ready",
        ):
            assert seen.get(outcome, 0) > 0, seen


# 3. On a fresh database ---------------------------------------------------------------------------


@FRESH
class TestOnAFreshDatabase:
    async def test_a_pacing_refusal_and_a_group_deposit(self, conn: asyncpg.Connection) -> None:
        await set_setting(conn, "kitchen_pacing_enabled", True)
        await conn.execute(
            "insert into table_bookings (booking_date, booking_time, party_size,"
            " committed_party_size, booking_type, status, booking_purpose)"
            " values ($1, '19:00', 12, 12, 'regular', 'confirmed', 'food'),"
            " ($1, '19:05', 6, 6, 'regular', 'cancelled', 'food')",
            FRIDAY,
        )
        assert await refusal(conn, FRIDAY, time(19, 10), 8) == "slot_full"
        assert await refusal(conn, FRIDAY, time(19, 10), 7) is None
        assert await refusal(conn, FRIDAY, time(19, 15), 8) == "slot_full"  # 19:00-19:29
        assert await refusal(conn, FRIDAY, time(19, 16), 8) is None  # 19:01-19:30
        group = await resolve(conn, 15, FRIDAY)
        assert (group["deposit_amount"], group["deposit_rule"], group["period"]) == (
            Decimal("150.00"),
            "group",
            None,
        )
        # The stand-ins hold the pub's shape: a period, its snapshot on a booking.
        period = await conn.fetchval(
            "insert into booking_periods (code, period_kind, name, starts_on, ends_on,"
            " guest_question, deposit_basis, deposit_amount, is_active)"
            " values ('new-year-2027', 'new_year', 'New Year', '2027-01-01', '2027-01-02',"
            " 'Is this a New Year booking?', 'per_head', 5, true) returning id::text"
        )
        accepted = await resolve(conn, 4, date(2027, 1, 1), period, True)
        assert (accepted["deposit_amount"], accepted["deposit_rule"]) == (
            Decimal("20.00"),
            "period",
        )
        await conn.execute(
            "insert into table_bookings (booking_date, booking_time, party_size,"
            " committed_party_size, booking_type, booking_period_id, deposit_rule,"
            " deposit_basis, deposit_rate, deposit_refund_cutoff_days)"
            " values ('2027-01-01', '19:00', 4, 4, 'regular', $1::uuid, 'period', 'per_head',"
            " 5, 7)",
            period,
        )
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute(
                "insert into table_bookings (booking_date, booking_time, party_size,"
                " committed_party_size, booking_type, deposit_rule)"
                " values ('2027-01-01', '19:00', 4, 4, 'regular', 'bogus')"
            )
        assert uuid.UUID(period)
