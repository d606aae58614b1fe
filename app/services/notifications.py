"""Which messages a booking event sends, written out: pure functions, no I/O.

An event (``created``, ``confirmed``, ``updated``, ``cancelled``, ``reminder``, ``review``)
becomes ``table_booking_sms`` and ``table_booking_email`` jobs in the shared queue: job types of
this service's own (the pub's app has its own ``send_sms`` jobs in the same table, for its own
worker). Each has a unique key (booking, template, channel, stage), so however often an event
is processed, a message is queued once.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from app.services import guest_text, phones
from app.services.calendar import CALENDAR_CONTENT_TYPE, booking_calendar
from app.services.sms_text import render, sms_encoding

LONDON = ZoneInfo("Europe/London")
PUB = "The Anchor"


@dataclass(frozen=True, slots=True)
class StaffAddresses:
    manager: str | None
    kitchen: str | None


def _day_words(day: date) -> str:
    return f"{day:%A} {day.day} {day:%B}"


def _relative_day(day: date, now: datetime) -> str:
    today = now.astimezone(LONDON).date()
    if day == today:
        return "today"
    if (day - today).days == 1:
        return "tomorrow"
    return f"on {_day_words(day)}"


def _roast_summary(items: list[dict[str, Any]]) -> str:
    mains = [f"{i['quantity']}x {i['name']}" for i in items if i["item_type"] == "main"]
    return ", ".join(mains) or "No roasts chosen"


def template_variables(
    ctx: Mapping[str, Any], *, now: datetime, for_sms: bool = True
) -> dict[str, str]:
    """Every variable a table-booking template may use, from the message context. For a text
    (``for_sms``), guest-typed values only where they are safe to send (a name, short words)."""
    booking, customer, settings = ctx["booking"], ctx["customer"], ctx["settings"]
    day = date.fromisoformat(booking["date"])
    return {
        "customer_name": _sms_name(customer.get("first_name"))
        if for_sms
        else customer.get("first_name") or "there",
        "party_size": str(booking["party_size"]),
        "date": _day_words(day),
        "time": booking["time"],
        "day": _relative_day(day, now),
        "reference": booking["reference"],
        "contact_phone": settings["contact_phone"],
        "deposit_amount": booking["deposit_amount"],
        "total_amount": booking["total_amount"],
        "outstanding_amount": booking["outstanding_amount"],
        "roast_summary": _roast_summary(ctx["items"]),
        "allergies": _sms_allergies(booking["allergies"])
        if for_sms
        else ", ".join(booking["allergies"]) or "none",
        "refund_message": refund_message(booking),
        "refund_amount": booking.get("refund_due") or "0.00",
        "review_link": settings.get("review_link") or "",
        "payment_link": booking.get("payment_url") or "",
        "deadline": _deadline(booking.get("hold_expires_at"), now),
        # Minted by the worker when it writes the confirm text (CONFIRM_REQUEST), else empty.
        "confirm_link": str(ctx.get("confirm_link") or ""),
    }


def _paid(booking: Mapping[str, Any]) -> Decimal:
    return Decimal(booking.get("paid_amount") or "0")


def refund_message(booking: Mapping[str, Any]) -> str:
    """What the cancellation says of the money: only a refund that is on its way is promised.

    ``refund_state`` (from the database): ``sent`` (PayPal took the refund), ``pending`` (queued
    for PayPal, not answered yet), ``failed`` or ``not_queued`` (staff must make it by hand).
    """
    due = booking.get("refund_due")
    if _paid(booking) <= 0 and not due:
        return "No payment was taken."
    if due is None:
        return "Our team will contact you about your payment."
    if Decimal(due) <= 0:
        return "As it is so close to your booking, the deposit cannot be refunded."
    state = booking.get("refund_state")
    if state == "sent":
        return (
            f"A refund of £{due} has been sent to the card or account you paid with; it "
            "usually arrives within 3-5 working days."
        )
    if state == "pending":
        return (
            f"We have asked PayPal to refund £{due} to the card or account you paid with, and "
            "will tell you if there is any problem."
        )
    return f"A refund of £{due} is due to you; our team will contact you to arrange it."


def _sms_name(first_name: str | None) -> str:
    # Guest text reaches a text from the pub only when it is a name (older rows, and names typed
    # in the pub's app, were never checked): never a line of someone else's message.
    return first_name if first_name and guest_text.is_name(first_name) else "there"


#: An allergy as a text may carry it: words (letters, spaces, apostrophes, hyphens), short.
_SMS_ALLERGY_MAX = 40


def _sms_allergies(allergies: list[str]) -> str:
    safe = [a for a in allergies if len(a) <= _SMS_ALLERGY_MAX and guest_text.is_name(a)]
    if len(safe) == len(allergies):
        return ", ".join(safe) or "none"
    return ", ".join([*safe, "others"]) + " as noted on your booking" if safe else "as booked"


def _deadline(hold_expires_at: str | None, now: datetime) -> str:
    if not hold_expires_at:
        return "the day before"
    at = datetime.fromisoformat(hold_expires_at).astimezone(LONDON)
    return f"{at:%H:%M} {_relative_day(at.date(), now)}"


#: event -> the guest's SMS template key (a callable of the booking type where it depends on it)
_SMS_TEMPLATES: dict[str, str] = {
    "confirmed": "booking_confirmation_{type}",
    "updated": "booking_update_{type}",
    "cancelled": "cancellation",
    "reminder": "reminder_{type}",
    "review": "review_request",
    "refund_failed": "refund_problem",
    "confirm_request": "booking_confirm_request",
}
#: ``source`` of a booking made through the 2026 contract, as the pub's own create names it.
WEBSITE_2026_SOURCE = "brand_site"
#: The day-before "are you still coming?" text (tap-to-confirm) and its template.
CONFIRM_REQUEST = "confirm_request"
CONFIRM_TEMPLATE = "booking_confirm_request"
#: cancellation_reason of a booking the guest cancelled from the confirm link.
DECLINED_CONFIRMATION = "guest_declined_confirmation"


def confirm_request_wanted(ctx: Mapping[str, Any]) -> bool:
    """Whether the confirm text is to be written: a booking still confirmed whose guest's number
    can take a text (so the link is minted only for a text that will be planned)."""
    mobile = ctx["customer"].get("mobile")
    return (
        ctx["booking"]["status"] == "confirmed"
        and bool(mobile)
        and phones.can_receive_sms(str(mobile))
    )


#: cancellation_reason of a booking whose deposit was not paid within its hold.
HOLD_EXPIRED = "payment_hold_expired"


def owes_deposit_by_rule(booking: Mapping[str, Any]) -> bool:
    """A booking that owes (or paid) a deposit by the pub's rule (a group, a seasonal period):
    any booking with a deposit that is not a Sunday lunch, whose deposit is its own."""
    return booking["booking_type"] != "sunday_lunch" and Decimal(
        booking.get("deposit_amount") or "0"
    ) > Decimal("0")


def confirmation_template(booking: Mapping[str, Any]) -> str:
    """The guest's confirmation: a deposit by rule that was paid says so."""
    if owes_deposit_by_rule(booking) and _paid(booking) > 0:
        # Booked through the pub's website (the 2026 contract): the pub's own words.
        if booking.get("source") == WEBSITE_2026_SOURCE:
            return "booking_confirmation_deposit_sorted"
        return "booking_confirmation_regular_deposit"
    return f"booking_confirmation_{booking['booking_type']}"


