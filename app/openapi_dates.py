"""The API documents' example dates, kept ahead of today.

The examples in :mod:`app.openapi_docs` are written as of Tuesday 24 November 2026 (a Friday
evening table on the 27th, Sunday lunch on the 29th, ...). Served as they are, they would pass
into the past, and Swagger's *Try it out*, pre-filled with them, would only ever be told
``IN_PAST``. So the document is served with every example date moved on by whole weeks to the
first such week that does not start before today: weekdays stay (a Friday stays a Friday, the
Saturday cut-off a Saturday), and every example booking is ahead. Christmas Day is stepped over
(the pub is closed). Only dates near the written ones move (not an API version such as
Twilio's ``2010-04-01``); times keep their London wall clock across a clock change.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")
#: The day the examples are written for (the test suite's clock).
WRITTEN_FOR = date(2026, 11, 24)
#: Dates further than this from WRITTEN_FOR are not example dates and never move.
NEAR = timedelta(days=60)

_ISO = re.compile(
    r"(?<![\d-])(\d{4})-(\d{2})-(\d{2})"
    r"(?:T(\d{2})(?::(\d{2})(?::(\d{2}))?)?)?"
    r"(Z|[+-]\d{2}:\d{2})?(?![\d-])"
)
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_WORDS = re.compile(rf"\b({'|'.join(_DAYS)}) (\d{{1,2}}) ({'|'.join(_MONTHS)})\b")


def weeks_ahead(today: date) -> int:
    """Whole weeks to move the examples so that their week does not start before ``today``."""
    return max(0, math.ceil((today - WRITTEN_FOR).days / 7))


def kept_ahead(schema: dict[str, Any], *, today: date) -> dict[str, Any]:
    """``schema`` with the dates in its examples moved on (a copy; ``schema`` is not changed)."""
    weeks = weeks_ahead(today)
    if weeks == 0:
        return schema
    days = set(_example_dates(schema))
    while any(_christmas_day(d + timedelta(weeks=weeks)) for d in days):
        weeks += 1  # the pub is closed
    moved: dict[str, Any] = _walk(schema, timedelta(weeks=weeks), in_example=False)
    return moved


def _christmas_day(day: date) -> bool:
    return (day.month, day.day) == (12, 25)


def _example_dates(node: Any, in_example: bool = False) -> list[date]:
    found: list[date] = []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _example_dates(value, in_example or key in ("example", "examples"))
    elif isinstance(node, list):
        for value in node:
            found += _example_dates(value, in_example)
    elif in_example and isinstance(node, str):
        found += [d for d in map(_iso_date, _ISO.finditer(node)) if _near(d)]
        found += [d for d in map(_words_date, _WORDS.finditer(node)) if d is not None]
    return found


def _walk(node: Any, shift: timedelta, *, in_example: bool) -> Any:
    # A new tree, not an edit in place: the document shares objects between its examples, and
    # each must move once.
    if isinstance(node, dict):
        return {
            key: _walk(value, shift, in_example=in_example or key in ("example", "examples"))
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_walk(value, shift, in_example=in_example) for value in node]
    if in_example and isinstance(node, str):
        moved = _ISO.sub(lambda m: _moved(m, shift), node)
        return _WORDS.sub(lambda m: _moved_words(m, shift), moved)
    return node


def _iso_date(match: re.Match[str]) -> date:
    year, month, day = (int(g) for g in match.group(1, 2, 3))
    try:
        return date(year, month, day)
    except ValueError:
        return date.min


def _near(day: date) -> bool:
    return abs(day - WRITTEN_FOR) <= NEAR


def _moved(match: re.Match[str], shift: timedelta) -> str:
    day = _iso_date(match)
    if not _near(day):
        return match.group(0)
    hour, minute, second, offset = match.group(4, 5, 6, 7)
    if offset is None:  # a date, or a London wall-clock time: the clock reading stays
        return (day + shift).isoformat() + match.group(0)[10:]
    # An instant: the same London wall clock on the new day, written in the same offset style.
    at = datetime(
        day.year,
        day.month,
        day.day,
        int(hour or 0),
        int(minute or 0),
        int(second or 0),
        tzinfo=UTC if offset == "Z" else datetime.strptime(offset, "%z").tzinfo,
    )
    local = at.astimezone(LONDON)
    local = datetime.combine(local.date() + shift, local.time(), tzinfo=LONDON)
    out = local.astimezone(at.tzinfo if offset in ("Z", "+00:00") else LONDON)
    text = out.strftime("%Y-%m-%dT%H")
    if minute is not None:
        text += out.strftime(":%M")
    if second is not None:
        text += out.strftime(":%S")
    return text + ("Z" if offset == "Z" else out.strftime("%z")[:3] + ":" + out.strftime("%z")[3:])


def _words_date(match: re.Match[str]) -> date | None:
    """The date ``Friday 27 November`` names, in the year written for; None unless it is an
    example date (near, and on that weekday)."""
    day_number, month = int(match.group(2)), _MONTHS.index(match.group(3)) + 1
    try:
        day = date(WRITTEN_FOR.year, month, day_number)
    except ValueError:
        return None
    return day if _near(day) and _DAYS[day.weekday()] == match.group(1) else None


def _moved_words(match: re.Match[str], shift: timedelta) -> str:
    """``Friday 27 November`` -> the same weekday ``shift`` later."""
    day = _words_date(match)
    if day is None:
        return match.group(0)
    moved = day + shift
    return f"{_DAYS[moved.weekday()]} {moved.day} {_MONTHS[moved.month - 1]}"
