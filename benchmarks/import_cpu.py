"""CPU of the imports, in process: `python -m benchmarks.import_cpu --backend sqlite --scale 100000`.

The benchmark's own files (`benchmarks/imports.py`) on a fresh copy of the data set: the
opt-out list, the same list again, the contacts file — each uploaded (`create_import`, the
action the API calls) and run to the end by a `Worker` in this process. For each phase it
prints this process's CPU (`time.process_time`) and, on PostgreSQL, the CPU of the server
backends of the run's database (`/proc/<pid>/stat` of every `pg_stat_activity` pid), and the
bytes this process and those backends wrote (`/proc/<pid>/io`). Wall-clock times are printed
too, but on a shared machine only the CPU compares.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from assent.actions.imports import ImportRequest, confirm_import, create_import
from assent.cli.main import settle_heap
from assent.domain.imports import ImportKind
from assent.jobs.worker import Worker
from assent.services import imports as reading
from assent.storage.db import Database
from benchmarks import dataset
from benchmarks.imports import write_contacts_file, write_opt_out_file

_TICKS = os.sysconf("SC_CLK_TCK")


def _backend_cpu(db: Database) -> dict[int, float]:
    """CPU seconds (user + system) of every server backend connected to this database."""
    if db.is_sqlite:
        return {}
    with db.engine.connect() as conn:
        pids = conn.execute(sa.text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")).scalars()
        found = {}
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            found[pid] = (int(fields[11]) + int(fields[12])) / _TICKS
        return found


def _written(pid: int | str = "self") -> int:
    try:
        text = Path(f"/proc/{pid}/io").read_text()
    except OSError:
        return 0
    return next(int(line.split()[1]) for line in text.splitlines() if line.startswith("write_bytes"))


def _measure(db: Database, name: str, work: Callable[[], Any]) -> dict[str, Any]:
    before_backends = _backend_cpu(db)
    before_written = _written()
    cpu, wall, system = time.process_time(), time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF).ru_stime
    result = work()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    system = resource.getrusage(resource.RUSAGE_SELF).ru_stime - system
    after_backends = _backend_cpu(db)
    server = sum(after_backends.values()) - sum(v for p, v in before_backends.items() if p in after_backends)
    found = {
        "phase": name,
        "cpu_s": round(cpu, 2),
        "of_it_system_s": round(system, 2),
        "server_cpu_s": round(server, 2),
        "wall_s": round(wall, 2),
        "written_mb": round((_written() - before_written) / 1e6, 1),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
    }
    print(json.dumps(found), flush=True)
    if _statements is not None:
        _statements.report()
    return {**found, "result": result}


class _Statements:
    """Wall time per statement text (`--statements`), to find the server's share of a phase."""

    def __init__(self, db: Database) -> None:
        self.spent: dict[str, list[float]] = {}
        sa.event.listen(db.engine, "before_cursor_execute", self.before)
        sa.event.listen(db.engine, "after_cursor_execute", self.after)

    def before(self, conn: Any, _cursor: Any, _sql: str, _params: Any, _context: Any, _many: bool) -> None:
        conn.info["started"] = time.perf_counter()

    def after(self, conn: Any, _cursor: Any, sql: str, _params: Any, _context: Any, _many: bool) -> None:
        found = self.spent.setdefault(" ".join(sql.split())[:110], [0, 0.0])
        found[0] += 1
        found[1] += time.perf_counter() - conn.info.pop("started")

    def report(self) -> None:
        for sql, (count, seconds) in sorted(self.spent.items(), key=lambda item: -item[1][1])[:14]:
            print(f"  {seconds:7.2f} s {count:6d}x  {sql}")
        self.spent.clear()


_statements: _Statements | None = None
_chunk_size = 0  # the worker's own


def _run_import(db: Database, path: Path, kind: ImportKind, label: str) -> list[dict[str, Any]]:
    def upload() -> dict[str, Any]:
        with path.open("rb") as file:
            return create_import(db, file, ImportRequest(kind, file_name=path.name), actor_id="bench")

    uploaded = _measure(db, f"{label}: upload", upload)
    created = uploaded["result"]
    confirm_import(db, created["id"], created["row_count"], actor_id="bench")
    ran = _measure(db, f"{label}: job", lambda: Worker(db, chunk_size=_chunk_size).run_until_idle())
    with db.read() as conn:
        done = reading.view(conn, created["id"])
    predicted = {k: created["predicted"][k] for k in ("CHANGED", "UNCHANGED", "REFUSED", "INVALID")}
    print(json.dumps({"phase": label, "status": done["status"], "predicted": predicted, "counts": done["counts"]}))
    return [uploaded, ran]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--scale", type=int, default=100_000)
    parser.add_argument("--rows", type=int, default=0, help="lines per file (default: the scale)")
    parser.add_argument("--postgres-url", default=dataset.DEFAULT_POSTGRES)
    parser.add_argument("--only", choices=("opt_outs", "again", "contacts"), default=None)
    parser.add_argument("--reuse", default=None, help="the URL of a copy kept by --keep, instead of a fresh one")
    parser.add_argument("--statements", action="store_true", help="print the slowest statements of each phase")
    parser.add_argument("--chunk-size", type=int, default=0, help="targets per job chunk (default: the worker's)")
    parser.add_argument("--data-dir", type=Path, default=None, help="where the data sets are cached")
    parser.add_argument("--keep", action="store_true", help="keep the run's copy of the data set")
    args = parser.parse_args()
    rows = args.rows or args.scale
    if args.data_dir:
        dataset.DATA_DIR = args.data_dir
    data = dataset.ensure(args.backend, args.scale, args.postgres_url, print)
    work = dataset.DATA_DIR
    opt_outs, contacts = work / f"opt-outs-{rows}.csv", work / f"contacts-{rows}.csv"
    if not opt_outs.exists():
        write_opt_out_file(opt_outs, rows, data.scale)
    if not contacts.exists():
        write_contacts_file(contacts, rows, data.type_ids)
    url = args.reuse or data.copy_for_run(time.strftime("cpu%H%M%S"))
    db = Database(url)
    global _chunk_size, _statements
    _chunk_size = args.chunk_size
    if args.statements:
        _statements = _Statements(db)
    settle_heap()  # as `assent worker` and `assent serve` do
    try:
        if args.only in (None, "opt_outs"):
            _run_import(db, opt_outs, ImportKind.OPT_OUTS, "opt-outs")
        if args.only in (None, "opt_outs", "again"):
            _run_import(db, opt_outs, ImportKind.OPT_OUTS, "opt-outs again")
        if args.only in (None, "contacts"):
            _run_import(db, contacts, ImportKind.CONTACTS, "contacts")
    finally:
        db.dispose()
        if args.keep:
            print(f"kept {url}")
        else:
            data.drop_copy(url)


if __name__ == "__main__":
    main()
