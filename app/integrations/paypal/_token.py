"""OAuth 2.0 client-credentials access tokens for PayPal's REST API, cached in memory.

One token serves every call until a minute before it expires (PayPal's last about nine hours);
an ``asyncio.Lock`` makes concurrent callers that find no token wait for a single fetch.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import httpx

from .errors import PayPalError, PayPalRequestError, PayPalRetryableError

logger = logging.getLogger("app.paypal")

#: Renew this long before PayPal's expiry, so a token never lapses between check and use.
EXPIRY_MARGIN_SECONDS = 60


class AccessTokens:
    def __init__(
        self, *, token_url: str, client_id: str, client_secret: str, http: httpx.AsyncClient
    ) -> None:
        self._url = token_url
        self._auth = httpx.BasicAuth(client_id, client_secret)
        self._http = http
        self._lock = asyncio.Lock()
        self._token: str | None = None
        self._expires_at = 0.0

    def __repr__(self) -> str:
        return f"{type(self).__name__}(url={self._url!r})"

    async def get(self) -> str:
        """A token valid for at least another minute, fetched only when there is none."""
        token = self._cached()
        if token is not None:
            return token
        async with self._lock:
            # Whoever held the lock before us may have fetched one already.
            token = self._cached()
            if token is None:
                token = await self._fetch()
            return token

    def invalidate(self, token: str) -> None:
        """Forget ``token`` after PayPal refused it (401); a newer token is kept."""
        if self._token == token:
            self._token = None

    def _cached(self) -> str | None:
        if self._token is not None and time.monotonic() < self._expires_at:
            return self._token
        return None

    async def _fetch(self) -> str:
        try:
            response = await self._http.post(
                self._url,
                data={"grant_type": "client_credentials"},
                auth=self._auth,
                headers={"Accept": "application/json"},
            )
        except httpx.TimeoutException as exc:
            raise PayPalRetryableError("PayPal's token endpoint did not answer in time.") from exc
        except httpx.RequestError as exc:
            raise PayPalRetryableError(
                f"PayPal's token endpoint is unreachable ({type(exc).__name__})."
            ) from exc
        if not response.is_success:
            raise _token_error(response)
        try:
            data: Any = response.json()
        except ValueError:
            data = None
        token = data.get("access_token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token:
            raise PayPalRetryableError(
                f"PayPal's token endpoint answered {response.status_code} without a token.",
                status=response.status_code,
            )
        expires_in = data.get("expires_in")
        lifetime = (
            float(expires_in)
            if isinstance(expires_in, int | float) and not isinstance(expires_in, bool)
            else 0.0
        )
        self._token = token
        self._expires_at = time.monotonic() + lifetime - EXPIRY_MARGIN_SECONDS
        logger.info("paypal.token.fetched", extra={"expires_in": lifetime})
        return token


def _token_error(response: httpx.Response) -> PayPalError:
    """The OAuth error body is ``{"error", "error_description"}``, not PayPal's usual shape."""
    status = response.status_code
    name: str | None = None
    message = f"PayPal's token endpoint answered {status} {response.reason_phrase}".rstrip()
    try:
        data: Any = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict):
        error, description = data.get("error"), data.get("error_description")
        name = error if isinstance(error, str) and error else None
        if isinstance(description, str) and description:
            message = f"PayPal's token endpoint refused the request: {description}"
    debug_id = response.headers.get("PayPal-Debug-Id") or None
    if status == 429 or status >= 500:
        return PayPalRetryableError(message, status=status, name=name, debug_id=debug_id)
    return PayPalRequestError(message, status=status, name=name, debug_id=debug_id)
