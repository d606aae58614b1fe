"""The shapes of the HTTP contract (API.md): requests validated here, responses documented here."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Annotated, Any, Generic, Literal, NotRequired, TypeVar
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)
from typing_extensions import TypedDict

from app.services import guest_text

BookingType = Literal["regular", "sunday_lunch"]
BookingStatus = Literal["pending_payment", "confirmed", "cancelled", "no_show", "completed"]
#: The channels staff may name; an API key's bookings are always ``website`` (the channel is the
#: caller's, never the body's).
STAFF_SOURCES: frozenset[str] = frozenset({"phone", "walk-in", "email", "staff"})

# ASCII digits only: in a str pattern \d is any Unicode digit (Arabic-Indic, fullwidth, ...),
# which PostgreSQL cannot read as a time.
_TIME = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])(:00)?$")
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


def _iso_date(value: object) -> object:
    """A date is a ``YYYY-MM-DD`` string of ASCII digits: not a number of seconds (pydantic
    would read ``1801008000`` or ``"0"`` as one), not a datetime."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str) or not _DATE.match(value):
        raise ValueError("must be a date YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError("must be a real date YYYY-MM-DD") from None


def _one_line(value: str) -> str:
    return guest_text.clean_text(value, multiline=False)


def _note(value: str) -> str:
    return guest_text.clean_text(value, multiline=True)


def _tag(value: str) -> str:
    cleaned = guest_text.clean_text(value, multiline=False)
    if not cleaned:
        raise ValueError("must not be empty")
    return cleaned


#: Strict JSON types: a date is its ISO string, a count a JSON integer, a yes/no a JSON boolean.
IsoDate = Annotated[dt.date, BeforeValidator(_iso_date)]
Count = StrictInt
YesNo = StrictBool

ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)]
NAME_MAX = guest_text.NAME_MAX_LENGTH
OneLine = Annotated[str, AfterValidator(_one_line)]
Note = Annotated[str, AfterValidator(_note)]
Tag = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
    AfterValidator(_tag),
]


def _hh_mm(value: str) -> str:
    match = _TIME.match(value.strip())
    if not match:
        raise ValueError("must be a time HH:MM (24-hour clock)")
    return f"{match.group(1)}:{match.group(2)}"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        # PostgreSQL cannot store U+0000 in text: refuse it here, naming the field, not as a 500.
        texts = value if isinstance(value, list) else [value]
        if any(isinstance(t, str) and "\x00" in t for t in texts):
            raise ValueError("must not contain the NUL character")
        return value


class Customer(Strict):
    first_name: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=NAME_MAX)
    ] = Field(description="Letters, spaces, apostrophes and hyphens, from a letter.")
    last_name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=NAME_MAX)] = (
        Field(default="", description="As first_name; may be empty.")
    )
    mobile_number: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    email: Annotated[str, StringConstraints(strip_whitespace=True, max_length=320)] | None = None
    sms_opt_in: YesNo = Field(description="Whether the guest agreed to booking texts.")

    @field_validator("first_name", "last_name")
    @classmethod
    def _name(cls, value: str, info: ValidationInfo) -> str:
        # Names go into the pub's texts: a name, never a line of someone else's message.
        return guest_text.check_name(value, required=info.field_name == "first_name")

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not _EMAIL.match(value) or guest_text.has_hidden_characters(value):
            raise ValueError("must be an email address")
        return value


class MenuSelection(Strict):
    menu_item_id: UUID | None = Field(
        default=None, description="The dish's id from the Sunday lunch menu."
    )
    custom_item_name: Annotated[ShortText, AfterValidator(_one_line)] | None = Field(
        default=None,
        description="The dish's name as the menu shows it (case ignored); used when "
        "`menu_item_id` is not sent.",
    )
    quantity: Count = Field(default=1, ge=1, le=50)
    guest_name: Annotated[ShortText, AfterValidator(_one_line)] | None = None
    special_requests: Annotated[Note, StringConstraints(max_length=500)] | None = None
    item_type: Literal["main", "side", "starter", "dessert", "extra"] | None = Field(
        default=None,
        description="Accepted and ignored: whether a dish is a main or a side is the menu's.",
    )
    price_at_booking: Decimal | None = Field(
        default=None,
        ge=0,
        le=10_000,
        description="Accepted and ignored: prices always come from the menu.",
    )

    @model_validator(mode="after")
    def _names_a_dish(self) -> MenuSelection:
        if self.menu_item_id is None and not self.custom_item_name:
            raise ValueError("needs menu_item_id or custom_item_name")
        return self


