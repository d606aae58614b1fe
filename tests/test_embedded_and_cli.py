"""The embedded default and the command line, run for real (slowest tests of the suite)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import psutil
import pytest

from app.config import Settings
from app.db import migrations
from app.main import create_app
from app.services import api_keys
from tests.conftest import asgi_client

REPO = Path(__file__).resolve().parents[1]
BOOTSTRAP = "anch_bootstrap_for_the_embedded_test_000000000"


def postgres_processes(data_dir: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(attrs=["name", "cmdline", "status"]):
        cmdline = proc.info["cmdline"] or []
        if proc.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        if proc.info["name"] == "postgres" and any(str(data_dir) in part for part in cmdline):
            found.append(proc)
    return found


def wait_until_gone(data_dir: Path, seconds: float = 15) -> list[psutil.Process]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        left = postgres_processes(data_dir)
        if not left:
            return []
        time.sleep(0.2)
    return postgres_processes(data_dir)


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def health_when_up(process: subprocess.Popen[bytes], port: int, *, seconds: float) -> str | None:
    """``/health``'s body once the served process answers on ``port``; None if it never did."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                body: str = r.read().decode()
                return body
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.3)
    return None


class TestEmbeddedDefault:
    async def test_start_seed_bootstrap_restart(self, tmp_path: Path) -> None:
        data_dir = tmp_path / "pgdata"
        settings = Settings(
            _env_file=None,
            APP_ENV="test",
            embedded_db_dir=data_dir,
            bootstrap_api_key=BOOTSTRAP,
        )

        async def one_run(staff_token: str | None = None) -> tuple[int, int]:
            app = create_app(settings)
            async with asgi_client(app) as client:  # runs the lifespan: starts the database
                if staff_token is not None:
                    listed = await client.get(
                        "/api/table-bookings", headers={"Authorization": f"Bearer {staff_token}"}
                    )
                    assert listed.status_code == 200, listed.text
                health = await client.get("/health")
                assert health.status_code == 200
                assert health.json() == {"status": "ok", "database": "ok"}
                missing = await client.get("/api/nope")
                assert missing.status_code == 404
                assert missing.json()["error"]["code"] == "NOT_FOUND"
                db = app.state.db
                caller = await api_keys.authenticate_api_key(
                    db, raw_key=BOOTSTRAP, now=datetime.now(UTC)
                )
                assert caller.scopes == {
                    *api_keys.TABLE_BOOKING_SCOPES,
                    *api_keys.WEBSITE_2026_SCOPES,
                }
                counts = await db._pool.fetchrow(  # a peek under the port, for the test only
                    "select (select count(*) from sunday_lunch_menu_items) as menu,"
                    " (select count(*) from api_keys) as keys,"
                    " (select count(*) from api_keys where key_hash = $1) as hashed,"
                    " (select count(*) from api_keys where key_hash = $2) as plain",
                    api_keys.hash_key(BOOTSTRAP),
                    BOOTSTRAP,
                )
                assert counts["hashed"] == 1 and counts["plain"] == 0
                assert postgres_processes(data_dir), "the embedded server should be running"
                return int(counts["menu"]), int(counts["keys"])

        first = await one_run()
        assert first[0] > 0, "demo data should include the Sunday lunch menu"
        assert wait_until_gone(data_dir) == []

        # The command line uses the same data folder when nothing is configured.
        created = cli(
            "api-keys",
            "create",
            "--name",
            "website",
            "--scopes",
            "read:table_bookings,write:table_bookings",
            env={"EMBEDDED_DB_DIR": str(data_dir), "APP_ENV": "test"},
        )
        assert created.returncode == 0, created.stderr
        raw_key = created.stdout.strip().splitlines()[-1]
        assert raw_key.startswith("anch_") and raw_key not in created.stderr
        assert wait_until_gone(data_dir) == []

        # So does staff-token, whose --role makes the token useful on the embedded default.
        minted = cli(
            "staff-token",
            "--email",
            "manager@the-anchor.pub",
            "--role",
            "manager",
            env={"EMBEDDED_DB_DIR": str(data_dir), "APP_ENV": "test"},
        )
        assert minted.returncode == 0, minted.stderr
        staff_token = minted.stdout.strip().splitlines()[-1]
        assert wait_until_gone(data_dir) == []

        second = await one_run(staff_token)
        assert second == (first[0], first[1] + 1), "a restart keeps the data and adds no copies"
        assert wait_until_gone(data_dir) == []


