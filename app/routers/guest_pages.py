"""The guest pages: ``/g/{token}/table-payment`` and ``/g/{token}/table-manage``, server
rendered (pub-api-2026.md section 11).

The token in the path is the capability: no cookies are set, so no other site's page can ride on
a guest's session. Forms post back to their own page; a post another site's page sent (by
``Sec-Fetch-Site``, or an ``Origin`` that is not ours) is refused and changes nothing. Every
page and form counts against its link's limit.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Path, Request
from fastapi.responses import RedirectResponse, Response

from app.deps import Client, Db, Now, PayPalDep, SettingsDep, link_base
from app.errors import AppError
from app.pages import render
from app.services import deposit_orders, guest_pages, tokens
from app.services.guest_pages import BLOCKED

logger = logging.getLogger("app.guest_pages")

router = APIRouter(tags=["guest pages"], include_in_schema=False)

#: Any text: what is not a link of ours is answered by the invalid_token screen, not a 400.
Token = Annotated[str, Path()]


def blocked(reason: str, *, status_code: int = 200, **context: Any) -> Response:
    heading, sentence = BLOCKED[reason]
    return render(
        "guest_blocked.html",
        status_code=status_code,
        reason=reason,
        heading=heading,
        sentence=sentence,
        **context,
    )


def other_site() -> Response:
    """A form another site's page sent: refused, nothing changed."""
    heading, sentence = guest_pages.OTHER_SITE
    return render(
        "guest_blocked.html",
        status_code=403,
        reason="other_site",
        heading=heading,
        sentence=sentence,
    )


