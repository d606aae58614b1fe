"""Whether the service can do its work right now."""

from __future__ import annotations

import asyncio

from app.db.port import Database
from app.errors import AppError


async def database_ok(db: Database, *, within_seconds: float = 3.0) -> bool:
    try:
        async with asyncio.timeout(within_seconds):
            return bool(await db.rpc("service_health") == "ok")
    except (AppError, TimeoutError):
        return False
