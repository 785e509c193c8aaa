"""Checking captured SQL against the Citus layout of `assent/storage/distribution.py`.

Each statement is planned by PostgreSQL itself (`EXPLAIN (FORMAT JSON, VERBOSE)` with the
parameters it was sent with), and the plan is walked:

- the equalities of every condition (Index Cond, Filter, Hash Cond, Join Filter, …) are
  joined into classes of equal terms (columns, constants, expressions), as Citus's planner
  does with PostgreSQL's equivalence classes;
- a scan on a distributed table is *pinned* when its distribution column is equal to a
  constant or listed in `= ANY (constant array)`; otherwise it reads every shard;
- two distributed tables under one join (or a correlated subplan) must have their
  distribution columns in one class (co-located), else the join is not co-located;
- an outer join whose outer side holds no shard and whose inner side does, in a statement
  that is not routed to one shard, makes Citus pull the inner side whole;
- a local (coordinator) table joined with a distributed one ships one side across nodes;
- INSERT / UPDATE / DELETE / COPY on a distributed table must name the distribution
  column (in its columns, or pinned in its WHERE), never assign it, and an ON CONFLICT
  target must contain it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from assent.storage.distribution import DISTRIBUTED, LOCAL, REFERENCE

CONDITION_KEYS = ("Index Cond", "Recheck Cond", "Filter", "Join Filter", "Hash Cond", "Merge Cond", "TID Cond")
JOINS = {"Nested Loop", "Hash Join", "Merge Join"}
_CAST = re.compile(r"::(\"[^\"]+\"|[a-z_][a-z_0-9]*( (varying|precision|without time zone|with time zone))?)(\[\])?")
_TABLE_WORD = re.compile(r"\b(" + "|".join(sorted(DISTRIBUTED, key=len, reverse=True)) + r")\b", re.IGNORECASE)


@dataclass(frozen=True)
class Violation:
    kind: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.detail}"


@dataclass
class Captured:
    sql: str
    params: Any
    many: bool = False
    origin: str = "?"
    copy_table: str | None = None
    copy_columns: tuple[str, ...] = ()
    copy_rows: list[tuple[Any, ...]] = field(default_factory=list)


def touches_distributed(sql: str) -> bool:
    return bool(_TABLE_WORD.search(sql))


# --- condition text → equalities ------------------------------------------------------


def _split_top(text: str, sep: str) -> list[str]:
    parts, depth, quoted, start, i = [], 0, False, 0, 0
    while i < len(text):
        ch = text[i]
        if ch == "'":
            quoted = not quoted
        elif not quoted:
            if ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
            elif depth == 0 and text.startswith(sep, i):
                parts.append(text[start:i])
                i += len(sep)
                start = i
                continue
        i += 1
    parts.append(text[start:])
    return [p.strip() for p in parts]


def _strip_parens(text: str) -> str:
    text = text.strip()
    while text.startswith("(") and text.endswith(")") and _closes_at_end(text):
        text = text[1:-1].strip()
    return text


def _closes_at_end(text: str) -> bool:
    depth, quoted = 0, False
    for i, ch in enumerate(text):
        if ch == "'":
            quoted = not quoted
        elif not quoted:
            depth += ch == "("
            depth -= ch == ")"
            if depth == 0 and i < len(text) - 1:
                return False
    return True


def term(text: str) -> str:
    """A condition operand as a comparable term: casts and redundant parentheses gone."""
    previous = None
    while previous != text:
        previous = text
        text = _strip_parens(_CAST.sub("", text))
    return text


def is_constant(text: str) -> bool:
    return bool(re.fullmatch(r"'(?:[^']|'')*'|-?\d+(\.\d+)?|\$\d+", text))


def conjuncts(condition: str) -> Iterator[str]:
    for part in _split_top(_strip_parens(condition), " AND "):
        part = _strip_parens(part)
        if len(_split_top(part, " AND ")) > 1:
            yield from conjuncts(part)
        elif len(_split_top(part, " OR ")) == 1:
            yield part


class Classes:
    """Union-find over terms."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}
        self.any_of: set[str] = set()  # terms listed in `= ANY (constant array)`

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: str, b: str) -> None:
        self.parent[self.find(a)] = self.find(b)

    def members(self, x: str) -> set[str]:
        root = self.find(x)
        return {m for m in list(self.parent) if self.find(m) == root}

    def constants(self, x: str) -> set[str]:
        return {m for m in self.members(x) if is_constant(m)}

    def pinned(self, x: str) -> bool:
        members = self.members(x)
        return any(is_constant(m) for m in members) or bool(members & self.any_of)

    def add(self, condition: str) -> None:
        for part in conjuncts(condition):
            sides = _split_top(part, " = ")
            if len(sides) != 2:
                continue
            left, right = term(sides[0]), sides[1].strip()
            if right.startswith("ANY ("):
                array = term(right[4:])
                if is_constant(array):
                    self.any_of.add(left)
                    self.find(left)
                continue
            self.union(left, term(right))


