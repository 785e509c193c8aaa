"""The measurements, each against a running `assent serve`, with load from other processes."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

import httpx

from assent.domain.addresses import normalize_many
from assent.domain.model import Channel
from benchmarks.dataset import Dataset
from benchmarks.server import Server

WRK_DIR = Path(__file__).parent / "wrk"


def _client(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.client", *args], capture_output=True, text=True, check=True
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def audience(
    url: str, key: str, data: Dataset, runs: int, media_type: str = "text/csv", server: Server | None = None
) -> dict[str, Any]:
    """The whole upload through the API, end to end; median of `runs` after a warm-up."""
    upload = data.audience_csv if media_type == "text/csv" else data.audience_ndjson
    memory_before = server.peak_rss_mb() if server else None
    results = [_client("audience", url, key, str(data.type_ids[0]), str(upload), media_type) for _ in range(runs + 1)]
    for result in results:
        if result["status"] != 200:
            raise RuntimeError(f"audience filter answered {result['status']}")
    counted = results[1:]
    return {
        "seconds": statistics.median(r["seconds"] for r in counted),
        "all_seconds": [r["seconds"] for r in counted],
        "first_byte": statistics.median(r["first_byte"] or 0 for r in counted),
        "sendable": counted[0]["lines"] - (1 if media_type == "text/csv" else 0),
        "upload_bytes": upload.stat().st_size,
        "server_peak_rss_mb_before": memory_before,
        "server_peak_rss_mb": server.peak_rss_mb() if server else None,
    }


def batch(url: str, key: str, data: Dataset, runs: int) -> dict[str, Any]:
    result = _client("batch", url, key, str(data.type_ids[0]), str(data.audience_csv), str(runs))
    if "error" in result:
        raise RuntimeError(result["error"])
    return {"seconds": statistics.median(result["seconds"]), "all_seconds": result["seconds"]}


def _decision_paths(data: Dataset, path: Path) -> Path:
    lines = data.audience_csv.read_text().splitlines()[1:]
    keys, _ = normalize_many(Channel.EMAIL, lines)
    valid = [line for line, key in zip(lines, keys, strict=True) if key is not None]  # a 422 is no decision
    sample = random.Random(7).sample(valid, min(10_000, len(valid)))
    type_id = data.type_ids[0]
    path.write_text(
        "".join(
            f"/api/v1/decisions?subscription_type_id={type_id}&address={urllib.parse.quote(a, safe='@')}\n"
            for a in sample
        )
    )
    return path


def _wrk(script: str, url: str, key: str, connections: int, seconds: int, *args: str) -> dict[str, Any]:
    command = [
        "wrk", "-t", "1", "-c", str(connections), "-d", f"{seconds}s", "--timeout", "10s",
        "-H", f"Authorization: Bearer {key}", "-s", str(WRK_DIR / script), url, "--", *args,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    line = next(line for line in done.stdout.splitlines() if line.startswith("JSON:"))
    raw = json.loads(line[len("JSON:") :])
    seconds_taken = raw["duration_us"] / 1e6
    return {
        "rps": raw["requests"] / seconds_taken,
        "p50_ms": raw["p50_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "errors": raw["errors"],
        "connections": connections,
        "tool": "wrk",
    }


def single_decisions(url: str, key: str, data: Dataset, work: Path, seconds: int) -> dict[str, Any]:
    """Requests per second at 4, 8, 16 and 32 connections: the best rate is the throughput;
    the latency is that of 4 connections (a rate that does not queue)."""
    paths = _decision_paths(data, work / "decision-paths.txt")
    levels = (4, 8, 16, 32)
    if shutil.which("wrk"):
        _wrk("decisions.lua", url, key, 8, 3, str(paths))  # warm-up
        curve = {c: _wrk("decisions.lua", url, key, c, seconds, str(paths)) for c in levels}
    else:
        _client("load", url, key, str(paths), "3", "4")
        curve = {
            c: {**_client("load", url, key, str(paths), str(seconds), str(c)), "tool": "python", "connections": c}
            for c in levels[:2]
        }
    best = max(curve.values(), key=lambda result: float(result["rps"]))
    found: dict[str, Any] = {"throughput": best, "latency": curve[4], "curve": curve}
    if shutil.which("wrk"):
        # The same server's bare endpoint, in the same run: the ceiling the framework allows.
        bare_paths = work / "healthz-paths.txt"
        bare_paths.write_text("/healthz\n")
        bare = {c: _wrk("decisions.lua", url, key, c, seconds, str(bare_paths)) for c in levels}
        found["healthz"] = max(bare.values(), key=lambda result: float(result["rps"]))
        found["healthz_curve"] = bare
        found["ratio_to_healthz"] = float(best["rps"]) / float(found["healthz"]["rps"])
    return found


def status_writes(url: str, key: str, data: Dataset, seconds: int) -> dict[str, Any] | None:
    """POST …/statuses with every type at once to new addresses: changes per second."""
    if not shutil.which("wrk"):
        return None
    body = json.dumps({"changes": [{"subscription_type_id": t, "status": "SUBSCRIBED"} for t in data.type_ids]})
    run = str(int(time.time()))
    result = _wrk("statuses.lua", url, key, 8, seconds, run, body)
    changes = len(data.type_ids)
    return {**result, "changes_per_request": changes, "changes_per_second": result["rps"] * changes}


def batch_writes(url: str, key: str, data: Dataset, requests: int) -> dict[str, Any] | None:
    """POST /api/v1/statuses/batch, 1,000 new addresses × every type per request."""
    types = ",".join(map(str, data.type_ids))
    result = _client("writes", url, key, types, str(requests), str(int(time.time())))
    if result.get("missing"):
        return None
    if "error" in result:
        raise RuntimeError(result["error"])
    return {**result, "changes_per_second": result["changes"] / result["seconds"]}


#: HubSpot's whole-account limit: 190 calls per 10 s; the target is 20 times that (issue 10)
HUBSPOT_TARGET_CALLS_PER_SECOND = 20 * 190 / 10


def hubspot_batches(url: str, key: str, data: Dataset, seconds: int, clients: int = 4) -> dict[str, Any]:
    """HubSpot's v4 `batch/read` and `batch/write` of 100 addresses each: calls per second."""
    types = ",".join(map(str, data.type_ids))
    found = {}
    for mode in ("read", "write"):
        result = _client("hubspot", url, key, mode, types, str(data.audience_csv), str(seconds), str(clients))
        if result["errors"]:
            raise RuntimeError(f"HubSpot batch/{mode}: {result['errors']} failed calls")
        found[mode] = {**result, "target": HUBSPOT_TARGET_CALLS_PER_SECOND}
    return found


