"""Command-line tools run in process against the suite's database (the embedded server's place
taken by the test database): ``staff-token`` and ``outbox``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import httpx
import jwt
import pytest

from app import cli
from app.config import Settings
from tests.conftest import STAFF_JWT_SECRET, create_booking, regular_body

CRON = {"Authorization": "Bearer test-cron-secret-0123456789"}

Run = Callable[..., Awaitable[tuple[int, str, str]]]


@pytest.fixture
def run_cli(
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Run:
    """``run_cli("staff-token", "--email", ...)`` -> (exit status, stdout, stderr), with nothing
    configured (the embedded default), its database being the test's."""
    settings = Settings(
        _env_file=None,
        APP_ENV="test",
        embedded_db_dir=tmp_path / "embedded",
        supabase_jwt_secret=STAFF_JWT_SECRET,
    )

    @asynccontextmanager
    async def the_test_database(settings: Settings) -> AsyncIterator[str]:
        yield database_url

    monkeypatch.setattr(cli, "embedded_dsn", the_test_database)

    async def run(*argv: str, database_url: str | None = None) -> tuple[int, str, str]:
        """With ``database_url``, as with DATABASE_URL set."""
        chosen = (
            settings
            if database_url is None
            else Settings(_env_file=None, APP_ENV="test", database_url=database_url)
        )
        monkeypatch.setattr(cli, "get_settings", lambda: chosen)
        capsys.readouterr()
        # In a thread, as from a shell: the command runs its own event loop.
        status = await asyncio.to_thread(cli.main, list(argv))
        out, err = capsys.readouterr()
        return status, out, err

    return run


def user_of(token: str) -> str:
    claims = jwt.decode(token, STAFF_JWT_SECRET, algorithms=["HS256"], audience="authenticated")
    return str(claims["sub"])


class TestStaffToken:
    """Issue 18, item 7: one user per email, and a token that cannot work says so."""

    async def test_twice_for_one_email_is_one_user(
        self, run_cli: Run, conn: asyncpg.Connection, client: httpx.AsyncClient
    ) -> None:
        email = "manager@the-anchor.pub"
        first = await run_cli("staff-token", "--email", email, "--role", "manager")
        second = await run_cli("staff-token", "--email", email, "--role", "manager")
        assert first[0] == second[0] == 0, (first, second)
        tokens = [first[1].splitlines()[-1], second[1].splitlines()[-1]]
        assert user_of(tokens[0]) == user_of(tokens[1])
        users = await conn.fetch("select id::text from auth.users where email = $1", email)
        assert [u["id"] for u in users] == [user_of(tokens[0])]
        assert "with role manager" in second[1] and second[2] == ""
        listed = await client.get(
            "/api/table-bookings", headers={"Authorization": f"Bearer {tokens[1]}"}
        )
        assert listed.status_code == 200, listed.text

    async def test_without_role_reuses_the_user_that_has_one(
        self, run_cli: Run, client: httpx.AsyncClient
    ) -> None:
        email = "staff@the-anchor.pub"
        granted = await run_cli("staff-token", "--email", email, "--role", "staff")
        again = await run_cli("staff-token", "--email", email)
        assert again[0] == 0 and again[2] == "", again
        token = again[1].splitlines()[-1]
        assert user_of(token) == user_of(granted[1].splitlines()[-1])
        assert "with role staff" in again[1]
        listed = await client.get(
            "/api/table-bookings", headers={"Authorization": f"Bearer {token}"}
        )
        assert listed.status_code == 200, listed.text

    async def test_without_role_for_a_new_email_warns_of_the_403(
        self, run_cli: Run, conn: asyncpg.Connection, client: httpx.AsyncClient
    ) -> None:
        status, out, err = await run_cli("staff-token", "--email", "new@the-anchor.pub")
        assert status == 0
        assert "has no role" in err and "403" in err and "--role" in err
        token = out.splitlines()[-1]
        assert token not in err
        # What the warning says is true: the token is refused.
        listed = await client.get(
            "/api/table-bookings", headers={"Authorization": f"Bearer {token}"}
        )
        assert listed.status_code == 403
        # And nothing was created for a user that holds no role.
        assert (
            await conn.fetchval(
                "select count(*) from auth.users where email = 'new@the-anchor.pub'"
            )
            == 0
        )


class TestOutbox:
    """Issue 18, item 4: what was "sent" in outbox mode, as the guest would read it."""

    async def test_prints_the_text_the_email_and_its_calendar_file(
        self,
        run_cli: Run,
        database_url: str,
        client: httpx.AsyncClient,
        key: dict[str, str],
        conn: asyncpg.Connection,
    ) -> None:
        body = regular_body()
        body["customer"]["email"] = "ann.lee@example.com"
        made = await create_booking(client, key, body)
        other = await create_booking(client, key, regular_body(time="12:00", phone="07700 900456"))
        worked = await client.get("/api/cron/process-jobs", headers=CRON)
        assert worked.json()["data"]["outbox"] >= 4, worked.text
        status, out, err = await run_cli(
            "outbox", "--reference", made["booking_reference"], database_url=database_url
        )
        assert status == 0, err
        text = await conn.fetchval(
            "select body from table_booking_outbox where channel = 'sms' and recipient = $1",
            "+447911123456",
        )
        subject = await conn.fetchval(
            "select subject from table_booking_outbox where recipient = 'ann.lee@example.com'"
        )
        assert f"=== Text to +447911123456 ({made['booking_reference']}" in out
        assert text in out  # the whole text, as it would arrive
        assert "=== Email to ann.lee@example.com" in out and f"Subject: {subject}" in out
        # The calendar file itself, not only its name.
        ics = f"--- Attachment booking-{made['booking_reference']}.ics (text/calendar"
        assert ics in out
        assert "BEGIN:VCALENDAR" in out and "DTSTART;TZID=Europe/London:20261127T190000" in out
        assert other["booking_reference"] not in out and "+447700900456" not in out

        status, out, _ = await run_cli("outbox", "--limit", "1", database_url=database_url)
        assert status == 0 and out.count("=== ") == 1

    async def test_an_empty_outbox_says_so(self, run_cli: Run, database_url: str) -> None:
        status, out, _ = await run_cli("outbox", database_url=database_url)
        assert (status, out) == (0, "The outbox is empty.\n")
