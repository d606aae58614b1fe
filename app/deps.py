"""The dependencies routers declare: ``Db``, ``SettingsDep`` and who is calling."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from app.config import Settings
from app.db.port import Database
from app.errors import Unauthorized
from app.services import api_keys
from app.services.api_keys import ApiKeyCaller


def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


Db = Annotated[Database, Depends(get_db)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]

# auto_error=False: a missing credential is answered by us, in the envelope, not by FastAPI.
api_key_header = APIKeyHeader(
    name="X-API-Key",
    scheme_name="ApiKey",
    description="An API key `anch_...` issued by the pub.",
    auto_error=False,
)
bearer = HTTPBearer(
    scheme_name="Bearer",
    description="`Authorization: Bearer anch_...` (an API key).",
    auto_error=False,
)


async def api_key_caller(
    db: Db,
    x_api_key: Annotated[str | None, Depends(api_key_header)],
    authorization: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> ApiKeyCaller:
    """The API key presented as ``X-API-Key`` (preferred) or ``Authorization: Bearer anch_...``."""
    raw = x_api_key
    if not raw and authorization is not None and authorization.credentials.startswith("anch_"):
        raw = authorization.credentials
    if not raw:
        raise Unauthorized("Send an API key in X-API-Key or as Authorization: Bearer anch_...")
    return await api_keys.authenticate_api_key(db, raw_key=raw)


Caller = Annotated[ApiKeyCaller, Depends(api_key_caller)]


def require_scope(scope: str) -> Callable[[ApiKeyCaller], Awaitable[ApiKeyCaller]]:
    """A dependency that admits only keys holding ``scope`` (``*`` and ``manage:`` included)."""

    async def dependency(caller: Caller) -> ApiKeyCaller:
        return api_keys.require(caller, scope)

    dependency.__name__ = f"require_{scope.replace(':', '_')}"
    return dependency
