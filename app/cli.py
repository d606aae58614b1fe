"""Command line: ``python -m app.cli migrate | api-keys create | serve``.

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

from app import logs
from app.config import DatabaseMode, Settings, get_settings
from app.db import migrations
from app.db.embedded import embedded_jwt_secret
from app.db.resolve import embedded_dsn, open_database
from app.errors import AppError
from app.services import api_keys
from app.services.staff_auth import mint_staff_token


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if getattr(args, "handler", None) is _serve:
        logs.configure()
    else:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    settings = get_settings()
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
        help="comma-separated: read:table_bookings, write:table_bookings, manage:table_bookings, *",
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
    return parser


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    # Our RequestLog replaces uvicorn's access log, which would print query strings (tokens).
    uvicorn.run(
        "app.main:app",
        host=args.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        # X-Forwarded-For is read by the app, from TRUSTED_PROXIES only (app.deps.client_of).
        proxy_headers=False,
    )
    return 0


def _migrate(_: argparse.Namespace, settings: Settings) -> int:
    async def run() -> list[str]:
        if settings.database_mode is DatabaseMode.supabase:
            raise AppError(
                "Migrations need a direct connection: set DATABASE_URL to the project's "
                "Postgres URL (session mode, port 5432), or run `supabase db push`."
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
    user_id = str(args.user_id or uuid.uuid4())
    if settings.supabase_jwt_secret is not None:
        secret = settings.supabase_jwt_secret.get_secret_value()
    elif settings.database_mode is DatabaseMode.embedded:
        secret = embedded_jwt_secret(settings.embedded_db_dir)
    else:
        raise AppError(
            "Without SUPABASE_JWT_SECRET staff tokens come from signing in to Supabase; "
            "this command only mints tokens for a shared secret or the embedded default."
        )
    if args.role is not None:
        if settings.database_mode is not DatabaseMode.embedded:
            raise AppError("--role works on the embedded database only; give roles in the app.")

        async def grant() -> None:
            async with embedded_dsn(settings) as dsn:
                conn = await asyncpg.connect(dsn)
                try:
                    await conn.execute(
                        "insert into auth.users (id, email) values ($1::uuid, $2)"
                        " on conflict (id) do update set email = excluded.email",
                        user_id,
                        args.email,
                    )
                    await conn.execute(
                        "insert into user_roles (user_id, role_id)"
                        " select $1::uuid, id from roles where name = $2 on conflict do nothing",
                        user_id,
                        args.role,
                    )
                finally:
                    await conn.close()

        asyncio.run(grant())
    token = mint_staff_token(secret=secret, user_id=user_id, email=args.email, ttl_seconds=args.ttl)
    role = f" with role {args.role}" if args.role else ""
    print(f"staff token for {args.email} (user {user_id}){role}, valid {args.ttl} s:")
    print(token)
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
