"""The deploy files: vercel.json against the Vercel CLI's own schema and the app's real routes;
the Dockerfile and .dockerignore by their structure. Every check is also run on a broken copy,
to show that it bites. (tests/test_docker_replay.py runs the image's build steps.)
"""

from __future__ import annotations

import copy
import importlib
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from fastapi import FastAPI
from starlette.routing import Match

from tests.deploy_checks import (
    HOBBY_MAX_DURATION,
    ROOT,
    VERCEL_SCHEMA,
    cron_route_problems,
    cron_schedule_problem,
    dockerfile_problems,
    dockerignore_excludes,
    dockerignore_problems,
    entrypoint_module,
    functions_problems,
    load_json,
    parse_dockerfile,
    read_dockerignore,
    schema_problems,
    top_level_app_variable,
    vercel_detected_entrypoint,
    vercel_validator,
)

VERCEL_JSON = ROOT / "vercel.json"


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    return vercel_validator()


@pytest.fixture
def config() -> dict[str, Any]:
    loaded: dict[str, Any] = load_json(VERCEL_JSON)
    return loaded


def served_app(config: dict[str, Any]) -> FastAPI:
    """The object Vercel serves: the top-level ``app`` of the module ``functions`` names."""
    (entrypoint,) = config["functions"]
    module = importlib.import_module(entrypoint_module(entrypoint))
    app = getattr(module, "app", None)
    assert isinstance(app, FastAPI), f"{entrypoint} has no top-level FastAPI app"
    assert Path(str(module.__file__)).resolve() == (ROOT / entrypoint).resolve()
    return app


def cron_routes(app: FastAPI) -> set[str]:
    """The app's GET operations under /api/cron/, from its OpenAPI document."""
    paths: dict[str, dict[str, Any]] = app.openapi()["paths"]
    return {
        p for p, operations in paths.items() if p.startswith("/api/cron/") and "get" in operations
    }


def get_router(app: FastAPI) -> Callable[[str], bool]:
    """Whether the app's router answers ``GET path`` with a route (not a 404, 405 or redirect)."""

    def serves_get(path: str) -> bool:
        scope = {"type": "http", "method": "GET", "path": path, "root_path": "", "headers": []}
        return any(route.matches(scope)[0] is Match.FULL for route in app.routes)

    return serves_get


# --- vercel.json -----------------------------------------------------------------------------


def test_vendored_schema_is_the_cli_one() -> None:
    """The fixture is the schema of the CLI's validateConfig (see tests/fixtures/README.md)."""
    schema = load_json(VERCEL_SCHEMA)
    jsonschema.Draft7Validator.check_schema(schema)
    assert {"functions", "crons", "builds", "routes", "rewrites"} <= set(schema["properties"])
    assert schema["properties"]["crons"]["items"]["required"] == ["path", "schedule"]


def test_vercel_json_passes_the_schema(
    config: dict[str, Any], validator: jsonschema.Draft7Validator
) -> None:
    assert schema_problems(config, validator) == []


def _set(path: tuple[str | int, ...], value: Any) -> Any:
    def mutate(config: dict[str, Any]) -> None:
        target: Any = config
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


def _delete(path: tuple[str | int, ...]) -> Any:
    def mutate(config: dict[str, Any]) -> None:
        target: Any = config
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return mutate


FUNCTION = ("functions", "app/main.py")


