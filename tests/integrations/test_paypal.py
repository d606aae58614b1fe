"""The PayPal client against respx (token, orders, captures, refunds, postback) and the offline
webhook verifier against a real RSA key and self-signed certificate made here."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import zlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any, ClassVar

import httpx
import pytest
import respx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from app.integrations.paypal import (
    Capture,
    Order,
    PayPalClient,
    PayPalError,
    PayPalRequestError,
    PayPalRetryableError,
    PayPalSignatureError,
    Refund,
    WebhookVerifier,
    format_amount,
)
from tests.conftest import FakeClock

CLIENT_ID = "AZtest-client-id-0123456789"
CLIENT_SECRET = "EPtest-client-SECRET-9876543210"
ACCESS_TOKEN = "A21AAtest-access-token-first"
SECOND_TOKEN = "A21AAtest-access-token-second"
SANDBOX = "https://api-m.sandbox.paypal.com"
LIVE = "https://api-m.paypal.com"
TOKEN_URL = f"{SANDBOX}/v1/oauth2/token"
BASIC_AUTH = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()

ORDER_ID = "5O190127TN364715T"
CAPTURE_ID = "3C679366HH908993F"
REFUND_ID = "1JU08902781691411"
BOOKING_ID = "7d0f0c7e-3b9a-4c1e-9a55-0e6f1b2c3d4e"
ORDERS_URL = f"{SANDBOX}/v2/checkout/orders"
ORDER_URL = f"{ORDERS_URL}/{ORDER_ID}"
CAPTURE_URL = f"{ORDER_URL}/capture"
REFUND_URL = f"{SANDBOX}/v2/payments/captures/{CAPTURE_ID}/refund"
POSTBACK_URL = f"{SANDBOX}/v1/notifications/verify-webhook-signature"
APPROVE_URL = f"https://www.sandbox.paypal.com/checkoutnow?token={ORDER_ID}"
RETURN_URL = "https://bookings.the-anchor.pub/paypal/return"
CANCEL_URL = "https://bookings.the-anchor.pub/paypal/cancel"
PAYER_EMAIL = "ann.lee@example.com"


def token_answer(token: str = ACCESS_TOKEN, expires_in: int = 32400) -> dict[str, Any]:
    return {
        "scope": "https://uri.paypal.com/services/payments/payment",
        "access_token": token,
        "token_type": "Bearer",
        "app_id": "APP-80W284485P519543T",
        "expires_in": expires_in,
        "nonce": "2026-11-24T10:00:00Zabc",
    }


def amount(value: str = "15.00") -> dict[str, str]:
    return {"currency_code": "GBP", "value": value}


def capture_body(status: str = "COMPLETED", value: str = "15.00") -> dict[str, Any]:
    return {
        "id": CAPTURE_ID,
        "status": status,
        "amount": amount(value),
        "final_capture": True,
        "custom_id": BOOKING_ID,
        "seller_protection": {"status": "ELIGIBLE"},
        "supplementary_data": {"related_ids": {"order_id": ORDER_ID}},
        "create_time": "2026-11-24T10:01:00Z",
    }


def order_body(
    status: str = "PAYER_ACTION_REQUIRED",
    *,
    captures: list[dict[str, Any]] | None = None,
    rel: str = "payer-action",
) -> dict[str, Any]:
    unit: dict[str, Any] = {
        "reference_id": f"tb-deposit-{BOOKING_ID}",
        "custom_id": BOOKING_ID,
        "description": "Table booking deposit - 4 guests",
        "amount": amount(),
        "payee": {"merchant_id": "MERCHANT123"},
    }
    if captures is not None:
        unit["payments"] = {"captures": captures}
    return {
        "id": ORDER_ID,
        "intent": "CAPTURE",
        "status": status,
        "payment_source": {"paypal": {"email_address": PAYER_EMAIL}},
        "purchase_units": [unit],
        "payer": {"email_address": PAYER_EMAIL, "name": {"given_name": "Ann", "surname": "Lee"}},
        "links": [
            {"href": ORDER_URL, "rel": "self", "method": "GET"},
            {"href": APPROVE_URL, "rel": rel, "method": "GET"},
        ],
    }


def paypal_error(
    name: str, issue: str | None = None, description: str = "", debug_id: str = "f0a8c2e1b2d3"
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": name,
        "message": "The requested action could not be performed.",
        "debug_id": debug_id,
        "links": [{"href": "https://developer.paypal.com/docs/api/orders/v2/", "rel": "info"}],
    }
    if issue is not None:
        body["details"] = [{"issue": issue, "description": description}]
    return body


def sent_json(route: respx.Route, index: int = -1) -> Any:
    request = route.calls[index].request
    assert request.headers["Content-Type"] == "application/json"
    return json.loads(request.content)


def assert_bearer(route: respx.Route, token: str = ACCESS_TOKEN, index: int = -1) -> None:
    assert route.calls[index].request.headers["Authorization"] == f"Bearer {token}"


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


@pytest.fixture
def paypal(http: httpx.AsyncClient) -> PayPalClient:
    return PayPalClient(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, environment="sandbox", http=http
    )


@pytest.fixture
def token(no_outbound_http: respx.MockRouter) -> respx.Route:
    route = no_outbound_http.post(TOKEN_URL)
    route.respond(200, json=token_answer())
    return route


@pytest.fixture
def order_route(no_outbound_http: respx.MockRouter, token: respx.Route) -> respx.Route:
    route = no_outbound_http.get(ORDER_URL)
    route.respond(200, json=order_body())
    return route


async def create(paypal: PayPalClient, value: Decimal = Decimal("15")) -> Order:
    return await paypal.create_order(
        amount=value,
        custom_id=BOOKING_ID,
        reference_id=f"tb-deposit-{BOOKING_ID}",
        description="Table booking deposit - 4 guests",
        return_url=RETURN_URL,
        cancel_url=CANCEL_URL,
        request_id=f"tb-deposit-{BOOKING_ID}",
    )


class TestAccessToken:
    async def test_fetches_the_token_with_basic_auth_and_the_client_credentials_grant(
        self, paypal: PayPalClient, token: respx.Route, order_route: respx.Route
    ) -> None:
        await paypal.get_order(ORDER_ID)

        assert token.call_count == 1
        request = token.calls.last.request
        assert str(request.url) == TOKEN_URL
        assert request.headers["Authorization"] == BASIC_AUTH
        assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
        assert request.content == b"grant_type=client_credentials"
        assert_bearer(order_route)

    async def test_one_token_serves_several_calls(
        self,
        paypal: PayPalClient,
        no_outbound_http: respx.MockRouter,
        token: respx.Route,
        order_route: respx.Route,
    ) -> None:
        create_route = no_outbound_http.post(ORDERS_URL)
        create_route.respond(201, json=order_body())

        await paypal.get_order(ORDER_ID)
        await create(paypal)
        await paypal.get_order(ORDER_ID)

        assert token.call_count == 1
        assert order_route.call_count == 2
        assert_bearer(create_route)

    async def test_concurrent_calls_fetch_the_token_once(
        self, paypal: PayPalClient, token: respx.Route, order_route: respx.Route
    ) -> None:
        async def slow_token_endpoint(request: httpx.Request) -> httpx.Response:
            # Yield to the loop, as a real network round trip would, so the callers overlap.
            await asyncio.sleep(0.01)
            return httpx.Response(200, json=token_answer())

        token.side_effect = slow_token_endpoint

        orders = await asyncio.gather(*(paypal.get_order(ORDER_ID) for _ in range(5)))

        assert {order.id for order in orders} == {ORDER_ID}
        assert token.call_count == 1
        assert order_route.call_count == 5

    async def test_a_token_within_a_minute_of_expiry_is_not_reused(
        self, paypal: PayPalClient, token: respx.Route, order_route: respx.Route
    ) -> None:
        token.respond(200, json=token_answer(expires_in=60))

        await paypal.get_order(ORDER_ID)
        await paypal.get_order(ORDER_ID)

        assert token.call_count == 2

    async def test_a_401_drops_the_token_and_retries_the_call_once(
        self, paypal: PayPalClient, token: respx.Route, order_route: respx.Route
    ) -> None:
        token.side_effect = [
            httpx.Response(200, json=token_answer(ACCESS_TOKEN)),
            httpx.Response(200, json=token_answer(SECOND_TOKEN)),
        ]
        order_route.side_effect = [
            httpx.Response(401, json={"error": "invalid_token", "error_description": "expired"}),
            httpx.Response(200, json=order_body()),
        ]

        order = await paypal.get_order(ORDER_ID)

        assert order.id == ORDER_ID
        assert token.call_count == 2
        assert order_route.call_count == 2
        assert_bearer(order_route, ACCESS_TOKEN, index=0)
        assert_bearer(order_route, SECOND_TOKEN, index=1)

    async def test_the_retry_after_a_401_keeps_the_request_id_and_body(
        self, paypal: PayPalClient, no_outbound_http: respx.MockRouter, token: respx.Route
    ) -> None:
        token.side_effect = [
            httpx.Response(200, json=token_answer(ACCESS_TOKEN)),
            httpx.Response(200, json=token_answer(SECOND_TOKEN)),
        ]
        route = no_outbound_http.post(REFUND_URL)
        route.side_effect = [
            httpx.Response(401, json={"error": "invalid_token"}),
            httpx.Response(201, json={"id": REFUND_ID, "status": "COMPLETED"}),
        ]

        await paypal.refund_capture(CAPTURE_ID, amount=Decimal("7.50"), request_id="refund-1")

        first, second = (call.request for call in route.calls)
        assert first.headers["PayPal-Request-Id"] == second.headers["PayPal-Request-Id"]
        assert first.content == second.content
        assert_bearer(route, SECOND_TOKEN, index=1)

    async def test_a_second_401_is_a_request_error_without_a_third_attempt(
        self, paypal: PayPalClient, token: respx.Route, order_route: respx.Route
    ) -> None:
        order_route.respond(401, json={"error": "invalid_token"})

        with pytest.raises(PayPalRequestError) as caught:
            await paypal.get_order(ORDER_ID)

        assert caught.value.status == 401
        assert token.call_count == 2
        assert order_route.call_count == 2

    async def test_refused_credentials_are_a_request_error(
        self, paypal: PayPalClient, token: respx.Route
    ) -> None:
        token.respond(
            401,
            json={"error": "invalid_client", "error_description": "Client Authentication failed"},
        )

        with pytest.raises(PayPalRequestError) as caught:
            await paypal.get_order(ORDER_ID)

        assert (caught.value.status, caught.value.name) == (401, "invalid_client")
        assert CLIENT_SECRET not in str(caught.value)

    @pytest.mark.parametrize(
        "answer",
        [
            httpx.Response(503, text="unavailable"),
            httpx.Response(200, text="<html>maintenance</html>"),
            httpx.ConnectTimeout("timed out"),
        ],
    )
    async def test_an_unavailable_token_endpoint_is_retryable(
        self, paypal: PayPalClient, token: respx.Route, answer: httpx.Response | Exception
    ) -> None:
        token.side_effect = [answer]

        with pytest.raises(PayPalRetryableError):
            await paypal.get_order(ORDER_ID)


class TestCreateOrder:
    async def test_posts_the_order_and_returns_the_payer_action_link(
        self, paypal: PayPalClient, no_outbound_http: respx.MockRouter, token: respx.Route
    ) -> None:
        route = no_outbound_http.post(ORDERS_URL)
        route.respond(201, json=order_body())

        order = await create(paypal)

        assert order == Order(
            id=ORDER_ID,
            status="PAYER_ACTION_REQUIRED",
            approve_url=APPROVE_URL,
            amount=Decimal("15.00"),
            currency="GBP",
            custom_id=BOOKING_ID,
            capture=None,
        )
        request = route.calls.last.request
        assert str(request.url) == ORDERS_URL
        assert request.headers["PayPal-Request-Id"] == f"tb-deposit-{BOOKING_ID}"
        assert request.headers["Prefer"] == "return=representation"
        assert_bearer(route)
        assert sent_json(route) == {
            "intent": "CAPTURE",
            "purchase_units": [
                {
                    "reference_id": f"tb-deposit-{BOOKING_ID}",
                    "custom_id": BOOKING_ID,
                    "description": "Table booking deposit - 4 guests",
                    "amount": {"currency_code": "GBP", "value": "15.00"},
                }
            ],
            "payment_source": {
                "paypal": {
                    "experience_context": {
                        "brand_name": "The Anchor",
                        "locale": "en-GB",
                        "user_action": "PAY_NOW",
                        "shipping_preference": "NO_SHIPPING",
                        "return_url": RETURN_URL,
                        "cancel_url": CANCEL_URL,
                    }
                }
            },
        }

    async def test_falls_back_to_the_approve_link(
        self, paypal: PayPalClient, no_outbound_http: respx.MockRouter, token: respx.Route
    ) -> None:
        no_outbound_http.post(ORDERS_URL).respond(201, json=order_body("CREATED", rel="approve"))

        order = await create(paypal)

        assert (order.status, order.approve_url) == ("CREATED", APPROVE_URL)

    @pytest.mark.parametrize(
        ("value", "sent"),
        [
            (Decimal("15"), "15.00"),
            (Decimal("7.5"), "7.50"),
            (Decimal("0.10"), "0.10"),
            (Decimal("1250.00"), "1250.00"),
        ],
    )
    async def test_sends_the_amount_with_exactly_two_decimals(
        self,
        paypal: PayPalClient,
        no_outbound_http: respx.MockRouter,
        token: respx.Route,
        value: Decimal,
        sent: str,
    ) -> None:
        route = no_outbound_http.post(ORDERS_URL)
        route.respond(201, json=order_body())

        await create(paypal, value)

        assert sent_json(route)["purchase_units"][0]["amount"]["value"] == sent

    @pytest.mark.parametrize(
        ("environment", "base"),
        [("live", LIVE), ("LIVE", LIVE), ("sandbox", SANDBOX), ("", SANDBOX)],
    )
    async def test_the_environment_picks_the_host(
        self,
        http: httpx.AsyncClient,
        no_outbound_http: respx.MockRouter,
        environment: str,
        base: str,
    ) -> None:
        token = no_outbound_http.post(f"{base}/v1/oauth2/token")
        token.respond(200, json=token_answer())
        route = no_outbound_http.post(f"{base}/v2/checkout/orders")
        route.respond(201, json=order_body())
        client = PayPalClient(
            client_id=CLIENT_ID, client_secret=CLIENT_SECRET, environment=environment, http=http
        )

        await create(client)

        assert client.base_url == base
        assert (token.call_count, route.call_count) == (1, 1)


class TestGetOrder:
    async def test_reads_amount_custom_id_and_no_capture_before_payment(
        self, paypal: PayPalClient, order_route: respx.Route
    ) -> None:
        order_route.respond(200, json=order_body("APPROVED"))

        order = await paypal.get_order(ORDER_ID)

        assert order == Order(
            id=ORDER_ID,
            status="APPROVED",
            approve_url=APPROVE_URL,
            amount=Decimal("15.00"),
            currency="GBP",
            custom_id=BOOKING_ID,
            capture=None,
        )
        request = order_route.calls.last.request
        assert (request.method, str(request.url)) == ("GET", ORDER_URL)
        assert "PayPal-Request-Id" not in request.headers
        assert request.content == b""

    async def test_reads_the_capture_of_a_completed_order(
        self, paypal: PayPalClient, order_route: respx.Route
    ) -> None:
        order_route.respond(200, json=order_body("COMPLETED", captures=[capture_body()]))

        order = await paypal.get_order(ORDER_ID)

        assert order.capture == Capture(
            id=CAPTURE_ID,
            status="COMPLETED",
            amount=Decimal("15.00"),
            currency="GBP",
            order_id=ORDER_ID,
            custom_id=BOOKING_ID,
        )

    async def test_an_id_cannot_reach_another_endpoint(
        self, paypal: PayPalClient, no_outbound_http: respx.MockRouter, token: respx.Route
    ) -> None:
        route = no_outbound_http.get(f"{ORDERS_URL}/..%2Fx%3Fy")
        route.respond(404, json=paypal_error("RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID"))

        with pytest.raises(PayPalRequestError) as caught:
            await paypal.get_order("../x?y")

        assert (caught.value.status, caught.value.name) == (404, "INVALID_RESOURCE_ID")
        assert route.call_count == 1


class TestCaptureOrder:
    @pytest.fixture
    def capture_route(self, no_outbound_http: respx.MockRouter, token: respx.Route) -> respx.Route:
        route = no_outbound_http.post(CAPTURE_URL)
        route.respond(201, json=order_body("COMPLETED", captures=[capture_body()]))
        return route

    async def test_posts_an_empty_body_and_returns_the_completed_capture(
        self, paypal: PayPalClient, capture_route: respx.Route
    ) -> None:
        capture = await paypal.capture_order(ORDER_ID, request_id=f"tb-capture-{BOOKING_ID}")

        assert capture == Capture(
            id=CAPTURE_ID,
            status="COMPLETED",
            amount=Decimal("15.00"),
            currency="GBP",
            order_id=ORDER_ID,
            custom_id=BOOKING_ID,
        )
        request = capture_route.calls.last.request
        assert str(request.url) == CAPTURE_URL
        assert request.headers["PayPal-Request-Id"] == f"tb-capture-{BOOKING_ID}"
        assert request.headers["Prefer"] == "return=representation"
        assert_bearer(capture_route)
        assert sent_json(capture_route) == {}

    async def test_a_pending_capture_is_returned_as_pending(
        self, paypal: PayPalClient, capture_route: respx.Route
    ) -> None:
        capture_route.respond(201, json=order_body("COMPLETED", captures=[capture_body("PENDING")]))

        capture = await paypal.capture_order(ORDER_ID, request_id="c-1")

        assert capture.status == "PENDING"

    async def test_an_order_already_captured_returns_the_existing_capture(
        self, paypal: PayPalClient, capture_route: respx.Route, order_route: respx.Route
    ) -> None:
        capture_route.respond(
            422,
            json=paypal_error(
                "UNPROCESSABLE_ENTITY",
                "ORDER_ALREADY_CAPTURED",
                "Order already captured.If 'intent=CAPTURE' only one capture per order is allowed.",
            ),
        )
        order_route.respond(200, json=order_body("COMPLETED", captures=[capture_body()]))

        capture = await paypal.capture_order(ORDER_ID, request_id="c-1")

        assert (capture.id, capture.status, capture.amount) == (
            CAPTURE_ID,
            "COMPLETED",
            Decimal("15.00"),
        )
        assert capture_route.call_count == 1
        assert order_route.call_count == 1

    async def test_already_captured_but_no_capture_shown_is_retryable(
        self, paypal: PayPalClient, capture_route: respx.Route, order_route: respx.Route
    ) -> None:
        capture_route.respond(
            422, json=paypal_error("UNPROCESSABLE_ENTITY", "ORDER_ALREADY_CAPTURED")
        )
        order_route.respond(200, json=order_body("COMPLETED"))

        with pytest.raises(PayPalRetryableError):
            await paypal.capture_order(ORDER_ID, request_id="c-1")

    @pytest.mark.parametrize(
        "issue",
        ["INSTRUMENT_DECLINED", "ORDER_NOT_APPROVED", "MAX_NUMBER_OF_PAYMENT_ATTEMPTS_EXCEEDED"],
    )
    async def test_other_422_issues_are_request_errors_named_by_the_issue(
        self,
        paypal: PayPalClient,
        capture_route: respx.Route,
        order_route: respx.Route,
        issue: str,
    ) -> None:
        capture_route.respond(
            422,
            json=paypal_error(
                "UNPROCESSABLE_ENTITY", issue, "The instrument presented was declined."
            ),
        )

        with pytest.raises(PayPalRequestError) as caught:
            await paypal.capture_order(ORDER_ID, request_id="c-1")

        error = caught.value
        assert not isinstance(error, PayPalRetryableError)
        assert (error.status, error.name, error.debug_id) == (422, issue, "f0a8c2e1b2d3")
        assert error.message == "The instrument presented was declined."
        assert order_route.call_count == 0

    @pytest.mark.parametrize(
        "body",
        [
            order_body("COMPLETED"),
            order_body("COMPLETED", captures=[{"id": CAPTURE_ID, "status": "COMPLETED"}]),
            ["not", "an", "order"],
        ],
    )
    async def test_a_success_without_a_readable_capture_is_retryable(
        self, paypal: PayPalClient, capture_route: respx.Route, body: Any
    ) -> None:
        capture_route.respond(201, json=body)

        with pytest.raises(PayPalRetryableError) as caught:
            await paypal.capture_order(ORDER_ID, request_id="c-1")

        assert caught.value.status == 201


class TestErrors:
    @pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
    async def test_throttling_and_server_errors_are_retryable(
        self,
        paypal: PayPalClient,
        no_outbound_http: respx.MockRouter,
        token: respx.Route,
        status: int,
    ) -> None:
        route = no_outbound_http.post(CAPTURE_URL)
        route.respond(
            status,
            json=paypal_error("INTERNAL_SERVER_ERROR", debug_id="9a8b7c"),
            headers={"PayPal-Debug-Id": "ignored-when-the-body-has-one"},
        )

        with pytest.raises(PayPalRetryableError) as caught:
            await paypal.capture_order(ORDER_ID, request_id="c-1")

        assert (caught.value.status, caught.value.name) == (status, "INTERNAL_SERVER_ERROR")
        assert caught.value.debug_id == "9a8b7c"
        assert route.call_count == 1

    async def test_an_error_without_json_keeps_the_status_and_the_debug_header(
        self, paypal: PayPalClient, order_route: respx.Route
    ) -> None:
        order_route.respond(502, text="<html>Bad Gateway</html>", headers={"PayPal-Debug-Id": "d1"})

        with pytest.raises(PayPalRetryableError) as caught:
            await paypal.get_order(ORDER_ID)

        error = caught.value
        assert (error.status, error.name, error.debug_id) == (502, None, "d1")
        assert error.message == "PayPal answered 502 Bad Gateway"

    @pytest.mark.parametrize(
        "exception",
        [
            httpx.ReadTimeout("timed out"),
            httpx.ConnectTimeout("timed out"),
            httpx.ConnectError("connection refused"),
            httpx.RemoteProtocolError("server disconnected"),
        ],
    )
    async def test_a_timeout_or_transport_error_is_retryable(
        self, paypal: PayPalClient, order_route: respx.Route, exception: Exception
    ) -> None:
        order_route.side_effect = exception

        with pytest.raises(PayPalRetryableError) as caught:
            await paypal.get_order(ORDER_ID)

        assert caught.value.status is None
        assert caught.value.__cause__ is exception

    @pytest.mark.parametrize(
        "response",
        [
            httpx.Response(200, text="<html>not json</html>"),
            httpx.Response(200, json={"status": "APPROVED"}),
            httpx.Response(200, json=[ORDER_ID]),
        ],
    )
    async def test_a_success_we_cannot_read_is_retryable(
        self, paypal: PayPalClient, order_route: respx.Route, response: httpx.Response
    ) -> None:
        order_route.return_value = response

        with pytest.raises(PayPalRetryableError) as caught:
            await paypal.get_order(ORDER_ID)

        assert caught.value.status == 200

    def test_every_api_error_is_a_paypal_error(self) -> None:
        assert issubclass(PayPalRequestError, PayPalError)
        assert issubclass(PayPalRetryableError, PayPalError)
        assert not issubclass(PayPalSignatureError, PayPalError)


class TestRefundCapture:
    @pytest.fixture
    def refund_route(self, no_outbound_http: respx.MockRouter, token: respx.Route) -> respx.Route:
        route = no_outbound_http.post(REFUND_URL)
        route.respond(201, json={"id": REFUND_ID, "status": "COMPLETED", "amount": amount()})
        return route

    async def test_a_full_refund_sends_the_amount_and_the_note(
        self, paypal: PayPalClient, refund_route: respx.Route
    ) -> None:
        refund = await paypal.refund_capture(
            CAPTURE_ID,
            amount=Decimal("15"),
            request_id=f"refund-{BOOKING_ID}-1",
            note="Deposit refunded: booking cancelled",
        )

        assert refund == Refund(
            id=REFUND_ID, status="COMPLETED", amount=Decimal("15.00"), currency="GBP"
        )
        request = refund_route.calls.last.request
        assert str(request.url) == REFUND_URL
        assert request.headers["PayPal-Request-Id"] == f"refund-{BOOKING_ID}-1"
        assert_bearer(refund_route)
        assert sent_json(refund_route) == {
            "amount": {"value": "15.00", "currency_code": "GBP"},
            "note_to_payer": "Deposit refunded: booking cancelled",
        }

    async def test_a_partial_refund_leaves_out_a_missing_note(
        self, paypal: PayPalClient, refund_route: respx.Route
    ) -> None:
        refund_route.respond(201, json={"id": REFUND_ID, "status": "PENDING"})

        refund = await paypal.refund_capture(
            CAPTURE_ID, amount=Decimal("7.5"), request_id=f"refund-{BOOKING_ID}-2"
        )

        assert refund == Refund(id=REFUND_ID, status="PENDING", amount=None, currency=None)
        assert sent_json(refund_route) == {"amount": {"value": "7.50", "currency_code": "GBP"}}

    async def test_a_refund_over_the_capture_is_a_request_error(
        self, paypal: PayPalClient, refund_route: respx.Route
    ) -> None:
        refund_route.respond(
            422, json=paypal_error("UNPROCESSABLE_ENTITY", "REFUND_AMOUNT_EXCEEDED")
        )

        with pytest.raises(PayPalRequestError) as caught:
            await paypal.refund_capture(CAPTURE_ID, amount=Decimal("20"), request_id="r-1")

        assert caught.value.name == "REFUND_AMOUNT_EXCEEDED"

    @pytest.mark.parametrize(
        ("value", "error"),
        [
            (Decimal("7.505"), ValueError),
            (Decimal("0"), ValueError),
            (Decimal("-5.00"), ValueError),
            (Decimal("NaN"), ValueError),
            (7.5, TypeError),
        ],
    )
    async def test_refuses_amounts_paypal_must_never_see(
        self, paypal: PayPalClient, no_outbound_http: respx.MockRouter, value: Any, error: type
    ) -> None:
        with pytest.raises(error):
            await paypal.refund_capture(CAPTURE_ID, amount=value, request_id="r-1")

        assert no_outbound_http.calls.call_count == 0

    def test_format_amount(self) -> None:
        assert format_amount(Decimal("7.5")) == "7.50"
        assert format_amount(Decimal("1E+1")) == "10.00"


class TestPostbackVerification:
    HEADERS: ClassVar[dict[str, str]] = {
        "PAYPAL-AUTH-ALGO": "SHA256withRSA",
        "PAYPAL-CERT-URL": "https://api.paypal.com/v1/notifications/certs/CERT-xyz",
        "PAYPAL-TRANSMISSION-ID": "69cd13f0-d67a-11e5-baa3-778b53f4ae55",
        "PAYPAL-TRANSMISSION-SIG": "bG9uZy1iYXNlNjQtc2lnbmF0dXJl",
        "PAYPAL-TRANSMISSION-TIME": "2026-11-24T09:59:30Z",
    }
    EVENT: ClassVar[dict[str, Any]] = {
        "id": "WH-2WR32451HC0233532-67976317FL4543714",
        "event_type": "PAYMENT.CAPTURE.COMPLETED",
        "resource": {"id": CAPTURE_ID, "status": "COMPLETED", "amount": amount()},
    }

    @pytest.fixture
    def postback(self, no_outbound_http: respx.MockRouter, token: respx.Route) -> respx.Route:
        route = no_outbound_http.post(POSTBACK_URL)
        route.respond(200, json={"verification_status": "SUCCESS"})
        return route

    async def test_success_verifies_and_sends_every_field(
        self, paypal: PayPalClient, postback: respx.Route
    ) -> None:
        verified = await paypal.verify_webhook_postback(
            headers=self.HEADERS, webhook_id="WH-ID-1", event=self.EVENT
        )

        assert verified is True
        assert_bearer(postback)
        assert sent_json(postback) == {
            "auth_algo": "SHA256withRSA",
            "cert_url": "https://api.paypal.com/v1/notifications/certs/CERT-xyz",
            "transmission_id": "69cd13f0-d67a-11e5-baa3-778b53f4ae55",
            "transmission_sig": "bG9uZy1iYXNlNjQtc2lnbmF0dXJl",
            "transmission_time": "2026-11-24T09:59:30Z",
            "webhook_id": "WH-ID-1",
            "webhook_event": self.EVENT,
        }

    async def test_failure_does_not_verify(
        self, paypal: PayPalClient, postback: respx.Route
    ) -> None:
        postback.respond(200, json={"verification_status": "FAILURE"})

        assert not await paypal.verify_webhook_postback(
            headers=self.HEADERS, webhook_id="WH-ID-1", event=self.EVENT
        )

    async def test_missing_headers_fail_without_asking_paypal(
        self, paypal: PayPalClient, postback: respx.Route
    ) -> None:
        headers = {k: v for k, v in self.HEADERS.items() if k != "PAYPAL-TRANSMISSION-SIG"}

        assert not await paypal.verify_webhook_postback(
            headers=headers, webhook_id="WH-ID-1", event=self.EVENT
        )
        assert postback.call_count == 0


# Offline verification -----------------------------------------------------------------------

WEBHOOK_ID = "1JE4291016473214C"
CERT_URL = "https://api.paypal.com/v1/notifications/certs/CERT-xyz"
TRANSMISSION_ID = "69cd13f0-d67a-11e5-baa3-778b53f4ae55"
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
WEBHOOK_BODY = (
    b'{"id":"WH-2WR32451HC0233532-67976317FL4543714","event_type":"PAYMENT.CAPTURE.COMPLETED",'
    b'"resource":{"id":"3C679366HH908993F","status":"COMPLETED",'
    b'"amount":{"currency_code":"GBP","value":"15.00"}}}'
)


@cache
def signing_key(name: str = "paypal") -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@cache
def certificate_pem(name: str = "paypal") -> bytes:
    """A self-signed certificate for ``signing_key(name)``, as PayPal's cert URL serves it."""
    key = signing_key(name)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "messageverificationcerts")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=30))
        .not_valid_after(NOW + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM)


