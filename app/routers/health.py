"""``GET /health``: is the service up and can it reach its database."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from app.deps import Db
from app.errors import ServiceUnavailable
from app.schemas import Health, HealthUnavailable
from app.services import health

router = APIRouter(tags=["health"])

_OK = {"status": "ok", "database": "ok"}


@router.get(
    "/health",
    summary="Health check",
    response_model=Health,
    responses={
        200: {
            "description": "The service and its database answer.",
            "content": {"application/json": {"example": _OK}},
        },
        503: {"description": "The database does not answer.", "model": HealthUnavailable},
    },
)
async def get_health(db: Db) -> Any:
    """Answers 200 when the database answers, 503 when it does not."""
    if await health.database_ok(db):
        return _OK
    error = ServiceUnavailable("The database is not answering.")
    body = {"status": "unavailable", "database": "unavailable", **error.envelope()}
    return JSONResponse(body, status_code=error.status_code, headers={"Retry-After": "5"})
