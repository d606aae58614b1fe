"""One typed ``Settings``, read from the environment. Nothing else reads ``os.environ``."""

from __future__ import annotations

import ipaddress
import re
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Self
from urllib.parse import urlsplit

import platformdirs
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

#: Values that mean "not set yet" and must never guard a production deployment.
PLACEHOLDER_SECRETS = frozenset({"changeme", "changethis", "secret", "placeholder", "xxx", "test"})


class Environment(StrEnum):
    development = "development"
    test = "test"
    production = "production"


class DatabaseMode(StrEnum):
    postgres = "postgres"
    supabase = "supabase"
    embedded = "embedded"


def _default_embedded_dir() -> Path:
    return Path(platformdirs.user_data_dir("anchor-table-bookings")) / "pgdata"


class Settings(BaseSettings):
    # hide_input_in_errors: a ValidationError would otherwise print the raw values, secrets too.
    model_config = SettingsConfigDict(
        env_file=".env", extra="ignore", frozen=True, hide_input_in_errors=True
    )

    environment: Environment = Field(
        default=Environment.development,
        validation_alias="APP_ENV",
        description="development, test or production; only development accepts placeholder "
        "secrets, and production needs CRON_SECRET and a real database.",
    )
    port: int = Field(default=8000, ge=1, le=65535)

    database_url: SecretStr | None = None
    db_statement_cache_size: int = Field(
        default=100,
        ge=0,
        description="asyncpg statement cache; 0 behind a transaction-mode pooler (port 6543).",
    )
    db_pool_min_size: int = Field(default=0, ge=0)
    db_pool_max_size: int = Field(default=10, ge=1)
    db_command_timeout: float = Field(default=10.0, gt=0)
    db_connect_timeout: float = Field(default=5.0, gt=0)

    supabase_url: str | None = None
    supabase_service_role_key: SecretStr | None = None
    supabase_jwt_secret: SecretStr | None = None
    supabase_timeout: float = Field(default=10.0, gt=0)

    embedded_db_dir: Path = Field(default_factory=_default_embedded_dir)
    bootstrap_api_key: SecretStr | None = None

    cron_secret: SecretStr | None = None

    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_phone_number: str | None = None
    twilio_messaging_service_sid: str | None = None

    microsoft_tenant_id: str | None = None
    microsoft_client_id: str | None = None
    microsoft_client_secret: SecretStr | None = None
    microsoft_user_email: str | None = None

    paypal_client_id: str | None = None
    paypal_client_secret: SecretStr | None = None
    paypal_environment: str = "sandbox"
    paypal_webhook_id: str | None = None

    cors_allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["https://www.the-anchor.pub"],
        description="Comma-separated origins allowed to call the API from a browser.",
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated addresses or networks (CIDR) of the proxies in front of the "
        "service, or * for any peer (Vercel); X-Forwarded-For counts only from them.",
    )
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    public_base_url: str | None = Field(
        default=None,
        description="The public https URL of this service (Twilio signs requests against it).",
    )
    manager_email: str | None = Field(
        default="manager@the-anchor.pub", description="Staff alerts for new and changed bookings."
    )
    kitchen_email: str | None = Field(
        default="kitchen@the-anchor.pub", description="Sunday lunch alerts and the prep list."
    )
    reminder_sunday_lunch_hour: int = Field(
        default=10, ge=0, le=23, description="London hour from which Saturday's reminders go."
    )
    reminder_regular_hour: int = Field(
        default=9, ge=0, le=23, description="London hour from which same-day reminders go."
    )
    confirm_request_hour: int = Field(
        default=10,
        ge=0,
        le=23,
        description="London hour from which the day-before confirm texts go (tap-to-confirm).",
    )
    review_delay_hours: int = Field(
        default=3, ge=0, le=48, description="Hours after a booking ends before asking for a review."
    )
    payment_success_url: str = Field(
        default="https://www.the-anchor.pub/booking-confirmation",
        description="Where a guest lands after paying (?ref=...&outcome=...): by default the "
        "website's booking confirmation page.",
    )
    payment_failure_url: str = Field(
        default="https://www.the-anchor.pub/booking-confirmation",
        description="Where a guest lands when the payment could not be taken "
        "(?ref=...&outcome=... or ?reason=...).",
    )
    payment_reference_param: str = Field(
        default="ref",
        pattern=r"^[A-Za-z_][A-Za-z0-9_-]{0,39}$",
        description="The query parameter that carries the booking reference to the success and "
        "failure pages (the website reads ?ref=).",
    )
    payment_cancel_url: str = Field(
        default="https://www.the-anchor.pub/book-table",
        description="Where PayPal sends a guest who cancels at PayPal.",
    )
    allow_unpaid_sunday_lunch: bool | None = Field(
        default=None,
        description="Hold Sunday lunches as pending_payment when PayPal is not configured "
        "(unset: only in development; elsewhere such a create is refused with 503).",
    )
    sms_quiet_hours: bool = Field(
        default=True,
        description="No texts from 21:00 to 09:00 London time (they wait until 09:00); false "
        "sends them at once, in development only, to try the flow at night.",
    )
    availability_limit_per_minute: int = Field(
        default=120, ge=1, description="Availability requests per client address per minute."
    )
    create_limit_per_phone_per_hour: int = Field(
        default=20, ge=1, description="Bookings created for one phone number per hour."
    )
    paypal_webhook_refusals_logged_per_minute: int = Field(
        default=30,
        ge=0,
        description="Refused (unsigned) PayPal webhook posts logged per client address per "
        "minute (without their bodies); more are answered 401 but not logged.",
    )
    paypal_webhook_refusals_per_minute: int = Field(
        default=120,
        ge=1,
        description="Refused PayPal webhook posts answered 401 per client address per minute; "
        "more are answered 429.",
    )

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            problem = postgres_url_problem(value.get_secret_value())
            if problem is not None:
                raise ValueError(f"DATABASE_URL {problem}; {DATABASE_URL_FORM}")
        return value

    @model_validator(mode="before")
    @classmethod
    def _split_lists(cls, data: object) -> object:
        for name in ("cors_allowed_origins", "trusted_proxies"):
            if isinstance(data, dict):
                raw = data.get(name) or data.get(name.upper())
                if isinstance(raw, str):
                    data = {k: v for k, v in data.items() if k.lower() != name}
                    data[name] = [o.strip() for o in raw.split(",") if o.strip()]
        return data

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, value: list[str]) -> list[str]:
        for entry in value:
            if entry != "*":
                try:
                    ipaddress.ip_network(entry, strict=False)
                except ValueError:
                    raise ValueError(f"TRUSTED_PROXIES: {entry!r} is not an address") from None
        return value

    @model_validator(mode="after")
    def _refuse_unsafe_configuration(self) -> Self:
        if self.supabase_url and self.database_url is None and not self.supabase_service_role_key:
            raise ValueError("SUPABASE_URL is set but SUPABASE_SERVICE_ROLE_KEY is not")
        if self.paypal_client_id and not self.public_base_url:
            raise ValueError("PayPal needs PUBLIC_BASE_URL, for the URL guests return to")
        if self.environment is Environment.development:
            return self
        for name in (
            "cron_secret",
            "supabase_service_role_key",
            "supabase_jwt_secret",
            "bootstrap_api_key",
            "twilio_auth_token",
            "microsoft_client_secret",
            "paypal_client_secret",
        ):
            value: SecretStr | None = getattr(self, name)
            if (
                value is not None
                and value.get_secret_value().strip().lower() in PLACEHOLDER_SECRETS
            ):
                raise ValueError(f"{name.upper()} is a placeholder; set a real secret")
        if self.environment is not Environment.production:
            return self
        if self.cron_secret is None:
            raise ValueError("CRON_SECRET must be set in production")
        if not self.sms_quiet_hours:
            raise ValueError(
                "SMS_QUIET_HOURS=false is for development: guests get no texts from 21:00 to 09:00"
            )
        if self.database_mode is DatabaseMode.embedded:
            raise ValueError(
                "production needs DATABASE_URL or SUPABASE_URL, not the embedded server"
            )
        return self

    @property
    def unpaid_sunday_lunch_allowed(self) -> bool:
        """Whether a Sunday lunch may be held without a way to pay its deposit."""
        if self.allow_unpaid_sunday_lunch is not None:
            return self.allow_unpaid_sunday_lunch
        return self.environment is Environment.development

    @property
    def database_mode(self) -> DatabaseMode:
        """Which adapter runs: DATABASE_URL, else SUPABASE_URL, else the embedded server."""
        if self.database_url is not None:
            return DatabaseMode.postgres
        if self.supabase_url:
            return DatabaseMode.supabase
        return DatabaseMode.embedded


