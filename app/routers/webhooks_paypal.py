"""``POST /api/webhooks/paypal/table-bookings``: PayPal events, verified, each handled once."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from app.deps import Client, Db, Now, PayPalDep, SettingsDep
from app.schemas import Envelope, ErrorEnvelope, PayPalEventAck
from app.services import payments

router = APIRouter(prefix="/api/webhooks/paypal", tags=["webhooks"])


@router.post(
    "/table-bookings",
    summary="PayPal payment events",
    response_model=Envelope[PayPalEventAck],
    responses={
        401: {"model": ErrorEnvelope},
        429: {"model": ErrorEnvelope},
        503: {"model": ErrorEnvelope},
    },
)
async def paypal_event(
    request: Request,
    db: Db,
    now: Now,
    paypal: PayPalDep,
    client: Client,
    settings: SettingsDep,
) -> dict[str, Any]:
    """Capture completed, denied, reversed or refunded. Each event id is handled once; a bad
    signature is 401 and changes nothing (and stores no body); too many refused deliveries from
    one address are 429; an event that cannot be handled yet is 503, so PayPal delivers it
    again."""
    headers = {k.lower(): v for k, v in request.headers.items()}
    data = await payments.handle_webhook(
        db,
        paypal,
        headers=headers,
        body=await request.body(),
        now=now,
        client=client,
        refusals=payments.RefusalLimits(
            logged=settings.paypal_webhook_refusals_logged_per_minute,
            answered=settings.paypal_webhook_refusals_per_minute,
        ),
    )
    return {"success": True, "data": data}
