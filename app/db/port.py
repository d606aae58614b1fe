"""The data-access port: every read and write is a call to a Postgres function."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class Database(Protocol):
    """Calls a function of the ``public`` schema with named JSON arguments.

    The result is the function's value as JSON, the way PostgREST returns it: a scalar, an
    object for a composite row, a list for ``SETOF``/``TABLE`` functions. The value of a ``void``
    function is meaningless (PostgREST gives ``[]``, asyncpg ``None``); callers ignore it.
    Money comes back as strings (``"5.00"``), because a JSON number would become a float.
    Business refusals raised by SQL come back as the matching ``AppError``; an unreachable
    database as ``ServiceUnavailable``.

    ``flush_after``: the call returns only once the WAL is on disk past the function's commit
    (``tb_flush_wal`` after it), for a function asked to commit without waiting for the disk
    (a create's ``flush_after_commit``); calls waiting at once share flushes (``FlushGroup``).
    ``ServiceUnavailable`` when the flush cannot be made:
    the caller then cannot know whether the write survives, and says so.
    """

    async def rpc(
        self, name: str, params: Mapping[str, Any] | None = None, *, flush_after: bool = False
    ) -> Any: ...

    async def close(self) -> None: ...
