"""The Twilio client against respx: the Messages.json request we send, and every answer mapped."""

from __future__ import annotations

import base64
import logging
from collections.abc import AsyncIterator
from typing import Any, ClassVar
from urllib.parse import parse_qs

import httpx
import pytest
import respx
from twilio.request_validator import RequestValidator

from app.integrations.twilio import (
    INVALID_NUMBER_CODES,
    UNSUBSCRIBED,
    SentMessage,
    TwilioClient,
    TwilioError,
    TwilioRequestError,
    TwilioRetryableError,
    mask_phone,
    signature_is_valid,
)

ACCOUNT_SID = "AC0123456789abcdef0123456789abcdef"
AUTH_TOKEN = "f00dfacef00dfacef00dfacef00dface"
SERVICE_SID = "MG0123456789abcdef0123456789abcdef"
FROM_NUMBER = "+441632960001"
TO = "+447911123456"
BODY = (
    "Hi Ann, your table for 4 at The Anchor is booked for Fri 27 Nov, 19:00. Reply STOP to opt out."
)
CALLBACK = "https://bookings.the-anchor.pub/api/webhooks/twilio/status"
SEND_URL = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
BASIC_AUTH = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
MESSAGE_SID = "SM0123456789abcdef0123456789abcdef"


def created(**overrides: Any) -> dict[str, Any]:
    """Twilio's 201 body for a new message (the fields we read, plus a few we ignore)."""
    return {
        "account_sid": ACCOUNT_SID,
        "api_version": "2010-04-01",
        "body": BODY,
        "direction": "outbound-api",
        "error_code": None,
        "from": None,
        "messaging_service_sid": SERVICE_SID,
        "num_media": "0",
        "num_segments": "1",
        "price": None,
        "price_unit": "GBP",
        "sid": MESSAGE_SID,
        "status": "accepted",
        "to": TO,
        "uri": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{MESSAGE_SID}.json",
        **overrides,
    }


def twilio_error(code: int, message: str, status: int) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def form_of(route: respx.Route) -> dict[str, list[str]]:
    request = route.calls.last.request
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    return parse_qs(request.content.decode(), keep_blank_values=True, strict_parsing=True)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


@pytest.fixture
def twilio(http: httpx.AsyncClient) -> TwilioClient:
    return TwilioClient(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        http=http,
        messaging_service_sid=SERVICE_SID,
        from_number=FROM_NUMBER,
    )


@pytest.fixture
def send(no_outbound_http: respx.MockRouter) -> respx.Route:
    route = no_outbound_http.post(SEND_URL)
    route.respond(201, json=created())
    return route


