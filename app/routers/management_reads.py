"""``/management/api``: the reads of the pub's 2026 management-API contract
(pub-api-2026.md sections 1 to 4 and 8), so that the pub's website reads its hours, a day's load
and table availability, the seasonal booking period and the menus from us unchanged.

Everything comes from our one booking engine (app.services.management_reads, one database call
per request); the shapes, status codes and messages are the pub's.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from app import openapi_docs as docs
from app.deps import Db, Now, require_scope
from app.schemas import Envelope, ErrorEnvelope
from app.services import management_reads as reads
from app.services.api_keys import READ, ApiKeyCaller

READ_MENU = "read:menu"
TAG = "2026 website contract"

router = APIRouter(prefix="/management/api", tags=[TAG])

ReadTables = Annotated[ApiKeyCaller, Depends(require_scope(READ))]
ReadMenu = Annotated[ApiKeyCaller, Depends(require_scope(READ_MENU))]

PublicReason = Literal[
    "tables_full", "kitchen_full", "outside_full", "closed", "too_late", "too_large", "unknown"
]


# Response models ---------------------------------------------------------------------------------


class KitchenTimes(BaseModel):
    opens: str
    closes: str


class DayHours(BaseModel):
    """One day's hours; times HH:MM:SS."""

    opens: str | None
    closes: str | None
    kitchen: KitchenTimes | None
    is_closed: bool
    is_kitchen_closed: bool
    schedule_config: list[dict[str, Any]]


class SpecialDay(DayHours):
    date: str
    status: Literal["closed", "modified"]
    note: str | None


class CurrentServices(BaseModel):
    """The pub's field names (camelCase), as the website reads them."""

    venue: bool
    kitchen: bool
    sundayLunch: bool


class CurrentStatus(BaseModel):
    isOpen: bool
    kitchenOpen: bool
    closesIn: str | None
    opensIn: str | None
    currentTime: str
    timestamp: str
    services: CurrentServices


class TodaySummary(BaseModel):
    date: str
    dayName: str
    summary: str
    isSpecialHours: bool
    events: list[dict[str, Any]]


class WeekDay(BaseModel):
    date: str
    dayName: str
    status: Literal["special", "normal"]
    summary: str
    note: str | None


class BusinessHours(BaseModel):
    regularHours: dict[str, DayHours]
    specialHours: list[SpecialDay]
    currentStatus: CurrentStatus
    today: TodaySummary
    upcomingWeek: list[WeekDay]


class AvailabilitySlot(BaseModel):
    time: str
    state: Literal["available", "unavailable"]
    public_reason: PublicReason | None
    message: str | None
    high_chairs_remaining: int


class TableAvailability(BaseModel):
    """Per-slot availability for the party (contract version 1). On ``unknown`` nothing is
    bookable."""

    contract_version: Literal[1]
    calculation_state: Literal["complete", "unknown"]
    date: str
    party_size: int | None
    purpose: Literal["food", "drinks"] | None = None
    outside: bool | None = None
    requires_accessible_table: bool | None = None
    max_party_size_online: int | None = None
    duration_minutes: int | None = None
    slots: list[AvailabilitySlot]
    public_reason: PublicReason | None = None
    message: str | None = None
    kitchen_closed: bool | None = None


class BookedCovers(BaseModel):
    time: str
    covers: int


class PacingCapacity(BaseModel):
    enabled: bool
    window_minutes: int
    ceiling_covers: int
    walk_in_reserve: int


class PacingSlot(BaseModel):
    time: str
    covers: int
    remaining: int
    high_chairs_remaining: int


class TableLoad(BaseModel):
    date: str
    table_availability: TableAvailability | None
    window_minutes: int
    busy_threshold_covers: int
    filling_threshold_covers: int
    bookings: list[BookedCovers]
    capacity: PacingCapacity
    slots: list[PacingSlot]


class PeriodMenuItem(BaseModel):
    id: str
    course: str
    name: str
    description: str | None
    price_gbp: float | None
    allergens: str | None


class BookingPeriod(BaseModel):
    id: str
    code: str
    period_kind: str
    name: str
    guest_question: str
    guest_blurb: str | None
    starts_on: str
    ends_on: str
    requires_preorder: bool
    preorder_cutoff_days: int
    deposit_basis: Literal["none", "per_head", "per_booking"]
    deposit_amount: float
    refund_cutoff_days: int
    min_party_size: int | None
    max_party_size: int | None
    min_notice_hours: int
    bookable: bool
    not_bookable_reason: Literal["menu_not_ready"] | None
    not_bookable_message: str | None
    menu: list[PeriodMenuItem]
    course_policy: dict[str, Any] | None


