"""The PayPal client's error tree: a request PayPal refused, a failure worth retrying, a forgery.

``PayPalError``
    ``PayPalRequestError``: PayPal refused the request itself (4xx other than 429): the buyer's
    funding source was declined (``INSTRUMENT_DECLINED``, restart approval), the order was never
    approved (``ORDER_NOT_APPROVED``), the refund exceeds the capture, bad credentials
    (``invalid_client``). Sending it again unchanged will not help.

    ``PayPalRetryableError``: throttling (429), PayPal down (5xx), timeouts, transport errors and
    successful answers we could not read. Every POST carries a ``PayPal-Request-Id``, so sending
    the same request again with the same id cannot charge or refund twice.

``status`` is the HTTP status (None when no response came back); ``name`` the first
``details[].issue`` of PayPal's error body, else its ``name`` (or the OAuth ``error``);
``debug_id`` PayPal's correlation id for its support. Messages never carry the client secret, an
access token, or payer details.

``PayPalSignatureError`` (not a ``PayPalError``: no call to PayPal failed) is a webhook whose
signature does not verify; ``reason`` says which check refused it.
"""

from __future__ import annotations

#: 422 issue on capture: the order was captured before (our retry, or the webhook won the race).
ORDER_ALREADY_CAPTURED = "ORDER_ALREADY_CAPTURED"


class PayPalError(Exception):
    """Base of every failure of a call to PayPal."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        name: str | None = None,
        debug_id: str | None = None,
    ) -> None:
        self.message = message
        self.status = status
        self.name = name
        self.debug_id = debug_id
        super().__init__(message)


class PayPalRequestError(PayPalError):
    """PayPal refused the request; do not retry it unchanged."""


class PayPalRetryableError(PayPalError):
    """A transient failure; the same request (same ``PayPal-Request-Id``) may succeed later."""


class PayPalSignatureError(Exception):
    """A webhook that does not verify: answer 401 and do not process it."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"PayPal webhook refused: {reason}")
