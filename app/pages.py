"""Server-rendered guest pages: one Jinja2 environment, HTML escaped by default.

Templates live in ``app/templates`` and extend ``base.html`` (the pub's header, one stylesheet
inlined so a page is one request on a phone, a call button in the footer). The pages' text is in
the pub's voice, like the SMS and email.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

_HERE = Path(__file__).parent
PUB_PHONE = "01753 682707"
PUB_PHONE_TEL = "+441753682707"


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(_HERE / "templates"),
        autoescape=select_autoescape(("html",)),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        pub_phone=PUB_PHONE,
        pub_phone_tel=PUB_PHONE_TEL,
        stylesheet=(_HERE / "static" / "guest.css").read_text(encoding="utf-8"),
    )
    return env


def render(template: str, *, status_code: int = 200, **context: Any) -> HTMLResponse:
    """The page, never cached (it carries a guest's booking), not framed by other sites."""
    html = environment().get_template(template).render(**context)
    return HTMLResponse(
        html,
        status_code=status_code,
        headers={
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
            "X-Frame-Options": "DENY",
            "X-Content-Type-Options": "nosniff",
        },
    )
