"""Verifying a PayPal webhook offline: PayPal's RSA signature over the raw body, no API call.

PayPal signs ``transmission_id|transmission_time|webhook_id|crc32(raw body)`` with the private
key of the certificate at ``PAYPAL-CERT-URL`` (SHA256withRSA, PKCS #1 v1.5). The certificate is
trusted because we fetch it over HTTPS from a PayPal host ourselves, so the URL check comes
before any request: otherwise a forger would simply point us at their own certificate. The
signature covers the transmission time, which bounds how long a captured request can be
replayed; the event id dedupe downstream covers the rest.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
import zlib
from collections.abc import Callable, Mapping
from datetime import datetime

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from .errors import PayPalSignatureError

logger = logging.getLogger("app.paypal")

SUPPORTED_AUTH_ALGO = "SHA256withRSA"
REQUIRED_HEADERS = (
    "paypal-transmission-id",
    "paypal-transmission-time",
    "paypal-transmission-sig",
    "paypal-cert-url",
    "paypal-auth-algo",
)
_HOSTNAME = re.compile(r"[a-z0-9.-]+")


class WebhookVerifier:
    """Checks the signature headers of one PayPal webhook (ours: ``webhook_id``)."""

    def __init__(
        self,
        *,
        webhook_id: str,
        http: httpx.AsyncClient,
        clock: Callable[[], datetime],
        max_skew_seconds: int = 300,
    ) -> None:
        if not webhook_id:
            raise ValueError("Verifying PayPal webhooks needs the webhook id from the dashboard.")
        self._webhook_id = webhook_id
        self._http = http
        self._clock = clock
        self._max_skew = max_skew_seconds
        self._certificates: dict[str, rsa.RSAPublicKey] = {}

    async def verify(self, headers: Mapping[str, str], body: bytes) -> None:
        """Return if PayPal signed exactly ``body`` (the raw bytes) for our webhook; else raise
        :class:`PayPalSignatureError`."""
        lowered = {name.lower(): value.strip() for name, value in headers.items()}
        transmission_id = lowered.get("paypal-transmission-id") or None
        try:
            await self._verify(lowered, body)
        except PayPalSignatureError as exc:
            logger.warning(
                "paypal.webhook.rejected",
                extra={"reason": exc.reason, "transmission_id": transmission_id},
            )
            raise
        logger.info("paypal.webhook.verified", extra={"transmission_id": transmission_id})

    async def _verify(self, headers: Mapping[str, str], body: bytes) -> None:
        if not all(headers.get(name) for name in REQUIRED_HEADERS):
            raise PayPalSignatureError("missing_headers")
        if headers["paypal-auth-algo"] != SUPPORTED_AUTH_ALGO:
            raise PayPalSignatureError("unsupported_algo")
        transmission_time = headers["paypal-transmission-time"]
        if not self._is_fresh(transmission_time):
            raise PayPalSignatureError("stale")
        cert_url = headers["paypal-cert-url"]
        if not is_paypal_cert_url(cert_url):
            raise PayPalSignatureError("bad_cert_url")
        try:
            signature = base64.b64decode(headers["paypal-transmission-sig"], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise PayPalSignatureError("bad_signature") from exc
        public_key = await self._public_key(cert_url)
        # The time and id exactly as sent (not re-formatted): they are part of what was signed.
        message = "|".join(
            (
                headers["paypal-transmission-id"],
                transmission_time,
                self._webhook_id,
                str(zlib.crc32(body)),
            )
        )
        try:
            public_key.verify(signature, message.encode(), padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature as exc:
            raise PayPalSignatureError("bad_signature") from exc

    def _is_fresh(self, transmission_time: str) -> bool:
        try:
            sent = datetime.fromisoformat(transmission_time)
        except ValueError:
            return False
        # PayPal always sends an offset ("Z"); a naive time cannot be placed, so it is not fresh.
        if sent.tzinfo is None:
            return False
        return abs((self._clock() - sent).total_seconds()) <= self._max_skew

    async def _public_key(self, cert_url: str) -> rsa.RSAPublicKey:
        cached = self._certificates.get(cert_url)
        if cached is not None:
            return cached
        try:
            response = await self._http.get(cert_url, follow_redirects=False)
        except httpx.HTTPError as exc:
            raise PayPalSignatureError("cert_unavailable") from exc
        if response.status_code != 200:
            raise PayPalSignatureError("cert_unavailable")
        try:
            public_key = x509.load_pem_x509_certificate(response.content).public_key()
        except ValueError as exc:
            raise PayPalSignatureError("cert_unavailable") from exc
        if not isinstance(public_key, rsa.RSAPublicKey):
            raise PayPalSignatureError("unsupported_algo")
        # Cached per instance and only once it parsed: a failed download is tried again next time.
        self._certificates[cert_url] = public_key
        return public_key


def is_paypal_cert_url(url: str) -> bool:
    """HTTPS on ``paypal.com`` or a subdomain, as httpx (which would fetch it) parses the URL."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError, TypeError):
        return False
    host = parsed.host.lower()
    if parsed.scheme != "https" or parsed.userinfo or not _HOSTNAME.fullmatch(host):
        return False
    return host == "paypal.com" or host.endswith(".paypal.com")