def guest_sms_template(
    event: str,
    status: str,
    booking_type: str,
    *,
    payment_url: str | None = None,
    cancellation_reason: str | None = None,
    booking: Mapping[str, Any] | None = None,
) -> str | None:
    by_rule = booking is not None and owes_deposit_by_rule(booking)
    if event in ("created", "confirmed") and status == "confirmed" and booking is not None:
        return confirmation_template(booking)
    if event == "created":
        if status == "confirmed":
            return f"booking_confirmation_{booking_type}"
        # A deposit booking is confirmed by its deposit ("confirmed" event); until then the guest
        # gets the link to pay, when PayPal gave one: worded for a table, or for Sunday lunch.
        if not payment_url:
            return None
        return "payment_request_table" if by_rule else "payment_request"
    if event == "cancelled" and cancellation_reason == HOLD_EXPIRED:
        return "cancellation_hold_expired_table" if by_rule else "cancellation_hold_expired"
    pattern = _SMS_TEMPLATES.get(event)
    return pattern.format(type=booking_type) if pattern else None


def is_confirmation(template: str) -> bool:
    """The guest's confirmation (on booking, or once the deposit is paid): it carries the
    booking's manage link (``booking["manage_url"]``) when there is one."""
    return template.startswith("booking_confirmation_")


