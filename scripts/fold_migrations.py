"""Fold new migration files into the release's baseline (issue 13), for as long as nothing is
deployed: ``.venv/bin/python scripts/fold_migrations.py`` rewrites ``supabase/migrations/``.

The baseline is one file per concern, each function defined once. A new file (say one that
landed from another branch) is folded in: each function's newest definition goes into the file
of its concern (``FUNCTION_HOME``, else the concern of the file that first defined it, else the
new file's ``NEW_FILES`` entry), its other statements into its concern's file in their order,
``drop function`` statements go (a function dropped for good goes with them), and the
per-function grants are replaced by one ``service_role_only`` call per file. Run on the baseline
alone it changes nothing. Then read the diff: a new file's function copied from an older body of
one this baseline changed must be merged by hand (``git diff`` shows what it reverts).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

MIGRATIONS = Path(__file__).resolve().parents[1] / "supabase" / "migrations"

#: The baseline's files, by version.
CONCERNS = {
    "20261124000000": "20261124000000_supabase_compat.sql",
    "20261124000100": "20261124000100_pub_stand_ins.sql",
    "20261124000200": "20261124000200_table_booking_schema.sql",
    "20261124000300": "20261124000300_api_keys_and_access.sql",
    "20261124000400": "20261124000400_booking_rules.sql",
    "20261124000500": "20261124000500_booking_reads.sql",
    "20261124000600": "20261124000600_booking_actions.sql",
    "20261124000700": "20261124000700_messages.sql",
    "20261124000800": "20261124000800_payments.sql",
    "20261124000900": "20261124000900_monitoring.sql",
}
#: A new file's version -> the concern its statements (and new functions) belong to.
NEW_FILES: dict[str, str] = {
    "20261203000200": "20261124000600",  # abuse (issue 14): unpaid holds bounded, and more
}
#: Functions whose concern is not that of the file that first defined them.
FUNCTION_HOME = {
    "public.table_booking_refund_failed": "20261124000800",
    "public.paypal_webhook_refused": "20261124000800",
    "public.tb_setting_int": "20261124000400",
}
#: Functions no longer wanted (a trigger function whose rule tb_booking_written holds).
REMOVED = {"public.tb_refund_on_cancel"}
#: Pure functions the GiST index on the pub's table_bookings evaluates: executable by all.
EXECUTABLE_BY_ALL = {"public.tb_span", "public.tb_booking_span"}

_FUNCTION = re.compile(r"\s*create\s+(?:or\s+replace\s+)?function\s+([\w.]+)\s*\(", re.I)
_DROP = re.compile(r"\s*drop\s+function\s+if\s+exists\s+([\w.]+)\s*\(", re.I)
_GRANT = re.compile(r"\s*(revoke|grant)\s+(execute|all)\s+on\s+function\s", re.I)
_GRANT_LOOP = re.compile(r"(revoke|grant) execute on function %s", re.I)
_MADE_HERE = re.compile(
    r"\s*(set local check_function_bodies|select table_booking_service\.service_role_only\()", re.I
)


def statements(sql: str) -> list[str]:
    """Top-level statements, each with the comment lines before it."""
    out, start, i, n = [], 0, 0, len(sql)
    while i < n:
        if sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end + 1
        elif sql.startswith("/*", i):
            i = sql.index("*/", i + 2) + 2
        elif sql[i] == "'":
            i += 1
            while sql[i] != "'" or sql.startswith("''", i):
                i += 2 if sql.startswith("''", i) else 1
            i += 1
        elif sql[i] == '"':
            i = sql.index('"', i + 1) + 1
        elif (tag := re.match(r"\$([A-Za-z_]\w*)?\$", sql[i:])) is not None:
            i = sql.index(tag.group(0), i + len(tag.group(0))) + len(tag.group(0))
        elif sql[i] == ";":
            out.append(sql[start : i + 1])
            start = i = i + 1
        else:
            i += 1
    if sql[start:].strip():
        out.append(sql[start:])
    return out


def _split_lead(statement: str) -> tuple[str, str]:
    """(its leading comment lines, the statement itself)."""
    lines = statement.split("\n")
    k = 0
    while k < len(lines) and (not lines[k].strip() or lines[k].lstrip().startswith("--")):
        k += 1
    return "\n".join(lines[:k]), "\n".join(lines[k:])


@dataclass
class Concern:
    header: str = ""
    statements: list[str] = field(default_factory=list)
    functions: dict[str, str] = field(default_factory=dict)
    late: list[str] = field(default_factory=list)


def fold(directory: Path) -> dict[str, str]:
    """The folded files: name -> text."""
    found: list[tuple[str, str]] = []
    headers: dict[str, str] = {}
    newest: dict[str, tuple[int, str]] = {}
    dropped: dict[str, int] = {}
    for path in sorted(directory.glob("*.sql")):
        version = path.name.split("_")[0]
        for k, statement in enumerate(statements(path.read_text(encoding="utf-8"))):
            if k == 0:
                lead, _ = _split_lead(statement)
                header = re.split(r"\n\s*\n", lead.strip("\n"), maxsplit=1)[0]
                if header.lstrip().startswith("--"):
                    headers[version] = header
                    statement = statement.lstrip("\n")[len(header) :]
            found.append((version, statement))
            body = _split_lead(statement)[1]
            if (m := _FUNCTION.match(body)) is not None:
                newest[m.group(1).lower()] = (len(found), statement)
            elif (m := _DROP.match(body)) is not None:
                dropped[m.group(1).lower()] = len(found)
    concerns = {version: Concern(header=headers.get(version, "")) for version in CONCERNS}
    for version, statement in found:
        body = _split_lead(statement)[1]
        home = version if version in CONCERNS else NEW_FILES.get(version)
        function = _FUNCTION.match(body)
        if function is not None and not function.group(1).startswith("table_booking_service."):
            name = function.group(1).lower()
            at, text = newest[name]
            if name in REMOVED or dropped.get(name, -1) > at or name in _placed(concerns):
                continue
            home = FUNCTION_HOME.get(name, home)
            if home is None:
                sys.exit(f"no concern for {name} (first in {version}): add it to FUNCTION_HOME")
            concerns[home].functions[name] = re.sub(r"-- From 2026\d+_\w+\.sql[:,]? ?", "-- ", text)
            continue
        if (
            not body.strip()
            or _GRANT.match(body)
            or _DROP.match(body)
            or _MADE_HERE.match(body)
            or _is_grant_loop(body)
        ):
            continue
        if home is None:
            sys.exit(f"no concern for a statement of {version}: add it to NEW_FILES")
        target = concerns[home]
        (target.late if " using gist " in body.lower() else target.statements).append(statement)
    return {CONCERNS[v]: _text(c) for v, c in concerns.items()}


def _is_grant_loop(body: str) -> bool:
    """A DO block that only grants or revokes a list of functions."""
    lower = body.lower()
    return (
        lower.lstrip().startswith("do")
        and _GRANT_LOOP.search(body) is not None
        and "create function" not in lower
        and "create or replace function" not in lower
    )


def _placed(concerns: dict[str, Concern]) -> set[str]:
    return {name for concern in concerns.values() for name in concern.functions}


def _text(concern: Concern) -> str:
    text = concern.header + "\n\n" + "".join(concern.statements)
    if concern.functions:
        text += (
            "\n\n-- Function bodies are checked when called, not when made: each function is "
            "defined once,\n-- in the file of its concern, in any order.\n"
            "set local check_function_bodies = off;\n"
        )
        text += "".join(concern.functions.values())
    text += "".join(concern.late)
    if set(concern.functions) & EXECUTABLE_BY_ALL:
        text += (
            "\n\n-- tb_span and tb_booking_span stay executable by every role: the GiST index on "
            "table_bookings\n-- evaluates them for every writer, the pub's staff under RLS "
            "included (they are pure).\n"
        )
    ours = [n for n in concern.functions if n.startswith("public.") and n not in EXECUTABLE_BY_ALL]
    if ours:
        text += (
            "\n\n-- Every function of this file: executable by service_role only.\n"
            "select table_booking_service.service_role_only(array[\n"
            + ",\n".join(f"  '{n}'" for n in ours)
            + "\n]);\n"
        )
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n") + "\n"


def main() -> None:
    folded = fold(MIGRATIONS)
    for path in MIGRATIONS.glob("*.sql"):
        if path.name not in folded:
            path.unlink()
    for name, text in folded.items():
        (MIGRATIONS / name).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