class TableOverrides(Strict):
    """The pub's table rules staff may relax for one booking (audited)."""

    ignore_minimum: YesNo = Field(default=False, description="Seat below a table's minimum.")
    ignore_hold: YesNo = Field(default=False, description="Seat at a table held for walk-ins.")
    allow_unjoined: YesNo = Field(
        default=False, description="Put together tables that are not joined."
    )
    ignore_accessibility: YesNo = Field(
        default=False, description="Seat an accessible booking at any table."
    )


class CreateBookingRequest(Strict):
    booking_type: BookingType
    date: IsoDate
    time: str = Field(examples=["19:00"])
    party_size: Count = Field(ge=1, le=500, description="Guests; over 20 the pub asks you to call.")
    customer: Customer
    special_requirements: Annotated[Note, StringConstraints(max_length=500)] | None = None
    dietary_requirements: list[Tag] = Field(default_factory=list, max_length=20)
    allergies: list[Tag] = Field(default_factory=list, max_length=20)
    celebration_type: Annotated[OneLine, StringConstraints(max_length=50)] | None = None
    source: Annotated[OneLine, StringConstraints(max_length=50)] | None = Field(
        default=None,
        description="Ignored for API keys (their bookings are `website`); staff may name "
        "`phone`, `walk-in`, `email` or `staff` (the default).",
        examples=["website"],
    )
    duration_minutes: Count | None = Field(
        default=None,
        ge=1,
        le=1440,
        description="Accepted and ignored: every booking lasts the pub's "
        "`table_booking_duration_minutes` (120).",
    )
    marketing_opt_in: YesNo | None = Field(
        default=None,
        description="Accepted and ignored: the service sends no marketing (`customer.sms_opt_in` "
        "is the consent to booking texts).",
    )
    menu_selections: list[MenuSelection] = Field(default_factory=list, max_length=100)
    override: YesNo = Field(
        default=False,
        description="Staff only: book despite the minimum notice or the Sunday lunch cut-off.",
    )
    purpose: Literal["food", "drinks"] = Field(
        default="food",
        description="What the table is for: `food` (the kitchen's hours and pacing) or "
        "`drinks` (the pub's hours and the drinks arrivals ceiling). Sunday lunch is food.",
    )
    is_outside_seating: YesNo = Field(
        default=False, description="An outside table (the pub's outside pool), not inside."
    )
    requires_accessible_table: YesNo = Field(
        default=False, description="Only a step-free table with standard-height seating."
    )
    high_chair_count: Count = Field(
        default=0,
        ge=0,
        le=2,
        description="High chairs asked for; granted while the pub's chairs last (never refuses).",
    )
    booking_period_id: UUID | None = Field(
        default=None,
        description="The seasonal period the guest was offered (from the period for the date).",
    )
    booking_period_answer: YesNo | None = Field(
        default=None, description="The guest's answer to the seasonal period's question."
    )
    deposit_waived: YesNo = Field(
        default=False, description="Staff only: take the booking without the deposit it owes."
    )
    bypass_pacing: YesNo = Field(
        default=False,
        description="Staff only: book despite the kitchen pacing and the drinks ceiling.",
    )
    table_overrides: TableOverrides | None = Field(
        default=None, description="Staff only: relax the table rules for this booking."
    )
    pin: YesNo = Field(
        default=False, description="Staff only: the booking's tables are never moved for it."
    )

    @field_validator("time")
    @classmethod
    def _time(cls, value: str) -> str:
        return _hh_mm(value)

    def staff_only_fields(self) -> list[str]:
        """The staff-only choices this request makes."""
        return [
            name
            for name in ("override", "deposit_waived", "bypass_pacing", "pin")
            if getattr(self, name)
        ] + (["table_overrides"] if self.table_overrides is not None else [])


class UpdateBookingRequest(Strict):
    date: IsoDate | None = None
    time: str | None = None
    party_size: Count | None = Field(default=None, ge=1, le=500)
    special_requirements: Annotated[Note, StringConstraints(max_length=500)] | None = None
    dietary_requirements: list[Tag] | None = Field(default=None, max_length=20)
    allergies: list[Tag] | None = Field(default=None, max_length=20)
    celebration_type: Annotated[OneLine, StringConstraints(max_length=50)] | None = None
    override: YesNo = False

    @field_validator("time")
    @classmethod
    def _time(cls, value: str | None) -> str | None:
        return None if value is None else _hh_mm(value)

    def changes(self) -> dict[str, Any]:
        """Only what the caller sent (an explicit null clears a text field)."""
        data = self.model_dump(mode="json", exclude_unset=True, exclude={"override"})
        for field in ("date", "time", "party_size"):
            if field in data and data[field] is None:
                del data[field]
        for field in ("dietary_requirements", "allergies"):
            if field in data and data[field] is None:
                data[field] = []  # null clears the list
        return data