# --- the plan -------------------------------------------------------------------------


@dataclass(frozen=True)
class Scan:
    table: str
    alias: str

    @property
    def kind(self) -> str:
        if self.table in DISTRIBUTED:
            return "distributed"
        if self.table in REFERENCE:
            return "reference"
        if self.table in LOCAL:
            return "local"
        return "other"

    @property
    def key(self) -> str:
        return f"{self.alias}.{DISTRIBUTED[self.table].column}"


def _nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", ()):
        yield from _nodes(child)


def _scans(node: dict[str, Any]) -> list[Scan]:
    return [
        Scan(n["Relation Name"], n["Alias"])
        for n in _nodes(node)
        if "Relation Name" in n and n["Node Type"] != "ModifyTable"
    ]


def analyze_plan(plan: dict[str, Any]) -> list[Violation]:
    classes = Classes()
    for node in _nodes(plan):
        for key in CONDITION_KEYS:
            if key in node:
                classes.add(node[key])
    scans = [s for s in _scans(plan) if s.kind != "other"]
    dist = [s for s in scans if s.kind == "distributed"]
    found: list[Violation] = []
    # Routed to one shard: every shard-table pinned to one and the same constant.
    values = {frozenset(classes.constants(s.key)) for s in dist}
    router = (
        bool(dist)
        and len(values) == 1
        and len(next(iter(values))) == 1
        and all(not (classes.members(s.key) & classes.any_of) for s in dist)
    )
    if plan["Node Type"] == "ModifyTable" and plan.get("Relation Name") in DISTRIBUTED:
        target = Scan(plan["Relation Name"], plan["Alias"])
        if plan.get("Operation") in ("Update", "Delete") and not classes.pinned(target.key):
            found.append(Violation("dml-without-distribution-column", f"{plan['Operation'].upper()} {target.table}"))
    for scan in dist:
        if not classes.pinned(scan.key):
            found.append(Violation("multi-shard-read", f"{scan.table} ({scan.alias}) read on every shard"))
    if not router:
        found.extend(_join_violations(plan, classes))
    return sorted(set(found), key=str)


def _join_violations(plan: dict[str, Any], classes: Classes) -> list[Violation]:
    found = []
    for node in _nodes(plan):
        children = node.get("Plans", [])
        sides: list[tuple[str, list[Scan]]] = []
        if node["Node Type"] in JOINS and len(children) >= 2:
            outer = [c for c in children if c.get("Parent Relationship") == "Outer"]
            inner = [c for c in children if c.get("Parent Relationship") == "Inner"]
            sides = [("outer", _scans(outer[0]) if outer else []), ("inner", _scans(inner[0]) if inner else [])]
            join_type = node.get("Join Type")
            recurring, shard = (0, 1) if join_type == "Left" else (1, 0) if join_type == "Right" else (None, None)
            if recurring is not None and shard is not None:
                has = [any(s.kind == "distributed" for s in side) for _, side in sides]
                if not has[recurring] and has[shard]:
                    tables = sorted({s.table for s in sides[shard][1] if s.kind == "distributed"})
                    found.append(
                        Violation(
                            "recurring-outer-join",
                            f"no shard on the outer side of an outer join with {', '.join(tables)}",
                        )
                    )
        subplans = [c for c in children if c.get("Parent Relationship") == "SubPlan"]
        if subplans:
            rest = [c for c in children if c.get("Parent Relationship") != "SubPlan"]
            own = (
                [Scan(node["Relation Name"], node["Alias"])]
                if "Relation Name" in node and node["Node Type"] != "ModifyTable"
                else []
            )
            sides = [
                ("outer", own + [s for c in rest for s in _scans(c)]),
                ("subplan", [s for c in subplans for s in _scans(c)]),
            ]
        if len(sides) == 2:
            found.extend(_pairs(sides[0][1], sides[1][1], classes))
    return found