def bulk_update(url: str, key: str, data: Dataset, contacts: int = 100_000) -> dict[str, Any] | None:
    """POST /api/v1/bulk-updates for `contacts` contacts × 3 types; seconds until the job is done."""
    headers = {"Authorization": f"Bearer {key}"}
    body = {
        "contact_ids": list(range(1, min(contacts, data.scale) + 1)),
        "channel": "EMAIL",
        "status": "SUBSCRIBED",
        "subscription_type_ids": list(data.type_ids[:3]),
        "legal_basis": "LEGITIMATE_INTEREST_CLIENT",
        "legal_basis_explanation": "Customers who bought in 2025 (benchmark)",
    }
    with httpx.Client(base_url=url, headers=headers, timeout=120) as client:
        started = time.perf_counter()
        created = client.post("/api/v1/bulk-updates", json=body)
        if created.status_code == 404:
            return None
        created.raise_for_status()
        job_id = created.json()["id"]
        while True:
            job = client.get(f"/api/v1/jobs/{job_id}").json()
            if job["status"] in ("SUCCEEDED", "FAILED"):
                break
            if time.perf_counter() - started > 1800:
                raise RuntimeError("the bulk update did not finish in 30 minutes")
            time.sleep(0.2)
        elapsed = time.perf_counter() - started
    counts = job["counts"]
    return {
        "seconds": elapsed,
        "status": job["status"],
        "contacts": len(body["contact_ids"]),
        "types": 3,
        "counts": {k: counts[k] for k in ("CHANGED", "UNCHANGED", "REFUSED")},
        "changes_per_second": counts["CHANGED"] / elapsed,
    }