class CancelBookingRequest(Strict):
    reason: Annotated[Note, StringConstraints(max_length=500)] | None = None
    refund_amount: Decimal | None = Field(
        default=None,
        ge=0,
        max_digits=8,
        decimal_places=2,
        description="Staff with the refund permission only: refund this instead of the policy's.",
    )


class StatusRequest(Strict):
    status: Literal["completed", "no_show"]


# Responses ---------------------------------------------------------------------------------------


class ErrorBody(BaseModel):
    code: str = Field(examples=["NO_AVAILABILITY"])
    message: str = Field(examples=["Sorry, only 3 covers are free at 19:00 on Friday 4 December."])
    details: Any = None


class ErrorEnvelope(BaseModel):
    success: Literal[False] = False
    error: ErrorBody


class KitchenHours(BaseModel):
    opens: str
    closes: str
    source: Literal["business_hours", "special_hours"]


class TimeSlot(BaseModel):
    time: str
    available: bool
    available_capacity: int
    requires_prepayment: bool
    reason: str | None = Field(
        description="Why not bookable: FULL, TOO_SOON, IN_PAST, CUT_OFF, TOO_FAR, "
        "PARTY_TOO_LARGE, NOT_SUNDAY; where the venue seats by tables also the pub's "
        "`no_table`, `outside_full`, `slot_full` (the kitchen's pacing) and `drinks_full`; "
        "null when bookable."
    )
    message: str | None = Field(
        default=None, description="Why not, in the words a guest reads; null when bookable."
    )


class Alternative(BaseModel):
    date: str
    time: str


class Availability(BaseModel):
    date: str
    booking_type: BookingType
    party_size: int
    purpose: Literal["food", "drinks"] = "food"
    available: bool
    kitchen_hours: KitchenHours | None
    time_slots: list[TimeSlot]
    message: str | None
    alternatives: list[Alternative]


class PaymentDetails(BaseModel):
    deposit_amount: str
    total_amount: str
    outstanding_amount: str
    currency: Literal["GBP"] = "GBP"
    payment_url: str | None = None
    expires_at: str | None


class BookingSummary(BaseModel):
    """What a confirmation screen shows of the booking just made."""

    date: str
    time: str
    party_size: int
    duration_minutes: int
    special_requirements: str | None


class CreatedBooking(BaseModel):
    booking_id: UUID
    booking_reference: str
    status: BookingStatus
    booking_type: BookingType
    date: str
    time: str
    party_size: int
    duration_minutes: int
    manage_token: str = Field(
        description="Lets the guest view, change and cancel this booking; shown only here."
    )
    payment_required: bool
    payment_details: PaymentDetails | None = None
    booking_purpose: Literal["food", "drinks"] = "food"
    table_name: str | None = Field(
        default=None,
        description='The table (or joined tables, "Dining Room 4a + Dining Room 4b") the '
        "booking was given, where the venue seats by tables.",
    )
    tables_joined: bool = False
    is_outside_seating: bool = False
    high_chairs_granted: int = Field(
        default=0, description="High chairs kept for the booking (fewer when the pub's run out)."
    )
    high_chairs_short: int = 0
    confirmation_details: BookingSummary
    booking_details: BookingSummary = Field(description="The same as `confirmation_details`.")
    cancellation_policy: str = Field(
        description="The cancellation policy in words, as `GET /api/table-bookings/{reference}` "
        "gives it in `cancellation_policy.summary`."
    )


class MenuItem(BaseModel):
    id: UUID
    name: str
    description: str | None
    category: Literal["main", "side"]
    price: float = Field(description="In pounds, a JSON number, e.g. 14.99.")
    included: bool
    is_available: bool
    allergens: list[str]
    dietary_info: list[str]


class SundayLunchMenu(BaseModel):
    menu_date: str
    mains: list[MenuItem]
    sides: list[MenuItem]
    order_cutoff: str
    cutoff_time: str = Field(description="The same as `order_cutoff`, by the website's name.")
    ordering_open: bool
    deposit_per_guest: str
    currency: Literal["GBP"] = "GBP"


# Responses without a model before the OpenAPI work: they document what the service returns and,
# with ``extra="allow"``, never drop a field the service adds later (tests/test_openapi_docs.py
# fails instead when a real response carries a field the schema does not name).


class Shown(BaseModel):
    model_config = ConfigDict(extra="allow")


PaymentStatus = Literal["pending", "completed", "failed", "refunded", "partial_refund"]