class TestServeCommand:
    @pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
    def test_stopping_the_service_stops_postgres(
        self, tmp_path: Path, stop_signal: signal.Signals
    ) -> None:
        data_dir = tmp_path / "pgdata"
        port = free_port()
        log = (tmp_path / "serve.log").open("w")
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve"],
            cwd=REPO,
            env={
                **os.environ,
                "EMBEDDED_DB_DIR": str(data_dir),
                "PORT": str(port),
                "APP_ENV": "test",
            },
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            body = health_when_up(process, port, seconds=90)
            output = (tmp_path / "serve.log").read_text
            assert body == '{"status":"ok","database":"ok"}', output()
            assert postgres_processes(data_dir)
            process.send_signal(stop_signal)
            # uvicorn shuts down gracefully, then re-raises the signal as its exit status.
            assert process.wait(timeout=30) in (0, -stop_signal), output()
            assert "Application shutdown complete" in output()
            assert wait_until_gone(data_dir) == []
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            log.close()

    @pytest.mark.parametrize(
        ("url", "problem"),
        [
            ("garbage", "DATABASE_URL is not a URL"),
            ("mysql://anchor:s3cret-pw@db.example/anchor", "DATABASE_URL is a mysql:// URL"),
        ],
    )
    def test_malformed_database_url_stops_the_start(self, url: str, problem: str) -> None:
        result = cli("serve", env={"DATABASE_URL": url, "PORT": str(free_port())})
        assert result.returncode == 2, result.stderr
        assert result.stderr.startswith(f"error: {problem}"), result.stderr
        assert "postgresql://user:password@host:5432/database" in result.stderr
        assert "Application startup complete" not in result.stdout + result.stderr
        assert "Traceback" not in result.stderr and "s3cret-pw" not in result.stderr

    def test_port_option(self, database_url: str, tmp_path: Path) -> None:
        port = free_port()
        log = (tmp_path / "serve.log").open("w")
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
            cwd=REPO,
            env={**os.environ, "DATABASE_URL": database_url, "PORT": "1", "APP_ENV": "test"},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            body = health_when_up(process, port, seconds=60)
            assert body == '{"status":"ok","database":"ok"}', (tmp_path / "serve.log").read_text()
        finally:
            process.terminate()
            process.wait(timeout=30)
            log.close()

    def test_port_option_refuses_what_is_not_a_port(self) -> None:
        result = cli("serve", "--port", "eighty", env={})
        assert result.returncode == 2
        assert "'eighty' is not a port" in result.stderr


