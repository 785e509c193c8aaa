"""The house's rules, enforced (docs/ARCHITECTURE.md "Import contracts"): the import-linter
contracts in pyproject.toml, and — what an import contract cannot see — that no interface
opens a write transaction (`db.write()`) or builds a `Writer` itself: state changes are
actions (`assent/actions/`)."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INTERFACES = ("api", "pages", "admin", "cli", "hubspot", "inbound")

#: (module, function) pairs allowed to open a write transaction themselves, "*" for a whole
#: module. Empty: every write is an action, the Idempotency-Key reservations too.
ALLOWED: dict[str, set[str]] = {}


def _writes(path: Path) -> list[tuple[str, int, str]]:
    """(function, line, what) for every `<x>.write()` call and `Writer(…)` in a module."""
    tree = ast.parse(path.read_text(), str(path))
    found: list[tuple[str, int, str]] = []

    def visit(node: ast.AST, function: str) -> None:
        for child in ast.iter_child_nodes(node):
            name = child.name if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) else function
            if isinstance(child, ast.Call):
                func = child.func
                if isinstance(func, ast.Attribute) and func.attr == "write" and not child.args:
                    found.append((name, child.lineno, "opens a write transaction"))
                if isinstance(func, ast.Name | ast.Attribute) and (
                    (func.id if isinstance(func, ast.Name) else func.attr) == "Writer"
                ):
                    found.append((name, child.lineno, "builds a Writer"))
            visit(child, name)

    visit(tree, "<module>")
    return found


def test_interfaces_write_only_through_actions() -> None:
    offenders = []
    for package in INTERFACES:
        for path in sorted((ROOT / "assent" / package).rglob("*.py")):
            module = str(path.relative_to(ROOT))
            allowed = ALLOWED.get(module, set())
            for function, line, what in _writes(path):
                if "*" not in allowed and function not in allowed:
                    offenders.append(f"{module}:{line} {function}() {what}")
    assert offenders == [], "state changes belong in assent/actions/:\n" + "\n".join(offenders)


def test_the_check_finds_a_write_it_should(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("def f(db):\n    with db.write() as conn:\n        Writer(db, conn)\n")
    assert [(f, what) for f, _, what in _writes(sample)] == [
        ("f", "opens a write transaction"),
        ("f", "builds a Writer"),
    ]


def test_import_contracts_hold() -> None:
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint, "import-linter is part of the test extra: pip install -e '.[test]'"
    result = subprocess.run([lint], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout
