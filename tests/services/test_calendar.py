"""The booking's calendar file, parsed back with icalendar."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar, Event

from app.services.calendar import CALENDAR_CONTENT_TYPE, booking_calendar

LONDON = ZoneInfo("Europe/London")
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
SUMMER_START = datetime(2027, 6, 13, 12, 0, tzinfo=UTC)  # 13:00 BST
WINTER_START = datetime(2026, 12, 6, 13, 0, tzinfo=UTC)  # 13:00 GMT


def make(starts_at: datetime = SUMMER_START, **overrides: Any) -> bytes:
    args: dict[str, Any] = {
        "booking_id": "3f2c1a9e-0000-4000-8000-000000000001",
        "reference": "TB-2027-0042",
        "starts_at": starts_at,
        "ends_at": starts_at + timedelta(hours=2),
        "party_size": 4,
        "now": NOW,
        **overrides,
    }
    return booking_calendar(**args)


def only_event(ics: bytes) -> tuple[Calendar, Event]:
    calendar = Calendar.from_ical(ics)
    events = calendar.events
    assert len(events) == 1
    return calendar, events[0]


class TestBookingCalendar:
    def test_publishes_one_event_with_the_pub_details(self) -> None:
        calendar, event = only_event(make())

        assert calendar["method"] == "PUBLISH"
        assert calendar["version"] == "2.0"
        assert calendar["prodid"] == "-//The Anchor//Table bookings//EN"
        assert event["uid"] == "table-booking-3f2c1a9e-0000-4000-8000-000000000001@the-anchor.pub"
        assert event["summary"] == "Table for 4 at The Anchor"
        assert event["location"] == "The Anchor, Horton Road, Stanwell Moor, Surrey TW19 6AQ"
        assert event["organizer"] == "mailto:bookings@the-anchor.pub"
        assert event["organizer"].params["CN"] == "The Anchor"
        assert event["status"] == "CONFIRMED"
        assert event.decoded("sequence") == 0
        assert event.decoded("dtstamp") == NOW
        assert "TB-2027-0042" in str(event["description"])
        assert CALENDAR_CONTENT_TYPE == "text/calendar; method=PUBLISH; charset=utf-8"

    def test_uid_is_stable_for_a_booking(self) -> None:
        _, first = only_event(make())
        _, again = only_event(make(now=NOW + timedelta(days=3), party_size=6))
        _, other = only_event(make(booking_id="another-booking"))

        assert first["uid"] == again["uid"]
        assert first["uid"] != other["uid"]

    def test_summary_and_description_can_be_given(self) -> None:
        _, event = only_event(
            make(summary="Sunday lunch for 4", description="Roast chicken x4. Deposit £20 paid.")
        )

        assert event["summary"] == "Sunday lunch for 4"
        assert event["description"] == (
            "Booking reference: TB-2027-0042\n\nRoast chicken x4. Deposit £20 paid."
        )

    @pytest.mark.parametrize(
        ("starts_at", "wall_clock"),
        [
            pytest.param(SUMMER_START, "2027-06-13 13:00", id="summer-bst"),
            pytest.param(WINTER_START, "2026-12-06 13:00", id="winter-gmt"),
        ],
    )
    def test_times_are_london_wall_clock_with_tzid(
        self, starts_at: datetime, wall_clock: str
    ) -> None:
        _, event = only_event(make(starts_at))

        for prop, instant in (("dtstart", starts_at), ("dtend", starts_at + timedelta(hours=2))):
            assert event[prop].params["TZID"] == "Europe/London"
            decoded = event.decoded(prop)
            assert decoded == instant
            assert decoded.tzinfo is not None
            assert decoded.astimezone(LONDON).utcoffset() == instant.astimezone(LONDON).utcoffset()
        assert f"{event.decoded('dtstart'):%Y-%m-%d %H:%M}" == wall_clock
        assert f"{event.decoded('dtend'):%H:%M}" == "15:00"

    def test_raw_text_carries_the_tzid_and_a_london_vtimezone(self) -> None:
        ics = make()
        text = ics.decode()
        calendar, _ = only_event(ics)

        assert "DTSTART;TZID=Europe/London:20270613T130000\r\n" in text
        assert "DTEND;TZID=Europe/London:20270613T150000\r\n" in text
        assert [tz.tz_name for tz in calendar.timezones] == ["Europe/London"]
        assert text.index("BEGIN:VTIMEZONE") < text.index("BEGIN:VEVENT")
        # The summer-time rule of 2027 (last Sunday of March) is in the window.
        assert "DTSTART:20270328T020000" in text
        assert len(ics) < 1500

    def test_start_in_another_zone_is_converted_to_london(self) -> None:
        new_york = datetime(2027, 6, 13, 8, 0, tzinfo=ZoneInfo("America/New_York"))
        text = make(new_york).decode()

        assert "DTSTART;TZID=Europe/London:20270613T130000" in text
        assert "America/New_York" not in text

    @pytest.mark.parametrize(
        "overrides",
        [
            pytest.param({"starts_at": SUMMER_START.replace(tzinfo=None)}, id="naive-start"),
            pytest.param({"now": NOW.replace(tzinfo=None)}, id="naive-now"),
            pytest.param({"ends_at": SUMMER_START}, id="empty-interval"),
        ],
    )
    def test_refuses_naive_times_and_empty_intervals(self, overrides: dict[str, Any]) -> None:
        with pytest.raises(ValueError, match="must be"):
            make(**overrides)