class DepositPrice(BaseModel):
    required: bool
    amount: float
    rule: Literal["none", "group", "period"]
    basis: Literal["per_head", "per_booking"] | None
    rate: float | None
    reason: str
    refund_cutoff_days: int | None
    refund_policy: str | None


class DepositRejection(BaseModel):
    code: str
    message: str


class PeriodDeposit(BaseModel):
    party_size: int
    collect: bool
    if_accepted: DepositPrice | None
    if_accepted_rejection: DepositRejection | None
    if_declined: DepositPrice | None


class PeriodAnswer(BaseModel):
    date: str
    period: BookingPeriod | None
    deposit: PeriodDeposit | None


class SundayDish(BaseModel):
    id: str
    name: str
    description: str | None
    price: float
    dietary_info: list[str]
    allergens: list[str]
    is_available: bool


class SundaySide(SundayDish):
    included: bool


class SundayLunchDishes(BaseModel):
    mains: list[SundayDish]
    sides: list[SundaySide]


class MenuDish(BaseModel):
    id: str
    name: str
    description: str | None
    price: float | None
    calories: int | None
    dietary_info: list[str]
    allergens: list[str]
    is_available: bool
    is_special: bool
    is_new: bool
    new_until: str | None
    available_from: str | None
    available_until: str | None
    image_url: str | None
    sort_order: int


class MenuSection(BaseModel):
    id: str
    name: str
    description: str | None
    sort_order: int
    items: list[MenuDish]


class WebsiteMenu(BaseModel):
    menu: dict[str, Any]
    menu_code: str
    menu_name: str
    sections: list[MenuSection]


# Responses ---------------------------------------------------------------------------------------


#: The pub's headers on every envelope (section 1.3): its CORS set, and no caching (the website
#: fetches uncached; section 1.3 says no-store everywhere is safe).
def _headers(request: Request) -> dict[str, str]:
    origins: list[str] = request.app.state.settings.cors_allowed_origins
    return {
        "Cache-Control": "no-store",
        "Access-Control-Allow-Origin": origins[0] if origins else "https://www.the-anchor.pub",
        "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
        "Access-Control-Allow-Headers": (
            "Content-Type, Authorization, X-API-Key, Idempotency-Key, X-Turnstile-Token"
        ),
        "Vary": "Origin",
    }


def _envelope(request: Request, data: Any) -> JSONResponse:
    return JSONResponse({"success": True, "data": data}, headers=_headers(request))


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorEnvelope} for status in statuses}


# Routes ------------------------------------------------------------------------------------------

DateQuery = Annotated[str | None, Query(description="YYYY-MM-DD, a real calendar date.")]


@router.get(
    "/business/hours",
    summary="Opening hours",
    response_model=Envelope[BusinessHours],
    responses=_errors(400, 503),
)
async def get_business_hours(
    request: Request, db: Db, now: Now, date: DateQuery = None
) -> Response:
    """The weekly hours in force on ``date``, the special days ahead and what is open now."""
    day = (
        reads.london_today(now)
        if date is None
        else reads.real_date(date, field="date", message=reads.HOURS_DATE_MESSAGE)
    )
    return _envelope(request, await reads.business_hours(db, day=day, now=now))


@router.get(
    "/table-bookings/load",
    summary="A day's load and table availability",
    response_model=Envelope[TableLoad],
    responses=_errors(400, 401, 403, 429, 503),
)
async def get_table_load(
    request: Request,
    db: Db,
    now: Now,
    _: ReadTables,
    date: DateQuery = None,
    party_size: Annotated[
        str | None, Query(description="Guests; absent, 0 or not a number: no availability.")
    ] = None,
    purpose: Annotated[
        str | None, Query(description="`drinks` for drinks; anything else is food.")
    ] = None,
    outside: Annotated[str | None, Query(description="`true` for outside seating.")] = None,
    requires_accessible_table: Annotated[
        str | None, Query(description="`true` for a step-free, standard-height table.")
    ] = None,
    high_chair_count: Annotated[str | None, Query(description="High chairs wanted.")] = None,
) -> Response:
    """Covers booked, the busy thresholds, the kitchen's pacing grid and, for a party, the
    engine's answer for every slot."""
    day = reads.real_date(date, field="date", message=reads.DATE_MESSAGE)
    data = await reads.table_load(
        db,
        day=day,
        party_size=reads.load_party(party_size),
        purpose="drinks" if purpose == "drinks" else "food",
        outside=outside == "true",
        accessible=requires_accessible_table == "true",
        high_chairs=max(0, reads.parse_int(high_chair_count) or 0),
        now=now,
    )
    return _envelope(request, data)


