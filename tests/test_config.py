"""Settings: which database runs, and what a non-development deployment refuses."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.config import DatabaseMode, Environment, Settings


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

    def test_cors_origins_from_a_comma_separated_variable(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("CORS_ALLOWED_ORIGINS", "https://a.example, https://b.example")
        assert make().cors_allowed_origins == ["https://a.example", "https://b.example"]
