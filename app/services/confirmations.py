"""Tap-to-confirm: the day-before "are you still coming?" text, the guest's answer, the call list.

The sweep (``queue_confirm_requests``) queues one text per confirmed booking of tomorrow, from
``CONFIRM_REQUEST_HOUR`` (London); the worker writes it with a ``booking_confirm`` link minted
then (``app.services.worker``). The guest's page answers yes (``guest_confirmed_at``) or no (our
cancel, reason ``guest_declined_confirmation``). Staff see who did not answer and who could not
be texted (``call_list``). The facts live in the pub's own columns and table
(``table_bookings.guest_confirmed_at``, ``table_booking_confirm_reminders``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from app.db.port import Database
from app.services import guest_pages, tokens
from app.services.actors import ClientInfo
from app.services.notifications import DECLINED_CONFIRMATION

LONDON = ZoneInfo("Europe/London")

Answer = Literal["yes", "no"]
#: What the confirm page shows, from the link and the booking.
PageKind = Literal[
    "ask",  # the booking and the two buttons
    "confirmed",  # the guest said yes (now or before)
    "cancelled",  # the guest said no: cancelled
    "booking_cancelled",  # cancelled some other way
    "past",  # started or over
    "not_answerable",  # awaiting its deposit, or otherwise not a confirmed booking
    "used",  # the link was used up
    "expired",  # the link ran out (at the booking's start)
    "unknown",  # no such link
    "busy",  # the link was opened too often: wait a few minutes
]


@dataclass(frozen=True, slots=True)
class ConfirmPage:
    kind: PageKind
    status_code: int
    booking: dict[str, Any] | None


async def queue_confirm_requests(db: Database, *, now: datetime, hour: int) -> dict[str, Any]:
    """One confirm text per confirmed booking of tomorrow, from ``hour`` London time."""
    queued: dict[str, Any] = await db.rpc(
        "table_booking_queue_confirm_requests", {"p_now": now.isoformat(), "p_hour": hour}
    )
    return queued


def page_kind(view: dict[str, Any]) -> ConfirmPage:
    """The page for what ``table_booking_confirm_page`` answered (pure)."""
    state = view["state"]
    booking: dict[str, Any] | None = view.get("booking")
    if state == "rate_limited":
        return ConfirmPage("busy", 429, None)
    if state == "token_expired":
        return ConfirmPage("expired", 410, None)
    if state == "token_used":
        if (
            booking
            and booking["status"] == "cancelled"
            and (booking.get("cancellation_reason") == DECLINED_CONFIRMATION)
        ):
            return ConfirmPage("cancelled", 200, booking)
        return ConfirmPage("used", 410, None)
    if state != "ok" or booking is None:
        return ConfirmPage("unknown", 404, None)
    if booking["status"] == "cancelled":
        return ConfirmPage("booking_cancelled", 409, booking)
    if booking["status"] != "confirmed":
        kind: PageKind = (
            "past" if booking["status"] in ("completed", "no_show") else "not_answerable"
        )
        return ConfirmPage(kind, 409, booking)
    if booking["started"]:
        return ConfirmPage("past", 409, booking)
    if booking.get("guest_confirmed_at"):
        return ConfirmPage("confirmed", 200, booking)
    return ConfirmPage("ask", 200, booking)


async def confirm_page(db: Database, token: str, *, now: datetime) -> ConfirmPage:
    if not token or len(token) > 200:
        return ConfirmPage("unknown", 404, None)
    view: dict[str, Any] = await db.rpc(
        "table_booking_confirm_page",
        {
            "p_token_hash": tokens.hash_token(token),
            "p_now": now.isoformat(),
            # Per link, shared with the other guest pages.
            "p_limit": guest_pages.PAGE_LIMIT,
            "p_window_seconds": guest_pages.PAGE_WINDOW_SECONDS,
        },
    )
    return page_kind(view)


async def answer(
    db: Database, token: str, *, answer: Answer, client: ClientInfo, now: datetime
) -> dict[str, Any]:
    """The guest's answer: ``{"state": confirmed | already_confirmed | cancelled | <refusal>}``."""
    if not token or len(token) > 200:
        return {"state": "invalid_token"}
    result: dict[str, Any] = await db.rpc(
        "table_booking_confirm_answer",
        {
            "p_token_hash": tokens.hash_token(token),
            "p_answer": answer,
            "p_client": client.as_json(),
            "p_now": now.isoformat(),
            "p_limit": guest_pages.PAGE_LIMIT,
            "p_window_seconds": guest_pages.PAGE_WINDOW_SECONDS,
        },
    )
    return result


def tomorrow(now: datetime) -> date:
    """The day after ``now`` in London: the call list's default (the sweep's day)."""
    return now.astimezone(LONDON).date() + timedelta(days=1)


async def call_list(db: Database, *, day: date, now: datetime) -> dict[str, Any]:
    """Confirmed bookings of ``day`` whose guest did not answer the text, and those who could not
    be texted: the guests staff ring."""
    listed: dict[str, Any] = await db.rpc(
        "table_booking_confirm_call_list", {"p_date": day.isoformat(), "p_now": now.isoformat()}
    )
    return listed
