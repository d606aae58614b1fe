"""Monitoring (plan: Monitoring & Alerts): figures, alerts to the manager, Prometheus text.

The figures come from ``table_booking_metrics`` (SQL) for the last hour and day. API error rate
and latency need one row per request: :class:`UsageRecorder` (a pure ASGI middleware) times each
request into :class:`RequestStats`, a bounded in-memory buffer flushed in batches to
``table_booking_request_stats`` (route template, method, status, duration; no personal data).

Alerts go to ``MANAGER_EMAIL`` once per condition and hour: each is queued through
``table_booking_queue_sends`` under the key ``alert:<condition>:<YYYY-MM-DDTHH>`` (UTC), whose
ledger holds however often and however concurrently the cron runs. When the database itself
cannot be reached nothing can be queued: the alert goes straight to the mail provider (or, with
none configured, to the error log), remembered in memory for the hour.
"""

from __future__ import annotations

import html
import logging
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.db.port import Database
from app.integrations.graph import Email, GraphMailer

logger = logging.getLogger("app.monitoring")
LONDON = ZoneInfo("Europe/London")

#: Alert thresholds (plan: Alert Conditions), judged on the last hour.
PAYMENT_FAILURE_MAX = 0.05  # payment failures over 5% of captures
SMS_DELIVERY_MIN = 0.95  # SMS delivered under 95% of texts with a final status
API_ERROR_MAX = 0.01  # 5xx responses over 1% of requests

#: Paths not recorded: scraping /metrics every few seconds would drown the real traffic.
SKIPPED_PATHS = frozenset({"/metrics"})
_RECORDED = "anchor.request_recorded"  # scope key: a request is counted by one recorder only


# Per-request statistics ---------------------------------------------------------------------------


class RequestStats:
    """Request rows waiting to be written: bounded (the oldest go first when full), flushed in
    one call when ``max_age_seconds`` passed or ``batch_size`` rows are waiting."""

    def __init__(
        self,
        *,
        max_rows: int = 5000,
        batch_size: int = 200,
        max_age_seconds: float = 10.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rows: deque[dict[str, Any]] = deque(maxlen=max_rows)
        self._batch_size = batch_size
        self._max_age = max_age_seconds
        self._monotonic = monotonic
        self._last_flush = monotonic()
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._rows)

    def record(
        self, *, route: str, method: str, status: int, duration_ms: float, at: datetime
    ) -> None:
        if len(self._rows) == self._rows.maxlen:
            self.dropped += 1
        self._rows.append(
            {
                "route": route,
                "method": method,
                "status": status,
                "duration_ms": round(duration_ms, 3),
                "created_at": at.isoformat(),
            }
        )

    def due(self) -> bool:
        return bool(self._rows) and (
            len(self._rows) >= self._batch_size
            or self._monotonic() - self._last_flush >= self._max_age
        )

    async def flush(self, db: Database) -> int:
        """Write what is waiting; never raises (statistics must not break a request). Rows that
        could not be written are kept for the next flush, within the bound."""
        if not self._rows:
            return 0
        rows = list(self._rows)
        self._rows.clear()
        self._last_flush = self._monotonic()
        try:
            await db.rpc("table_booking_record_requests", {"p_rows": rows})
        except Exception as exc:
            logger.warning(
                "monitoring.flush_failed rows=%s error=%s", len(rows), type(exc).__name__
            )
            waiting = list(self._rows)
            self._rows.clear()
            for row in [*rows, *waiting][-(self._rows.maxlen or 0) :]:
                self._rows.append(row)
            return 0
        return len(rows)


def stats_of(app: Any) -> RequestStats | None:
    """The app's :class:`RequestStats`, when a :class:`UsageRecorder` wraps it."""
    stats = getattr(app.state, "request_stats", None)
    return stats if isinstance(stats, RequestStats) else None


class UsageRecorder:
    """Pure ASGI middleware: records each HTTP request's route template (never the path or
    query), method, status and duration, then flushes after the response when due, and once more
    when the app shuts down."""

    def __init__(self, app: ASGIApp, *, stats: RequestStats | None = None) -> None:
        self.app = app
        self.stats = stats if stats is not None else RequestStats()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, self._flushing_on_shutdown(scope, receive), send)
            return
        # Not a request, not one worth counting, or one an outer recorder already counts.
        if scope["type"] != "http" or scope["path"] in SKIPPED_PATHS or _RECORDED in scope:
            await self.app(scope, receive, send)
            return
        scope[_RECORDED] = True
        owner = scope.get("app")
        if owner is not None and getattr(owner.state, "request_stats", None) is not self.stats:
            owner.state.request_stats = self.stats  # so the monitoring cron can flush it
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", None)
            # A 503 because a provider is deliberately not configured (PayPal in development)
            # says nothing about the service's health: not counted, so it cannot alert.
            if not (scope.get("state") or {}).get("not_configured"):
                self.stats.record(
                    route=route if isinstance(route, str) else "(unmatched)",
                    method=scope["method"],
                    status=status,
                    duration_ms=(time.perf_counter() - started) * 1000,
                    at=_now(owner),
                )
        db = _db(owner)
        if db is not None and self.stats.due():
            await self.stats.flush(db)  # the response has been sent: the caller does not wait

    def _flushing_on_shutdown(self, scope: Scope, receive: Receive) -> Receive:
        async def wrapped() -> Message:
            message = await receive()
            if message["type"] == "lifespan.shutdown":
                db = _db(scope.get("app"))
                if db is not None:
                    await self.stats.flush(db)  # before the lifespan closes the database
            return message

        return wrapped