DATABASE_URL_FORM = "it should look like postgresql://user:password@host:5432/database"


def postgres_url_problem(url: str) -> str | None:
    """What makes ``url`` unusable as a PostgreSQL URL, in words (never its password), or None.

    asyncpg would only find out when the first request connects, and every request would then
    answer 503; a URL that can never work is refused at start instead.
    """
    scheme, sep, _ = url.partition("://")
    if not sep or not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", scheme):
        return "is not a URL (it does not start with postgresql://)"
    if scheme.lower() not in ("postgresql", "postgres"):
        return f"is a {scheme}:// URL, and this service needs PostgreSQL (postgresql://)"
    try:
        netloc = urlsplit(url).netloc
    except ValueError as exc:
        return f"cannot be read as a URL ({exc})"
    for host in netloc.rpartition("@")[2].split(","):  # host[:port], comma-separated
        after_address = host.rpartition("]")[2]  # an IPv6 address is in brackets
        if ":" in after_address:
            port = after_address.rpartition(":")[2]
            if not (port.isdigit() and 0 < int(port) < 65536):
                return f"has the port {port!r}, which is not a number from 1 to 65535"
    return None


def describe_invalid_settings(error: ValidationError) -> str:
    """A ``ValidationError`` of :class:`Settings` as sentences naming the variables."""
    sentences = []
    for item in error.errors():
        message = str(item["msg"]).removeprefix("Value error, ")
        names = ".".join(str(part) for part in item["loc"]).upper()
        sentences.append(message if message.startswith(names) else f"{names}: {message}")
    return "; ".join(sentences)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
