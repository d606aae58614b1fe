"""POST /management/api/table-bookings, the pub's 2026 create (pub-api-2026.md sections 5, 10),
as the pub's website sends it (5.9), on a fresh database and the pub's."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import FakeClock, envelope_error
from tests.pub_floor import set_setting

pytestmark = pytest.mark.parametrize("database_kind", ["fresh", "pub"], indirect=True)

CREATE = "/management/api/table-bookings"
FRIDAY = "2026-12-11"
WEBSITE_SCOPES = ["create:bookings", "payments:capture"]
#: What the website reads of a create's answer (5.9), all of them always present (5.6).
DATA_KEYS = {
    "state",
    "table_booking_id",
    "booking_reference",
    "reason",
    "blocked_reason",
    "next_step_url",
    "hold_expires_at",
    "table_name",
    "booking_id",
    "deposit_amount",
    "fallback_payment_url",
    "notification_channel",
    "high_chairs_granted",
    "is_outside_seating",
    "preorder",
}
_KEYS = iter(range(10_000))


async def two_eights(conn: asyncpg.Connection) -> None:
    """Only two joined tables of 8 take bookings (the pub's own tables are set aside)."""
    await conn.execute("update tables set is_bookable = false")
    ids = [
        await conn.fetchval(
            "insert into tables (table_number, name, capacity, priority, bar_priority)"
            " values ($1, $2, 8, 1, 1) returning id",
            number,
            f"Test {number}",
        )
        for number in ("T81", "T82")
    ]
    low, high = sorted(ids)
    await conn.execute(
        "insert into table_join_links (table_id, join_table_id) values ($1, $2)", low, high
    )


@pytest.fixture
async def floor(conn: asyncpg.Connection) -> None:
    await two_eights(conn)


@pytest.fixture
async def website(make_key: Any) -> dict[str, str]:
    """The website's key: the pub's two scopes for it."""
    headers: dict[str, str] = await make_key(WEBSITE_SCOPES)
    return headers


def website_body(party_size: int = 4, time: str = "19:00", **extra: Any) -> dict[str, Any]:
    """The flat body the website's proxy posts (5.9): booking_type and skip_customer_sms added."""
    return {
        "phone": "07700 900123",
        "first_name": "Ann",
        "last_name": "Lee",
        "email": "ann@example.com",
        "date": FRIDAY,
        "time": time,
        "party_size": party_size,
        "purpose": "food",
        "notes": "",
        "dietary_requirements": ["vegetarian"],
        "allergies": ["peanuts"],
        "high_chair_count": 0,
        "outside_seating": False,
        "requires_accessible_table": False,
        "communication_consent": {
            "service_contact_notice_shown": True,
            "marketing_email_opt_in": True,
            "consent_text_version": "guest-comms-consent-v5",
        },
        "booking_type": "regular",
        "skip_customer_sms": True,
        **extra,
    }


async def post(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    body: Any,
    key: str | None = None,
    **more: str,
) -> httpx.Response:
    idempotency = {"Idempotency-Key": key or f"tbl_test_{next(_KEYS)}"}
    return await client.post(CREATE, json=body, headers={**headers, **idempotency, **more})


async def counts(conn: asyncpg.Connection) -> tuple[int, int, int, int]:
    return (
        await conn.fetchval("select count(*) from table_bookings"),
        await conn.fetchval("select count(*) from idempotency_keys"),
        await conn.fetchval("select count(*) from guest_tokens"),
        await conn.fetchval("select count(*) from jobs"),
    )


class TestTheWebsitesCreate:
    async def test_a_table_for_four_is_confirmed(
        self,
        client: httpx.AsyncClient,
        website: dict[str, str],
        floor: None,
        conn: asyncpg.Connection,
    ) -> None:
        response = await post(client, website, website_body())

        assert response.status_code == 201, response.text
        body = response.json()
        assert body["success"] is True
        assert body["meta"] == {"status_code": 201, "sms": None}
        data = body["data"]
        assert set(data) == DATA_KEYS
        assert data["state"] == "confirmed"
        assert re.fullmatch(r"TB-[0-9A-Z-]{4,16}", data["booking_reference"])
        assert data["table_name"] == "Test T81"
        assert data["notification_channel"] == "email"
        assert (data["high_chairs_granted"], data["is_outside_seating"]) == (0, False)
        for absent in ("reason", "blocked_reason", "next_step_url", "fallback_payment_url"):
            assert data[absent] is None, absent
        assert (data["booking_id"], data["deposit_amount"], data["hold_expires_at"]) == (
            None,
            None,
            None,
        )
        assert data["preorder"] is None
        row = await conn.fetchrow(
            "select b.status::text, b.source, b.dietary_requirements, b.allergies,"
            " b.booking_purpose, c.mobile_e164, c.marketing_email_opt_in"
            " from table_bookings b join customers c on c.id = b.customer_id"
            " where b.id = $1::uuid",
            data["table_booking_id"],
        )
        assert row is not None
        assert tuple(row) == (
            "confirmed",
            "brand_site",
            ["vegetarian"],
            ["peanuts"],
            "food",
            "+447700900123",
            True,
        )
        # A confirmed booking is announced whatever skip_customer_sms says (5.5).
        events = await conn.fetch(
            "select payload->>'event' as event from jobs where payload->>'table_booking_id' = $1",
            data["table_booking_id"],
        )
        assert [e["event"] for e in events] == ["created"]

    async def test_sixteen_wait_for_their_deposit_with_a_payment_link(
        self,
        client: httpx.AsyncClient,
        website: dict[str, str],
        floor: None,
        conn: asyncpg.Connection,
        clock: FakeClock,
    ) -> None:
        response = await post(client, website, website_body(16))

        assert response.status_code == 201, response.text
        data = response.json()["data"]
        assert data["state"] == "pending_payment"
        assert data["booking_id"] == data["table_booking_id"]
        assert data["deposit_amount"] == 160
        assert isinstance(data["deposit_amount"], float | int)
        assert data["table_name"] == "Test T81 + Test T82"
        assert data["notification_channel"] is None
        match = re.fullmatch(
            r"http://testserver/g/([A-Za-z0-9_-]{43})/table-payment", data["next_step_url"]
        )
        assert match, data["next_step_url"]
        assert data["fallback_payment_url"] == data["next_step_url"]
        token = match.group(1)
        stored = await conn.fetchrow(
            "select action_type, expires_at, table_booking_id::text from guest_tokens"
            " where hashed_token = $1",
            hashlib.sha256(token.encode()).hexdigest(),
        )
        assert stored is not None
        assert stored["action_type"] == "payment"
        assert stored["table_booking_id"] == data["booking_id"]
        hold = await conn.fetchval(
            "select hold_expires_at from table_bookings where id = $1::uuid", data["booking_id"]
        )
        assert stored["expires_at"] == hold
        assert data["hold_expires_at"] is not None
        # skip_customer_sms: nothing at create, neither to the guest nor to the manager.
        assert (
            await conn.fetchval(
                "select count(*) from jobs where payload->>'table_booking_id' = $1",
                data["booking_id"],
            )
            == 0
        )
        # The token is not kept usable in the stored answer.
        stored_answer = await conn.fetchval("select response::text from idempotency_keys")
        assert token not in stored_answer

    async def test_without_skip_the_manager_hears_at_create(
        self,
        client: httpx.AsyncClient,
        website: dict[str, str],
        floor: None,
        conn: asyncpg.Connection,
    ) -> None:
        response = await post(client, website, website_body(16, skip_customer_sms=False))

        data = response.json()["data"]
        assert data["state"] == "pending_payment"
        events = await conn.fetch(
            "select payload->>'event' as event from jobs where payload->>'table_booking_id' = $1",
            data["booking_id"],
        )
        assert [e["event"] for e in events] == ["created"]

    async def test_a_full_slot_is_blocked_in_a_200(
        self,
        client: httpx.AsyncClient,
        website: dict[str, str],
        floor: None,
        conn: asyncpg.Connection,
    ) -> None:
        assert (await post(client, website, website_body(16))).status_code == 201
        before = await counts(conn)

        response = await post(
            client, website, website_body(4, phone="07700 900456"), key="tbl_full"
        )

        assert response.status_code == 200, response.text
        body = response.json()
        assert body["meta"] == {"status_code": 200, "sms": None}
        data = body["data"]
        assert set(data) == DATA_KEYS
        assert (data["state"], data["reason"], data["blocked_reason"]) == (
            "blocked",
            "no_table",
            "no_table",
        )
        assert all(data[k] is None for k in DATA_KEYS - {"state", "reason", "blocked_reason"})
        bookings, keys, tokens, jobs = await counts(conn)
        assert (bookings, tokens, jobs) == before[:1] + before[2:]
        assert keys == before[1] + 1  # the refusal is kept under its key

        # The same key and body again: the same refusal, from the store.
        again = await post(client, website, website_body(4, phone="07700 900456"), key="tbl_full")
        assert (again.status_code, again.json()) == (200, body)
        assert await counts(conn) == (bookings, keys, tokens, jobs)

    async def test_outside_the_kitchens_hours_is_blocked(
        self, client: httpx.AsyncClient, website: dict[str, str], floor: None
    ) -> None:
        response = await post(client, website, website_body(4, time="09:00"))

        assert response.status_code == 200, response.text
        data = response.json()["data"]
        assert (data["state"], data["reason"], data["blocked_reason"]) == (
            "blocked",
            "outside_hours",
            "outside_hours",
        )


class TestIdempotency:
    async def test_same_key_same_body_replays_without_writing(
        self,
        client: httpx.AsyncClient,
        website: dict[str, str],
        floor: None,
        conn: asyncpg.Connection,
    ) -> None:
        first = await post(client, website, website_body(16), key="tbl_same")
        before = await counts(conn)
        # skip_customer_sms and booking_type do not vary the request (5.3).
        again = await post(
            client, website, {**website_body(16), "skip_customer_sms": False}, key="tbl_same"
        )

        assert again.status_code == 201
        assert again.json() == first.json()
        assert await counts(conn) == before

    async def test_same_key_other_body_is_a_conflict(
        self,
        client: httpx.AsyncClient,
        website: dict[str, str],
        floor: None,
        conn: asyncpg.Connection,
    ) -> None:
        await post(client, website, website_body(4), key="tbl_conflict")
        before = await counts(conn)

        response = await post(client, website, website_body(5), key="tbl_conflict")

        assert response.status_code == 409
        error = envelope_error(response)
        assert error["code"] == "IDEMPOTENCY_KEY_CONFLICT"
        assert error["message"] == "Idempotency key already used with a different request payload"
        assert await counts(conn) == before

    async def test_a_claim_left_processing_is_in_progress(
        self,
        client: httpx.AsyncClient,
        website: dict[str, str],
        floor: None,
        conn: asyncpg.Connection,
        clock: FakeClock,
    ) -> None:
        body = website_body(4)
        await post(client, website, body, key="tbl_busy")
        await conn.execute(
            "update idempotency_keys set response = jsonb_build_object('state', 'processing',"
            " 'claimed_at', $1::timestamptz) where key = 'tbl_busy'",
            clock.now,
        )

        response = await post(client, website, body, key="tbl_busy")

        assert response.status_code == 409
        assert envelope_error(response)["code"] == "IDEMPOTENCY_KEY_IN_PROGRESS"

    async def test_a_key_is_required_and_failures_keep_nothing(
        self,
        client: httpx.AsyncClient,
        website: dict[str, str],
        floor: None,
        conn: asyncpg.Connection,
    ) -> None:
        before = await counts(conn)
        missing = await client.post(CREATE, json=website_body(), headers=website)
        blank = await client.post(
            CREATE, json=website_body(), headers={**website, "Idempotency-Key": "  "}
        )
        bad_phone = await post(client, website, website_body(phone="not a phone"), key="tbl_p")

        for response in (missing, blank):
            assert response.status_code == 400
            error = envelope_error(response)
            assert (error["code"], error["message"]) == (
                "IDEMPOTENCY_KEY_REQUIRED",
                "Missing Idempotency-Key header",
            )
        assert bad_phone.status_code == 400
        error = envelope_error(bad_phone)
        assert (error["code"], error["message"]) == (
            "VALIDATION_ERROR",
            "Please enter a valid phone number",
        )
        assert await counts(conn) == before
        # Nothing was kept under the key: the same key books once the phone is right.
        fixed = await post(client, website, website_body(), key="tbl_p")
        assert fixed.status_code == 201

    async def test_bad_bodies_are_400s(
        self, client: httpx.AsyncClient, website: dict[str, str], floor: None
    ) -> None:
        not_json = await client.post(
            CREATE,
            content=b"{not json",
            headers={**website, "Idempotency-Key": "k1", "Content-Type": "application/json"},
        )
        assert envelope_error(not_json)["message"] == "Invalid JSON body"
        strict = await post(
            client,
            website,
            website_body(communication_consent={"marketing_sms_opt_in": True, "extra": 1}),
        )
        assert strict.status_code == 400
        assert envelope_error(strict)["code"] == "VALIDATION_ERROR"
        too_many = await post(client, website, website_body(21))
        assert too_many.status_code == 400
        for email in ("", "ann\u0000@example.com", "not an email"):
            bad_email = await post(client, website, website_body(email=email))
            assert bad_email.status_code == 400, email
            assert envelope_error(bad_email)["message"] == "email: Value error, Invalid email"
        # Unknown keys are dropped, not refused.
        dropped = await post(client, website, website_body(sunday_lunch=True, fixture_x=1))
        assert dropped.status_code == 201, dropped.text


class TestWhoMayCreate:
    async def test_no_key_is_401_and_a_key_without_the_scope_403(
        self, client: httpx.AsyncClient, make_key: Any, floor: None
    ) -> None:
        anonymous = await client.post(CREATE, json=website_body(), headers={"Idempotency-Key": "a"})
        assert anonymous.status_code == 401
        error = envelope_error(anonymous)
        assert (error["code"], error["message"]) == ("UNAUTHORIZED", "Invalid or missing API key")
        reader = await make_key(["read:table_bookings"])
        forbidden = await post(client, reader, website_body())
        assert forbidden.status_code == 403
        error = envelope_error(forbidden)
        assert (error["code"], error["message"]) == ("FORBIDDEN", "Insufficient permissions")


class TestReplayOnly:
    async def test_the_probe_replays_or_says_not_found_and_never_books(
        self,
        client: httpx.AsyncClient,
        website: dict[str, str],
        floor: None,
        conn: asyncpg.Connection,
    ) -> None:
        probe = {"X-Idempotency-Replay-Only": "true"}
        body = website_body(16)
        before = await counts(conn)

        unknown = await post(client, website, {"replay_request": body}, key="tbl_probe", **probe)

        assert unknown.status_code == 404
        assert envelope_error(unknown)["code"] == "IDEMPOTENCY_KEY_NOT_FOUND"
        assert await counts(conn) == before
        made = await post(client, website, body, key="tbl_probe")
        replayed = await post(client, website, {"replay_request": body}, key="tbl_probe", **probe)
        assert (replayed.status_code, replayed.json()) == (201, made.json())
        other = await post(
            client, website, {"replay_request": website_body(15)}, key="tbl_probe", **probe
        )
        assert envelope_error(other)["code"] == "IDEMPOTENCY_KEY_CONFLICT"


class TestPhonesAndConsent:
    async def test_the_per_phone_limit_answers_in_the_pubs_words(
        self, limited_app: Any, make_key: Any, floor: None, conn: asyncpg.Connection
    ) -> None:
        website = await make_key(WEBSITE_SCOPES)
        async with limited_app(create_limit_per_phone_per_hour=1) as client:
            assert (await post(client, website, website_body())).status_code == 201
            before = await counts(conn)
            response = await post(client, website, website_body(time="19:30"))

        assert response.status_code == 429
        error = envelope_error(response)
        assert (error["code"], error["message"]) == (
            "RATE_LIMIT_EXCEEDED",
            "Too many booking attempts for this phone number. Please try again later or call "
            "us on 01753 682707.",
        )
        assert await counts(conn) == before

    async def test_a_national_number_takes_the_default_country_code(
        self,
        client: httpx.AsyncClient,
        website: dict[str, str],
        floor: None,
        conn: asyncpg.Connection,
    ) -> None:
        body = website_body(phone="020 7946 0958", default_country_code="44")
        irish = website_body(phone="085 123 4567", default_country_code="353", time="19:30")

        made = (await post(client, website, body)).json()["data"]
        abroad = (await post(client, website, irish)).json()["data"]

        phones = await conn.fetch(
            "select c.mobile_e164 from table_bookings b join customers c on c.id = b.customer_id"
            " where b.id = any($1::uuid[]) order by b.booking_time",
            [made["table_booking_id"], abroad["table_booking_id"]],
        )
        assert [p["mobile_e164"] for p in phones] == ["+442079460958", "+353851234567"]

    async def test_consent_is_recorded_where_the_pub_keeps_it(
        self,
        client: httpx.AsyncClient,
        website: dict[str, str],
        floor: None,
        conn: asyncpg.Connection,
        database_kind: str,
    ) -> None:
        consent = {"marketing_sms_opt_in": True, "consent_text_version": "guest-comms-consent-v6"}
        made = (await post(client, website, website_body(communication_consent=consent))).json()

        customer = await conn.fetchrow(
            "select c.id, c.marketing_sms_opt_in, c.marketing_email_opt_in, c.sms_opt_in"
            " from table_bookings b join customers c on c.id = b.customer_id"
            " where b.id = $1::uuid",
            made["data"]["table_booking_id"],
        )
        assert customer is not None
        assert (customer["marketing_sms_opt_in"], customer["marketing_email_opt_in"]) == (
            True,
            False,
        )
        assert customer["sms_opt_in"] is True
        if database_kind == "pub":
            rows = await conn.fetch(
                "select channel, purpose, status, source, consent_text_version"
                " from customer_consents where customer_id = $1 and related_entity_id = $2"
                " order by channel, purpose",
                customer["id"],
                made["data"]["table_booking_id"],
            )
            assert [tuple(r) for r in rows] == [
                ("sms", "marketing", "opted_in", "public_table_booking", "guest-comms-consent-v6"),
                (
                    "sms",
                    "service",
                    "opted_in",
                    "public_table_booking",
                    "anchor-table-bookings-sms-v1",
                ),
            ]


class TestPreorder:
    async def period_with_menu(self, conn: asyncpg.Connection) -> dict[str, str]:
        period = await conn.fetchval(
            "insert into booking_periods (code, period_kind, name, starts_on, ends_on,"
            " guest_question, requires_preorder, deposit_basis, is_active)"
            " values ('test-feast', 'other', 'Test feast', $1::text::date, $1::text::date,"
            " 'Joining the feast?', true, 'none', true) returning id::text",
            FRIDAY,
        )
        ids = {"period": period}
        for course, name in (("starter", "Soup"), ("main", "Roast"), ("addon", "Pigs")):
            ids[name] = await conn.fetchval(
                "insert into booking_period_menu_items (period_id, course, name, price_gbp)"
                " values ($1::uuid, $2, $3, 4.50) returning id::text",
                period,
                course,
                name,
            )
        return ids

    async def test_seats_are_saved_in_order_and_a_bad_dish_saves_nothing(
        self,
        client: httpx.AsyncClient,
        website: dict[str, str],
        floor: None,
        conn: asyncpg.Connection,
    ) -> None:
        menu = await self.period_with_menu(conn)
        seats = [
            {
                "guest_name": "Gran",
                "starter_menu_item_id": menu["Soup"],
                "main_menu_item_id": menu["Roast"],
                "addon_menu_item_ids": [menu["Pigs"]] * 2,
            },
            {"guest_name": "Tom", "main_menu_item_id": menu["Roast"]},
        ]
        accepted: dict[str, Any] = {
            "booking_period_id": menu["period"],
            "booking_period_answer": True,
        }

        made = await post(client, website, website_body(3, preorder=seats, **accepted))
        wrong = await post(
            client,
            website,
            website_body(
                3,
                time="19:30",
                phone="07700 900456",
                preorder=[{"starter_menu_item_id": menu["Roast"]}],
                **accepted,
            ),
        )

        assert made.status_code == 201, made.text
        data = made.json()["data"]
        assert data["preorder"] == {
            "requested_covers": 2,
            "saved_covers": 2,
            "saved": True,
            "error": None,
        }
        rows = await conn.fetch(
            "select c.ordinal, c.guest_name, coalesce(string_agg(s.item_name || ':' || s.course,"
            " ',' order by s.course), '') as dishes"
            " from booking_preorder_covers c left join booking_preorder_selections s"
            " on s.cover_id = c.id where c.table_booking_id = $1::uuid"
            " group by c.ordinal, c.guest_name order by c.ordinal",
            data["table_booking_id"],
        )
        assert [tuple(r) for r in rows] == [
            (1, "Gran", "Pigs:addon,Roast:main,Soup:starter"),
            (2, "Tom", "Roast:main"),
            (3, None, ""),
        ]
        assert wrong.status_code == 201, wrong.text
        assert wrong.json()["data"]["preorder"] == {
            "requested_covers": 1,
            "saved_covers": 0,
            "saved": False,
            "error": "invalid_menu_item",
        }
        too_many = await post(
            client,
            website,
            website_body(1, time="17:00", phone="07700 900789", preorder=seats, **accepted),
        )
        assert too_many.json()["data"]["preorder"]["error"] == "too_many_covers"


async def test_the_websites_one_key_is_not_held_to_a_keys_unpaid_holds(
    client: httpx.AsyncClient, make_key: Any, conn: asyncpg.Connection
) -> None:
    """Every guest of the website books under its one key: a key's cap on bookings awaiting
    their deposit (issue 14) would refuse the eleventh group of the day, so it is not applied
    to the website's bookings; each guest is still held to the cap per phone."""
    await two_eights(conn)
    await set_setting(conn, "sunday_lunch_unpaid_holds_per_client", 1)
    website = await make_key(WEBSITE_SCOPES)
    first = await post(client, website, website_body(16))
    second = await post(
        client, website, {**website_body(16), "date": "2026-12-18", "phone": "07700 900124"}
    )
    assert [first.status_code, second.status_code] == [201, 201], second.text
    assert second.json()["data"]["state"] == "pending_payment"