def _db(app: Any) -> Database | None:
    return getattr(getattr(app, "state", None), "db", None)


def _now(app: Any) -> datetime:
    clock = getattr(getattr(app, "state", None), "clock", None)
    return clock() if callable(clock) else datetime.now(UTC)


# Figures and alerts -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Alert:
    condition: str
    period: str
    value: float
    threshold: float
    summary: str

    @property
    def key(self) -> str:
        return f"alert:{self.condition}:{self.period}"

    def as_json(self) -> dict[str, Any]:
        return {
            "condition": self.condition,
            "period": self.period,
            "value": round(self.value, 4),
            "threshold": self.threshold,
        }


def period_of(now: datetime) -> str:
    """The alert period: the UTC hour, ``2026-11-24T10``."""
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H")


def evaluate(metrics: dict[str, Any], now: datetime) -> list[Alert]:
    """The alert conditions that hold for the last hour, judged on the counts."""
    hour = metrics["windows"]["hour"]
    period = period_of(now)
    alerts: list[Alert] = []
    pay = hour["payments"]
    attempts = pay["captured"] + pay["failed"]
    if attempts and pay["failed"] / attempts > PAYMENT_FAILURE_MAX:
        alerts.append(
            Alert(
                "payment_failures",
                period,
                pay["failed"] / attempts,
                PAYMENT_FAILURE_MAX,
                f"{pay['failed']} of {attempts} deposit payments failed (captured "
                f"{pay['captured']}; failures are amount mismatches and denied captures).",
            )
        )
    sms = hour["sms"]
    final = sms["delivered"] + sms["failed"] + sms["rejected"]
    if final and sms["delivered"] / final < SMS_DELIVERY_MIN:
        alerts.append(
            Alert(
                "sms_delivery",
                period,
                sms["delivered"] / final,
                SMS_DELIVERY_MIN,
                f"{sms['delivered']} of {final} texts were delivered ({sms['failed']} failed "
                f"or undelivered, {sms['rejected']} refused by the provider).",
            )
        )
    api = hour["api"]
    if api["requests"] and api["errors"] / api["requests"] > API_ERROR_MAX:
        alerts.append(
            Alert(
                "api_errors",
                period,
                api["errors"] / api["requests"],
                API_ERROR_MAX,
                f"{api['errors']} of {api['requests']} API requests failed with a server "
                "error (5xx).",
            )
        )
    return alerts


_TITLES = {
    "payment_failures": ("Payment failures", "more than {:.0%}"),
    "sms_delivery": ("SMS delivery", "below {:.0%}"),
    "api_errors": ("API errors", "more than {:.0%}"),
    "database_unreachable": ("Database unreachable", ""),
}


def alert_email(alert: Alert, *, to: str, now: datetime) -> dict[str, Any]:
    """The email payload ``table_booking_email`` jobs carry."""
    title, rule = _TITLES[alert.condition]
    local = now.astimezone(LONDON)
    when = f"{local:%H:%M} on {local:%A} {local.day} {local:%B %Y} (London time)"
    if alert.condition == "database_unreachable":
        subject = "Table bookings alert: the database is not answering"
        lines = [
            f"The table-booking service could not reach its database at {when}.",
            "Bookings, payments and messages are failing until it answers again.",
        ]
    else:
        subject = f"Table bookings alert: {title.lower()} at {alert.value:.1%} in the last hour"
        lines = [
            f"{title} were {alert.value:.1%} in the hour to {when}; the alert is "
            f"{rule.format(alert.threshold)}.",
            alert.summary,
        ]
    lines.append(f"You get this once per hour while it lasts (alert {alert.key}).")
    text = "\n\n".join(lines)
    body = "".join(f"<p>{html.escape(line)}</p>" for line in lines)
    return {
        "to": to,
        "customer_id": None,
        "subject": subject,
        "text": text,
        "html": f"<html><body>{body}</body></html>",
        "attachments": [],
        "metadata": {
            "template_key": "monitoring_alert",
            "alert": alert.condition,
            "period": alert.period,
        },
    }


