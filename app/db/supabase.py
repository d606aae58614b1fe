"""``Database`` over supabase-py: ``POST {SUPABASE_URL}/rest/v1/rpc/<name>``, service-role key."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import httpx
from postgrest.exceptions import APIError

from app.db.errors import error_from_database
from app.db.flush import FlushGroup
from app.errors import InternalError, ServiceUnavailable
from supabase import AsyncClient, AsyncClientOptions, acreate_client

logger = logging.getLogger("app.db")

#: PostgREST's own codes for "cannot reach or use the database right now".
_POSTGREST_UNAVAILABLE = frozenset({"PGRST000", "PGRST001", "PGRST002", "PGRST003"})


class SupabaseDatabase:
    """The supabase-py adapter; create it with :meth:`connect` inside the running event loop."""

    def __init__(self, client: AsyncClient, http: httpx.AsyncClient) -> None:
        self._client = client
        self._http = http
        self._flushes = FlushGroup()

    @classmethod
    async def connect(
        cls, url: str, service_role_key: str, *, request_timeout: float
    ) -> SupabaseDatabase:
        http = httpx.AsyncClient(timeout=request_timeout)
        options = AsyncClientOptions(
            auto_refresh_token=False,
            persist_session=False,
            postgrest_client_timeout=request_timeout,
            httpx_client=http,
        )
        client = await acreate_client(url, service_role_key, options=options)
        return cls(client, http)

    async def close(self) -> None:
        await self._http.aclose()

    async def rpc(
        self, name: str, params: Mapping[str, Any] | None = None, *, flush_after: bool = False
    ) -> Any:
        try:
            response = await self._client.rpc(name, dict(params or {})).execute()
            if flush_after:
                # A request of its own, sent after the call's commit (or another caller's, sent
                # after it: FlushGroup): its commit flushes the WAL.
                await self._flushes.after_commit(
                    lambda: self._client.rpc("tb_flush_wal", {}).execute()
                )
        except APIError as exc:
            raise _map_api_error(name, exc) from exc
        except httpx.HTTPError as exc:
            logger.warning("db.unreachable", extra={"function": name, "error": type(exc).__name__})
            raise ServiceUnavailable(headers={"Retry-After": "5"}) from exc
        return response.data


def _map_api_error(name: str, exc: APIError) -> Exception:
    code = str(exc.code) if exc.code is not None else ""
    # A body that is not PostgREST JSON (a proxy's error page) leaves the HTTP status as the
    # code: three digits, unlike a five-character SQLSTATE such as 23505.
    http_status = int(code) if len(code) == 3 and code.isdigit() else None
    if code in _POSTGREST_UNAVAILABLE or (http_status is not None and http_status >= 500):
        logger.warning("db.unavailable", extra={"function": name, "code": code})
        return ServiceUnavailable(headers={"Retry-After": "5"})
    if code == "PGRST202":
        logger.error("db.function_not_found", extra={"function": name})
        return InternalError()
    details = (
        exc.details if isinstance(exc.details, str) or exc.details is None else str(exc.details)
    )
    return error_from_database(
        function=name, sqlstate=code or None, message=exc.message, detail=details, hint=exc.hint
    )
