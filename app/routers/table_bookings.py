"""``/api/table-bookings``: availability, the Sunday lunch menu, bookings and their changes."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ValidationError

from app import json_body, openapi_docs
from app.config import Settings
from app.db.port import Database
from app.deps import (
    Client,
    Db,
    Now,
    PayPalDep,
    SettingsDep,
    acting,
    api_key_of,
    bearer_of,
    client_limits,
    client_of,
    presented_key_of,
    record_rate,
    require_scope,
    staff_actor,
)
from app.errors import AppError, Unauthorized, ValidationFailed
from app.json_body import StrictJSONRoute
from app.schemas import (
    Availability,
    AvailabilityQuery,
    BookingDetail,
    BookingList,
    CancelBookingRequest,
    CancelledBooking,
    CreateBookingRequest,
    CreatedBooking,
    Envelope,
    ErrorEnvelope,
    IsoDate,
    PaymentDetails,
    PaymentReturn,
    PaymentStart,
    StatusRequest,
    SundayLunchMenu,
    UpdateBookingRequest,
)
from app.services import api_keys, availability, bookings, payments
from app.services.actors import Actor
from app.services.api_keys import MANAGE, READ, WRITE, ApiKeyCaller
from app.services.payments import PayPal

router = APIRouter(
    prefix="/api/table-bookings", tags=["table bookings"], route_class=StrictJSONRoute
)

QueryModel = TypeVar("QueryModel", bound=BaseModel)

Reference = Annotated[
    str,
    Path(
        pattern=r"^[A-Za-z0-9-]{3,20}$",
        description="The booking reference, e.g. TB-8229A1B4.",
        examples=["TB-8229A1B4"],
    ),
]


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorEnvelope} for status in (400, 401, 403, 429, 503, *statuses)}


def _located(exc: ValidationError, where: str) -> list[Any]:
    """pydantic's errors as FastAPI reports them for that part of the request (``loc`` starts
    with ``"query"``, ``"body"``...)."""
    return [{**e, "loc": (where, *e["loc"])} for e in exc.errors(include_url=False)]


def _read_query(model: type[QueryModel], request: Request) -> QueryModel:
    """A query validated as one model, with FastAPI's errors (``("query", field)``)."""
    try:
        return model.model_validate(dict(request.query_params))
    except ValidationError as exc:
        raise RequestValidationError(_located(exc, "query")) from None


@router.get(
    "/availability",
    summary="Availability for a date",
    response_model=Envelope[Availability],
    responses=_errors(),
    openapi_extra={"parameters": openapi_docs.query_parameters(AvailabilityQuery)},
)
async def get_availability(request: Request) -> Response:
    """Slots for one date: which times a party can book, and why the others cannot."""
    # The busiest request: no dependencies to solve (the query, the key, the client and the
    # app's state are read directly) and one round trip for the key, its limits and the slots.
    state = request.app.state
    now: dt.datetime = state.clock()
    settings: Settings = state.settings
    try:
        query = _read_query(AvailabilityQuery, request)
    except RequestValidationError:
        await _judge_credentials(request, now, key_scope=READ, staff_action=None)
        raise
    auth, data = await availability.check_availability_for_key(
        state.db,
        key_hash=api_keys.hash_key(presented_key_of(request)),
        limits=api_keys.limits_arg(
            client_limits(READ, client_of(request), settings.availability_limit_per_minute)
        ),
        day=query.date,
        party_size=query.party_size,
        booking_type=query.booking_type,
        now=now,
        options=query.options(),
        answers=state.availability_answers,
    )
    api_keys.require(record_rate(request, api_keys.caller_from_auth(auth, now=now)), READ)
    # The data is JSON text the database built to the documented schema (tests/test_openapi_docs.py
    # holds real responses to it): sent as it came, not parsed, validated and serialised again.
    return Response(
        content=b'{"success":true,"data":' + data.encode() + b"}", media_type="application/json"
    )


@router.get(
    "/menu/sunday-lunch",
    summary="The Sunday lunch menu",
    response_model=Envelope[SundayLunchMenu],
    responses=_errors(422),
)
async def get_sunday_lunch_menu(
    db: Db,
    now: Now,
    _: Annotated[ApiKeyCaller, Depends(require_scope(READ))],
    date: Annotated[
        IsoDate | None,
        Query(description="A Sunday, YYYY-MM-DD; without it, the next Sunday still orderable."),
    ] = None,
) -> dict[str, Any]:
    """Mains and sides with prices, allergens and the ordering cut-off for that Sunday."""
    data = await availability.sunday_lunch_menu(db, day=date, now=now)
    return {"success": True, "data": data}