async def run(
    db: Database, *, now: datetime, manager_email: str | None, stats: RequestStats | None
) -> dict[str, Any]:
    """The monitoring cron: flush this instance's request rows, compute the figures, queue each
    alert once, prune old request rows. Raises ``ServiceUnavailable`` when the database is down."""
    flushed = await stats.flush(db) if stats is not None else 0
    metrics: dict[str, Any] = await db.rpc("table_booking_metrics", {"p_now": now.isoformat()})
    fired: list[dict[str, Any]] = []
    for alert in evaluate(metrics, now):
        entry = alert.as_json()
        if manager_email:
            result = await db.rpc(
                "table_booking_queue_sends",
                {
                    "p_jobs": [
                        {
                            "unique_key": alert.key,
                            "type": "table_booking_email",
                            "table_booking_id": None,
                            "payload": alert_email(alert, to=manager_email, now=now),
                        }
                    ]
                },
            )
            entry["queued"] = bool(result.get("queued"))
        else:
            entry["queued"] = False
            logger.error("monitoring.alert %s (no MANAGER_EMAIL) %s", alert.key, alert.summary)
        if entry["queued"]:
            logger.warning("monitoring.alert %s queued: %s", alert.key, alert.summary)
        fired.append(entry)
    pruned: int = await db.rpc("table_booking_request_stats_prune", {"p_now": now.isoformat()})
    return {**metrics, "alerts": fired, "request_stats": {"flushed": flushed, "pruned": pruned}}


class AlertMemo:
    """Which database-unreachable alerts went out (in memory: the database cannot say)."""

    def __init__(self) -> None:
        self._sent: set[str] = set()

    def seen(self, key: str) -> bool:
        return key in self._sent

    def add(self, key: str) -> None:
        period = key.rsplit(":", 1)[-1]
        self._sent = {k for k in self._sent if k.endswith(period)} | {key}


def memo_of(app: Any) -> AlertMemo:
    memo = getattr(app.state, "monitoring_alerts", None)
    if not isinstance(memo, AlertMemo):
        memo = AlertMemo()
        app.state.monitoring_alerts = memo
    return memo


async def database_unreachable(
    *, mailer: GraphMailer | None, manager_email: str | None, now: datetime, memo: AlertMemo
) -> dict[str, Any]:
    """Tell the manager, once per hour, that the database does not answer: by email when a
    provider is configured, else in the error log."""
    alert = Alert(
        "database_unreachable", period_of(now), 1.0, 0.0, "The database is not answering."
    )
    entry: dict[str, Any] = alert.as_json()
    if memo.seen(alert.key):
        return {**entry, "notified": "already"}
    if mailer is None or not manager_email:
        logger.error("monitoring.alert database_unreachable period=%s", alert.period)
        memo.add(alert.key)
        return {**entry, "notified": "log"}
    payload = alert_email(alert, to=manager_email, now=now)
    try:
        await mailer.send(
            Email(
                to=(manager_email,),
                subject=payload["subject"],
                text=payload["text"],
                html=payload["html"],
            )
        )
    except Exception as exc:
        # Not remembered: the next run tries the email again.
        logger.error(
            "monitoring.alert database_unreachable period=%s email_failed=%s",
            alert.period,
            type(exc).__name__,
        )
        return {**entry, "notified": "log"}
    logger.warning("monitoring.alert database_unreachable period=%s emailed", alert.period)
    memo.add(alert.key)
    return {**entry, "notified": "email"}


# Prometheus text exposition ---------------------------------------------------------------------

