"""The Graph mailer's error tree: a request Graph refused, or a failure worth retrying later.

``GraphError``
    ``GraphRequestError``: Graph (or the token endpoint) refused the request itself (4xx other
    than 429, ``invalid_client``, an unknown tenant). Retrying the same request will not help.

    ``GraphRetryableError``: throttling (429), Graph or the token endpoint down (5xx), timeouts
    and transport errors. ``retry_after`` carries Graph's ``Retry-After`` in seconds when it sent
    one.

Messages never carry the client secret or an access token.
"""

from __future__ import annotations


class GraphError(Exception):
    """Base of every failure of the Graph mailer."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        self.message = message
        self.status = status  # HTTP status of the failing response; None when there was none
        self.code = code  # Graph's or the token endpoint's error code, when it sent one
        super().__init__(message)


class GraphRequestError(GraphError):
    """Graph refused the request; do not retry it unchanged."""


class GraphRetryableError(GraphError):
    """A transient failure; the same request may succeed later (after ``retry_after`` seconds)."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status=status, code=code)
        self.retry_after = retry_after
