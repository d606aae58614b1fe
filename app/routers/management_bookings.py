"""The pub's 2026 website contract under ``/management/api``: the create and the two PayPal
routes (pub-api-2026.md sections 5, 6, 7), over our one booking engine.

The website's management-API base URL becomes ``https://<our host>/management/api``. Auth is the
pub's: an API key in ``X-API-Key`` or ``Authorization: Bearer``, with the scope of the route
(``create:bookings``, ``payments:capture``); its failures are in the error envelope, as the
pub's are. The create answers the pub's ``{success, data, meta}``; the PayPal routes bare JSON.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse, Response
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    ValidationError,
    field_validator,
)

from app import openapi_docs
from app.config import Settings
from app.deps import api_key_of, bearer_of, client_of, link_base, record_rate
from app.errors import Forbidden, NotConfigured, Unauthorized, ValidationFailed
from app.schemas import ErrorEnvelope, IsoDate, Note, OneLine, Tag
from app.services import api_keys, deposit_orders, management_bookings
from app.services.api_keys import ApiKeyCaller
from app.services.management_bookings import CAPTURE_SCOPE, CREATE_SCOPE

router = APIRouter(prefix="/management/api", tags=["2026 website contract"])

_TIME = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])(?::([0-5][0-9]))?$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
NO_STORE = {"Cache-Control": "no-store"}


# The body of section 5.2 --------------------------------------------------------------------


def _time(value: object) -> object:
    """``HH:MM`` or ``HH:MM:SS`` (00-23 hours), as ``HH:MM:SS``."""
    match = _TIME.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError("must be a time HH:MM or HH:MM:SS")
    return f"{match.group(1)}:{match.group(2)}:{match.group(3) or '00'}"


def _whole_number(value: object) -> object:
    """A JSON integer, or a string of digits (the pub parses strings with parseInt)."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return value