IDEMPOTENCY_KEY_MAX_LENGTH = 200
IDEMPOTENCY_KEY_DESCRIPTION = "Send the same key to retry safely: the first response is replayed."

#: Bodies these routes validate themselves: their schemas are added to the OpenAPI components.
READ_BY_ROUTES: tuple[type[BaseModel], ...] = (CreateBookingRequest,)

#: What the create route reads itself (documented here, as FastAPI would from parameters).
CREATE_REQUEST_DOC: dict[str, Any] = {
    "parameters": [
        {
            "name": "Idempotency-Key",
            "in": "header",
            "required": False,
            "description": IDEMPOTENCY_KEY_DESCRIPTION,
            "schema": {
                "anyOf": [
                    {"type": "string", "maxLength": IDEMPOTENCY_KEY_MAX_LENGTH},
                    {"type": "null"},
                ],
                "description": IDEMPOTENCY_KEY_DESCRIPTION,
                "title": "Idempotency-Key",
            },
        }
    ],
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/CreateBookingRequest"}}
        },
    },
}


async def _read_create_request(request: Request) -> tuple[CreateBookingRequest, str | None]:
    """The body and the Idempotency-Key of a create, validated as FastAPI would (the same
    errors, in one 400), but in one pass: the body is validated from its JSON text."""
    errors: list[Any] = []
    idempotency_key = request.headers.get("idempotency-key")
    if idempotency_key is not None and len(idempotency_key) > IDEMPOTENCY_KEY_MAX_LENGTH:
        errors.append(
            {
                "type": "string_too_long",
                "loc": ("header", "Idempotency-Key"),
                "msg": f"String should have at most {IDEMPOTENCY_KEY_MAX_LENGTH} characters",
                "input": idempotency_key,
            }
        )
    body: CreateBookingRequest | None = None
    raw = await request.body()
    if not raw.strip():
        errors.append({"type": "missing", "loc": ("body",), "msg": "Field required", "input": None})
    else:
        try:
            json_body.refuse_duplicate_keys(raw)
            body = CreateBookingRequest.model_validate_json(raw)
        except json_body.DuplicateKey as exc:
            errors.extend(json_body.duplicate_key_error(exc).errors())
        except ValidationError as exc:
            errors.extend(_located(exc, "body"))
    if errors or body is None:
        raise RequestValidationError(errors)
    return body, idempotency_key


async def _judge_credentials(
    request: Request, now: dt.datetime, *, key_scope: str, staff_action: str | None
) -> None:
    """For a request that cannot be read: who is asking, and may they, is answered first (401,
    429, 403), as on the routes FastAPI reads; the caller then raises the validation error."""
    raw_key = api_key_of(request)
    if raw_key is not None:
        caller = await api_keys.authenticate_api_key(request.app.state.db, raw_key=raw_key, now=now)
        api_keys.require(record_rate(request, caller), key_scope)
        return
    credentials = bearer_of(request)
    if credentials is None or staff_action is None:
        raise Unauthorized(
            "Send an API key or a staff sign-in token."
            if staff_action
            else "Send an API key in X-API-Key or as Authorization: Bearer anch_..."
        )
    await staff_actor(
        request.app.state.db, request.app.state.staff_verifier, credentials, staff_action
    )


def _created_envelope(data: dict[str, Any]) -> Response:
    """The 201 body in the documented shape (CreatedBooking's fields, in its order), serialised
    once: the route builds it from known parts, so it is not validated again."""
    details = data.get("payment_details")
    if details is not None:
        details = {name: details.get(name) for name in PaymentDetails.model_fields}
    created = {name: data.get(name) for name in CreatedBooking.model_fields}
    created["payment_details"] = details
    return JSONResponse({"success": True, "data": created}, status_code=201)


