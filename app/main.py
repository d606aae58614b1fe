"""The application factory: ``create_app()`` and the ASGI app ``app.main:app``."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import __version__, logs, openapi_dates, openapi_docs
from app.config import DatabaseMode, Environment, Settings, get_settings
from app.db.embedded import embedded_jwt_secret
from app.db.port import Database
from app.db.resolve import open_database
from app.deps import TrustedProxies, api_key_of
from app.errors import (
    AppError,
    InternalError,
    MethodNotAllowed,
    NotConfigured,
    NotFound,
    PayloadTooLarge,
    RateLimitExceeded,
    Unauthorized,
    ValidationFailed,
)
from app.integrations.graph import GraphMailer
from app.integrations.paypal import PayPalClient, WebhookVerifier
from app.integrations.twilio import TwilioClient
from app.logs import RequestLog
from app.routers import (
    cron,
    guest_confirm,
    health,
    management_reads,
    monitoring,
    table_bookings,
    webhooks_paypal,
    webhooks_twilio,
)
from app.routers import guest_pages as guest_pages_router
from app.routers import management_bookings as management_bookings_router
from app.services import api_keys, availability
from app.services.monitoring import UsageRecorder
from app.services.notifications import StaffAddresses
from app.services.payments import PayPal
from app.services.staff_auth import StaffTokenVerifier
from app.services.worker import Senders

logger = logging.getLogger("app")

DESCRIPTION = """
Table bookings for **The Anchor**: availability, regular tables and Sunday lunch (a roast for
every guest and a PayPal deposit), guest self-service, staff actions, SMS and email.

Every response is an envelope: `{"success": true, "data": ...}` or
`{"success": false, "error": {"code", "message", "details"}}`. Dates are `YYYY-MM-DD` and times
`HH:MM`, both Europe/London wall clock; money is a string with two decimals, in GBP.

