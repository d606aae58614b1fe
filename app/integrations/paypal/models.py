"""What the client returns (orders, captures, refunds) and how it reads them from PayPal's JSON.

Money is ``Decimal`` both ways: PayPal sends amounts as strings ("15.00") and we send them as
strings with exactly two decimals, so a float never touches a deposit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any

from .errors import PayPalRetryableError

_CENTS = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Capture:
    """A capture: ``status`` COMPLETED means the money moved; PENDING / DECLINED / FAILED do not."""

    id: str
    status: str
    amount: Decimal
    currency: str
    order_id: str | None
    custom_id: str | None


@dataclass(frozen=True, slots=True)
class Order:
    """A checkout order. Its own status COMPLETED is not payment: look at ``capture.status``."""

    id: str
    status: str
    approve_url: str | None  # where to send the payer (rel "payer-action", else "approve")
    amount: Decimal | None  # purchase_units[0].amount, when PayPal included it
    currency: str | None
    custom_id: str | None
    capture: Capture | None  # purchase_units[0].payments.captures[0], once captured


@dataclass(frozen=True, slots=True)
class Refund:
    """A refund of (part of) a capture; status COMPLETED, PENDING, FAILED or CANCELLED."""

    id: str
    status: str
    amount: Decimal | None
    currency: str | None


def format_amount(amount: Decimal) -> str:
    """``Decimal("7.5")`` -> ``"7.50"``; refuses floats, fractions of a penny, and non-positive."""
    # A float has already lost the exact value; rounding it would hide a bug at the call site.
    if not isinstance(amount, Decimal):
        raise TypeError(f"PayPal amounts must be Decimal, not {type(amount).__name__}.")
    if not amount.is_finite() or amount <= 0:
        raise ValueError("PayPal amounts must be positive and finite.")
    try:
        pence = amount.quantize(_CENTS)
    except InvalidOperation as exc:
        raise ValueError("The amount is too large for PayPal.") from exc
    if pence != amount:
        raise ValueError(f"{amount} has fractions of a penny; round it before charging.")
    return f"{pence:f}"


def check_currency(currency: str) -> str:
    if not (len(currency) == 3 and currency.isascii() and currency.isalpha()):
        raise ValueError(f"{currency!r} is not an ISO 4217 currency code.")
    return currency.upper()


def order_from(data: Any, *, status: int) -> Order:
    body = _object(data)
    order_id, order_status = _text(body.get("id")), _text(body.get("status"))
    if order_id is None or order_status is None:
        raise _unreadable("an order", status)
    unit = _first(body.get("purchase_units"))
    amount, currency = _money(unit.get("amount"))
    custom_id = _text(unit.get("custom_id"))
    captured = _first(_object(unit.get("payments")).get("captures"))
    return Order(
        id=order_id,
        status=order_status,
        approve_url=_approve_url(body.get("links")),
        amount=amount,
        currency=currency,
        custom_id=custom_id,
        capture=(
            capture_from(captured, status=status, order_id=order_id, custom_id=custom_id)
            if captured
            else None
        ),
    )


def capture_from(
    data: Any, *, status: int, order_id: str | None = None, custom_id: str | None = None
) -> Capture:
    body = _object(data)
    capture_id, capture_status = _text(body.get("id")), _text(body.get("status"))
    amount, currency = _money(body.get("amount"))
    if capture_id is None or capture_status is None or amount is None or currency is None:
        raise _unreadable("a capture", status)
    related = _object(_object(body.get("supplementary_data")).get("related_ids"))
    return Capture(
        id=capture_id,
        status=capture_status,
        amount=amount,
        currency=currency,
        order_id=_text(related.get("order_id")) or order_id,
        custom_id=_text(body.get("custom_id")) or custom_id,
    )


def captured_in(data: Any, *, status: int, order_id: str) -> Capture:
    """``purchase_units[0].payments.captures[0]`` of a capture answer (an order)."""
    body = _object(data)
    unit = _first(body.get("purchase_units"))
    captured = _first(_object(unit.get("payments")).get("captures"))
    if not captured:
        raise _unreadable("a capture", status)
    return capture_from(
        captured,
        status=status,
        order_id=_text(body.get("id")) or order_id,
        custom_id=_text(unit.get("custom_id")),
    )


def refund_from(data: Any, *, status: int) -> Refund:
    body = _object(data)
    refund_id, refund_status = _text(body.get("id")), _text(body.get("status"))
    if refund_id is None or refund_status is None:
        raise _unreadable("a refund", status)
    amount, currency = _money(body.get("amount"))
    return Refund(id=refund_id, status=refund_status, amount=amount, currency=currency)


def _approve_url(links: Any) -> str | None:
    by_rel: dict[str, str] = {}
    for link in links if isinstance(links, list) else []:
        rel, href = _text(_object(link).get("rel")), _text(_object(link).get("href"))
        if rel and href:
            by_rel.setdefault(rel, href)
    return by_rel.get("payer-action") or by_rel.get("approve")


def _money(data: Any) -> tuple[Decimal | None, str | None]:
    body = _object(data)
    value, currency = body.get("value"), _text(body.get("currency_code"))
    if not isinstance(value, str):
        return None, currency
    try:
        amount = Decimal(value)
    except InvalidOperation:
        return None, currency
    return (amount, currency) if amount.is_finite() else (None, currency)


_EMPTY: Mapping[str, Any] = MappingProxyType({})


def _object(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else _EMPTY


def _first(value: Any) -> Mapping[str, Any]:
    return _object(value[0]) if isinstance(value, list) and value else _EMPTY


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _unreadable(what: str, status: int) -> PayPalRetryableError:
    # A 2xx we cannot read leaves the outcome unknown; the same PayPal-Request-Id makes a retry
    # return the original result instead of paying or refunding twice.
    return PayPalRetryableError(
        f"PayPal answered {status} without {what} we can read.", status=status
    )