_OPT_OUT = " Reply STOP to opt out."
#: The most a text with its manage link may take (as every seeded text: tests hold it).
SMS_MAX_SEGMENTS = 2


def with_manage_link(text: str, url: str) -> str:
    """The text with the manage link before its opt-out line, worded as fully as two
    segments allow; a text that cannot take it within two goes as it was (the email has it)."""
    body, tail = (text[: -len(_OPT_OUT)], _OPT_OUT) if text.endswith(_OPT_OUT) else (text, "")
    # After a sentence, a space; after a sign-off ("... The Anchor"), a line of its own.
    gap = " " if body.endswith((".", "!", "?")) else "\n"
    for lead in ("Manage your booking:", "Manage:"):
        linked = f"{body}{gap}{lead} {url}{tail}"
        if sms_encoding(linked).segments <= SMS_MAX_SEGMENTS:
            return linked
    return text


def plan_messages(
    event: str,
    stage: str,
    ctx: Mapping[str, Any],
    *,
    staff: StaffAddresses,
    now: datetime,
    confirm_instead: frozenset[str] = frozenset(),
) -> list[dict[str, Any]]:
    """The send jobs for one booking event: [{unique_key, type, payload, table_booking_id}].

    ``confirm_instead``: the channels (``sms``, ``email``) on which an update replaces a
    confirmation that had not gone yet; there the guest gets the confirmation, with the booking
    as it is now, and no update.
    """
    booking, customer = ctx["booking"], ctx["customer"]
    booking_id = str(booking["id"])
    variables = template_variables(ctx, now=now)
    email_variables = template_variables(ctx, now=now, for_sms=False)
    jobs: list[dict[str, Any]] = []

    def key(template: str, channel: str, to: str = "") -> str:
        return f"{booking_id}:{template}:{channel}:{stage}" + (f":{to}" if to else "")

    template = guest_sms_template(
        event,
        booking["status"],
        booking["booking_type"],
        payment_url=booking.get("payment_url"),
        cancellation_reason=booking.get("cancellation_reason"),
        booking=booking,
    )
    if booking["status"] == "cancelled" and event not in ("cancelled", "refund_failed"):
        template = None  # cancelled since: the guest hears of the cancellation, nothing else
    if event == "refund_failed" and not booking.get("refund_promised"):
        template = None  # the cancellation already said staff would arrange the refund
    if event == CONFIRM_REQUEST and not ctx.get("confirm_link"):
        template = None  # never a confirm text without its link
    channels = [
        # Texts only to numbers that can receive one (never a landline or premium rate).
        ("sms", bool(customer.get("mobile")) and phones.can_receive_sms(customer["mobile"])),
        # The review request and the confirm text are texts only.
        ("email", bool(customer.get("email")) and event not in ("review", CONFIRM_REQUEST)),
    ]
    for channel, reachable in channels:
        chosen = template
        if template is not None and channel in confirm_instead:
            chosen = confirmation_template(booking)
        if chosen is None or not reachable:
            continue
        # The guest's own email may carry what they typed (escaped in its HTML); a text may not.
        text = render(ctx["templates"][chosen], variables if channel == "sms" else email_variables)
        manage_url = booking.get("manage_url")
        if channel == "sms" and manage_url and is_confirmation(chosen):
            text = with_manage_link(text, manage_url)
        metadata = {"template_key": chosen, "table_booking_id": booking_id, "stage": stage}
        if event == "cancelled":
            metadata["refund_state"] = booking.get("refund_state")
        if channel == "sms":
            payload = {
                "to": customer["mobile"],
                "message": text,
                "customer_id": customer["id"],
                "metadata": metadata,
            }
        else:
            kind = "confirmed" if chosen.startswith("booking_confirmation_") else event
            payload = guest_email(kind, chosen, text, ctx, now=now, metadata=metadata)
        jobs.append(
            {
                "unique_key": key(chosen, channel),
                "type": f"table_booking_{channel}",
                "table_booking_id": booking_id,
                "payload": payload,
            }
        )
    if event in _STAFF_EVENTS:
        for recipient in _staff_recipients(event, booking, staff):
            jobs.append(
                {
                    "unique_key": key(f"staff_{event}", "email", recipient),
                    "type": "table_booking_email",
                    "table_booking_id": booking_id,
                    "payload": staff_alert(event, ctx, recipient=recipient, stage=stage),
                }
            )
    return jobs