class TestSendSms:
    async def test_posts_the_form_with_the_messaging_service_and_returns_the_message(
        self, twilio: TwilioClient, send: respx.Route
    ) -> None:
        sent = await twilio.send_sms(to=TO, body=BODY, status_callback=CALLBACK)

        assert sent == SentMessage(
            sid=MESSAGE_SID, status="accepted", to=TO, from_number=None, segments=1, price=None
        )
        assert send.call_count == 1
        request = send.calls.last.request
        assert request.method == "POST"
        assert str(request.url) == SEND_URL
        assert request.headers["Authorization"] == BASIC_AUTH
        # The service is preferred over the number when both are configured.
        assert form_of(send) == {
            "To": [TO],
            "Body": [BODY],
            "MessagingServiceSid": [SERVICE_SID],
            "StatusCallback": [CALLBACK],
        }

    async def test_sends_from_the_number_without_a_messaging_service(
        self, http: httpx.AsyncClient, send: respx.Route
    ) -> None:
        send.respond(
            201,
            json=created(
                messaging_service_sid=None,
                status="queued",
                **{"from": FROM_NUMBER, "num_segments": "2", "price": "-0.08000"},
            ),
        )
        client = TwilioClient(
            account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, http=http, from_number=FROM_NUMBER
        )

        sent = await client.send_sms(to=TO, body=BODY)

        assert sent == SentMessage(
            sid=MESSAGE_SID,
            status="queued",
            to=TO,
            from_number=FROM_NUMBER,
            segments=2,
            price="-0.08000",
        )
        assert form_of(send) == {"To": [TO], "Body": [BODY], "From": [FROM_NUMBER]}

    async def test_leaves_out_the_status_callback_when_none_is_given(
        self, twilio: TwilioClient, send: respx.Route
    ) -> None:
        await twilio.send_sms(to=TO, body=BODY)

        form = form_of(send)
        assert "StatusCallback" not in form
        assert "From" not in form
        assert form["MessagingServiceSid"] == [SERVICE_SID]

    async def test_encodes_unicode_and_reserved_characters_in_the_body(
        self, twilio: TwilioClient, send: respx.Route
    ) -> None:
        body = "Roast & trimmings = £18.50 \N{ROASTED SWEET POTATO} see you at 13:00?"

        await twilio.send_sms(to=TO, body=body)

        assert form_of(send)["Body"] == [body]

    async def test_uses_the_configured_base_url(
        self, http: httpx.AsyncClient, no_outbound_http: respx.MockRouter
    ) -> None:
        route = no_outbound_http.post(
            f"http://twilio.test/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
        )
        route.respond(201, json=created())
        client = TwilioClient(
            account_sid=ACCOUNT_SID,
            auth_token=AUTH_TOKEN,
            http=http,
            messaging_service_sid=SERVICE_SID,
            base_url="http://twilio.test/",
        )

        await client.send_sms(to=TO, body=BODY)

        assert route.call_count == 1

    async def test_falls_back_to_the_requested_number_and_no_segments(
        self, twilio: TwilioClient, send: respx.Route
    ) -> None:
        send.respond(201, json={"sid": MESSAGE_SID, "status": "queued"})

        sent = await twilio.send_sms(to=TO, body=BODY)

        assert sent == SentMessage(
            sid=MESSAGE_SID, status="queued", to=TO, from_number=None, segments=None, price=None
        )


class TestSendSmsErrors:
    @pytest.mark.parametrize(
        ("status", "code", "message"),
        [
            (400, UNSUBSCRIBED, "Attempt to send to unsubscribed recipient"),
            (400, 21211, f"The 'To' number {TO} is not a valid phone number."),
            (400, 21614, f"'To' number {TO} is not a valid mobile number"),
            (401, 20003, "Authenticate"),
            (404, 20404, "The requested resource was not found"),
        ],
    )
    async def test_a_refused_request_is_not_retryable(
        self, twilio: TwilioClient, send: respx.Route, status: int, code: int, message: str
    ) -> None:
        send.respond(status, json=twilio_error(code, message, status))

        with pytest.raises(TwilioRequestError) as caught:
            await twilio.send_sms(to=TO, body=BODY)

        assert not isinstance(caught.value, TwilioRetryableError)
        assert (caught.value.status, caught.value.code) == (status, code)
        assert caught.value.message == message
        assert send.call_count == 1

    def test_the_code_constants_match_twilio(self) -> None:
        assert UNSUBSCRIBED == 21610
        assert frozenset({21211, 21614, 21217}) == INVALID_NUMBER_CODES

    async def test_a_refusal_without_a_json_body_keeps_the_status(
        self, twilio: TwilioClient, send: respx.Route
    ) -> None:
        send.respond(400, text="<html>Bad Request</html>")

        with pytest.raises(TwilioRequestError) as caught:
            await twilio.send_sms(to=TO, body=BODY)

        assert (caught.value.status, caught.value.code) == (400, None)
        assert caught.value.message == "Twilio answered 400 Bad Request"

    async def test_throttling_is_retryable_and_keeps_the_code(
        self, twilio: TwilioClient, send: respx.Route
    ) -> None:
        send.respond(429, json=twilio_error(20429, "Too Many Requests", 429))

        with pytest.raises(TwilioRetryableError) as caught:
            await twilio.send_sms(to=TO, body=BODY)

        assert (caught.value.status, caught.value.code) == (429, 20429)

    @pytest.mark.parametrize("status", [500, 502, 503])
    async def test_a_server_error_is_retryable(
        self, twilio: TwilioClient, send: respx.Route, status: int
    ) -> None:
        send.respond(status, text="upstream unavailable")

        with pytest.raises(TwilioRetryableError) as caught:
            await twilio.send_sms(to=TO, body=BODY)

        assert (caught.value.status, caught.value.code) == (status, None)

    async def test_a_server_error_with_a_twilio_body_keeps_the_code(
        self, twilio: TwilioClient, send: respx.Route
    ) -> None:
        send.respond(500, json=twilio_error(20500, "Internal Server Error", 500))

        with pytest.raises(TwilioRetryableError) as caught:
            await twilio.send_sms(to=TO, body=BODY)

        assert (caught.value.status, caught.value.code) == (500, 20500)

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
        self, twilio: TwilioClient, send: respx.Route, exception: Exception
    ) -> None:
        send.side_effect = exception

        with pytest.raises(TwilioRetryableError) as caught:
            await twilio.send_sms(to=TO, body=BODY)

        assert (caught.value.status, caught.value.code) == (None, None)
        assert caught.value.__cause__ is exception

    @pytest.mark.parametrize(
        "response",
        [
            httpx.Response(201, text="<html>not json</html>"),
            httpx.Response(201, json=["not", "an", "object"]),
            httpx.Response(201, json={"status": "queued"}),
        ],
    )
    async def test_a_success_we_cannot_read_is_retryable(
        self, twilio: TwilioClient, send: respx.Route, response: httpx.Response
    ) -> None:
        send.return_value = response

        with pytest.raises(TwilioRetryableError) as caught:
            await twilio.send_sms(to=TO, body=BODY)

        assert caught.value.status == 201

    def test_every_error_is_a_twilio_error(self) -> None:
        assert issubclass(TwilioRequestError, TwilioError)
        assert issubclass(TwilioRetryableError, TwilioError)


