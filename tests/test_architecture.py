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


#: columns whose values are a domain enum (issue 7 point 3): code names the member, never its text
ENUM_COLUMNS = frozenset({"kind", "status", "old_status", "new_status", "state", "actor_kind"})
#: where the text is the point: the domain's own definitions, migrations (frozen history) and
#: the standalone verifier (it runs without assent installed)
NOT_SCANNED = ("assent/domain/", "assent/storage/migrations/", "assent/verifier_standalone.py")


def _enum_texts(path: Path) -> list[str]:
    """`column=<enum text>`, `x.column == <enum text>` and `"column": <enum text>` in a module."""
    from assent.domain.model import ActorClass, EventKind, EventState, JobStatus, Status

    texts = {member.value for enum in (EventKind, EventState, JobStatus, Status, ActorClass) for member in enum}

    def name(node: ast.AST) -> str | None:
        if isinstance(node, ast.Attribute):
            return node.attr
        if isinstance(node, ast.Name):
            return node.id
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        return None

    where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        pairs: list[tuple[str | None, ast.AST]] = []
        if isinstance(node, ast.Call):
            pairs += [(k.arg, k.value) for k in node.keywords]
        elif isinstance(node, ast.Compare):
            pairs += [(name(node.left), right) for right in node.comparators]
        elif isinstance(node, ast.Dict):
            pairs += [(name(k) if k is not None else None, v) for k, v in zip(node.keys, node.values, strict=True)]
        for column, value in pairs:
            values = value.elts if isinstance(value, ast.Tuple | ast.List | ast.Set) else [value]
            for v in values:
                if column in ENUM_COLUMNS and isinstance(v, ast.Constant) and v.value in texts:
                    found.append(f"{where}:{v.lineno} {column} {v.value!r}")
    return found


def test_enum_valued_columns_are_named_by_their_enum() -> None:
    offenders = [
        found
        for path in sorted((ROOT / "assent").rglob("*.py"))
        if not str(path.relative_to(ROOT)).startswith(NOT_SCANNED)
        for found in _enum_texts(path)
    ]
    assert offenders == [], "use the enum member (EventKind.STATUS), not its text:\n" + "\n".join(offenders)


def test_the_enum_check_finds_a_text_it_should(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        'q = e.c.kind == "STATUS"\nw(new_status="SUBSCRIBED", kind=EventKind.STATUS)\nd = {"state": "QUEUED"}\n'
    )
    assert [f.split(" ", 1)[1] for f in _enum_texts(sample)] == [
        "kind 'STATUS'",
        "new_status 'SUBSCRIBED'",
        "state 'QUEUED'",
    ]