_STAFF_EVENTS = ("created", "confirmed", "updated", "cancelled", "refund_failed")


def sms_fallback_email(payload: Mapping[str, Any], email: str) -> dict[str, Any]:
    """When a text cannot be sent (opted out, number unusable), the same words by email."""
    metadata = dict(payload.get("metadata") or {})
    return {
        "to": email,
        "customer_id": payload.get("customer_id"),
        "subject": f"{PUB}: about your table booking",
        "text": payload["message"],
        "html": f"<p>{html.escape(payload['message'])}</p>",
        "attachments": [],
        "metadata": {**metadata, "fallback_for": "sms"},
    }


def _staff_recipients(event: str, booking: Mapping[str, Any], staff: StaffAddresses) -> list[str]:
    recipients = [staff.manager] if staff.manager else []
    if (
        staff.kitchen
        and booking["booking_type"] == "sunday_lunch"
        and event not in ("created", "refund_failed")
    ):
        recipients.append(staff.kitchen)
    return recipients


_SUBJECTS = {
    "confirmed": "Your table at The Anchor is booked",
    "updated": "Your booking at The Anchor has changed",
    "cancelled": "Your booking at The Anchor is cancelled",
    "reminder": "See you soon at The Anchor",
    "payment_request": "Your Sunday lunch at The Anchor: deposit due",
    "payment_request_table": "Your table at The Anchor: deposit due",
    "refund_failed": "Your refund from The Anchor",
}
#: Emails that describe a booking still to come: they say how to change or cancel it.
_UPCOMING = ("confirmed", "updated", "reminder", "payment_request", "payment_request_table")


def guest_email(
    event: str,
    template: str,
    sms_text: str,
    ctx: Mapping[str, Any],
    *,
    now: datetime,
    metadata: Mapping[str, Any],
) -> dict[str, Any]:
    booking = ctx["booking"]
    if template in ("payment_request", "payment_request_table"):
        kind = template
    else:
        kind = "confirmed" if event == "created" else event
    subject = f"{_SUBJECTS.get(kind, 'Your booking at The Anchor')} ({booking['reference']})"
    # The text's opt-out line is about texts; an email does not need it.
    intro = sms_text.replace(" Reply STOP to opt out.", "").strip()
    lines = [intro, "", *_booking_lines(ctx)]
    if not intro.startswith("Hi "):
        lines[:0] = [f"Hi {ctx['customer'].get('first_name') or 'there'},", ""]
    manage_url = booking.get("manage_url")
    if kind in _UPCOMING and manage_url and is_confirmation(template):
        # The guest's manage link (app.services.guest_pages), and the pub's number beside it.
        lines += [
            "",
            f"To change or cancel your booking: {manage_url}",
            f"Or call us on {ctx['settings']['contact_phone']} and quote {booking['reference']}.",
        ]
    elif kind in _UPCOMING:
        # Without a link (no public address configured), the pub's number is the way.
        lines += [
            "",
            f"To change or cancel your booking, call us on {ctx['settings']['contact_phone']} "
            f"and quote {booking['reference']}.",
        ]
    attachments = []
    if kind in ("confirmed", "updated", "reminder"):
        ics = booking_calendar(
            booking_id=str(booking["id"]),
            reference=booking["reference"],
            starts_at=datetime.fromisoformat(booking["starts_at"]),
            ends_at=datetime.fromisoformat(booking["ends_at"]),
            party_size=int(booking["party_size"]),
            sequence=int(booking.get("modification_count") or 0),
            now=now,
        )
        attachments.append(
            {
                "filename": f"booking-{booking['reference']}.ics",
                "content_type": CALENDAR_CONTENT_TYPE,
                "content_b64": base64.b64encode(ics).decode("ascii"),
            }
        )
    text = "\n".join(lines)
    return {
        "to": ctx["customer"]["email"],
        "customer_id": ctx["customer"]["id"],
        "subject": subject,
        "text": text,
        "html": _html(lines),
        "attachments": attachments,
        "metadata": dict(metadata),
    }


