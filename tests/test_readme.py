"""The README's examples work as written, in order (issue 15, point 7).

Every ```sh block of the README preceded by `<!-- run -->` (invisible to readers) runs, in
order, in one bash process (`set -euo pipefail`, so variables carry over and the first failing
command stops it), in a fresh directory like a clone's root (`.venv` is this environment),
against a real `assent serve --demo` on its default SQLite database `./assent.db`, as the
README's first command starts it. Every `curl` fails on an HTTP error (`--fail-with-body`).
Every `assent …` command the README shows anywhere exists with the options it shows.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import click
import pytest

from assent.cli.main import cli
from tests.serve_process import ServeProcess

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
RUN_BLOCK = re.compile(r"^<!-- run -->\n```sh\n(.*?)^```$", re.MULTILINE | re.DOTALL)
README_PORT = "127.0.0.1:8000"


def run_blocks() -> list[str]:
    return RUN_BLOCK.findall(README)


def test_the_walkthrough_has_its_blocks_marked() -> None:
    blocks = run_blocks()
    assert len(blocks) >= 8
    assert "api-key create" in blocks[0]
    assert not any("pip install" in block for block in blocks)  # the two install commands stay out


def clone_like(tmp_path: Path) -> Path:
    """A directory like the clone's root: `.venv` (this environment) and `assent/` (for
    `assent/verifier_standalone.py`)."""
    here = tmp_path / "clone"
    here.mkdir()
    (here / ".venv").symlink_to(Path(sys.prefix))
    (here / "assent").symlink_to(ROOT / "assent")
    assert (here / ".venv" / "bin" / "assent").exists(), "the environment has no `assent` script"
    return here


def needs_curl() -> None:
    if shutil.which("curl") and shutil.which("bash"):
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail("CI=true and curl or bash is missing: install curl")
    pytest.skip("the README's examples need curl and bash")


def test_the_readme_examples_run_in_order_against_a_live_server(tmp_path: Path) -> None:
    needs_curl()
    here = clone_like(tmp_path)
    # the README's defaults: no ASSENT_* variable, the database is ./assent.db
    env = {name: value for name, value in os.environ.items() if not name.startswith("ASSENT_")}
    with ServeProcess(here, {}, "--demo") as server:
        assert "A ready API key with admin scope:" in server.output
        lines = [
            "set -euo pipefail",
            # every curl of the README fails on an HTTP error status, showing the answer
            'curl() { command curl --fail-with-body --show-error "$@"; }',
        ]
        blocks = run_blocks()
        for number, block in enumerate(blocks):
            where = block.replace(README_PORT, server.url.removeprefix("http://"))
            lines += [f"echo '>>> block {number}' >&2", where, f"echo; echo '<<< block {number} done'"]
        lines.append('echo "<<< key $KEY"')  # for the checks below, after the README's own commands
        script = here / "readme.sh"
        script.write_text("\n".join(lines) + "\n")
        done = subprocess.run(
            ["bash", str(script)], cwd=here, env=env, capture_output=True, text=True, timeout=600, check=False
        )
        key = re.search(r"^<<< key (\S+)$", done.stdout, re.MULTILINE)
        jobs = finished_jobs(server.url, key.group(1)) if key else []
    finished = re.findall(r"^<<< block (\d+) done$", done.stdout, re.MULTILINE)
    failed = len(finished)
    context = f"block {failed} failed:\n{blocks[failed] if failed < len(blocks) else ''}\n--- stdout:\n{done.stdout[-4000:]}\n--- stderr:\n{done.stderr[-4000:]}"
    assert done.returncode == 0, context
    assert finished == [str(n) for n in range(len(blocks))], context
    # the jobs the examples started (bulk updates, imports, the workflow's enrollment) all ran,
    # and refused nothing but the bad address the README puts in on purpose: the opt-ins made
    # after data privacy mode was turned on carry the evidence it asks for
    assert len(jobs) >= 4, jobs
    assert {job["status"] for job in jobs} == {"SUCCEEDED"}, jobs
    reasons = {reason for job in jobs for reason in job["counts"]["by_reason"]}
    assert reasons <= {"INVALID_ADDRESS"}, jobs


def finished_jobs(url: str, key: str) -> list[dict[str, Any]]:
    """Every job, once none is queued or running any more (the server's own worker runs them)."""
    request = urllib.request.Request(f"{url}/api/v1/jobs?limit=200", headers={"Authorization": f"Bearer {key}"})  # noqa: S310
    deadline = time.monotonic() + 60
    while True:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 (http://127.0.0.1)
            jobs: list[dict[str, Any]] = json.load(answer)["results"]
        if all(job["status"] not in ("QUEUED", "RUNNING") for job in jobs) or time.monotonic() > deadline:
            return jobs
        time.sleep(0.5)


# --- every `assent …` command the README shows ----------------------------------------------


def shown_commands() -> list[str]:
    """`assent …` as inline code, and every line of a code block that runs it."""
    found = [m.group(1) for m in re.finditer(r"`(?:\.venv/bin/)?(assent [^`]+)`", README)]
    for block in re.findall(r"^```(?:sh)?\n(.*?)^```$", README, re.MULTILINE | re.DOTALL):
        for line in block.splitlines():
            match = re.search(r"(?:^|[\s(])(?:\.venv/bin/)?(assent (?:[a-z-]+)(?: [^#>)]*)?)", line)
            if match and not line.lstrip().startswith("#"):
                found.append(match.group(1).split(" | ")[0])
    return sorted({command.strip() for command in found})


def _resolve(words: list[str]) -> tuple[click.Command, list[str]]:
    command: click.Command = cli
    rest = list(words)
    while isinstance(command, click.Group) and rest and rest[0] in command.commands:
        command = command.commands[rest.pop(0)]
    return command, rest


@pytest.mark.parametrize("shown", shown_commands())
def test_each_command_the_readme_shows_exists_with_its_options(shown: str) -> None:
    words = shlex.split(shown.replace("[", " ").replace("]", " ").replace("|", " "))[1:]
    command, rest = _resolve(words)
    assert not isinstance(command, click.Group), f"{shown!r}: no such command"
    options = {name for param in command.params for name in param.opts + param.secondary_opts}
    for word in rest:
        if word.startswith("--"):
            assert word.split("=")[0] in options, f"{shown!r}: {word} is not an option of {command.name}"
