"""Availability for one date, and the Sunday lunch menu: reads, one database call each."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any, Literal

from app.db.port import Database

BookingType = Literal["regular", "sunday_lunch"]


async def check_availability_for_key(
    db: Database,
    *,
    key_hash: str,
    limits: list[dict[str, Any]],
    day: date,
    party_size: int,
    booking_type: BookingType,
    now: datetime,
    options: dict[str, object] | None = None,
) -> tuple[dict[str, Any] | None, str]:
    """The key check, its rate counting and the availability in one round trip: ``(auth, data)``.

    ``auth`` is what ``api_key_authenticate`` returns (None for no such key). ``data`` is the
    availability as JSON text, built by the database and sent on as it is (``"null"`` when there
    is no key or a limit refused the request).
    """
    answer: str = await db.rpc(
        "table_booking_availability_for_key",
        {
            "p_key_hash": key_hash,
            "p_now": now.isoformat(),
            "p_limits": limits,
            "p_date": day.isoformat(),
            "p_party_size": party_size,
            "p_booking_type": booking_type,
            "p_options": options or {},
        },
    )
    auth, _, data = answer.partition("\n")
    return json.loads(auth), data


async def sunday_lunch_menu(db: Database, *, day: date | None, now: datetime) -> dict[str, Any]:
    """The menu for ``day``, or (None) for the next Sunday that can still be ordered."""
    result: dict[str, Any] = await db.rpc(
        "sunday_lunch_menu",
        {"p_date": day.isoformat() if day else None, "p_now": now.isoformat()},
    )
    return result
