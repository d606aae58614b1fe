"""The Twilio client's error tree: a request Twilio refused, or a failure worth retrying later.

``TwilioError``
    ``TwilioRequestError``: Twilio refused the request itself (4xx other than 429): the recipient
    texted STOP (:data:`UNSUBSCRIBED`), the number is not a mobile that can take SMS
    (:data:`INVALID_NUMBER_CODES`), bad credentials (20003). Sending it again will not help.

    ``TwilioRetryableError``: throttling (429), Twilio down (5xx), timeouts, transport errors and
    answers we could not read. The same message may go through later.

``status`` is the HTTP status (None when no response came back), ``code`` Twilio's numeric error
code when its JSON error body carried one (https://www.twilio.com/docs/api/errors). Messages
never carry the auth token or the text of the SMS.
"""

from __future__ import annotations

#: Twilio 21610: the recipient replied STOP to this sender; blocked until they text START.
UNSUBSCRIBED = 21610

#: 21211 invalid "To" number, 21614 "To" is not a mobile number, 21217 number does not exist.
INVALID_NUMBER_CODES = frozenset({21211, 21614, 21217})


class TwilioError(Exception):
    """Base of every failure of the Twilio client."""

    def __init__(self, message: str, *, status: int | None = None, code: int | None = None) -> None:
        self.message = message
        self.status = status
        self.code = code
        super().__init__(message)


class TwilioRequestError(TwilioError):
    """Twilio refused the request; do not retry it unchanged."""


class TwilioRetryableError(TwilioError):
    """A transient failure; the same request may succeed later."""
