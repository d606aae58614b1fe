"""PayPal's REST API (Orders v2, Payments v2, webhook postback) over an injected ``httpx`` client.

Every POST carries the caller's ``PayPal-Request-Id``: PayPal answers a repeat of the same id
with the original result (orders keep ids for 6 hours, refunds for 45 days), which is what makes
retrying a :class:`PayPalRetryableError` safe.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import httpx

from ._token import AccessTokens
from .errors import (
    ORDER_ALREADY_CAPTURED,
    PayPalError,
    PayPalRequestError,
    PayPalRetryableError,
)
from .models import (
    Capture,
    Order,
    Refund,
    captured_in,
    check_currency,
    format_amount,
    order_from,
    refund_from,
)

logger = logging.getLogger("app.paypal")

LIVE_BASE_URL = "https://api-m.paypal.com"
SANDBOX_BASE_URL = "https://api-m.sandbox.paypal.com"
BRAND_NAME = "The Anchor"

#: The webhook headers the postback check forwards, by the field name PayPal expects.
POSTBACK_FIELDS = {
    "auth_algo": "paypal-auth-algo",
    "cert_url": "paypal-cert-url",
    "transmission_id": "paypal-transmission-id",
    "transmission_sig": "paypal-transmission-sig",
    "transmission_time": "paypal-transmission-time",
}


class PayPalClient:
    """Deposits through PayPal Checkout: create, read and capture orders; refund captures."""

    def __init__(
        self, *, client_id: str, client_secret: str, environment: str, http: httpx.AsyncClient
    ) -> None:
        if not client_id or not client_secret:
            raise ValueError("PayPal needs a client id and a client secret.")
        # Live and sandbox are separate hosts with separate credentials; only "live" moves money.
        live = environment.strip().lower() == "live"
        self.base_url = LIVE_BASE_URL if live else SANDBOX_BASE_URL
        self._http = http
        self._tokens = AccessTokens(
            token_url=f"{self.base_url}/v1/oauth2/token",
            client_id=client_id,
            client_secret=client_secret,
            http=http,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    async def create_order(
        self,
        *,
        amount: Decimal,
        currency: str = "GBP",
        custom_id: str,
        reference_id: str,
        description: str,
        return_url: str,
        cancel_url: str,
        request_id: str,
    ) -> Order:
        """A CAPTURE order the payer approves at ``approve_url`` before we capture it."""
        body = {
            "intent": "CAPTURE",
            "purchase_units": [
                {
                    "reference_id": reference_id,
                    "custom_id": custom_id,
                    "description": description,
                    "amount": {
                        "currency_code": check_currency(currency),
                        "value": format_amount(amount),
                    },
                }
            ],
            "payment_source": {
                "paypal": {
                    "experience_context": {
                        "brand_name": BRAND_NAME,
                        "locale": "en-GB",
                        "user_action": "PAY_NOW",
                        "shipping_preference": "NO_SHIPPING",
                        "return_url": return_url,
                        "cancel_url": cancel_url,
                    }
                }
            },
        }
        try:
            response = await self._call(
                "POST", "/v2/checkout/orders", json=body, request_id=request_id
            )
            order = order_from(_json(response), status=response.status_code)
        except PayPalError as exc:
            _log_failure("paypal.order.create_failed", exc, request_id=request_id)
            raise
        logger.info(
            "paypal.order.created",
            extra={"order_id": order.id, "status": order.status, "request_id": request_id},
        )
        return order

    async def get_order(self, order_id: str) -> Order:
        """The order as PayPal has it now, with its capture once there is one."""
        response = await self._call("GET", f"/v2/checkout/orders/{_segment(order_id)}")
        return order_from(_json(response), status=response.status_code)

    async def capture_order(self, order_id: str, *, request_id: str) -> Capture:
        """Capture an approved order; an order captured before returns that capture."""
        try:
            try:
                response = await self._call(
                    "POST",
                    f"/v2/checkout/orders/{_segment(order_id)}/capture",
                    json={},
                    request_id=request_id,
                )
                capture = captured_in(
                    _json(response), status=response.status_code, order_id=order_id
                )
            except PayPalRequestError as exc:
                if exc.name != ORDER_ALREADY_CAPTURED:
                    raise
                # Our earlier attempt (or the webhook's) won: the money is taken, so read it back
                # rather than report a failure that would make the caller charge again.
                capture = await self._existing_capture(order_id)
                logger.info(
                    "paypal.capture.already_captured",
                    extra={"order_id": order_id, "capture_id": capture.id},
                )
        except PayPalError as exc:
            _log_failure("paypal.capture.failed", exc, order_id=order_id, request_id=request_id)
            raise
        event = (
            "paypal.capture.completed"
            if capture.status == "COMPLETED"
            else "paypal.capture.not_completed"
        )
        logger.log(
            logging.INFO if capture.status == "COMPLETED" else logging.WARNING,
            event,
            extra={"order_id": order_id, "capture_id": capture.id, "status": capture.status},
        )
        return capture

    async def refund_capture(
        self,
        capture_id: str,
        *,
        amount: Decimal,
        currency: str = "GBP",
        request_id: str,
        note: str | None = None,
    ) -> Refund:
        """Refund ``amount`` of a capture (partial refunds add up to at most the capture)."""
        body: dict[str, Any] = {
            "amount": {"value": format_amount(amount), "currency_code": check_currency(currency)}
        }
        if note is not None:
            body["note_to_payer"] = note
        try:
            response = await self._call(
                "POST",
                f"/v2/payments/captures/{_segment(capture_id)}/refund",
                json=body,
                request_id=request_id,
            )
            refund = refund_from(_json(response), status=response.status_code)
        except PayPalError as exc:
            _log_failure("paypal.refund.failed", exc, capture_id=capture_id, request_id=request_id)
            raise
        logger.info(
            "paypal.refund.created",
            extra={"capture_id": capture_id, "refund_id": refund.id, "status": refund.status},
        )
        return refund

    async def verify_webhook_postback(
        self, *, headers: Mapping[str, str], webhook_id: str, event: Mapping[str, Any]
    ) -> bool:
        """Whether PayPal itself confirms the webhook's signature (one API round trip).

        ``event`` is the parsed body; PayPal checks it as re-serialised here, so prefer the
        offline :class:`WebhookVerifier`, which signs over the raw bytes.
        """
        lowered = {name.lower(): value for name, value in headers.items()}
        fields = {field: lowered.get(header) for field, header in POSTBACK_FIELDS.items()}
        present = {field: value for field, value in fields.items() if value}
        if len(present) != len(fields) or not webhook_id:
            logger.warning("paypal.webhook.postback_rejected", extra={"reason": "missing_headers"})
            return False
        body = {**present, "webhook_id": webhook_id, "webhook_event": dict(event)}
        response = await self._call("POST", "/v1/notifications/verify-webhook-signature", json=body)
        data = _json(response)
        status = data.get("verification_status") if isinstance(data, dict) else None
        verified = status == "SUCCESS"
        logger.log(
            logging.INFO if verified else logging.WARNING,
            "paypal.webhook.postback_verified" if verified else "paypal.webhook.postback_rejected",
            extra={
                "transmission_id": present["transmission_id"],
                "verification_status": status,
            },
        )
        return verified

    async def _existing_capture(self, order_id: str) -> Capture:
        order = await self.get_order(order_id)
        if order.capture is None:
            raise PayPalRetryableError(
                f"PayPal says order {order_id} is captured but shows no capture yet."
            )
        return order.capture

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        request_id: str | None = None,
    ) -> httpx.Response:
        headers = {"Accept": "application/json"}
        if request_id is not None:
            headers["PayPal-Request-Id"] = request_id
        if method == "POST" and path.startswith("/v2/"):
            headers["Prefer"] = "return=representation"
        url = self.base_url + path
        token = await self._tokens.get()
        response = await self._send(method, url, json=json, headers=headers, token=token)
        if response.status_code == 401:
            # Revoked or expired early: PayPal did nothing, so one retry with a new token is safe.
            self._tokens.invalidate(token)
            token = await self._tokens.get()
            response = await self._send(method, url, json=json, headers=headers, token=token)
        if not response.is_success:
            raise _error_from(response)
        return response

    async def _send(
        self, method: str, url: str, *, json: Any, headers: dict[str, str], token: str
    ) -> httpx.Response:
        try:
            return await self._http.request(
                method,
                url,
                json=json,
                headers={**headers, "Authorization": f"Bearer {token}"},
            )
        except httpx.TimeoutException as exc:
            raise PayPalRetryableError("PayPal did not answer in time.") from exc
        except httpx.RequestError as exc:
            raise PayPalRetryableError(f"PayPal is unreachable ({type(exc).__name__}).") from exc


def _segment(identifier: str) -> str:
    """An id as one path segment: ``../`` or ``?`` in it must not reach another endpoint."""
    if not identifier:
        raise ValueError("A PayPal id must not be empty.")
    return quote(identifier, safe="")


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise PayPalRetryableError(
            f"PayPal answered {response.status_code} with a body that is not JSON.",
            status=response.status_code,
        ) from exc


def _error_from(response: httpx.Response) -> PayPalError:
    status = response.status_code
    name, message, debug_id = _paypal_error(response)
    if status == 429 or status >= 500:
        return PayPalRetryableError(message, status=status, name=name, debug_id=debug_id)
    return PayPalRequestError(message, status=status, name=name, debug_id=debug_id)


def _paypal_error(response: httpx.Response) -> tuple[str | None, str, str | None]:
    """``(issue or name, description or message, debug_id)`` of PayPal's error body."""
    message = f"PayPal answered {response.status_code} {response.reason_phrase}".rstrip()
    debug_id = response.headers.get("PayPal-Debug-Id") or None
    try:
        data: Any = response.json()
    except ValueError:
        return None, message, debug_id
    if not isinstance(data, dict):
        return None, message, debug_id
    details = data.get("details")
    detail = details[0] if isinstance(details, list) and details else None
    detail = detail if isinstance(detail, dict) else {}
    # For a 422 the name is just UNPROCESSABLE_ENTITY; the issue (INSTRUMENT_DECLINED, ...)
    # is what a caller can act on.
    name = _text(detail.get("issue")) or _text(data.get("name")) or _text(data.get("error"))
    message = (
        _text(detail.get("description"))
        or _text(data.get("message"))
        or _text(data.get("error_description"))
        or message
    )
    return name, message, _text(data.get("debug_id")) or debug_id


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _log_failure(event: str, exc: PayPalError, **ids: str) -> None:
    logger.warning(
        event,
        extra={
            **ids,
            "status": exc.status,
            "paypal_error": exc.name,
            "debug_id": exc.debug_id,
            "retryable": isinstance(exc, PayPalRetryableError),
        },
    )
