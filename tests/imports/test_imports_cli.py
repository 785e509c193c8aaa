"""`assent import opt-outs|contacts FILE` (R21): the same import, from the command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient

from assent.storage.db import Database
from tests.conftest import Catalog, count_rows


def assent(database_url: str, cwd: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ASSENT_DATABASE_URL": database_url, "ASSENT_SECRET_KEYS": "cli-secret", "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-c", "from assent.cli.main import cli; cli()", *args],
        env=env,
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_it_imports_an_opt_out_list_from_the_command_line(
    database_url: str, tmp_path: Path, client: TestClient, make: Catalog, read_headers: dict[str, str]
) -> None:
    newsletter = make.type()
    file = tmp_path / "opt-outs.csv"
    file.write_text("email\nalice@example.com\nbob@example.com\nnope\n")
    done = assent(database_url, tmp_path, "import", "opt-outs", str(file), "--business-unit", "0", "--yes")
    assert done.returncode == 0, done.stderr
    assert "3 rows in opt-outs.csv" in done.stderr
    assert "email → email" in done.stderr
    assert "2 changed, 0 unchanged, 0 refused, 1 invalid" in done.stderr
    assert "assent import errors imp_" in done.stderr
    blocked = client.get(
        "/api/v1/decisions", params={"address": "bob@example.com", "subscription_type_id": newsletter}, headers=read_headers
    ).json()
    assert blocked["reasons"] == ["UNSUBSCRIBED_FROM_ALL"]
    import_id = done.stderr.split("assent import errors ")[1].split()[0]
    report = assent(database_url, tmp_path, "import", "errors", import_id)
    assert report.stdout.splitlines() == ["line,column,value,reason", "4,email,nope,INVALID_ADDRESS: not a valid address"]


def test_it_asks_before_importing_and_changes_nothing_when_told_no(
    database_url: str, tmp_path: Path, db: Database
) -> None:
    file = tmp_path / "opt-outs.csv"
    file.write_text("email\nalice@example.com\n")
    answered = assent(database_url, tmp_path, "import", "opt-outs", str(file), "--business-unit", "0", stdin="n\n")
    assert answered.returncode == 1
    assert "1 rows will be opted out of all messages of business unit 0. Confirm?" in answered.stdout + answered.stderr
    assert count_rows(db, "wide_opt_outs") == 0


def test_it_exits_non_zero_naming_why_a_file_is_refused(database_url: str, tmp_path: Path) -> None:
    file = tmp_path / "latin1.csv"
    file.write_bytes("email,first_name\nbjorn@example.se,Björn\n".encode("latin-1"))
    refused = assent(database_url, tmp_path, "import", "contacts", str(file), "--yes")
    assert refused.returncode == 2
    assert "Refused (file)" in refused.stderr
    assert "line 2" in refused.stderr
    converted = assent(database_url, tmp_path, "import", "contacts", str(file), "--yes", "--encoding", "latin-1")
    assert converted.returncode == 0, converted.stderr
    assert "1 changed" in converted.stderr
