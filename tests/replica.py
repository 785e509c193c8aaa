"""A real PostgreSQL primary with a streaming hot standby, started for the tests.

The machine's own cluster has no `replication` line in pg_hba.conf, so the tests build a
throwaway pair instead: `initdb` a primary in a temporary directory (as the `postgres` user,
since initdb refuses root), `pg_basebackup -R` a standby from it, and start both on free
ports. Without the server binaries the tests skip — unless CI=true, where they fail.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

BIN = Path(os.environ.get("ASSENT_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
IN_CI = os.environ.get("CI", "").lower() == "true"


@dataclass
class Pair:
    root: Path
    primary_port: int
    standby_port: int

    def url(self, port: int, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{port}/{database}"

    def dsn(self, port: int, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{port}/{database}"

    @property
    def standby_dir(self) -> Path:
        return self.root / "standby"

    def stop_standby(self) -> None:
        _pg_ctl(self.root / "standby", "stop", "-m", "fast")

    def start_standby(self) -> None:
        _pg_ctl(self.root / "standby", "start", "-w", "-l", str(self.root / "standby.log"))

    def wait_replayed(self, database: str = "postgres", timeout: float = 10.0) -> None:
        """Block until the standby has replayed everything the primary has written."""
        with psycopg.connect(self.dsn(self.primary_port, database), autocommit=True) as primary:
            target = primary.execute("SELECT pg_current_wal_insert_lsn()").fetchone()
        assert target is not None
        deadline = time.monotonic() + timeout
        with psycopg.connect(self.dsn(self.standby_port, database), autocommit=True) as standby:
            while time.monotonic() < deadline:
                row = standby.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (target[0],)).fetchone()
                if row and row[0]:
                    return
                time.sleep(0.02)
        raise TimeoutError("the standby did not catch up")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_postgres() -> list[str]:
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def _run(*args: str) -> None:
    subprocess.run([*_as_postgres(), *args], check=True, capture_output=True, text=True)


def _pg_ctl(data: Path, *args: str) -> None:
    _run(str(BIN / "pg_ctl"), "-D", str(data), *args)


def _missing() -> str | None:
    if not (BIN / "initdb").exists():
        return f"PostgreSQL server binaries not found in {BIN}"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root without a postgres user to run initdb as"
    return None


@contextlib.contextmanager
def replica_pair() -> Iterator[Pair]:
    missing = _missing()
    if missing:
        if IN_CI:
            pytest.fail(f"CI=true and no streaming replica can be built: {missing}")
        pytest.skip(missing)
    root = Path(tempfile.mkdtemp(prefix="assent-replica-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    primary, standby = root / "primary", root / "standby"
    pair = Pair(root, _free_port(), _free_port())
    try:
        _run(str(BIN / "initdb"), "-D", str(primary), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        with (primary / "postgresql.conf").open("a") as conf:
            conf.write(
                f"port = {pair.primary_port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{root}'\n"
                "wal_level = replica\nmax_wal_senders = 5\nfsync = off\nsynchronous_commit = off\n"
                "full_page_writes = off\n"
            )
        with (primary / "pg_hba.conf").open("a") as hba:
            hba.write("host replication postgres 127.0.0.1/32 trust\n")
        _pg_ctl(primary, "start", "-w", "-l", str(root / "primary.log"))
        _run(
            str(BIN / "pg_basebackup"),
            "-h", "127.0.0.1", "-p", str(pair.primary_port), "-U", "postgres",
            "-D", str(standby), "-R", "-X", "stream",
        )  # fmt: skip
        with (standby / "postgresql.conf").open("a") as conf:
            conf.write(f"port = {pair.standby_port}\nhot_standby = on\nhot_standby_feedback = on\n")
        pair.start_standby()
        yield pair
    finally:
        for data in (standby, primary):
            if (data / "postmaster.pid").exists():
                with contextlib.suppress(subprocess.CalledProcessError):
                    _pg_ctl(data, "stop", "-m", "immediate")
        shutil.rmtree(root, ignore_errors=True)
