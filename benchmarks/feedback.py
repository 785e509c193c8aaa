"""SendGrid batches through a real `assent serve`: `python -m benchmarks.feedback`.

SPEC/issue 13 target: a SendGrid Event Webhook batch of 1,000 events is accepted in ≤ 1 s
on each backend. Each batch is a realistic mix for new addresses (deliveries and opens that
mean nothing, hard and soft bounces, complaints, unsubscribes of a type and of a SendGrid
group), signed with a P-256 key made here exactly as SendGrid signs, POSTed over HTTP to
`/inbound/sendgrid`; the time is from the request to the answer (verification, parsing,
dedup, every Writer call, commit). Then the first batch again: a provider's retry, all
duplicates.

Wall-clock times depend on what else the machine runs; the CPU seconds each batch costs do
much less, so each batch also reports the CPU of the `assent serve` process (and, on
PostgreSQL, of the database's server processes for this database), read from /proc before
and after it: the server side of one batch, which is what must fit in the second.

    python -m benchmarks.feedback --backend both --events 1000 --batches 10

Uses only the standard library client (urllib) and a fresh database per backend.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from assent.services import catalog
from assent.storage.db import Database
from assent.storage.migrate import migrate

DEFAULT_POSTGRES = os.environ.get("ASSENT_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
MIX = (
    ("delivered", 40),
    ("open", 20),
    ("bounce", 15),
    ("blocked", 10),
    ("spamreport", 5),
    ("unsubscribe", 5),
    ("group_unsubscribe", 5),
)


def events(batch: int, count: int, type_id: int, rng: random.Random) -> list[dict[str, Any]]:
    names = [name for name, weight in MIX for _ in range(weight)]
    now = int(time.time())
    out = []
    for i in range(count):
        name = rng.choice(names)
        item: dict[str, Any] = {
            "email": f"b{batch}-{i}@bench.example.com",
            "timestamp": now,
            "smtp-id": f"<{uuid.uuid4().hex}@ismtpd-555>",
            "event": "bounce" if name == "blocked" else name,
            "category": ["newsletter"],
            "sg_event_id": base64.urlsafe_b64encode(uuid.uuid4().bytes).decode(),
            "sg_message_id": f"{uuid.uuid4().hex}.filter0001.16648.5515E0B88.0",
            "assent_subscription_type_id": str(type_id),
            "assent_business_unit_id": "0",
        }
        if name in ("bounce", "blocked"):
            item.update(type="blocked" if name == "blocked" else "bounce", status="5.1.1", reason="550 5.1.1 unknown")
        if name == "group_unsubscribe":
            item["asm_group_id"] = 4242
        out.append(item)
    return out


def post(url: str, key: ec.EllipticCurvePrivateKey, batch: list[dict[str, Any]]) -> tuple[float, dict[str, Any]]:
    body = json.dumps(batch).encode()
    stamp = str(int(time.time()))
    signature = base64.b64encode(key.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))).decode()
    request = urllib.request.Request(  # noqa: S310 - our own loopback server
        f"{url}/inbound/sendgrid",
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "X-Twilio-Email-Event-Webhook-Signature": signature,
            "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
        },
    )
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
        answer = json.loads(response.read())
    return time.perf_counter() - start, answer


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (Linux /proc), 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_cpu(process: subprocess.Popen[bytes], database_url: str) -> float:
    """CPU so far of `assent serve` (its session: the process and any child) and, on
    PostgreSQL, of the backends connected to its database."""
    session = [
        int(entry.name)
        for entry in Path("/proc").iterdir()
        if entry.name.isdigit() and _session_of(int(entry.name)) == process.pid
    ]
    seconds = sum(cpu_seconds(pid) for pid in session)
    if database_url.startswith("postgresql"):
        url = sa.make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(url, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchall()
        seconds += sum(cpu_seconds(pid) for (pid,) in rows)
    return seconds


def _session_of(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[3])
    except (OSError, ValueError, IndexError):
        return None


def database(backend: str, work: Path) -> tuple[str, Any]:
    if backend == "sqlite":
        return f"sqlite:///{work / 'feedback.db'}", lambda: None
    name = f"assent_bench_feedback_{uuid.uuid4().hex[:8]}"
    admin = sa.make_url(DEFAULT_POSTGRES).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]

    def drop() -> None:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]

    return sa.make_url(DEFAULT_POSTGRES).set(database=name).render_as_string(hide_password=False), drop


def serve(database_url: str, public_key: str, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **os.environ,
        "ASSENT_DATABASE_URL": database_url,
        "ASSENT_SECRET_KEYS": "benchmark-secret-key-not-for-production",
        "ASSENT_SENDGRID_PUBLIC_KEY": public_key,
    }
    command = [sys.executable, "-c", "from assent.cli.main import main; main()", "serve", "--port", str(port)]
    with log.open("ab") as out:
        process = subprocess.Popen(
            [*command, "--no-worker"], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"assent serve exited; see {log}")
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=2):  # noqa: S310
                return process, url
        except OSError:
            time.sleep(0.25)
    raise RuntimeError(f"assent serve did not become ready; see {log}")


def run(backend: str, count: int, batches: int) -> dict[str, Any]:
    key = ec.generate_private_key(ec.SECP256R1())
    public = base64.b64encode(
        key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    ).decode()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        url_of_db, drop = database(backend, work)
        try:
            db = Database(url_of_db)
            migrate(db)
            with db.write() as conn:
                news = catalog.create_subscription_type(
                    conn, {"name": "Newsletter", "channel": "EMAIL", "business_unit_id": 0}
                )["id"]
                catalog.create_subscription_type(
                    conn, {"name": "Offers", "channel": "EMAIL", "business_unit_id": 0, "sendgrid_group_id": 4242}
                )
            db.dispose()
            process, url = serve(url_of_db, public, work / "serve.log")
            try:
                rng = random.Random(13)
                generated = [events(b, count, news, rng) for b in range(batches)]
                post(url, key, events(-1, 10, news, rng))  # warm up: first connections, imports
                times, cpus, applied = [], [], 0
                for batch in generated:
                    before = server_cpu(process, url_of_db)
                    seconds, answer = post(url, key, batch)
                    cpus.append(server_cpu(process, url_of_db) - before)
                    times.append(seconds)
                    applied += answer["applied"]
                before = server_cpu(process, url_of_db)
                retry_seconds, retry = post(url, key, generated[0])
                retry_cpu = server_cpu(process, url_of_db) - before
            finally:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=30)
        finally:
            drop()
    return {
        "backend": backend,
        "events_per_batch": count,
        "batches": batches,
        "median_s": round(statistics.median(times), 3),
        "max_s": round(max(times), 3),
        "applied_per_batch": applied // batches,
        "server_cpu_median_s": round(statistics.median(cpus), 3),
        "server_cpu_max_s": round(max(cpus), 3),
        "retry_s": round(retry_seconds, 3),
        "retry_server_cpu_s": round(retry_cpu, 3),
        "retry_duplicates": retry["duplicates"],
        "target_met": max(times) <= 1.0,
        "cpu_within_target": max(cpus) <= 1.0,
        "load_average": round(os.getloadavg()[0], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--batches", type=int, default=10)
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    for backend in backends:
        print(json.dumps(run(backend, args.events, args.batches)), flush=True)


if __name__ == "__main__":
    main()
