"""Checking the ``X-Twilio-Signature`` of a webhook (status callbacks, inbound texts)."""

from __future__ import annotations

from collections.abc import Mapping

from twilio.request_validator import RequestValidator


def signature_is_valid(
    *, auth_token: str, url: str, params: Mapping[str, str], signature: str | None
) -> bool:
    """Whether ``signature`` is Twilio's for this request.

    ``url`` must be the public URL Twilio called (scheme, host, path and query), ``params`` the
    form fields it posted. The SDK compares in constant time and tries the URL with and without
    its default port.
    """
    # An empty token would make the HMAC key public: refuse rather than accept forgeries.
    if not signature or not auth_token:
        return False
    return bool(RequestValidator(auth_token).validate(url, params, signature))
