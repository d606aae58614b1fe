"""Settings: which database runs, and what a non-development deployment refuses."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.config import DatabaseMode, Environment, Settings, describe_invalid_settings


def make(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


class TestDatabaseMode:
    def test_nothing_configured_is_embedded(self) -> None:
        assert make().database_mode is DatabaseMode.embedded

    def test_database_url_wins(self) -> None:
        settings = make(
            database_url="postgresql://u:p@h/db",
            supabase_url="https://x.supabase.co",
            supabase_service_role_key="k",
        )
        assert settings.database_mode is DatabaseMode.postgres

    def test_supabase(self) -> None:
        settings = make(supabase_url="https://x.supabase.co", supabase_service_role_key="k")
        assert settings.database_mode is DatabaseMode.supabase

    def test_supabase_needs_its_key(self) -> None:
        with pytest.raises(ValidationError, match="SUPABASE_SERVICE_ROLE_KEY"):
            make(supabase_url="https://x.supabase.co")


class TestSecrets:
    def test_development_accepts_placeholders(self) -> None:
        assert make(cron_secret="changeme").environment is Environment.development

    @pytest.mark.parametrize("environment", ["test", "production"])
    def test_placeholders_refused_outside_development(self, environment: str) -> None:
        with pytest.raises(ValidationError, match="CRON_SECRET is a placeholder"):
            make(
                APP_ENV=environment,
                cron_secret="changeme",
                database_url="postgresql://u:p@h/db",
            )

    def test_production_needs_a_cron_secret(self) -> None:
        with pytest.raises(ValidationError, match="CRON_SECRET must be set"):
            make(APP_ENV="production", database_url="postgresql://u:p@h/db")

    def test_production_needs_a_real_database(self) -> None:
        with pytest.raises(ValidationError, match="not the embedded server"):
            make(APP_ENV="production", cron_secret="a-long-random-cron-secret-value")

    def test_production_with_everything(self) -> None:
        settings = make(
            APP_ENV="production",
            cron_secret="a-long-random-cron-secret-value",
            database_url="postgresql://u:p@h/db",
        )
        assert settings.environment is Environment.production

    def test_quiet_hours_switch_is_for_development_only(self) -> None:
        assert make(sms_quiet_hours=False).sms_quiet_hours is False
        with pytest.raises(ValidationError, match="SMS_QUIET_HOURS=false is for development"):
            make(
                APP_ENV="production",
                cron_secret="a-long-random-cron-secret-value",
                database_url="postgresql://u:p@h/db",
                sms_quiet_hours=False,
            )

    def test_cors_origins_from_a_comma_separated_variable(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("CORS_ALLOWED_ORIGINS", "https://a.example, https://b.example")
        assert make().cors_allowed_origins == ["https://a.example", "https://b.example"]


class TestDatabaseUrl:
    """A DATABASE_URL that can never work stops the start with a sentence (issue 18, item 5)."""

    @pytest.mark.parametrize(
        ("url", "problem"),
        [
            ("garbage", "DATABASE_URL is not a URL"),
            ("mysql://anchor:s3cret-pw@db.example/anchor", "is a mysql:// URL"),
            ("postgresql://anchor:s3cret-pw@db.example:54x2/anchor", "the port '54x2'"),
            ("postgres://anchor:s3cret-pw@db.example:99999/anchor", "the port '99999'"),
            ("postgresql://anchor:s3cret-pw@[::1/anchor", "cannot be read as a URL"),
        ],
    )
    def test_malformed_url_is_refused_by_name(self, url: str, problem: str) -> None:
        with pytest.raises(ValidationError) as info:
            make(database_url=url)
        sentence = describe_invalid_settings(info.value)
        assert problem in sentence
        assert sentence.startswith("DATABASE_URL ")
        assert "postgresql://user:password@host:5432/database" in sentence
        assert "s3cret-pw" not in sentence and "s3cret-pw" not in str(info.value)

    @pytest.mark.parametrize(
        "url",
        [
            "postgresql://u:p@h/db",
            "postgres://u:p@h:6543/db?sslmode=require",
            "postgresql:///db?host=/var/run/postgresql",
            "postgresql://u:p@[::1]:5432/db",
            "postgresql://u:p@h1:5432,h2:5433/db",
            "postgresql://postgres.ref:p%40ss@aws-0-eu-west-2.pooler.supabase.com:5432/postgres",
        ],
    )
    def test_postgres_urls_are_accepted(self, url: str) -> None:
        assert make(database_url=url).database_mode is DatabaseMode.postgres

    def test_other_settings_are_named_too(self) -> None:
        with pytest.raises(ValidationError) as info:
            make(PORT="eighty")
        assert describe_invalid_settings(info.value).startswith("PORT: Input should be")
