"""Checks of the deploy files (vercel.json), shared by their tests.

Each check returns a list of problems (empty when the file is right), so the tests can show
both that the real files pass and that a broken copy is caught.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
VERCEL_SCHEMA = FIXTURES / "vercel.schema.json"

# ---------------------------------------------------------------------------------------------
# vercel.json
# ---------------------------------------------------------------------------------------------

#: Where @vercel/python looks for the app when nothing names it (packages/python/src/entrypoint.ts,
#: PYTHON_ENTRYPOINT_DIRS x PYTHON_ENTRYPOINT_FILENAMES, in this order): the first file that
#: defines a top-level ``app`` (or ``application``/``handler``) is the function.
VERCEL_ENTRYPOINT_DIRS = ("", "src", "app", "api")
VERCEL_ENTRYPOINT_NAMES = ("app", "index", "server", "main", "wsgi", "asgi")
VERCEL_ENTRYPOINT_VARIABLES = ("app", "application", "handler")

#: maxDuration limits with Fluid compute (integrations.md, "Function duration / limits"):
#: Hobby at most 300 s, Pro and Enterprise at most 800 s. Crons more often than daily need Pro.
HOBBY_MAX_DURATION = 300
PRO_MAX_DURATION = 800

#: The fields of a cron schedule and their ranges, as the Vercel CLI checks them (`vercel crons
#: add`): numbers only (no MON or JAN), `*`, lists, ranges and steps; day of week 0-7.
CRON_FIELDS = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 7),
)


def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def vercel_validator() -> jsonschema.Draft7Validator:
    """The Vercel CLI compiles its schema with ajv 6, whose default dialect is draft-07."""
    schema = load_json(VERCEL_SCHEMA)
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def schema_problems(config: Any, validator: jsonschema.Draft7Validator) -> list[str]:
    """What the Vercel CLI's validateConfig() would refuse, plus top-level keys it ignores."""
    problems = [
        f"{'/'.join(str(p) for p in error.absolute_path) or '(top)'}: {error.message}"
        for error in validator.iter_errors(config)
    ]
    if isinstance(config, dict):
        # validate-config.ts refuses both together ("FUNCTIONS_AND_BUILDS").
        if "functions" in config and "builds" in config:
            problems.append("functions and builds cannot be used together")
        # The CLI's schema leaves unknown top-level keys alone (additionalProperties: true), so a
        # misspelt "cron" would pass it and be ignored: allow only keys that schema describes.
        schema = validator.schema
        assert isinstance(schema, dict)
        known = set(schema["properties"]) | {"$schema"}
        problems += [f"unknown top-level key {key!r}" for key in sorted(set(config) - known)]
    return problems


def cron_schedule_problem(schedule: str) -> str | None:
    """Why Vercel would refuse ``schedule``, or None: five numeric fields in range, and not both
    day of month and day of week (Vercel's cron docs: one of them must be ``*``)."""
    fields = schedule.split()
    if len(fields) != len(CRON_FIELDS):
        return f"{len(fields)} fields, not 5"
    for text, (name, low, high) in zip(fields, CRON_FIELDS, strict=True):
        for part in text.split(","):
            base, slash, step = part.partition("/")
            if slash and not (step.isdigit() and int(step) >= 1):
                return f"bad step {step!r} in {name}"
            if base == "*":
                continue
            start, dash, end = base.partition("-")
            values = [start, end] if dash else [start]
            if not all(value.isdigit() for value in values):
                return f"{base!r} is not a number or range in {name}"
            numbers = [int(value) for value in values]
            if any(not low <= number <= high for number in numbers):
                return f"{base!r} out of range {low}-{high} in {name}"
            if numbers != sorted(numbers):
                return f"range {base!r} runs backwards in {name}"
    if fields[2] != "*" and fields[4] != "*":
        return "day of month and day of week are both set"
    return None


def top_level_app_variable(path: Path) -> str | None:
    """The variable @vercel/python would serve from ``path`` (as its findAppOrHandler answers):
    the first of ``app``/``application`` bound at module level, else ``handler``. Bound means
    assigned to a plain name, defined, or imported with ``from ... import``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    bound: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            bound += [target.id] if isinstance(target, ast.Name) else []
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            bound.append(node.target.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.append(node.name)
        elif isinstance(node, ast.ImportFrom):
            bound += [alias.asname or alias.name for alias in node.names]
    first = next((name for name in bound if name in ("app", "application")), None)
    return first or ("handler" if "handler" in bound else None)


def vercel_detected_entrypoint(root: Path) -> str | None:
    """The file @vercel/python would serve, by its zero-config search."""
    for directory in VERCEL_ENTRYPOINT_DIRS:
        for name in VERCEL_ENTRYPOINT_NAMES:
            relative = f"{directory}/{name}.py" if directory else f"{name}.py"
            path = root / relative
            if path.is_file() and top_level_app_variable(path) is not None:
                return relative
    return None


def entrypoint_module(relative: str) -> str:
    """``app/main.py`` -> ``app.main``, as @vercel/python names the module it imports."""
    return relative.removesuffix(".py").removesuffix("/__init__").replace("/", ".")


def cron_route_problems(
    config: Any, cron_routes: set[str], serves_get: Callable[[str], bool]
) -> list[str]:
    """Every GET route under /api/cron/ has a cron, and every cron's path is answered by a GET
    route exactly (Vercel sends a GET and follows no redirect: a trailing-slash 307 would be a
    silent miss). ``serves_get(path)`` asks the app's router."""
    crons = config.get("crons", []) if isinstance(config, dict) else []
    listed = [str(c.get("path")) for c in crons if isinstance(c, dict)]
    problems = [
        f"cron path {p!r} listed twice" for p in sorted({p for p in listed if listed.count(p) > 1})
    ]
    problems += [f"GET {r} has no cron in vercel.json" for r in sorted(cron_routes - set(listed))]
    problems += [
        f"cron {p!r} is not a GET route of the app"
        for p in sorted(set(listed))
        if not serves_get(p.partition("?")[0])
    ]
    for cron in crons:
        if isinstance(cron, dict) and isinstance(cron.get("schedule"), str):
            problem = cron_schedule_problem(cron["schedule"])
            if problem:
                problems.append(
                    f"cron {cron.get('path')!r}: schedule {cron['schedule']!r}: {problem}"
                )
    return problems


def functions_problems(config: Any, root: Path) -> list[str]:
    """``functions`` names the file Vercel serves, and its maxDuration fits the Pro plan."""
    functions = config.get("functions") if isinstance(config, dict) else None
    if not isinstance(functions, dict) or len(functions) != 1:
        return ["functions must name exactly one entry: the ASGI entrypoint"]
    ((pattern, settings),) = functions.items()
    problems = []
    detected = vercel_detected_entrypoint(root)
    if pattern != detected:
        # Otherwise the deploy fails: "The pattern ... defined in `functions` doesn't match any
        # Serverless Functions".
        problems.append(f"functions names {pattern!r}, Vercel would build {detected!r}")
    if not (root / pattern).is_file():
        problems.append(f"{pattern} does not exist")
    duration = settings.get("maxDuration") if isinstance(settings, dict) else None
    if not isinstance(duration, int) or isinstance(duration, bool):
        problems.append(f"maxDuration {duration!r} is not a number of seconds")
    elif not 1 <= duration <= PRO_MAX_DURATION:
        problems.append(f"maxDuration {duration} is outside 1..{PRO_MAX_DURATION} s")
    return problems
