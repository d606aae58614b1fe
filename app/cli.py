"""Command line: ``python -m app.cli serve | migrate | api-keys create | staff-token | outbox``.

Every command opens the database the way the server does (DATABASE_URL, else SUPABASE_URL, else
the embedded data folder), so with nothing configured they act on the server's own data.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import uuid
from collections.abc import Sequence
from datetime import datetime

import asyncpg
from pydantic import ValidationError

from app import logs
from app.config import DatabaseMode, Settings, describe_invalid_settings, get_settings
from app.db import migrations
from app.db.embedded import embedded_jwt_secret
from app.db.resolve import embedded_dsn, open_database
from app.errors import AppError
from app.services import api_keys, outbox
from app.services.staff_auth import mint_staff_token


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if getattr(args, "handler", None) is _serve:
        logs.configure()
    else:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    try:
        settings = get_settings()
    except ValidationError as exc:
        print(f"error: {describe_invalid_settings(exc)}", file=sys.stderr)
        return 2
    try:
        result: int = args.handler(args, settings)
    except AppError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    return result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m app.cli", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the HTTP service (uvicorn) on PORT")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument(
        "--port", type=_port, default=None, help="port to listen on (default: PORT, else 8000)"
    )
    serve.set_defaults(handler=_serve)

    migrate = commands.add_parser("migrate", help="apply pending migrations to the database")
    migrate.set_defaults(handler=_migrate)

    keys = commands.add_parser("api-keys", help="manage API keys").add_subparsers(
        required=True, metavar="ACTION"
    )
    create = keys.add_parser("create", help="mint a key; the raw key is the last line printed")
    create.add_argument("--name", required=True, help="who the key is for, e.g. 'website'")
    create.add_argument(
        "--scopes",
        required=True,
        help="comma-separated: read:table_bookings, write:table_bookings, manage:table_bookings, "
        "*; for the pub's website (2026 contract) also create:bookings, payments:capture, "
        "read:menu",
    )
    create.add_argument("--rate-limit", type=int, default=1000, help="requests per hour")
    create.add_argument(
        "--expires-at", type=datetime.fromisoformat, help="ISO 8601 time, e.g. 2027-01-01T00:00Z"
    )
    create.add_argument("--description", default=None)
    create.set_defaults(handler=_create_key)

    staff = commands.add_parser(
        "staff-token",
        help="mint a staff sign-in token (HS256) for local use; the token is the last line printed",
    )
    staff.add_argument("--user-id", type=uuid.UUID, default=None, help="default: a new UUID")
    staff.add_argument("--email", required=True)
    staff.add_argument(
        "--role",
        choices=["staff", "manager", "super_admin"],
        default=None,
        help="embedded database only: also give this user the role (auth.users + user_roles)",
    )
    staff.add_argument("--ttl", type=int, default=8 * 3600, help="seconds the token is valid")
    staff.set_defaults(handler=_staff_token)

    printer = commands.add_parser(
        "outbox",
        help="print the messages recorded instead of sent (no Twilio or Microsoft credentials), "
        "as the guest would read them: texts, emails and their calendar files",
    )
    printer.add_argument("--reference", default=None, help="one booking's, e.g. TB-74DA3354")
    printer.add_argument("--limit", type=int, default=20, help="the newest N messages")
    printer.set_defaults(handler=_outbox)
    return parser


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    # Our RequestLog replaces uvicorn's access log, which would print query strings (tokens).
    uvicorn.run(
        "app.main:app",
        host=args.host,
        port=args.port or settings.port,
        log_config=None,
        access_log=False,
        # X-Forwarded-For is read by the app, from TRUSTED_PROXIES only (app.deps.client_of).
        proxy_headers=False,
    )
    return 0


def _port(text: str) -> int:
    if not (text.isdigit() and 0 < int(text) < 65536):
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (a number from 1 to 65535)")
    return int(text)


def _migrate(_: argparse.Namespace, settings: Settings) -> int:
    async def run() -> list[str]:
        if settings.database_mode is DatabaseMode.supabase:
            raise AppError(
                "Migrations need a direct connection: set DATABASE_URL to the project's "
                "Postgres URL (session mode, port 5432)."
            )
        if settings.database_mode is DatabaseMode.embedded:
            async with embedded_dsn(settings) as dsn:
                return await _apply(dsn)
        assert settings.database_url is not None
        return await _apply(settings.database_url.get_secret_value())

    applied = asyncio.run(run())
    print(f"applied {len(applied)} migration(s)" + (": " + ", ".join(applied) if applied else ""))
    return 0


async def _apply(dsn: str) -> list[str]:
    conn = await asyncpg.connect(dsn)
    try:
        return await migrations.apply_pending(conn)
    finally:
        await conn.close()


def _staff_token(args: argparse.Namespace, settings: Settings) -> int:
    if settings.supabase_jwt_secret is not None:
        secret = settings.supabase_jwt_secret.get_secret_value()
    elif settings.database_mode is DatabaseMode.embedded:
        secret = embedded_jwt_secret(settings.embedded_db_dir)
    else:
        raise AppError(
            "Without SUPABASE_JWT_SECRET staff tokens come from signing in to Supabase; "
            "this command only mints tokens for a shared secret or the embedded default."
        )
    roles: list[str] | None = None  # None: this command cannot see the user's roles
    user_id = str(args.user_id) if args.user_id else None
    if settings.database_mode is DatabaseMode.embedded:

        async def find_or_grant() -> tuple[str, list[str]]:
            async with embedded_dsn(settings) as dsn:
                conn = await asyncpg.connect(dsn)
                try:
                    return await _staff_user(
                        conn, email=args.email, user_id=user_id, role=args.role
                    )
                finally:
                    await conn.close()

        user_id, roles = asyncio.run(find_or_grant())
    elif args.role is not None:
        raise AppError("--role works on the embedded database only; give roles in the app.")
    user_id = user_id or str(uuid.uuid4())
    token = mint_staff_token(secret=secret, user_id=user_id, email=args.email, ttl_seconds=args.ttl)
    held = f" with role {', '.join(roles)}" if roles else ""
    print(f"staff token for {args.email} (user {user_id}){held}, valid {args.ttl} s:")
    if roles == []:
        print(
            f"warning: {args.email} has no role in this database, so every staff call with this "
            "token is refused (403 FORBIDDEN); run again with --role staff, manager or "
            "super_admin",
            file=sys.stderr,
        )
    elif roles is None:
        print(
            "note: the token is refused (403) until this user has a role in the pub's app",
            file=sys.stderr,
        )
    print(token)
    return 0


async def _staff_user(
    conn: asyncpg.Connection, *, email: str, user_id: str | None, role: str | None
) -> tuple[str, list[str]]:
    """The embedded database's user for ``email`` (the one given by id, else the one already
    there, so running the command again mints for the same user) with ``role`` added; its id and
    roles. A user is created only to hold a role."""
    if user_id is None:
        user_id = await conn.fetchval(
            "select u.id::text from auth.users u where lower(u.email) = lower($1)"
            " order by exists (select 1 from user_roles r where r.user_id = u.id) desc,"
            " u.created_at, u.id limit 1",
            email,
        )
    if role is not None:
        user_id = user_id or str(uuid.uuid4())
        await conn.execute(
            "insert into auth.users (id, email) values ($1::uuid, $2)"
            " on conflict (id) do update set email = excluded.email",
            user_id,
            email,
        )
        await conn.execute(
            "insert into user_roles (user_id, role_id)"
            " select $1::uuid, id from roles where name = $2 on conflict do nothing",
            user_id,
            role,
        )
    if user_id is None:
        return str(uuid.uuid4()), []
    held = await conn.fetch(
        "select r.name from user_roles ur join roles r on r.id = ur.role_id"
        " where ur.user_id = $1::uuid order by r.name",
        user_id,
    )
    return user_id, [row["name"] for row in held]


def _outbox(args: argparse.Namespace, settings: Settings) -> int:
    async def run() -> list[dict[str, object]]:
        async with open_database(settings) as db:
            return await outbox.read_outbox(db, reference=args.reference, limit=args.limit)

    print(outbox.as_the_guest_reads_it(asyncio.run(run())))
    return 0


def _create_key(args: argparse.Namespace, settings: Settings) -> int:
    scopes = api_keys.parse_scopes(args.scopes)

    async def run() -> tuple[str, dict[str, object]]:
        async with open_database(settings) as db:
            return await api_keys.create_api_key(
                db,
                name=args.name,
                scopes=scopes,
                rate_limit=args.rate_limit,
                expires_at=args.expires_at,
                description=args.description,
            )

    raw, row = asyncio.run(run())
    print(f"created API key {row['id']} named {row['name']!r} with scopes {', '.join(scopes)}")
    print("store it now: it is shown once and kept only as a hash")
    print(raw)
    return 0


if __name__ == "__main__":
    sys.exit(main())
