"""The "add to calendar" file sent with a booking confirmation: a pure function, no I/O.

One VEVENT in an RFC 5545 calendar with ``METHOD:PUBLISH`` (informational: no attendees, no
RSVP; the bookings mailbox does not track replies). Times are written as Europe/London wall-clock
times with a TZID and a matching VTIMEZONE (the pub's time, right either side of a clock
change), never floating: a floating time is read in whatever zone the guest's device is in.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vCalAddress, vText

LONDON = ZoneInfo("Europe/London")

CALENDAR_CONTENT_TYPE = "text/calendar; method=PUBLISH; charset=utf-8"
PRODID = "-//The Anchor//Table bookings//EN"
UID_DOMAIN = "the-anchor.pub"
LOCATION = "The Anchor, Horton Road, Stanwell Moor, Surrey TW19 6AQ"
ORGANIZER = "mailto:bookings@the-anchor.pub"
ORGANIZER_NAME = "The Anchor"

# The VTIMEZONE only needs to cover the event. icalendar's default window (1970-2038) writes
# ~2.8 KB of RDATEs; half a year either side keeps the whole file near 1 KB.
_TIMEZONE_MARGIN = timedelta(days=183)


def booking_uid(booking_id: str) -> str:
    """The event's UID: the same for every file about one booking, so calendars update it."""
    return f"table-booking-{booking_id}@{UID_DOMAIN}"


def booking_calendar(
    *,
    booking_id: str,
    reference: str,
    starts_at: datetime,
    ends_at: datetime,
    party_size: int,
    summary: str | None = None,
    description: str | None = None,
    sequence: int = 0,
    now: datetime,
) -> bytes:
    """An iCalendar file (``CALENDAR_CONTENT_TYPE``) with the booking as one event."""
    for name, value in (("starts_at", starts_at), ("ends_at", ends_at), ("now", now)):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"{name} must be timezone-aware")
    if ends_at <= starts_at:
        raise ValueError("ends_at must be after starts_at")
    start = starts_at.astimezone(LONDON)
    end = ends_at.astimezone(LONDON)

    event = Event()
    event.add("uid", booking_uid(booking_id))
    event.add("dtstamp", now.astimezone(UTC))
    event.add("dtstart", start)
    event.add("dtend", end)
    event.add("summary", summary or f"Table for {party_size} at The Anchor")
    event.add("location", LOCATION)
    organizer = vCalAddress(ORGANIZER)
    organizer.params["cn"] = vText(ORGANIZER_NAME)
    event.add("organizer", organizer)
    lines = [f"Booking reference: {reference}"]
    if description:
        lines.append(description)
    event.add("description", "\n\n".join(lines))
    event.add("status", "CONFIRMED")
    # Bumped when the booking changes, so calendars replace the event they already have.
    event.add("sequence", sequence)

    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    calendar.add_component(event)
    calendar.add_missing_timezones(
        first_date=start.date() - _TIMEZONE_MARGIN, last_date=end.date() + _TIMEZONE_MARGIN
    )
    ics: bytes = calendar.to_ical()
    return ics