# (metric name, help, path in a window's figures, extra labels)
_GAUGES: tuple[tuple[str, str, tuple[str, ...], dict[str, str]], ...] = (
    (
        "table_booking_bookings_created",
        "Bookings created in the window.",
        ("bookings", "created"),
        {},
    ),
    (
        "table_booking_bookings_refused",
        "Booking attempts refused in the window.",
        ("bookings", "refused"),
        {},
    ),
    (
        "table_booking_creation_success_ratio",
        "Bookings created over bookings attempted (created and refused).",
        ("bookings", "success_rate"),
        {},
    ),
    (
        "table_booking_deposits_requested",
        "Sunday lunch deposits asked for in the window.",
        ("payments", "deposits_requested"),
        {},
    ),
    (
        "table_booking_deposits_paid",
        "Of the deposits asked for in the window, those paid.",
        ("payments", "deposits_paid"),
        {},
    ),
    (
        "table_booking_payment_completion_ratio",
        "Deposits paid over deposits asked for in the window.",
        ("payments", "completion_rate"),
        {},
    ),
    (
        "table_booking_payments_captured",
        "Bookings whose deposit was captured in the window.",
        ("payments", "captured"),
        {},
    ),
    (
        "table_booking_payments_failed",
        "Bookings with a failed capture (amount mismatch, denied) in the window.",
        ("payments", "failed"),
        {},
    ),
    (
        "table_booking_payment_failure_ratio",
        "Failed captures over captures attempted in the window.",
        ("payments", "failure_rate"),
        {},
    ),
    (
        "table_booking_sms_delivered",
        "Texts sent in the window and delivered.",
        ("sms", "delivered"),
        {},
    ),
    (
        "table_booking_sms_failed",
        "Texts sent in the window that failed or were undelivered.",
        ("sms", "failed"),
        {},
    ),
    (
        "table_booking_sms_rejected",
        "Texts the provider refused, or that failed for good, in the window.",
        ("sms", "rejected"),
        {},
    ),
    (
        "table_booking_sms_pending",
        "Texts sent in the window without a final status yet.",
        ("sms", "pending"),
        {},
    ),
    (
        "table_booking_sms_delivery_ratio",
        "Texts delivered over texts with a final status.",
        ("sms", "delivery_rate"),
        {},
    ),
    (
        "table_booking_api_requests",
        "HTTP requests in the window.",
        ("api", "requests"),
        {},
    ),
    (
        "table_booking_api_errors",
        "HTTP requests answered with a server error (5xx) in the window.",
        ("api", "errors"),
        {},
    ),
    (
        "table_booking_api_client_errors",
        "HTTP requests answered with a client error (4xx) in the window.",
        ("api", "client_errors"),
        {},
    ),
    (
        "table_booking_api_error_ratio",
        "Server errors over HTTP requests in the window.",
        ("api", "error_rate"),
        {},
    ),
    (
        "table_booking_api_latency_seconds",
        "HTTP response time in the window, by quantile.",
        ("api", "latency_ms", "p50"),
        {"quantile": "0.5"},
    ),
    (
        "table_booking_api_latency_seconds",
        "",
        ("api", "latency_ms", "p95"),
        {"quantile": "0.95"},
    ),
    (
        "table_booking_api_latency_seconds",
        "",
        ("api", "latency_ms", "p99"),
        {"quantile": "0.99"},
    ),
    (
        "table_booking_api_latency_avg_seconds",
        "Mean HTTP response time in the window.",
        ("api", "latency_ms", "avg"),
        {},
    ),
    (
        "table_booking_api_latency_max_seconds",
        "Slowest HTTP response in the window.",
        ("api", "latency_ms", "max"),
        {},
    ),
    (
        "table_booking_no_shows",
        "Bookings that started in the window and were marked no-show.",
        ("no_shows", "no_shows"),
        {},
    ),
    (
        "table_booking_attended",
        "Bookings that started in the window and were marked completed.",
        ("no_shows", "attended"),
        {},
    ),
    (
        "table_booking_no_show_ratio",
        "No-shows over bookings marked no-show or completed.",
        ("no_shows", "rate"),
        {},
    ),
)


def _value(value: float | int | bool) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    return repr(float(value))


def _labels(labels: dict[str, str]) -> str:
    # Label values are this module's own constants: nothing to escape.
    return "{" + ",".join(f'{name}="{value}"' for name, value in labels.items()) + "}"


def prometheus_text(metrics: dict[str, Any] | None, *, now: datetime) -> str:
    """The figures in Prometheus text format (0.0.4); ``None``: the database did not answer.
    A rate with nothing to divide by has no sample."""
    lines: list[str] = [
        "# HELP table_booking_database_up Whether the figures could be read from the database.",
        "# TYPE table_booking_database_up gauge",
        f"table_booking_database_up {1 if metrics is not None else 0}",
    ]
    if metrics is None:
        return "\n".join(lines) + "\n"
    windows: dict[str, Any] = metrics["windows"]
    seen: set[str] = set()
    for name, help_text, path, extra in _GAUGES:
        if name not in seen:
            seen.add(name)
            lines.append(f"# HELP {name} {help_text}")
            lines.append(f"# TYPE {name} gauge")
        for window in ("hour", "day"):
            value: Any = windows[window]
            for part in path:
                value = value.get(part) if isinstance(value, dict) else None
            if value is None:
                continue
            if name.startswith("table_booking_api_latency"):
                value = float(value) / 1000
            lines.append(f"{name}{_labels({'window': window, **extra})} {_value(value)}")
    firing = {a.condition for a in evaluate(metrics, now)}
    lines.append("# HELP table_booking_alert Whether an alert condition holds for the last hour.")
    lines.append("# TYPE table_booking_alert gauge")
    for condition in ("payment_failures", "sms_delivery", "api_errors"):
        lines.append(
            f"table_booking_alert{_labels({'condition': condition})} "
            f"{1 if condition in firing else 0}"
        )
    return "\n".join(lines) + "\n"