class StaffCustomerView(Shown):
    """What staff and manage-scope keys see of the guest."""

    customer_id: UUID | None
    first_name: str | None
    last_name: str | None
    mobile_number: str | None = Field(description="E.164, e.g. +447700900123.")
    email: str | None
    table_booking_count: int | None
    no_show_count: int | None


class GuestCustomerView(BaseModel):
    """What the guest (with the booking's token) sees of themselves: their name."""

    model_config = ConfigDict(extra="forbid")  # tells it apart from the staff view
    first_name: str | None
    last_name: str | None


class BookedItem(Shown):
    menu_item_id: UUID | None
    name: str | None
    item_type: Literal["main", "side", "extra"]
    quantity: int
    price: str = Field(description='Price per item when booked, e.g. "14.99".')
    guest_name: str | None
    special_requests: str | None


class BookingPayment(Shown):
    deposit_amount: str
    total_amount: str
    outstanding_amount: str = Field(description="Due at the pub, once the deposit is paid.")
    paid_amount: str
    status: PaymentStatus | None
    currency: Literal["GBP"]
    expires_at: str | None = Field(
        description="While pending_payment: when the unpaid hold is released (London time)."
    )


class CancellationPolicy(Shown):
    full_refund_until: str | None
    partial_refund_until: str | None
    partial_refund_percentage: int
    refund_percentage_now: int
    refund_amount_now: str
    summary: str = Field(description="The policy in one paragraph a guest can read.")


class BookingDetail(Shown):
    booking_id: UUID
    booking_reference: str
    status: BookingStatus
    booking_type: BookingType
    date: str
    time: str
    party_size: int
    duration_minutes: int | None
    starts_at: str
    ends_at: str | None
    booking_purpose: Literal["food", "drinks"] = "food"
    table_name: str | None = Field(
        default=None,
        description="Where the venue seats by tables: the booking's table or joined tables "
        '("Dining Room 4a + Dining Room 4b"), or "Outside".',
    )
    is_outside_seating: bool = False
    high_chair_count: int = 0
    customer: StaffCustomerView | GuestCustomerView = Field(
        description="Staff and manage-scope keys see contact details and history; the guest "
        "sees their name only."
    )
    special_requirements: str | None
    dietary_requirements: list[str]
    allergies: list[str]
    celebration_type: str | None
    source: str | None
    menu_selections: list[BookedItem]
    payment: BookingPayment | None = Field(
        description="Sunday lunch, and any booking that owes or paid a deposit; null otherwise."
    )
    modification_count: int
    created_at: str
    confirmed_at: str | None
    cancelled_at: str | None
    cancellation_reason: str | None
    completed_at: str | None
    no_show_at: str | None
    policy_override: bool
    can_cancel: bool
    can_modify: bool
    cancellation_policy: CancellationPolicy


class BookingListItem(Shown):
    booking_id: UUID
    booking_reference: str
    status: BookingStatus
    booking_type: BookingType
    date: str
    time: str
    party_size: int
    customer_name: str
    mobile_number: str | None
    special_requirements: str | None
    allergies: list[str]
    source: str | None


class BookingList(Shown):
    items: list[BookingListItem]
    page: int
    page_size: int
    total: int = Field(description="Bookings matching the filters, over all pages.")


class Refund(Shown):
    eligible: bool
    percentage: int
    amount: str = Field(description="Refunded to the PayPal payment, under the policy.")
    paid_amount: str
    currency: Literal["GBP"]


class CancelledBooking(Shown):
    booking_id: UUID
    booking_reference: str
    status: Literal["cancelled"]
    cancelled_at: str
    refund: Refund


class PaymentStart(Shown):
    booking_reference: str
    payment_url: str = Field(description="Send the guest here to approve the deposit at PayPal.")
    order_id: str
    amount: str
    currency: Literal["GBP"]
    expires_at: str | None


class PaymentReturn(Shown):
    booking_reference: str | None
    outcome: Literal[
        "confirmed", "already_confirmed", "mismatch", "pending", "released", "unknown_order"
    ]
    confirmed: bool


class Health(Shown):
    status: Literal["ok"]
    database: Literal["ok"]


class HealthUnavailable(BaseModel):
    status: Literal["unavailable"]
    database: Literal["unavailable"]
    success: Literal[False]
    error: ErrorBody


class JobRun(Shown):
    claimed: int
    sent: int
    outbox: int = Field(description="Recorded in the outbox because no provider is configured.")
    queued: int
    deferred: int
    skipped: int
    retrying: int
    failed: int


class HoldsExpired(Shown):
    cancelled: int


class KitchenPrep(TypedDict):
    queued: bool
    date: NotRequired[str]


