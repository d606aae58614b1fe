"""Schemathesis over ``/openapi.json``: every operation, generated requests, documented answers.

How it is driven (schemathesis 4.x): the document is fetched from the app's own
``/openapi.json`` and loaded with ``schemathesis.openapi.from_dict``; cases are generated with
each operation's Hypothesis strategy and sent through the suite's in-process httpx client, on
the test's own event loop; ``Case.validate_response`` then runs schemathesis's checks on the
httpx response. We do not use ``from_asgi``/``case.call(app=...)``: schemathesis's ASGI
transport runs the app on a private event loop in a portal thread (and starts the app's
lifespan there, for the rest of the process), while the app's asyncpg pool belongs to the
session loop of pytest-asyncio, so every query would fail with "attached to a different loop".
Generation needs no I/O, so the cases of one operation are drawn first (a synchronous
``@given`` collector, derandomized so CI sees the same cases every run) and sent afterwards.

Per operation: up to ``EXAMPLES`` positive and ``EXAMPLES`` negative (schema-violating) cases,
plus hand-picked edge cases (real bookings, the guest's token, limits of numbers and dates).
Checks: no 5xx (``not_a_server_error``; a 503 would also mean the test database failed), the
status code is documented, the content type and the body match the documented response.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import Case, GenerationMode
from schemathesis.checks import CheckFunction, not_a_server_error
from schemathesis.schemas import APIOperation, BaseSchema
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import FakeClock, create_booking, regular_body, sunday_body

EXAMPLES = 30
AnyCase = Case[Any]
Operation = APIOperation[Any, Any, Any, Any]
CRON = {"Authorization": "Bearer test-cron-secret-0123456789"}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

#: Every operation of the document and who may call it. test_every_operation_is_fuzzed fails
#: when an operation is added or removed, so none is left out silently.
#:   key     - an API key with every table-booking scope (X-API-Key)
#:   open    - no credential (health; PayPal's browser redirect)
#:   website - the pub's website key (create:bookings, payments:capture), on the 2026 contract
#:   cron    - Authorization: Bearer CRON_SECRET (not in the document: the header is hidden)
#:   webhook - a provider's signature, which generated requests cannot forge: every answer must
#:             be the documented 401 envelope, so only the refusal path is fuzzed here (the
#:             signed paths are covered by test_webhooks_twilio.py and test_payments.py).
ACCESS: dict[str, str] = {
    "GET /health": "open",
    "GET /api/table-bookings/availability": "key",
    "GET /api/table-bookings/menu/sunday-lunch": "key",
    "POST /api/table-bookings": "key",
    "GET /api/table-bookings": "key",
    "POST /api/table-bookings/{reference}/payment": "key",
    "GET /api/table-bookings/payment/return": "open",
    "GET /api/table-bookings/{reference}": "key",
    "PATCH /api/table-bookings/{reference}": "key",
    "POST /api/table-bookings/{reference}/cancel": "key",
    "POST /api/table-bookings/{reference}/status": "key",
    "GET /api/cron/process-jobs": "cron",
    "GET /api/cron/table-booking-payment-expiry": "cron",
    "GET /api/cron/table-booking-reminders": "cron",
    "GET /api/cron/table-booking-reviews": "cron",
    "GET /api/cron/table-booking-monitoring": "cron",
    "GET /api/cron/table-booking-confirmations": "cron",
    "GET /api/table-bookings/confirmations": "key",
    "GET /metrics": "cron",
    "POST /api/webhooks/twilio/status": "webhook",
    "POST /api/webhooks/twilio/inbound": "webhook",
    "POST /api/webhooks/paypal/table-bookings": "webhook",
    "GET /management/api/business/hours": "open",
    "GET /management/api/table-bookings/load": "key",
    "GET /management/api/table-bookings/periods": "key",
    "GET /management/api/menu/sunday-lunch": "key",
    "GET /management/api/menu": "key",
    "POST /management/api/table-bookings": "website",
    "POST /management/api/external/table-bookings/{booking_id}/paypal/create-order": "website",
    "POST /management/api/external/table-bookings/{booking_id}/paypal/capture-order": "website",
}


class Fuzz:
    """One operation's cases, sent through the in-process client and checked."""

    def __init__(
        self, client: httpx.AsyncClient, operation: Operation, headers: dict[str, str]
    ) -> None:
        self.client = client
        self.operation = operation
        self.headers = headers
        self.failures: list[str] = []
        self.statuses: dict[int, int] = {}

    def generate(self, mode: GenerationMode, **fixed: Any) -> list[AnyCase]:
        """Up to EXAMPLES cases, the same ones every run (derandomized, no example database)."""
        cases: list[AnyCase] = []

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            # Only drawing: the collector never fails, so there is nothing to shrink.
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=self.operation.as_strategy(generation_mode=mode, **fixed))
        def collect(case: AnyCase) -> None:
            cases.append(case)

        collect()
        return cases

    async def send(
        self,
        case: AnyCase,
        *,
        headers: dict[str, str] | None = None,
        expect: Callable[[httpx.Response], None] | None = None,
        checks: list[CheckFunction] = CHECKS,
    ) -> httpx.Response:
        """Send ``case`` exactly as schemathesis would serialise it; record what went wrong."""
        kwargs = case.as_transport_kwargs(
            base_url="http://testserver", headers=self.headers if headers is None else headers
        )
        prepared = requests.Request(
            method=kwargs["method"],
            url=kwargs["url"],
            headers=kwargs["headers"],
            params=kwargs.get("params"),
            json=kwargs.get("json"),
            data=kwargs.get("data"),
        ).prepare()
        content = prepared.body
        assert content is None or isinstance(content, (str, bytes))
        response = await self.client.request(
            prepared.method or "GET",
            prepared.url or "",
            headers={
                k: v if isinstance(v, str) else v.decode() for k, v in prepared.headers.items()
            },
            content=content,
        )
        self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1
        try:
            case.validate_response(response, checks=checks)
            if expect is not None:
                expect(response)
        except (AssertionError, BaseExceptionGroup) as exc:
            body = content.decode() if isinstance(content, bytes) else content
            self.failures.append(
                f"{prepared.method} {prepared.url} body={body!r:.300}\n"
                f"-> {response.status_code} {response.text[:300]}\n{exc}"
            )
        return response


