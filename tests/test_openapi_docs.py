"""The OpenAPI document is complete for integrators, and /docs and /redoc work offline.

Walks ``/openapi.json`` as the app serves it. Every operation has a summary, a description and
``security``; every parameter and request body an example; every response an example, the
success response included, and each error response one example per code it lists, a code of
``app/errors.py`` with that code's HTTP status. Every example must match its own schema, and
real responses of the service must match their documented schema strictly (no field the schema
does not name), so the response models describe what the code returns.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import jsonschema_rs
import pytest

from app import errors, openapi_docs
from tests.conftest import FakeClock, create_booking, regular_body, sunday_body

CRON = {"Authorization": "Bearer test-cron-secret-0123456789"}
#: Operations whose handler answers refusals as bare ``{"error": "..."}`` (pub-api-2026.md 6, 7);
#: their auth failures are still in the envelope.
BARE_ERRORS = {
    f"POST /management/api/external/table-bookings/{{booking_id}}/paypal/{step}"
    for step in ("create-order", "capture-order")
}
METHODS = {"get", "post", "put", "patch", "delete"}
#: Every error code the service can produce, with its HTTP status.
ERROR_STATUS: dict[str, int] = {
    cls.code: cls.status_code
    for cls in vars(errors).values()
    if isinstance(cls, type) and issubclass(cls, errors.AppError)
}


async def _document(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield f"{method.upper()} {path}", operation


def _strict(node: Any) -> Any:
    """The schema with every object closed: a field the schema does not name fails."""
    if isinstance(node, dict):
        closed = {k: _strict(v) for k, v in node.items()}
        if "properties" in closed and closed.get("additionalProperties", True) is True:
            closed["additionalProperties"] = False
        return closed
    if isinstance(node, list):
        return [_strict(v) for v in node]
    return node


def _validator(document: dict[str, Any], schema: dict[str, Any], *, strict: bool) -> Any:
    components = document.get("components", {})
    root = {**schema, "components": _strict(components) if strict else components}
    return jsonschema_rs.validator_for(_strict(root) if strict else root)


def _problems(validator: Any, instance: Any) -> list[str]:
    return [f"{e.instance_path}: {e.message}" for e in validator.iter_errors(instance)]


class TestEveryOperation:
    async def test_each_has_an_entry_in_openapi_docs(self, client: httpx.AsyncClient) -> None:
        document = await _document(client)
        labels = {label for label, _ in _operations(document)}
        documented = {f"{m} {p}" for m, p in openapi_docs.OPERATIONS}
        assert labels - documented == set(), "operations without documentation"
        assert documented - labels == set(), "documentation for operations that do not exist"

    async def test_summary_description_and_security(self, client: httpx.AsyncClient) -> None:
        document = await _document(client)
        schemes = document["components"]["securitySchemes"]
        missing = []
        for label, operation in _operations(document):
            if not operation.get("summary"):
                missing.append(f"{label}: summary")
            if len(operation.get("description", "")) < 40:
                missing.append(f"{label}: description")
            if "security" not in operation:
                missing.append(f"{label}: security")
                continue
            for requirement in operation["security"]:
                missing += [f"{label}: scheme {s}" for s in requirement if s not in schemes]
            description = operation["description"].lower()
            # Open operations say so in their description.
            if not operation["security"] and not (
                "no credential" in description or "auth:** none" in description
            ):
                missing.append(f"{label}: open, but the description does not say so")
        assert missing == []

    async def test_security_matches_who_may_call(self, client: httpx.AsyncClient) -> None:
        document = await _document(client)
        security = {
            label: {s for r in op["security"] for s in r} for label, op in _operations(document)
        }
        assert security["GET /health"] == set()
        assert security["GET /api/table-bookings/payment/return"] == set()
        assert security["GET /api/table-bookings/availability"] == {"ApiKey", "Bearer"}
        assert security["GET /api/table-bookings/{reference}"] == {
            "BookingToken",
            "ApiKey",
            "Bearer",
            "StaffBearer",
        }
        assert security["POST /api/table-bookings/{reference}/status"] == {
            "ApiKey",
            "Bearer",
            "StaffBearer",
        }
        assert security["GET /metrics"] == {"CronSecret"}
        assert security["POST /api/webhooks/twilio/inbound"] == {"TwilioSignature"}
        assert security["POST /api/webhooks/paypal/table-bookings"] == {"PayPalSignature"}
        for label, schemes in security.items():
            if label.startswith("GET /api/cron/"):
                assert schemes == {"CronSecret"}, label

    async def test_parameters_and_bodies_have_examples(self, client: httpx.AsyncClient) -> None:
        document = await _document(client)
        missing = []
        for label, operation in _operations(document):
            for parameter in operation.get("parameters", []):
                examples = parameter.get("examples") or {}
                if not examples:
                    missing.append(f"{label}: parameter {parameter['name']}")
                validator = _validator(document, parameter["schema"], strict=False)
                for name, item in examples.items():
                    missing += [
                        f"{label}: parameter {parameter['name']} example {name}: {p}"
                        for p in _problems(validator, item["value"])
                    ]
            body = operation.get("requestBody")
            if body is None:
                continue
            for media_type, content in body["content"].items():
                examples = content.get("examples") or {}
                if not examples:
                    missing.append(f"{label}: {media_type} body")
                if media_type != "application/json":
                    continue
                validator = _validator(document, content["schema"], strict=False)
                for name, item in examples.items():
                    missing += [
                        f"{label}: body example {name}: {p}"
                        for p in _problems(validator, item["value"])
                    ]
        assert missing == []

    async def test_responses_have_examples_matching_their_schema(
        self, client: httpx.AsyncClient
    ) -> None:
        document = await _document(client)
        missing = []
        for label, operation in _operations(document):
            responses = operation["responses"]
            successes = [s for s in responses if s.startswith("2")]
            if not successes:
                missing.append(f"{label}: no success response")
            for status, response in responses.items():
                where = f"{label} {status}"
                content = response.get("content", {})
                if not content and not status.startswith("3"):
                    missing.append(f"{where}: no content")
                for media_type, body in content.items():
                    examples = body.get("examples") or {}
                    if not examples:
                        missing.append(f"{where} {media_type}: no example")
                    validator = _validator(document, body.get("schema", {}), strict=True)
                    for name, item in examples.items():
                        missing += [
                            f"{where} example {name}: {p}"
                            for p in _problems(validator, item["value"])
                        ]
        assert missing == []

    async def test_error_examples_use_real_codes_with_their_status(
        self, client: httpx.AsyncClient
    ) -> None:
        document = await _document(client)
        wrong = []
        for label, operation in _operations(document):
            for status, response in operation["responses"].items():
                if int(status) < 400:
                    continue
                where = f"{label} {status}"
                examples = response["content"]["application/json"]["examples"]
                for name, item in examples.items():
                    error = item["value"].get("error", {})
                    if isinstance(error, str):
                        # The 2026 contract's PayPal routes refuse in bare JSON, as the pub's.
                        if label not in BARE_ERRORS or int(status) in (401, 403, 429, 503):
                            wrong.append(f"{where} {name}: a bare error outside the contract")
                        elif not error:
                            wrong.append(f"{where} {name}: no message")
                        continue
                    code = error.get("code")
                    if code not in ERROR_STATUS:
                        wrong.append(f"{where} {name}: unknown code {code}")
                    elif ERROR_STATUS[code] != int(status):
                        wrong.append(f"{where} {name}: {code} is HTTP {ERROR_STATUS[code]}")
                    elif f"`{code}`" not in response["description"]:
                        wrong.append(f"{where}: the description does not list {code}")
                    if not error.get("message"):
                        wrong.append(f"{where} {name}: no message")
        assert wrong == []

    async def test_undocumented_statuses_are_not_listed(self, client: httpx.AsyncClient) -> None:
        # PayPal's browser redirect takes no credential: it cannot be 401, 403 or 429.
        document = await _document(client)
        statuses = set(document["paths"]["/api/table-bookings/payment/return"]["get"]["responses"])
        assert statuses == {"200", "303", "400", "404", "409", "503"}
        assert (
            "422" not in document["paths"]["/api/table-bookings/availability"]["get"]["responses"]
        )


class TestStrictValidation:
    async def test_refuses_a_field_the_schema_does_not_name(
        self, client: httpx.AsyncClient
    ) -> None:
        document = await _document(client)
        schema = {"$ref": "#/components/schemas/Envelope_CancelledBooking_"}
        body = openapi_docs.OPERATIONS[("POST", "/api/table-bookings/{reference}/cancel")]
        value = body.responses[200].examples["cancelled"]["value"]
        assert _problems(_validator(document, schema, strict=True), value) == []
        extra = {**value, "data": {**value["data"], "undocumented": 1}}
        assert _problems(_validator(document, schema, strict=True), extra) != []
        assert _problems(_validator(document, schema, strict=False), extra) == []


class TestRealResponsesMatchTheDocument:
    """Real answers of the service, checked strictly against the documented schema."""

    async def test_bookings_end_to_end(
        self,
        client: httpx.AsyncClient,
        key: dict[str, str],
        menu: dict[str, str],
        clock: FakeClock,
    ) -> None:
        document = await _document(client)
        regular = await create_booking(client, key, regular_body(special_requirements="Quiet"))
        sunday = await create_booking(client, key, sunday_body(menu, phone="07911 100002"))
        ref, sun = regular["booking_reference"], sunday["booking_reference"]
        guest = {"X-Booking-Token": regular["manage_token"]}
        # A datetime in the list moves the app's clock there for the calls after it.
        calls: list[tuple[str, str, str, dict[str, str], Any] | datetime] = [
            ("GET", "/api/table-bookings/availability", "?date=2026-11-27&party_size=4", key, None),
            ("GET", "/api/table-bookings/availability", "?date=2026-11-30", key, None),
            ("GET", "/api/table-bookings/menu/sunday-lunch", "?date=2026-11-29", key, None),
            ("GET", "/api/table-bookings/menu/sunday-lunch", "?date=2026-11-28", key, None),
            ("POST", "/api/table-bookings", "", key, regular_body("2026-11-30")),
            ("POST", "/api/table-bookings", "", key, regular_body(phone="07911 100003")),
            ("POST", "/api/table-bookings", "", key, sunday_body(menu, phone="07911 100004")),
            ("GET", "/api/table-bookings/{reference}", "", guest, None),
            ("GET", "/api/table-bookings/{reference}", "", key, None),
            ("GET", "/api/table-bookings/{reference}", "#sunday", key, None),
            ("GET", "/api/table-bookings", "?date_from=2026-11-27", key, None),
            ("GET", "/api/table-bookings", "?status=booked", key, None),
            ("PATCH", "/api/table-bookings/{reference}", "", guest, {"time": "19:30"}),
            ("POST", "/api/table-bookings/{reference}/status", "", key, {"status": "no_show"}),
            ("POST", "/api/table-bookings/{reference}/payment", "", key, None),
            ("POST", "/api/table-bookings/{reference}/payment", "#sunday", key, None),
            ("POST", "/api/table-bookings/{reference}/cancel", "#sunday", key, {"reason": "x"}),
            ("POST", "/api/table-bookings/{reference}/cancel", "#sunday", key, None),
            # After the regular booking's start (Friday 19:30): it can be marked completed.
            datetime(2026, 11, 27, 21, 45, tzinfo=UTC),
            ("POST", "/api/table-bookings/{reference}/status", "", key, {"status": "completed"}),
            ("GET", "/api/table-bookings/{reference}", "", {}, None),
            ("GET", "/api/table-bookings/{reference}", "#unknown", key, None),
            ("GET", "/api/table-bookings/payment/return", "?token=5O190127TN364715T", {}, None),
            ("GET", "/api/cron/process-jobs", "", CRON, None),
            ("GET", "/api/cron/table-booking-payment-expiry", "", CRON, None),
            ("GET", "/api/cron/table-booking-reminders", "", CRON, None),
            ("GET", "/api/cron/table-booking-reviews", "", CRON, None),
            ("GET", "/api/cron/table-booking-monitoring", "", CRON, None),
            ("GET", "/api/cron/table-booking-monitoring", "", {}, None),
            ("GET", "/health", "", {}, None),
        ]
        problems: list[str] = []
        seen: set[int] = set()
        answered: set[tuple[str, str, int]] = set()
        for call in calls:
            if isinstance(call, datetime):
                clock.set(call)
                continue
            method, template, suffix, headers, body = call
            reference = {"#sunday": sun, "#unknown": "TB-00000000"}.get(suffix, ref)
            url = template.replace("{reference}", reference) + (
                suffix if suffix.startswith("?") else ""
            )
            accept = {"Accept": "application/json"}
            response = await client.request(method, url, headers={**headers, **accept}, json=body)
            seen.add(response.status_code)
            answered.add((method, template, response.status_code))
            path = template.split("?")[0]
            documented = document["paths"][path][method.lower()]["responses"]
            where = f"{method} {url} -> {response.status_code}"
            if str(response.status_code) not in documented:
                problems.append(f"{where}: status not documented")
                continue
            schema = documented[str(response.status_code)]["content"]["application/json"]
            validator = _validator(document, schema["schema"], strict=True)
            problems += [f"{where}: {p}" for p in _problems(validator, response.json())]
        assert problems == []
        assert {200, 201, 400, 401, 404, 409, 422, 503} <= seen
        # Both answers of the status change were checked: too early, then a success.
        status = "/api/table-bookings/{reference}/status"
        assert {("POST", status, 422), ("POST", status, 200)} <= answered

    async def test_metrics_and_twilio_inbound_content_types(
        self, client: httpx.AsyncClient
    ) -> None:
        document = await _document(client)
        metrics = await client.get("/metrics", headers=CRON)
        assert metrics.status_code == 200
        documented = document["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
        assert metrics.headers["content-type"].split(";")[0] in documented
        refused = await client.post("/api/webhooks/twilio/inbound", content=b"Body=STOP")
        assert refused.status_code == 401
        assert "401" in document["paths"]["/api/webhooks/twilio/inbound"]["post"]["responses"]


class TestDocPagesOffline:
    @pytest.mark.parametrize("page", ["/docs", "/redoc"])
    async def test_page_loads_only_the_services_own_assets(
        self, client: httpx.AsyncClient, page: str
    ) -> None:
        response = await client.get(page)
        assert response.status_code == 200
        html = response.text
        # No absolute URL at all: no CDN, no font host, no validator badge.
        assert re.findall(r"https?://[^\s\"'<>]+", html) == []
        references = re.findall(r"(?:src|href|spec-url)=[\"']([^\"']+)[\"']", html)
        references += re.findall(r"url:\s*[\"']([^\"']+)[\"']", html)
        assert "/openapi.json" in references
        assert any(r.endswith(".js") for r in references)
        for reference in references:
            assert reference.startswith("/"), reference
            asset = await client.get(reference)
            assert asset.status_code == 200, reference
            if reference.endswith((".js", ".css")):
                for host in ("fonts.googleapis.com", "cdn.jsdelivr.net", "unpkg.com", "cdnjs"):
                    assert host not in asset.text, f"{reference} loads from {host}"
                assert "url(http" not in asset.text, reference