@router.get(
    "/table-bookings/periods",
    summary="The booking period of a date and its deposit",
    response_model=Envelope[PeriodAnswer],
    responses=_errors(400, 401, 403, 429, 503),
)
async def get_booking_period(
    request: Request,
    db: Db,
    _: ReadTables,
    date: DateQuery = None,
    party_size: Annotated[str | None, Query(description="Guests, 1 to 200.")] = None,
) -> Response:
    """The live seasonal period covering the date and, for a party, its deposit if the guest
    accepts the period and if they decline."""
    day = reads.real_date(date, field="date", message=reads.DATE_MESSAGE)
    party = reads.period_party(party_size)
    return _envelope(request, await reads.booking_period(db, day=day, party_size=party))


@router.get(
    "/menu/sunday-lunch",
    summary="The Sunday lunch dishes",
    response_model=Envelope[SundayLunchDishes],
    responses=_errors(401, 403, 404, 429, 503),
)
async def get_sunday_lunch_dishes(request: Request, db: Db, _: ReadMenu) -> Response:
    """The Sunday lunch mains and sides, with prices, allergens and dietary notes."""
    return _envelope(request, await reads.sunday_lunch_menu(db))


@router.get(
    "/menu",
    summary="A menu by its code",
    response_model=Envelope[WebsiteMenu],
    responses=_errors(400, 401, 403, 404, 429, 503),
)
async def get_menu(
    request: Request,
    db: Db,
    now: Now,
    _: ReadMenu,
    menu: Annotated[
        str | None, Query(description="The menu's code (default website_food).")
    ] = None,
) -> Response:
    """One of the pub's menus, its sections and the dishes on sale today."""
    code = reads.menu_code(menu)
    return _envelope(request, await reads.menu(db, code=code, now=now))


# OPTIONS (section 1.3): the envelope on load and the menus, a bare preflight on periods. A
# browser's CORS preflight (Origin and Access-Control-Request-Method) is answered before these by
# the app's CORS middleware.


@router.options("/table-bookings/load", include_in_schema=False)
@router.options("/menu/sunday-lunch", include_in_schema=False)
@router.options("/menu", include_in_schema=False)
async def options_envelope(request: Request) -> Response:
    return _envelope(request, {})


@router.options("/table-bookings/periods", include_in_schema=False)
async def options_periods(request: Request) -> Response:
    return Response(
        status_code=200, headers={**_headers(request), "Access-Control-Max-Age": "86400"}
    )


# What /openapi.json says of each operation (app.openapi_docs) ----------------------------------

