"""One mapping from a database error to an ``AppError``, shared by both adapters."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from app.errors import (
    BUSINESS_ERRORS,
    AppError,
    DatabaseConflict,
    InternalError,
    ServiceUnavailable,
)

logger = logging.getLogger("app.db")

#: SQLSTATE classes that mean "try again later": connection (08), resources (53),
#: operator intervention such as shutdown (57P), transaction rollback such as a
#: serialisation failure or deadlock (40).
_RETRYABLE_PREFIXES = ("08", "53", "57P", "40")


def error_from_database(
    *,
    function: str,
    sqlstate: str | None,
    message: str | None,
    detail: str | None = None,
    hint: str | None = None,
) -> AppError:
    """Turn what Postgres (directly or through PostgREST) said into the error a caller sees.

    A business refusal is ``RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = '<CODE>',
    DETAIL = '<sentence for humans>', HINT = '<JSON details>'`` where ``<CODE>`` is a code of
    ``API.md``. Anything else is logged here and shown to callers without its SQL.
    """
    if sqlstate == "P0001" and message in BUSINESS_ERRORS:
        details = _parse_hint(hint)
        return BUSINESS_ERRORS[message](
            detail or None, details=details, headers=_rate_limit_headers(message, details)
        )
    if sqlstate == "23505":
        logger.error("db.unique_violation", extra={"function": function, "detail": detail})
        return DatabaseConflict()
    if sqlstate and sqlstate.startswith(_RETRYABLE_PREFIXES):
        logger.warning("db.unavailable", extra={"function": function, "sqlstate": sqlstate})
        return ServiceUnavailable(headers={"Retry-After": "5"})
    logger.error(
        "db.error",
        extra={"function": function, "sqlstate": sqlstate, "db_message": message},
    )
    return InternalError()


def _rate_limit_headers(code: str, details: Any) -> dict[str, str] | None:
    """A limit refused in SQL says when to come back: Retry-After and its own X-RateLimit-*."""
    if code != "RATE_LIMIT_EXCEEDED" or not isinstance(details, dict):
        return None
    headers = {}
    if "retry_after" in details:
        headers["Retry-After"] = str(max(1, int(float(details["retry_after"]))))
    if "limit" in details:
        headers["X-RateLimit-Limit"] = str(details["limit"])
        headers["X-RateLimit-Remaining"] = "0"
    if "reset_at" in details:
        reset = datetime.fromisoformat(str(details["reset_at"]))
        headers["X-RateLimit-Reset"] = str(int(reset.timestamp()))
    return headers


def _parse_hint(hint: str | None) -> Any:
    if not hint:
        return None
    try:
        return json.loads(hint)
    except ValueError:
        return hint