@pytest.mark.parametrize(
    ("mutation", "expected"),
    [
        (_delete(("crons", 0, "schedule")), "'schedule' is a required property"),
        (_set(("crons", 0, "path"), "api/cron/process-jobs"), "does not match '^/.*'"),
        (_set(("crons", 0, "when"), "daily"), "Additional properties are not allowed"),
        (_set(("crons", 0, "schedule"), "* *"), "is too short"),
        (_set((*FUNCTION, "maxDuration"), 0), "is not valid under any of the given schemas"),
        (_set((*FUNCTION, "maxDuration"), 7200), "is not valid under any of the given schemas"),
        (_set((*FUNCTION, "maxDuration"), "60"), "is not valid under any of the given schemas"),
        (_set((*FUNCTION, "maxduration"), 60), "Additional properties are not allowed"),
        (_set((*FUNCTION, "memory"), 64), "is less than the minimum of 128"),
        (_set(("functions",), {}), "should be non-empty"),
        (_set(("crons",), {"path": "/api/cron/process-jobs"}), "is not of type 'array'"),
        (_set(("builds",), [{"src": "app/main.py", "use": "@vercel/python"}]), "used together"),
        (_set(("cron",), []), "unknown top-level key 'cron'"),
    ],
)
def test_a_broken_vercel_json_is_refused(
    config: dict[str, Any],
    validator: jsonschema.Draft7Validator,
    mutation: Any,
    expected: str,
) -> None:
    broken = copy.deepcopy(config)
    mutation(broken)
    problems = schema_problems(broken, validator)
    assert any(expected in p for p in problems), problems


def test_every_cron_route_is_scheduled_and_every_cron_is_a_route(config: dict[str, Any]) -> None:
    app = served_app(config)
    scheduled = cron_routes(app)
    assert len(scheduled) >= 5  # process-jobs, reminders, reviews, payment expiry, monitoring
    assert cron_route_problems(config, scheduled, get_router(app)) == []
    assert {c["path"] for c in config["crons"]} == scheduled


def test_the_cron_check_bites(config: dict[str, Any]) -> None:
    app = served_app(config)
    scheduled, serves_get = cron_routes(app), get_router(app)
    missing = copy.deepcopy(config)
    dropped = missing["crons"].pop()["path"]
    assert cron_route_problems(missing, scheduled, serves_get) == [
        f"GET {dropped} has no cron in vercel.json"
    ]

    for wrong in ("/api/cron/process-jobs/", "/api/cron/no-such-job", "/health/"):
        extra = copy.deepcopy(config)
        extra["crons"].append({"path": wrong, "schedule": "0 3 * * *"})
        assert cron_route_problems(extra, scheduled, serves_get) == [
            f"cron {wrong!r} is not a GET route of the app"
        ]

    twice = copy.deepcopy(config)
    twice["crons"].append(dict(twice["crons"][0]))
    assert any("listed twice" in p for p in cron_route_problems(twice, scheduled, serves_get))

    bad_schedule = copy.deepcopy(config)
    bad_schedule["crons"][0]["schedule"] = "*/15 * * * MON"
    assert any("MON" in p for p in cron_route_problems(bad_schedule, scheduled, serves_get))


@pytest.mark.parametrize(
    "schedule",
    ["* * * * *", "*/15 * * * *", "0 */2 * * *", "0 9 * * 1-5", "5,35 6-22/2 1 1,7 *", "0 0 * * 7"],
)
def test_valid_cron_schedules(schedule: str) -> None:
    assert cron_schedule_problem(schedule) is None


@pytest.mark.parametrize(
    "schedule",
    [
        "* * * *",  # four fields
        "* * * * * *",  # seconds: not on Vercel
        "60 * * * *",
        "* 24 * * *",
        "* * 0 * *",
        "* * * 13 *",
        "* * * * 8",
        "0 9 * * MON",  # Vercel takes numbers only
        "0 9 * JAN *",
        "*/0 * * * *",
        "*/ * * * *",
        "5-1 * * * *",
        "1- * * * *",
        "0 9 1 * 1",  # day of month and day of week together
        "@daily",
        "0 9 ? * *",
    ],
)
def test_invalid_cron_schedules(schedule: str) -> None:
    assert cron_schedule_problem(schedule) is not None


def test_schedules_of_vercel_json_are_valid(config: dict[str, Any]) -> None:
    assert {c["path"]: cron_schedule_problem(c["schedule"]) for c in config["crons"]} == {
        c["path"]: None for c in config["crons"]
    }