def contacts_index(url: str, key: str, data: Dataset, runs: int) -> dict[str, Any] | None:
    """The first page of GET /api/v1/contacts, unfiltered and searched; median latencies."""
    headers = {"Authorization": f"Bearer {key}"}
    found: dict[str, Any] = {}
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        searches: dict[str, dict[str, Any]] = {
            "first_page": {"limit": 50},
            "search_name": {"limit": 50, "q": "karin"},
            "opted_out_of_type": {"limit": 50, "subscription_type_id": data.type_ids[0], "status": "UNSUBSCRIBED"},
        }
        for name, params in searches.items():
            times = []
            for _ in range(runs + 1):
                started = time.perf_counter()
                response = client.get("/api/v1/contacts", params=params)
                times.append(time.perf_counter() - started)
                if response.status_code == 404:
                    return None
                response.raise_for_status()
            found[name] = {"seconds": statistics.median(times[1:]), "results": len(response.json()["results"])}
    return found


#: what `assent ledger verify` says on stderr when it finds nothing wrong
VERIFIED = {
    "full": "The ledger explains the state and its chain verifies",
    "chain_only": "The chain verifies",
}

_VERIFY_SCRIPT = """\
import os, resource, sys, time
import sqlalchemy as sa
from assent.cli.main import cli

# PostgreSQL: each connection's server process and its CPU seconds when it opened and when it
# closed, one line each in a file, so that a child process of the verify counts too
SERVERS = os.environ["BENCH_SERVER_CPU_FILE"]

def _server_cpu(pid):
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

def _note(what, dbapi_connection):
    if type(dbapi_connection).__module__.startswith("psycopg"):
        pid = dbapi_connection.info.backend_pid
        with open(SERVERS, "a") as out:
            out.write(f"{what} {pid} {_server_cpu(pid)}\\n")

sa.event.listen(sa.pool.Pool, "connect", lambda dbapi_connection, record: _note("open", dbapi_connection))
sa.event.listen(sa.pool.Pool, "close", lambda dbapi_connection, record: _note("close", dbapi_connection))

started = time.perf_counter()
try:
    cli(["ledger", "verify", *sys.argv[1:]], standalone_mode=False)
finally:
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    opened, closed = {}, {}
    for line in open(SERVERS).read().splitlines():
        what, pid, cpu = line.split()
        (opened if what == "open" else closed)[pid] = 0.0 if cpu == "None" else float(cpu)
    server = sum((closed.get(pid) or _server_cpu(pid) or begin) - begin for pid, begin in opened.items())
    print(
        time.perf_counter() - started, me.ru_maxrss / 1024, me.ru_utime + me.ru_stime,
        children.ru_utime + children.ru_stime, children.ru_maxrss / 1024, server, file=sys.stderr,
    )
"""


def verify(database_url: str) -> dict[str, Any]:
    """`assent ledger verify` over the whole ledger (chain + replay against the state), and
    `--from 2` (the chain alone), each in a process of its own: seconds, events per second,
    the CPU seconds of the process and of its child (the full check's second process) and
    their peak RSS (flat: it streams), and on PostgreSQL the CPU seconds of their server
    processes. The data set is a consistent ledger: anything but
    "verified" is an error, not a figure."""
    found: dict[str, Any] = {}
    for name, args in (("full", ()), ("chain_only", ("--from", "2"))):
        with tempfile.NamedTemporaryFile("w", suffix=".servers") as servers:
            done = subprocess.run(
                [sys.executable, "-c", _VERIFY_SCRIPT, *args],
                env={**os.environ, "ASSENT_DATABASE_URL": database_url, "BENCH_SERVER_CPU_FILE": servers.name},
                capture_output=True,
                text=True,
                check=False,
            )
        lines = done.stderr.strip().splitlines()
        if done.returncode != 0 or VERIFIED[name] not in done.stderr:
            problems = done.stdout.splitlines()
            raise RuntimeError(
                f"ledger verify ({name}) did not verify the data set (exit {done.returncode}): "
                f"{lines[-2:] if len(lines) > 1 else lines}; first problems: {problems[:5]}"
            )
        seconds, rss, cpu, children_cpu, children_rss, server_cpu = (float(v) for v in lines[-1].split())
        counted = re.search(r"(\d+) events from id", done.stderr)
        events = int(counted.group(1)) if counted else 0
        found[name] = {
            "seconds": seconds,
            "events": events,
            "events_per_second": events / seconds if seconds else None,
            # the verifying process and its child (the chain's second process, if any)
            "cpu_seconds": cpu + children_cpu,
            "cpu_seconds_child": children_cpu,
            "server_cpu_seconds": server_cpu if database_url.startswith("postgresql") else None,
            "peak_rss_mb": rss,
            "peak_rss_mb_child": children_rss,
            "load_average": os.getloadavg(),
        }
    return found
