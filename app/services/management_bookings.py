"""The pub's 2026 create (pub-api-2026.md section 5) over our one booking engine.

The website posts a flat body with an Idempotency-Key. This module normalises it (the phone as
E.164), hashes the request as the pub hashes it (5.3), and hands it to
``management_booking_create``: one transaction that claims the key, books through
``table_booking_create`` (the same engine as every other create), issues the payment link's token
for a booking awaiting its deposit, records the guest's consent choices and stores the answer of
5.6 under the key, a refusal included (``state: blocked``, HTTP 200). Nothing is written for a
request that fails any other way, so the same key can be sent again.

The payment link's token is never stored usable: the answer kept for replays carries it sealed
with the caller's Idempotency-Key (``tokens.seal``), as the 2025 create keeps its manage token.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from datetime import datetime
from typing import Any

from app.db.port import Database
from app.errors import (
    IdempotencyKeyConflict,
    IdempotencyKeyInProgress,
    IdempotencyKeyNotFound,
    IdempotencyKeyRequired,
    RateLimitExceeded,
    ServiceUnavailable,
    ValidationFailed,
)
from app.services import phones, tokens
from app.services.actors import ClientInfo
from app.services.api_keys import ApiKeyCaller

logger = logging.getLogger("app.management_bookings")

#: The scopes of the pub's 2026 contract (section 1.2).
CREATE_SCOPE = "create:bookings"
CAPTURE_SCOPE = "payments:capture"
#: ``table_bookings.source`` of these bookings: the pub's own name for its website.
SOURCE = "brand_site"
DEFAULT_CONSENT_VERSION = "guest-comms-consent-v5"
CONSENT_FLAGS = (
    "service_contact_notice_shown",
    "marketing_email_opt_in",
    "marketing_sms_opt_in",
    "whatsapp_opt_in",
    "marketing_whatsapp_opt_in",
)
#: The idempotency_keys.key column is varchar(255).
IDEMPOTENCY_KEY_MAX_LENGTH = 255

MSG_BAD_PHONE = "Please enter a valid phone number"
MSG_PHONE_LIMIT = (
    "Too many booking attempts for this phone number. Please try again later or call us on "
    "01753 682707."
)
MSG_KEY_CONFLICT = "Idempotency key already used with a different request payload"


def idempotency_key_of(header: str | None) -> str:
    """The Idempotency-Key, trimmed; the pub's 400 when it is missing or blank."""
    key = (header or "").strip()
    if not key:
        raise IdempotencyKeyRequired()
    if len(key) > IDEMPOTENCY_KEY_MAX_LENGTH or not key.isprintable():
        raise ValidationFailed(
            f"Idempotency-Key must be printable text of at most {IDEMPOTENCY_KEY_MAX_LENGTH}"
            " characters.",
            details={"field": "Idempotency-Key"},
        )
    return key


def website_phone(raw: str, country_code: str) -> str:
    """The guest's number as E.164 (section 5.2): a national number takes ``country_code`` (44
    by default) in place of its leading 0; the pub's 400 when it is not a phone number."""
    text = raw.strip()
    if country_code != str(phones.UK_COUNTRY_CODE) and not text.startswith(("+", "00")):
        text = "+" + country_code + re.sub(r"\D", "", text).lstrip("0")
    try:
        e164 = phones.normalise_phone(text)
        phones.require_bookable(e164)
    except ValidationFailed:
        raise ValidationFailed(MSG_BAD_PHONE, details={"field": "phone"}) from None
    return e164


def _blank(value: Any) -> Any:
    return None if value in (None, "") else value


def consent_of(request: dict[str, Any]) -> dict[str, Any]:
    """communication_consent as the pub normalises it: each flag true or false, and a version."""
    given = request.get("communication_consent") or {}
    consent: dict[str, Any] = {flag: given.get(flag) is True for flag in CONSENT_FLAGS}
    consent["consent_text_version"] = given.get("consent_text_version") or DEFAULT_CONSENT_VERSION
    return consent