def paypal_time(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def signed_headers(
    body: bytes = WEBHOOK_BODY,
    *,
    sent: datetime = NOW - timedelta(seconds=20),
    webhook_id: str = WEBHOOK_ID,
    cert_url: str = CERT_URL,
    key: str = "paypal",
) -> dict[str, str]:
    """The headers PayPal sends: its signature over id|time|webhook id|crc32(raw body)."""
    transmission_time = paypal_time(sent)
    message = f"{TRANSMISSION_ID}|{transmission_time}|{webhook_id}|{zlib.crc32(body)}"
    signature = signing_key(key).sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())
    return {
        "PAYPAL-TRANSMISSION-ID": TRANSMISSION_ID,
        "PAYPAL-TRANSMISSION-TIME": transmission_time,
        "PAYPAL-TRANSMISSION-SIG": base64.b64encode(signature).decode(),
        "PAYPAL-CERT-URL": cert_url,
        "PAYPAL-AUTH-ALGO": "SHA256withRSA",
        "Content-Type": "application/json",
    }


class TestWebhookVerifier:
    @pytest.fixture
    def clock(self) -> FakeClock:
        return FakeClock(NOW)

    @pytest.fixture
    def verifier(self, http: httpx.AsyncClient, clock: FakeClock) -> WebhookVerifier:
        return WebhookVerifier(webhook_id=WEBHOOK_ID, http=http, clock=clock)

    @pytest.fixture
    def cert(self, no_outbound_http: respx.MockRouter) -> respx.Route:
        route = no_outbound_http.get(CERT_URL)
        route.respond(200, content=certificate_pem(), headers={"Content-Type": "text/plain"})
        return route

    @staticmethod
    async def refusal(verifier: WebhookVerifier, headers: dict[str, str], body: bytes) -> str:
        with pytest.raises(PayPalSignatureError) as caught:
            await verifier.verify(headers, body)
        return caught.value.reason

    async def test_accepts_paypals_signature(
        self, verifier: WebhookVerifier, cert: respx.Route
    ) -> None:
        await verifier.verify(signed_headers(), WEBHOOK_BODY)

        assert cert.call_count == 1
        assert cert.calls.last.request.method == "GET"

    async def test_header_names_are_case_insensitive(
        self, verifier: WebhookVerifier, cert: respx.Route
    ) -> None:
        headers = {name.lower(): value for name, value in signed_headers().items()}

        await verifier.verify(headers, WEBHOOK_BODY)

    async def test_a_tampered_body_is_refused(
        self, verifier: WebhookVerifier, cert: respx.Route
    ) -> None:
        tampered = WEBHOOK_BODY.replace(b'"15.00"', b'"1500.00"')

        assert await self.refusal(verifier, signed_headers(), tampered) == "bad_signature"

    async def test_reformatted_json_with_the_same_content_is_refused(
        self, verifier: WebhookVerifier, cert: respx.Route
    ) -> None:
        reformatted = json.dumps(json.loads(WEBHOOK_BODY), indent=2).encode()

        assert await self.refusal(verifier, signed_headers(), reformatted) == "bad_signature"

    async def test_a_signature_for_another_webhook_is_refused(
        self, verifier: WebhookVerifier, cert: respx.Route
    ) -> None:
        headers = signed_headers(webhook_id="5GP028458E2496506")

        assert await self.refusal(verifier, headers, WEBHOOK_BODY) == "bad_signature"

    async def test_a_signature_by_another_key_is_refused(
        self, verifier: WebhookVerifier, cert: respx.Route
    ) -> None:
        headers = signed_headers(key="forger")

        assert await self.refusal(verifier, headers, WEBHOOK_BODY) == "bad_signature"

    async def test_a_signature_that_is_not_base64_is_refused(
        self, verifier: WebhookVerifier, cert: respx.Route
    ) -> None:
        headers = {**signed_headers(), "PAYPAL-TRANSMISSION-SIG": "not base64!"}

        assert await self.refusal(verifier, headers, WEBHOOK_BODY) == "bad_signature"

    @pytest.mark.parametrize("offset", [timedelta(minutes=-6), timedelta(minutes=6)])
    async def test_a_transmission_six_minutes_off_is_stale(
        self, verifier: WebhookVerifier, cert: respx.Route, offset: timedelta
    ) -> None:
        headers = signed_headers(sent=NOW + offset)

        assert await self.refusal(verifier, headers, WEBHOOK_BODY) == "stale"
        assert cert.call_count == 0

    @pytest.mark.parametrize("offset", [timedelta(minutes=-4), timedelta(minutes=4)])
    async def test_a_transmission_within_five_minutes_is_fresh(
        self, verifier: WebhookVerifier, cert: respx.Route, offset: timedelta
    ) -> None:
        await verifier.verify(signed_headers(sent=NOW + offset), WEBHOOK_BODY)

    @pytest.mark.parametrize("transmission_time", ["yesterday", "2026-11-24T09:59:40"])
    async def test_an_unreadable_or_zoneless_time_is_stale(
        self, verifier: WebhookVerifier, cert: respx.Route, transmission_time: str
    ) -> None:
        headers = {**signed_headers(), "PAYPAL-TRANSMISSION-TIME": transmission_time}

        assert await self.refusal(verifier, headers, WEBHOOK_BODY) == "stale"

    async def test_freshness_follows_the_clock(
        self, verifier: WebhookVerifier, cert: respx.Route, clock: FakeClock
    ) -> None:
        headers = signed_headers()
        clock.advance(minutes=10)

        assert await self.refusal(verifier, headers, WEBHOOK_BODY) == "stale"

    @pytest.mark.parametrize(
        "cert_url",
        [
            "https://paypal.com.evil.example/cert",
            "https://evilpaypal.com/cert",
            "http://api.paypal.com/cert",
            "https://api.paypal.com@evil.example/cert",
            "https://evil.example\\.paypal.com/cert",
            "api.paypal.com/cert",
        ],
    )
    async def test_a_certificate_off_paypal_is_refused_without_a_request(
        self,
        verifier: WebhookVerifier,
        no_outbound_http: respx.MockRouter,
        cert_url: str,
    ) -> None:
        headers = signed_headers(cert_url=cert_url)

        assert await self.refusal(verifier, headers, WEBHOOK_BODY) == "bad_cert_url"
        assert no_outbound_http.calls.call_count == 0

    async def test_the_certificate_is_fetched_once_for_two_verifications(
        self, verifier: WebhookVerifier, cert: respx.Route
    ) -> None:
        await verifier.verify(signed_headers(), WEBHOOK_BODY)
        await verifier.verify(signed_headers(sent=NOW - timedelta(seconds=5)), WEBHOOK_BODY)

        assert cert.call_count == 1

    @pytest.mark.parametrize(
        "answer",
        [
            httpx.Response(404, text="not found"),
            httpx.Response(200, text="not a certificate"),
            httpx.Response(302, headers={"Location": "https://evil.example/cert.pem"}),
            httpx.ConnectError("connection refused"),
        ],
    )
    async def test_an_unavailable_certificate_is_refused_and_not_cached(
        self, verifier: WebhookVerifier, cert: respx.Route, answer: httpx.Response | Exception
    ) -> None:
        cert.side_effect = [answer, httpx.Response(200, content=certificate_pem())]

        assert await self.refusal(verifier, signed_headers(), WEBHOOK_BODY) == "cert_unavailable"
        await verifier.verify(signed_headers(), WEBHOOK_BODY)

        # No redirect was followed: only our two GETs of the PayPal URL were sent.
        assert cert.call_count == 2

    @pytest.mark.parametrize(
        "missing",
        [
            "PAYPAL-TRANSMISSION-ID",
            "PAYPAL-TRANSMISSION-TIME",
            "PAYPAL-TRANSMISSION-SIG",
            "PAYPAL-CERT-URL",
            "PAYPAL-AUTH-ALGO",
        ],
    )
    async def test_a_missing_header_is_refused(
        self, verifier: WebhookVerifier, no_outbound_http: respx.MockRouter, missing: str
    ) -> None:
        headers = {k: v for k, v in signed_headers().items() if k != missing}

        assert await self.refusal(verifier, headers, WEBHOOK_BODY) == "missing_headers"
        assert no_outbound_http.calls.call_count == 0

    async def test_an_empty_header_counts_as_missing(
        self, verifier: WebhookVerifier, cert: respx.Route
    ) -> None:
        headers = {**signed_headers(), "PAYPAL-TRANSMISSION-SIG": " "}

        assert await self.refusal(verifier, headers, WEBHOOK_BODY) == "missing_headers"

    @pytest.mark.parametrize("algo", ["SHA1withRSA", "HS256", "sha256withrsa"])
    async def test_an_unsupported_algorithm_is_refused(
        self, verifier: WebhookVerifier, cert: respx.Route, algo: str
    ) -> None:
        headers = {**signed_headers(), "PAYPAL-AUTH-ALGO": algo}

        assert await self.refusal(verifier, headers, WEBHOOK_BODY) == "unsupported_algo"
        assert cert.call_count == 0

    def test_needs_the_webhook_id(self, http: httpx.AsyncClient, clock: FakeClock) -> None:
        with pytest.raises(ValueError, match="webhook id"):
            WebhookVerifier(webhook_id="", http=http, clock=clock)


