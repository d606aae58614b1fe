"""The message worker behind ``GET /api/cron/process-jobs``.

It claims this service's due jobs from the shared queue (``table_booking_claim_jobs``:
skip-locked, leased, each job once a run), turns booking events into messages, and sends them:
SMS through Twilio, email through Microsoft Graph, or, with no credentials, into the outbox
(``table_booking_outbox`` and the log) so the whole flow is visible on the embedded default.
Each outcome is recorded with the claim's token, so a job whose lease was taken over by another
run is never recorded twice.
"""

from __future__ import annotations

import base64
import logging
import math
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from app.db.port import Database
from app.errors import AppError
from app.integrations.graph import (
    Attachment,
    Email,
    GraphMailer,
    GraphRequestError,
    GraphRetryableError,
)
from app.integrations.paypal import PayPalRequestError, PayPalRetryableError
from app.integrations.twilio import (
    TwilioClient,
    TwilioRequestError,
    TwilioRetryableError,
)
from app.services import guest_pages, notifications, payments, tokens
from app.services.notifications import StaffAddresses
from app.services.payments import PayPal
from app.services.sms_text import TemplateError, sms_encoding

logger = logging.getLogger("app.worker")
LONDON = ZoneInfo("Europe/London")
QUIET_FROM, QUIET_UNTIL = 21, 9  # no texts from 21:00 to 09:00 London time


@dataclass(frozen=True, slots=True)
class Senders:
    """The providers, or None for outbox mode; made in the lifespan, shared by requests."""

    sms: TwilioClient | None
    email: GraphMailer | None
    staff: StaffAddresses
    status_callback_url: str | None = None
    sms_from: str | None = None
    paypal: PayPal | None = None
    quiet_hours: bool = True  # SMS_QUIET_HOURS; off only in development
    #: PUBLIC_BASE_URL: confirmations carry the guest's manage link there (none without it).
    public_base_url: str | None = None
    #: Where guest links point (PUBLIC_BASE_URL, else the cron request's base URL), no
    #: trailing slash; the confirm text is not written without it.
    link_base: str | None = None


@dataclass
class RunReport:
    claimed: int = 0
    sent: int = 0
    outbox: int = 0
    queued: int = 0
    deferred: int = 0
    skipped: int = 0
    retrying: int = 0
    failed: int = 0
    details: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, int]:
        return {k: v for k, v in vars(self).items() if k != "details"}


def quiet_until(now: datetime) -> datetime | None:
    """The end of quiet hours (09:00 London) when ``now`` falls inside them, else None."""
    local = now.astimezone(LONDON)
    if QUIET_UNTIL <= local.hour < QUIET_FROM:
        return None
    day = local.date() + timedelta(days=1) if local.hour >= QUIET_FROM else local.date()
    return datetime(day.year, day.month, day.day, QUIET_UNTIL, tzinfo=LONDON)


async def process_jobs(
    db: Database,
    *,
    senders: Senders,
    now: datetime,
    batch_size: int = 25,
    time_budget_seconds: float = 45.0,
) -> RunReport:
    report = RunReport()
    started = time.monotonic()
    # A run handles each job once. A job it deferred, retried or failed may be due again at once
    # by the database's clock (which decides what is due) while the run's own clock says wait:
    # it waits for the next run. When only such jobs are left, the claim is empty and the run ends.
    seen: list[str] = []
    while time.monotonic() - started < time_budget_seconds:
        jobs: list[dict[str, Any]] = await db.rpc(
            "table_booking_claim_jobs",
            {"p_batch_size": batch_size, "p_lease_seconds": 120, "p_exclude": seen},
        )
        if not jobs:
            break
        report.claimed += len(jobs)
        # One at a time: texts go out in order, and a provider outage is met once per job.
        for job in jobs:
            seen.append(str(job["id"]))
            await _process_one(db, job, senders=senders, now=now, report=report)
    return report