def _preorder_of(seats: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "guest_name": _blank(seat.get("guest_name")),
            "dietary_note": _blank(seat.get("dietary_note")),
            "starter_menu_item_id": _blank(seat.get("starter_menu_item_id")),
            "main_menu_item_id": _blank(seat.get("main_menu_item_id")),
            "dessert_menu_item_id": _blank(seat.get("dessert_menu_item_id")),
            "addon_menu_item_ids": sorted(set(seat.get("addon_menu_item_ids") or [])),
        }
        for seat in seats
    ]


def request_hash(request: dict[str, Any], e164: str) -> str:
    """SHA-256 of the canonical request (section 5.3): keys sorted, nulls kept, the fields that
    do not vary a create (``skip_customer_sms``, ``default_country_code``, ``booking_type``)
    left out."""
    canonical: dict[str, Any] = {
        "phone": e164,
        "first_name": _blank(request.get("first_name")),
        "last_name": _blank(request.get("last_name")),
        "email": _blank(request.get("email")),
        "notes": _blank(request.get("notes")),
        "date": request["date"],
        "time": request["time"],
        "party_size": request["party_size"],
        "purpose": request["purpose"],
        "dietary_requirements": request.get("dietary_requirements") or [],
        "allergies": request.get("allergies") or [],
        "high_chair_count": request.get("high_chair_count") or 0,
        "outside_seating": request.get("outside_seating"),
        "communication_consent": consent_of(request),
    }
    if request.get("requires_accessible_table") is True:
        canonical["requires_accessible_table"] = True
    if request.get("booking_period_id"):
        canonical["booking_period_id"] = str(request["booking_period_id"])
    if isinstance(request.get("booking_period_answer"), bool):
        canonical["booking_period_answer"] = request["booking_period_answer"]
    if request.get("preorder"):
        canonical["preorder"] = _preorder_of(request["preorder"])
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def engine_request(
    request: dict[str, Any],
    *,
    e164: str,
    caller: ApiKeyCaller,
    client: ClientInfo,
    create_limit_per_phone: int,
) -> dict[str, Any]:
    """What ``table_booking_create`` is sent for the website's booking."""
    return {
        "booking_type": "regular",
        "date": request["date"],
        "time": request["time"],
        "party_size": request["party_size"],
        "purpose": request["purpose"],
        "special_requirements": _blank(request.get("notes")),
        "dietary_requirements": request.get("dietary_requirements") or [],
        "allergies": request.get("allergies") or [],
        "is_outside_seating": bool(request.get("outside_seating")),
        "requires_accessible_table": bool(request.get("requires_accessible_table")),
        "high_chair_count": request.get("high_chair_count") or 0,
        "booking_period_id": request.get("booking_period_id"),
        "booking_period_answer": request.get("booking_period_answer"),
        "source": SOURCE,
        "menu_selections": [],
        "customer": {
            "first_name": _blank(request.get("first_name")) or "Unknown",
            "last_name": request.get("last_name") or "",
            "mobile_e164": e164,
            "variants": phones.variants_of_normalised(e164),
            "email": _blank(request.get("email")),
            # As the pub's create: a guest is opted in to texts about the booking (never a
            # number that cannot take them; never one who opted out, tb_record_sms_consent).
            "sms_opt_in": phones.can_receive_sms(e164),
        },
        # Our messages need the booking's manage token hash; the token itself is not handed out
        # (the 2026 contract's manage link is a guest_tokens link).
        "manage_token_hash": tokens.hash_token(tokens.new_manage_token()),
        "actor": {"kind": "api_key", "id": caller.key_id, "name": caller.name},
        "client": client.as_json(),
        "create_limit_per_phone": create_limit_per_phone,
        "skip_customer_sms": bool(request.get("skip_customer_sms")),
    }


