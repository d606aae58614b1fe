"""What ``/openapi.json`` says about each operation, beyond what the routes declare.

One entry per operation (method and path): its summary and description, who may call it
(``security``), examples for its parameters and body, and every response it can give, with an
example of each: the success body and, for each error status, one example per error code that
route can return (real envelopes, with the messages the code produces). ``apply`` writes them into
the document FastAPI generates; the statuses listed here replace the routes' own, so a status the
route cannot return is not documented. ``tests/test_openapi_docs.py`` checks that every operation
has an entry and every example matches its schema.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from app.config import Settings
from app.services.payments import MSG_NO_DEPOSITS
from app.services.refunds import just_made_summary

Example = dict[str, Any]  # an OpenAPI Example Object: {"summary": ..., "value": ...}

# Security --------------------------------------------------------------------------------------

SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "ApiKey": {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "An API key `anch_...` issued by the pub.",
    },
    "Bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "`Authorization: Bearer anch_...` (an API key).",
    },
    "StaffBearer": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A member of staff's Supabase access token, `Authorization: Bearer "
        "eyJ...`. What it may do follows the staff member's role: `table_bookings:view`, "
        "`create`, `edit` or `cancel`.",
    },
    "BookingToken": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Booking-Token",
        "description": "The guest's manage token, `manage_token` in the create response (shown "
        "once). Also accepted as the query parameter `token`, as the confirmation link carries "
        "it. It opens only its own booking: with another booking's reference the answer is "
        "404 NOT_FOUND.",
    },
    "CronSecret": {
        "type": "http",
        "scheme": "bearer",
        "description": "`Authorization: Bearer <CRON_SECRET>`, as Vercel Cron sends it. In local "
        "development with no `CRON_SECRET` set, no header is needed.",
    },
    "TwilioSignature": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Twilio-Signature",
        "description": "Twilio's HMAC-SHA1 signature of `PUBLIC_BASE_URL` plus the path and the "
        "form parameters, with `TWILIO_AUTH_TOKEN`.",
    },
    "PayPalSignature": {
        "type": "apiKey",
        "in": "header",
        "name": "PAYPAL-TRANSMISSION-SIG",
        "description": "PayPal's webhook signature, with `PAYPAL-TRANSMISSION-ID`, "
        "`PAYPAL-TRANSMISSION-TIME`, `PAYPAL-CERT-URL` and `PAYPAL-AUTH-ALGO`; verified for the "
        "webhook `PAYPAL_WEBHOOK_ID`.",
    },
}

Security = list[dict[str, list[str]]]
KEY: Security = [{"ApiKey": []}, {"Bearer": []}]
KEY_OR_STAFF: Security = [*KEY, {"StaffBearer": []}]
GUEST_KEY_OR_STAFF: Security = [{"BookingToken": []}, *KEY_OR_STAFF]
CRON: Security = [{"CronSecret": []}]
OPEN: Security = []

# Building blocks -------------------------------------------------------------------------------

ERROR_SCHEMA = {"$ref": "#/components/schemas/ErrorEnvelope"}
RATE_LIMIT_HEADERS = {
    "X-RateLimit-Limit": {
        "description": "Requests allowed in the key's window (an hour).",
        "schema": {"type": "integer"},
    },
    "X-RateLimit-Remaining": {
        "description": "Requests left in the window.",
        "schema": {"type": "integer"},
    },
    "X-RateLimit-Reset": {
        "description": "When the window starts again (Unix seconds).",
        "schema": {"type": "integer"},
    },
}
RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer"},
    }
}


def error(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"success": False, "error": {"code": code, "message": message, "details": details}}


def ok(data: Any) -> dict[str, Any]:
    return {"success": True, "data": data}


def example(summary: str, value: Any) -> Example:
    return {"summary": summary, "value": value}


@dataclass(frozen=True)
class Response:
    """One documented response. For errors, each example's summary says when its code is
    returned, and the description lists them (``describe``)."""

    description: str
    examples: dict[str, Example]
    media_type: str = "application/json"
    schema: dict[str, Any] | None = None  # None: keep the route's own schema
    headers: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        codes = [
            f"- `{e['value']['error']['code']}`: {e['summary']}"
            for e in self.examples.values()
            if isinstance(e.get("value"), dict) and e["value"].get("success") is False
        ]
        return "\n".join([self.description, "", *codes]) if codes else self.description


@dataclass(frozen=True)
class Operation:
    summary: str
    description: str
    security: Security
    responses: dict[int, Response]
    parameters: dict[str, dict[str, Example]] = field(default_factory=dict)
    body: dict[str, Example] = field(default_factory=dict)
    # A body the route reads itself (webhooks): the whole OpenAPI Request Body Object.
    raw_body: dict[str, Any] | None = None


def failure(description: str, *examples: tuple[str, dict[str, Any]], **kw: Any) -> Response:
    """An error response; ``examples``: (when, envelope) pairs, one per code or case."""
    named = {
        f"{envelope['error']['code'].lower()}_{i}" if i else envelope["error"]["code"].lower(): (
            example(when, envelope)
        )
        for i, (when, envelope) in enumerate(examples)
    }
    return Response(description, named, schema=ERROR_SCHEMA, **kw)


# Errors most routes share --------------------------------------------------------------------

NO_KEY = error("UNAUTHORIZED", "Send an API key in X-API-Key or as Authorization: Bearer anch_...")
BAD_KEY = error("UNAUTHORIZED", "The API key is unknown, inactive or expired.")
NO_CREDENTIAL = error("UNAUTHORIZED", "Send an API key or a staff sign-in token.")
NO_GUEST_CREDENTIAL = error(
    "UNAUTHORIZED", "Send the booking's token, an API key or a staff sign-in token."
)
STAFF_EXPIRED = error("UNAUTHORIZED", "Your sign-in has expired. Please sign in again.")
DB_DOWN = error(
    "SERVICE_UNAVAILABLE", "The service is temporarily unavailable. Please try again shortly."
)
STAFF_CHECK_DOWN = error("SERVICE_UNAVAILABLE", "Staff sign-in cannot be checked right now.")
NOT_FOUND = error("NOT_FOUND", "There is no booking with that reference.")
BAD_REFERENCE = error(
    "VALIDATION_ERROR",
    "The request is not valid: reference.",
    [
        {
            "field": "reference",
            "message": "String should match pattern '^[A-Za-z0-9-]{3,20}$'",
            "type": "string_pattern_mismatch",
        }
    ],
)


def lacks_scope(scope: str) -> dict[str, Any]:
    return error("FORBIDDEN", f"This API key lacks the scope {scope}.", {"required": f"{scope}"})


def role_lacks(action: str) -> dict[str, Any]:
    return error(
        "FORBIDDEN",
        f"Your role does not allow table_bookings:{action}.",
        {"required": f"table_bookings:{action}"},
    )


def unauthorized(*extra: tuple[str, dict[str, Any]]) -> Response:
    return failure("The credential is missing or not valid.", *extra)


def forbidden(*extra: tuple[str, dict[str, Any]]) -> Response:
    return failure("The credential is valid but may not do this.", *extra)


def key_rate_limited(limit: str = "api_key") -> Response:
    return failure(
        "A rate limit is used up; wait `Retry-After` seconds.",
        (
            "the API key's hourly limit (1000 requests by default) is used up",
            error(
                "RATE_LIMIT_EXCEEDED",
                "Too many requests. Please wait and try again.",
                {"retry_after": 1260, "limit": limit},
            ),
        ),
        headers={**RETRY_AFTER, **RATE_LIMIT_HEADERS},
    )


def unavailable(*extra: tuple[str, dict[str, Any]]) -> Response:
    return failure(
        "Try again shortly.",
        ("the database does not answer", DB_DOWN),
        *extra,
        headers={"Retry-After": RETRY_AFTER["Retry-After"]},
    )


def too_large() -> Response:
    limit = Settings.model_fields["max_body_bytes"].default
    return failure(
        f"The body is over `MAX_BODY_BYTES` ({limit // 1024} KiB by default).",
        (
            "the body is too large",
            error(
                "PAYLOAD_TOO_LARGE",
                f"The request body is larger than {limit} bytes.",
                {"max_bytes": limit},
            ),
        ),
    )


TWILIO_UNSIGNED = (
    "the signature is missing or does not match (or no TWILIO_AUTH_TOKEN is set)",
    error("UNAUTHORIZED", "The Twilio signature does not match this request."),
)


def staff_unavailable() -> Response:
    """503 of a route staff may call: the database, or the staff sign-in check, is down."""
    return unavailable(("the staff sign-in cannot be checked", STAFF_CHECK_DOWN))


def invalid(*cases: tuple[str, dict[str, Any]]) -> Response:
    return failure("The request is malformed; `details` names the fields.", *cases)


def not_found() -> Response:
    return failure(
        "No such booking for this caller.",
        ("unknown reference, or a guest token that belongs to another booking", NOT_FOUND),
    )


PROTECTED_KEY_ROUTE = (
    "\n\n**Auth:** an API key with `{scope}` (`manage:table_bookings` and `*` include it), as "
    "`X-API-Key` or `Authorization: Bearer anch_...`. Each key may make 1000 requests an hour "
    "by default; every keyed response carries `X-RateLimit-Limit`, `X-RateLimit-Remaining` and "
    "`X-RateLimit-Reset`, and a 429 carries `Retry-After`."
)


def key_auth(scope: str) -> str:
    return PROTECTED_KEY_ROUTE.format(scope=scope)


def acting_auth(scope: str, action: str, *, guest: bool) -> str:
    who = "the guest's manage token (`X-Booking-Token` header or `?token=`), " if guest else ""
    return (
        f"\n\n**Auth:** {who}an API key with `{scope}` (`X-API-Key` or "
        f"`Authorization: Bearer anch_...`), or a staff sign-in token whose role grants "
        f"`table_bookings:{action}`. When several are sent, the guest token wins, then the key. "
        "API keys are rate limited (1000 requests an hour by default, `X-RateLimit-*` headers "
        "on every keyed response); guest tokens and staff are not."
    )


# Example data, as the service returned it for the demo pub -------------------------------------

REF = "TB-7B30F1AE"
SUNDAY_REF = "TB-79F95CB4"
BOOKING_ID = "a8fee35c-0991-4b57-87f6-d79be91531f5"
SUNDAY_ID = "b3ebe998-a8af-4b0b-86ff-40775a7de121"
CHICKEN = "5d6be88b-c14d-4be3-a674-2550d837fc50"
WELLINGTON = "e953822c-9475-47b6-91ff-ae86fb870fe2"
TOKEN = "xaDb1pSGT1UEMCzQVwnl9aWi7vdEelrumkIlVrhoKOc"  # noqa: S105 (an example)
GUEST_TOKEN_PARAMETER = {"guest": example("the guest's manage token", TOKEN)}

AVAILABILITY = {
    "date": "2026-11-27",
    "booking_type": "regular",
    "party_size": 4,
    "available": True,
    "kitchen_hours": {"opens": "12:00", "closes": "21:30", "source": "business_hours"},
    "time_slots": [
        {
            "time": "12:00",
            "available": True,
            "available_capacity": 50,
            "requires_prepayment": False,
            "reason": None,
        },
        {
            "time": "19:00",
            "available": True,
            "available_capacity": 12,
            "requires_prepayment": False,
            "reason": None,
        },
        {
            "time": "19:30",
            "available": False,
            "available_capacity": 2,
            "requires_prepayment": False,
            "reason": "FULL",
        },
    ],
    "message": None,
    "alternatives": [],
}
AVAILABILITY_CLOSED = {
    "date": "2026-11-30",
    "booking_type": "regular",
    "party_size": 4,
    "available": False,
    "kitchen_hours": None,
    "time_slots": [],
    "message": "The kitchen is closed on Monday 30 November, so we cannot take table bookings "
    "that day.",
    "alternatives": [
        {"date": "2026-12-01", "time": "12:00"},
        {"date": "2026-12-01", "time": "12:30"},
        {"date": "2026-12-01", "time": "13:00"},
    ],
}


def _menu_item(
    id_: str,
    name: str,
    description: str,
    category: str,
    price: float,
    allergens: list[str],
    dietary: list[str],
) -> dict[str, Any]:
    return {
        "id": id_,
        "name": name,
        "description": description,
        "category": category,
        "price": price,
        "included": category == "side" and price == 0,
        "is_available": True,
        "allergens": allergens,
        "dietary_info": dietary,
    }


MENU = {
    "menu_date": "2026-11-29",
    "mains": [
        _menu_item(
            CHICKEN,
            "Roasted Chicken",
            "Half a free-range chicken with sage and onion stuffing",
            "main",
            14.99,
            ["gluten", "sulphites"],
            [],
        ),
        _menu_item(
            WELLINGTON,
            "Beetroot & Butternut Squash Wellington",
            "In puff pastry with a vegetable gravy",
            "main",
            15.49,
            ["gluten", "celery"],
            ["vegetarian", "vegan"],
        ),
    ],
    "sides": [
        _menu_item(
            "71165293-7cdf-44b4-9ad6-d92cb5f9a44a",
            "Roast Potatoes",
            "Crisp roast potatoes",
            "side",
            0.0,
            [],
            ["vegetarian", "vegan"],
        ),
        _menu_item(
            "d26f9a12-5114-44e0-864f-67a7af6353d2",
            "Cauliflower Cheese",
            "An extra side to share",
            "side",
            3.99,
            ["milk", "mustard"],
            ["vegetarian"],
        ),
    ],
    "order_cutoff": "2026-11-28T13:00:00+00:00",
    "cutoff_time": "2026-11-28T13:00:00+00:00",
    "ordering_open": True,
    "deposit_per_guest": "5.00",
    "currency": "GBP",
}

REGULAR_BODY = {
    "booking_type": "regular",
    "date": "2026-11-27",
    "time": "19:00",
    "party_size": 4,
    "customer": {
        "first_name": "Ann",
        "last_name": "Lee",
        "mobile_number": "07700 900123",
        "email": "ann@example.com",
        "sms_opt_in": True,
    },
    "special_requirements": "A quiet table if possible",
    "dietary_requirements": ["vegetarian"],
    "allergies": ["peanuts"],
    "celebration_type": "birthday",
}
SUNDAY_BODY = {
    "booking_type": "sunday_lunch",
    "date": "2026-11-29",
    "time": "13:00",
    "party_size": 2,
    "customer": {
        "first_name": "Raj",
        "last_name": "Patel",
        "mobile_number": "07700 900456",
        "email": "raj@example.com",
        "sms_opt_in": False,
    },
    "menu_selections": [
        {"menu_item_id": CHICKEN, "quantity": 1, "guest_name": "Raj"},
        {"menu_item_id": WELLINGTON, "quantity": 1, "guest_name": "Priya"},
    ],
}
NOTHING_PAID = just_made_summary("2026-11-27", "19:00", Decimal("0"))
#: What the pub's 2025 website sends for Sunday lunch: every dish by name, the included sides
#: once per guest, paid extras on a row named "Table", and fields the service ignores.
WEBSITE_SUNDAY_BODY = {
    "booking_type": "sunday_lunch",
    "date": "2026-11-29",
    "time": "13:00",
    "party_size": 2,
    "customer": {
        "first_name": "Raj",
        "last_name": "Patel",
        "mobile_number": "07700 900456",
        "email": "raj@example.com",
        "sms_opt_in": True,
    },
    "duration_minutes": 120,
    "special_requirements": "SUNDAY ROAST PRE-ORDER",
    "source": "website_wizard",
    "marketing_opt_in": False,
    "menu_selections": [
        {
            "custom_item_name": "Roasted Chicken",
            "item_type": "main",
            "quantity": 1,
            "guest_name": "Raj",
            "price_at_booking": 14.99,
        },
        {
            "custom_item_name": "Roast Potatoes",
            "item_type": "side",
            "quantity": 1,
            "guest_name": "Raj",
            "price_at_booking": 0,
        },
        {
            "custom_item_name": "Beetroot & Butternut Squash Wellington",
            "item_type": "main",
            "quantity": 1,
            "guest_name": "Priya",
            "price_at_booking": 15.49,
        },
        {
            "custom_item_name": "Cauliflower Cheese",
            "item_type": "side",
            "quantity": 1,
            "guest_name": "Table",
            "price_at_booking": 3.99,
        },
    ],
}
CREATED = {
    "booking_id": BOOKING_ID,
    "booking_reference": REF,
    "status": "confirmed",
    "booking_type": "regular",
    "date": "2026-11-27",
    "time": "19:00",
    "party_size": 4,
    "duration_minutes": 120,
    "manage_token": TOKEN,
    "payment_required": False,
    "payment_details": None,
    "confirmation_details": {
        "date": "2026-11-27",
        "time": "19:00",
        "party_size": 4,
        "duration_minutes": 120,
        "special_requirements": "A quiet table if possible",
    },
    "booking_details": {
        "date": "2026-11-27",
        "time": "19:00",
        "party_size": 4,
        "duration_minutes": 120,
        "special_requirements": "A quiet table if possible",
    },
    "cancellation_policy": NOTHING_PAID,
}
CREATED_SUNDAY = {
    "booking_id": SUNDAY_ID,
    "booking_reference": SUNDAY_REF,
    "status": "pending_payment",
    "booking_type": "sunday_lunch",
    "date": "2026-11-29",
    "time": "13:00",
    "party_size": 2,
    "duration_minutes": 120,
    "manage_token": "YxPrhrup3loY9PsXG8sI9Y8jv7e3yXHzuZ07jSRdB7E",
    "payment_required": True,
    "payment_details": {
        "deposit_amount": "10.00",
        "total_amount": "30.48",
        "outstanding_amount": "20.48",
        "currency": "GBP",
        "payment_url": "https://www.paypal.com/checkoutnow?token=5O190127TN364715T",
        "expires_at": "2026-11-24T11:31:35+00:00",
    },
    "confirmation_details": {
        "date": "2026-11-29",
        "time": "13:00",
        "party_size": 2,
        "duration_minutes": 120,
        "special_requirements": None,
    },
    "booking_details": {
        "date": "2026-11-29",
        "time": "13:00",
        "party_size": 2,
        "duration_minutes": 120,
        "special_requirements": None,
    },
    "cancellation_policy": just_made_summary("2026-11-29", "13:00", Decimal("10.00")),
}
FREE_POLICY = {
    "full_refund_until": None,
    "partial_refund_until": None,
    "partial_refund_percentage": 0,
    "refund_percentage_now": 0,
    "refund_amount_now": "0.00",
    "summary": NOTHING_PAID,
}
_DETAIL_COMMON = {
    "booking_id": BOOKING_ID,
    "booking_reference": REF,
    "status": "confirmed",
    "booking_type": "regular",
    "date": "2026-11-27",
    "time": "19:00",
    "party_size": 4,
    "duration_minutes": 120,
    "starts_at": "2026-11-27T19:00:00+00:00",
    "ends_at": "2026-11-27T21:00:00+00:00",
    "special_requirements": "A quiet table if possible",
    "dietary_requirements": ["vegetarian"],
    "allergies": ["peanuts"],
    "celebration_type": "birthday",
    "source": "website",
    "menu_selections": [],
    "payment": None,
    "modification_count": 0,
    "created_at": "2026-11-24T11:01:29+00:00",
    "confirmed_at": "2026-11-24T11:01:29+00:00",
    "cancelled_at": None,
    "cancellation_reason": None,
    "completed_at": None,
    "no_show_at": None,
    "policy_override": False,
    "can_cancel": True,
    "can_modify": True,
    "cancellation_policy": FREE_POLICY,
}
DETAIL_GUEST = {**_DETAIL_COMMON, "customer": {"first_name": "Ann", "last_name": "Lee"}}
STAFF_CUSTOMER = {
    "customer_id": "5bdfc4f2-60f0-4885-a770-94bb6e94a47e",
    "first_name": "Ann",
    "last_name": "Lee",
    "mobile_number": "+447700900123",
    "email": "ann@example.com",
    "table_booking_count": 1,
    "no_show_count": 0,
}
DETAIL_STAFF = {**_DETAIL_COMMON, "customer": STAFF_CUSTOMER}
DETAIL_SUNDAY = {
    **_DETAIL_COMMON,
    "booking_id": SUNDAY_ID,
    "booking_reference": SUNDAY_REF,
    "status": "pending_payment",
    "booking_type": "sunday_lunch",
    "date": "2026-11-29",
    "time": "13:00",
    "party_size": 2,
    "starts_at": "2026-11-29T13:00:00+00:00",
    "ends_at": "2026-11-29T15:00:00+00:00",
    "customer": {"first_name": "Raj", "last_name": "Patel"},
    "special_requirements": None,
    "dietary_requirements": [],
    "allergies": [],
    "celebration_type": None,
    "menu_selections": [
        {
            "menu_item_id": CHICKEN,
            "name": "Roasted Chicken",
            "item_type": "main",
            "quantity": 1,
            "price": "14.99",
            "guest_name": "Raj",
            "special_requests": None,
        },
        {
            "menu_item_id": WELLINGTON,
            "name": "Beetroot & Butternut Squash Wellington",
            "item_type": "main",
            "quantity": 1,
            "price": "15.49",
            "guest_name": "Priya",
            "special_requests": None,
        },
        {
            "menu_item_id": "71165293-7cdf-44b4-9ad6-d92cb5f9a44a",
            "name": "Roast Potatoes",
            "item_type": "side",
            "quantity": 2,
            "price": "0.00",
            "guest_name": None,
            "special_requests": None,
        },
    ],
    "payment": {
        "deposit_amount": "10.00",
        "total_amount": "30.48",
        "outstanding_amount": "20.48",
        "paid_amount": "0.00",
        "status": "pending",
        "currency": "GBP",
        "expires_at": "2026-11-24T11:31:35+00:00",
    },
    "created_at": "2026-11-24T11:01:35+00:00",
    "confirmed_at": None,
    "cancellation_policy": {
        "full_refund_until": "2026-11-27T13:00:00+00:00",
        "partial_refund_until": "2026-11-28T13:00:00+00:00",
        "partial_refund_percentage": 50,
        "refund_percentage_now": 0,
        "refund_amount_now": "0.00",
        "summary": "Nothing has been paid yet, so cancelling now costs nothing. Once the £10.00 "
        "deposit is paid: Cancel before 13:00 on Friday 27 November for a full refund of £10.00. "
        "Cancel before 13:00 on Saturday 28 November for a 50% refund (£5.00). From 13:00 on "
        "Saturday 28 November the payment cannot be refunded.",
    },
}
DETAIL_CHANGED = {
    **DETAIL_GUEST,
    "time": "19:30",
    "party_size": 5,
    "starts_at": "2026-11-27T19:30:00+00:00",
    "ends_at": "2026-11-27T21:30:00+00:00",
    "modification_count": 1,
    "cancellation_policy": {
        **FREE_POLICY,
        "summary": "Nothing has been paid for this booking, so you can cancel it free of charge "
        "until it starts at 19:30 on Friday 27 November.",
    },
}
DETAIL_NO_SHOW = {
    **DETAIL_STAFF,
    "status": "no_show",
    "no_show_at": "2026-11-27T19:45:00+00:00",
    "can_cancel": False,
    "can_modify": False,
    "cancellation_policy": {
        **FREE_POLICY,
        "refund_percentage_now": 0,
        "summary": "This booking can no longer be cancelled because it has been marked as a "
        "no-show.",
    },
}

# Requests bodies of the webhooks, which the routes read themselves -----------------------------

TWILIO_STATUS_FORM = (
    "MessageSid=SM5f1e2d3c4b5a69788796a5b4c3d2e1f0&MessageStatus=delivered"
    "&AccountSid=AC0123456789abcdef0123456789abcdef&To=%2B447700900123"
    "&From=%2B447700900000&ApiVersion=2010-04-01"
)
TWILIO_FAILED_FORM = (
    "MessageSid=SM5f1e2d3c4b5a69788796a5b4c3d2e1f0&MessageStatus=undelivered&ErrorCode=30003"
    "&ErrorMessage=Unreachable+destination+handset&To=%2B447700900123&From=%2B447700900000"
)
TWILIO_STOP_FORM = (
    "MessageSid=SM0a1b2c3d4e5f60718293a4b5c6d7e8f9&AccountSid=AC0123456789abcdef0123456789abcdef"
    "&From=%2B447700900123&To=%2B447700900000&Body=STOP&NumMedia=0"
)


def _form_body(
    description: str, properties: dict[str, str], examples: dict[str, Example]
) -> dict[str, Any]:
    return {
        "required": True,
        "description": description,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "properties": {
                        name: {"type": "string", "description": text}
                        for name, text in properties.items()
                    },
                    "additionalProperties": {"type": "string"},
                },
                "examples": examples,
            }
        },
    }


PAYPAL_CAPTURE_EVENT = {
    "id": "WH-2WR32451HC0233532-67976317FL4543714",
    "event_type": "PAYMENT.CAPTURE.COMPLETED",
    "create_time": "2026-11-24T11:05:12Z",
    "resource_type": "capture",
    "resource": {
        "id": "42311647XV020574X",
        "status": "COMPLETED",
        "amount": {"currency_code": "GBP", "value": "10.00"},
        "custom_id": SUNDAY_ID,
        "supplementary_data": {"related_ids": {"order_id": "5O190127TN364715T"}},
    },
}
PAYPAL_REFUND_EVENT = {
    "id": "WH-1GE84257G0350133W-6RW800890C634293G",
    "event_type": "PAYMENT.CAPTURE.REFUNDED",
    "create_time": "2026-11-25T09:30:00Z",
    "resource_type": "refund",
    "resource": {
        "id": "1JU08902781691411",
        "status": "COMPLETED",
        "amount": {"currency_code": "GBP", "value": "10.00"},
        "links": [
            {
                "href": "https://api.paypal.com/v2/payments/captures/42311647XV020574X",
                "rel": "up",
                "method": "GET",
            }
        ],
    },
}

CRON_UNAUTHORIZED = unauthorized(
    (
        "no or a wrong `Authorization: Bearer <CRON_SECRET>`",
        error("UNAUTHORIZED", "This endpoint is for the scheduler."),
    ),
    (
        "outside development with no `CRON_SECRET` configured",
        error("UNAUTHORIZED", "CRON_SECRET is not configured."),
    ),
)
CRON_AUTH = (
    "\n\n**Auth:** `Authorization: Bearer <CRON_SECRET>` (Vercel Cron sends it; see "
    "`vercel.json` for the schedule). Safe to run twice at once; not rate limited."
)

PAYMENT_RETURN_EXAMPLE_QUERY = {"token": "5O190127TN364715T", "PayerID": "FSMVU44LF3YUS"}

# The operations ---------------------------------------------------------------------------------

OPERATIONS: dict[tuple[str, str], Operation] = {
    ("GET", "/health"): Operation(
        summary="Health check",
        description="Whether the service is up and its database answers. For load balancers "
        "and uptime checks; no credential, no rate limit, changes nothing.",
        security=OPEN,
        responses={
            200: Response(
                "The service and its database answer.",
                {"ok": example("healthy", {"status": "ok", "database": "ok"})},
            ),
            503: Response(
                "The database does not answer (`Retry-After: 5`). The body carries the error "
                "envelope as well as the status fields.",
                {
                    "service_unavailable": example(
                        "the database does not answer",
                        {
                            "status": "unavailable",
                            "database": "unavailable",
                            **error("SERVICE_UNAVAILABLE", "The database is not answering."),
                        },
                    )
                },
                headers={"Retry-After": RETRY_AFTER["Retry-After"]},
            ),
        },
    ),
    ("GET", "/api/table-bookings/availability"): Operation(
        summary="Availability for a date",
        description="The bookable start times for one date and party: every slot of the "
        "kitchen's hours with its free covers and, when it cannot be booked, why (`reason`: "
        "`FULL`, `TOO_SOON`, `IN_PAST`, `CUT_OFF`, `TOO_FAR`, `PARTY_TOO_LARGE`, `NOT_SUNDAY`). "
        "When nothing is bookable, `message` says why in words and `alternatives` offers the "
        "nearest bookable slots. Read only; what it offers is what `POST /api/table-bookings` "
        "accepts (the same rules, in the database), though a slot can fill up in between."
        + key_auth("read:table_bookings")
        + " Availability is also limited per client address (120 requests a minute by "
        "default, `AVAILABILITY_LIMIT_PER_MINUTE`).",
        security=KEY,
        parameters={
            "date": {"friday": example("a Friday", "2026-11-27")},
            "party_size": {"four": example("four guests", 4)},
            "booking_type": {
                "regular": example("a regular table", "regular"),
                "sunday_lunch": example("Sunday lunch (Sundays only)", "sunday_lunch"),
            },
            "purpose": {
                "food": example("a meal (the kitchen's hours)", "food"),
                "drinks": example("drinks (the pub's hours)", "drinks"),
            },
            "is_outside_seating": {"inside": example("inside", False)},
            "requires_accessible_table": {"any": example("any table", False)},
            "high_chair_count": {"one": example("one high chair", 1)},
        },
        responses={
            200: Response(
                "The slots of that date.",
                {
                    "open": example("a day with free tables", ok(AVAILABILITY)),
                    "closed": example("the kitchen is closed that day", ok(AVAILABILITY_CLOSED)),
                },
            ),
            400: invalid(
                (
                    "`date` is missing or not YYYY-MM-DD, or `party_size` or `booking_type` is "
                    "out of range",
                    error(
                        "VALIDATION_ERROR",
                        "The request is not valid: date.",
                        [{"field": "date", "message": "Field required", "type": "missing"}],
                    ),
                )
            ),
            401: unauthorized(
                ("no API key", NO_KEY), ("unknown, inactive or expired key", BAD_KEY)
            ),
            403: forbidden(
                ("the key lacks `read:table_bookings`", lacks_scope("read:table_bookings"))
            ),
            429: key_rate_limited("client:read:table_bookings:203.0.113.7"),
            503: unavailable(),
        },
    ),
    ("GET", "/api/table-bookings/menu/sunday-lunch"): Operation(
        summary="The Sunday lunch menu",
        description="The mains and sides for one Sunday with prices (JSON numbers, in pounds), "
        "allergens and dietary information, the deposit per guest and the ordering cut-off "
        "(13:00 the day before, London time; `ordering_open` says whether it has passed). "
        "Without `date`, the menu of the next Sunday that can still be ordered (its cut-off "
        "ahead, the pub and kitchen open, within the booking window). Every listed dish is "
        "served (`is_available: true`). Sides with `included: true` come with every main at no "
        "charge; choose one main per guest when booking. Read only."
        + key_auth("read:table_bookings"),
        security=KEY,
        parameters={"date": {"sunday": example("a Sunday", "2026-11-29")}},
        responses={
            200: Response(
                "The menu for that Sunday (or the next orderable one).",
                {"menu": example("the menu", ok(MENU))},
            ),
            400: invalid(
                (
                    "`date` is not YYYY-MM-DD",
                    error(
                        "VALIDATION_ERROR",
                        "The request is not valid: date.",
                        [
                            {
                                "field": "date",
                                "message": "Input should be a valid date or datetime, invalid "
                                "character in year",
                                "type": "date_from_datetime_parsing",
                            }
                        ],
                    ),
                )
            ),
            401: unauthorized(
                ("no API key", NO_KEY), ("unknown, inactive or expired key", BAD_KEY)
            ),
            403: forbidden(
                ("the key lacks `read:table_bookings`", lacks_scope("read:table_bookings"))
            ),
            422: failure(
                "The date is not a Sunday.",
                (
                    "the date is not a Sunday",
                    error(
                        "POLICY_VIOLATION",
                        "Sunday lunch is served on Sundays only, and Saturday 28 November is "
                        "not a Sunday.",
                        {"reason": "NOT_SUNDAY"},
                    ),
                ),
            ),
            429: key_rate_limited(),
            503: unavailable(),
        },
    ),
    ("POST", "/api/table-bookings"): Operation(
        summary="Create a booking",
        description="Book a table. A regular booking is `confirmed` at once. A Sunday lunch "
        "needs `menu_selections` with exactly one main per guest (each dish by `menu_item_id`, "
        "or by `custom_item_name` as the menu names it; included sides are added for every "
        "guest, prices come from the menu) and is created as `pending_payment`: its covers are "
        "held until `payment_details.expires_at` while the guest pays the deposit at "
        "`payment_details.payment_url` (null when PayPal cannot be reached; then call "
        "`POST /api/table-bookings/{reference}/payment`). Where deposits cannot be taken at all "
        "(PayPal not configured, outside development) a Sunday lunch is refused with 503 and "
        "nothing is written.\n\n"
        "**Accepted and ignored** (what the pub's 2025 website sends): `duration_minutes` "
        "(every booking lasts the pub's 120 minutes), `marketing_opt_in`, and per selection "
        "`item_type` and `price_at_booking`. `source` is the caller's channel: a key's "
        "bookings are `website` whatever it says; staff may name `phone`, `walk-in`, `email` "
        "or `staff` (the default). The answer repeats what a confirmation screen shows in "
        "`confirmation_details` (and, the same, `booking_details`) and gives "
        "`cancellation_policy` in words.\n\n"
        "The response carries `manage_token`, shown only here: give it to the guest (on your "
        "confirmation page, or in a link to your own booking page) so they can view, change "
        "and cancel. The texts and emails the service sends do not carry it (it is stored "
        "only as a hash).\n\n"
        "**Idempotency:** send an `Idempotency-Key` header (any printable text up to 200 "
        "characters, unique per booking attempt). Retrying with the same key and body returns "
        "the first response (same reference and token) and creates nothing; the same key with "
        "a different body is 409 `IDEMPOTENCY_KEY_CONFLICT`. Keys are kept for 24 hours."
        + acting_auth("write:table_bookings", "create", guest=False)
        + " Besides the key's limit, at most 20 bookings an hour are taken for one phone "
        "number (`CREATE_LIMIT_PER_PHONE_PER_HOUR`; staff are exempt). `override` is for staff "
        "only.",
        security=KEY_OR_STAFF,
        parameters={"Idempotency-Key": {"key": example("one key per booking attempt", "web-7f3a")}},
        body={
            "regular": example("a table for four", REGULAR_BODY),
            "sunday_lunch": example("Sunday lunch for two, one main each", SUNDAY_BODY),
            "website_2025": example(
                "as the pub's 2025 website sends it (dishes by name; `duration_minutes`, "
                "`source`, `marketing_opt_in`, `item_type` and `price_at_booking` ignored)",
                WEBSITE_SUNDAY_BODY,
            ),
        },
        responses={
            201: Response(
                "Booked (or, for a repeated `Idempotency-Key`, the first response again).",
                {
                    "regular": example("a regular table, confirmed", ok(CREATED)),
                    "sunday_lunch": example(
                        "Sunday lunch, held until the deposit is paid", ok(CREATED_SUNDAY)
                    ),
                },
            ),
            400: invalid(
                (
                    "a field is missing or malformed (`details` lists each)",
                    error(
                        "VALIDATION_ERROR",
                        "The request is not valid: time, customer.mobile_number.",
                        [
                            {
                                "field": "time",
                                "message": "Value error, must be a time HH:MM (24-hour clock)",
                                "type": "value_error",
                            },
                            {
                                "field": "customer.mobile_number",
                                "message": "Field required",
                                "type": "missing",
                            },
                        ],
                    ),
                ),
                (
                    "the mobile number is not a phone number",
                    error(
                        "VALIDATION_ERROR",
                        "That phone number doesn't look right. Please check it, for example "
                        "07700 900123, or include the country code, for example +1 202 555 "
                        "0123.",
                        {"field": "customer.mobile_number"},
                    ),
                ),
            ),
            401: unauthorized(
                ("no credential", NO_CREDENTIAL),
                ("unknown, inactive or expired key", BAD_KEY),
                ("expired staff sign-in", STAFF_EXPIRED),
            ),
            403: forbidden(
                ("the key lacks `write:table_bookings`", lacks_scope("write:table_bookings")),
                ("the staff role lacks `table_bookings:create`", role_lacks("create")),
                (
                    "`override` sent by a key",
                    error(
                        "FORBIDDEN",
                        "Only staff may override the booking policy.",
                        {"field": "override"},
                    ),
                ),
            ),
            409: failure(
                "The slot is full, or the key was used for another request.",
                (
                    "not enough covers free at that time",
                    error(
                        "NO_AVAILABILITY",
                        "Sorry, only 3 covers are free at 19:00 on Friday 27 November.",
                        {"available_capacity": 3},
                    ),
                ),
                (
                    "the `Idempotency-Key` was used with a different body",
                    error(
                        "IDEMPOTENCY_KEY_CONFLICT",
                        "This Idempotency-Key was already used with a different request.",
                    ),
                ),
                (
                    "unpaid Sunday lunch holds already take their share of that time's covers",
                    error(
                        "NO_AVAILABILITY",
                        "Sorry, no more Sunday lunch tables can be held for payment at 13:00 on "
                        "Sunday 29 November. Please choose another time, or call us on "
                        "01753 682707.",
                        {"reason": "UNPAID_HOLDS", "available_capacity": 5},
                    ),
                ),
            ),
            413: too_large(),
            422: failure(
                "The pub's booking rules refuse it; `details.reason` says which.",
                (
                    "the kitchen is closed that day or at that time (`KITCHEN_CLOSED`); also "
                    "`NOT_A_SLOT`, `TOO_SOON`, `TOO_FAR`, `PARTY_TOO_LARGE`, `CUT_OFF`, "
                    "`NOT_SUNDAY`",
                    error(
                        "POLICY_VIOLATION",
                        "The kitchen is not serving at 23:00. On Friday 27 November food is "
                        "served from 12:00 to 21:30, and the last table can be booked for 21:00.",
                        {"reason": "KITCHEN_CLOSED"},
                    ),
                ),
                (
                    "a time that is not one of the day's slots (`NOT_A_SLOT`)",
                    error(
                        "POLICY_VIOLATION",
                        "Tables are booked every 30 minutes from 12:00, so 19:10 is not a time "
                        "we can book. The nearest times are 19:00 and 19:30.",
                        {
                            "reason": "NOT_A_SLOT",
                            "slot_interval_minutes": 30,
                            "nearest": ["19:00", "19:30"],
                        },
                    ),
                ),
                (
                    "more than 20 guests",
                    error(
                        "POLICY_VIOLATION",
                        "We take bookings online for up to 20 guests. For a larger party please "
                        "call us on 01753 682707.",
                        {"reason": "PARTY_TOO_LARGE"},
                    ),
                ),
                (
                    "a menu item is unknown or no longer served",
                    error(
                        "INVALID_MENU_ITEMS",
                        "Some of the chosen dishes are not on the Sunday lunch menu any more.",
                        {"menu_item_ids": ["00000000-0000-4000-8000-000000000000"]},
                    ),
                ),
                (
                    "Sunday lunch without exactly one main per guest",
                    error(
                        "INVALID_MEAL_SELECTION",
                        "Sunday lunch needs one main course per guest: 3 guests, 2 mains chosen.",
                        {"party_size": 3, "mains": 2},
                    ),
                ),
            ),
            429: failure(
                "A rate limit is used up; wait `Retry-After` seconds (or `details.retry_after`).",
                (
                    "the API key's hourly limit is used up",
                    error(
                        "RATE_LIMIT_EXCEEDED",
                        "Too many requests. Please wait and try again.",
                        {"retry_after": 1260, "limit": "api_key"},
                    ),
                ),
                (
                    "too many bookings for one phone number in an hour",
                    error(
                        "RATE_LIMIT_EXCEEDED",
                        "Too many bookings for this phone number in the last hour. Please call "
                        "us on 01753 682707.",
                        {"reset_at": "2026-11-24T12:00:00+00:00", "retry_after": 1800, "limit": 20},
                    ),
                ),
                (
                    "the phone number (or the API key) already holds as many unpaid Sunday "
                    "lunches as it may (`UNPAID_HOLDS_PER_PHONE`, `UNPAID_HOLDS_PER_CLIENT`)",
                    error(
                        "RATE_LIMIT_EXCEEDED",
                        "This phone number already has 2 Sunday lunch bookings waiting for the "
                        "deposit. Please pay for one of them first, or call us on 01753 682707.",
                        {
                            "reason": "UNPAID_HOLDS_PER_PHONE",
                            "limit": 2,
                            "reset_at": "2026-11-24T10:30:00+00:00",
                            "retry_after": 1800,
                        },
                    ),
                ),
                headers={**RETRY_AFTER, **RATE_LIMIT_HEADERS},
            ),
            503: unavailable(
                (
                    "the staff sign-in cannot be checked (JWKS unreachable)",
                    STAFF_CHECK_DOWN,
                ),
                (
                    "a booking that owes a deposit (Sunday lunch, a large group, a seasonal "
                    "period) while deposits cannot be taken: PayPal not configured, down or "
                    "refusing the order (nothing is written)",
                    error("SERVICE_UNAVAILABLE", MSG_NO_DEPOSITS),
                ),
            ),
        },
    ),
    ("GET", "/api/table-bookings"): Operation(
        summary="List bookings",
        description="Bookings in date and time order, a page at a time (`page`, `page_size` up "
        "to 200; `total` counts all matches). Filter by date range (`date_from`, `date_to`, "
        "inclusive), `status` (comma-separated), `booking_type`, or `search` (part of the "
        "reference, the guest's name, or at least four digits of their phone number, UK style "
        "or +44). For the pub's staff tools: it shows guests' phone numbers. Read only."
        + acting_auth("manage:table_bookings", "view", guest=False),
        security=KEY_OR_STAFF,
        parameters={
            "date_from": {"from": example("from this date", "2026-11-27")},
            "date_to": {"to": example("to this date, inclusive", "2026-11-29")},
            "status": {"open": example("open bookings", "confirmed,pending_payment")},
            "booking_type": {"sunday_lunch": example("Sunday lunches only", "sunday_lunch")},
            "search": {
                "name": example("by name", "Lee"),
                "phone": example("by phone", "07700 900123"),
            },
            "page": {"first": example("the first page", 1)},
            "page_size": {"fifty": example("fifty a page", 50)},
        },
        responses={
            200: Response(
                "One page of bookings.",
                {
                    "page": example(
                        "one booking on the page",
                        ok(
                            {
                                "items": [
                                    {
                                        "booking_id": BOOKING_ID,
                                        "booking_reference": REF,
                                        "status": "confirmed",
                                        "booking_type": "regular",
                                        "date": "2026-11-27",
                                        "time": "19:00",
                                        "party_size": 4,
                                        "customer_name": "Ann Lee",
                                        "mobile_number": "+447700900123",
                                        "special_requirements": "A quiet table if possible",
                                        "allergies": ["peanuts"],
                                        "source": "website",
                                    }
                                ],
                                "page": 1,
                                "page_size": 50,
                                "total": 1,
                            }
                        ),
                    )
                },
            ),
            400: invalid(
                (
                    "an unknown status, or a malformed date or number",
                    error("VALIDATION_ERROR", "Unknown status: booked.", [{"field": "status"}]),
                )
            ),
            401: unauthorized(
                ("no credential", NO_CREDENTIAL),
                ("unknown, inactive or expired key", BAD_KEY),
                ("expired staff sign-in", STAFF_EXPIRED),
            ),
            403: forbidden(
                ("the key lacks `manage:table_bookings`", lacks_scope("manage:table_bookings")),
                ("the staff role lacks `table_bookings:view`", role_lacks("view")),
            ),
            429: key_rate_limited(),
            503: staff_unavailable(),
        },
    ),
    ("GET", "/api/table-bookings/{reference}"): Operation(
        summary="One booking",
        description="The booking with its menu choices and payment, whether it can still be "
        "cancelled (`can_cancel`) or changed (`can_modify`), and the cancellation policy with "
        "the refund due if cancelled now (`cancellation_policy.summary` is a paragraph to show "
        "the guest). A guest sees their own name; staff and manage keys also see the guest's "
        "contact details and history. Read only."
        + acting_auth("manage:table_bookings", "view", guest=True),
        security=GUEST_KEY_OR_STAFF,
        parameters={
            "reference": {"booking": example("a booking reference", REF)},
            "token": GUEST_TOKEN_PARAMETER,
        },
        responses={
            200: Response(
                "The booking.",
                {
                    "guest": example("as the guest sees it", ok(DETAIL_GUEST)),
                    "staff": example("as staff or a manage key see it", ok(DETAIL_STAFF)),
                    "sunday_lunch": example(
                        "a Sunday lunch awaiting its deposit", ok(DETAIL_SUNDAY)
                    ),
                },
            ),
            400: invalid(("the reference is malformed", BAD_REFERENCE)),
            401: unauthorized(
                ("no credential", NO_GUEST_CREDENTIAL),
                ("unknown, inactive or expired key", BAD_KEY),
                ("expired staff sign-in", STAFF_EXPIRED),
            ),
            403: forbidden(
                ("the key lacks `manage:table_bookings`", lacks_scope("manage:table_bookings")),
                ("the staff role lacks `table_bookings:view`", role_lacks("view")),
            ),
            404: not_found(),
            429: key_rate_limited(),
            503: staff_unavailable(),
        },
    ),
    ("PATCH", "/api/table-bookings/{reference}"): Operation(
        summary="Change a booking",
        description="Change the date, time, party size, or the requirements. Send only what "
        "changes; `null` clears a text field or a list. A new date, time or party size is "
        "checked like a new booking (hours, notice, capacity) and the guest is told by text "
        "and email. Not for a booking that is cancelled, completed, a no-show, started, or whose "
        "deposit hold ran out (409). The party size of a Sunday lunch goes with the roasts "
        "ordered and cannot be changed online (422). Changing to the same values again changes "
        "nothing, so a retry is safe. `override` is for staff only."
        + acting_auth("manage:table_bookings", "edit", guest=True),
        security=GUEST_KEY_OR_STAFF,
        parameters={
            "reference": {"booking": example("a booking reference", REF)},
            "token": GUEST_TOKEN_PARAMETER,
        },
        body={
            "move": example("a later time, one more guest", {"time": "19:30", "party_size": 5}),
            "requirements": example(
                "new requirements",
                {"special_requirements": "High chair please", "allergies": ["peanuts", "sesame"]},
            ),
        },
        responses={
            200: Response(
                "The booking as it now is.",
                {"changed": example("moved to 19:30 for five", ok(DETAIL_CHANGED))},
            ),
            400: invalid(
                (
                    "an empty change",
                    error(
                        "VALIDATION_ERROR",
                        "Send at least one field to change.",
                        [{"field": "body"}],
                    ),
                ),
                ("the reference is malformed", BAD_REFERENCE),
            ),
            401: unauthorized(
                ("no credential", NO_GUEST_CREDENTIAL),
                ("unknown, inactive or expired key", BAD_KEY),
                ("expired staff sign-in", STAFF_EXPIRED),
            ),
            403: forbidden(
                ("the key lacks `manage:table_bookings`", lacks_scope("manage:table_bookings")),
                ("the staff role lacks `table_bookings:edit`", role_lacks("edit")),
                (
                    "`override` sent by a guest or a key",
                    error(
                        "FORBIDDEN",
                        "Only staff may override the booking policy.",
                        {"field": "override"},
                    ),
                ),
            ),
            404: not_found(),
            409: failure(
                "The booking cannot change now, or the new slot is full.",
                (
                    "cancelled, completed, no-show, started, or its deposit hold ran out",
                    error(
                        "BOOKING_NOT_MODIFIABLE",
                        "This booking has been cancelled.",
                        {"status": "cancelled"},
                    ),
                ),
                (
                    "not enough covers free at the new time",
                    error(
                        "NO_AVAILABILITY",
                        "Sorry, we are fully booked at 19:30 on Friday 27 November.",
                        {"available_capacity": 0},
                    ),
                ),
            ),
            413: too_large(),
            422: failure(
                "The pub's booking rules refuse the change; `details.reason` says which.",
                (
                    "the new time is outside the kitchen's hours (also `NOT_A_SLOT`, `TOO_SOON`, "
                    "`TOO_FAR`, `PARTY_TOO_LARGE`, ...)",
                    error(
                        "POLICY_VIOLATION",
                        "The kitchen is not serving at 23:00. On Friday 27 November food is "
                        "served from 12:00 to 21:30, and the last table can be booked for 21:00.",
                        {"reason": "KITCHEN_CLOSED"},
                    ),
                ),
                (
                    "a Sunday lunch's party size",
                    error(
                        "POLICY_VIOLATION",
                        "The number of guests for Sunday lunch goes with the roasts ordered and "
                        "the deposit; to change it please call us on 01753 682707.",
                        {"reason": "SUNDAY_LUNCH_PARTY_SIZE"},
                    ),
                ),
            ),
            429: key_rate_limited(),
            503: staff_unavailable(),
        },
    ),
    ("POST", "/api/table-bookings/{reference}/cancel"): Operation(
        summary="Cancel a booking",
        description="Cancel, freeing the table. For a paid Sunday lunch deposit the refund "
        "follows the policy copied onto the booking when it was made (`refund` in the "
        "response; it is sent to PayPal in the background). The guest is told by text and "
        "email. A guest cannot cancel once the booking has started. The body is optional "
        "(`reason`); `refund_amount` overrides the policy's refund and is for staff with the "
        "pub's `table_bookings:refund` permission only. Not idempotent as such: a second "
        "cancel is 409 `BOOKING_NOT_MODIFIABLE`, which a retry can treat as done."
        + acting_auth("manage:table_bookings", "cancel", guest=True),
        security=GUEST_KEY_OR_STAFF,
        parameters={
            "reference": {"booking": example("a booking reference", SUNDAY_REF)},
            "token": GUEST_TOKEN_PARAMETER,
        },
        body={
            "reason": example("with a reason", {"reason": "Plans changed"}),
            "staff_refund": example(
                "staff refunding a different amount",
                {"reason": "Goodwill", "refund_amount": "10.00"},
            ),
        },
        responses={
            200: Response(
                "Cancelled.",
                {
                    "cancelled": example(
                        "cancelled before anything was paid",
                        ok(
                            {
                                "booking_id": SUNDAY_ID,
                                "booking_reference": SUNDAY_REF,
                                "status": "cancelled",
                                "cancelled_at": "2026-11-24T11:01:42+00:00",
                                "refund": {
                                    "eligible": False,
                                    "percentage": 0,
                                    "amount": "0.00",
                                    "paid_amount": "0.00",
                                    "currency": "GBP",
                                },
                            }
                        ),
                    ),
                    "refunded": example(
                        "a paid deposit, cancelled two days ahead",
                        ok(
                            {
                                "booking_id": SUNDAY_ID,
                                "booking_reference": SUNDAY_REF,
                                "status": "cancelled",
                                "cancelled_at": "2026-11-27T12:30:00+00:00",
                                "refund": {
                                    "eligible": True,
                                    "percentage": 50,
                                    "amount": "5.00",
                                    "paid_amount": "10.00",
                                    "currency": "GBP",
                                },
                            }
                        ),
                    ),
                },
            ),
            400: invalid(
                (
                    "`refund_amount` negative or not money",
                    error(
                        "VALIDATION_ERROR",
                        "The request is not valid: refund_amount.",
                        [
                            {
                                "field": "refund_amount",
                                "message": "Input should be greater than or equal to 0",
                                "type": "greater_than_equal",
                            }
                        ],
                    ),
                ),
                (
                    "`refund_amount` more than was paid",
                    error(
                        "VALIDATION_ERROR",
                        "The refund must be between 0.00 and the 10.00 paid and not yet refunded.",
                        [{"field": "refund_amount", "message": "out of range"}],
                    ),
                ),
            ),
            401: unauthorized(
                ("no credential", NO_GUEST_CREDENTIAL),
                ("unknown, inactive or expired key", BAD_KEY),
                ("expired staff sign-in", STAFF_EXPIRED),
            ),
            403: forbidden(
                ("the key lacks `manage:table_bookings`", lacks_scope("manage:table_bookings")),
                ("the staff role lacks `table_bookings:cancel`", role_lacks("cancel")),
                (
                    "`refund_amount` sent by a guest, a key or staff without "
                    "`table_bookings:refund`",
                    error(
                        "FORBIDDEN",
                        "Only staff with the refund permission (table_bookings:refund) may set "
                        "the refund.",
                        {"field": "refund_amount", "required": "table_bookings:refund"},
                    ),
                ),
            ),
            404: not_found(),
            409: failure(
                "The booking cannot be cancelled.",
                (
                    "already cancelled, completed or a no-show, or (for a guest) started",
                    error(
                        "BOOKING_NOT_MODIFIABLE",
                        "This booking has already been cancelled.",
                        {"status": "cancelled"},
                    ),
                ),
            ),
            413: too_large(),
            429: key_rate_limited(),
            503: staff_unavailable(),
        },
    ),
    ("POST", "/api/table-bookings/{reference}/status"): Operation(
        summary="Mark completed or no-show",
        description="For the pub's staff tools: record that the guests came (`completed`) or "
        "never came (`no_show`; it counts on the guest's record), either only once the "
        "booking's start time has passed. Only a `confirmed` booking can be marked, once."
        + acting_auth("manage:table_bookings", "edit", guest=False),
        security=KEY_OR_STAFF,
        parameters={"reference": {"booking": example("a booking reference", REF)}},
        body={
            "no_show": example("they never came", {"status": "no_show"}),
            "completed": example("they came and went", {"status": "completed"}),
        },
        responses={
            200: Response(
                "The booking with its new status.",
                {"no_show": example("marked as a no-show", ok(DETAIL_NO_SHOW))},
            ),
            400: invalid(
                (
                    "a status other than completed or no_show",
                    error(
                        "VALIDATION_ERROR",
                        "The request is not valid: status.",
                        [
                            {
                                "field": "status",
                                "message": "Input should be 'completed' or 'no_show'",
                                "type": "literal_error",
                            }
                        ],
                    ),
                ),
                ("the reference is malformed", BAD_REFERENCE),
            ),
            401: unauthorized(
                ("no credential", NO_CREDENTIAL),
                ("unknown, inactive or expired key", BAD_KEY),
                ("expired staff sign-in", STAFF_EXPIRED),
            ),
            403: forbidden(
                ("the key lacks `manage:table_bookings`", lacks_scope("manage:table_bookings")),
                ("the staff role lacks `table_bookings:edit`", role_lacks("edit")),
            ),
            404: not_found(),
            409: failure(
                "The booking is not confirmed.",
                (
                    "already completed, a no-show, cancelled or awaiting payment",
                    error(
                        "BOOKING_NOT_MODIFIABLE",
                        "Only a confirmed booking can be marked no-show; this one is completed.",
                        {"status": "completed"},
                    ),
                ),
            ),
            413: too_large(),
            422: failure(
                "Too early: the booking has not started yet.",
                (
                    "a no-show before the booking starts",
                    error(
                        "POLICY_VIOLATION",
                        "A booking can be marked as a no-show only after it starts (19:00).",
                        {"reason": "NOT_STARTED"},
                    ),
                ),
                (
                    "completed before the booking starts",
                    error(
                        "POLICY_VIOLATION",
                        "A booking can be marked completed only after it starts (19:00).",
                        {"reason": "NOT_STARTED"},
                    ),
                ),
            ),
            429: key_rate_limited(),
            503: staff_unavailable(),
        },
    ),
    ("POST", "/api/table-bookings/{reference}/payment"): Operation(
        summary="Start (or resume) paying the deposit",
        description="For a Sunday lunch awaiting its deposit: a PayPal approval link to send "
        "the guest to (`payment_url`). Calling it again reuses the open PayPal order while its "
        "amount is unchanged, so it is safe to retry. After approving, PayPal sends the guest "
        "to `GET /api/table-bookings/payment/return`, which confirms the booking. Without PayPal "
        "configured (the embedded demo) it answers 503."
        + acting_auth("write:table_bookings", "edit", guest=True),
        security=GUEST_KEY_OR_STAFF,
        parameters={
            "reference": {"booking": example("a Sunday lunch reference", SUNDAY_REF)},
            "token": GUEST_TOKEN_PARAMETER,
        },
        responses={
            200: Response(
                "Where to pay.",
                {
                    "link": example(
                        "the PayPal approval link",
                        ok(
                            {
                                "booking_reference": SUNDAY_REF,
                                "payment_url": "https://www.paypal.com/checkoutnow?token="
                                "5O190127TN364715T",
                                "order_id": "5O190127TN364715T",
                                "amount": "10.00",
                                "currency": "GBP",
                                "expires_at": "2026-11-24T11:31:35+00:00",
                            }
                        ),
                    )
                },
            ),
            400: invalid(("the reference is malformed", BAD_REFERENCE)),
            401: unauthorized(
                ("no credential", NO_GUEST_CREDENTIAL),
                ("unknown, inactive or expired key", BAD_KEY),
                ("expired staff sign-in", STAFF_EXPIRED),
            ),
            403: forbidden(
                ("the key lacks `write:table_bookings`", lacks_scope("write:table_bookings")),
                ("the staff role lacks `table_bookings:edit`", role_lacks("edit")),
            ),
            404: not_found(),
            409: failure(
                "Nothing to pay.",
                (
                    "already paid, not awaiting a deposit, or the hold ran out",
                    error(
                        "BOOKING_NOT_MODIFIABLE",
                        "The deposit for this booking has already been paid.",
                        {"reason": "ALREADY_PAID"},
                    ),
                ),
            ),
            429: key_rate_limited(),
            503: unavailable(
                (
                    "PayPal is not configured or does not answer",
                    error(
                        "SERVICE_UNAVAILABLE",
                        "Card payments are not available right now. Please call the pub.",
                    ),
                )
            ),
        },
    ),
    ("GET", "/api/table-bookings/payment/return"): Operation(
        summary="PayPal's return: capture and confirm",
        description="Where PayPal sends the guest's browser after they approve the deposit "
        "(`token` is PayPal's order id). The deposit is captured, checked against the amount "
        "due and the booking confirmed; then the browser is redirected (303) to the pub's "
        "success page (`PAYMENT_SUCCESS_URL?ref=...&outcome=...`, by default the website's "
        "`/booking-confirmation`) or failure page (`PAYMENT_FAILURE_URL?ref=...&outcome=...`, "
        "or `?reason=...` when no booking is known); the reference's parameter is "
        "`PAYMENT_REFERENCE_PARAM` (`ref`). A caller sending `Accept: application/json` gets "
        "the envelope instead, and the errors below. Idempotent: a reloaded page captures "
        "nothing twice (`outcome: already_confirmed`). A capture for a booking whose hold was "
        "released is refunded in full (`released`).\n\n**Auth:** none; the PayPal order id "
        "is the credential. Not rate limited.",
        security=OPEN,
        parameters={
            "token": {"order": example("PayPal's order id", "5O190127TN364715T")},
            "PayerID": {"payer": example("PayPal's payer id", "FSMVU44LF3YUS")},
        },
        responses={
            200: Response(
                "With `Accept: application/json`: what happened.",
                {
                    "confirmed": example(
                        "the deposit was taken and the booking confirmed",
                        ok(
                            {
                                "booking_reference": SUNDAY_REF,
                                "outcome": "confirmed",
                                "confirmed": True,
                            }
                        ),
                    ),
                    "released": example(
                        "paid after the table was released: refunded in full",
                        ok(
                            {
                                "booking_reference": SUNDAY_REF,
                                "outcome": "released",
                                "confirmed": False,
                            }
                        ),
                    ),
                },
            ),
            303: Response(
                "To the success (or failure) page of the pub's website (`Location`).",
                {},
                media_type="",
                headers={
                    "Location": {
                        "description": "e.g. https://www.the-anchor.pub/booking-confirmation"
                        "?ref=TB-79F95CB4&outcome=confirmed",
                        "schema": {"type": "string"},
                    }
                },
            ),
            400: invalid(
                (
                    "`token` missing (answered as JSON even to a browser)",
                    error(
                        "VALIDATION_ERROR",
                        "The request is not valid: token.",
                        [{"field": "token", "message": "Field required", "type": "missing"}],
                    ),
                )
            ),
            404: failure(
                "With `Accept: application/json`: no booking has this PayPal order.",
                (
                    "unknown order id",
                    error("NOT_FOUND", "There is no booking for that payment."),
                ),
            ),
            409: failure(
                "With `Accept: application/json`: PayPal refused the capture.",
                (
                    "PayPal did not take the payment",
                    error(
                        "BOOKING_NOT_MODIFIABLE",
                        "PayPal did not take the payment. Please try again or use another card.",
                        {"reason": "INSTRUMENT_DECLINED"},
                    ),
                ),
            ),
            503: unavailable(
                (
                    "PayPal is not configured or does not answer (the booking stays pending)",
                    error(
                        "SERVICE_UNAVAILABLE",
                        "Card payments are not available right now. Please call the pub.",
                    ),
                )
            ),
        },
    ),
    ("GET", "/api/cron/process-jobs"): Operation(
        summary="Send queued messages",
        description="Claim the jobs that are due and do them: write booking confirmations, "
        "reminders and changes as texts and emails and send them (or record them in the "
        "outbox when no provider is configured), send queued PayPal refunds and staff emails. "
        "Texts wait for 09:00 during quiet hours (21:00 to 09:00 London). A failed send is "
        "retried later; a job is never sent twice. Runs every minute." + CRON_AUTH,
        security=CRON,
        responses={
            200: Response(
                "What this run did, as counts.",
                {
                    "run": example(
                        "a run",
                        ok(
                            {
                                "claimed": 13,
                                "sent": 0,
                                "outbox": 8,
                                "queued": 9,
                                "deferred": 0,
                                "skipped": 1,
                                "retrying": 0,
                                "failed": 0,
                            }
                        ),
                    )
                },
            ),
            401: CRON_UNAUTHORIZED,
            503: unavailable(),
        },
    ),
    ("GET", "/api/cron/table-booking-payment-expiry"): Operation(
        summary="Release unpaid holds",
        description="Cancel the Sunday lunches whose deposit hold ran out unpaid: their covers "
        "are free again and the guest is told. Returns how many were cancelled." + CRON_AUTH,
        security=CRON,
        responses={
            200: Response(
                "How many holds were released.",
                {"released": example("two holds released", ok({"cancelled": 2}))},
            ),
            401: CRON_UNAUTHORIZED,
            503: unavailable(),
        },
    ),
    ("GET", "/api/cron/table-booking-reminders"): Operation(
        summary="Queue reminders",
        description="Queue one reminder per confirmed booking: Sunday lunch the day before "
        "(from `REMINDER_SUNDAY_LUNCH_HOUR`, 10:00 London), regular bookings on the day (from "
        "`REMINDER_REGULAR_HOUR`, 09:00). On Saturdays after the Sunday lunch cut-off it also "
        "queues the kitchen's prep list for Sunday, once (`kitchen_prep.date`)." + CRON_AUTH,
        security=CRON,
        responses={
            200: Response(
                "How many reminders were queued, and whether the prep list was.",
                {
                    "weekday": example(
                        "a weekday", ok({"reminders": 4, "kitchen_prep": {"queued": False}})
                    ),
                    "saturday": example(
                        "Saturday after the cut-off",
                        ok(
                            {"reminders": 0, "kitchen_prep": {"queued": True, "date": "2026-11-29"}}
                        ),
                    ),
                },
            ),
            401: CRON_UNAUTHORIZED,
            503: unavailable(),
        },
    ),
    ("GET", "/api/cron/table-booking-reviews"): Operation(
        summary="Queue review requests",
        description="Ask each guest once for a review, `REVIEW_DELAY_HOURS` (3) after their "
        "booking ended and within two days, by text, only if they opted in to texts. Does "
        "nothing without a review link configured (`skipped`)." + CRON_AUTH,
        security=CRON,
        responses={
            200: Response(
                "How many requests were queued.",
                {
                    "queued": example("requests queued", ok({"queued": 3})),
                    "skipped": example(
                        "no review link configured", ok({"queued": 0, "skipped": "no_review_link"})
                    ),
                },
            ),
            401: CRON_UNAUTHORIZED,
            503: unavailable(),
        },
    ),
    ("GET", "/api/cron/table-booking-confirmations"): Operation(
        summary="Queue confirm texts",
        description="Tap-to-confirm: from `CONFIRM_REQUEST_HOUR` (10:00 London) on the day "
        "before, text each confirmed booking of tomorrow once with its confirm link "
        "(`/g/{token}/confirm-booking`), where the guest answers yes or cancels. Not a guest "
        "who opted out of texts or has no mobile: they are on the staff call list instead. "
        "Before the hour it queues nothing (`waiting`)." + CRON_AUTH,
        security=CRON,
        responses={
            200: Response(
                "How many confirm texts were queued, for which day.",
                {
                    "queued": example(
                        "after the hour", ok({"queued": 12, "date": "2026-11-27", "waiting": False})
                    ),
                    "waiting": example(
                        "before the hour", ok({"queued": 0, "date": "2026-11-27", "waiting": True})
                    ),
                },
            ),
            401: CRON_UNAUTHORIZED,
            503: unavailable(),
        },
    ),
    ("GET", "/api/table-bookings/confirmations"): Operation(
        summary="Confirm call list",
        description="The guests to ring about a day's bookings (`date`, London; tomorrow by "
        "default): confirmed bookings whose guest was sent the day-before confirm text and has "
        "not answered (`unanswered`, with when it was texted and Twilio's delivery status), and "
        "those whose guest could not be texted (`not_texted`, with the `reason`: `no_mobile`, "
        "`opted_out`, `cannot_receive_texts`, `text_failed`, ...). Bookings still waiting for "
        "their text and those answered yes are only counted. Shows guests' phone numbers; read "
        "only." + acting_auth("manage:table_bookings", "view", guest=False),
        security=KEY_OR_STAFF,
        parameters={"date": {"friday": example("Friday's bookings", "2026-11-27")}},
        responses={
            200: Response(
                "The call list.",
                {
                    "list": example(
                        "one guest did not answer, one cannot be texted",
                        ok(
                            {
                                "date": "2026-11-27",
                                "unanswered": [
                                    {
                                        "booking_id": BOOKING_ID,
                                        "booking_reference": REF,
                                        "name": "Ann Lee",
                                        "phone": "+447700900123",
                                        "time": "19:00",
                                        "party_size": 4,
                                        "table_name": "Dining Room 4a",
                                        "texted_at": "2026-11-26T10:00:12+00:00",
                                        "delivery_status": "delivered",
                                    }
                                ],
                                "not_texted": [
                                    {
                                        "booking_id": SUNDAY_ID,
                                        "booking_reference": SUNDAY_REF,
                                        "name": "Sam Cole",
                                        "phone": "+447700900456",
                                        "time": "20:00",
                                        "party_size": 2,
                                        "table_name": None,
                                        "reason": "opted_out",
                                    }
                                ],
                                "counts": {
                                    "confirmed": 9,
                                    "answered_yes": 7,
                                    "unanswered": 1,
                                    "not_texted": 1,
                                    "waiting": 0,
                                },
                            }
                        ),
                    )
                },
            ),
            400: invalid(
                (
                    "a malformed date",
                    error(
                        "VALIDATION_ERROR",
                        "The request is not valid: date.",
                        [{"field": "date", "message": "Value error, must be a date YYYY-MM-DD"}],
                    ),
                )
            ),
            401: unauthorized(
                ("no credential", NO_CREDENTIAL),
                ("unknown, inactive or expired key", BAD_KEY),
                ("expired staff sign-in", STAFF_EXPIRED),
            ),
            403: forbidden(
                ("the key lacks `manage:table_bookings`", lacks_scope("manage:table_bookings")),
                ("the staff role lacks `table_bookings:view`", role_lacks("view")),
            ),
            429: key_rate_limited(),
            503: staff_unavailable(),
        },
    ),
    ("GET", "/api/cron/table-booking-monitoring"): Operation(
        summary="Compute the figures and alert the manager",
        description="Booking success, payment completion and failures, SMS delivery, API "
        "errors and latency, and no-shows, for the last hour and the last day. When, in the "
        "last hour, payment failures exceed 5%, SMS delivery falls under 95% or API errors "
        "exceed 1%, the manager is emailed once per condition and hour (`alerts`). When the "
        "database does not answer it answers 503 and alerts the manager of that too (in "
        "`details.alerts`)." + CRON_AUTH,
        security=CRON,
        responses={
            200: Response(
                "The figures and the alerts raised.",
                {
                    "report": example(
                        "a report with one alert",
                        ok(
                            {
                                "now": "2026-11-24T11:01:46Z",
                                "windows": {
                                    window: {
                                        "from": start,
                                        "to": "2026-11-24T11:01:46Z",
                                        "bookings": {
                                            "created": 2,
                                            "refused": 0,
                                            "success_rate": 1.0,
                                        },
                                        "payments": {
                                            "deposits_requested": 1,
                                            "deposits_paid": 0,
                                            "completion_rate": 0.0,
                                            "captured": 0,
                                            "failed": 0,
                                            "failure_rate": None,
                                        },
                                        "sms": {
                                            "delivered": 0,
                                            "failed": 0,
                                            "rejected": 0,
                                            "pending": 0,
                                            "delivery_rate": None,
                                        },
                                        "api": {
                                            "requests": 31,
                                            "errors": 1,
                                            "client_errors": 4,
                                            "error_rate": 0.0323,
                                            "latency_ms": {
                                                "avg": 16.6,
                                                "p50": 4.5,
                                                "p95": 33.2,
                                                "p99": 217.9,
                                                "max": 294.0,
                                            },
                                        },
                                        "no_shows": {"no_shows": 0, "attended": 0, "rate": None},
                                    }
                                    for window, start in (
                                        ("hour", "2026-11-24T10:01:46Z"),
                                        ("day", "2026-11-23T11:01:46Z"),
                                    )
                                },
                                "alerts": [
                                    {
                                        "condition": "api_errors",
                                        "period": "2026-11-24T11",
                                        "value": 0.0323,
                                        "threshold": 0.01,
                                        "queued": True,
                                    }
                                ],
                                "request_stats": {"flushed": 11, "pruned": 0},
                            }
                        ),
                    )
                },
            ),
            401: CRON_UNAUTHORIZED,
            503: failure(
                "The database does not answer; the manager is alerted (`details.alerts`).",
                (
                    "the database does not answer",
                    error(
                        "SERVICE_UNAVAILABLE",
                        "The database is not answering.",
                        {
                            "alerts": [
                                {
                                    "condition": "database_unreachable",
                                    "period": "2026-11-24T11",
                                    "value": 1.0,
                                    "threshold": 0.0,
                                    "notified": "email",
                                }
                            ]
                        },
                    ),
                ),
                headers={"Retry-After": RETRY_AFTER["Retry-After"]},
            ),
        },
    ),
    ("GET", "/metrics"): Operation(
        summary="The figures in Prometheus text format",
        description="The monitoring figures as Prometheus gauges, labelled by window "
        '(`window="hour"` / `"day"`). When the database does not answer, only '
        "`table_booking_database_up 0` (still 200, so the scrape itself succeeds). Read only."
        "\n\n**Auth:** `Authorization: Bearer <CRON_SECRET>` (the figures are business data). "
        "Not rate limited.",
        security=CRON,
        responses={
            200: Response(
                "Prometheus text format 0.0.4.",
                {
                    "metrics": example(
                        "an excerpt",
                        "# HELP table_booking_database_up Whether the figures could be read "
                        "from the database.\n# TYPE table_booking_database_up gauge\n"
                        "table_booking_database_up 1\n"
                        "# HELP table_booking_bookings_created Bookings created in the window.\n"
                        "# TYPE table_booking_bookings_created gauge\n"
                        'table_booking_bookings_created{window="hour"} 2\n'
                        'table_booking_bookings_created{window="day"} 2\n',
                    )
                },
                media_type="text/plain",
                schema={"type": "string"},
            ),
            401: CRON_UNAUTHORIZED,
        },
    ),
    ("POST", "/api/webhooks/twilio/status"): Operation(
        summary="Twilio delivery status",
        description="Twilio's status callback for a text this service sent (`queued`, `sent`, "
        "`delivered`, `undelivered`, `failed`...). The message's status only ever moves "
        "forward, so repeated or late callbacks are harmless; a message this service did not "
        "send is acknowledged and ignored (`known: false`). Configure it by setting "
        "`PUBLIC_BASE_URL`; the service passes it as each message's `StatusCallback`."
        "\n\n**Auth:** `X-Twilio-Signature`, checked against `PUBLIC_BASE_URL` plus the path "
        "before anything is read or written.",
        security=[{"TwilioSignature": []}],
        raw_body=_form_body(
            "Twilio's form parameters (more may come; they are kept in the webhook log).",
            {
                "MessageSid": "The message.",
                "MessageStatus": "queued, sent, delivered, undelivered, failed, read...",
                "ErrorCode": "Twilio's error code when undelivered or failed.",
                "ErrorMessage": "Twilio's words for it.",
            },
            {
                "delivered": example("delivered", TWILIO_STATUS_FORM),
                "undelivered": example("undelivered, with Twilio's error", TWILIO_FAILED_FORM),
            },
        ),
        responses={
            200: Response(
                "Recorded (or, for a message this service did not send, ignored).",
                {
                    "known": example("a message we sent", ok({"received": True, "known": True})),
                    "unknown": example("another message", ok({"received": True, "known": False})),
                },
            ),
            401: unauthorized(TWILIO_UNSIGNED),
            413: too_large(),
            503: unavailable(),
        },
    ),
    ("POST", "/api/webhooks/twilio/inbound"): Operation(
        summary="Inbound text",
        description="A guest texted the pub's number. STOP (also STOPALL, UNSUBSCRIBE, CANCEL, "
        "END, QUIT, OPTOUT, REVOKE) opts their number out of booking texts; START (YES, "
        "UNSTOP) opts it back in; anything else is only logged. Answers empty TwiML: Twilio "
        "sends its own STOP confirmation. Repeating a callback changes nothing."
        "\n\n**Auth:** `X-Twilio-Signature`, checked against `PUBLIC_BASE_URL` plus the path "
        "before anything is read or written.",
        security=[{"TwilioSignature": []}],
        raw_body=_form_body(
            "Twilio's form parameters for an incoming message.",
            {
                "MessageSid": "The message.",
                "From": "The guest's number, E.164.",
                "To": "The pub's number.",
                "Body": "What they wrote.",
            },
            {"stop": example("the guest texts STOP", TWILIO_STOP_FORM)},
        ),
        responses={
            200: Response(
                "Empty TwiML.",
                {
                    "twiml": example(
                        "no reply of our own",
                        '<?xml version="1.0" encoding="UTF-8"?><Response></Response>',
                    )
                },
                media_type="text/xml",
                schema={"type": "string"},
            ),
            401: unauthorized(TWILIO_UNSIGNED),
            413: too_large(),
            503: unavailable(),
        },
    ),
    ("POST", "/api/webhooks/paypal/table-bookings"): Operation(
        summary="PayPal payment events",
        description="PayPal's webhook for deposits: `PAYMENT.CAPTURE.COMPLETED` confirms the "
        "booking (as the return page does, if the guest never came back), "
        "`PAYMENT.CAPTURE.DENIED` and `PAYMENT.CAPTURE.REVERSED` flag it for staff, "
        "`PAYMENT.CAPTURE.REFUNDED` records a refund; other events are acknowledged and "
        "ignored. Each event id is handled once (a redelivery answers `duplicate: true`). An "
        "event that cannot be handled yet is 503 and changes nothing, so PayPal delivers it "
        "again.\n\n**Auth:** PayPal's signature headers, verified with PayPal for "
        "`PAYPAL_WEBHOOK_ID`; a bad signature is 401 and changes nothing (the first "
        "`PAYPAL_WEBHOOK_REFUSALS_LOGGED_PER_MINUTE` a minute from one address are logged, "
        "without their bodies; past `PAYPAL_WEBHOOK_REFUSALS_PER_MINUTE`, 429).",
        security=[{"PayPalSignature": []}],
        raw_body={
            "required": True,
            "description": "A PayPal webhook event (v2 payments).",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "id": {"type": "string"},
                            "event_type": {"type": "string"},
                            "resource": {"type": "object"},
                        },
                        "required": ["id", "event_type"],
                    },
                    "examples": {
                        "capture_completed": example(
                            "the deposit was captured", PAYPAL_CAPTURE_EVENT
                        ),
                        "capture_refunded": example("a refund was made", PAYPAL_REFUND_EVENT),
                    },
                }
            },
        },
        responses={
            200: Response(
                "Handled (`outcome`), or already handled (`duplicate`).",
                {
                    "handled": example(
                        "a capture confirmed its booking",
                        ok({"received": True, "outcome": "confirmed"}),
                    ),
                    "duplicate": example(
                        "the same event again", ok({"received": True, "duplicate": True})
                    ),
                },
            ),
            400: invalid(
                (
                    "signed, but not a PayPal event",
                    error("VALIDATION_ERROR", "The body is not a PayPal event."),
                ),
                (
                    "signed, but missing fields the event needs",
                    error("VALIDATION_ERROR", "The PayPal event is missing fields it needs."),
                ),
            ),
            401: unauthorized(
                (
                    "the signature does not verify",
                    error("UNAUTHORIZED", "The PayPal signature does not match this request."),
                ),
                (
                    "no PayPal webhook configured here",
                    error("UNAUTHORIZED", "PayPal webhooks are not configured here."),
                ),
            ),
            413: too_large(),
            429: failure(
                "Too many refused (unsigned) deliveries from this address in a minute "
                "(`PAYPAL_WEBHOOK_REFUSALS_PER_MINUTE`); nothing is logged. Wait `Retry-After` "
                "seconds.",
                (
                    "more than `PAYPAL_WEBHOOK_REFUSALS_PER_MINUTE` (120) refusals from one "
                    "address in a minute",
                    error(
                        "RATE_LIMIT_EXCEEDED",
                        "Too many refused webhook deliveries from this address.",
                    ),
                ),
                headers=RETRY_AFTER,
            ),
            503: unavailable(
                (
                    "the event cannot be handled yet (PayPal will deliver it again)",
                    error("SERVICE_UNAVAILABLE", "The event could not be handled yet."),
                )
            ),
        },
    ),
}


def query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """The OpenAPI parameters of a query a route validates itself as one model, as FastAPI
    writes them for a ``Query()`` model."""
    schema = model.model_json_schema()
    required = set(schema.get("required", []))
    parameters = []
    for name, field_schema in schema["properties"].items():
        parameter: dict[str, Any] = {"name": name, "in": "query", "required": name in required}
        if "description" in field_schema:
            parameter["description"] = field_schema["description"]
        parameter["schema"] = field_schema
        parameters.append(parameter)
    return parameters


def apply(schema: dict[str, Any], read_by_routes: tuple[type[BaseModel], ...] = ()) -> None:
    """Write the security schemes and every operation's entry into ``schema`` (in place).

    ``read_by_routes``: models of bodies that routes validate themselves (so FastAPI does not
    know them); their schemas are added to the components, as FastAPI would write them.
    An operation without an entry is left as FastAPI made it; the test suite fails on it.
    """
    components = schema.setdefault("components", {})
    components.setdefault("securitySchemes", {}).update(SECURITY_SCHEMES)
    if read_by_routes:
        _, definitions = models_json_schema(
            [(model, "validation") for model in read_by_routes],
            ref_template="#/components/schemas/{model}",
        )
        for name, definition in definitions.get("$defs", {}).items():
            components.setdefault("schemas", {}).setdefault(name, definition)
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            doc = OPERATIONS.get((method.upper(), path))
            if doc is not None:
                _apply(operation, doc)


def _apply(operation: dict[str, Any], doc: Operation) -> None:
    operation["summary"] = doc.summary
    operation["description"] = doc.description
    operation["security"] = doc.security
    for parameter in operation.get("parameters", []):
        if parameter["name"] in doc.parameters:
            parameter["examples"] = doc.parameters[parameter["name"]]
    if doc.raw_body is not None:
        operation["requestBody"] = doc.raw_body
    elif doc.body:
        operation["requestBody"]["content"]["application/json"]["examples"] = doc.body
    produced = operation.get("responses", {})
    responses: dict[str, Any] = {}
    for status, response in sorted(doc.responses.items()):
        entry = dict(produced.get(str(status), {}))
        entry["description"] = response.describe()
        if response.media_type:
            content = entry.get("content", {}).get(response.media_type, {})
            schema = response.schema or content.get("schema", {})
            entry["content"] = {
                response.media_type: {"schema": schema, "examples": response.examples}
            }
        else:
            entry.pop("content", None)
        if response.headers:
            entry["headers"] = response.headers
        responses[str(status)] = entry
    operation["responses"] = responses