async def _process_one(
    db: Database, job: dict[str, Any], *, senders: Senders, now: datetime, report: RunReport
) -> None:
    kind = job["type"]
    try:
        if kind == "table_booking_notify":
            await _expand(db, job, senders=senders, now=now, report=report)
        elif kind == "table_booking_sms":
            await _send_sms(db, job, senders=senders, now=now, report=report)
        elif kind == "table_booking_email":
            await _send_email(db, job, senders=senders, report=report)
        elif kind == "table_booking_refund":
            await _refund(db, job, senders=senders, now=now, report=report)
        else:
            # Claimed by type, so never another app's job; a type of ours this code lacks.
            await _fail(db, job, f"unknown job type {kind!r}", retry=False, report=report)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        # A payload this worker cannot read fails with the reason, never stays 'processing'.
        logger.error("worker.unreadable_job job=%s type=%s error=%r", job["id"], kind, exc)
        await _fail(db, job, f"unreadable payload: {exc!r}", retry=False, report=report)
    except AppError as exc:
        # The database refused or went away mid-job: try the job again later.
        logger.warning("worker.job_error job=%s type=%s error=%s", job["id"], kind, exc.code)
        await _fail(db, job, f"{exc.code}: {exc.message}", retry=True, report=report)


async def _expand(
    db: Database, job: dict[str, Any], *, senders: Senders, now: datetime, report: RunReport
) -> None:
    payload = job["payload"]
    event, stage = payload["event"], str(payload.get("stage") or "default")
    try:
        if event == "kitchen_prep":
            sends = await _kitchen_prep(db, payload["date"], senders.staff)
        else:
            ctx = await db.rpc(
                "table_booking_message_context", {"p_booking_id": payload["table_booking_id"]}
            )
            if ctx is None:
                await _done(db, job, {"skipped": "booking_gone"})
                report.skipped += 1
                return
            sends = await _plan(db, event, stage, ctx, senders=senders, now=now)
    except (TemplateError, KeyError) as exc:
        # A template the pub edited needs a variable we do not have: never send "{{...}}".
        logger.error("worker.template_error job=%s event=%s error=%s", job["id"], event, exc)
        await _fail(db, job, f"template: {exc}", retry=False, report=report)
        return
    result = await db.rpc("table_booking_queue_sends", {"p_jobs": sends}) if sends else {}
    report.queued += int(result.get("queued", 0))
    await _done(db, job, {"event": event, **result})


async def _plan(
    db: Database,
    event: str,
    stage: str,
    ctx: dict[str, Any],
    *,
    senders: Senders,
    now: datetime,
) -> list[dict[str, Any]]:
    """The sends of one event. An update whose booking still has a confirmation waiting (a text
    held for quiet hours, say) cancels it and sends the confirmation with the booking as it is
    now instead, so the guest gets one message, never the old details beside the new."""
    booking_id = ctx["booking"]["id"]
    if event == notifications.CONFIRM_REQUEST:
        ctx = await _with_confirm_link(db, ctx, senders=senders)
    waiting: frozenset[str] = frozenset()
    if event == "updated":
        waiting = frozenset(
            await db.rpc(
                "table_booking_supersede_confirmations",
                {"p_booking_id": booking_id, "p_cancel": False},
            )
        )
    sends = notifications.plan_messages(
        event, stage, ctx, staff=senders.staff, now=now, confirm_instead=waiting
    )
    if await _with_manage_link(db, ctx, sends, senders=senders, now=now):
        sends = notifications.plan_messages(
            event, stage, ctx, staff=senders.staff, now=now, confirm_instead=waiting
        )
    if waiting:
        # Planned first, so a template that cannot be rendered cancels nothing; then only what
        # was still waiting is replaced (a text sent meanwhile is followed by the update).
        cancelled = frozenset(
            await db.rpc(
                "table_booking_supersede_confirmations",
                {"p_booking_id": booking_id, "p_cancel": True},
            )
        )
        if cancelled != waiting:
            sends = notifications.plan_messages(
                event, stage, ctx, staff=senders.staff, now=now, confirm_instead=cancelled
            )
        logger.info(
            "message.superseded booking=%s channels=%s", booking_id, ",".join(sorted(cancelled))
        )
    return sends


async def _with_manage_link(
    db: Database,
    ctx: dict[str, Any],
    sends: list[dict[str, Any]],
    *,
    senders: Senders,
    now: datetime,
) -> bool:
    """When the guest is sent a confirmation, a new manage link for it goes into the message
    context (``booking.manage_url``); True when one was added. None without a public address,
    nor for a booking without a customer to hold the link."""
    booking = ctx["booking"]
    confirming = any(
        notifications.is_confirmation(str(s["payload"].get("metadata", {}).get("template_key")))
        for s in sends
        if s["type"] in ("table_booking_sms", "table_booking_email")
        and s["payload"].get("customer_id")
    )
    if not confirming or not senders.public_base_url or booking.get("manage_url"):
        return False
    try:
        booking["manage_url"] = await guest_pages.issue_manage_link(
            db,
            booking_id=str(booking["id"]),
            starts_at=datetime.fromisoformat(booking["starts_at"]),
            now=now,
            base_url=senders.public_base_url,
        )
    except AppError as exc:
        if exc.code != "NOT_FOUND":
            raise
        return False  # no customer on the booking: no link to hold
    return True