class TestKilledServe:
    def test_a_clean_stop_after_kill_9_and_a_restart_stops_postgres(self, tmp_path: Path) -> None:
        """The killed process is not reaped until the end (a zombie, as under a supervisor that
        has not waited for it yet): its pid must not keep PostgreSQL running."""
        data_dir = tmp_path / "pgdata"
        port = free_port()
        env = {**os.environ, "EMBEDDED_DB_DIR": str(data_dir), "PORT": str(port), "APP_ENV": "test"}
        log = (tmp_path / "serve.log").open("w")

        def serve() -> subprocess.Popen[bytes]:
            process = subprocess.Popen(
                [sys.executable, "-m", "app.cli", "serve"],
                cwd=REPO,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline and process.poll() is None:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                        return process
                except (urllib.error.URLError, ConnectionError, TimeoutError):
                    time.sleep(0.3)
            raise AssertionError((tmp_path / "serve.log").read_text())

        killed = serve()
        restarted: subprocess.Popen[bytes] | None = None
        try:
            killed.send_signal(signal.SIGKILL)
            deadline = time.monotonic() + 10
            while psutil.Process(killed.pid).status() != psutil.STATUS_ZOMBIE:
                assert time.monotonic() < deadline
                time.sleep(0.05)
            assert postgres_processes(data_dir), "kill -9 leaves PostgreSQL running"
            restarted = serve()
            handles = json.loads((data_dir / ".handle_pids.json").read_text())
            assert handles == [restarted.pid]
            restarted.send_signal(signal.SIGTERM)
            assert restarted.wait(timeout=30) in (0, -signal.SIGTERM)
            assert wait_until_gone(data_dir) == []
        finally:
            for process in (killed, restarted):
                if process is not None and process.poll() is None:
                    process.kill()
                if process is not None:
                    process.wait()
            for left in postgres_processes(data_dir):  # a failed run leaves nothing behind
                left.kill()
            log.close()


class TestMigrateCommand:
    async def test_migrate_applies_then_has_nothing_to_do(
        self, pg_admin_dsn: str, tmp_path: Path
    ) -> None:
        from tests.conftest import with_database

        admin = await asyncpg.connect(pg_admin_dsn)
        await admin.execute("drop database if exists anchor_cli_migrate with (force)")
        await admin.execute("create database anchor_cli_migrate")
        try:
            env = {"DATABASE_URL": with_database(pg_admin_dsn, "anchor_cli_migrate")}
            first = cli("migrate", env=env)
            assert first.returncode == 0, first.stderr
            versions = [m.version for m in migrations.discover()]
            assert first.stdout.strip() == (
                f"applied {len(versions)} migration(s): " + ", ".join(versions)
            )
            again = cli("migrate", env=env)
            assert again.returncode == 0, again.stderr
            assert again.stdout.strip() == "applied 0 migration(s)"
        finally:
            await admin.execute("drop database anchor_cli_migrate with (force)")
            await admin.close()

    def test_migrate_refuses_supabase_http_only(self) -> None:
        result = cli(
            "migrate",
            env={"SUPABASE_URL": "https://x.supabase.co", "SUPABASE_SERVICE_ROLE_KEY": "k"},
        )
        assert result.returncode == 2
        assert "DATABASE_URL" in result.stderr

    def test_bad_scope_is_refused(self, tmp_path: Path) -> None:
        result = cli(
            "api-keys",
            "create",
            "--name",
            "x",
            "--scopes",
            "everything",
            env={"EMBEDDED_DB_DIR": str(tmp_path / "unused")},
        )
        assert result.returncode == 2
        assert "Scopes must be" in result.stderr


class TestWithoutTheEmbeddedExtra:
    def test_uvicorn_with_no_database_says_what_to_do(self, tmp_path: Path) -> None:
        """`pip install .` (no `embedded` extra: no pgserver, no psutil), then
        `uvicorn app.main:app` with nothing configured: the start stops with what to do."""
        data_dir = tmp_path / "pgdata"
        data_dir.mkdir()
        (data_dir / ".handle_pids.json").write_text("[1]")  # left by an earlier process
        # As if neither package were installed: importing either raises ImportError.
        run = (
            "import sys; sys.modules['pgserver'] = None; sys.modules['psutil'] = None\n"
            "import uvicorn\n"
            f"uvicorn.run('app.main:app', host='127.0.0.1', port={free_port()})\n"
        )
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SUPABASE_URL")}
        result = subprocess.run(
            [sys.executable, "-c", run],
            cwd=REPO,
            env={**env, "EMBEDDED_DB_DIR": str(data_dir)},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        output = result.stdout + result.stderr
        assert result.returncode != 0, output
        assert "ModuleNotFoundError" not in output, output
        assert (
            "No database is configured and the embedded server is not installed: set "
            "DATABASE_URL or SUPABASE_URL, or pip install '.[embedded]'."
        ) in output
