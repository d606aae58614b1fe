"""The Graph mailer against respx: the token requests MSAL makes, the sendMail request we make."""

from __future__ import annotations

import base64
import email
import email.policy
import logging
from collections.abc import AsyncIterator, Iterator
from email.message import EmailMessage
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from app.integrations.graph import (
    Attachment,
    Email,
    GraphMailer,
    GraphRequestError,
    GraphRetryableError,
    build_mime,
    mask_address,
)
from app.integrations.graph import mailer as mailer_module

TENANT = "0b5c7e8a-1111-4222-8333-944445555666"
CLIENT_ID = "6d1f2a3b-aaaa-4bbb-8ccc-ddddeeeeffff"
CLIENT_SECRET = "s3cr3t~client.secret-VALUE-0123456789"
ACCESS_TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.access-token-for-graph.signature"
SENDER = "bookings@the-anchor.pub"

OPENID_URL = f"https://login.microsoftonline.com/{TENANT}/v2.0/.well-known/openid-configuration"
TOKEN_URL = f"https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/token"
SEND_URL = f"https://graph.microsoft.com/v1.0/users/{SENDER}/sendMail"
OPENID_CONFIGURATION = {
    "issuer": f"https://login.microsoftonline.com/{TENANT}/v2.0",
    "authorization_endpoint": f"https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/authorize",
    "token_endpoint": TOKEN_URL,
}

ICS = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:PUBLISH\r\nEND:VCALENDAR\r\n"
ICS_TYPE = "text/calendar; method=PUBLISH; charset=utf-8"
CONFIRMATION = Email(
    to=("ann.lee@example.com",),
    subject="Your table at The Anchor \N{EN DASH} Sunday 13 June",
    text="Hi Ann, your table for 4 is booked. Deposit £20 paid.",
    html="<p>Hi Ann, your table for <b>4</b> is booked. Deposit £20 paid.</p>",
    attachments=(Attachment(filename="booking.ics", content_type=ICS_TYPE, content=ICS),),
    reply_to="manager@the-anchor.pub",
)


class Routes:
    def __init__(self, router: respx.MockRouter) -> None:
        self.openid = router.get(OPENID_URL)
        self.openid.respond(200, json=OPENID_CONFIGURATION)
        self.token = router.post(TOKEN_URL)
        self.token.respond(
            200, json={"token_type": "Bearer", "expires_in": 3599, "access_token": ACCESS_TOKEN}
        )
        self.send = router.post(SEND_URL)
        self.send.respond(202)


@pytest.fixture
def routes(no_outbound_http: respx.MockRouter) -> Routes:
    return Routes(no_outbound_http)


@pytest.fixture
def token_http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