def test_functions_names_the_asgi_entrypoint_vercel_builds(config: dict[str, Any]) -> None:
    assert vercel_detected_entrypoint(ROOT) == "app/main.py"
    assert top_level_app_variable(ROOT / "app/main.py") == "app"
    assert functions_problems(config, ROOT) == []
    served_app(config)  # importable as Vercel imports it, and a FastAPI app
    duration = config["functions"]["app/main.py"]["maxDuration"]
    # Within the Hobby limit too, so a plan change never breaks the function's config.
    assert duration <= HOBBY_MAX_DURATION


def test_vercel_finds_the_app_by_its_own_rules() -> None:
    """Nothing overrides the zero-config search: no [tool.vercel] entrypoint, no
    [project.scripts] app; FastAPI is a dependency, so Vercel picks its FastAPI preset."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "vercel" not in pyproject.get("tool", {})
    assert "app" not in pyproject["project"].get("scripts", {})
    names = [d.split(">")[0].split("[")[0].strip() for d in pyproject["project"]["dependencies"]]
    assert "fastapi" in names


def test_the_functions_check_bites(config: dict[str, Any], tmp_path: Path) -> None:
    elsewhere = copy.deepcopy(config)
    elsewhere["functions"] = {"api/index.py": elsewhere["functions"]["app/main.py"]}
    problems = functions_problems(elsewhere, ROOT)
    assert "functions names 'api/index.py', Vercel would build 'app/main.py'" in problems
    assert "api/index.py does not exist" in problems

    too_long = copy.deepcopy(config)
    too_long["functions"]["app/main.py"]["maxDuration"] = 900
    assert functions_problems(too_long, ROOT) == ["maxDuration 900 is outside 1..800 s"]

    # A main.py at the root would be found first: the function Vercel builds changes.
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "main.py").write_text("app = object()\n")
    assert vercel_detected_entrypoint(tmp_path) == "app/main.py"
    (tmp_path / "main.py").write_text("from app.main import app\n")
    assert vercel_detected_entrypoint(tmp_path) == "main.py"
    (tmp_path / "main.py").write_text("def create_app(): ...\n")
    assert vercel_detected_entrypoint(tmp_path) == "app/main.py"


@pytest.mark.parametrize(
    ("source", "variable"),
    # What @vercel/python-analysis 0.14.0's findAppOrHandler answered for these (run with node).
    [
        ("from app.main import app\n", "app"),
        ("from x import y as app\n", "app"),
        ("import app\n", None),
        ("def app(): pass\n", "app"),
        ("class handler: pass\n", "handler"),
        ("app: int = 1\n", "app"),
        ("if True:\n    app = 1\n", None),
        ("app, b = 1, 2\n", None),
        ("application = 1\napp = 2\n", "application"),
        ("app = 1\napplication = 2\n", "app"),
        ("handler = 1\napplication = 2\n", "application"),
        ("handler = 1\napp = 2\n", "app"),
    ],
)
def test_top_level_app_variable_as_vercel_reads_it(
    tmp_path: Path, source: str, variable: str | None
) -> None:
    (tmp_path / "x.py").write_text(source)
    assert top_level_app_variable(tmp_path / "x.py") == variable


# --- Dockerfile and .dockerignore ------------------------------------------------------------


def dockerfile_text() -> str:
    return (ROOT / "Dockerfile").read_text(encoding="utf-8")


def test_dockerfile(tmp_path: Path) -> None:
    assert dockerfile_problems(parse_dockerfile(dockerfile_text(), tmp_path)) == []


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("FROM python:3.11.14-slim-bookworm\n", "FROM python:3.11-slim\n", "pinned to a tag"),
        ("FROM python:3.11.14-slim-bookworm\n", "FROM python:latest\n", "pinned to a tag"),
        ("FROM python:3.11.14-slim-bookworm\n", "FROM python:3.11.14-bookworm\n", "slim"),
        ("FROM python:3.11.14-slim-bookworm\n", "FROM python:3.12.12-slim\n", "run on Python"),
        ("USER 10001:10001\n", "", "would run as root"),
        ("USER 10001:10001\n", "USER root\n", "numeric non-root"),
        ("USER 10001:10001\n", "USER 0:0\n", "numeric non-root"),
        ("USER 10001:10001\n", "USER 10002:10001\n", "no account is created with uid 10002"),
        ("    APP_ENV=production \\\n", "    APP_ENV=production SECRET_KEY=x \\\n", "SECRET_KEY"),
        ("    PORT=8000\n", "    PORT=8000 DATABASE_URL=postgresql://u:p@db/x\n", "DATABASE_URL"),
        ("COPY app ./app\n", "COPY . .\n", "COPY from the context"),
        ("COPY app ./app\n", "COPY app ./app\nCOPY tests ./tests\n", "COPY from the context"),
        ("COPY app ./app\n", "ADD app ./app\n", "use COPY"),
        (
            'CMD ["python", "-m", "app.cli", "serve", "--host", "0.0.0.0"]',
            "CMD python -m app.cli serve",
            "shell form",
        ),
        ('"--host", "0.0.0.0"]', '"--host", "0.0.0.0", "--port", "8000"]', "comes from $PORT"),
        ('"--host", "0.0.0.0"]', '"--host", "127.0.0.1"]', "expected python -m app.cli serve"),
        ("HEALTHCHECK", "# HEALTHCHECK", "one HEALTHCHECK"),
        ("EXPOSE 8000\n", "EXPOSE 80\n", "EXPOSE"),
    ],
)
def test_a_broken_dockerfile_is_refused(tmp_path: Path, old: str, new: str, expected: str) -> None:
    text = dockerfile_text()
    assert old in text
    broken = text.replace(old, new)
    problems = dockerfile_problems(parse_dockerfile(broken, tmp_path))
    assert any(expected in p for p in problems), problems


def test_user_after_cmd_is_refused(tmp_path: Path) -> None:
    text = dockerfile_text().replace("USER 10001:10001\n", "")
    problems = dockerfile_problems(parse_dockerfile(text + "USER 10001:10001\n", tmp_path))
    assert "USER comes after CMD" in problems


def test_dockerignore_keeps_the_context_to_what_is_copied() -> None:
    patterns = read_dockerignore((ROOT / ".dockerignore").read_text(encoding="utf-8"))
    assert dockerignore_problems(patterns, ROOT) == []


def test_the_dockerignore_check_bites() -> None:
    # The deny-list this file had before: .env, pgdata, scripts and the demo seed got through.
    old = [".venv", ".git", "tests", "bench", "**/__pycache__", ".mypy_cache", ".ruff_cache"]
    problems = dockerignore_problems(old, ROOT)
    assert ".env is sent to the build" in problems
    assert "pgdata/PG_VERSION is sent to the build" in problems
    # A pattern that hides what COPY needs breaks `docker build`.
    patterns = read_dockerignore((ROOT / ".dockerignore").read_text(encoding="utf-8"))
    assert any(
        p.endswith("is needed by COPY but ignored")
        for p in dockerignore_problems([*patterns, "app/db"], ROOT)
    )


@pytest.mark.parametrize(
    ("patterns", "path", "excluded"),
    [
        (["*"], "app/main.py", True),
        (["*", "!app"], "app/main.py", False),
        (["*", "!app", "**/__pycache__"], "app/db/__pycache__/x.pyc", True),
        (["*", "!supabase/migrations"], "supabase/seed.sql", True),
        (["*", "!supabase/migrations"], "supabase/migrations/0001.sql", False),
        (["tests"], "tests/x/y.py", True),
        (["tests"], "app/tests.py", False),
        (["*.md"], "docs/a.md", False),
        (["**/*.md"], "docs/a.md", True),
        (["/bench"], "bench/run.py", True),
    ],
)
def test_dockerignore_matching(patterns: list[str], path: str, excluded: bool) -> None:
    assert dockerignore_excludes(patterns, path) is excluded