def _pairs(left: list[Scan], right: list[Scan], classes: Classes) -> list[Violation]:
    found = []
    for a in left:
        for b in right:
            kinds = {a.kind, b.kind}
            if kinds == {"distributed"} and classes.find(a.key) != classes.find(b.key):
                pair = " and ".join(sorted((a.table, b.table)))
                found.append(Violation("non-co-located-join", f"{pair} not joined on their distribution columns"))
            elif kinds == {"distributed", "local"}:
                pair = " and ".join(sorted((a.table, b.table)))
                found.append(Violation("local-distributed-join", f"{pair}: a coordinator table with a shard table"))
    return found


# --- statement text -------------------------------------------------------------------

_INSERT = re.compile(r'^\s*INSERT INTO "?(\w+)"?\s*\(([^)]*)\)', re.IGNORECASE)
_CONFLICT = re.compile(r"ON CONFLICT\s*\(([^)]*)\)(.*)$", re.IGNORECASE | re.DOTALL)
_UPDATE = re.compile(r'^\s*UPDATE "?(\w+)"?\s+SET\s+(.*?)(\s+WHERE\s+.*)?$', re.IGNORECASE | re.DOTALL)


def _names(text: str) -> list[str]:
    return [name.strip().strip('"') for name in text.split(",")]


def analyze_text(stmt: Captured) -> list[Violation]:
    found: list[Violation] = []
    if stmt.copy_table is not None:
        spec = DISTRIBUTED.get(stmt.copy_table)
        if spec is not None:
            if spec.column not in stmt.copy_columns:
                found.append(
                    Violation("dml-without-distribution-column", f"COPY {stmt.copy_table} without {spec.column}")
                )
            else:
                at = stmt.copy_columns.index(spec.column)
                if any(row[at] is None for row in stmt.copy_rows):
                    found.append(
                        Violation("dml-without-distribution-column", f"COPY {stmt.copy_table}: a null {spec.column}")
                    )
        return found
    insert = _INSERT.match(stmt.sql)
    if insert and insert.group(1) in DISTRIBUTED:
        table, columns = insert.group(1), _names(insert.group(2))
        column = DISTRIBUTED[table].column
        if column not in columns:
            found.append(Violation("dml-without-distribution-column", f"INSERT INTO {table} without {column}"))
        elif _null_parameter(stmt, columns.index(column), column):
            found.append(Violation("dml-without-distribution-column", f"INSERT INTO {table}: a null {column}"))
        conflict = _CONFLICT.search(stmt.sql)
        if conflict:
            if column not in _names(conflict.group(1)):
                found.append(
                    Violation(
                        "conflict-target-without-distribution-column", f"{table} ON CONFLICT ({conflict.group(1)})"
                    )
                )
            # the SET list, without a trailing `WHERE …` (the upsert's lock-only `WHERE false`)
            action = re.search(
                r"DO UPDATE SET (.*?)(?:\s+WHERE\s+.*)?$", conflict.group(2), re.IGNORECASE | re.DOTALL
            )
            if action:
                found.extend(_assignments(table, column, action.group(1), excluded_ok=True))
    update = _UPDATE.match(stmt.sql)
    if update and update.group(1) in DISTRIBUTED:
        table = update.group(1)
        found.extend(_assignments(table, DISTRIBUTED[table].column, update.group(2), excluded_ok=False))
    return found


def _assignments(table: str, column: str, text: str, *, excluded_ok: bool) -> list[Violation]:
    for assignment in _split_top(text, ","):
        left, _, right = assignment.partition("=")
        if left.strip().strip('"') != column:
            continue
        value = right.strip().replace('"', "")
        if value in (column, f"{table}.{column}") or (excluded_ok and value.upper() == f"EXCLUDED.{column.upper()}"):
            continue
        return [Violation("assigns-distribution-column", f"{table}.{column} = {right.strip()}")]
    return []


def _null_parameter(stmt: Captured, position: int, column: str) -> bool:
    sets = stmt.params if stmt.many else [stmt.params]
    for params in sets:
        if not isinstance(params, dict):
            continue
        unnest = params.get(f"c{position}")
        if isinstance(unnest, list) and any(value is None for value in unnest):
            return True
        named = [v for k, v in params.items() if k == column or re.fullmatch(rf"{column}_m\d+", k)]
        if any(value is None for value in named):
            return True
    return False
