"""Structured logs: one JSON object a line, with the request id, never personal data or secrets.

Every record passes through :func:`mask`: phone numbers and email addresses are masked wherever
they appear. Requests are logged by :class:`RequestLog` without their query string (a guest's
``?token=`` must never reach a log), and uvicorn's own access log is turned off for that reason.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")
# +44 7911 123456, 07911123456, 0044 7911..., +1 202 555 0123: a leading + or 0 and 10-15 digits.
_PHONE = re.compile(r"(?<![\w.])(\+|0)(\d(?:[ \-]?\d){8,13})(?!\d)")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


def mask(text: str) -> str:
    """``ann.lee@example.com`` -> ``a***@example.com``; ``+447911123456`` -> ``+*********456``."""
    text = _EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text)

    def phone(m: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", m.group(2))
        return m.group(1) + "*" * (len(digits) - 3) + digits[-3:]

    return _PHONE.sub(phone, text)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": mask(record.getMessage()),
        }
        if (rid := request_id.get()) is not None:
            entry["request_id"] = rid
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = mask(value) if isinstance(value, str) else value
        if record.exc_info:
            entry["error"] = mask(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure(level: str = "INFO") -> None:
    """JSON lines on stderr for the whole process (the service and uvicorn alike)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True
    logging.getLogger("pgserver").setLevel(logging.WARNING)  # it echoes every pg_ctl call
    logging.getLogger("httpx").setLevel(logging.WARNING)  # its lines carry full URLs


class RequestLog:
    """Give each request an id (``X-Request-ID``, kept when the caller sent a sane one) and log
    one line when it ends: method, route, status and duration."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.logger = logging.getLogger("app.http")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        rid = sent if _REQUEST_ID.match(sent) else uuid.uuid4().hex
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = scope.get("route")
            self.logger.info(
                "http.request",
                extra={
                    "method": scope["method"],
                    # The route's template (/api/table-bookings/{reference}), else the path;
                    # never the query string.
                    "route": getattr(route, "path", scope["path"]),
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )
            request_id.reset(token)