Authenticate with an API key issued by the pub, as `X-API-Key: anch_...` or
`Authorization: Bearer anch_...`.
""".strip()


def _utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(
    settings: Settings | None = None,
    *,
    database: Database | None = None,
    clock: Callable[[], datetime] = _utc_now,
) -> FastAPI:
    """Build the app. With ``database`` given (tests), the lifespan uses it and closes nothing."""
    settings = settings or get_settings()
    if settings.environment is Environment.production:
        logs.configure()  # on Vercel nothing else configures logging

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            db: Database = (
                database
                if database is not None
                else await stack.enter_async_context(open_database(settings))
            )
            if settings.bootstrap_api_key is not None:
                await api_keys.ensure_bootstrap_key(
                    db, raw_key=settings.bootstrap_api_key.get_secret_value()
                )
            http = await stack.enter_async_context(httpx.AsyncClient(timeout=10))
            app.state.db = db
            app.state.staff_verifier = StaffTokenVerifier(
                jwt_secret=_staff_jwt_secret(settings),
                supabase_url=settings.supabase_url,
                http=http,
            )
            app.state.paypal = _paypal(settings, http, clock)
            app.state.senders = _senders(settings, http, app.state.paypal)
            if app.state.senders.email is not None:
                stack.callback(app.state.senders.email.close)
            if database is None:
                # A serving process: what exists now (modules, the app, its schemas, the
                # phone metadata; some 100,000 objects) lives as long as the process, so it is
                # taken out of the cyclic collector's reach and its full collections stop
                # walking it. Python CPU per create -5% (bench/README.md, step 17).
                gc.collect()
                gc.freeze()
            yield

    app = FastAPIOffline(
        title="The Anchor table-booking API",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.clock = clock
    app.state.trusted_proxies = TrustedProxies(settings.trusted_proxies)
    # Availability answers kept for reuse while the database finds them unchanged.
    app.state.availability_answers = availability.AnswerCache()

    _install_error_handlers(app)
    app.add_middleware(CatchAllErrors)  # inside CORS, so a 500 still carries CORS headers
    app.add_middleware(RateLimitHeaders)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(UsageRecorder)  # API error rate and latency for monitoring
    app.add_middleware(RequestLog)  # outermost: every response carries X-Request-ID
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_allowed_origins,
        allow_methods=["GET", "POST", "PATCH", "OPTIONS"],
        allow_headers=[
            "Content-Type",
            "Authorization",
            "X-API-Key",
            "Idempotency-Key",
            "X-Booking-Token",
        ],
        expose_headers=["X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"],
    )
    app.include_router(health.router)
    # Before table_bookings, whose /{reference} would take /confirmations.
    app.include_router(guest_confirm.router)
    app.include_router(table_bookings.router)
    app.include_router(cron.router)
    app.include_router(monitoring.router)
    app.include_router(webhooks_twilio.router)
    app.include_router(webhooks_paypal.router)
    app.include_router(management_reads.router)
    app.include_router(management_bookings_router.router)
    app.include_router(guest_pages_router.router)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _paypal(
    settings: Settings, http: httpx.AsyncClient, clock: Callable[[], datetime]
) -> PayPal | None:
    if not (settings.paypal_client_id and settings.paypal_client_secret):
        return None
    assert settings.public_base_url is not None  # Settings refuses PayPal without it
    client = PayPalClient(
        client_id=settings.paypal_client_id,
        client_secret=settings.paypal_client_secret.get_secret_value(),
        environment=settings.paypal_environment,
        http=http,
    )
    verifier = (
        WebhookVerifier(webhook_id=settings.paypal_webhook_id, http=http, clock=clock)
        if settings.paypal_webhook_id
        else None
    )
    return PayPal(
        client=client,
        verifier=verifier,
        return_url=settings.public_base_url.rstrip("/") + "/api/table-bookings/payment/return",
        cancel_url=settings.payment_cancel_url,
    )


def _senders(settings: Settings, http: httpx.AsyncClient, paypal: PayPal | None) -> Senders:
    """Twilio and Graph when their credentials are set; otherwise the outbox records messages."""
    sms = None
    if (
        settings.twilio_account_sid
        and settings.twilio_auth_token
        and (settings.twilio_messaging_service_sid or settings.twilio_phone_number)
    ):
        sms = TwilioClient(
            account_sid=settings.twilio_account_sid,
            auth_token=settings.twilio_auth_token.get_secret_value(),
            http=http,
            messaging_service_sid=settings.twilio_messaging_service_sid,
            from_number=settings.twilio_phone_number,
        )
    email = None
    if (
        settings.microsoft_tenant_id
        and settings.microsoft_client_id
        and settings.microsoft_client_secret
        and settings.microsoft_user_email
    ):
        email = GraphMailer(
            tenant_id=settings.microsoft_tenant_id,
            client_id=settings.microsoft_client_id,
            client_secret=settings.microsoft_client_secret.get_secret_value(),
            sender=settings.microsoft_user_email,
            http=http,
        )
    logger.info(
        "messages.providers sms=%s email=%s",
        "twilio" if sms else "outbox",
        "graph" if email else "outbox",
    )
    callback = (
        settings.public_base_url.rstrip("/") + "/api/webhooks/twilio/status"
        if settings.public_base_url
        else None
    )
    return Senders(
        sms=sms,
        email=email,
        staff=StaffAddresses(manager=settings.manager_email, kitchen=settings.kitchen_email),
        status_callback_url=callback,
        sms_from=settings.twilio_phone_number,
        paypal=paypal,
        quiet_hours=settings.sms_quiet_hours,
        public_base_url=settings.public_base_url,
    )


def _staff_jwt_secret(settings: Settings) -> str | None:
    if settings.supabase_jwt_secret is not None:
        return settings.supabase_jwt_secret.get_secret_value()
    if settings.database_mode is DatabaseMode.embedded:
        return embedded_jwt_secret(settings.embedded_db_dir)
    return None  # staff tokens are then checked against the project's JWKS


def _field_name(location: Any) -> str:
    """``("body", "customer", "mobile_number")`` -> ``customer.mobile_number``; a header keeps
    its prefix (``header.Idempotency-Key``) so it is not mistaken for a body field."""
    parts = [str(p) for p in location]
    if parts and parts[0] in ("body", "query", "path"):
        parts = parts[1:]
    return ".".join(parts) or "body"


async def _count_keyed_request(request: Request) -> None:
    """A request FastAPI could not read (its body, or the query of a route that reads the key
    itself) is refused before the key was checked; when it came with an API key, check and count
    it first: an unknown key or a used-up limit is answered as such (401, 429), as on every
    other route, and a good key gets its X-RateLimit-* state with the validation error."""
    if getattr(request.state, "rate_limit", None) is not None:
        return
    raw = api_key_of(request)
    if not raw:
        return
    caller = await api_keys.authenticate_api_key(
        request.app.state.db, raw_key=raw, now=request.app.state.clock()
    )
    request.state.rate_limit = caller.rate


def _allowed_methods(request: Request) -> list[str]:
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.router.routes):
        path, route_methods = getattr(route, "path", None), getattr(route, "methods", None)
        if path and route_methods and compile_path(path)[0].match(request.url.path):
            methods.update(route_methods)
    return sorted(methods)


def _needs_credentials(request: Request) -> bool:
    path = request.url.path
    return path.startswith("/api/table-bookings") and path != "/api/table-bookings/payment/return"


def _has_credentials(request: Request) -> bool:
    headers = request.headers
    return bool(
        headers.get("x-api-key")
        or headers.get("authorization")
        or headers.get("x-booking-token")
        or request.query_params.get("token")
    )


def _install_error_handlers(app: FastAPI) -> None:
    async def on_app_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, AppError)
        if isinstance(exc, NotConfigured):
            request.state.not_configured = True  # read by UsageRecorder: not an outage
        return JSONResponse(exc.envelope(), status_code=exc.status_code, headers=exc.headers)

    async def on_validation_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        fields = [
            {
                "field": _field_name(err.get("loc", ())),
                "message": err.get("msg", "invalid"),
                "type": err.get("type"),
            }
            for err in exc.errors()
        ]
        names = ", ".join(dict.fromkeys(f["field"] for f in fields))
        error: AppError = ValidationFailed(f"The request is not valid: {names}.", details=fields)
        if _needs_credentials(_) and not _has_credentials(_):
            # A body FastAPI could not read (malformed JSON, a key named twice) is refused
            # before the route's credentials are checked: without any, that is the answer.
            return await on_app_error(
                _, Unauthorized("Send the booking's token, an API key or a staff sign-in token.")
            )
        try:
            await _count_keyed_request(_)
        except (Unauthorized, RateLimitExceeded) as refused:
            error = refused
        except AppError:
            pass  # the database is not answering: the validation error still stands
        return await on_app_error(_, error)

    async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        error: AppError
        if exc.status_code == 404:
            error = NotFound(f"There is nothing at {request.url.path}.")
        elif exc.status_code == 405:
            error = MethodNotAllowed(f"{request.method} is not allowed on {request.url.path}.")
        elif isinstance(exc, _TooLarge):
            error = PayloadTooLarge(
                f"The request body is larger than {exc.max_bytes} bytes.",
                details={"max_bytes": exc.max_bytes},
            )
        else:
            error = AppError(str(exc.detail))
            error.status_code = exc.status_code  # type: ignore[misc]
        response = await on_app_error(request, error)
        if exc.headers:
            response.headers.update(exc.headers)
        if exc.status_code == 405:
            # Starlette names the methods of the first route matching the path; a path served
            # by several routes (GET and POST /api/table-bookings) allows all of theirs.
            response.headers["Allow"] = ", ".join(_allowed_methods(request))
        return response

    app.add_exception_handler(AppError, on_app_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)


class BodyLimit:
    """Refuse a request body over ``max_bytes`` before it is read into memory: by its
    Content-Length at once, or while it streams in when it has none."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if b"%00" in scope.get("query_string", b""):
            # PostgreSQL cannot store U+0000: refuse it before any handler sees it.
            error = ValidationFailed(
                "The query string must not contain the NUL character.",
                details=[{"field": "query", "message": "NUL character"}],
            )
            await JSONResponse(error.envelope(), status_code=error.status_code)(
                scope, receive, send
            )
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        error = PayloadTooLarge(
            f"The request body is larger than {self.max_bytes} bytes.",
            details={"max_bytes": self.max_bytes},
        )
        response = JSONResponse(error.envelope(), status_code=error.status_code)
        await response(scope, receive, send)