def _without_credentials_noise(case: AnyCase) -> AnyCase:
    """Positive cases reach the booking as the API key: drop a generated guest token and
    bearer, which would otherwise take precedence and make nearly every answer 401/404."""
    if isinstance(case.query, dict):
        case.query.pop("token", None)
    if case.headers is not None:
        for name in ("X-Booking-Token", "Authorization"):
            case.headers.pop(name, None)
    return case


def _refused_unsigned(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "UNAUTHORIZED"


def _paypal_not_configured(response: httpx.Response) -> None:
    # The suite's app has no PayPal credentials: starting to pay is the documented 503 (the
    # configured path, with PayPal mocked, is test_payments.py's).
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "SERVICE_UNAVAILABLE"


async def _schema(client: httpx.AsyncClient) -> BaseSchema:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    return schemathesis.openapi.from_dict(response.json())


async def test_every_operation_is_fuzzed(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    labels = {f"{m.upper()} {path}" for path, ops in document["paths"].items() for m in ops}
    assert labels == set(ACCESS)


@pytest.mark.parametrize("label", list(ACCESS))
async def test_operation_answers_as_documented(
    label: str,
    client: httpx.AsyncClient,
    key: dict[str, str],
    make_key: Any,
    menu: dict[str, str],
    clock: FakeClock,
) -> None:
    method, path = label.split(" ", 1)
    operation = (await _schema(client))[path][method]
    access = ACCESS[label]
    website = await make_key(["create:bookings", "payments:capture"])
    fuzz = Fuzz(client, operation, {"key": key, "cron": CRON, "website": website}.get(access, {}))
    regular = await create_booking(client, key, regular_body(phone="07911 100001"))
    sunday = await create_booking(client, key, sunday_body(menu, phone="07911 100002"))
    fixed: dict[str, Any] = {}
    if "{reference}" in path:
        fixed["path_parameters"] = {"reference": regular["booking_reference"]}

    expect = _refused_unsigned if access == "webhook" else None
    for case in fuzz.generate(GenerationMode.POSITIVE, **fixed):
        await fuzz.send(_without_credentials_noise(case), expect=expect)
    # Negative cases need something to break: operations without parameters or a documented
    # body (health, crons, webhooks) have none, and Hypothesis reports that as Unsatisfiable.
    if operation.path_parameters or operation.query or operation.headers or operation.body:
        for case in fuzz.generate(GenerationMode.NEGATIVE):
            await fuzz.send(case, expect=expect)

    for case in _edge_cases(label, operation, regular, sunday, menu):
        await fuzz.send(case, expect=expect)
    if label == "POST /api/table-bookings/{reference}/status":
        # Until the booking starts (Friday 19:00) it can be marked neither way (the 422 above);
        # afterwards, completed is the documented 200 with the booking.
        clock.set(datetime(2026, 11, 27, 21, 0, tzinfo=UTC))
        done = await fuzz.send(
            operation.Case(
                path_parameters={"reference": regular["booking_reference"]},
                body={"status": "completed"},
            )
        )
        assert done.status_code == 200, done.text
    if label == "POST /api/table-bookings/{reference}/payment":
        await fuzz.send(
            operation.Case(path_parameters={"reference": sunday["booking_reference"]}),
            expect=_paypal_not_configured,
            checks=[c for c in CHECKS if c is not not_a_server_error],
        )
    if access in ("cron", "webhook"):
        # Without the credential: the documented 401 envelope.
        await fuzz.send(operation.Case(), headers={}, expect=_refused_unsigned)
    if access == "webhook":
        await fuzz.send(
            operation.Case(
                body="MessageSid=SM1&MessageStatus=delivered&Body=STOP&From=%2B447911123456",
                media_type="application/x-www-form-urlencoded",
            ),
            headers={"X-Twilio-Signature": "forged", "Paypal-Transmission-Sig": "forged"},
            expect=_refused_unsigned,
        )

    assert not fuzz.failures, f"{len(fuzz.failures)} failures:\n\n" + "\n\n".join(fuzz.failures[:5])
    assert sum(fuzz.statuses.values()) > 0


# The known bugs, one request each ---------------------------------------------------------------


@pytest.mark.parametrize("page", [2**31, 50_000_000])
async def test_a_page_beyond_the_integer_range_is_not_a_500(
    client: httpx.AsyncClient, key: dict[str, str], page: int
) -> None:
    response = await client.get("/api/table-bookings", params={"page": page}, headers=key)
    assert response.status_code in (200, 400), response.text
    if response.status_code == 200:
        assert response.json()["data"]["items"] == []
    else:
        assert response.json()["error"]["code"] == "VALIDATION_ERROR"


@pytest.mark.parametrize("field", ["allergies", "dietary_requirements"])
async def test_a_null_list_in_a_change_is_not_a_500(
    client: httpx.AsyncClient, key: dict[str, str], field: str
) -> None:
    body = regular_body()
    body[field] = ["peanuts"]
    made = await create_booking(client, key, body)
    response = await client.patch(
        f"/api/table-bookings/{made['booking_reference']}", json={field: None}, headers=key
    )
    assert response.status_code in (200, 400), response.text
    if response.status_code == 200:
        assert response.json()["data"][field] == []
    else:
        assert response.json()["error"]["code"] == "VALIDATION_ERROR"


def _edge_cases(
    label: str,
    operation: Operation,
    regular: dict[str, Any],
    sunday: dict[str, Any],
    menu: dict[str, str],
) -> list[AnyCase]:
    """Hand-picked requests the generator may not reach: real bookings, limits."""
    case = operation.Case
    ref, sun = regular["booking_reference"], sunday["booking_reference"]
    if label == "GET /api/table-bookings/availability":
        return [
            case(query={"date": d, "party_size": n, "booking_type": t})
            for d, n, t in [
                ("2026-11-27", 4, "regular"),
                ("2026-11-29", 2, "sunday_lunch"),
                ("2026-12-25", 2, "regular"),
                ("0001-01-01", 1, "regular"),
                ("9999-12-31", 500, "sunday_lunch"),
            ]
        ]
    if label == "GET /api/table-bookings/menu/sunday-lunch":
        return [case(query={"date": d}) for d in ("2026-11-29", "0001-01-07", "9999-12-26")]
    if label == "POST /api/table-bookings":
        return [
            case(body=regular_body(phone="07911 100003")),
            case(body=sunday_body(menu, phone="07911 100004")),
            case(body=regular_body("9999-12-31", phone="07911 100005")),
            case(body=regular_body("0001-01-01", "00:00", phone="07911 100006")),
            case(body=regular_body(time="23:59", party_size=500, phone="07911 100007")),
        ]
    if label == "GET /api/table-bookings":
        return [
            case(query={"search": s})
            for s in ("%", "_", "\\", "'); drop table table_bookings; --", "07911 100001")
        ] + [
            case(query={"date_from": "0001-01-01", "date_to": "9999-12-31"}),
            case(query={"status": "confirmed,pending_payment", "page_size": 200}),
            case(query={"page": 2**31 // 200, "page_size": 200}),
        ]
    if label == "GET /api/table-bookings/{reference}":
        return [
            case(path_parameters={"reference": ref}),
            case(path_parameters={"reference": sun.lower()}),
            case(
                path_parameters={"reference": ref},
                headers={"X-Booking-Token": regular["manage_token"]},
            ),
        ]
    if label == "PATCH /api/table-bookings/{reference}":
        return [
            case(path_parameters={"reference": ref}, body={"party_size": 6}),
            case(path_parameters={"reference": ref}, body={"date": "9999-12-31"}),
            case(path_parameters={"reference": ref}, body={"special_requirements": None}),
            case(path_parameters={"reference": sun}, body={"party_size": 3}),
        ]
    if label == "POST /api/table-bookings/{reference}/payment":
        return [case(path_parameters={"reference": ref})]  # nothing to pay: 409
    if label == "POST /api/table-bookings/{reference}/cancel":
        return [
            case(path_parameters={"reference": sun}, body={"reason": "plans changed"}),
            case(path_parameters={"reference": sun}, body={"reason": "again"}),
            case(path_parameters={"reference": ref}, body={"refund_amount": "1.00"}),
        ]
    if label == "POST /api/table-bookings/{reference}/status":
        return [
            case(path_parameters={"reference": ref}, body={"status": s})
            for s in ("no_show", "completed")
        ]
    if label == "GET /api/table-bookings/payment/return":
        return [case(query={"token": "5O190127TN364715T", "PayerID": "FSMVU44LF3YUS"})]
    return []


NUL = "a\x00b"


@pytest.mark.parametrize(
    "where",
    [
        "create.special_requirements",
        "create.customer.first_name",
        "create.allergies",
        "change.special_requirements",
        "cancel.reason",
        "list.search",
        "payment_return.token",
    ],
)
async def test_a_nul_character_is_not_a_500(
    client: httpx.AsyncClient, key: dict[str, str], where: str
) -> None:
    made = await create_booking(client, key, regular_body())
    booking = f"/api/table-bookings/{made['booking_reference']}"
    body = regular_body(phone="07911 100009")
    response: httpx.Response
    if where == "create.special_requirements":
        response = await client.post(
            "/api/table-bookings", json={**body, "special_requirements": NUL}, headers=key
        )
    elif where == "create.customer.first_name":
        body["customer"]["first_name"] = NUL
        response = await client.post("/api/table-bookings", json=body, headers=key)
    elif where == "create.allergies":
        response = await client.post(
            "/api/table-bookings", json={**body, "allergies": [NUL]}, headers=key
        )
    elif where == "change.special_requirements":
        response = await client.patch(booking, json={"special_requirements": NUL}, headers=key)
    elif where == "cancel.reason":
        response = await client.post(f"{booking}/cancel", json={"reason": NUL}, headers=key)
    elif where == "list.search":
        response = await client.get("/api/table-bookings", params={"search": NUL}, headers=key)
    else:
        response = await client.get(
            "/api/table-bookings/payment/return",
            params={"token": NUL},
            headers={"Accept": "application/json"},
        )
    assert response.status_code < 500, response.text
    if response.status_code == 400:
        assert response.json()["error"]["code"] == "VALIDATION_ERROR"
