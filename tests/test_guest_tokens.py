"""Guest links (the pub's guest_tokens): issued per booking and action, stored as a hash only,
opened only for their own action, refused once used or expired."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from app.db.postgres import PostgresDatabase
from app.services import tokens
from tests.conftest import FakeClock, create_booking, regular_body

pytestmark = pytest.mark.parametrize("database_kind", ["fresh", "pub"], indirect=True)


async def test_a_link_opens_for_its_action_until_used_or_expired(
    client: httpx.AsyncClient,
    key: dict[str, str],
    db: PostgresDatabase,
    conn: asyncpg.Connection,
    clock: FakeClock,
) -> None:
    booking: dict[str, Any] = await create_booking(client, key, regular_body())
    now = clock.now
    raw = await tokens.issue_guest_token(
        db, booking_id=booking["booking_id"], action="manage", expires_at=now + timedelta(days=2)
    )
    row = await conn.fetchrow(
        "select g.hashed_token, g.customer_id = b.customer_id as same_guest"
        " from guest_tokens g join table_bookings b on b.id = g.table_booking_id"
        " where g.table_booking_id = $1::uuid",
        booking["booking_id"],
    )
    assert row is not None and row["same_guest"]
    assert row["hashed_token"] == hashlib.sha256(raw.encode()).hexdigest() != raw

    opened = await tokens.open_guest_token(db, raw, action="manage", now=now)
    assert opened["state"] == "ok" and opened["booking_id"] == booking["booking_id"]
    assert (await tokens.open_guest_token(db, raw, action="payment", now=now)) == {
        "state": "invalid_token"
    }
    assert (await tokens.open_guest_token(db, raw + "x", action="manage", now=now)) == {
        "state": "invalid_token"
    }
    later = now + timedelta(days=2)
    assert (await tokens.open_guest_token(db, raw, action="manage", now=later))[
        "state"
    ] == "token_expired"

    assert await tokens.consume_guest_token(db, opened["token_id"], now=now)
    assert not await tokens.consume_guest_token(db, opened["token_id"], now=now)
    assert (await tokens.open_guest_token(db, raw, action="manage", now=now))[
        "state"
    ] == "token_used"


async def test_a_link_for_an_unknown_booking_is_refused(
    db: PostgresDatabase, clock: FakeClock
) -> None:
    from app.errors import NotFound

    with pytest.raises(NotFound):
        await tokens.issue_guest_token(
            db,
            booking_id="00000000-0000-0000-0000-000000000000",
            action="payment",
            expires_at=clock.now,
        )
