"""App-only access tokens for Graph from MSAL (OAuth 2.0 client credentials).

MSAL is synchronous: every method here blocks and is meant to run in a worker thread
(``asyncio.to_thread``). Its HTTP goes through the ``httpx.Client`` given, which already has the
shape MSAL expects of a requests session (``get``/``post`` with ``params``, ``data``, ``headers``;
responses with ``status_code``, ``text``, ``headers``). MSAL makes two calls: on construction a
GET of the tenant's OpenID configuration
(``https://login.microsoftonline.com/{tenant}/v2.0/.well-known/openid-configuration``), then, on
a cache miss, a form POST to the ``token_endpoint`` it names. With ``instance_discovery=False``
it never calls the instance-discovery endpoint.
"""

from __future__ import annotations

import threading
from typing import Any

import httpx
import msal
from msal.exceptions import MsalError

from .errors import GraphError, GraphRequestError, GraphRetryableError

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
AUTHORITY_HOST = "https://login.microsoftonline.com"

# OAuth 2.0 error codes (RFC 6749 section 5.2 and 4.1.2.1) that say "try again later"; every
# other code (invalid_client, unauthorized_client, invalid_scope, ...) is a configuration problem.
_TRANSIENT_ERRORS = frozenset({"temporarily_unavailable", "server_error"})


class ClientCredentials:
    """One MSAL confidential client, built on first use; MSAL caches the token until it expires."""

    def __init__(
        self, *, tenant_id: str, client_id: str, client_secret: str, http: httpx.Client
    ) -> None:
        self._tenant_id = tenant_id
        self._client_id = client_id
        self._client_secret = client_secret
        self._http = http
        self._app: Any = None
        self._lock = threading.Lock()

    def acquire(self) -> str:
        """An access token for Graph (blocking: call it from a worker thread)."""
        app = self._application()
        try:
            result = app.acquire_token_for_client(scopes=[GRAPH_SCOPE])
        except (MsalError, httpx.HTTPError, ValueError, OSError) as exc:
            # MsalServiceError: token endpoint 5xx; ValueError: a reply that is not JSON (a
            # gateway's error page); httpx errors: timeouts and transport failures.
            raise GraphRetryableError(
                f"The token endpoint is unavailable ({type(exc).__name__})."
            ) from exc
        token = result.get("access_token") if isinstance(result, dict) else None
        if isinstance(token, str) and token:
            return token
        raise _token_error(result if isinstance(result, dict) else {})

    def _application(self) -> Any:
        # Built lazily, in the worker thread: the constructor already fetches the tenant's OpenID
        # configuration, which must neither block the event loop nor fail application start-up.
        with self._lock:
            if self._app is None:
                self._app = self._build()
            return self._app

    def _build(self) -> Any:
        try:
            return msal.ConfidentialClientApplication(
                self._client_id,
                authority=f"{AUTHORITY_HOST}/{self._tenant_id}",
                client_credential=self._client_secret,
                http_client=self._http,
                instance_discovery=False,
            )
        except ValueError as exc:
            # MSAL's wording when the OpenID configuration answered 4xx: an unknown tenant.
            raise GraphRequestError(
                "The Microsoft Entra tenant is unknown or its configuration is unreadable."
            ) from exc
        except (MsalError, httpx.HTTPError, RuntimeError, OSError) as exc:
            raise GraphRetryableError(
                f"The tenant's OpenID configuration is unavailable ({type(exc).__name__})."
            ) from exc


def _token_error(result: dict[str, Any]) -> GraphError:
    code = result.get("error")
    code = code if isinstance(code, str) else None
    # error_description is Entra's text (an AADSTS number and a trace id); it names no secret.
    description = result.get("error_description")
    detail = description.splitlines()[0] if isinstance(description, str) and description else ""
    message = f"No Graph access token: {code or 'unknown error'}" + (
        f" ({detail})" if detail else ""
    )
    if code in _TRANSIENT_ERRORS:
        return GraphRetryableError(message, code=code)
    return GraphRequestError(message, code=code)
