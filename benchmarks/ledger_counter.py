"""Write transactions/s through the ledger counter row: `python -m benchmarks.ledger_counter`.

Every write transaction takes its ledger ids with `UPDATE ledger_counter … RETURNING` and
holds that row's lock until it commits (services/ledger.py): ids are gap-free and in commit
order, and every writer of the whole database queues on that one row. This measures what
that costs on one PostgreSQL primary (docs/SCALING.md):

- `change`: N writer processes (not threads: the GIL), each doing one-address status changes
  through the real write path (`services.subscribers.change_statuses`: normalize, lock the
  address row, read its state, judge, upsert the status, append the event and its outbox
  row, take the ids from the counter, commit), each on a fresh address, for a fixed time;
- `counter`: the floor — N processes each running only `UPDATE ledger_counter … RETURNING`
  and COMMIT through psycopg.

For N in 1, 4, 16, each run `--repeat` times (the machine is shared and noisy: medians are
reported, with the load average). A fresh migrated database is created and dropped.

    python -m benchmarks.ledger_counter [--seconds 5] [--repeat 3] [--writers 1,4,16]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing as mp
import os
import statistics
import time
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa

from assent.domain.model import Actor, Channel, Evidence, Source, Status
from assent.services import catalog, subscribers
from assent.services.ledger import RequestContext
from assent.storage.db import Database
from assent.storage.migrate import migrate

DEFAULT_POSTGRES = os.environ.get("ASSENT_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
RESULTS = Path(__file__).resolve().parent / "results"


def _libpq(url: sa.URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _change_worker(url: str, type_id: int, writer: int, run: int, gate: Any, seconds: float, out: Any) -> None:
    db = Database(url, pool_size=1)
    actor = Actor(Source.API, f"bench-{writer}")
    change = [subscribers.RequestedChange(type_id, Status.UNSUBSCRIBED)]
    latencies: list[float] = []
    n = 0
    subscribers.change_statuses(  # warm the connection and the statement cache, outside the clock
        db,
        channel=Channel.EMAIL,
        raw_address=f"warm{run}.{writer}@example.com",
        changes=change,
        actor=actor,
        evidence=Evidence(),
        context=RequestContext(),
    )
    deadline = _wait(gate, seconds)
    while (began := time.perf_counter()) and time.time() < deadline:
        subscribers.change_statuses(
            db,
            channel=Channel.EMAIL,
            raw_address=f"r{run}.w{writer}.{n}@example.com",
            changes=change,
            actor=actor,
            evidence=Evidence(),
            context=RequestContext(),
        )
        latencies.append(time.perf_counter() - began)
        n += 1
    db.dispose()
    out.put(latencies)


def _wait(gate: tuple[Any, Any], seconds: float) -> float:
    """Ready (connected, warm); wait for every other writer; the end of this run."""
    ready, go = gate
    ready.wait()
    go.wait()
    return time.time() + seconds


def _counter_worker(dsn: str, gate: Any, seconds: float, out: Any) -> None:
    latencies: list[float] = []
    with psycopg.connect(dsn) as conn:
        conn.execute("UPDATE ledger_counter SET last_id = last_id + 1 WHERE id = 1 RETURNING last_id").fetchone()
        conn.commit()
        deadline = _wait(gate, seconds)
        while (began := time.perf_counter()) and time.time() < deadline:
            conn.execute("UPDATE ledger_counter SET last_id = last_id + 1 WHERE id = 1 RETURNING last_id").fetchone()
            conn.commit()
            latencies.append(time.perf_counter() - began)
    out.put(latencies)


def one_run(mode: str, writers: int, run: int, url: str, type_id: int, seconds: float) -> dict[str, float]:
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    # every process connected and warm before the clock starts
    gate = (ctx.Barrier(writers + 1), ctx.Event())
    if mode == "change":
        procs = [
            ctx.Process(target=_change_worker, args=(url, type_id, w, run, gate, seconds, out)) for w in range(writers)
        ]
    else:
        dsn = _libpq(sa.make_url(url))
        procs = [ctx.Process(target=_counter_worker, args=(dsn, gate, seconds, out)) for _ in range(writers)]
    for proc in procs:
        proc.start()
    gate[0].wait(timeout=300)
    gate[1].set()
    latencies: list[float] = []
    for _ in procs:
        latencies.extend(out.get(timeout=120 + seconds))
    for proc in procs:
        proc.join(timeout=30)
        if proc.exitcode != 0:
            raise RuntimeError(f"a {mode} writer failed (exit code {proc.exitcode})")
    latencies.sort()
    return {
        "tps": len(latencies) / seconds,
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "transactions": len(latencies),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES, help="a server URL; a fresh database is made on it")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--writers", default="1,4,16")
    args = parser.parse_args(argv)
    server = sa.make_url(args.postgres)
    name = f"assent_bench_counter_{os.getpid()}"
    admin = _libpq(server.set(database="postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')  # type: ignore[arg-type]
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    url = server.set(database=name).render_as_string(hide_password=False)
    try:
        db = Database(url)
        migrate(db)
        with db.write() as conn:
            bench_type = {"name": "Bench", "channel": "EMAIL", "business_unit_id": 0}
            created = catalog.create_subscription_type(conn, bench_type)
            type_id = int(created["id"])
        with db.read() as conn:
            settings = dict(
                conn.exec_driver_sql(
                    "SELECT name, setting FROM pg_settings WHERE name IN "
                    "('synchronous_commit', 'fsync', 'wal_sync_method', 'max_connections', 'server_version')"
                ).all()
            )
        db.dispose()
        counts = [int(n) for n in args.writers.split(",")]
        results: dict[str, dict[int, list[dict[str, float]]]] = {"change": {}, "counter": {}}
        loads = []
        for rep in range(args.repeat):
            for mode in ("change", "counter"):
                for writers in counts:
                    loads.append(os.getloadavg()[0])
                    measured = one_run(mode, writers, rep, url, type_id, args.seconds)
                    results[mode].setdefault(writers, []).append(measured)
                    print(
                        f"  run {rep + 1} {mode:7} N={writers:2}: {measured['tps']:7.0f} tx/s"
                        f"  p50 {measured['p50_ms']:6.2f} ms  p99 {measured['p99_ms']:7.2f} ms",
                        flush=True,
                    )
        summary = {
            mode: {
                str(n): {key: statistics.median(r[key] for r in runs) for key in ("tps", "p50_ms", "p99_ms")}
                for n, runs in by_n.items()
            }
            for mode, by_n in results.items()
        }
        print(
            f"\nmedians of {args.repeat} runs of {args.seconds:g} s; PostgreSQL {settings.get('server_version')},"
            f" synchronous_commit={settings.get('synchronous_commit')}, fsync={settings.get('fsync')};"
            f" load average during the runs {min(loads):.1f}–{max(loads):.1f} on {os.cpu_count()} cores"
        )
        print("| writers | status change tx/s | p50 ms | p99 ms | counter only tx/s | p50 ms | p99 ms |")
        print("|---:|---:|---:|---:|---:|---:|---:|")
        for n in counts:
            c, f = summary["change"][str(n)], summary["counter"][str(n)]
            print(
                f"| {n} | {c['tps']:,.0f} | {c['p50_ms']:.2f} | {c['p99_ms']:.2f} |"
                f" {f['tps']:,.0f} | {f['p50_ms']:.2f} | {f['p99_ms']:.2f} |"
            )
        RESULTS.mkdir(exist_ok=True)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d-%H%M")
        record = {
            "settings": settings,
            "seconds": args.seconds,
            "repeat": args.repeat,
            "load_average": [min(loads), max(loads)],
            "cpus": os.cpu_count(),
            "runs": results,
            "medians": summary,
        }
        (RESULTS / f"{stamp}-ledger-counter.json").write_text(json.dumps(record, indent=1))
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
