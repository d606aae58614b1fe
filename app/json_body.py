"""Request bodies as strict JSON: an object that names a key twice is refused, not read as its
last value (``{"party_size": 2, "party_size": 20}`` means nothing reliable)."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response


class DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(f"the key {key!r} appears more than once")
        self.key = key


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise DuplicateKey(key)
        result[key] = value
    return result


def refuse_duplicate_keys(raw: bytes | str) -> None:
    """Raise DuplicateKey when an object of the JSON text names a key twice; text that is not
    JSON is left for the validator to report as it does."""
    try:
        json.loads(raw, object_pairs_hook=_object)
    except DuplicateKey:
        raise
    except ValueError:
        pass


def duplicate_key_error(exc: DuplicateKey) -> RequestValidationError:
    return RequestValidationError(
        [
            {
                "type": "json_duplicate_key",
                "loc": ("body", exc.key),
                "msg": f"The key {exc.key!r} appears more than once in one object",
                "input": None,
            }
        ]
    )


def _is_json(request: Request) -> bool:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return content_type in ("", "application/json") or content_type.endswith("+json")


class StrictJSONRoute(APIRoute):
    """An APIRoute whose JSON body may not repeat a key (malformed JSON is left to FastAPI,
    which reports it as before)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict_handler(request: Request) -> Response:
            if request.method in ("POST", "PUT", "PATCH") and _is_json(request):
                raw = await request.body()  # cached: FastAPI reads the same bytes next
                if raw.strip():
                    try:
                        refuse_duplicate_keys(raw)
                    except DuplicateKey as exc:
                        raise duplicate_key_error(exc) from None
            return await handler(request)

        return strict_handler
