"""The shapes of the HTTP contract (API.md): requests validated here, responses documented here."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Annotated, Any, Generic, Literal, TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

BookingType = Literal["regular", "sunday_lunch"]
BookingStatus = Literal["pending_payment", "confirmed", "cancelled", "no_show", "completed"]
Source = Literal["website", "phone", "walk-in", "email", "staff"]

_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)(:00)?$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")

ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


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
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)
    ]
    last_name: ShortText = ""
    mobile_number: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    email: Annotated[str, StringConstraints(strip_whitespace=True, max_length=320)] | None = None
    sms_opt_in: bool = Field(description="Whether the guest agreed to booking texts.")

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not _EMAIL.match(value):
            raise ValueError("must be an email address")
        return value


class MenuSelection(Strict):
    menu_item_id: UUID
    quantity: int = Field(default=1, ge=1, le=50)
    guest_name: ShortText | None = None
    special_requests: Annotated[str, StringConstraints(max_length=500)] | None = None


class CreateBookingRequest(Strict):
    booking_type: BookingType
    date: dt.date
    time: str = Field(examples=["19:00"])
    party_size: int = Field(ge=1, le=500, description="Guests; over 20 the pub asks you to call.")
    customer: Customer
    special_requirements: Annotated[str, StringConstraints(max_length=500)] | None = None
    dietary_requirements: list[Tag] = Field(default_factory=list, max_length=20)
    allergies: list[Tag] = Field(default_factory=list, max_length=20)
    celebration_type: Annotated[str, StringConstraints(max_length=50)] | None = None
    source: Source = "website"
    menu_selections: list[MenuSelection] = Field(default_factory=list, max_length=100)
    override: bool = Field(
        default=False,
        description="Staff only: book despite the minimum notice or the Sunday lunch cut-off.",
    )

    @field_validator("time")
    @classmethod
    def _time(cls, value: str) -> str:
        return _hh_mm(value)


class UpdateBookingRequest(Strict):
    date: dt.date | None = None
    time: str | None = None
    party_size: int | None = Field(default=None, ge=1, le=500)
    special_requirements: Annotated[str, StringConstraints(max_length=500)] | None = None
    dietary_requirements: list[Tag] | None = Field(default=None, max_length=20)
    allergies: list[Tag] | None = Field(default=None, max_length=20)
    celebration_type: Annotated[str, StringConstraints(max_length=50)] | None = None
    override: bool = False

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
    reason: Annotated[str, StringConstraints(max_length=500)] | None = None
    refund_amount: Decimal | None = Field(
        default=None,
        ge=0,
        max_digits=8,
        decimal_places=2,
        description="Staff with the cancel permission only: refund this instead of the policy's.",
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
        "PARTY_TOO_LARGE, NOT_SUNDAY; null when bookable."
    )


class Alternative(BaseModel):
    date: str
    time: str


class Availability(BaseModel):
    date: str
    booking_type: BookingType
    party_size: int
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


class MenuItem(BaseModel):
    id: UUID
    name: str
    description: str | None
    category: Literal["main", "side"]
    price: str
    included: bool
    allergens: list[str]
    dietary_info: list[str]


class SundayLunchMenu(BaseModel):
    menu_date: str
    mains: list[MenuItem]
    sides: list[MenuItem]
    order_cutoff: str
    ordering_open: bool
    deposit_per_guest: str
    currency: Literal["GBP"] = "GBP"


T = TypeVar("T")


class Envelope(BaseModel, Generic[T]):
    success: Literal[True] = True
    data: T
