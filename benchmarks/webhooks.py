"""Webhook delivery benchmarks (issue 14), on a fresh database of their own:

- `drain`: a backlog of N ledger events (default 100,000) delivered to one local receiver
  that answers 200 — target ≥ 1,000 deliveries/s;
- `lag`: 5 endpoints, one of them down (it accepts connections and never answers, so every
  attempt takes the full timeout), while changes are written at 500/s — target: the others'
  delivery lag (receipt time − event time) p99 ≤ 2 s.

The receivers run in a process of their own; the dispatcher is a real `assent worker`
process. `cpu` drains a backlog with a dispatcher in this process and reports the CPU per
delivery of the dispatcher, the receiver and the database (steadier than rates on a
shared machine). Run: `python -m benchmarks.webhooks [--backend both] [--events 100000] [--seconds 30]`
(or `python -m benchmarks --only webhooks_drain webhooks_lag`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa

from assent.services import ledger
from assent.storage.db import Database
from assent.storage.migrate import migrate

DATA_DIR = Path(__file__).parent / ".data"
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _receivers(ports: list[int], dead: list[int], out: str) -> None:
    """The receiving process: 200 on `ports`, silence on `dead`; one line per delivery.

    A minimal HTTP/1.1 server on asyncio (keep-alive, Content-Length bodies), so that on a
    small machine the receiver costs little of the CPU the dispatcher is measured on."""
    import asyncio

    lines: list[str] = []
    held: list[asyncio.StreamWriter] = []

    def serving(port: int) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Any]:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
                while True:
                    head = await reader.readuntil(b"\r\n\r\n")
                    headers = dict(
                        line.split(": ", 1) for line in head.decode("latin-1").split("\r\n")[1:] if ": " in line
                    )
                    fields = {k.lower(): v for k, v in headers.items()}
                    body = await reader.readexactly(int(fields.get("content-length", "0")))
                    at = json.loads(body)["data"]["at"]
                    lines.append(f"{port} {fields['webhook-id']} {at} {time.time()}")
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            writer.close()

        return serve

    async def silent(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)  # accepts, never answers

    async def main() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        for port in ports:
            await asyncio.start_server(serving(port), "127.0.0.1", port, backlog=1024)
        for port in dead:
            await asyncio.start_server(silent, "127.0.0.1", port, backlog=1024)
        while True:
            stopping = stop.is_set()
            taken, lines[:] = list(lines), []
            with open(out, "a") as file:
                file.write("".join(line + "\n" for line in taken))
            if stopping:
                os._exit(0)  # at once: no cancelling of the held connections' tasks
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.1)

    asyncio.run(main())


class Bench:
    """A fresh database, receivers, and `assent worker` processes; all cleaned up on exit."""

    def __init__(self, backend: str, postgres_url: str) -> None:
        DATA_DIR.mkdir(exist_ok=True)
        self.name = f"bench_webhooks_{uuid.uuid4().hex[:8]}"
        self.backend = backend
        self.postgres_url = postgres_url
        if backend == "sqlite":
            self.url = f"sqlite:///{DATA_DIR / (self.name + '.db')}"
        else:
            self._admin(f'CREATE DATABASE "{self.name}"')
            self.url = sa.make_url(postgres_url).set(database=self.name).render_as_string(hide_password=False)
        self.db = Database(self.url)
        migrate(self.db)
        self.out = DATA_DIR / f"{self.name}.deliveries"
        self.processes: list[subprocess.Popen[bytes] | multiprocessing.Process] = []

    def _admin(self, sql: str) -> None:
        dsn = sa.make_url(self.postgres_url).set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql)  # type: ignore[arg-type]

    def receivers(self, live: int, dead: int) -> tuple[list[int], list[int]]:
        ports, silent = [_free_port() for _ in range(live)], [_free_port() for _ in range(dead)]
        process = multiprocessing.get_context("fork").Process(target=_receivers, args=(ports, silent, str(self.out)))
        process.start()
        self.processes.append(process)
        time.sleep(0.5)
        return ports, silent

    def endpoints(self, ports: list[int]) -> None:
        from assent.services.webhooks import insert_endpoint
        from assent.storage.tables import now

        with self.db.write() as conn:
            for port in ports:
                insert_endpoint(conn, f"http://127.0.0.1:{port}/hook", ["*"], None, now())

    def write(self, count: int, per_transaction: int = 1000, offset: int = 0) -> None:
        """`count` STATUS events, each of its own address, as a state transaction writes them."""
        from assent.storage.tables import now

        for start in range(0, count, per_transaction):
            events = [
                {
                    "address_hash": f"{offset + n:064x}",
                    "kind": "STATUS",
                    "channel": "EMAIL",
                    "address": f"reader{offset + n}@example.com",
                    "subscription_type_id": 1,
                    "old_status": "NOT_SPECIFIED",
                    "new_status": "SUBSCRIBED",
                    "source": "API",
                    "actor_kind": "USER",
                }
                for n in range(start, min(start + per_transaction, count))
            ]
            with self.db.write() as conn:
                ledger.append(self.db, conn, events, now())

    def worker(self) -> None:
        env = {
            **os.environ,
            "ASSENT_DATABASE_URL": self.url,
            "ASSENT_SECRET_KEYS": "bench",
            "ASSENT_WEBHOOK_ALLOW_PRIVATE": "true",
        }
        log = (DATA_DIR / f"{self.name}.worker.log").open("wb")
        command = [sys.executable, "-c", "from assent.cli.main import cli; cli()", "worker", "--poll", "0.05"]
        self.processes.append(subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT))

    def deliveries(self) -> list[tuple[int, str, str, float]]:
        if not self.out.exists():
            return []
        found = []
        for line in self.out.read_text().splitlines():
            port, webhook_id, at, received = line.split(" ")
            found.append((int(port), webhook_id, at, float(received)))
        return found

    def backlog(self, events: int) -> None:
        """One live receiver with its endpoint, and `events` events waiting for it."""
        ports, _ = self.receivers(1, 0)
        self.endpoints(ports)
        self.write(events)

    def close(self) -> None:
        for process in self.processes:
            if isinstance(process, subprocess.Popen):
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
            else:
                process.terminate()
                process.join(timeout=10)
        self.db.dispose()
        if self.backend == "postgresql":
            self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        else:
            for suffix in ("", "-wal", "-shm"):
                Path(sa.make_url(self.url).database + suffix).unlink(missing_ok=True)  # type: ignore[operator]
        self.out.unlink(missing_ok=True)


def drain(backend: str, postgres_url: str, events: int, log: Callable[[str], None]) -> dict[str, Any]:
    bench = Bench(backend, postgres_url)
    try:
        bench.backlog(events)
        log(f"[{backend}] drain: {events:,} events written; starting the worker")
        started = time.time()
        bench.worker()
        deadline = started + max(120, events / 100)
        while len({d[1] for d in bench.deliveries()}) < events:
            if time.time() > deadline:
                break
            time.sleep(0.2)
        found = bench.deliveries()
        unique = len({d[1] for d in found})
        first = min((d[3] for d in found), default=started)
        last = max((d[3] for d in found), default=started)
        return {
            "events": events,
            "delivered": unique,
            "duplicates": len(found) - unique,
            "seconds_from_start": round(last - started, 2),
            "deliveries_per_second": round(unique / max(last - first, 1e-9)),
        }
    finally:
        bench.close()


def lag(backend: str, postgres_url: str, seconds: int, log: Callable[[str], None], rate: int = 500) -> dict[str, Any]:
    bench = Bench(backend, postgres_url)
    try:
        live, dead = bench.receivers(4, 1)
        bench.endpoints(live + dead)
        bench.worker()
        # A warm-up event, delivered to every live endpoint before the clock starts: the
        # worker process is up (its start-up is not delivery lag) and has its connections.
        bench.write(1, offset=10**9)
        deadline = time.time() + 120
        while len(bench.deliveries()) < len(live) and time.time() < deadline:
            time.sleep(0.1)
        written = 0
        started = time.time()
        while time.time() - started < seconds:  # 500 changes/s in transactions of 50
            tick = time.time()
            bench.write(rate // 10, per_transaction=rate // 10, offset=written)
            written += rate // 10
            time.sleep(max(0.0, 0.1 - (time.time() - tick)))
        log(f"[{backend}] lag: {written:,} events written in {time.time() - started:.1f} s; waiting for delivery")
        deadline = time.time() + 30

        def timed() -> list[tuple[int, str, str, float]]:
            return [d for d in bench.deliveries() if d[0] in live and _epoch(d[2]) >= started]

        while len(timed()) < written * len(live) and time.time() < deadline:
            time.sleep(0.2)
        found = timed()
        lags = sorted(received - _epoch(at) for _, _, at, received in found)
        return {
            "written": written,
            "write_rate": round(written / seconds),
            "delivered_to_live_endpoints": len(found),
            "expected": written * len(live),
            "p50_s": round(statistics.median(lags), 3) if lags else None,
            "p99_s": round(lags[int(len(lags) * 0.99) - 1], 3) if lags else None,
            "max_s": round(lags[-1], 3) if lags else None,
        }
    finally:
        bench.close()


def cpu(backend: str, postgres_url: str, events: int, log: Callable[[str], None]) -> dict[str, Any]:
    """CPU per delivery, which the machine's load does not change as much as a rate: a
    dispatcher in this process drains a backlog of `events` to one receiver
    (`run_until_idle`); the process CPU of this process (the dispatcher: its loop and its
    sending threads), of the receiver's process and, on PostgreSQL, of the database's
    backends serving this database, divided by the deliveries."""
    from assent.jobs.dispatcher import Dispatcher

    def seconds(pid: int) -> float:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def database_seconds() -> float:
        if backend != "postgresql":
            return 0.0
        with bench.db.read() as conn:
            pids = conn.exec_driver_sql("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
            return sum(seconds(pid) for (pid,) in pids)

    bench = Bench(backend, postgres_url)
    try:
        bench.backlog(events)
        log(f"[{backend}] cpu: {events:,} events written; draining in this process")
        dispatcher = Dispatcher(bench.db, allow_private=True, poll=0.05)
        receiver = bench.processes[0].pid
        assert receiver is not None
        held = [bench.db.engine.connect() for _ in range(4)]  # the pool's backends exist before counting
        for conn in held:
            conn.exec_driver_sql("SELECT 1")
            conn.close()
        before = (time.process_time(), seconds(receiver), database_seconds(), time.monotonic())
        dispatcher.run_until_idle()
        after = (time.process_time(), seconds(receiver), database_seconds(), time.monotonic())
        delivered = max(dispatcher.delivered, 1)
        spent = [round((b - a) / delivered * 1e6) for a, b in zip(before, after, strict=True)]
        worker, receiving, database, wall = spent
        return {
            "delivered": dispatcher.delivered,
            "worker_cpu_us_per_delivery": worker,
            "receiver_cpu_us_per_delivery": receiving,
            "database_cpu_us_per_delivery": database if backend == "postgresql" else None,
            "deliveries_per_second": round(1e6 / max(wall, 1)),
            "load_average": round(os.getloadavg()[0], 1),
        }
    finally:
        bench.close()


def _epoch(at: str) -> float:
    import datetime as dt

    return dt.datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.webhooks", description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--events", type=int, default=100_000, help="backlog size for the drain")
    parser.add_argument("--seconds", type=int, default=30, help="duration of the lag run's writes")
    parser.add_argument("--only", nargs="+", choices=("drain", "lag", "cpu"), default=["drain", "lag"])
    parser.add_argument("--postgres-url", default=os.environ.get("ASSENT_BENCH_POSTGRES_URL", DEFAULT_POSTGRES))
    args = parser.parse_args()

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    results: dict[str, Any] = {}
    for backend in ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]:
        if "drain" in args.only:
            results[f"{backend} drain"] = drain(backend, args.postgres_url, args.events, log)
            log(f"{backend} drain: {results[f'{backend} drain']}")
        if "cpu" in args.only:
            results[f"{backend} cpu"] = cpu(backend, args.postgres_url, args.events, log)
            log(f"{backend} cpu: {results[f'{backend} cpu']}")
        if "lag" in args.only:
            results[f"{backend} lag"] = lag(backend, args.postgres_url, args.seconds, log)
            log(f"{backend} lag: {results[f'{backend} lag']}")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