@router.post(
    "",
    status_code=201,
    summary="Create a booking",
    response_model=Envelope[CreatedBooking],
    responses=_errors(409, 422),
    openapi_extra=CREATE_REQUEST_DOC,
)
async def create_booking(request: Request) -> Response:
    """Book a table; Sunday lunch is held as `pending_payment` until its deposit is paid."""
    # No dependencies to solve (the app's state, the credentials, the header and the body are
    # read directly), and for an API key one round trip: the key, its limits and the booking.
    state = request.app.state
    db: Database = state.db
    now: dt.datetime = state.clock()
    try:
        body, idempotency_key = await _read_create_request(request)
    except RequestValidationError:
        await _judge_credentials(request, now, key_scope=WRITE, staff_action="create")
        raise
    settings: Settings = state.settings
    client = client_of(request)
    paypal: PayPal | None = state.paypal
    deposits_possible = paypal is not None or settings.unpaid_sunday_lunch_allowed
    if idempotency_key is not None and not idempotency_key.isprintable():
        raise ValidationFailed(
            "Idempotency-Key must be printable text.", details=[{"field": "Idempotency-Key"}]
        )
    raw_key = api_key_of(request)
    if raw_key is not None:
        data = await bookings.create_booking_for_key(
            db,
            request=body,
            raw_key=raw_key,
            scope=WRITE,
            client=client,
            now=now,
            on_caller=lambda caller: record_rate(request, caller),
            idempotency_key=idempotency_key,
            create_limit_per_phone=settings.create_limit_per_phone_per_hour,
            deposits_possible=deposits_possible,
            paypal=paypal,
        )
    else:
        credentials = bearer_of(request)
        if credentials is None:
            raise Unauthorized("Send an API key or a staff sign-in token.")
        actor = await staff_actor(db, state.staff_verifier, credentials, "create")
        data = await bookings.create_booking(
            db,
            request=body,
            actor=actor,
            client=client,
            now=now,
            idempotency_key=idempotency_key,
            create_limit_per_phone=settings.create_limit_per_phone_per_hour,
            deposits_possible=deposits_possible,
            paypal=paypal,
        )
    return _created_envelope(data)


@router.post(
    "/{reference}/payment",
    summary="Start (or resume) paying the deposit",
    response_model=Envelope[PaymentStart],
    responses=_errors(404, 409),
)
async def start_payment(
    db: Db,
    now: Now,
    client: Client,
    paypal: PayPalDep,
    reference: Reference,
    actor: Annotated[Actor, Depends(acting(key_scope=WRITE, staff_action="edit", guest=True))],
) -> dict[str, Any]:
    """A PayPal approval link for a Sunday lunch awaiting its deposit; the open one is reused."""
    data = await payments.start_payment(
        db, paypal, reference=reference, actor=actor, client=client, now=now
    )
    return {"success": True, "data": data}


@router.get(
    "/payment/return",
    summary="PayPal's return: capture and confirm",
    response_model=Envelope[PaymentReturn],
    responses={
        303: {"description": "To the success (or failure) page of the pub's website."},
        **_errors(404, 409),
    },
)
async def payment_return(
    request: Request,
    db: Db,
    now: Now,
    settings: SettingsDep,
    paypal: PayPalDep,
    token: Annotated[str, Query(max_length=64, description="PayPal's order id.")],
    payer_id: Annotated[str | None, Query(alias="PayerID", max_length=64)] = None,
) -> Any:
    """The guest approved the deposit at PayPal: capture it, check it, confirm the booking.

    Browsers are sent on to the pub's success page; a caller asking for JSON gets the envelope.
    """
    wants_json = "application/json" in request.headers.get("accept", "")
    try:
        result = await payments.capture_returned_order(db, paypal, order_id=token, now=now)
    except AppError as exc:
        if wants_json:
            raise
        url = _with_query(settings.payment_failure_url, {"reason": exc.code.lower()})
        return RedirectResponse(url, status_code=303)
    data = {
        "booking_reference": result.get("booking_reference"),
        "outcome": result["outcome"],
        "confirmed": result["outcome"] in ("confirmed", "already_confirmed"),
    }
    if wants_json:
        return {"success": True, "data": data}
    target = settings.payment_success_url if data["confirmed"] else settings.payment_failure_url
    # The reference under the name the website reads (PAYMENT_REFERENCE_PARAM, "ref").
    params = {settings.payment_reference_param: data["booking_reference"] or ""}
    url = _with_query(target, {**params, "outcome": data["outcome"]})
    return RedirectResponse(url, status_code=303)


