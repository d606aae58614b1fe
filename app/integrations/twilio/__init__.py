"""Twilio SMS: messages sent through the REST API, webhook signatures checked with the SDK."""

from .client import SentMessage, TwilioClient, mask_phone
from .errors import (
    INVALID_NUMBER_CODES,
    UNSUBSCRIBED,
    TwilioError,
    TwilioRequestError,
    TwilioRetryableError,
)
from .signature import signature_is_valid

__all__ = [
    "INVALID_NUMBER_CODES",
    "UNSUBSCRIBED",
    "SentMessage",
    "TwilioClient",
    "TwilioError",
    "TwilioRequestError",
    "TwilioRetryableError",
    "mask_phone",
    "signature_is_valid",
]
