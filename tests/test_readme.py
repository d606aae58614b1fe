"""The README's first steps, run as a newcomer runs them (issue 18, items 1-3).

The Quick start's "Try it" block, "Booking a table in three calls" and the outbox block are
taken from README.md and run in bash, verbatim but for three things: the port (a free one for
``localhost:8000``), the server's log (to a file rather than the terminal) and the database (the
suite's, through ``DATABASE_URL``). Each command's output is compared with the comment lines the
README gives under it. The server runs on the real clock, as a newcomer's does, and the README
computes its dates from that clock, so what is compared does not depend on the day.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest

from tests.test_embedded_and_cli import REPO, free_port

README = (REPO / "README.md").read_text()
STEP = re.compile(r"#\s*\d+\.\s")  # "# 1. What is free ..." describes; it is not output


def section(title: str) -> str:
    start = README.index(title)
    following = README.find("\n## ", start + len(title))
    return README[start : following if following > 0 else len(README)]


def sh_blocks(text: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", text, flags=re.DOTALL)


def try_it_block() -> str:
    [block] = [b for b in sh_blocks(section("## Quick start")) if "scripts/serve &" in b]
    return block


def three_calls_block() -> str:
    [block] = sh_blocks(section("## Booking a table in three calls"))
    return block


def outbox_block() -> str:
    [block] = [b for b in sh_blocks(section("## Messages")) if "app.cli outbox" in b]
    return block


@dataclass
class Step:
    commands: list[str]
    expected: list[str]  # the comment lines that show the output, "# " removed


def steps(block: str) -> list[Step]:
    """Commands, each with the output the README shows under it (if any)."""
    found: list[Step] = []
    for line in block.splitlines():
        if line.startswith("#"):
            shown = line[1:].strip()
            if STEP.match(line) or shown.startswith("(") or not found:
                continue
            found[-1].expected.append(shown)
        elif found and not found[-1].expected:
            found[-1].commands.append(line)
        else:
            found.append(Step([line], []))
    return found


def pattern(shown: str, day: str) -> str:
    """A README output line as a regex: ``...`` is anything, the example reference and token
    stand for any, ``<DAY>`` is the day the commands computed; spaces are not compared."""
    text = re.sub(r"\s+", "", shown.removeprefix("->"))
    out = re.escape(text)
    out = out.replace(re.escape('"OGbJ..."'), '"[^"]+"')
    out = out.replace(re.escape("TB-74DA3354"), "TB-[0-9A-F]{8}")
    out = out.replace(re.escape("<DAY>"), day)
    return out.replace(re.escape("..."), ".*")


def matches(expected: list[str], output: str, day: str) -> bool:
    if expected[0].startswith(("->", "{")):  # one JSON answer, shown over several lines
        return (
            re.fullmatch(pattern(" ".join(expected), day), re.sub(r"\s+", "", output)) is not None
        )
    # Lines of text: each shown line matches an output line, in order.
    lines = iter(re.sub(r"\s+", "", line) for line in output.splitlines())
    return all(any(re.fullmatch(pattern(shown, day), line) for line in lines) for shown in expected)


class TestTheReadmeAsWritten:
    def test_the_server_is_waited_for_before_the_first_call(self) -> None:
        lines = [line for line in try_it_block().splitlines() if not line.startswith("#")]
        started = next(i for i, line in enumerate(lines) if "./scripts/serve &" in line)
        first_call = next(i for i, line in enumerate(lines) if i > started and "curl" in line)
        assert re.match(
            r"until curl -sf localhost:8000/health; do sleep 1; done", lines[first_call]
        )

    def test_no_fixed_dates_in_the_commands(self) -> None:
        for block in (try_it_block(), three_calls_block(), outbox_block()):
            commands = [line for line in block.splitlines() if not line.startswith("#")]
            assert not [c for c in commands if re.search(r"\d{4}-\d{2}-\d{2}", c)], block

    @pytest.mark.skipif(shutil.which("date") is None, reason="needs date(1)")
    def test_the_day_is_a_tuesday_of_the_coming_week(self) -> None:
        [line] = [c for c in three_calls_block().splitlines() if c.startswith("DAY=")]
        result = subprocess.run(
            ["bash", "-c", f"{line}; echo $DAY"], capture_output=True, text=True, check=True
        )
        day = date.fromisoformat(result.stdout.strip())
        today = date.fromisoformat(
            subprocess.run(
                ["date", "+%F"], capture_output=True, text=True, check=True
            ).stdout.strip()
        )
        assert day.weekday() == 1 and today < day <= today + timedelta(days=7)


@pytest.mark.skipif(shutil.which("curl") is None, reason="the README's commands use curl")
def test_a_newcomer_run(demo_database_url: str, tmp_path: Path) -> None:
    """The three blocks, one after the other, against a server they start themselves, on the
    embedded default's demo data (its floor of tables included)."""
    port = free_port()
    blocks = [steps(try_it_block()), steps(three_calls_block()), steps(outbox_block())]
    script = ["set -u", "trap 'kill $(jobs -p) 2>/dev/null' EXIT", f"cd {REPO}"]
    checked: list[Step] = []
    for step in (s for block in blocks for s in block):
        text = "\n".join(step.commands).replace("localhost:8000", f"localhost:{port}")
        text = text.replace("./scripts/serve &", f"./scripts/serve > {tmp_path}/serve.log 2>&1 &")
        script.append(text)
        if step.expected:
            script.append(f'echo; echo "@@@ step {len(checked)}"')
            checked.append(step)
    script.append("echo 'DAY='$DAY")
    result = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        env={
            **os.environ,
            "DATABASE_URL": demo_database_url,
            "PORT": str(port),
            "APP_ENV": "development",
            # The clock is real: at night the README's text would wait (as it says); not here.
            "SMS_QUIET_HOURS": "false",
        },
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    log = (tmp_path / "serve.log").read_text() if (tmp_path / "serve.log").exists() else ""
    assert result.returncode == 0, result.stderr + log
    *outputs, tail = re.split(r"@@@ step \d+\n", result.stdout)
    day = tail.strip().removeprefix("DAY=")
    assert len(outputs) == len(checked) >= 7, result.stdout
    wrong = [
        f"{' '.join(step.commands)[:80]}\n  README: {step.expected}\n  output: {output.strip()}"
        for step, output in zip(checked, outputs, strict=True)
        if not matches(step.expected, output.strip(), day)
    ]
    assert wrong == [], "\n".join(wrong)