class TestConstructor:
    def test_needs_a_sender(self, http: httpx.AsyncClient) -> None:
        with pytest.raises(ValueError, match="messaging_service_sid or a from_number"):
            TwilioClient(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, http=http)

    def test_empty_senders_do_not_count(self, http: httpx.AsyncClient) -> None:
        with pytest.raises(ValueError, match="messaging_service_sid or a from_number"):
            TwilioClient(
                account_sid=ACCOUNT_SID,
                auth_token=AUTH_TOKEN,
                http=http,
                messaging_service_sid="",
                from_number="",
            )

    @pytest.mark.parametrize(("sid", "token"), [("", AUTH_TOKEN), (ACCOUNT_SID, "")])
    def test_needs_credentials(self, http: httpx.AsyncClient, sid: str, token: str) -> None:
        with pytest.raises(ValueError, match="account SID and an auth token"):
            TwilioClient(account_sid=sid, auth_token=token, http=http, from_number=FROM_NUMBER)

    def test_repr_hides_the_token(self, twilio: TwilioClient) -> None:
        assert AUTH_TOKEN not in repr(twilio)


class TestLogging:
    @staticmethod
    def everything_logged(caplog: pytest.LogCaptureFixture) -> str:
        """Messages, arguments and ``extra`` fields of every record, as one string."""
        return "\n".join(f"{record.getMessage()} {record.__dict__!r}" for record in caplog.records)

    async def test_a_send_logs_the_sid_and_a_masked_number_only(
        self, twilio: TwilioClient, send: respx.Route, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.DEBUG)

        await twilio.send_sms(to=TO, body=BODY, status_callback=CALLBACK)

        [event] = [r for r in caplog.records if r.name == "app.twilio"]
        assert event.getMessage() == "twilio.sms.sent"
        assert event.__dict__["sid"] == MESSAGE_SID
        assert event.__dict__["to"] == "+44******456"
        logged = self.everything_logged(caplog)
        assert AUTH_TOKEN not in logged
        assert BODY not in logged
        assert TO not in logged

    @pytest.mark.parametrize(
        "answer",
        [
            httpx.Response(400, json=twilio_error(21211, f"The 'To' number {TO} is invalid", 400)),
            httpx.Response(503, text="unavailable"),
            httpx.ConnectError("connection refused"),
        ],
    )
    async def test_a_failure_logs_status_and_code_without_secrets(
        self,
        twilio: TwilioClient,
        send: respx.Route,
        caplog: pytest.LogCaptureFixture,
        answer: httpx.Response | Exception,
    ) -> None:
        caplog.set_level(logging.DEBUG)
        send.side_effect = [answer]

        with pytest.raises(TwilioError) as caught:
            await twilio.send_sms(to=TO, body=BODY)

        [event] = [r for r in caplog.records if r.name == "app.twilio"]
        assert event.getMessage() == "twilio.sms.failed"
        assert event.__dict__["status"] == caught.value.status
        assert event.__dict__["code"] == caught.value.code
        assert event.__dict__["to"] == "+44******456"
        logged = self.everything_logged(caplog)
        assert AUTH_TOKEN not in logged
        assert BODY not in logged
        assert TO not in logged
        assert AUTH_TOKEN not in str(caught.value)
        assert BODY not in str(caught.value)

    @pytest.mark.parametrize(
        ("number", "masked"),
        [("+447911123456", "+44******456"), (" +441632960001 ", "+44******001"), ("12345", "***")],
    )
    def test_mask_phone(self, number: str, masked: str) -> None:
        assert mask_phone(number) == masked