async def _with_confirm_link(
    db: Database, ctx: dict[str, Any], *, senders: Senders
) -> dict[str, Any]:
    """The context with the guest's confirm link, minted now, as the text is written: a
    booking_confirm guest link that lasts until the booking starts."""
    if not notifications.confirm_request_wanted(ctx):
        return ctx
    base = senders.link_base or senders.public_base_url
    if not base:
        raise TemplateError("no public base URL for the confirm link (PUBLIC_BASE_URL)")
    booking = ctx["booking"]
    token = await tokens.issue_guest_token(
        db,
        booking_id=str(booking["id"]),
        action="booking_confirm",
        expires_at=datetime.fromisoformat(booking["starts_at"]),
    )
    return {**ctx, "confirm_link": tokens.guest_link_url(base, token, "confirm-booking")}


async def _kitchen_prep(db: Database, day: str, staff: StaffAddresses) -> list[dict[str, Any]]:
    if not staff.kitchen:
        return []
    prep = await db.rpc("table_booking_prep_list", {"p_date": day})
    return [
        {
            "unique_key": f"kitchen_prep:{day}:email:{staff.kitchen}",
            "type": "table_booking_email",
            "table_booking_id": None,
            "payload": notifications.kitchen_prep_email(prep, recipient=staff.kitchen),
        }
    ]


