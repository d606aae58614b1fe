"""The reads of the pub's 2026 management-API contract: one database call each.

Every rule lives in the database (supabase/migrations/20261124001100_management_reads.sql, over
the engine's own functions); this module validates the query as the pub's routes do, with the
pub's messages, and shapes the schema.org view of a menu.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from app.db.port import Database
from app.errors import NotFound, ValidationFailed

LONDON = ZoneInfo("Europe/London")

#: The menus the website may ask for (section 8), in the pub's order.
MENU_CODES = ("website_food", "kids", "sunday_lunch", "christmas", "drinks")

HOURS_DATE_MESSAGE = "date must be a real calendar date in YYYY-MM-DD form"
DATE_MESSAGE = "Date must use YYYY-MM-DD format"
PARTY_MESSAGE = "party_size must be between 1 and 200"
MENU_CODE_MESSAGE = "Unknown menu code. Allowed values: " + ", ".join(MENU_CODES)
NO_SUNDAY_LUNCH = "Sunday lunch menu is not available"
NO_MENU = "Menu configuration missing"

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_LEADING_INT = re.compile(r"\s*([+-]?[0-9]{1,18})")
_DIGITS = re.compile(r"[0-9]{1,3}")
#: Numbers in the query are held to this (any party beyond it is too large anyway), so that no
#: number is too long for Python or too large for the database's integers.
LARGEST = 1_000_000
_DIETS = {
    "vegetarian": "https://schema.org/VegetarianDiet",
    "vegan": "https://schema.org/VeganDiet",
    "gluten_free": "https://schema.org/GlutenFreeDiet",
    "gluten-free": "https://schema.org/GlutenFreeDiet",
    "halal": "https://schema.org/HalalDiet",
}


def london_today(now: datetime) -> date:
    return now.astimezone(LONDON).date()


def real_date(raw: str | None, *, field: str, message: str) -> date:
    """A real calendar date written YYYY-MM-DD, else 400 with the pub's message."""
    if raw is not None and _ISO_DATE.fullmatch(raw):
        try:
            return date.fromisoformat(raw)
        except ValueError:
            pass
    raise ValidationFailed(message, details=[{"field": field, "message": message}])


def parse_int(raw: str | None) -> int | None:
    """JavaScript's parseInt: the leading integer of the text, or None (NaN)."""
    if raw is None:
        return None
    match = _LEADING_INT.match(raw)
    if not match:
        return None
    return max(-LARGEST, min(LARGEST, int(match.group(1))))


def load_party(raw: str | None) -> int | None:
    """The load's party: absent, 0 or not a number means no party (no table_availability)."""
    party = parse_int(raw)
    return party if party else None


def period_party(raw: str | None) -> int | None:
    """The periods' party: absent (or empty) is none; otherwise 1 to 200, else 400."""
    if raw is None or raw == "":
        return None
    if _DIGITS.fullmatch(raw) and 1 <= int(raw) <= 200:
        return int(raw)
    raise ValidationFailed(
        PARTY_MESSAGE, details=[{"field": "party_size", "message": PARTY_MESSAGE}]
    )


def menu_code(raw: str | None) -> str:
    code = (raw or "website_food").strip().lower()
    if code not in MENU_CODES:
        raise ValidationFailed(
            MENU_CODE_MESSAGE, details=[{"field": "menu", "message": MENU_CODE_MESSAGE}]
        )
    return code


async def business_hours(db: Database, *, day: date, now: datetime) -> dict[str, Any]:
    data: dict[str, Any] = await db.rpc(
        "management_business_hours", {"p_date": day.isoformat(), "p_now": now.isoformat()}
    )
    return data


async def table_load(
    db: Database,
    *,
    day: date,
    party_size: int | None,
    purpose: str,
    outside: bool,
    accessible: bool,
    high_chairs: int,
    now: datetime,
) -> dict[str, Any]:
    data: dict[str, Any] = await db.rpc(
        "management_table_load",
        {
            "p_date": day.isoformat(),
            "p_party": party_size,
            "p_purpose": purpose,
            "p_outside": outside,
            "p_accessible": accessible,
            "p_high_chairs": high_chairs,
            "p_now": now.isoformat(),
        },
    )
    return data


async def booking_period(db: Database, *, day: date, party_size: int | None) -> dict[str, Any]:
    data: dict[str, Any] = await db.rpc(
        "management_booking_period", {"p_date": day.isoformat(), "p_party": party_size}
    )
    return data


async def sunday_lunch_menu(db: Database) -> dict[str, Any]:
    data: dict[str, Any] | None = await db.rpc("management_sunday_lunch_menu", {})
    if not data:
        raise NotFound(NO_SUNDAY_LUNCH)
    return data


async def menu(db: Database, *, code: str, now: datetime) -> dict[str, Any]:
    data: dict[str, Any] | None = await db.rpc(
        "management_menu", {"p_code": code, "p_today": london_today(now).isoformat()}
    )
    if not data:
        raise NotFound(NO_MENU)
    return {"menu": schema_org_menu(data), **data}


def schema_org_menu(data: dict[str, Any]) -> dict[str, Any]:
    """The menu as a schema.org Menu (the pub's ``menu`` field)."""
    sections = []
    for section in data["sections"]:
        items = []
        for dish in section["items"]:
            item: dict[str, Any] = {
                "@type": "MenuItem",
                "name": dish["name"],
                "description": dish["description"],
            }
            if dish["price"] is not None:
                item["offers"] = {
                    "@type": "Offer",
                    "price": f"{dish['price']:.2f}",
                    "priceCurrency": "GBP",
                    "availability": "https://schema.org/InStock",
                }
            if dish["calories"] is not None:
                item["nutrition"] = {
                    "@type": "NutritionInformation",
                    "calories": f"{dish['calories']} calories",
                }
            item["suitableForDiet"] = [
                _DIETS[d.lower()] for d in dish["dietary_info"] if d.lower() in _DIETS
            ]
            items.append(item)
        sections.append(
            {
                "@type": "MenuSection",
                "name": section["name"],
                "description": section["description"],
                "hasMenuItem": items,
            }
        )
    return {"@type": "Menu", "name": data["menu_name"], "hasMenuSection": sections}
