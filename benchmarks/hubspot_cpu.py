"""CPU per HubSpot v4 batch call of 100, in process: `python -m benchmarks.hubspot_cpu`.

The wall-clock benchmark (`python -m benchmarks --only hubspot`) needs a quiet machine; this
measures what one call costs whatever else runs: the app (`create_app`, its heap frozen as
`assent serve` does) is called over ASGI in this process, with no HTTP client or server, on
a fresh copy of the benchmark data set. It reports the process's CPU per call
(`time.process_time`) and, on PostgreSQL, that of the database's backends (`/proc/<pid>/stat`).

The bodies are those of `benchmarks/client.py` (100 existing addresses, each a random type
and status), from a fixed seed; `--mixed` gives each input one of three legal bases and
explanations and repeats addresses (several evidence groups per batch). `--dump FILE` writes
every answer (timestamps blanked) and then the state and the ledger, to compare two versions
of the code byte for byte. `--read` benches batch/read (`?channel=EMAIL`) of 100 existing
addresses instead, as `benchmarks/client.py` calls it.

    python -m benchmarks.hubspot_cpu [--backend sqlite] [--calls 200] [--warm 30] [--mixed] [--read] [--dump FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import time
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa

from assent.app import create_app
from assent.cli.main import settle_heap
from assent.config import Settings
from benchmarks import dataset
from benchmarks.server import api_key

WRITE = "/communication-preferences/v4/statuses/batch/write"
READ = "/communication-preferences/v4/statuses/batch/read"
_TIMESTAMP = re.compile(rb'"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"')
_STATE = (
    "SELECT address, subscription_type_id, status, legal_basis, legal_basis_explanation, source"
    " FROM subscription_statuses ORDER BY address, subscription_type_id",
    "SELECT address, channel, display, processing_legal_basis, processing_legal_basis_explanation"
    " FROM addresses ORDER BY address, channel",
    # the actor is the run's own API key: its id differs from run to run
    "SELECT id, kind, address_hash, address, business_unit_id, subscription_type_id, old_status, new_status,"
    " legal_basis, processing_legal_basis, legal_basis_explanation, source, actor_kind, ip, user_agent"
    " FROM ledger_events ORDER BY id",
    "SELECT event_id, address_hash, published_at FROM outbox ORDER BY event_id",
)


def bodies(addresses: list[str], type_ids: list[int], count: int, mixed: bool, read: bool = False) -> list[bytes]:
    rng = random.Random(7)
    made = []
    for _ in range(count):
        if read:
            made.append(json.dumps({"inputs": rng.sample(addresses, 100)}).encode())
            continue
        picked = rng.sample(addresses, 70 if mixed else 100)
        if mixed:
            picked += [rng.choice(picked) for _ in range(30)]
        inputs: list[dict[str, Any]] = []
        for address in picked:
            item = {
                "subscriberIdString": address,
                "channel": "EMAIL",
                "subscriptionId": rng.choice(type_ids),
                "statusState": rng.choice(("SUBSCRIBED", "UNSUBSCRIBED")),
            }
            if mixed:
                basis = rng.choice((None, "CONSENT_WITH_NOTICE", "LEGITIMATE_INTEREST_CLIENT"))
                explanation = rng.choice((None, "asked by phone", "signed up at the fair"))
                item |= {"legalBasis": basis} if basis else {}
                item |= {"legalBasisExplanation": explanation} if explanation else {}
            inputs.append(item)
        made.append(json.dumps({"inputs": inputs}).encode())
    return made


async def call(app: Any, key: str, body: bytes, read: bool = False) -> tuple[int, bytes]:
    """One POST, as uvicorn hands it to the app."""
    path = READ if read else WRITE
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"channel=EMAIL" if read else b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"authorization", f"Bearer {key}".encode()),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"user-agent", b"benchmarks.hubspot_cpu"),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    answer: dict[str, Any] = {"status": 0, "body": b""}
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.Event().wait()  # the client never disconnects
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        elif message["type"] == "http.response.body":
            answer["body"] += message.get("body", b"")

    await app(scope, receive, send)
    return answer["status"], answer["body"]


def backends_cpu(database: str) -> float:
    """Seconds of CPU the PostgreSQL backends serving `database` have used."""
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        pids = [pid for (pid,) in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (database,))]
    ticks = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--scale", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=200, help="measured calls")
    parser.add_argument("--warm", type=int, default=30, help="calls before measuring")
    parser.add_argument("--mixed", action="store_true", help="several legal bases and explanations per batch")
    parser.add_argument("--read", action="store_true", help="batch/read instead of batch/write")
    parser.add_argument("--dump", type=Path, help="write the answers, then the state and the ledger, here")
    parser.add_argument("--postgres-url", default=os.environ.get("ASSENT_BENCH_POSTGRES_URL", dataset.DEFAULT_POSTGRES))
    parser.add_argument("--data-dir", type=Path, default=dataset.DATA_DIR)
    args = parser.parse_args()
    dataset.DATA_DIR = args.data_dir
    data = dataset.ensure(args.backend, args.scale, args.postgres_url, print)
    url = data.copy_for_run("hubspot_cpu")
    try:
        key = api_key(url)
        lines = data.audience_csv.read_text().splitlines()[1:]
        addresses = [line.strip() for line in lines if "@" in line and " " not in line.strip()]
        work = bodies(addresses, list(data.type_ids), args.warm + args.calls, args.mixed, args.read)
        app = create_app(Settings(database_url=url, secret_keys=("benchmark-secret-key",), run_worker=False))
        settle_heap()
        database = sa.make_url(url).database or ""
        postgres = args.backend == "postgresql"
        dump = args.dump.open("wb") if args.dump else None

        async def run() -> tuple[float, float]:
            started: tuple[float, float] = (0.0, 0.0)
            for index, body in enumerate(work):
                if index == args.warm:
                    started = (time.process_time(), backends_cpu(database) if postgres else 0.0)
                status, answer = await call(app, key, body, args.read)
                if status not in (200, 207):
                    raise RuntimeError(f"{status}: {answer[:500]!r}")
                if dump:
                    dump.write(_TIMESTAMP.sub(b'"T"', answer) + b"\n")
            return time.process_time() - started[0], (backends_cpu(database) - started[1]) if postgres else 0.0

        process, backends = asyncio.run(run())
        what = "batch/read" if args.read else "batch/write"
        line = f"{args.backend} {what}: {args.calls} calls of 100: {process / args.calls * 1000:.2f} ms CPU in process"
        print(line + (f", {backends / args.calls * 1000:.2f} ms in the PostgreSQL backends" if postgres else ""))
        if dump:
            engine = sa.create_engine(url)
            with engine.connect() as conn:
                for sql in _STATE:
                    for row in conn.exec_driver_sql(sql):
                        dump.write(repr(tuple(row)).encode() + b"\n")
            engine.dispose()
            dump.close()
        app.state.db.dispose()
    finally:
        data.drop_copy(url)


if __name__ == "__main__":
    main()
