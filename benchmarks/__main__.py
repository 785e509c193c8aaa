"""Assent's benchmark suite: `python -m benchmarks [--backend both] [--scale 1000000]`.

Builds (once, then reuses) a data set per backend, copies it for the run, starts a real
`assent serve`, measures every SPEC §4 target from client processes of its own, and prints
a table. The machine is shared and noisy: each figure is a median of several runs, and the
audience filter is also given as a ratio to the best hand-written SQL measured in the same
run. Results are also written as JSON to benchmarks/.data/results-<time>.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa

from benchmarks import dataset, measure, reference, webhooks
from benchmarks import imports as bench_imports
from benchmarks import workflows as bench_workflows
from benchmarks.server import Server, api_key

MEASUREMENTS = (
    "audience", "audience_ndjson", "reference", "batch", "decision", "writes", "batch_writes", "bulk", "contacts",
    "imports", "workflows",
    "hubspot",
    "verify",
    "webhooks_drain", "webhooks_lag",
)
#: measured on a fresh database of their own (benchmarks/webhooks.py), not the data set
WEBHOOKS = ("webhooks_drain", "webhooks_lag")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def machine(postgres_url: str) -> dict[str, Any]:
    meminfo = Path("/proc/meminfo")
    lines = meminfo.read_text().splitlines() if meminfo.exists() else []
    memory = next((int(line.split()[1]) // 1024 for line in lines if line.startswith("MemTotal")), 0)
    info: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "memory_mb": memory,
        "python": platform.python_version(),
        "sqlite": __import__("sqlite3").sqlite_version,
        "load_average": os.getloadavg(),
        "wrk": bool(shutil.which("wrk")),
    }
    try:
        dsn = sa.make_url(postgres_url).set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(dsn, connect_timeout=3) as conn:
            info["postgresql"] = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
            info["postgresql_shared_buffers"] = conn.execute("SHOW shared_buffers").fetchone()[0]  # type: ignore[index]
    except psycopg.OperationalError:
        info["postgresql"] = None
    return info


def run_backend(backend: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    data = dataset.ensure(backend, args.scale, args.postgres_url, log)
    results: dict[str, Any] = {"scale": args.scale}
    run_id = dt.datetime.now().strftime("%H%M%S")
    started = time.perf_counter()
    url = data.copy_for_run(run_id)
    log(f"[{backend}] working copy ready in {time.perf_counter() - started:.0f} s")
    try:
        key = api_key(url)
        wanted = set(args.only or MEASUREMENTS)
        with Server(url, work / f"serve-{backend}.log", workers=args.workers, job_worker=True) as server:

            def step(name: str, action: Callable[[], Any]) -> None:
                if name not in wanted:
                    return
                log(f"[{backend}] {name} …")
                began = time.perf_counter()
                try:
                    results[name] = action()
                except Exception as error:
                    traceback.print_exc()
                    results[name] = {"error": f"{type(error).__name__}: {error}"}
                log(f"[{backend}] {name}: {results[name]} ({time.perf_counter() - began:.0f} s)")

            step("audience", lambda: measure.audience(server.url, key, data, args.runs, server=server))
            step("audience_ndjson", lambda: measure.audience(server.url, key, data, 1, "application/x-ndjson"))
            step("reference", lambda: _reference(url, data, args.runs))
            step("batch", lambda: measure.batch(server.url, key, data, max(args.runs, 7)))
            step("decision", lambda: measure.single_decisions(server.url, key, data, work, args.seconds))
            step("writes", lambda: measure.status_writes(server.url, key, data, args.seconds))
            step("batch_writes", lambda: measure.batch_writes(server.url, key, data, 10))
            step("contacts", lambda: measure.contacts_index(server.url, key, data, 20))
            step("bulk", lambda: measure.bulk_update(server.url, key, data))
            step("imports", lambda: bench_imports.imports(server, url, key, data, work, args.scale))
            step("workflows", lambda: bench_workflows.enrollment(server.url, key, data))
            step("hubspot", lambda: measure.hubspot_batches(server.url, key, data, args.seconds))
            step("verify", lambda: measure.verify(url))
    finally:
        if not args.keep:
            data.drop_copy(url)
    return results


def run_all(backend: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    wanted = set(args.only or MEASUREMENTS)
    results = run_backend(backend, args, work) if wanted - set(WEBHOOKS) else {"scale": args.scale}
    if "webhooks_drain" in wanted:
        results["webhooks_drain"] = webhooks.drain(backend, args.postgres_url, args.webhook_events, log)
        log(f"[{backend}] webhooks_drain: {results['webhooks_drain']}")
    if "webhooks_lag" in wanted:
        results["webhooks_lag"] = webhooks.lag(backend, args.postgres_url, max(args.seconds, 10), log)
        log(f"[{backend}] webhooks_lag: {results['webhooks_lag']}")
    return results


def _reference(url: str, data: dataset.Dataset, runs: int) -> dict[str, Any]:
    rows = reference.prepare(url, data.audience_csv)
    found = reference.measure(url, rows, data.type_ids[0], runs)
    return {
        "seconds": found.seconds,
        "spelling": found.spelling,
        "sendable": found.rows,
        "spellings": found.all_spellings,
    }


# --- the table -----------------------------------------------------------------------------

Cell = Callable[[dict[str, Any]], str]


def _get(results: dict[str, Any], *path: str) -> Any:
    value: Any = results
    for part in path:
        if not isinstance(value, dict) or part not in value or "error" in value:
            return None
        value = value[part]
    return value


def _cell(*path: str, scale: float = 1, unit: str = "", digits: int = 0) -> Cell:
    def cell(results: dict[str, Any]) -> str:
        value = _get(results, *path)
        return "—" if value is None else f"{value * scale:,.{digits}f}{unit}"

    return cell


def _seconds(*path: str) -> Cell:
    return _cell(*path, "seconds", unit=" s", digits=1)


def _ratio(results: dict[str, Any]) -> str:
    api, sql = _get(results, "audience", "seconds"), _get(results, "reference", "seconds")
    return f"{api / sql:.2f}×" if api and sql else "—"


def _memory(results: dict[str, Any]) -> str:
    before = _get(results, "audience", "server_peak_rss_mb_before")
    after = _get(results, "audience", "server_peak_rss_mb")
    return f"{before:.0f} → {after:.0f} MB" if before and after else "—"


def _verify(results: dict[str, Any]) -> str:
    seconds, events = _get(results, "verify", "full", "seconds"), _get(results, "verify", "full", "events")
    return f"{seconds:.1f} s, {events:,}" if seconds is not None and events is not None else "—"


ROWS: list[tuple[str, str, Cell]] = [
    ("audience filter, {n} lines, HTTP end to end", "≤ 2 s", _cell("audience", "seconds", unit=" s", digits=2)),
    ("  best hand-written SQL, same data", "", _cell("reference", "seconds", unit=" s", digits=2)),
    ("  ratio API / SQL", "≤ 1.5×", _ratio),
    ("  the same upload as NDJSON (one run)", "", _cell("audience_ndjson", "seconds", unit=" s", digits=2)),
    ("  server peak RSS before → after", "flat", _memory),
    ("decisions/batch of 10,000 (median)", "≤ 150 ms", _cell("batch", "seconds", scale=1000, unit=" ms")),
    ("single decision over HTTP, requests/s", "≥ 2,000", _cell("decision", "throughput", "rps")),
    ("single decision over HTTP, p99", "≤ 10 ms", _cell("decision", "latency", "p99_ms", unit=" ms", digits=1)),
    ("  the same server's bare /healthz, requests/s", "", _cell("decision", "healthz", "rps")),
    ("  ratio decision / bare", "≥ 50 %", _cell("decision", "ratio_to_healthz", scale=100, unit=" %")),
    ("status writes, changes/s (POST …/statuses)", "≥ 10,000", _cell("writes", "changes_per_second")),
    ("  (POST /statuses/batch, 1,000 addresses × 5)", "≥ 10,000", _cell("batch_writes", "changes_per_second")),
    ("  changes/s in the bulk update job", "≥ 10,000", _cell("bulk", "changes_per_second")),
    ("bulk update 100,000 contacts × 3 types", "≤ 20 s", _cell("bulk", "seconds", unit=" s", digits=1)),
    ("opt-out import, {n} rows: upload + confirm + done", "≤ 60 s", _seconds("imports", "opt_outs")),
    ("  rows/s", "≥ 16,000", _cell("imports", "opt_outs", "rows_per_second")),
    ("  ratio to a raw load of the same file", "≤ 4×", _cell("imports", "ratio_to_raw", unit="×", digits=2)),
    ("  the same file again (all unchanged)", "≤ 30 s", _seconds("imports", "opt_outs_again")),
    ("contacts import, {n} rows, 2 status columns", "≤ 120 s", _seconds("imports", "contacts")),
    ("workflow: manual enrollment of 100,000 contacts, one action", "≤ 20 s", _seconds("workflows")),
    ("HubSpot v4 batch/read of 100, calls/s", "≥ 380", _cell("hubspot", "read", "calls_per_second")),
    ("HubSpot v4 batch/write of 100, calls/s", "≥ 380", _cell("hubspot", "write", "calls_per_second")),
    ("ledger verify, chain + replay, events/s", "1M ≤ 30 s", _cell("verify", "full", "events_per_second")),
    ("  seconds, events", "", _verify),
    ("  the chain alone (--from 2), events/s", "", _cell("verify", "chain_only", "events_per_second")),
    ("  CPU seconds of the verifying process", "", _cell("verify", "full", "cpu_seconds", unit=" s", digits=1)),
    ("  CPU seconds of its PostgreSQL server process", "", _cell("verify", "full", "server_cpu_seconds", unit=" s")),
    ("  peak RSS of the verifying process", "flat", _cell("verify", "full", "peak_rss_mb", unit=" MB")),
    (
        "contacts index, first page, {n} contacts",
        "≤ 200 ms",
        _cell("contacts", "first_page", "seconds", scale=1000, unit=" ms"),
    ),
    ("webhooks: drain a backlog, deliveries/s", "≥ 1,000", _cell("webhooks_drain", "deliveries_per_second")),
    ("webhooks: 5 endpoints, 1 down, lag p99", "≤ 2 s", _cell("webhooks_lag", "p99_s", unit=" s", digits=2)),
]


def table(all_results: dict[str, dict[str, Any]]) -> str:
    backends = list(all_results)
    header = ["measurement", "target", *backends]
    lines = [header, ["---"] * len(header)]
    scale = next(iter(all_results.values()))["scale"]
    n = f"{scale // 1_000_000}M" if scale % 1_000_000 == 0 else f"{scale:,}"
    for name, target, cell in ROWS:
        lines.append([name.format(n=n), target, *(cell(all_results[b]) for b in backends)])
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    return "\n".join(
        "| " + " | ".join(str(c).ljust(w) if c != "---" else "-" * w for c, w in zip(line, widths, strict=True)) + " |"
        for line in lines
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--scale", type=int, default=1_000_000, help="addresses (and contacts) in the data set")
    parser.add_argument("--runs", type=int, default=5, help="repetitions behind each median")
    parser.add_argument("--seconds", type=int, default=10, help="duration of each load run")
    parser.add_argument("--workers", type=int, default=2, help="HTTP worker processes of assent serve")
    parser.add_argument("--only", nargs="+", choices=MEASUREMENTS, help="measure only these")
    parser.add_argument("--postgres-url", default=os.environ.get("ASSENT_BENCH_POSTGRES_URL", dataset.DEFAULT_POSTGRES))
    parser.add_argument("--keep", action="store_true", help="keep the run's database copy")
    parser.add_argument("--webhook-events", type=int, default=100_000, help="backlog drained by webhooks_drain")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=dataset.DATA_DIR,
        help="where the cached data sets, server logs and results-<time>.json go (default: benchmarks/.data)",
    )
    args = parser.parse_args()
    # one place for every file a run writes (the suite's smoke run uses a temporary directory)
    dataset.DATA_DIR = webhooks.DATA_DIR = args.data_dir
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    work = dataset.DATA_DIR
    work.mkdir(parents=True, exist_ok=True)
    info = machine(args.postgres_url)
    log(f"machine: {info}")
    all_results = {backend: run_all(backend, args, work) for backend in backends}
    info["load_average_after"] = os.getloadavg()
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = work / f"results-{stamp}.json"
    out.write_text(json.dumps({"machine": info, "args": vars(args), "results": all_results}, indent=2, default=str))
    print(table(all_results))
    print(f"\n{info['cpus']} CPUs, {info['memory_mb']:,} MB, Python {info['python']}, SQLite {info['sqlite']}, "
          f"PostgreSQL {info.get('postgresql')}; load average before {info['load_average'][0]:.1f}, after "
          f"{info['load_average_after'][0]:.1f}. Raw figures: {out}")


if __name__ == "__main__":
    main()