class _TooLarge(StarletteHTTPException):
    # An HTTPException, because FastAPI turns any other error while reading a body into a 400.
    def __init__(self, max_bytes: int) -> None:
        super().__init__(status_code=413)
        self.max_bytes = max_bytes


class RateLimitHeaders:
    """Add ``X-RateLimit-*`` to every response of a request made with an API key."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            state = scope.get("state") or {}
            rate = state.get("rate_limit")
            if message["type"] == "http.response.start" and rate is not None:
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [
                    (name.lower().encode(), value.encode())
                    for name, value in rate.headers().items()
                    if name.lower().encode() not in present
                ]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, with_headers)


class CatchAllErrors:
    """Turn an unhandled exception into a 500 envelope; the cause goes to the log only."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            logger.exception("http.unhandled_error", extra={"path": scope.get("path")})
            if started:
                raise
            error = InternalError()
            response = JSONResponse(error.envelope(), status_code=error.status_code)
            await response(scope, receive, send)


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The document, its example dates moved ahead of today (built once, moved once a day)."""
    today = app.state.clock().astimezone(openapi_dates.LONDON).date()
    if app.openapi_schema is None or app.state.openapi_day != today:
        app.openapi_schema = openapi_dates.kept_ahead(_document(app), today=today)
        app.state.openapi_day = today
    return app.openapi_schema


def _document(app: FastAPI) -> dict[str, Any]:
    written: dict[str, Any] | None = getattr(app.state, "openapi_written", None)
    if written is not None:
        return written
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    # Validation errors are 400 VALIDATION_ERROR in the envelope, not FastAPI's 422 schema;
    # a 422 stays documented only where the route declares its own (POLICY_VIOLATION, ...).
    for operation in (op for path in schema.get("paths", {}).values() for op in path.values()):
        unprocessable = operation.get("responses", {}).get("422", {})
        refs = str(unprocessable.get("content", {}))
        if "HTTPValidationError" in refs:
            del operation["responses"]["422"]
    for name in ("HTTPValidationError", "ValidationError"):
        schema.get("components", {}).get("schemas", {}).pop(name, None)
    # Summaries, descriptions, examples, error codes and security of every operation.
    openapi_docs.apply(
        schema,
        read_by_routes=table_bookings.READ_BY_ROUTES + management_bookings_router.READ_BY_ROUTES,
    )
    app.state.openapi_written = schema
    return schema


app = create_app()