_WEEKDAY_HOURS = {
    "opens": "16:00:00",
    "closes": "22:00:00",
    "kitchen": {"opens": "16:00:00", "closes": "21:00:00"},
    "is_closed": False,
    "is_kitchen_closed": False,
    "schedule_config": [
        {
            "name": "food service",
            "starts_at": "16:00",
            "ends_at": "21:00",
            "booking_type": "regular",
            "capacity": 50,
        }
    ],
}
HOURS_EXAMPLE = {
    "regularHours": {
        "monday": {
            "opens": "16:00:00",
            "closes": "22:00:00",
            "kitchen": None,
            "is_closed": False,
            "is_kitchen_closed": True,
            "schedule_config": [],
        },
        "friday": {**_WEEKDAY_HOURS, "closes": "23:00:00"},
    },
    "specialHours": [
        {
            "date": "2026-12-01",
            "opens": None,
            "closes": None,
            "kitchen": None,
            "is_closed": True,
            "is_kitchen_closed": True,
            "schedule_config": [],
            "status": "closed",
            "note": "Closed for a private event",
        },
        {
            "date": "2026-12-24",
            "opens": "12:00:00",
            "closes": "18:00:00",
            "kitchen": {"opens": "12:00:00", "closes": "16:00:00"},
            "is_closed": False,
            "is_kitchen_closed": False,
            "schedule_config": [],
            "status": "modified",
            "note": "Christmas Eve",
        },
    ],
    "currentStatus": {
        "isOpen": False,
        "kitchenOpen": False,
        "closesIn": None,
        "opensIn": "6 hours",
        "currentTime": "10:00:00",
        "timestamp": "2026-11-24T10:00:00+00:00",
        "services": {"venue": False, "kitchen": False, "sundayLunch": False},
    },
    "today": {
        "date": "2026-11-24",
        "dayName": "Tuesday",
        "summary": "Open 16:00-22:00, kitchen 16:00-21:00",
        "isSpecialHours": False,
        "events": [],
    },
    "upcomingWeek": [
        {
            "date": "2026-11-24",
            "dayName": "Tuesday",
            "status": "normal",
            "summary": "Open 16:00-22:00, kitchen 16:00-21:00",
            "note": None,
        }
    ],
}
FULL = "We are fully booked at that time. Please try another time or give us a ring."
LOAD_EXAMPLE = {
    "date": "2026-11-27",
    "table_availability": {
        "contract_version": 1,
        "calculation_state": "complete",
        "date": "2026-11-27",
        "party_size": 4,
        "purpose": "food",
        "outside": False,
        "requires_accessible_table": False,
        "max_party_size_online": 20,
        "duration_minutes": 120,
        "slots": [
            {
                "time": "18:00",
                "state": "available",
                "public_reason": None,
                "message": None,
                "high_chairs_remaining": 2,
            },
            {
                "time": "18:15",
                "state": "unavailable",
                "public_reason": "tables_full",
                "message": FULL,
                "high_chairs_remaining": 1,
            },
        ],
    },
    "window_minutes": 60,
    "busy_threshold_covers": 30,
    "filling_threshold_covers": 20,
    "bookings": [{"time": "18:15", "covers": 8}],
    "capacity": {"enabled": True, "window_minutes": 30, "ceiling_covers": 19, "walk_in_reserve": 6},
    "slots": [
        {"time": "18:00", "covers": 0, "remaining": 19, "high_chairs_remaining": 2},
        {"time": "18:15", "covers": 8, "remaining": 11, "high_chairs_remaining": 1},
    ],
}
TOO_LARGE_EXAMPLE = {
    **LOAD_EXAMPLE,
    "table_availability": {
        "contract_version": 1,
        "calculation_state": "complete",
        "date": "2026-11-27",
        "party_size": 21,
        "slots": [],
        "public_reason": "too_large",
        "message": "For a group that size we look after you as a private booking. Get in touch "
        "and we will sort it out.",
    },
}
REFUND_7 = (
    "Full refund up to 7 days before the booking date. Inside 7 days the deposit is not "
    "refunded, though a manager may waive that. The deposit comes off the bill on the day."
)
PERIOD_EXAMPLE = {
    "date": "2026-12-04",
    "period": {
        "id": "9f47d0f6-7007-44b1-9a90-7a16faaa5ab4",
        "code": "christmas-2026",
        "period_kind": "christmas",
        "name": "Christmas dinner 2026",
        "guest_question": "Is this a Christmas dinner booking?",
        "guest_blurb": "Our festive set menu. Choose your courses when you book.",
        "starts_on": "2026-11-27",
        "ends_on": "2026-12-20",
        "requires_preorder": False,
        "preorder_cutoff_days": 7,
        "deposit_basis": "per_head",
        "deposit_amount": 10.0,
        "refund_cutoff_days": 7,
        "min_party_size": 6,
        "max_party_size": 20,
        "min_notice_hours": 24,
        "bookable": True,
        "not_bookable_reason": None,
        "not_bookable_message": None,
        "menu": [],
        "course_policy": None,
    },
    "deposit": {
        "party_size": 8,
        "collect": True,
        "if_accepted": {
            "required": True,
            "amount": 80.0,
            "rule": "period",
            "basis": "per_head",
            "rate": 10.0,
            "reason": "Christmas dinner 2026: a deposit of GBP 10.00 a guest.",
            "refund_cutoff_days": 7,
            "refund_policy": REFUND_7,
        },
        "if_accepted_rejection": None,
        "if_declined": {
            "required": False,
            "amount": 0,
            "rule": "none",
            "basis": None,
            "rate": None,
            "reason": "No deposit is due for this booking.",
            "refund_cutoff_days": None,
            "refund_policy": None,
        },
    },
}
SUNDAY_EXAMPLE = {
    "mains": [
        {
            "id": "4155c8c6-4615-4b9b-aaed-22079895e7b9",
            "name": "Roasted Chicken",
            "description": "Oven-roasted chicken breast with sage & onion stuffing balls",
            "price": 14.99,
            "dietary_info": [],
            "allergens": ["Gluten"],
            "is_available": True,
        }
    ],
    "sides": [
        {
            "id": "d9c5392a-2338-439d-b7e8-7e5a9dc71a13",
            "name": "Herb & Garlic Roast Potatoes",
            "description": "Crispy roast potatoes with herbs and garlic",
            "price": 0.0,
            "dietary_info": ["Vegan", "Gluten-free"],
            "allergens": [],
            "is_available": True,
            "included": True,
        }
    ],
}
MENU_EXAMPLE = {
    "menu": {
        "@type": "Menu",
        "name": "Drinks Menu",
        "hasMenuSection": [
            {
                "@type": "MenuSection",
                "name": "Hot Drinks",
                "description": "Teas, coffees, and hot drinks",
                "hasMenuItem": [
                    {
                        "@type": "MenuItem",
                        "name": "Latte",
                        "description": None,
                        "offers": {
                            "@type": "Offer",
                            "price": "3.20",
                            "priceCurrency": "GBP",
                            "availability": "https://schema.org/InStock",
                        },
                        "suitableForDiet": [],
                    }
                ],
            }
        ],
    },
    "menu_code": "drinks",
    "menu_name": "Drinks Menu",
    "sections": [
        {
            "id": "6186a71a-fe16-431b-99ba-5087dd1b7a51",
            "name": "Hot Drinks",
            "description": "Teas, coffees, and hot drinks",
            "sort_order": 120,
            "items": [
                {
                    "id": "0b8f4a5e-2a7e-4a61-9a55-1f1f3f7c2b11",
                    "name": "Latte",
                    "description": None,
                    "price": 3.2,
                    "calories": None,
                    "dietary_info": [],
                    "allergens": ["Milk"],
                    "is_available": True,
                    "is_special": False,
                    "is_new": False,
                    "new_until": None,
                    "available_from": None,
                    "available_until": None,
                    "image_url": None,
                    "sort_order": 1,
                }
            ],
        }
    ],
}


