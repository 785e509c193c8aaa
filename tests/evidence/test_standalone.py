"""The standalone verifier is one file that needs only the standard library and
`cryptography`: run as a script on an export, a checkpoint and the public key, it says
what `assent ledger verify` says."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient

import assent.verifier_standalone as standalone_module
from assent.storage.db import Database
from assent.verifier_standalone import verify_export
from tests.conftest import Catalog
from tests.evidence.helpers import export, run, seed, tamper

SCRIPT = Path(standalone_module.__file__)


def test_it_imports_only_the_standard_library_and_cryptography() -> None:
    tree = ast.parse(SCRIPT.read_text())
    imported = {
        (node.module if isinstance(node, ast.ImportFrom) else alias.name).split(".")[0]  # type: ignore[union-attr]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert imported - {"__future__", "cryptography"} <= set(sys.stdlib_module_names)


def test_it_runs_as_a_script_on_an_export(
    make: Catalog, db: Database, database_url: str, tmp_path: Path, client: TestClient, admin_headers: dict[str, str]
) -> None:
    seed(db, make.type("Newsletter"))
    signed = run(database_url, "ledger", "checkpoint").stdout
    folder = tmp_path / "auditor"
    folder.mkdir()
    script = shutil.copy(SCRIPT, folder / "verifier_standalone.py")
    (folder / "checkpoint.json").write_text(signed)
    (folder / "key.pem").write_text(client.get("/api/v1/ledger/public-key").json()["public_key_pem"])
    # The API's export is the CLI's, and carries the proof too.
    api = client.get("/api/v1/exports/history", headers=admin_headers)
    (folder / "history.csv").write_text(api.text)
    assert api.text == run(database_url, "export", "history").stdout

    def audit() -> subprocess.CompletedProcess[str]:
        # -I: isolated, the script's own folder is not on the path; nothing of Assent is needed
        return subprocess.run(
            [sys.executable, "-I", str(script), "history.csv", "--checkpoint", "checkpoint.json", "--public-key", "key.pem"],
            cwd=folder, capture_output=True, text=True, check=False,
        )  # fmt: skip

    clean = audit()
    assert (clean.returncode, clean.stdout) == (0, "")
    assert clean.stderr.startswith("OK: 6 events (0 redacted) up to event 6, covered by the checkpoint of")

    tamper(db, "UPDATE ledger_events SET old_status = 'UNSUBSCRIBED' WHERE id = 3")
    export(database_url, folder / "history.csv")
    found = audit()
    assert found.returncode == 1
    assert found.stdout.splitlines()[0] == "event 3: edited: a recorded field no longer matches the event's hash"
    verdict = run(database_url, "ledger", "verify")
    assert verdict.stdout.splitlines()[0] == found.stdout.splitlines()[0]
    assert not verify_export(folder / "history.csv").ok
