"""PayPal Checkout: orders, captures and refunds over REST, and webhook signature checks.

The error tree is documented in :mod:`.errors`.
"""

from .client import LIVE_BASE_URL, SANDBOX_BASE_URL, PayPalClient
from .errors import (
    ORDER_ALREADY_CAPTURED,
    PayPalError,
    PayPalRequestError,
    PayPalRetryableError,
    PayPalSignatureError,
)
from .models import Capture, Order, Refund, format_amount
from .webhooks import WebhookVerifier, is_paypal_cert_url

__all__ = [
    "LIVE_BASE_URL",
    "ORDER_ALREADY_CAPTURED",
    "SANDBOX_BASE_URL",
    "Capture",
    "Order",
    "PayPalClient",
    "PayPalError",
    "PayPalRequestError",
    "PayPalRetryableError",
    "PayPalSignatureError",
    "Refund",
    "WebhookVerifier",
    "format_amount",
    "is_paypal_cert_url",
]
