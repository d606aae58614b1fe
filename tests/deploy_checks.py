"""Checks of the deploy files (vercel.json, Dockerfile, .dockerignore), shared by their tests.

Each check returns a list of problems (empty when the file is right), so the tests can show
both that the real files pass and that a broken copy is caught.
"""

from __future__ import annotations

import ast
import json
import re
import shlex
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
from dockerfile_parse import DockerfileParser

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


# ---------------------------------------------------------------------------------------------
# Dockerfile and .dockerignore
# ---------------------------------------------------------------------------------------------

#: What the image needs from the build context, and nothing else.
DOCKER_CONTEXT_SOURCES = frozenset({"pyproject.toml", "app", "supabase/migrations"})
#: The PATH of the python images (docker-library/python), which ENV PATH=...:$PATH extends.
PYTHON_IMAGE_PATH = "/usr/local/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_SLIM_PYTHON = re.compile(
    r"^python:(?P<major>3)\.(?P<minor>\d+)\.(?P<patch>\d+)-slim(-[a-z]+)?(@sha256:[0-9a-f]{64})?$"
)
_SECRET_NAME = re.compile(r"SECRET|PASSW|TOKEN|KEY|CREDENTIAL|DATABASE_URL|DSN|AUTH", re.I)
_URL_WITH_PASSWORD = re.compile(r"://[^/\s:@]+:[^/\s@]+@")


@dataclass
class Instruction:
    name: str
    value: str
    line: int


@dataclass
class Stage:
    image: str
    alias: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, name: str) -> list[Instruction]:
        return [i for i in self.instructions if i.name == name]

    def env(self) -> dict[str, str]:
        """ENV key=value pairs, unexpanded (``$PATH`` stays as written)."""
        values: dict[str, str] = {}
        for instruction in self.all("ENV"):
            for item in shlex.split(instruction.value):
                key, equals, value = item.partition("=")
                assert equals, f"line {instruction.line}: use ENV key=value"
                values[key] = value
        return values

    def workdir(self) -> str:
        workdirs = self.all("WORKDIR")
        return workdirs[-1].value if workdirs else "/"


@dataclass
class Copy:
    sources: list[str]
    dest: str
    from_stage: str | None
    line: int


def parse_dockerfile(text: str, tmp_dir: Path) -> list[Stage]:
    parser = DockerfileParser(path=str(tmp_dir / "Dockerfile"), env_replace=False)
    parser.content = text
    stages: list[Stage] = []
    for item in parser.structure:
        name = str(item["instruction"]).upper()
        value = str(item["value"]).strip()
        if name == "COMMENT":
            continue
        if name == "FROM":
            words = value.split()
            alias = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(image=words[0], alias=alias))
            continue
        assert stages, f"{name} before FROM"
        stages[-1].instructions.append(Instruction(name, value, int(item["startline"]) + 1))
    return stages


def copies(stage: Stage) -> list[Copy]:
    result = []
    for instruction in stage.all("COPY"):
        words = shlex.split(instruction.value)
        options = [w for w in words if w.startswith("--")]
        paths = [w for w in words if not w.startswith("--")]
        from_stage = next((o.split("=", 1)[1] for o in options if o.startswith("--from=")), None)
        sources = [p.removeprefix("./").rstrip("/") for p in paths[:-1]]
        result.append(Copy(sources, paths[-1], from_stage, instruction.line))
    return result


def exec_form(value: str) -> list[str] | None:
    """A JSON-array CMD/HEALTHCHECK command, or None for the shell form."""
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        return None
    if isinstance(parsed, list) and all(isinstance(word, str) for word in parsed):
        return parsed
    return None


def python_version_under_test() -> tuple[int, int]:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    major, minor = str(pyproject["tool"]["mypy"]["python_version"]).split(".")
    return int(major), int(minor)


