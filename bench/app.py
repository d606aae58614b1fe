"""The benchmark's ASGI app: the service's own ``create_app()`` plus ``GET /bench/floor``.

Settings come from the environment exactly as the service reads them (``DATABASE_URL``,
``BOOTSTRAP_API_KEY``, ``APP_ENV``, ``AVAILABILITY_LIMIT_PER_MINUTE``, ...). ``/bench/floor`` makes
one trivial round trip (``service_health``) through the same ``Database`` and pool the real
routes use, through the same middleware, and returns a tiny envelope: the cheapest request the
service could answer with a database, the yardstick the other endpoints are measured against.

Run it the way ``python -m app.cli serve`` runs the service (JSON logs on stderr, uvicorn's access
log off, one worker)::

    DATABASE_URL=... BOOTSTRAP_API_KEY=... APP_ENV=test .venv/bin/python -m bench.app --port 8100

(or ``uvicorn bench.app:app`` from the repository's root).

``bench/run.py`` starts it that way; nothing else imports this module.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
# Run as a script (``python bench/app.py``), sys.path[0] is bench/, where this very file would
# shadow the ``app`` package: put the repository first instead.
sys.path[:] = [str(REPO), *(p for p in sys.path if Path(p or ".").resolve() != HERE)]

from app.config import get_settings  # noqa: E402
from app.db.port import Database  # noqa: E402
from app.main import create_app  # noqa: E402


def build() -> FastAPI:
    application = create_app(get_settings())

    @application.get("/bench/floor", include_in_schema=False)
    async def floor(request: Request) -> dict[str, Any]:
        db: Database = request.app.state.db
        return {"success": True, "data": await db.rpc("service_health")}

    return application


app = build()


def main() -> None:
    import uvicorn

    from app import logs

    parser = argparse.ArgumentParser(description="Serve the benchmark app (one worker).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    logs.configure()  # as `python -m app.cli serve` does: one JSON line per request on stderr
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        workers=1,
        log_config=None,
        access_log=False,
        proxy_headers=True,
    )


if __name__ == "__main__":
    main()
