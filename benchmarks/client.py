"""HTTP clients that run in a process of their own, so that the server's CPU is not theirs.

    python -m benchmarks.client audience URL KEY TYPE_ID FILE MEDIA_TYPE [--include-blocked]
    python -m benchmarks.client batch URL KEY TYPE_ID FILE RUNS
    python -m benchmarks.client load URL KEY PATHS_FILE SECONDS PROCESSES
    python -m benchmarks.client writes URL KEY TYPE_IDS REQUESTS RUN
    python -m benchmarks.client hubspot URL KEY read|write TYPE_IDS FILE SECONDS PROCESSES

Each prints one JSON object on stdout.
"""

from __future__ import annotations

import json
import multiprocessing
import random
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx


def audience(url: str, key: str, type_id: int, path: Path, media_type: str, include_blocked: bool) -> dict[str, Any]:
    def body() -> Iterator[bytes]:
        with path.open("rb") as upload:
            while block := upload.read(1 << 16):
                yield block

    params: dict[str, Any] = {"subscription_type_id": type_id}
    if include_blocked:
        params["include_blocked"] = "true"
    headers = {"Authorization": f"Bearer {key}", "Content-Type": media_type}
    lines = size = 0
    first_byte = None
    with httpx.Client(timeout=900) as client:
        started = time.perf_counter()
        endpoint = f"{url}/api/v1/audiences/filter"
        with client.stream("POST", endpoint, params=params, content=body(), headers=headers) as response:
            for block in response.iter_bytes():
                if first_byte is None:
                    first_byte = time.perf_counter() - started
                lines += block.count(b"\n")
                size += len(block)
        elapsed = time.perf_counter() - started
    return {"status": response.status_code, "seconds": elapsed, "first_byte": first_byte, "lines": lines, "bytes": size}


def batch(url: str, key: str, type_id: int, path: Path, runs: int) -> dict[str, Any]:
    addresses = [line for line in path.read_text().splitlines()[1:] if line]
    size = min(10_000, len(addresses))  # a small data set (--scale 1000) asks for all of it
    bodies = [
        json.dumps({"subscription_type_id": type_id, "addresses": random.Random(run).sample(addresses, size)})
        for run in range(runs + 1)
    ]
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    times = []
    with httpx.Client(timeout=120) as client:
        for body in bodies:  # the first run warms up and is not counted
            started = time.perf_counter()
            response = client.post(f"{url}/api/v1/decisions/batch", content=body, headers=headers)
            times.append(time.perf_counter() - started)
            if response.status_code != 200 or len(response.json()["results"]) != size:
                return {"error": f"{response.status_code} {response.text[:300]}"}
    return {"seconds": times[1:]}


def writes(url: str, key: str, type_ids: list[int], requests: int, run: str) -> dict[str, Any]:
    """POST /api/v1/statuses/batch: 1,000 new addresses × every type per request, one after
    another; changes per second counted from the answers."""
    bodies = [
        json.dumps(
            {
                "channel": "EMAIL",
                "items": [
                    {
                        "address": f"b{run}-{n}-{i}@bench.example.com",
                        "changes": [{"subscription_type_id": t, "status": "SUBSCRIBED"} for t in type_ids],
                    }
                    for i in range(1000)
                ],
            }
        )
        for n in range(requests + 1)
    ]
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    changed = 0
    times = []
    with httpx.Client(timeout=120) as client:
        for n, body in enumerate(bodies):  # the first request warms up and is not counted
            started = time.perf_counter()
            response = client.post(f"{url}/api/v1/statuses/batch", content=body, headers=headers)
            elapsed = time.perf_counter() - started
            if response.status_code == 404:
                return {"missing": True}
            if response.status_code != 200:
                return {"error": f"{response.status_code} {response.text[:300]}"}
            if n:
                times.append(elapsed)
                changed += sum(
                    r["outcome"] == "CHANGED" for item in response.json()["results"] for r in item["results"] or ()
                )
    return {"changes": changed, "seconds": sum(times), "per_request": times}


def _load_worker(url: str, key: str, paths: list[str], seconds: float, seed: int, out: Any) -> None:
    rng = random.Random(seed)
    latencies = []
    errors = 0
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
        deadline = time.perf_counter() + seconds
        while (now := time.perf_counter()) < deadline:
            response = client.get(rng.choice(paths))
            latencies.append(time.perf_counter() - now)
            errors += response.status_code != 200
    out.put((latencies, errors))