def dockerfile_problems(stages: list[Stage]) -> list[str]:
    problems: list[str] = []
    if not stages:
        return ["no FROM"]
    final = stages[-1]
    tested = python_version_under_test()
    for stage in stages:
        match = _SLIM_PYTHON.match(stage.image)
        if not match:
            problems.append(f"FROM {stage.image}: not a python X.Y.Z-slim image pinned to a tag")
        elif (int(match["major"]), int(match["minor"])) != tested:
            problems.append(f"FROM {stage.image}: the tests run on Python {tested[0]}.{tested[1]}")
    for stage in stages:
        if stage.all("ADD"):
            problems.append("ADD: use COPY (ADD fetches URLs and unpacks archives)")
        keys = list(stage.env()) + [a.value.split("=", 1)[0] for a in stage.all("ARG")]
        problems += [
            f"ENV/ARG {key}: secrets belong in the run-time environment"
            for key in keys
            if _SECRET_NAME.search(key)
        ]
        for instruction in stage.instructions:
            if _URL_WITH_PASSWORD.search(instruction.value):
                problems.append(f"line {instruction.line}: a URL with a password")

    context_sources = [
        source
        for stage in stages
        for copy in copies(stage)
        if copy.from_stage is None
        for source in copy.sources
    ]
    if set(context_sources) != DOCKER_CONTEXT_SOURCES:
        problems.append(
            f"COPY from the context: {sorted(context_sources)}, "
            f"expected exactly {sorted(DOCKER_CONTEXT_SOURCES)}"
        )

    names = [i.name for i in final.instructions]
    users = final.all("USER")
    cmds = final.all("CMD")
    if not users:
        problems.append("no USER in the final stage: the service would run as root")
    if len(cmds) != 1:
        problems.append("the final stage needs exactly one CMD")
    if users and cmds:
        user = users[-1]
        uid, _, gid = user.value.partition(":")
        if not (uid.isdigit() and gid.isdigit() and int(uid) > 0 and int(gid) > 0):
            problems.append(f"USER {user.value}: give a numeric non-root uid:gid")
        if names.index("CMD") < len(names) - 1 - names[::-1].index("USER"):
            problems.append("USER comes after CMD")
        if any(i.name == "RUN" and i.line > user.line for i in final.instructions):
            problems.append("RUN after USER: build steps should run before dropping privileges")
        account = " ".join(i.value for i in final.all("RUN"))
        if uid.isdigit() and f"--uid {uid}" not in account:
            problems.append(f"no account is created with uid {uid}")
        if gid.isdigit() and f"--gid {gid}" not in account:
            problems.append(f"no group is created with gid {gid}")
    if cmds:
        command = exec_form(cmds[-1].value)
        if command is None:
            problems.append("CMD in shell form: signals would go to /bin/sh, not the server")
        # In a container the server must listen on every interface, or nothing reaches it.
        elif command[:4] != ["python", "-m", "app.cli", "serve"] or "0.0.0.0" not in command:  # noqa: S104
            problems.append(f"CMD {command}: expected python -m app.cli serve --host 0.0.0.0")
        elif any("--port" in word for word in command):
            problems.append("CMD sets --port: the port comes from $PORT")
    env = final.env()
    if "PORT" not in env:
        problems.append("no ENV PORT in the final stage")
    if [e.value for e in final.all("EXPOSE")] != [env.get("PORT")]:
        problems.append("EXPOSE should be the default PORT")
    if env.get("APP_ENV") != "production":
        problems.append("ENV APP_ENV=production missing")
    healthchecks = final.all("HEALTHCHECK")
    if len(healthchecks) != 1:
        problems.append("the final stage needs one HEALTHCHECK")
    else:
        _, cmd, command_text = healthchecks[0].value.partition("CMD")
        command = exec_form(command_text.strip()) if cmd else None
        if command is None or command[0] != "python":
            problems.append("HEALTHCHECK: exec form with python (the slim image has no curl)")
        elif "/health" not in command_text or "PORT" not in command_text:
            problems.append("HEALTHCHECK should ask /health on $PORT")
    return problems


def _pattern_matches(pattern: str, path: str) -> bool:
    """Docker's matching (moby/patternmatcher): ``*`` stays within one path segment, ``**``
    crosses any number; a pattern that matches a folder matches everything in it."""
    regex = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            regex += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            regex += ".*"
            i += 2
        elif pattern[i] == "*":
            regex += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            regex += "[^/]"
            i += 1
        else:
            regex += re.escape(pattern[i])
            i += 1
    compiled = re.compile(regex + r"\Z")
    parts = path.split("/")
    return any(compiled.match("/".join(parts[:n])) for n in range(1, len(parts) + 1))


def dockerignore_excludes(patterns: list[str], path: str) -> bool:
    """Whether ``path`` (relative, with /) stays out of the build context; the last matching
    pattern decides, and ``!`` lets a path back in."""
    excluded = False
    for raw in patterns:
        negated = raw.startswith("!")
        pattern = raw.removeprefix("!").strip().lstrip("/")
        if pattern and _pattern_matches(pattern, path):
            excluded = not negated
    return excluded


def read_dockerignore(text: str) -> list[str]:
    lines = (line.strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def dockerignore_problems(patterns: list[str], root: Path) -> list[str]:
    problems = []
    must_exclude = [
        ".git/HEAD",
        ".venv/bin/python",
        "tests/conftest.py",
        "bench/run.py",
        "pgdata/PG_VERSION",
        "scripts/test",
        ".ci/run",
        ".env",
        "supabase/seed.sql",
        "vercel.json",
        "Dockerfile",
        "app/__pycache__/main.cpython-311.pyc",
        ".mypy_cache/x",
        ".pytest_cache/x",
    ]
    problems += [
        f"{p} is sent to the build" for p in must_exclude if not dockerignore_excludes(patterns, p)
    ]
    # Everything a COPY needs must stay in the context, or `docker build` fails.
    for source in sorted(DOCKER_CONTEXT_SOURCES):
        path = root / source
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        for file in files:
            relative = file.relative_to(root).as_posix()
            if "__pycache__" in relative:
                continue
            if dockerignore_excludes(patterns, relative):
                problems.append(f"{relative} is needed by COPY but ignored")
    return problems