def staff_alert(
    event: str, ctx: Mapping[str, Any], *, recipient: str, stage: str
) -> dict[str, Any]:
    booking, customer = ctx["booking"], ctx["customer"]
    words = {
        "created": _new_booking_words(booking),
        "confirmed": "Deposit paid",
        "updated": "Booking changed",
        "cancelled": "Booking cancelled",
        "refund_failed": "REFUND NOT MADE",
    }[event]
    allergies = booking["allergies"]
    day = date.fromisoformat(booking["date"])
    subject = (
        f"{words}: {booking['reference']}, {booking['party_size']} on {day:%a} {day.day} "
        f"{day:%b} at {booking['time']}" + (" - ALLERGIES" if allergies else "")
    )
    name = f"{customer.get('first_name') or ''} {customer.get('last_name') or ''}".strip()
    lines = [f"{words}.", ""]
    if event == "refund_failed":
        lines += [
            f"The refund of £{booking.get('refund_due') or '0.00'} for this cancelled booking "
            "could not be made automatically. Refund the guest by hand and note it on the "
            "booking.",
            "",
        ]
    lines += [f"Guest: {name}", *_booking_lines(ctx)]
    if event in ("cancelled", "refund_failed"):
        lines += _cancellation_lines(booking)
    if customer.get("mobile"):
        lines.append(f"Phone: {customer['mobile']}")
    if customer.get("email"):
        lines.append(f"Email: {customer['email']}")
    html_lines = [html.escape(line) for line in lines]
    if allergies:
        warning = f"ALLERGIES: {', '.join(allergies)}"
        lines.insert(0, warning)
        html_lines.insert(
            0,
            f'<strong style="color:#b00020;font-size:1.2em">{html.escape(warning)}</strong>',
        )
    return {
        "to": recipient,
        "customer_id": None,
        "subject": subject,
        "text": "\n".join(lines),
        "html": "<br>\n".join(html_lines),
        "attachments": [],
        "metadata": {
            "template_key": f"staff_{event}",
            "table_booking_id": str(booking["id"]),
            "stage": stage,
        },
    }


def _new_booking_words(booking: Mapping[str, Any]) -> str:
    if booking["booking_type"] != "sunday_lunch":
        if owes_deposit_by_rule(booking) and booking["status"] == "pending_payment":
            return "New booking (deposit due)"
        return "New booking"
    # Written after a quick cancellation, it is still a Sunday lunch, not "New booking".
    return (
        "New Sunday lunch (deposit due)"
        if booking["status"] == "pending_payment"
        else ("New Sunday lunch")
    )


_REFUND_STATES = {
    "sent": "refunded through PayPal",
    "pending": "asked of PayPal",
    "failed": "NOT refunded: refund by hand",
    "not_queued": "NOT refunded: refund by hand",
}


def _cancellation_lines(booking: Mapping[str, Any]) -> list[str]:
    """Why it was cancelled and what became of the money, for staff."""
    lines = []
    reason = booking.get("cancellation_reason")
    if reason == HOLD_EXPIRED:
        lines.append("Reason: the deposit was not paid in time (hold expired)")
    elif reason == DECLINED_CONFIRMATION:
        lines.append("Reason: the guest answered no to the day-before confirm text")
    elif reason:
        lines.append(f"Reason: {reason}")
    due = booking.get("refund_due")
    if due and Decimal(due) > 0:
        state = _REFUND_STATES.get(booking.get("refund_state") or "", "")
        lines.append(f"Refund: £{due}" + (f", {state}" if state else ""))
    return lines


