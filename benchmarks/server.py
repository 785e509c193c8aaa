"""A real `assent serve` process for the benchmarks to talk to over HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx

from assent.services.apikeys import create_api_key
from assent.storage.db import Database
from assent.storage.migrate import migrate


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def api_key(database_url: str) -> str:
    db = Database(database_url)
    migrate(db)
    with db.write() as conn:
        _, key = create_api_key(conn, "benchmarks", ["admin"])
    db.dispose()
    return key


class Server:
    """`assent serve` on a free port, with its output in a log file; stopped on exit."""

    def __init__(self, database_url: str, log: Path, *, workers: int = 1, job_worker: bool = False) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.database_url = database_url
        self.log = log
        self.workers = workers
        self.job_worker = job_worker
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        env = {
            **os.environ,
            "ASSENT_DATABASE_URL": self.database_url,
            "ASSENT_SECRET_KEYS": "benchmark-secret-key-not-for-production",
        }
        # what the `assent` console script runs, without depending on where it was installed
        command = [sys.executable, "-c", "from assent.cli.main import main; main()", "serve", "--port", str(self.port)]
        command += ["--workers", str(self.workers)]
        if not self.job_worker:
            command.append("--no-worker")
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"assent serve exited with {self.process.returncode}; see {self.log}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        raise RuntimeError(f"assent serve did not become ready; see {self.log}")

    def peak_rss_mb(self) -> float | None:
        """The largest peak resident memory among the server's processes (Linux only)."""
        if self.process is None:
            return None
        peaks = [_peak_rss_mb(pid) for pid in _descendants(self.process.pid)]
        found = [peak for peak in peaks if peak is not None]
        return max(found) if found else None

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def _descendants(pid: int) -> list[int]:
    found = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        for child in task.read_text().split():
            found += _descendants(int(child))
    return found


def _peak_rss_mb(pid: int) -> float | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None
