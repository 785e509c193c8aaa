"""The benchmarks run from a fresh clone (issue 15, point 10): a tiny `python -m benchmarks`
on SQLite, into a temporary directory. It asserts that they run and write results, never a
speed (speed is measured by the benchmarks themselves, on a quiet machine)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MEASURED = ("audience", "batch", "decision", "verify")


def test_a_tiny_benchmark_runs_and_writes_its_results(tmp_path: Path) -> None:
    data = tmp_path / "bench"
    done = subprocess.run(
        [
            sys.executable, "-m", "benchmarks", "--backend", "sqlite", "--scale", "1000", "--only", *MEASURED,
            "--runs", "1", "--seconds", "1", "--workers", "1", "--data-dir", str(data),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    [written] = list(data.glob("results-*.json"))
    results = json.loads(written.read_text())["results"]["sqlite"]
    assert results["scale"] == 1000
    for name in MEASURED:
        assert isinstance(results[name], dict), (name, results[name])
        assert "error" not in results[name], (name, results[name], done.stderr[-3000:])
    assert results["audience"]["sendable"] > 0
    assert "decisions/batch of 10,000" in done.stdout  # the table
    assert f"Raw figures: {written}" in done.stdout
