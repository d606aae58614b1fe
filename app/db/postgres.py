"""``Database`` over an asyncpg pool: ``DATABASE_URL``, a Supabase pooler, or the embedded server.

A call is made the way PostgREST makes it, so both adapters behave alike: the named JSON
arguments are turned into typed values by ``json_to_record`` with the function's own argument
types, and the result is serialised to JSON by Postgres. The function's signature is read from
``pg_catalog`` once per process and the SQL text is cached, so a call is one round trip.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg

from app.db.errors import error_from_database
from app.db.flush import FlushGroup
from app.errors import AppError, InternalError, ServiceUnavailable

logger = logging.getLogger("app.db")

_SIGNATURES_SQL = """
select p.oid::int as oid,
       p.proretset as returns_set,
       p.prorettype = 'void'::regtype as returns_void,
       p.pronargdefaults as n_defaults,
       coalesce(p.proargnames, '{}') as arg_names,
       coalesce(p.proargmodes::text[], '{}') as arg_modes,
       array(select format_type(t, null)
             from unnest(coalesce(p.proallargtypes, p.proargtypes::oid[])) as t) as arg_types
from pg_proc p
where p.pronamespace = 'public'::regnamespace and p.proname = $1 and p.prokind = 'f'
"""


#: The durability barrier of ``Database.rpc(flush_after=True)``.
_FLUSH_SQL = "select public.tb_flush_wal()"

_BROKEN_CONNECTION = (asyncpg.InterfaceError, asyncpg.InternalClientError)


@dataclass(frozen=True, slots=True)
class _Signature:
    returns_set: bool
    returns_void: bool
    inputs: tuple[tuple[str, str], ...]  # (name, type) of the IN arguments, in order
    required: frozenset[str]


async def _no_reset(conn: asyncpg.Connection) -> None:
    """asyncpg's default reset (advisory unlock, CLOSE ALL, UNLISTEN, RESET ALL) would be one more
    round trip after every call. Nothing here outlives a transaction: the service's locks are
    transaction locks, its settings ``set_config(..., true)``, and it opens no cursors and
    listens to nothing."""


class PostgresDatabase:
    """The asyncpg adapter; create it with :meth:`connect` inside the running event loop."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._sql: dict[tuple[str, frozenset[str]], tuple[str, bool]] = {}
        self._flushes = FlushGroup()

    @classmethod
    async def connect(
        cls,
        dsn: str,
        *,
        statement_cache_size: int = 100,
        min_size: int = 0,
        max_size: int = 10,
        command_timeout: float = 10.0,
        connect_timeout: float = 5.0,
    ) -> PostgresDatabase:
        # min_size 0 lets the service start (and /health answer 503) while the database is down;
        # the pool connects on first use and replaces connections lost to a restart.
        pool = await asyncpg.create_pool(
            dsn,
            min_size=min_size,
            max_size=max_size,
            statement_cache_size=statement_cache_size,
            command_timeout=command_timeout,
            timeout=connect_timeout,
            max_inactive_connection_lifetime=60,
            reset=_no_reset,
        )
        return cls(pool)

    async def close(self) -> None:
        await self._pool.close()

    async def rpc(
        self, name: str, params: Mapping[str, Any] | None = None, *, flush_after: bool = False
    ) -> Any:
        args = dict(params or {})
        try:
            sql, returns_void = await self._statement(name, frozenset(args))
            async with self._pool.acquire() as conn:
                try:
                    if not args:
                        value = await conn.fetchval(sql)
                    else:
                        value = await conn.fetchval(sql, json.dumps(args, default=str))
                    if flush_after:
                        # Its own transaction, begun after the call's commit (on this
                        # connection), or one that began after it on another (FlushGroup).
                        await self._flushes.after_commit(lambda: conn.execute(_FLUSH_SQL))
                except _BROKEN_CONNECTION:
                    # Its protocol state is unknown (the server went away mid-call): never hand
                    # it to another request; the pool opens a fresh one.
                    conn.terminate()
                    raise
        except AppError:
            raise
        except asyncpg.PostgresError as exc:
            if exc.sqlstate in ("42883", "0A000"):
                # The function was dropped or changed shape under us: read its signature again.
                self._sql.clear()
            raise error_from_database(
                function=name,
                sqlstate=exc.sqlstate,
                message=getattr(exc, "message", str(exc)),
                detail=getattr(exc, "detail", None),
                hint=getattr(exc, "hint", None),
            ) from exc
        except (OSError, TimeoutError, *_BROKEN_CONNECTION) as exc:
            logger.warning(
                "db.unreachable",
                extra={"function": name, "error": type(exc).__name__, "reason": str(exc)},
            )
            raise ServiceUnavailable(headers={"Retry-After": "5"}) from exc
        if returns_void or value is None:
            return None
        return json.loads(value)

    async def _statement(self, name: str, given: frozenset[str]) -> tuple[str, bool]:
        key = (name, given)
        cached = self._sql.get(key)
        if cached is None:
            signature = await self._signature(name, given)
            cached = (_build_call(name, signature, given), signature.returns_void)
            self._sql[key] = cached
        return cached

    async def _signature(self, name: str, given: frozenset[str]) -> _Signature:
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(_SIGNATURES_SQL, name)
        candidates = [s for s in map(_parse_signature, rows) if s.required <= given]
        candidates = [s for s in candidates if given <= {n for n, _ in s.inputs}]
        if len(candidates) != 1:
            logger.error(
                "db.function_not_found",
                extra={"function": name, "arguments": sorted(given), "matches": len(candidates)},
            )
            raise InternalError()
        return candidates[0]


def _parse_signature(row: asyncpg.Record) -> _Signature:
    names: list[str] = list(row["arg_names"])
    types: list[str] = list(row["arg_types"])
    modes: list[str] = list(row["arg_modes"]) or ["i"] * len(types)
    inputs = tuple((names[i], types[i]) for i, mode in enumerate(modes) if mode in ("i", "b", "v"))
    n_required = len(inputs) - int(row["n_defaults"])
    return _Signature(
        returns_set=bool(row["returns_set"]),
        returns_void=bool(row["returns_void"]),
        inputs=inputs,
        required=frozenset(n for n, _ in inputs[:n_required]),
    )


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _build_call(name: str, signature: _Signature, given: frozenset[str]) -> str:
    used = [(n, t) for n, t in signature.inputs if n in given]
    call = f"public.{_ident(name)}(" + ", ".join(f"{_ident(n)} => a.{_ident(n)}" for n, _ in used)
    call += ")"
    source = ""
    if used:
        columns = ", ".join(f"{_ident(n)} {t}" for n, t in used)
        source = f"json_to_record($1::json) as a({columns})"
    if signature.returns_set:
        from_clause = f"{source}, lateral {call} as r" if source else f"{call} as r"
        # Identifiers are quoted by _ident and types come from pg_catalog, never from callers.
        return f"select coalesce(json_agg(r), '[]')::text from {from_clause}"  # noqa: S608
    select = f"select {call}" if signature.returns_void else f"select to_json({call})::text"
    return f"{select} from {source}" if source else select