async def _send_sms(
    db: Database, job: dict[str, Any], *, senders: Senders, now: datetime, report: RunReport
) -> None:
    payload = job["payload"]
    metadata = payload.get("metadata") or {}
    until = quiet_until(now) if senders.quiet_hours else None
    if until is not None:
        logger.info(
            "message.deferred channel=sms booking=%s until=%s (quiet hours: no texts from 21:00"
            " to 09:00 London time; SMS_QUIET_HOURS=false turns this off in development)",
            metadata.get("table_booking_id"),
            until.isoformat(),
        )
        await db.rpc(
            "table_booking_job_defer",
            {
                "p_job_id": job["id"],
                "p_token": job["processing_token"],
                "p_until": until.isoformat(),
            },
        )
        report.deferred += 1
        return
    unique_key = payload["unique_key"]
    if metadata.get("template_key") == notifications.CONFIRM_TEMPLATE:
        # Checked again as it goes: never to a booking since cancelled, answered or moved.
        stale = await db.rpc(
            "table_booking_confirm_text_due",
            {
                "p_booking_id": metadata.get("table_booking_id"),
                "p_stage": metadata.get("stage"),
                "p_now": now.isoformat(),
            },
        )
        if stale:
            await _done(db, job, {"skipped": stale})
            report.skipped += 1
            return
    decision = await db.rpc(
        "table_booking_sms_begin",
        {
            "p_unique_key": unique_key,
            "p_customer_id": payload["customer_id"],
            "p_to": payload["to"],
            "p_table_booking_id": metadata.get("table_booking_id"),
            "p_template_key": metadata.get("template_key"),
        },
    )
    if decision["decision"] == "in_flight":
        await _fail(db, job, "another run is sending this text", retry=True, report=report)
        return
    if decision["decision"] == "stale":
        await _done(db, job, {"skipped": decision["reason"]})
        report.skipped += 1
        return
    if decision["decision"] == "duplicate":
        await _done(db, job, {"skipped": "already_sent"})
        report.skipped += 1
        return
    if decision["decision"] == "no_sms":
        # Plan section 1: when a text is not possible, the guest hears by email instead.
        fallback = None
        if decision.get("email"):
            email = notifications.sms_fallback_email(payload, decision["email"])
            base = unique_key.replace(":sms:", ":email:")
            await db.rpc(
                "table_booking_queue_sends",
                {
                    "p_jobs": [
                        {
                            "unique_key": base,
                            "type": "table_booking_email",
                            "table_booking_id": metadata.get("table_booking_id"),
                            "payload": email,
                        }
                    ]
                },
            )
            fallback = "email"
        await _done(db, job, {"skipped": decision["reason"], "fallback": fallback})
        report.skipped += 1
        return

    encoding = sms_encoding(payload["message"])
    details = {
        "job_id": job["id"],
        "table_booking_id": metadata.get("table_booking_id"),
        "template_key": metadata.get("template_key"),
        "channel": "sms",
        "segments": encoding.segments,
    }
    sent: dict[str, Any] = {
        "job_id": job["id"],
        "to": payload["to"],
        "body": payload["message"],
        "customer_id": payload["customer_id"],
        "template_key": metadata.get("template_key"),
        "table_booking_id": metadata.get("table_booking_id"),
        "encoding": encoding.encoding,
        "segments": encoding.segments,
    }
    if senders.sms is None:
        sent |= {"sid": f"outbox-{uuid.uuid4()}", "status": "outbox", "outbox": True}
        logger.info(
            "message.outbox channel=sms booking=%s template=%s segments=%s body=%r",
            metadata.get("table_booking_id"),
            metadata.get("template_key"),
            encoding.segments,
            payload["message"],
        )
        report.outbox += 1
    else:
        try:
            result = await senders.sms.send_sms(
                to=payload["to"],
                body=payload["message"],
                status_callback=senders.status_callback_url,
            )
        except TwilioRequestError as exc:
            await db.rpc(
                "table_booking_sms_refused",
                {
                    "p_job_id": job["id"],
                    "p_token": job["processing_token"],
                    "p_unique_key": unique_key,
                    "p_customer_id": payload["customer_id"],
                    "p_error_code": exc.code,
                    "p_error": f"Twilio {exc.status} {exc.code}: {exc.message}",
                    "p_details": details | {"error_code": exc.code},
                },
            )
            await _reminder_history(db, metadata, "failed", exc.message)
            report.failed += 1
            return
        except TwilioRetryableError as exc:
            if _outcome_unknown(exc):
                # Twilio may have taken it: never risk a second text. The claim stays, the job
                # fails, and the audit row tells staff to check the Twilio log.
                await db.rpc(
                    "table_booking_sms_refused",
                    {
                        "p_job_id": job["id"],
                        "p_token": job["processing_token"],
                        "p_unique_key": unique_key,
                        "p_customer_id": payload["customer_id"],
                        "p_error_code": None,
                        "p_error": f"outcome unknown (not resent): {exc.message}",
                        "p_details": details | {"outcome": "unknown"},
                    },
                )
                report.failed += 1
                return
            outcome = await db.rpc(
                "table_booking_sms_retry",
                {
                    "p_job_id": job["id"],
                    "p_token": job["processing_token"],
                    "p_unique_key": unique_key,
                    "p_error": f"Twilio {exc.status} {exc.code}: {exc.message}",
                    "p_details": details,
                },
            )
            if outcome == "failed":
                report.failed += 1
                await _reminder_history(db, metadata, "failed", exc.message)
            else:
                report.retrying += 1
            return
        sent |= {
            "sid": result.sid,
            "status": result.status,
            "from": result.from_number or senders.sms_from,
            "segments": result.segments or encoding.segments,
        }
        report.sent += 1
    await db.rpc(
        "table_booking_sms_sent",
        {
            "p_job_id": job["id"],
            "p_token": job["processing_token"],
            "p_unique_key": unique_key,
            "p_sent": sent,
        },
    )
    if metadata.get("template_key") == notifications.CONFIRM_TEMPLATE:
        await db.rpc(
            "table_booking_confirm_text_sent",
            {"p_booking_id": metadata.get("table_booking_id"), "p_sent_at": now.isoformat()},
        )
    await _reminder_history(db, metadata, "sent", None)


async def _refund(
    db: Database, job: dict[str, Any], *, senders: Senders, now: datetime, report: RunReport
) -> None:
    if senders.paypal is None:
        error, retry = "PayPal is not configured", False
    else:
        try:
            result = await payments.refund(db, senders.paypal, payload=job["payload"], now=now)
        except PayPalRetryableError as exc:
            error, retry = f"PayPal {exc.status}: {exc.message}", True
        except PayPalRequestError as exc:
            error, retry = f"PayPal {exc.status} {exc.name}: {exc.message}", False
        else:
            report.sent += 1
            await _done(db, job, result)
            return
    if await _fail(db, job, error, retry=retry, report=report) == "failed":
        # No attempt left: the money is not on its way, so staff must know (an alert, an audit
        # row and a note on the booking) and so must a guest who was told it was.
        booking_id = job["payload"].get("table_booking_id")
        logger.error("payment.refund.failed booking=%s error=%s", booking_id, error)
        await db.rpc(
            "table_booking_refund_failed",
            {"p_booking_id": booking_id, "p_error": error, "p_now": now.isoformat()},
        )


