"""Monitoring: ``GET /api/cron/table-booking-monitoring`` (figures and alerts) and ``GET /metrics``
(the same figures for Prometheus). Both take ``Authorization: Bearer CRON_SECRET``: the figures
are the pub's business data, so ``/metrics`` is not left open as Prometheus endpoints often are.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from app.deps import Db, Now, SettingsDep
from app.errors import ServiceUnavailable
from app.routers.cron import CronAuth
from app.schemas import Envelope, ErrorEnvelope, MonitoringReport
from app.services import monitoring
from app.services.worker import Senders

router = APIRouter(tags=["monitoring"])

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorEnvelope},
    503: {"model": ErrorEnvelope},
}


@router.get(
    "/api/cron/table-booking-monitoring",
    summary="Compute the figures and alert the manager",
    dependencies=[CronAuth],
    response_model=Envelope[MonitoringReport],
    responses=_ERRORS,
)
async def monitoring_cron(request: Request, db: Db, now: Now, settings: SettingsDep) -> Any:
    """Booking success, payment completion and failures, SMS delivery, API errors and latency,
    no-shows, for the last hour and day. Payment failures over 5%, SMS delivery under 95% or API
    errors over 1% in the last hour email the manager, once per condition and hour; a database
    that does not answer too (503)."""
    try:
        report = await monitoring.run(
            db,
            now=now,
            manager_email=settings.manager_email,
            stats=monitoring.stats_of(request.app),
        )
    except ServiceUnavailable as exc:
        senders: Senders | None = getattr(request.app.state, "senders", None)
        alert = await monitoring.database_unreachable(
            mailer=senders.email if senders is not None else None,
            manager_email=settings.manager_email,
            now=now,
            memo=monitoring.memo_of(request.app),
        )
        error = ServiceUnavailable("The database is not answering.", details={"alerts": [alert]})
        return JSONResponse(
            error.envelope(), status_code=error.status_code, headers=exc.headers or None
        )
    return {"success": True, "data": report}


@router.get(
    "/metrics",
    summary="The figures in Prometheus text format",
    dependencies=[CronAuth],
    response_class=PlainTextResponse,
    responses={
        200: {"description": "Prometheus text format 0.0.4."},
        # Refusals are the JSON envelope: filed by hand, since a "model" would be documented
        # under the route's text/plain.
        401: {
            "description": "Without the CRON_SECRET bearer.",
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}
            },
        },
    },
)
async def metrics(request: Request, db: Db, now: Now) -> PlainTextResponse:
    """Gauges by window (`window="hour"` / `"day"`); `table_booking_database_up 0` (and nothing
    else) when the database does not answer."""
    stats = monitoring.stats_of(request.app)
    figures: dict[str, Any] | None
    try:
        if stats is not None:
            await stats.flush(db)
        figures = await db.rpc("table_booking_metrics", {"p_now": now.isoformat()})
    except ServiceUnavailable:
        figures = None
    return PlainTextResponse(
        monitoring.prometheus_text(figures, now=now), media_type=PROMETHEUS_CONTENT_TYPE
    )