def _blank_to_none(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


Name = Annotated[OneLine, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Small = Annotated[int, BeforeValidator(_whole_number)]


class CommunicationConsent(BaseModel):
    """The guest's choices on the booking form; no other key is accepted."""

    model_config = ConfigDict(extra="forbid")

    service_contact_notice_shown: StrictBool | None = None
    marketing_email_opt_in: StrictBool | None = None
    marketing_sms_opt_in: StrictBool | None = None
    whatsapp_opt_in: StrictBool | None = None
    marketing_whatsapp_opt_in: StrictBool | None = None
    consent_text_version: (
        Annotated[OneLine, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
        | None
    ) = None


class PreorderSeat(BaseModel):
    """One guest's choices, in seat order: entry i is seat i (section 5.4 step 4)."""

    guest_name: Annotated[str, StringConstraints(max_length=100)] | None = None
    dietary_note: Annotated[str, StringConstraints(max_length=200)] | None = None
    starter_menu_item_id: UUID | None = None
    main_menu_item_id: UUID | None = None
    dessert_menu_item_id: UUID | None = None
    addon_menu_item_ids: list[UUID] = Field(default_factory=list, max_length=10)


class WebsiteBookingRequest(BaseModel):
    """``POST /management/api/table-bookings``: the website's flat body; unknown keys dropped."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    phone: Annotated[str, StringConstraints(min_length=7, max_length=32)] = Field(
        examples=["07700 900123"]
    )
    default_country_code: Annotated[str, StringConstraints(pattern=r"^[0-9]{1,4}$")] = "44"
    first_name: Name | None = None
    last_name: Annotated[OneLine, StringConstraints(max_length=100)] | None = None
    email: Annotated[str, StringConstraints(max_length=320)] | None = None
    date: IsoDate = Field(examples=["2026-12-11"])
    time: Annotated[str, BeforeValidator(_time)] = Field(examples=["19:00"])
    party_size: Annotated[Small, Field(ge=1, le=20)]
    purpose: Literal["food", "drinks", "christmas"]
    notes: Annotated[
        Annotated[Note, StringConstraints(max_length=500)] | None,
        BeforeValidator(_blank_to_none),
    ] = None
    dietary_requirements: list[Tag] = Field(default_factory=list, max_length=20)
    allergies: list[Tag] = Field(default_factory=list, max_length=20)
    high_chair_count: Annotated[Small, Field(ge=0, le=2)] = 0
    outside_seating: StrictBool | None = None
    requires_accessible_table: StrictBool = False
    booking_period_id: UUID | None = None
    booking_period_answer: StrictBool | None = None
    preorder: list[PreorderSeat] | None = Field(default=None, max_length=20)
    communication_consent: CommunicationConsent | None = None
    skip_customer_sms: StrictBool = False

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not (_EMAIL.match(value) and value.isprintable()):
            raise ValueError("Invalid email")
        return value


class CaptureOrderRequest(BaseModel):
    orderId: Annotated[str, StringConstraints(min_length=1, max_length=64)]


# The answers (documented; the routes send them as built) --------------------------------------


class WebsiteBooking(BaseModel):
    """`data` of section 5.6: every key always present, null where it does not apply."""

    state: Literal["confirmed", "pending_payment", "blocked"]
    table_booking_id: str | None
    booking_reference: str | None
    reason: str | None = Field(description="Only on `blocked`: the engine's reason (10.2).")
    blocked_reason: str | None = Field(description="Only on `blocked`: the public reason (10.2).")
    next_step_url: str | None = Field(description="Only on `pending_payment`: the payment page.")
    hold_expires_at: str | None
    table_name: str | None
    booking_id: str | None
    deposit_amount: float | None = Field(description="Only on `pending_payment`: GBP, 2 dp.")
    fallback_payment_url: str | None
    notification_channel: Literal["email", "whatsapp", "sms"] | None
    high_chairs_granted: int | None
    is_outside_seating: bool | None
    preorder: dict[str, Any] | None = Field(
        description="With a pre-order sent: `{requested_covers, saved_covers, saved, error}`."
    )


class WebsiteMeta(BaseModel):
    status_code: Literal[200, 201]
    sms: dict[str, Any] | None


class WebsiteCreateAnswer(BaseModel):
    success: Literal[True]
    data: WebsiteBooking
    meta: WebsiteMeta


class OrderCreated(BaseModel):
    orderId: str
    approve_url: str | None = None


class OrderCaptured(BaseModel):
    success: Literal[True]


class BareError(BaseModel):
    error: str


#: Bodies these routes validate themselves: their schemas go into the OpenAPI components.
READ_BY_ROUTES: tuple[type[BaseModel], ...] = (WebsiteBookingRequest, CaptureOrderRequest)


# Auth, as the pub's withApiAuth -------------------------------------------------------------


async def _website_caller(request: Request, scope: str, now: dt.datetime) -> ApiKeyCaller:
    """The API key of the request, counted against its limit, holding ``scope``; refused in
    the envelope with the pub's words."""
    # The pub also takes any ``Authorization: Bearer`` value as the key.
    raw = api_key_of(request) or (bearer_of(request) or "").strip() or None
    if raw is None:
        raise Unauthorized("Invalid or missing API key")
    try:
        caller = await api_keys.authenticate_api_key(request.app.state.db, raw_key=raw, now=now)
    except Unauthorized:
        raise Unauthorized("Invalid or missing API key") from None
    record_rate(request, caller)
    if not caller.allows(scope):
        raise Forbidden("Insufficient permissions", details={"required": scope})
    return caller


def _json_body(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        raise ValidationFailed("Invalid JSON body") from None


def _validated(body: Any) -> dict[str, Any]:
    try:
        parsed = WebsiteBookingRequest.model_validate(body)
    except ValidationError as exc:
        issues = exc.errors(include_url=False, include_context=False, include_input=False)
        first = issues[0]
        where = ".".join(str(p) for p in first["loc"])
        message = f"{where}: {first['msg']}" if where else first["msg"]
        raise ValidationFailed(message, details={"issues": issues}) from None
    if parsed.purpose == "christmas":
        raise ValidationFailed(
            "Book Christmas as a food booking and answer the Christmas question yes "
            "(booking_period_id and booking_period_answer).",
            details={"field": "purpose"},
        )
    return parsed.model_dump(mode="json")


# Routes --------------------------------------------------------------------------------------


@router.post(
    "/table-bookings",
    status_code=201,
    summary="Create a booking (2026 contract)",
    responses={
        200: {"model": WebsiteCreateAnswer},
        201: {"model": WebsiteCreateAnswer},
        **{s: {"model": ErrorEnvelope} for s in (400, 401, 403, 404, 409, 429, 503)},
    },
    openapi_extra={
        "parameters": [
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": True,
                "description": "The submit's key: the same key and request replay the first "
                "answer for 24 hours.",
                "schema": {"type": "string", "minLength": 1, "maxLength": 255},
            },
            {
                "name": "X-Idempotency-Replay-Only",
                "in": "header",
                "required": False,
                "description": "`true`: only look up the answer stored under the key (the body "
                'is then `{"replay_request": <body>}`); nothing is created.',
                "schema": {"type": "string", "enum": ["true", "false"]},
            },
        ]
    },
)
async def create_booking(request: Request) -> Response:
    """The website's create (pub-api-2026.md 5): `confirmed` or `pending_payment` (201), or
    `blocked` (200), in the pub's `{success, data, meta}`; replayed under its Idempotency-Key."""
    state = request.app.state
    now: dt.datetime = state.clock()
    caller = await _website_caller(request, CREATE_SCOPE, now)
    idempotency_key = management_bookings.idempotency_key_of(request.headers.get("idempotency-key"))
    body = _json_body(await request.body())
    settings: Settings = state.settings
    if request.headers.get("x-idempotency-replay-only", "").strip().lower() == "true":
        inner = body.get("replay_request") if isinstance(body, dict) else None
        if not isinstance(inner, dict):
            raise ValidationFailed("replay_request: Required", details={"field": "replay_request"})
        status, answer = await management_bookings.replay_only(
            state.db,
            request=_validated(inner),
            idempotency_key=idempotency_key,
            public_base=link_base(request),
            now=now,
        )
    else:
        status, answer = await management_bookings.create_booking(
            state.db,
            request=_validated(body),
            caller=caller,
            client=client_of(request),
            idempotency_key=idempotency_key,
            public_base=link_base(request),
            now=now,
            create_limit_per_phone=settings.create_limit_per_phone_per_hour,
        )
    return JSONResponse(answer, status_code=status, headers=NO_STORE)


@router.options("/table-bookings", include_in_schema=False)
async def create_booking_preflight() -> dict[str, Any]:
    return {"success": True, "data": {}}


def _unless_not_configured(status: int, body: dict[str, Any]) -> None:
    # PayPal left out (development): the one refusal of these routes that is not the pub's, in
    # the envelope as every 503 of the service.
    if status == 503:
        raise NotConfigured(str(body.get("error") or deposit_orders.NOT_CONFIGURED))


BookingId = Annotated[
    str, Path(description="The booking's id (table_booking_id); another value is 404.")
]


@router.post(
    "/external/table-bookings/{booking_id}/paypal/create-order",
    summary="PayPal order for the deposit (2026 contract)",
    responses={
        200: {"model": OrderCreated},
        **{s: {"model": BareError} for s in (400, 404, 409, 410, 502)},
        **{s: {"model": ErrorEnvelope} for s in (401, 403, 429, 503)},
    },
)
async def create_deposit_order(request: Request, booking_id: BookingId) -> Response:
    """The deposit's PayPal order (pub-api-2026.md 6): `{"orderId"}`, the stored one reused
    while PayPal has it open at the deposit; refusals as `{"error": "..."}`."""
    state = request.app.state
    now: dt.datetime = state.clock()
    await _website_caller(request, CAPTURE_SCOPE, now)
    status, body = await deposit_orders.create_order(state.db, state.paypal, booking_id, now=now)
    _unless_not_configured(status, body)
    return JSONResponse(body, status_code=status, headers=NO_STORE)


@router.post(
    "/external/table-bookings/{booking_id}/paypal/capture-order",
    summary="Capture the deposit (2026 contract)",
    responses={
        200: {"model": OrderCaptured},
        **{s: {"model": BareError} for s in (400, 404, 409, 410, 502)},
        **{s: {"model": ErrorEnvelope} for s in (401, 403, 429, 503)},
    },
)
async def capture_deposit_order(request: Request, booking_id: BookingId) -> Response:
    """Capture the approved deposit (pub-api-2026.md 7) and confirm the booking:
    `{"success": true}`; refusals as `{"error": "..."}`."""
    state = request.app.state
    now: dt.datetime = state.clock()
    await _website_caller(request, CAPTURE_SCOPE, now)
    try:
        order = CaptureOrderRequest.model_validate_json(await request.body())
    except ValidationError:
        return JSONResponse(
            {"error": "Invalid request body. orderId is required."},
            status_code=400,
            headers=NO_STORE,
        )
    status, body = await deposit_orders.capture_order(
        state.db, state.paypal, booking_id, order.orderId, now=now
    )
    _unless_not_configured(status, body)
    return JSONResponse(body, status_code=status, headers=NO_STORE)


# OpenAPI: what each route says, its examples and its errors (app.openapi_docs applies them) --

_BOOKING_ID = "0b9a5c1e-6f0d-4c57-9b1a-3f9a21c0d4e2"
_ORDER_ID = "5O190127TN364715T"
_PAY_URL = "https://tb.example/g/Qk3mX8c2wY0lR5tV9pZaE1bN4hJ7dF6sG2kL0qU3xZ/table-payment"
_WEBSITE_BODY = {
    "phone": "07700 900123",
    "first_name": "Ann",
    "last_name": "Lee",
    "email": "ann@example.com",
    "date": "2026-12-11",
    "time": "19:00",
    "party_size": 16,
    "purpose": "food",
    "dietary_requirements": ["vegetarian"],
    "allergies": [],
    "high_chair_count": 1,
    "outside_seating": False,
    "communication_consent": {"marketing_email_opt_in": True},
    "booking_type": "regular",
    "skip_customer_sms": True,
}
_NULLS = {name: None for name in WebsiteBooking.model_fields}
_PENDING = {
    **_NULLS,
    "state": "pending_payment",
    "table_booking_id": _BOOKING_ID,
    "booking_reference": "TB-3F9A21C0",
    "next_step_url": _PAY_URL,
    "hold_expires_at": "2026-11-25T10:00:00+00:00",
    "table_name": "Dining Room 6a + Dining Room 6b + Dining Room 6c",
    "booking_id": _BOOKING_ID,
    "deposit_amount": 160.0,
    "fallback_payment_url": _PAY_URL,
    "high_chairs_granted": 1,
    "is_outside_seating": False,
}
_CONFIRMED = {
    **_PENDING,
    "state": "confirmed",
    "next_step_url": None,
    "hold_expires_at": None,
    "table_name": "Dining Room 4a",
    "booking_id": None,
    "deposit_amount": None,
    "fallback_payment_url": None,
    "notification_channel": "email",
    "high_chairs_granted": 0,
}
_BLOCKED = {**_NULLS, "state": "blocked", "reason": "slot_full", "blocked_reason": "slot_full"}
_AUTH = (
    "\n\n**Auth:** an API key with `{scope}` (`*` includes it) as `X-API-Key` or `Authorization: "
    'Bearer <key>`; missing or unknown: 401 `UNAUTHORIZED` "Invalid or missing API key", '
    'without the scope: 403 `FORBIDDEN` "Insufficient permissions", in the error envelope. '
    "Each key is counted against its hourly limit (`X-RateLimit-*` headers)."
)


def _answer(data: dict[str, Any], status: int) -> dict[str, Any]:
    return {"success": True, "data": data, "meta": {"status_code": status, "sms": None}}


def _bare(*cases: tuple[str, str]) -> dict[str, openapi_docs.Example]:
    return {
        f"case_{i}": openapi_docs.example(when, {"error": message})
        for i, (when, message) in enumerate(cases)
    }


def _auth_errors(scope: str) -> dict[int, openapi_docs.Response]:
    return {
        401: openapi_docs.unauthorized(
            ("no key, or a key unknown, inactive or expired", _INVALID_KEY)
        ),
        403: openapi_docs.forbidden(
            (
                f"the key lacks `{scope}`",
                openapi_docs.error("FORBIDDEN", "Insufficient permissions", {"required": scope}),
            )
        ),
        429: openapi_docs.key_rate_limited(),
        503: openapi_docs.unavailable(*([_NO_PAYPAL] if scope == CAPTURE_SCOPE else [])),
    }


_INVALID_KEY = openapi_docs.error("UNAUTHORIZED", "Invalid or missing API key")
_CREATE_HEADERS = {
    "Idempotency-Key": {"submit": openapi_docs.example("the website's submit key", "tbl_3f9a21c0")},
    "X-Idempotency-Replay-Only": {"probe": openapi_docs.example("the replay-only probe", "true")},
}
_NO_PAYPAL = (
    "PayPal is not configured here (development)",
    openapi_docs.error("SERVICE_UNAVAILABLE", deposit_orders.NOT_CONFIGURED),
)
_ID_PARAMETER = {"booking_id": {"booking": openapi_docs.example("the booking's id", _BOOKING_ID)}}
_REFUSED = 'Refused, as `{"error": "..."}` (no envelope) with the pub\'s words: '

openapi_docs.OPERATIONS.update(
    {
        ("POST", "/management/api/table-bookings"): openapi_docs.Operation(
            summary="Create a booking (2026 contract)",
            description="The pub's website's create (pub-api-2026.md section 5), over the same "
            "booking engine as `POST /api/table-bookings`. A flat body; unknown keys are "
            "dropped, `communication_consent` takes no other key. `Idempotency-Key` is "
            "required: the same key and request replay the first answer (a refusal included, "
            "24 hours), another request under it is 409. A booking that owes no deposit is "
            "`confirmed` (201); a party of 15 or more (or an accepted seasonal period with a "
            "deposit) is `pending_payment` (201) with `booking_id`, `deposit_amount` and "
            "`next_step_url`, the guest's payment page; the website then calls the PayPal "
            "routes. A booking the rules turn away is `blocked` with HTTP 200: `reason` and "
            "`blocked_reason` say why. With `X-Idempotency-Replay-Only: true` and "
            '`{"replay_request": <body>}` the stored answer is only looked up (404 '
            "`IDEMPOTENCY_KEY_NOT_FOUND` when there is none); nothing is ever created."
            + _AUTH.format(scope="create:bookings"),
            security=openapi_docs.KEY,
            parameters=_CREATE_HEADERS,
            raw_body={
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"$ref": "#/components/schemas/WebsiteBookingRequest"},
                        "examples": {
                            "website": openapi_docs.example(
                                "as the pub's website sends it", _WEBSITE_BODY
                            )
                        },
                    }
                },
            },
            responses={
                200: openapi_docs.Response(
                    "Refused by the booking rules (`state: blocked`); kept under the key.",
                    {
                        "blocked": openapi_docs.example(
                            "the kitchen is full", _answer(_BLOCKED, 200)
                        )
                    },
                ),
                201: openapi_docs.Response(
                    "Booked: `confirmed`, or `pending_payment` until the deposit is paid.",
                    {
                        "pending_payment": openapi_docs.example(
                            "a party of 16 owes a £160 deposit", _answer(_PENDING, 201)
                        ),
                        "confirmed": openapi_docs.example(
                            "a table for four", _answer(_CONFIRMED, 201)
                        ),
                    },
                ),
                400: openapi_docs.invalid(
                    (
                        "no Idempotency-Key",
                        openapi_docs.error(
                            "IDEMPOTENCY_KEY_REQUIRED", "Missing Idempotency-Key header"
                        ),
                    ),
                    (
                        "the body is not valid (the first problem; all of them in `details`)",
                        openapi_docs.error(
                            "VALIDATION_ERROR",
                            "Please enter a valid phone number",
                            {"field": "phone"},
                        ),
                    ),
                ),
                404: openapi_docs.failure(
                    "The replay-only probe found no answer under the key.",
                    (
                        "nothing stored under the key",
                        openapi_docs.error(
                            "IDEMPOTENCY_KEY_NOT_FOUND", "No previous booking attempt found"
                        ),
                    ),
                ),
                409: openapi_docs.failure(
                    "The Idempotency-Key is taken.",
                    (
                        "the key was used with another request",
                        openapi_docs.error(
                            "IDEMPOTENCY_KEY_CONFLICT",
                            "Idempotency key already used with a different request payload",
                        ),
                    ),
                    (
                        "a create under the key is still being made",
                        openapi_docs.error(
                            "IDEMPOTENCY_KEY_IN_PROGRESS",
                            "This request is already being processed. Please retry shortly.",
                        ),
                    ),
                ),
                **_auth_errors("create:bookings"),
            },
        ),
        (
            "POST",
            "/management/api/external/table-bookings/{booking_id}/paypal/create-order",
        ): openapi_docs.Operation(
            summary="PayPal order for the deposit (2026 contract)",
            description="The PayPal order for a booking's deposit (pub-api-2026.md section 6), "
            "for the website's PayPal buttons. No body. The amount is the booking's deposit "
            "(GBP 10 a guest for 15 or more, or its seasonal period's); the stored order is "
            "answered again while PayPal has it open at that amount, else a new one is made "
            "(`PayPal-Request-Id: tb-deposit-{id}`) and stored. Answers bare JSON, as the pub's "
            "route does." + _AUTH.format(scope="payments:capture"),
            security=openapi_docs.KEY,
            parameters=_ID_PARAMETER,
            responses={
                200: openapi_docs.Response(
                    "The order to approve.",
                    {"order": openapi_docs.example("the order", {"orderId": _ORDER_ID})},
                ),
                400: openapi_docs.Response(
                    _REFUSED + "nothing is owed.",
                    _bare(
                        (
                            "the booking owes no deposit",
                            "This booking does not require a deposit payment",
                        ),
                        ("its deposit is nothing", "No deposit required for this booking."),
                    ),
                ),
                404: openapi_docs.Response(
                    _REFUSED + "no such booking.",
                    _bare(("an unknown id", "Booking not found")),
                ),
                409: openapi_docs.Response(
                    _REFUSED + "it cannot be paid.",
                    _bare(
                        ("paid already", "Deposit has already been paid for this booking"),
                        ("cancelled or over", "This booking is no longer payable."),
                        ("no payment hold", "This booking is missing a valid payment hold."),
                    ),
                ),
                410: openapi_docs.Response(
                    _REFUSED + "the hold ran out.",
                    _bare(("the payment hold has passed", "This payment link has expired.")),
                ),
                502: openapi_docs.Response(
                    _REFUSED + "PayPal, or saving its order, failed; try again.",
                    _bare(
                        (
                            "PayPal made no order",
                            "Failed to create PayPal order. Please try again.",
                        ),
                        (
                            "the order could not be stored",
                            "Order created but could not be saved. Please try again.",
                        ),
                    ),
                ),
                **_auth_errors("payments:capture"),
            },
        ),
        (
            "POST",
            "/management/api/external/table-bookings/{booking_id}/paypal/capture-order",
        ): openapi_docs.Operation(
            summary="Capture the deposit (2026 contract)",
            description="Capture the deposit the guest approved (pub-api-2026.md section 7): "
            "the order must be the booking's, PayPal's amount its deposit, its hold still "
            "running. The capture is recorded by the service's one capture rule: the booking is "
            'confirmed, the guest gets the "Deposit sorted" text and the manager an alert. '
            "A booking captured before answers success again. Answers bare JSON, as the pub's "
            "route does." + _AUTH.format(scope="payments:capture"),
            security=openapi_docs.KEY,
            parameters=_ID_PARAMETER,
            raw_body={
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"$ref": "#/components/schemas/CaptureOrderRequest"},
                        "examples": {
                            "order": openapi_docs.example(
                                "the approved order", {"orderId": _ORDER_ID}
                            )
                        },
                    }
                },
            },
            responses={
                200: openapi_docs.Response(
                    "Paid: the booking is confirmed.",
                    {"captured": openapi_docs.example("captured", {"success": True})},
                ),
                400: openapi_docs.Response(
                    _REFUSED + "the request is not this booking's order.",
                    _bare(
                        ("no orderId", "Invalid request body. orderId is required."),
                        ("another order", "Order ID mismatch"),
                    ),
                ),
                404: openapi_docs.Response(
                    _REFUSED + "no such booking.",
                    _bare(("an unknown id", "Booking not found")),
                ),
                409: openapi_docs.Response(
                    _REFUSED + "it cannot be paid at this amount.",
                    _bare(
                        (
                            "PayPal's amount is not the deposit",
                            "Payment amount no longer matches this booking. Please refresh and "
                            "try again.",
                        ),
                        ("cancelled or over", "This booking is no longer payable."),
                    ),
                ),
                410: openapi_docs.Response(
                    _REFUSED + "the hold ran out.",
                    _bare(("the payment hold has passed", "This payment link has expired.")),
                ),
                502: openapi_docs.Response(
                    _REFUSED + "PayPal failed, or what it took does not match.",
                    _bare(
                        (
                            "PayPal took nothing",
                            "Failed to capture PayPal payment. Please try again.",
                        ),
                        (
                            "PayPal took another amount",
                            "Payment captured but amount did not match the booking. Please "
                            "contact support; do not retry.",
                        ),
                    ),
                ),
                **_auth_errors("payments:capture"),
            },
        ),
    }
)
