"""Availability for one date, and the Sunday lunch menu: reads, one database call each."""

from __future__ import annotations

import json
from collections import OrderedDict
from datetime import date, datetime
from typing import Any, Literal

from app.db.port import Database

BookingType = Literal["regular", "sunday_lunch"]


class AnswerCache:
    """Availability answers this process has been given, each with its stamp, for reuse.

    An answer is sent again only when the database says its stamp still holds
    (``tb_availability_stamp``: the days it read, the minute, and every row of the rules and of
    those days' bookings as they are now), so a reused answer is the one the engine would give;
    only the engine's work is saved, never a check. The newest ``size`` answers are kept.
    """

    def __init__(self, size: int = 2048) -> None:
        self._size = size
        self._answers: OrderedDict[tuple[str, ...], tuple[str, str]] = OrderedDict()
        #: Answers reused and answers computed: what the cache saves (tests read them).
        self.reused = 0
        self.computed = 0

    def get(self, key: tuple[str, ...]) -> tuple[str, str] | None:
        found = self._answers.get(key)
        if found is not None:
            self._answers.move_to_end(key)
        return found

    def put(self, key: tuple[str, ...], stamp: str, data: str) -> None:
        self._answers[key] = (stamp, data)
        self._answers.move_to_end(key)
        while len(self._answers) > self._size:
            self._answers.popitem(last=False)


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
    answers: AnswerCache | None = None,
) -> tuple[dict[str, Any] | None, str]:
    """The key check, its rate counting and the availability in one round trip: ``(auth, data)``.

    ``auth`` is what ``api_key_authenticate`` returns (None for no such key). ``data`` is the
    availability as JSON text, built by the database and sent on as it is (``"null"`` when there
    is no key or a limit refused the request). With ``answers``, an answer kept there is sent
    again when the database finds its stamp unchanged.
    """
    key = (
        day.isoformat(),
        str(party_size),
        booking_type,
        json.dumps(options or {}, sort_keys=True),
    )
    kept = answers.get(key) if answers is not None else None
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
            "p_known": kept[0] if kept is not None else None,
        },
    )
    auth, _, rest = answer.partition("\n")
    stamp, _, data = rest.partition("\n")
    if answers is not None:
        if stamp == "=" and kept is not None:
            answers.reused += 1
            return json.loads(auth), kept[1]
        if stamp:
            answers.computed += 1
            answers.put(key, stamp, data)
    return json.loads(auth), data


async def sunday_lunch_menu(db: Database, *, day: date | None, now: datetime) -> dict[str, Any]:
    """The menu for ``day``, or (None) for the next Sunday that can still be ordered."""
    result: dict[str, Any] = await db.rpc(
        "sunday_lunch_menu",
        {"p_date": day.isoformat() if day else None, "p_now": now.isoformat()},
    )
    return result