class RemindersQueued(Shown):
    reminders: int
    kitchen_prep: KitchenPrep


class ReviewsQueued(TypedDict):
    queued: int
    skipped: NotRequired[Literal["no_review_link"]]


class BookingFigures(Shown):
    created: int
    refused: int
    success_rate: float | None


class PaymentFigures(Shown):
    deposits_requested: int
    deposits_paid: int
    completion_rate: float | None
    captured: int
    failed: int
    failure_rate: float | None


class SmsFigures(Shown):
    delivered: int
    failed: int
    rejected: int
    pending: int
    delivery_rate: float | None


class Latency(Shown):
    avg: float | None
    p50: float | None
    p95: float | None
    p99: float | None
    max: float | None


class ApiFigures(Shown):
    requests: int
    errors: int
    client_errors: int
    error_rate: float | None
    latency_ms: Latency


class NoShowFigures(Shown):
    no_shows: int
    attended: int
    rate: float | None


class MetricsWindow(Shown):
    from_: str = Field(alias="from")
    to: str
    bookings: BookingFigures
    payments: PaymentFigures
    sms: SmsFigures
    api: ApiFigures
    no_shows: NoShowFigures


class MetricsWindows(Shown):
    hour: MetricsWindow
    day: MetricsWindow


class FiredAlert(Shown):
    condition: str
    period: str
    value: float
    threshold: float
    queued: bool


class RequestStatsRun(Shown):
    flushed: int
    pruned: int


class MonitoringReport(Shown):
    now: str
    windows: MetricsWindows
    alerts: list[FiredAlert]
    request_stats: RequestStatsRun


class TwilioStatusAck(Shown):
    received: bool
    known: bool = Field(description="Whether the message is one this service sent.")


class PayPalEventAck(TypedDict):
    received: bool
    duplicate: NotRequired[bool]
    outcome: NotRequired[str]


T = TypeVar("T")


class Envelope(BaseModel, Generic[T]):
    success: Literal[True] = True
    data: T


class AvailabilityQuery(BaseModel):
    """The query of GET /api/table-bookings/availability (validated as one model)."""

    date: IsoDate = Field(description="The date, YYYY-MM-DD (London).")
    party_size: int = Field(2, ge=1, le=500)
    booking_type: Literal["regular", "sunday_lunch"] = "regular"
    purpose: Literal["food", "drinks"] = Field(
        "food", description="Food (the kitchen's hours and pacing) or drinks (the pub's hours)."
    )
    is_outside_seating: bool = Field(False, description="An outside table.")
    requires_accessible_table: bool = Field(False, description="A step-free, standard table.")
    high_chair_count: int = Field(0, ge=0, le=2, description="High chairs wanted.")

    def options(self) -> dict[str, object]:
        """What the database's availability takes besides date, party and type."""
        return {
            "purpose": self.purpose,
            "outside": self.is_outside_seating,
            "accessible": self.requires_accessible_table,
            "high_chairs": self.high_chair_count,
        }


# Tap-to-confirm (the day-before confirm text and the staff call list) ---------------------------


class ConfirmRequestsQueued(Shown):
    queued: int = Field(description="Confirm texts queued by this run.")
    date: IsoDate = Field(description="The day whose bookings are texted (tomorrow, London).")
    waiting: bool = Field(description="True before CONFIRM_REQUEST_HOUR: nothing is sent yet.")


class CallListUnanswered(Shown):
    booking_id: UUID
    booking_reference: str
    name: str | None
    phone: str | None
    time: str = Field(examples=["19:00"])
    party_size: int
    table_name: str | None
    texted_at: str | None = Field(description="When the confirm text went (London, ISO 8601).")
    delivery_status: str | None = Field(
        description="Twilio's last word on the text (queued, sent, delivered, failed, outbox)."
    )


class CallListNotTexted(Shown):
    booking_id: UUID
    booking_reference: str
    name: str | None
    phone: str | None
    time: str = Field(examples=["19:00"])
    party_size: int
    table_name: str | None
    reason: str = Field(
        description="no_mobile, opted_out, messaging_<status>, cannot_receive_texts, "
        "text_failed, too_late_to_text (booked after the sweep), not_ours (made in the pub's "
        "app), or why the text was not sent."
    )


class CallListCounts(Shown):
    confirmed: int
    answered_yes: int
    unanswered: int
    not_texted: int
    waiting: int = Field(description="Texts still to go (before the hour, or quiet hours).")


class ConfirmCallList(Shown):
    date: IsoDate
    unanswered: list[CallListUnanswered]
    not_texted: list[CallListNotTexted]
    counts: CallListCounts