class TestSignatureIsValid:
    URL = "https://bookings.the-anchor.pub/api/webhooks/twilio/status"
    PARAMS: ClassVar[dict[str, str]] = {
        "AccountSid": ACCOUNT_SID,
        "MessageSid": MESSAGE_SID,
        "MessageStatus": "delivered",
        "SmsSid": MESSAGE_SID,
        "SmsStatus": "delivered",
        "To": TO,
        "From": FROM_NUMBER,
        "ApiVersion": "2010-04-01",
    }

    def sign(self, url: str | None = None, params: dict[str, str] | None = None) -> str:
        signature: str = RequestValidator(AUTH_TOKEN).compute_signature(
            url or self.URL, params if params is not None else self.PARAMS
        )
        return signature

    def test_accepts_twilios_signature(self) -> None:
        assert signature_is_valid(
            auth_token=AUTH_TOKEN, url=self.URL, params=self.PARAMS, signature=self.sign()
        )

    def test_accepts_a_url_with_query_and_default_port(self) -> None:
        url = "https://bookings.the-anchor.pub:443/api/webhooks/twilio/inbound?source=sms"
        signature = self.sign(
            url="https://bookings.the-anchor.pub/api/webhooks/twilio/inbound?source=sms"
        )

        assert signature_is_valid(
            auth_token=AUTH_TOKEN, url=url, params=self.PARAMS, signature=signature
        )

    def test_refuses_a_tampered_param(self) -> None:
        tampered = {**self.PARAMS, "MessageStatus": "failed"}

        assert not signature_is_valid(
            auth_token=AUTH_TOKEN, url=self.URL, params=tampered, signature=self.sign()
        )

    def test_refuses_an_added_param(self) -> None:
        added = {**self.PARAMS, "ErrorCode": "30003"}

        assert not signature_is_valid(
            auth_token=AUTH_TOKEN, url=self.URL, params=added, signature=self.sign()
        )

    def test_refuses_a_different_url(self) -> None:
        assert not signature_is_valid(
            auth_token=AUTH_TOKEN,
            url="https://bookings.the-anchor.pub/api/webhooks/twilio/inbound",
            params=self.PARAMS,
            signature=self.sign(),
        )

    def test_refuses_another_accounts_token(self) -> None:
        assert not signature_is_valid(
            auth_token="0" * 32, url=self.URL, params=self.PARAMS, signature=self.sign()
        )

    @pytest.mark.parametrize("signature", [None, ""])
    def test_refuses_a_missing_signature(self, signature: str | None) -> None:
        assert not signature_is_valid(
            auth_token=AUTH_TOKEN, url=self.URL, params=self.PARAMS, signature=signature
        )

    def test_refuses_everything_with_an_empty_token(self) -> None:
        signature = RequestValidator("").compute_signature(self.URL, self.PARAMS)

        assert not signature_is_valid(
            auth_token="", url=self.URL, params=self.PARAMS, signature=signature
        )
