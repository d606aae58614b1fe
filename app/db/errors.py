"""One mapping from a database error to an ``AppError``, shared by both adapters."""

from __future__ import annotations

import json
import logging
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
        return BUSINESS_ERRORS[message](detail or None, details=_parse_hint(hint))
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


def _parse_hint(hint: str | None) -> Any:
    if not hint:
        return None
    try:
        return json.loads(hint)
    except ValueError:
        return hint
