"""The API documents' example dates stay ahead of today (issue 18, item 3): Swagger's *Try it out*
is pre-filled with them, so on any day they must be bookable."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI

from app.config import Settings
from app.db.postgres import PostgresDatabase
from app.main import create_app
from app.openapi_dates import WRITTEN_FOR, kept_ahead
from tests.conftest import FakeClock, asgi_client, envelope_error

LONDON = ZoneInfo("Europe/London")
AVAILABILITY = "/api/table-bookings/availability"
MENU = "/api/table-bookings/menu/sunday-lunch"
BOOKINGS = "/api/table-bookings"
ISO_DAY = re.compile(r"\b(20\d\d-\d\d-\d\d)")

#: Days after the examples were written: a plain week, Christmas week, summer time, a new year.
LATER_DAYS = [
    datetime(2026, 12, 3, 9, 0, tzinfo=UTC),
    datetime(2026, 12, 18, 9, 0, tzinfo=UTC),
    datetime(2027, 6, 10, 7, 30, tzinfo=UTC),
    datetime(2028, 1, 6, 23, 30, tzinfo=UTC),
]


def examples(node: Any, inside: bool = False) -> list[str]:
    """Every string inside an ``example``/``examples`` of the document."""
    if isinstance(node, dict):
        return [
            s
            for key, value in node.items()
            for s in examples(value, inside or key in ("example", "examples"))
        ]
    if isinstance(node, list):
        return [s for value in node for s in examples(value, inside)]
    return [node] if inside and isinstance(node, str) else []


def example_value(document: dict[str, Any], path: str, method: str, where: str) -> Any:
    operation = document["paths"][path][method]
    if where == "body":
        found = operation["requestBody"]["content"]["application/json"]["examples"]
    else:
        [parameter] = [p for p in operation["parameters"] if p["name"] == where]
        found = parameter["examples"]
    return next(iter(found.values()))["value"]


@pytest.fixture
def later_app(settings: Settings, db: PostgresDatabase, clock: FakeClock) -> FastAPI:
    return create_app(settings, database=db, clock=clock)


async def served(app: FastAPI) -> dict[str, Any]:
    async with asgi_client(app) as c:
        response = await c.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


class TestExampleDates:
    async def test_unchanged_on_the_day_they_are_written_for(
        self, later_app: FastAPI, clock: FakeClock
    ) -> None:
        assert clock.now.date() == WRITTEN_FOR
        document = await served(later_app)
        assert example_value(document, AVAILABILITY, "get", "date") == "2026-11-27"
        assert later_app.state.openapi_written is not None
        assert kept_ahead(later_app.state.openapi_written, today=WRITTEN_FOR) == document

    @pytest.mark.parametrize("now", LATER_DAYS, ids=lambda d: d.date().isoformat())
    async def test_booking_dates_are_ahead_and_keep_their_weekday(
        self, later_app: FastAPI, clock: FakeClock, now: datetime
    ) -> None:
        clock.set(now)
        today = now.astimezone(LONDON).date()
        document = await served(later_app)
        friday = date.fromisoformat(example_value(document, AVAILABILITY, "get", "date"))
        sunday = date.fromisoformat(example_value(document, MENU, "get", "date"))
        body = example_value(document, BOOKINGS, "post", "body")
        assert today < friday <= sunday and (friday.weekday(), sunday.weekday()) == (4, 6)
        assert date.fromisoformat(body["date"]).weekday() == 4
        days = {date.fromisoformat(d) for s in examples(document) for d in ISO_DAY.findall(s)}
        days.discard(date(2010, 4, 1))  # Twilio's API version, not a date that moves
        assert days and min(days) >= today - (friday - today)  # nothing left weeks behind
        assert not any((d.month, d.day) == (12, 25) for d in days)  # the pub is closed
        text = " ".join(examples(document))
        assert "November 2026" not in text and "27 November" not in text
        assert f"{friday:%A} {friday.day} {friday:%B}" in text  # messages name the same day

    async def test_instants_keep_their_london_wall_clock(
        self, later_app: FastAPI, clock: FakeClock
    ) -> None:
        clock.set(datetime(2027, 6, 10, 9, 0, tzinfo=UTC))  # summer time: London is UTC+1
        document = await served(later_app)
        detail = [
            e["value"]["data"]
            for e in document["paths"]["/api/table-bookings/{reference}"]["get"]["responses"][
                "200"
            ]["content"]["application/json"]["examples"].values()
        ]
        for booking in detail:
            starts = datetime.fromisoformat(booking["starts_at"]).astimezone(LONDON)
            assert starts.strftime("%Y-%m-%d %H:%M") == f"{booking['date']} {booking['time']}"

    async def test_moved_on_when_the_day_changes(
        self, later_app: FastAPI, clock: FakeClock
    ) -> None:
        clock.set(datetime(2027, 3, 3, 9, 0, tzinfo=UTC))
        first = example_value(await served(later_app), AVAILABILITY, "get", "date")
        clock.set(datetime(2027, 3, 10, 9, 0, tzinfo=UTC))
        second = example_value(await served(later_app), AVAILABILITY, "get", "date")
        assert (date.fromisoformat(second) - date.fromisoformat(first)).days == 7


class TestTryItOut:
    """What Swagger pre-fills, sent as it is on a later day, is answered as the example says."""

    @pytest.mark.parametrize("now", LATER_DAYS[:3], ids=lambda d: d.date().isoformat())
    async def test_the_examples_book(
        self,
        later_app: FastAPI,
        clock: FakeClock,
        key: dict[str, str],
        now: datetime,
    ) -> None:
        clock.set(now)
        document = await served(later_app)
        day = example_value(document, AVAILABILITY, "get", "date")
        party = example_value(document, AVAILABILITY, "get", "party_size")
        body = example_value(document, BOOKINGS, "post", "body")
        async with asgi_client(later_app) as c:
            free = await c.get(AVAILABILITY, params={"date": day, "party_size": party}, headers=key)
            assert free.status_code == 200, free.text
            data = free.json()["data"]
            assert data["available"] is True, data
            assert "19:00" in [s["time"] for s in data["time_slots"] if s["available"]]
            made = await c.post(BOOKINGS, json=body, headers=key)
            assert made.status_code == 201, made.text
            menu = await c.get(
                MENU, params={"date": example_value(document, MENU, "get", "date")}, headers=key
            )
            assert menu.status_code == 200, envelope_error(menu)


def test_only_example_strings_move() -> None:
    document: dict[str, Any] = {
        "info": {"description": "Written on 2026-11-24."},
        "examples": {
            "a": {"value": {"date": "2026-11-27", "api": "ApiVersion=2010-04-01", "n": 27}}
        },
    }
    moved = kept_ahead(document, today=date(2026, 12, 3))
    assert moved["info"] == document["info"]
    assert moved["examples"]["a"]["value"] == {
        "date": "2026-12-11",
        "api": "ApiVersion=2010-04-01",
        "n": 27,
    }
    assert document["examples"]["a"]["value"]["date"] == "2026-11-27"  # the original stays


def test_every_day_of_two_years(settings: Settings) -> None:
    """Whatever the day: the Friday example is ahead of it and no example is on Christmas Day."""
    app = create_app(settings)
    app.openapi()
    written = app.state.openapi_written
    for n in range(0, 2 * 365, 3):
        today = WRITTEN_FOR + timedelta(days=n)
        document = kept_ahead(written, today=today)
        friday = date.fromisoformat(example_value(document, AVAILABILITY, "get", "date"))
        assert friday > today and friday.weekday() == 4, today
        text = " ".join(examples(document))
        days = {date.fromisoformat(d) for d in ISO_DAY.findall(text)}
        assert not any((d.month, d.day) == (12, 25) for d in days), today
        assert "25 December" not in text, today
