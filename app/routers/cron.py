"""``/api/cron/*``: the timed work Vercel Cron calls (GET, ``Authorization: Bearer CRON_SECRET``).

Vercel runs crons in UTC; each handler decides by London time, so British Summer Time changes
nothing. Every handler is safe to run twice at once.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request

from app.config import Environment
from app.deps import Db, Now, SettingsDep, link_base
from app.errors import Unauthorized
from app.schemas import (
    ConfirmRequestsQueued,
    Envelope,
    ErrorEnvelope,
    HoldsExpired,
    JobRun,
    RemindersQueued,
    ReviewsQueued,
)
from app.services import confirmations, worker
from app.services.worker import Senders

router = APIRouter(prefix="/api/cron", tags=["cron"])


async def cron_secret(
    settings: SettingsDep,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> None:
    expected = settings.cron_secret.get_secret_value() if settings.cron_secret else None
    if expected is None:
        if settings.environment is Environment.development:
            return  # the embedded demo: nothing to protect, and nothing configured
        raise Unauthorized("CRON_SECRET is not configured.")
    # Compare digests, so neither the length nor the content leaks through timing.
    presented = hashlib.sha256((authorization or "").encode()).digest()
    wanted = hashlib.sha256(f"Bearer {expected}".encode()).digest()
    if not hmac.compare_digest(presented, wanted):
        raise Unauthorized("This endpoint is for the scheduler.")


CronAuth = Depends(cron_secret)
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorEnvelope},
    503: {"model": ErrorEnvelope},
}


async def _senders(request: Request) -> Senders:
    senders: Senders = request.app.state.senders
    return senders


@router.get(
    "/process-jobs",
    summary="Send queued messages",
    dependencies=[CronAuth],
    response_model=Envelope[JobRun],
    responses=_ERRORS,
)
async def process_jobs(
    db: Db,
    now: Now,
    senders: Annotated[Senders, Depends(_senders)],
    request: Request,
) -> dict[str, Any]:
    """Claim due jobs, write booking messages, send texts and emails (or record them)."""
    # Guest links in the texts written now point at PUBLIC_BASE_URL, else at this host.
    senders = dataclasses.replace(senders, link_base=link_base(request))
    report = await worker.process_jobs(db, senders=senders, now=now)
    return {"success": True, "data": report.as_json()}


@router.get(
    "/table-booking-payment-expiry",
    summary="Release unpaid holds",
    dependencies=[CronAuth],
    response_model=Envelope[HoldsExpired],
    responses=_ERRORS,
)
async def payment_expiry(db: Db, now: Now) -> dict[str, Any]:
    """Cancel Sunday lunches whose deposit hold ran out unpaid; their covers are free again and
    the guest is told."""
    result = await db.rpc("table_booking_expire_holds", {"p_now": now.isoformat()})
    return {"success": True, "data": result}


@router.get(
    "/table-booking-reminders",
    summary="Queue reminders",
    dependencies=[CronAuth],
    response_model=Envelope[RemindersQueued],
    responses=_ERRORS,
)
async def reminders(db: Db, now: Now, settings: SettingsDep) -> dict[str, Any]:
    """Remind each confirmed booking once (Sunday lunch the day before, regular on the day),
    and queue Saturday's Sunday lunch prep list for the kitchen."""
    queued = await db.rpc(
        "table_booking_queue_reminders",
        {
            "p_now": now.isoformat(),
            "p_sunday_lunch_hour": settings.reminder_sunday_lunch_hour,
            "p_regular_hour": settings.reminder_regular_hour,
        },
    )
    prep = await db.rpc("table_booking_sunday_prep", {"p_now": now.isoformat()})
    return {"success": True, "data": {"reminders": queued["queued"], "kitchen_prep": prep}}


@router.get(
    "/table-booking-reviews",
    summary="Queue review requests",
    dependencies=[CronAuth],
    response_model=Envelope[ReviewsQueued],
    responses=_ERRORS,
)
async def reviews(db: Db, now: Now, settings: SettingsDep) -> dict[str, Any]:
    """Ask each guest once for a review, some hours after their booking ended."""
    queued = await db.rpc(
        "table_booking_queue_reviews",
        {"p_now": now.isoformat(), "p_delay_hours": settings.review_delay_hours},
    )
    return {"success": True, "data": queued}


@router.get(
    "/table-booking-confirmations",
    summary="Queue confirm texts",
    dependencies=[CronAuth],
    response_model=Envelope[ConfirmRequestsQueued],
    responses=_ERRORS,
)
async def confirm_requests(db: Db, now: Now, settings: SettingsDep) -> dict[str, Any]:
    """Text each confirmed booking of tomorrow once, from CONFIRM_REQUEST_HOUR (London), with
    its confirm link."""
    queued = await confirmations.queue_confirm_requests(
        db, now=now, hour=settings.confirm_request_hour
    )
    return {"success": True, "data": queued}