def kitchen_prep_email(prep: Mapping[str, Any], *, recipient: str) -> dict[str, Any]:
    """Tomorrow's Sunday lunch for the kitchen: roasts and sides counted, allergies first."""
    day = date.fromisoformat(prep["date"])
    bookings = prep["bookings"]
    covers = sum(int(b["party_size"]) for b in bookings)
    lines = [f"Sunday lunch, {_day_words(day)}: {len(bookings)} tables, {covers} covers.", ""]
    lines.append("Totals:")
    lines += [f"  {t['quantity']} x {t['name']} ({t['item_type']})" for t in prep["totals"]]
    allergic = [b for b in bookings if b["allergies"]]
    if allergic:
        lines += ["", "ALLERGIES:"]
        lines += [
            f"  {b['time']} {b['reference']} {b['name']}: {', '.join(b['allergies'])}"
            for b in allergic
        ]
    lines += ["", "Tables:"]
    for b in bookings:
        dishes = ", ".join(
            f"{i['quantity']}x {i['name']}"
            + (f" ({i['guest_name']})" if i.get("guest_name") else "")
            for i in (b["items"] or [])
            if i["item_type"] == "main"
        )
        lines.append(f"  {b['time']} {b['reference']} {b['name']}, {b['party_size']}: {dishes}")
        if b.get("special_requirements"):
            lines.append(f"      Note: {b['special_requirements']}")
    return {
        "to": recipient,
        "customer_id": None,
        "subject": f"Sunday lunch prep list for {_day_words(day)}: {covers} covers",
        "text": "\n".join(lines),
        "html": "<pre>" + html.escape("\n".join(lines)) + "</pre>",
        "attachments": [],
        "metadata": {"template_key": "kitchen_prep", "date": prep["date"], "stage": "default"},
    }


def _booking_lines(ctx: Mapping[str, Any]) -> list[str]:
    booking = ctx["booking"]
    day = date.fromisoformat(booking["date"])
    lines = [
        f"Reference: {booking['reference']}",
        f"When: {_day_words(day)} at {booking['time']}",
        f"Guests: {booking['party_size']}",
    ]
    if booking.get("table_name"):
        lines.append(f"Table: {booking['table_name']}")
    if booking.get("high_chair_count"):
        lines.append(f"High chairs: {booking['high_chair_count']}")
    if booking["booking_type"] == "sunday_lunch":
        lines += _dishes_lines(ctx["items"])
        money = _money_line(booking)
        if money:
            lines.append(money)
    elif owes_deposit_by_rule(booking):
        money = _deposit_line(booking)
        if money:
            lines.append(money)
    if booking["allergies"]:
        lines.append(f"Allergies: {', '.join(booking['allergies'])}")
    if booking.get("special_requirements"):
        lines.append(f"Requests: {booking['special_requirements']}")
    lines.append(f"{PUB}, Horton Road, Stanwell Moor, Surrey TW19 6AQ")
    return lines


def _dishes_lines(items: list[dict[str, Any]]) -> list[str]:
    """The roasts, each with the guest it is for, and the sides ordered at a price."""
    mains = [
        f"{i['quantity']}x {i['name']}" + (f" ({i['guest_name']})" if i.get("guest_name") else "")
        for i in items
        if i["item_type"] == "main"
    ]
    lines = [f"Roasts: {', '.join(mains) or 'No roasts chosen'}"]
    paid_sides = [
        f"{i['quantity']}x {i['name']} (£{i['price']} each)"
        for i in items
        if i["item_type"] != "main" and Decimal(i.get("price") or "0") > 0
    ]
    if paid_sides:
        lines.append(f"Extra sides: {', '.join(paid_sides)}")
    return lines


def _money_line(booking: Mapping[str, Any]) -> str | None:
    """The deposit as it stands: paid, still to pay, or (cancelled unpaid) nothing at all."""
    paid = _paid(booking)
    if booking["status"] == "cancelled":
        return f"Deposit paid: £{paid:.2f}" if paid > 0 else None
    if paid > 0:
        return f"Deposit paid: £{paid:.2f}; due on arrival: £{booking['outstanding_amount']}"
    if booking["status"] == "pending_payment":
        return (
            f"Deposit to pay now: £{booking['deposit_amount']}; the rest, "
            f"£{booking['outstanding_amount']}, on arrival"
        )
    return f"Nothing paid yet; £{booking['total_amount']} to pay at the pub"


def _deposit_line(booking: Mapping[str, Any]) -> str | None:
    """A deposit by rule as it stands; it comes off the bill, there is no balance to state."""
    paid = _paid(booking)
    if booking["status"] == "cancelled":
        return f"Deposit paid: £{paid:.2f}" if paid > 0 else None
    if paid > 0:
        return f"Deposit paid: £{paid:.2f}; it comes off the bill on the day"
    if booking["status"] == "pending_payment":
        return f"Deposit to pay now: £{booking['deposit_amount']}; it comes off the bill on the day"
    return None


def _html(lines: list[str]) -> str:
    body = "<br>\n".join(html.escape(line) for line in lines)
    return f'<div style="font-family:Georgia,serif;font-size:16px;line-height:1.5">{body}</div>'