def _outcome_unknown(error: TwilioRetryableError) -> bool:
    """Whether Twilio may have accepted the text although we did not hear so.

    A refused connection, a 429 or a 5xx mean it did not; a timeout while waiting for the answer,
    or an answer we could not read, leave it open.
    """
    if error.status is not None:
        return 200 <= error.status < 300
    return not isinstance(error.__cause__, httpx.ConnectError | httpx.ConnectTimeout)


async def _send_email(
    db: Database, job: dict[str, Any], *, senders: Senders, report: RunReport
) -> None:
    payload = job["payload"]
    metadata = payload.get("metadata") or {}
    record = {
        "to": payload["to"],
        "subject": payload["subject"],
        "text": payload["text"],
        "table_booking_id": metadata.get("table_booking_id"),
        "template_key": metadata.get("template_key"),
        "channel": "email",
        "job_id": job["id"],
        "attachments": [
            {"filename": a["filename"], "content_type": a["content_type"]}
            for a in payload.get("attachments") or []
        ],
    }
    if senders.email is None:
        logger.info(
            "message.outbox channel=email booking=%s template=%s subject=%r",
            metadata.get("table_booking_id"),
            metadata.get("template_key"),
            payload["subject"],
        )
        record["outbox"] = True
        report.outbox += 1
    else:
        email = Email(
            to=(payload["to"],),
            subject=payload["subject"],
            text=payload["text"],
            html=payload.get("html"),
            attachments=tuple(
                Attachment(
                    filename=a["filename"],
                    content_type=a["content_type"],
                    content=base64.b64decode(a["content_b64"]),
                )
                for a in payload.get("attachments") or []
            ),
        )
        try:
            await senders.email.send(email)
        except GraphRequestError as exc:
            await _fail(db, job, f"Graph {exc.status}: {exc.message}", retry=False, report=report)
            await _reminder_history(db, metadata, "failed", exc.message, channel="email")
            return
        except GraphRetryableError as exc:
            delay = math.ceil(exc.retry_after) if exc.retry_after else None
            await _fail(
                db,
                job,
                f"Graph {exc.status}: {exc.message}",
                retry=True,
                report=report,
                delay=delay,
            )
            return
        report.sent += 1
    await db.rpc(
        "table_booking_email_sent",
        {"p_job_id": job["id"], "p_token": job["processing_token"], "p_email": record},
    )
    await _reminder_history(db, metadata, "sent", None, channel="email")


async def _reminder_history(
    db: Database,
    metadata: dict[str, Any],
    status: str,
    error: str | None,
    *,
    channel: str = "sms",
) -> None:
    template = str(metadata.get("template_key") or "")
    if template.startswith("reminder_") and metadata.get("table_booking_id"):
        await db.rpc(
            "table_booking_reminder_sent",
            {
                "p_booking_id": metadata["table_booking_id"],
                "p_channel": channel,
                "p_status": status,
                "p_error": error,
            },
        )


async def _done(db: Database, job: dict[str, Any], result: dict[str, Any]) -> None:
    await db.rpc(
        "table_booking_job_done",
        {"p_job_id": job["id"], "p_token": job["processing_token"], "p_result": result},
    )


async def _fail(
    db: Database,
    job: dict[str, Any],
    error: str,
    *,
    retry: bool,
    report: RunReport,
    delay: int | None = None,
) -> str:
    outcome: str = await db.rpc(
        "table_booking_job_failed",
        {
            "p_job_id": job["id"],
            "p_token": job["processing_token"],
            "p_error": error,
            "p_retry": retry,
            "p_delay_seconds": delay,
        },
    )
    if outcome == "retry":
        report.retrying += 1
    else:
        report.failed += 1
        await db.rpc(
            "tb_message_audit",
            {
                "p_operation": "message.failed",
                "p_details": {
                    "job_id": job["id"],
                    "table_booking_id": (job["payload"].get("metadata") or {}).get(
                        "table_booking_id"
                    )
                    or job["payload"].get("table_booking_id"),
                    "channel": job["type"],
                },
                "p_error": error,
            },
        )
    return outcome