class TestLoggingAndSecrets:
    @staticmethod
    def everything_logged(caplog: pytest.LogCaptureFixture) -> str:
        return "\n".join(f"{record.getMessage()} {record.__dict__!r}" for record in caplog.records)

    async def test_a_successful_payment_logs_ids_and_no_secrets(
        self,
        paypal: PayPalClient,
        no_outbound_http: respx.MockRouter,
        token: respx.Route,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        caplog.set_level(logging.DEBUG)
        no_outbound_http.post(ORDERS_URL).respond(201, json=order_body())
        no_outbound_http.post(CAPTURE_URL).respond(
            201, json=order_body("COMPLETED", captures=[capture_body()])
        )

        await create(paypal)
        await paypal.capture_order(ORDER_ID, request_id="c-1")

        events = [r for r in caplog.records if r.name == "app.paypal"]
        by_event = {r.getMessage(): r for r in events}
        assert by_event["paypal.order.created"].__dict__["order_id"] == ORDER_ID
        completed = by_event["paypal.capture.completed"].__dict__
        assert (completed["capture_id"], completed["status"]) == (CAPTURE_ID, "COMPLETED")
        logged = self.everything_logged(caplog)
        for secret in (CLIENT_SECRET, ACCESS_TOKEN, PAYER_EMAIL, "Lee"):
            assert secret not in logged

    async def test_a_declined_capture_logs_the_issue_and_no_secrets(
        self,
        paypal: PayPalClient,
        no_outbound_http: respx.MockRouter,
        token: respx.Route,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        caplog.set_level(logging.DEBUG)
        no_outbound_http.post(CAPTURE_URL).respond(
            422, json=paypal_error("UNPROCESSABLE_ENTITY", "INSTRUMENT_DECLINED")
        )

        with pytest.raises(PayPalRequestError) as caught:
            await paypal.capture_order(ORDER_ID, request_id="c-1")

        [event] = [r for r in caplog.records if r.name == "app.paypal" and r.levelno >= 30]
        assert event.getMessage() == "paypal.capture.failed"
        assert event.__dict__["paypal_error"] == "INSTRUMENT_DECLINED"
        assert event.__dict__["order_id"] == ORDER_ID
        assert event.__dict__["retryable"] is False
        logged = self.everything_logged(caplog) + str(caught.value)
        assert CLIENT_SECRET not in logged
        assert ACCESS_TOKEN not in logged

    def test_repr_hides_the_secret(self, paypal: PayPalClient) -> None:
        assert CLIENT_SECRET not in repr(paypal)
        assert CLIENT_ID not in repr(paypal)

    def test_needs_credentials(self, http: httpx.AsyncClient) -> None:
        with pytest.raises(ValueError, match="client id and a client secret"):
            PayPalClient(client_id=CLIENT_ID, client_secret="", environment="live", http=http)
