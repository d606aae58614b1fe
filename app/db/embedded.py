"""The embedded default: a private PostgreSQL (``pgserver``) in ``EMBEDDED_DB_DIR``.

``pgserver`` ships the server binaries in its wheel, so a new user needs no database install.
Its calls block (initdb, pg_ctl), so callers run them in a thread.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import warnings
from pathlib import Path
from typing import Any

logger = logging.getLogger("app.db.embedded")


def embedded_jwt_secret(data_dir: Path) -> str:
    """The HS256 secret for staff tokens on the embedded default (no SUPABASE_JWT_SECRET).

    Made once, kept beside the data folder (owner-only), so ``python -m app.cli staff-token``
    and the server agree on it.
    """
    path = data_dir.expanduser().resolve().with_name(data_dir.name + ".jwt-secret")
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


class EmbeddedPostgres:
    """One embedded server; :meth:`start` returns its DSN, :meth:`stop` shuts it down."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir.expanduser().resolve()
        self._server: Any = None

    def start(self) -> str:
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():
            # pgserver keeps its lock in the user's runtime dir and warns when XDG_RUNTIME_DIR
            # is unset (it falls back to /tmp); nothing for a user to act on.
            warnings.simplefilter("ignore", UserWarning)
            try:
                # Imported late: an optional extra, whose import creates a runtime lock file.
                from pgserver.postgres_server import PostgresServer, get_server
            except ImportError:
                # The sentence is the whole story; the import's own traceback would bury it.
                raise RuntimeError(
                    "No database is configured and the embedded server is not installed: set "
                    "DATABASE_URL or SUPABASE_URL, or pip install '.[embedded]'."
                ) from None
            # After the import: psutil comes with pgserver, and without the extra the sentence
            # above is what a user needs to read, not a ModuleNotFoundError. Under pgserver's own
            # lock, which guards the list while processes join and leave.
            with PostgresServer._lock:
                self._forget_dead_handles()
            self._server = get_server(self.data_dir, cleanup_mode="stop")
        dsn: str = self._server.get_uri()
        logger.info("embedded_db.started data_dir=%s", self.data_dir)
        return dsn

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None
            logger.info("embedded_db.stopped data_dir=%s", self.data_dir)

    def _forget_dead_handles(self) -> None:
        # pgserver stops the server when the last process using it exits, tracked as a list of
        # pids in the data folder. A process that was killed never removes its pid, and then no
        # later process would ever stop the server; drop pids that no longer hold a handle.
        handles = self.data_dir / ".handle_pids.json"
        if not handles.exists():
            return
        try:
            written_at = handles.stat().st_mtime
            pids = [int(p) for p in json.loads(handles.read_text())]
        except (OSError, ValueError, TypeError):
            pids = []
            written_at = 0.0
        handles.write_text(json.dumps([p for p in pids if _holds_handle(p, written_at)]))


def _holds_handle(pid: int, written_at: float) -> bool:
    """Whether process ``pid`` may still hold a handle on the server: it runs (a killed process
    whose parent has not reaped it yet is a zombie, whose pid still "exists"), and it started
    before the list was last written (a pid reused by a later process, such as this one after a
    restart in a container, where the killed process had the same pid, holds nothing)."""
    import psutil

    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        # create_time has a resolution of a clock tick; a second of slack keeps live holders.
        return bool(process.create_time() <= written_at + 1)
    except (psutil.NoSuchProcess, ValueError):
        return False
    except psutil.AccessDenied:
        return True  # someone else's live process: leave its handle alone