def _with_query(url: str, params: dict[str, str]) -> str:
    return f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"


@router.get("", summary="List bookings", response_model=Envelope[BookingList], responses=_errors())
async def list_bookings(
    db: Db,
    _: Annotated[Actor, Depends(acting(key_scope=MANAGE, staff_action="view"))],
    date_from: IsoDate | None = None,
    date_to: IsoDate | None = None,
    status: Annotated[
        str | None, Query(description="Comma-separated, e.g. confirmed,pending_payment.")
    ] = None,
    booking_type: Literal["regular", "sunday_lunch"] | None = None,
    search: Annotated[
        str | None,
        Query(
            max_length=100,
            description="Part of a booking reference, a guest's name or a phone number, matched as"
            " typed (% and _ are not wildcards).",
        ),
    ] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    """Bookings in date and time order, filtered by date range, status, type or a search."""
    statuses = [s.strip() for s in (status or "").split(",") if s.strip()]
    known = {"pending_payment", "confirmed", "cancelled", "no_show", "completed"}
    if unknown := [s for s in statuses if s not in known]:
        raise ValidationFailed(
            f"Unknown status: {', '.join(unknown)}.", details=[{"field": "status"}]
        )
    data = await bookings.list_bookings(
        db,
        date_from=date_from,
        date_to=date_to,
        statuses=statuses,
        booking_type=booking_type,
        search=search,
        page=page,
        page_size=page_size,
    )
    return {"success": True, "data": data}


@router.get(
    "/{reference}",
    summary="One booking",
    response_model=Envelope[BookingDetail],
    responses=_errors(404),
)
async def get_booking(
    db: Db,
    now: Now,
    reference: Reference,
    actor: Annotated[Actor, Depends(acting(key_scope=MANAGE, staff_action="view", guest=True))],
) -> dict[str, Any]:
    """The booking, whether it can still be cancelled, and the cancellation policy in words."""
    data = await bookings.get_booking(db, reference=reference, actor=actor, now=now)
    return {"success": True, "data": data}


@router.patch(
    "/{reference}",
    summary="Change a booking",
    response_model=Envelope[BookingDetail],
    responses=_errors(404, 409, 422),
)
async def update_booking(
    db: Db,
    now: Now,
    client: Client,
    reference: Reference,
    actor: Annotated[Actor, Depends(acting(key_scope=MANAGE, staff_action="edit", guest=True))],
    request: UpdateBookingRequest,
) -> dict[str, Any]:
    """Change the date, time, party size or requirements, checked like a new booking."""
    if not request.changes():
        raise ValidationFailed("Send at least one field to change.", details=[{"field": "body"}])
    data = await bookings.update_booking(
        db, reference=reference, request=request, actor=actor, client=client, now=now
    )
    return {"success": True, "data": data}


@router.post(
    "/{reference}/cancel",
    summary="Cancel a booking",
    response_model=Envelope[CancelledBooking],
    responses=_errors(404, 409),
)
async def cancel_booking(
    db: Db,
    now: Now,
    client: Client,
    reference: Reference,
    actor: Annotated[Actor, Depends(acting(key_scope=MANAGE, staff_action="cancel", guest=True))],
    request: Annotated[CancelBookingRequest | None, Body()] = None,
) -> dict[str, Any]:
    """Cancel; the refund due follows the policy in force when the booking was made."""
    data = await bookings.cancel_booking(
        db,
        reference=reference,
        reason=request.reason if request else None,
        refund_amount=request.refund_amount if request else None,
        actor=actor,
        client=client,
        now=now,
    )
    return {"success": True, "data": data}


@router.post(
    "/{reference}/status",
    summary="Mark completed or no-show",
    response_model=Envelope[BookingDetail],
    responses=_errors(404, 409, 422),
)
async def set_status(
    db: Db,
    now: Now,
    client: Client,
    reference: Reference,
    actor: Annotated[Actor, Depends(acting(key_scope=MANAGE, staff_action="edit"))],
    request: StatusRequest,
) -> dict[str, Any]:
    """Staff, after the start: the guests came (`completed`) or never came (`no_show`)."""
    data = await bookings.set_status(
        db, reference=reference, status=request.status, actor=actor, client=client, now=now
    )
    return {"success": True, "data": data}