def unavailable() -> Response:
    return render("guest_unavailable.html", status_code=503)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def sent_from_elsewhere(request: Request, public_base_url: str | None) -> bool:
    """A form post another site's page made: the browser says so (``Sec-Fetch-Site``), or its
    ``Origin`` is not this host's (``null``, sent under our no-referrer policy, is not a site)."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return True
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return False
    host = request.headers.get("host", "")
    ours = {f"http://{host}".lower(), f"https://{host}".lower()}
    if public_base_url:
        ours.add(_origin(public_base_url))
    return origin.lower() not in ours


def _back(token: str, page: str, query: dict[str, str]) -> RedirectResponse:
    target = f"/g/{token}/{page}" + (f"?{urlencode(query)}" if query else "")
    return RedirectResponse(target, status_code=303)


# The manage page ---------------------------------------------------------------------------


@router.get("/g/{token}/table-manage")
async def manage_page(
    db: Db,
    now: Now,
    settings: SettingsDep,
    request: Request,
    token: Token,
    status: str | None = None,
    reason: str | None = None,
    refund: str | None = None,
) -> Response:
    try:
        page = await guest_pages.open_page(db, token, action="manage", now=now)
        if page["state"] != "ok":
            return blocked(page["state"], status_code=_blocked_status(page["state"]))
        view = guest_pages.manage_view(page["booking"], now)
        pay_url = await _pay_link(db, page, view, now, link_base(request))
    except AppError as exc:
        if exc.status_code < 500:
            raise
        return unavailable()
    return render(
        "table_manage.html",
        booking=view,
        notice=guest_pages.result_notice(status, reason, refund),
        pay_url=pay_url,
        action=f"/g/{token}/table-manage",
    )


async def _pay_link(
    db: Db, page: dict[str, Any], view: dict[str, Any], now: datetime, base_url: str
) -> str | None:
    """A booking awaiting its deposit links to its payment page (a new payment link, until
    the hold)."""
    hold = (page["booking"].get("payment") or {}).get("expires_at")
    if not view["awaiting_deposit"] or not hold or datetime.fromisoformat(hold) <= now:
        return None
    token = await tokens.issue_guest_token(
        db,
        booking_id=str(page["booking_id"]),
        action="payment",
        expires_at=datetime.fromisoformat(hold),
    )
    return tokens.guest_link_url(base_url, token, "table-payment")


def _blocked_status(reason: str) -> int:
    return {"rate_limited": 429, "invalid_token": 404, "booking_not_found": 404}.get(reason, 200)


@router.post("/g/{token}/table-manage")
async def manage_post(
    db: Db,
    now: Now,
    client: Client,
    settings: SettingsDep,
    request: Request,
    token: Token,
) -> Response:
    if sent_from_elsewhere(request, settings.public_base_url):
        return other_site()
    form = guest_pages.read_form(await request.body())
    try:
        page = await guest_pages.open_page(db, token, action="manage", now=now)
        if page["state"] == "rate_limited":
            return _back(token, "table-manage", {"status": "rate_limited"})
        if page["state"] != "ok":
            return blocked(page["state"], status_code=_blocked_status(page["state"]))
        actor = guest_pages.actor_for(page, token, "manage")
        intent = form.get("intent")
        if intent == "update":
            outcome = await guest_pages.update_from_form(
                db, page=page, actor=actor, form=form, client=client, now=now
            )
        elif intent == "cancel":
            outcome = await guest_pages.cancel_from_form(
                db, page=page, actor=actor, form=form, client=client, now=now
            )
        else:
            outcome = guest_pages.Outcome("error", "unknown")
    except AppError as exc:
        if exc.status_code < 500:
            raise
        return unavailable()
    logger.info("guest_page.manage intent=%s status=%s", form.get("intent"), outcome.status)
    return _back(token, "table-manage", outcome.query())


# The payment page --------------------------------------------------------------------------


@router.get("/g/{token}/table-payment")
async def payment_page(
    db: Db,
    now: Now,
    token: Token,
    state: str | None = None,
) -> Response:
    try:
        page = await guest_pages.open_page(db, token, action="payment", now=now)
    except AppError as exc:
        if exc.status_code < 500:
            raise
        return unavailable()
    if page["state"] != "ok":
        return blocked(page["state"], status_code=_blocked_status(page["state"]))
    view = guest_pages.payment_view(page, now)
    if view["state"] == "blocked":
        return blocked(view["reason"], booking=view)
    return render(
        "table_payment.html",
        payment=view,
        cancelled=state == "cancelled" and view["state"] == "due",
        action=f"/g/{token}/table-payment",
    )


def _payment_screen(
    page: dict[str, Any], now: datetime, token: str, *, failure: str | None, status_code: int
) -> Response:
    view = guest_pages.payment_view(page, now)
    if view["state"] == "blocked":
        return blocked(view["reason"], booking=view)
    return render(
        "table_payment.html",
        status_code=status_code,
        payment=view,
        cancelled=False,
        failure=failure if view["state"] == "due" else None,
        action=f"/g/{token}/table-payment",
    )


@router.post("/g/{token}/table-payment")
async def payment_start(
    db: Db,
    now: Now,
    settings: SettingsDep,
    paypal: PayPalDep,
    request: Request,
    token: Token,
) -> Response:
    """Pay: the booking's PayPal order (the open one at the right amount, or a new one), and
    the guest sent to PayPal to approve it; PayPal sends them back to ``.../return``."""
    if sent_from_elsewhere(request, settings.public_base_url):
        return other_site()
    try:
        page = await guest_pages.open_page(db, token, action="payment", now=now)
        if page["state"] != "ok":
            return blocked(page["state"], status_code=_blocked_status(page["state"]))
        view = guest_pages.payment_view(page, now)
        if view["state"] != "due":
            return _back(token, "table-payment", {})
        here = tokens.guest_link_url(link_base(request), token, "")
        status, body = await deposit_orders.create_order(
            db,
            paypal,
            str(page["booking_id"]),
            now=now,
            return_url=here + "table-payment/return",
            cancel_url=here + "table-payment?state=cancelled",
        )
    except AppError as exc:
        if exc.status_code < 500:
            raise
        return unavailable()
    if status == 200 and body.get("approve_url"):
        logger.info("guest_page.payment_started booking=%s", page["booking_id"])
        return RedirectResponse(str(body["approve_url"]), status_code=303)
    if status == 410:
        return blocked("hold_expired", booking=view)
    if status == 409 and body.get("error") == deposit_orders.ALREADY_PAID:
        return _back(token, "table-payment", {})
    logger.warning("guest_page.payment_refused status=%s error=%s", status, body.get("error"))
    failure = guest_pages.payment_failure_words(body.get("error"))
    return _payment_screen(page, now, token, failure=failure, status_code=status)


@router.get("/g/{token}/table-payment/return")
async def payment_return(
    db: Db,
    now: Now,
    paypal: PayPalDep,
    request: Request,
    token: Token,
) -> Response:
    """PayPal's return (``?token=<order id>``): capture with the pub's checks, then the
    result. A repeat (a refresh) finds the deposit paid and shows it."""
    order_id = request.query_params.get("token", "")  # PayPal's name; the path's is the link
    try:
        page = await guest_pages.open_page(db, token, action="payment", now=now)
        if page["state"] != "ok":
            return blocked(page["state"], status_code=_blocked_status(page["state"]))
        if guest_pages.payment_view(page, now)["state"] == "paid":
            return _back(token, "table-payment", {})
        if not order_id or len(order_id) > 64:
            status, body = 400, {"error": deposit_orders.ORDER_MISMATCH}
        else:
            status, body = await deposit_orders.capture_order(
                db, paypal, str(page["booking_id"]), order_id, now=now
            )
    except AppError as exc:
        if exc.status_code < 500:
            raise
        return unavailable()
    if status == 200 and body.get("success"):
        logger.info("guest_page.payment_captured booking=%s", page["booking_id"])
        return _back(token, "table-payment", {})
    if status == 410:
        return blocked("hold_expired", booking=guest_pages.payment_view(page, now))
    logger.warning("guest_page.capture_refused status=%s error=%s", status, body.get("error"))
    failure = guest_pages.payment_failure_words(body.get("error"))
    return _payment_screen(page, now, token, failure=failure, status_code=status)
