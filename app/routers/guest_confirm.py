"""Tap-to-confirm: the guest's page ``/g/{token}/confirm-booking`` and the staff call list
``GET /api/table-bookings/confirmations``.

The page only shows; its form POSTs the answer (a GET never answers: messaging apps open links
in a text to preview them). After the answer the browser is sent back to the page (303), which
then shows the outcome, so reloading it never answers twice.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from app.deps import Client, Db, Now, acting
from app.pages import render
from app.schemas import ConfirmCallList, Envelope, ErrorEnvelope, IsoDate
from app.services import confirmations, guest_pages
from app.services.actors import Actor
from app.services.api_keys import MANAGE

router = APIRouter()

Token = Annotated[str, Path(max_length=200)]
_FORM_MAX = 1024


def _facts(booking: dict[str, Any] | None) -> dict[str, Any]:
    if booking is None:
        return {}
    day = dt.date.fromisoformat(booking["date"])
    return {"day_words": f"{day:%A} {day.day} {day:%B}"}


def _page(page: confirmations.ConfirmPage, *, error: str | None = None) -> HTMLResponse:
    return render(
        "confirm_booking.html",
        status_code=400 if error else page.status_code,
        kind=page.kind,
        booking=page.booking,
        error=error,
        **_facts(page.booking),
    )


@router.get("/g/{token}/confirm-booking", include_in_schema=False)
async def confirm_page(token: Token, db: Db, now: Now) -> HTMLResponse:
    """The booking and the two answers; or why the link cannot be used."""
    return _page(await confirmations.confirm_page(db, token, now=now))


@router.post("/g/{token}/confirm-booking", include_in_schema=False, response_model=None)
async def confirm_answer(
    token: Token, request: Request, db: Db, now: Now, client: Client
) -> HTMLResponse | RedirectResponse:
    """Records the answer (form ``answer=yes|no``), then back to the page."""
    raw = await request.body()
    fields = guest_pages.read_form(raw) if len(raw) <= _FORM_MAX else {}
    answer = fields.get("answer", "")
    if answer not in ("yes", "no"):
        page = await confirmations.confirm_page(db, token, now=now)
        return _page(page, error="Please choose one of the two answers below.")
    chosen: confirmations.Answer = "yes" if answer == "yes" else "no"
    await confirmations.answer(db, token, answer=chosen, client=client, now=now)
    return RedirectResponse(request.url.path, status_code=303)


@router.get(
    "/api/table-bookings/confirmations",
    tags=["table bookings"],
    summary="Confirm call list",
    response_model=Envelope[ConfirmCallList],
    responses={s: {"model": ErrorEnvelope} for s in (400, 401, 403, 429, 503)},
)
async def call_list(
    db: Db,
    now: Now,
    _: Annotated[Actor, Depends(acting(key_scope=MANAGE, staff_action="view"))],
    date: Annotated[
        IsoDate | None, Query(description="The day, YYYY-MM-DD (London); tomorrow if omitted.")
    ] = None,
) -> dict[str, Any]:
    """Who to ring: guests who did not answer the confirm text, and those who could not be
    texted."""
    day = date or confirmations.tomorrow(now)
    return {"success": True, "data": await confirmations.call_list(db, day=day, now=now)}