@pytest.fixture
async def mailer(token_http: httpx.Client) -> AsyncIterator[GraphMailer]:
    async with httpx.AsyncClient(timeout=10) as http:
        yield GraphMailer(
            tenant_id=TENANT,
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            sender=SENDER,
            http=http,
            token_http=token_http,
        )


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Delays the mailer asked to sleep for; it never actually sleeps."""
    recorded: list[float] = []

    async def fake_sleep(delay: float) -> None:
        recorded.append(delay)

    monkeypatch.setattr(mailer_module, "sleep", fake_sleep)
    return recorded


def sent_message(request: httpx.Request) -> EmailMessage:
    message = email.message_from_bytes(
        base64.b64decode(request.content, validate=True), policy=email.policy.default
    )
    assert isinstance(message, EmailMessage)
    return message


def graph_error(status: int, code: str, message: str, **headers: str) -> httpx.Response:
    return httpx.Response(
        status, json={"error": {"code": code, "message": message}}, headers=headers
    )


class TestSend:
    async def test_token_request_is_client_credentials_for_graph(
        self, mailer: GraphMailer, routes: Routes
    ) -> None:
        await mailer.send(CONFIRMATION)

        assert routes.openid.call_count == 1
        assert routes.token.call_count == 1
        request = routes.token.calls.last.request
        assert request.url == TOKEN_URL
        assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
        form = parse_qs(request.content.decode())
        assert form["client_id"] == [CLIENT_ID]
        assert form["client_secret"] == [CLIENT_SECRET]
        assert form["grant_type"] == ["client_credentials"]
        assert form["scope"] == ["https://graph.microsoft.com/.default"]

    async def test_sendmail_request_carries_the_mime_message(
        self, mailer: GraphMailer, routes: Routes
    ) -> None:
        await mailer.send(CONFIRMATION)

        assert routes.send.call_count == 1
        request = routes.send.calls.last.request
        assert request.method == "POST"
        assert request.url == SEND_URL
        assert request.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
        assert request.headers["Content-Type"] == "text/plain"
        message = sent_message(request)
        assert message["From"] == SENDER
        assert message["To"] == "ann.lee@example.com"
        assert message["Reply-To"] == "manager@the-anchor.pub"
        assert message["Subject"] == CONFIRMATION.subject
        assert message.get_content_type() == "multipart/mixed"

        text = message.get_body(preferencelist=("plain",))
        html = message.get_body(preferencelist=("html",))
        assert text is not None
        assert html is not None
        assert text.get_content().rstrip("\r\n") == CONFIRMATION.text
        assert html.get_content().rstrip("\r\n") == CONFIRMATION.html

        attachments = list(message.iter_attachments())
        assert len(attachments) == 1
        ics = attachments[0]
        assert ics.get_filename() == "booking.ics"
        assert ics.get_content_type() == "text/calendar"
        assert ics.get_param("method") == "PUBLISH"
        assert ics.get_param("charset") == "utf-8"
        assert ics.get_payload(decode=True) == ICS

    async def test_token_is_fetched_once_for_two_sends(
        self, mailer: GraphMailer, routes: Routes
    ) -> None:
        await mailer.send(CONFIRMATION)
        await mailer.send(CONFIRMATION)

        assert routes.openid.call_count == 1
        assert routes.token.call_count == 1
        assert routes.send.call_count == 2

    async def test_bad_request_raises_request_error_with_graphs_message(
        self, mailer: GraphMailer, routes: Routes, sleeps: list[float]
    ) -> None:
        routes.send.mock(
            return_value=graph_error(
                400, "ErrorInvalidRecipients", "At least one recipient is not valid."
            )
        )

        with pytest.raises(GraphRequestError) as caught:
            await mailer.send(CONFIRMATION)

        assert caught.value.status == 400
        assert caught.value.code == "ErrorInvalidRecipients"
        assert caught.value.message == "At least one recipient is not valid."
        assert routes.send.call_count == 1
        assert sleeps == []

    async def test_throttled_with_short_retry_after_waits_once_then_sends(
        self, mailer: GraphMailer, routes: Routes, sleeps: list[float]
    ) -> None:
        routes.send.side_effect = [
            graph_error(429, "ApplicationThrottled", "Too many requests.", **{"Retry-After": "1"}),
            httpx.Response(202),
        ]

        await mailer.send(CONFIRMATION)

        assert sleeps == [1.0]
        assert routes.send.call_count == 2
        assert routes.token.call_count == 1

    async def test_throttled_twice_gives_up_after_one_wait(
        self, mailer: GraphMailer, routes: Routes, sleeps: list[float]
    ) -> None:
        routes.send.mock(
            return_value=graph_error(503, "ServiceUnavailable", "Busy.", **{"Retry-After": "2"})
        )

        with pytest.raises(GraphRetryableError) as caught:
            await mailer.send(CONFIRMATION)

        assert sleeps == [2.0]
        assert routes.send.call_count == 2
        assert caught.value.retry_after == 2.0

    async def test_throttled_with_long_retry_after_raises_without_waiting(
        self, mailer: GraphMailer, routes: Routes, sleeps: list[float]
    ) -> None:
        routes.send.mock(
            return_value=graph_error(
                429, "ApplicationThrottled", "Too many requests.", **{"Retry-After": "120"}
            )
        )

        with pytest.raises(GraphRetryableError) as caught:
            await mailer.send(CONFIRMATION)

        assert caught.value.retry_after == 120
        assert caught.value.status == 429
        assert sleeps == []
        assert routes.send.call_count == 1

    async def test_server_error_is_retryable(
        self, mailer: GraphMailer, routes: Routes, sleeps: list[float]
    ) -> None:
        routes.send.mock(return_value=httpx.Response(500, text="<html>oops</html>"))

        with pytest.raises(GraphRetryableError) as caught:
            await mailer.send(CONFIRMATION)

        assert caught.value.status == 500
        assert caught.value.retry_after is None
        assert routes.send.call_count == 1
        assert sleeps == []

    @pytest.mark.parametrize(
        "failure",
        [
            pytest.param(httpx.ReadTimeout("timed out"), id="timeout"),
            pytest.param(httpx.ConnectError("connection refused"), id="unreachable"),
        ],
    )
    async def test_timeout_and_transport_errors_are_retryable(
        self, mailer: GraphMailer, routes: Routes, failure: Exception
    ) -> None:
        routes.send.mock(side_effect=failure)

        with pytest.raises(GraphRetryableError) as caught:
            await mailer.send(CONFIRMATION)

        assert caught.value.status is None
        assert isinstance(caught.value.__cause__, type(failure))


class TestToken:
    async def test_invalid_client_is_a_request_error_and_nothing_is_sent(
        self, mailer: GraphMailer, routes: Routes
    ) -> None:
        routes.token.mock(
            return_value=httpx.Response(
                401,
                json={
                    "error": "invalid_client",
                    "error_description": "AADSTS7000215: Invalid client secret provided.",
                    "error_codes": [7000215],
                },
            )
        )

        with pytest.raises(GraphRequestError) as caught:
            await mailer.send(CONFIRMATION)

        assert caught.value.code == "invalid_client"
        assert "AADSTS7000215" in caught.value.message
        assert routes.send.call_count == 0

    @pytest.mark.parametrize(
        "response",
        [
            pytest.param(httpx.Response(503, text="Service Unavailable"), id="http-503"),
            pytest.param(
                httpx.Response(400, json={"error": "temporarily_unavailable"}),
                id="temporarily-unavailable",
            ),
            pytest.param(httpx.Response(200, text="<html>gateway</html>"), id="not-json"),
        ],
    )
    async def test_token_endpoint_down_is_retryable(
        self, mailer: GraphMailer, routes: Routes, response: httpx.Response
    ) -> None:
        routes.token.mock(return_value=response)

        with pytest.raises(GraphRetryableError):
            await mailer.send(CONFIRMATION)

        assert routes.send.call_count == 0

    async def test_token_endpoint_timeout_is_retryable(
        self, mailer: GraphMailer, routes: Routes
    ) -> None:
        routes.token.mock(side_effect=httpx.ConnectTimeout("timed out"))

        with pytest.raises(GraphRetryableError):
            await mailer.send(CONFIRMATION)

    async def test_unknown_tenant_is_a_request_error(
        self, mailer: GraphMailer, routes: Routes
    ) -> None:
        routes.openid.mock(return_value=httpx.Response(400, json={"error": "invalid_tenant"}))

        with pytest.raises(GraphRequestError):
            await mailer.send(CONFIRMATION)

        assert routes.token.call_count == 0

    async def test_openid_configuration_down_is_retried_on_the_next_send(
        self, mailer: GraphMailer, routes: Routes
    ) -> None:
        routes.openid.side_effect = [
            httpx.Response(503, text="Service Unavailable"),
            httpx.Response(200, json=OPENID_CONFIGURATION),
        ]

        with pytest.raises(GraphRetryableError):
            await mailer.send(CONFIRMATION)
        await mailer.send(CONFIRMATION)

        assert routes.openid.call_count == 2
        assert routes.send.call_count == 1

    async def test_constructing_the_mailer_makes_no_request(
        self, token_http: httpx.Client, no_outbound_http: respx.MockRouter
    ) -> None:
        async with httpx.AsyncClient() as http:
            GraphMailer(
                tenant_id=TENANT,
                client_id=CLIENT_ID,
                client_secret=CLIENT_SECRET,
                sender=SENDER,
                http=http,
                token_http=token_http,
            )

        assert no_outbound_http.calls.call_count == 0

    async def test_default_token_client_is_closed_by_the_mailer(self) -> None:
        async with httpx.AsyncClient() as http:
            mailer = GraphMailer(
                tenant_id=TENANT,
                client_id=CLIENT_ID,
                client_secret=CLIENT_SECRET,
                sender=SENDER,
                http=http,
            )
            mailer.close()

        assert mailer._token_http.is_closed


class TestLogging:
    async def test_logs_masked_recipients_and_never_secrets(
        self,
        mailer: GraphMailer,
        routes: Routes,
        sleeps: list[float],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        caplog.set_level(logging.DEBUG)  # every logger, msal and httpx included
        await mailer.send(CONFIRMATION)
        routes.send.mock(return_value=graph_error(403, "ErrorAccessDenied", "Access is denied."))
        with pytest.raises(GraphRequestError):
            await mailer.send(CONFIRMATION)

        events = {r.getMessage(): r for r in caplog.records if r.name == "app.graph"}
        assert vars(events["graph.mail.sent"])["to"] == "a***@example.com"
        failed = events["graph.mail.failed"]
        assert vars(failed)["to"] == "a***@example.com"
        assert vars(failed)["status"] == 403
        assert vars(failed)["retryable"] is False
        everything = caplog.text + "".join(repr(vars(r)) for r in caplog.records)
        assert CLIENT_SECRET not in everything
        assert ACCESS_TOKEN not in everything
        assert "ann.lee@example.com" not in "".join(
            repr(vars(r)) for r in caplog.records if r.name == "app.graph"
        )

    @pytest.mark.parametrize(
        ("address", "masked"),
        [
            ("ann.lee@example.com", "a***@example.com"),
            ("x@the-anchor.pub", "x***@the-anchor.pub"),
            ("not-an-address", "***"),
            ("@example.com", "***"),
        ],
    )
    def test_mask_address(self, address: str, masked: str) -> None:
        assert mask_address(address) == masked


class TestBuildMime:
    def test_text_only_is_a_single_plain_part(self) -> None:
        raw = build_mime(
            Email(to=("a@example.com", "b@example.com"), subject="Hi", text="Hello"), sender=SENDER
        )
        message = email.message_from_bytes(raw, policy=email.policy.default)

        assert isinstance(message, EmailMessage)
        assert message.get_content_type() == "text/plain"
        assert message["To"] == "a@example.com, b@example.com"
        assert message["Reply-To"] is None
        assert message.get_content().rstrip("\r\n") == "Hello"
        assert b"\r\n" in raw

    def test_text_and_html_without_attachments_are_alternatives(self) -> None:
        raw = build_mime(
            Email(to=("a@example.com",), subject="Hi", text="Hello", html="<p>Hello</p>"),
            sender=SENDER,
        )
        message = email.message_from_bytes(raw, policy=email.policy.default)

        assert message.get_content_type() == "multipart/alternative"
        assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]

    def test_body_is_seven_bit_clean(self) -> None:
        raw = build_mime(CONFIRMATION, sender=SENDER)

        assert raw.isascii()

    @pytest.mark.parametrize(
        ("bad", "match"),
        [
            pytest.param(Email(to=(), subject="Hi", text="x"), "recipient", id="no-recipient"),
            pytest.param(
                Email(to=("a@example.com",), subject="Hi\r\nBcc: x@evil.example", text="x"),
                "linefeed",
                id="header-injection",
            ),
        ],
    )
    def test_refuses_bad_messages(self, bad: Email, match: str) -> None:
        with pytest.raises(ValueError, match=match):
            build_mime(bad, sender=SENDER)