def _answer(
    body: dict[str, Any], token: str | None, public_base: str
) -> tuple[int, dict[str, Any]]:
    data = body.get("data") or {}
    if data.get("state") == "pending_payment" and token is not None:
        url = tokens.guest_link_url(public_base, token, "table-payment")
        data["next_step_url"] = url
        data["fallback_payment_url"] = url
    status = (body.get("meta") or {}).get("status_code") or 201
    return int(status), body


def _replayed(
    response: dict[str, Any], idempotency_key: str, public_base: str
) -> tuple[int, dict[str, Any]]:
    body = dict(response)
    sealed = body.pop("payment_token_sealed", None)
    token = None
    if sealed:
        token = tokens.unseal(sealed, idempotency_key=idempotency_key)
        if token is None:
            logger.error("table_booking.website_replay_without_token")
            raise ServiceUnavailable("The earlier response for this key cannot be replayed.")
    return _answer(body, token, public_base)


async def create_booking(
    db: Database,
    *,
    request: dict[str, Any],
    caller: ApiKeyCaller,
    client: ClientInfo,
    idempotency_key: str,
    public_base: str,
    now: datetime,
    create_limit_per_phone: int,
) -> tuple[int, dict[str, Any]]:
    """The pub's create: ``(status, body)``, 201 for a booking, 200 for ``blocked``."""
    e164 = website_phone(request["phone"], request.get("default_country_code") or "44")
    token = tokens.new_manage_token()
    params = {
        "idempotency": {"key": idempotency_key, "request_hash": request_hash(request, e164)},
        "create": engine_request(
            request,
            e164=e164,
            caller=caller,
            client=client,
            create_limit_per_phone=create_limit_per_phone,
        ),
        "consent": consent_of(request),
        "preorder": _preorder_of(request.get("preorder") or []),
        "payment_token_hash": tokens.hash_token(token),
        "payment_token_sealed": tokens.seal(token, idempotency_key=idempotency_key),
    }
    try:
        result: dict[str, Any] = await db.rpc(
            "management_booking_create", {"p_request": params, "p_now": now.isoformat()}
        )
    except RateLimitExceeded as exc:
        details = exc.details if isinstance(exc.details, dict) else {}
        if "reason" in details:
            raise  # our bound on bookings awaiting a deposit, in its own words
        raise RateLimitExceeded(MSG_PHONE_LIMIT, details=exc.details, headers=exc.headers) from exc
    outcome = result["outcome"]
    if outcome == "conflict":
        raise IdempotencyKeyConflict(MSG_KEY_CONFLICT)
    if outcome == "in_progress":
        raise IdempotencyKeyInProgress()
    if outcome == "replay":
        return _replayed(result["response"], idempotency_key, public_base)
    data = result["response"]["data"]
    logger.info(
        "table_booking.website_create outcome=%s state=%s reference=%s",
        outcome,
        data["state"],
        data["booking_reference"],
    )
    return _answer(result["response"], token, public_base)


async def replay_only(
    db: Database,
    *,
    request: dict[str, Any],
    idempotency_key: str,
    public_base: str,
    now: datetime,
) -> tuple[int, dict[str, Any]]:
    """The replay-only probe ([newer], 5.3): the stored answer for the key; never a create."""
    e164 = website_phone(request["phone"], request.get("default_country_code") or "44")
    result: dict[str, Any] = await db.rpc(
        "management_booking_replay",
        {
            "p_key": idempotency_key,
            "p_request_hash": request_hash(request, e164),
            "p_now": now.isoformat(),
        },
    )
    outcome = result["outcome"]
    if outcome == "not_found":
        raise IdempotencyKeyNotFound()
    if outcome == "conflict":
        raise IdempotencyKeyConflict(MSG_KEY_CONFLICT)
    if outcome == "in_progress":
        raise IdempotencyKeyInProgress()
    return _replayed(result["response"], idempotency_key, public_base)