def load(url: str, key: str, paths_file: Path, seconds: float, processes: int) -> dict[str, Any]:
    """A closed-loop load generator: `processes` clients, one request at a time each."""
    paths = paths_file.read_text().splitlines()
    queue: multiprocessing.Queue[tuple[list[float], int]] = multiprocessing.Queue()
    workers = [
        multiprocessing.Process(target=_load_worker, args=(url, key, paths, seconds, n, queue))
        for n in range(processes)
    ]
    for worker in workers:
        worker.start()
    results = [queue.get() for _ in workers]
    for worker in workers:
        worker.join()
    latencies = sorted(latency for chunk, _ in results for latency in chunk)
    return {
        "requests": len(latencies),
        "errors": sum(errors for _, errors in results),
        "rps": len(latencies) / seconds,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
    }


HUBSPOT_BATCH = 100  # HubSpot's batch size


def _hubspot_worker(
    url: str, key: str, mode: str, type_ids: list[int], addresses: list[str], seconds: float, seed: int, out: Any
) -> None:
    """One closed-loop client of HubSpot's v4 batch/read or batch/write, 100 inputs a call."""
    rng = random.Random(seed)
    latencies = []
    errors = 0
    path = "/communication-preferences/v4/statuses/batch/" + ("read?channel=EMAIL" if mode == "read" else "write")
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        deadline = time.perf_counter() + seconds
        while (now := time.perf_counter()) < deadline:
            picked = rng.sample(addresses, HUBSPOT_BATCH)
            if mode == "read":
                body = json.dumps({"inputs": picked})
            else:
                # existing people, each set to a random status of a random type: a mix of
                # changes, unchanged ones and (for opted-out ones) refused resubscribes
                body = json.dumps(
                    {
                        "inputs": [
                            {
                                "subscriberIdString": address,
                                "channel": "EMAIL",
                                "subscriptionId": rng.choice(type_ids),
                                "statusState": rng.choice(("SUBSCRIBED", "UNSUBSCRIBED")),
                            }
                            for address in picked
                        ]
                    }
                )
            response = client.post(path, content=body)
            latencies.append(time.perf_counter() - now)
            errors += response.status_code not in (200, 207)
    out.put((latencies, errors))


def hubspot(
    url: str, key: str, mode: str, type_ids: list[int], path: Path, seconds: float, processes: int
) -> dict[str, Any]:
    """HubSpot v4 batch calls of 100 from `processes` clients for `seconds`: calls per second."""
    lines = path.read_text().splitlines()[1:]
    addresses = [line.strip() for line in lines if "@" in line and " " not in line.strip()]
    queue: multiprocessing.Queue[tuple[list[float], int]] = multiprocessing.Queue()
    workers = [
        multiprocessing.Process(target=_hubspot_worker, args=(url, key, mode, type_ids, addresses, seconds, n, queue))
        for n in range(processes)
    ]
    for worker in workers:
        worker.start()
    results = [queue.get() for _ in workers]
    for worker in workers:
        worker.join()
    latencies = sorted(latency for chunk, _ in results for latency in chunk)
    return {
        "calls": len(latencies),
        "errors": sum(errors for _, errors in results),
        "calls_per_second": len(latencies) / seconds,
        "inputs_per_call": HUBSPOT_BATCH,
        "clients": processes,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
    }


def main(argv: list[str]) -> None:
    kind, url, key, *rest = argv
    if kind == "audience":
        result = audience(url, key, int(rest[0]), Path(rest[1]), rest[2], "--include-blocked" in rest)
    elif kind == "batch":
        result = batch(url, key, int(rest[0]), Path(rest[1]), int(rest[2]))
    elif kind == "writes":
        result = writes(url, key, [int(t) for t in rest[0].split(",")], int(rest[1]), rest[2])
    elif kind == "hubspot":
        mode, types, file, seconds, processes = rest[:5]
        result = hubspot(url, key, mode, [int(t) for t in types.split(",")], Path(file), float(seconds), int(processes))
    elif kind == "load":
        result = load(url, key, Path(rest[0]), float(rest[1]), int(rest[2]))
    else:
        raise SystemExit(__doc__)
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