def _bad(message: str, field: str) -> tuple[str, dict[str, Any]]:
    return (
        f"`{field}` is not valid",
        docs.error("VALIDATION_ERROR", message, [{"field": field, "message": message}]),
    )


def _keyed(scope: str, *statuses: tuple[int, docs.Response]) -> dict[int, docs.Response]:
    return {
        **dict(statuses),
        401: docs.unauthorized(
            ("no API key was sent", docs.NO_KEY),
            ("the key is unknown, inactive or expired", docs.BAD_KEY),
        ),
        403: docs.forbidden(("the key lacks the scope", docs.lacks_scope(scope))),
        429: docs.key_rate_limited(),
        503: docs.unavailable(),
    }


WEBSITE = (
    " Part of the pub's 2026 management-API contract (pub-api-2026.md), served under "
    "`/management/api` so that the pub's website can use this service as its management API "
    "unchanged."
)
KEY_AUTH_TABLES = docs.key_auth(READ)
KEY_AUTH_MENU = docs.key_auth(READ_MENU)

docs.OPERATIONS.update(
    {
        ("GET", "/management/api/business/hours"): docs.Operation(
            summary="Opening hours",
            description="The weekly hours (`regularHours`, by weekday) of the published version "
            "in force on `date` (default today), the special days from today to 90 days ahead "
            "(`specialHours`, each `closed` or `modified`, with the hours in force that day), "
            "what is open now (`currentStatus`), today and the coming week. Times are "
            "`HH:MM:SS`, London." + WEBSITE + "\n\n**Auth:** none (no credential needed).",
            security=docs.OPEN,
            parameters={"date": {"friday": docs.example("a Friday", "2026-11-27")}},
            responses={
                200: docs.Response(
                    "The hours.", {"hours": docs.example("a Tuesday", docs.ok(HOURS_EXAMPLE))}
                ),
                400: docs.invalid(_bad(reads.HOURS_DATE_MESSAGE, "date")),
                503: docs.unavailable(),
            },
        ),
        ("GET", "/management/api/table-bookings/load"): docs.Operation(
            summary="A day's load and table availability",
            description="For `date`: the covers booked per time (`bookings`), the busy "
            "thresholds, the kitchen's pacing (`capacity`) and its 15-minute grid (`slots`), "
            "and with `party_size` the engine's answer for every slot (`table_availability`: "
            "`available`, or `unavailable` with a public reason, `tables_full`, `kitchen_full`, "
            "`outside_full`, `closed`, `too_late`, `too_large` or `unknown`, and its message). "
            "A slot shown available is one `POST /api/table-bookings` accepts (the same rules), "
            "though it can fill up in between. If the calculation fails, "
            "`calculation_state` is `unknown`: nothing is bookable. `Cache-Control: no-store`."
            + WEBSITE
            + KEY_AUTH_TABLES,
            security=docs.KEY,
            parameters={
                "date": {"friday": docs.example("a Friday", "2026-11-27")},
                "party_size": {"four": docs.example("four guests", "4")},
                "purpose": {"food": docs.example("a meal", "food")},
                "outside": {"outside": docs.example("outside seating", "true")},
                "requires_accessible_table": {"step_free": docs.example("step-free", "true")},
                "high_chair_count": {"one": docs.example("one high chair", "1")},
            },
            responses=_keyed(
                READ,
                (
                    200,
                    docs.Response(
                        "The day's load.",
                        {
                            "party": docs.example("a party of four", docs.ok(LOAD_EXAMPLE)),
                            "too_large": docs.example(
                                "a party over the online maximum", docs.ok(TOO_LARGE_EXAMPLE)
                            ),
                        },
                    ),
                ),
                (400, docs.invalid(_bad(reads.DATE_MESSAGE, "date"))),
            ),
        ),
        ("GET", "/management/api/table-bookings/periods"): docs.Operation(
            summary="The booking period of a date and its deposit",
            description="The live seasonal booking period covering `date` (null when there is "
            "none), whether it can be booked, its pre-order menu and, with `party_size`, the "
            "deposit if the guest accepts the period (`if_accepted`, or why they cannot: "
            "`if_accepted_rejection`) and if they decline (`if_declined`), priced by the rule "
            "the create applies (the group deposit or the period's, the larger, never both)."
            + WEBSITE
            + KEY_AUTH_TABLES,
            security=docs.KEY,
            parameters={
                "date": {"advent": docs.example("a Friday in the period", "2026-12-04")},
                "party_size": {"eight": docs.example("eight guests", "8")},
            },
            responses=_keyed(
                READ,
                (
                    200,
                    docs.Response(
                        "The period and its deposit.",
                        {"christmas": docs.example("a Christmas date", docs.ok(PERIOD_EXAMPLE))},
                    ),
                ),
                (
                    400,
                    docs.invalid(
                        _bad(reads.DATE_MESSAGE, "date"),
                        _bad(reads.PARTY_MESSAGE, "party_size"),
                    ),
                ),
            ),
        ),
        ("GET", "/management/api/menu/sunday-lunch"): docs.Operation(
            summary="The Sunday lunch dishes",
            description="The Sunday lunch mains and sides (`included` for a side at no extra "
            "cost), from the pub's menu (its `sunday_lunch` menu) or, where the pub's menu "
            "tables do not exist, the Sunday lunch menu of `/api/table-bookings/menu/sunday-lunch`."
            + WEBSITE
            + KEY_AUTH_MENU,
            security=docs.KEY,
            responses=_keyed(
                READ_MENU,
                (
                    200,
                    docs.Response(
                        "The dishes.",
                        {"dishes": docs.example("the roasts", docs.ok(SUNDAY_EXAMPLE))},
                    ),
                ),
                (
                    404,
                    docs.failure(
                        "There is no Sunday lunch dish.",
                        ("no active dish", docs.error("NOT_FOUND", reads.NO_SUNDAY_LUNCH)),
                    ),
                ),
            ),
        ),
        ("GET", "/management/api/menu"): docs.Operation(
            summary="A menu by its code",
            description="One of the pub's menus (`website_food` by default, `kids`, "
            "`sunday_lunch`, `christmas` or `drinks`): its sections in order with the dishes on "
            "sale today, and the same as a schema.org `Menu`." + WEBSITE + KEY_AUTH_MENU,
            security=docs.KEY,
            parameters={"menu": {"drinks": docs.example("the drinks menu", "drinks")}},
            responses=_keyed(
                READ_MENU,
                (
                    200,
                    docs.Response(
                        "The menu.", {"drinks": docs.example("the drinks", docs.ok(MENU_EXAMPLE))}
                    ),
                ),
                (400, docs.invalid(_bad(reads.MENU_CODE_MESSAGE, "menu"))),
                (
                    404,
                    docs.failure(
                        "No such menu here.",
                        (
                            "the menu is not active, or this database has no menu tables",
                            docs.error("NOT_FOUND", reads.NO_MENU),
                        ),
                    ),
                ),
            ),
        ),
    }
)
