"""Request-body limits (assent/bodylimit.py) against a real `assent serve` process, over raw
sockets: the test streams its bodies chunk by chunk and never holds one, and reads the
server's memory from /proc.

- A body over its route's limit is a 413 before authentication: by `Content-Length` before
  a byte of it is read, by counting chunks when it is chunked.
- The audience filter streams an upload to disk with its own limit (`ASSENT_MAX_UPLOAD_BYTES`)
  and refuses a single over-long line by its number, with the server's memory flat.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from assent.services.apikeys import create_api_key
from assent.storage.db import Database
from assent.storage.migrate import migrate

MIB = 1 << 20
UPLOAD_LIMIT = 64 * MIB


class Server:
    def __init__(self, process: subprocess.Popen[bytes], port: int) -> None:
        self.process = process
        self.port = port
        self.url = f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str, int]]:
    """`assent serve` on SQLite (body limits do not touch the database), one process."""
    folder = tmp_path_factory.mktemp("limits")
    url = f"sqlite:///{folder / 'assent.db'}"
    db = Database(url)
    migrate(db)
    with db.write() as conn:
        key = create_api_key(conn, "limits", ["admin"])[1]
    db.dispose()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    env = {**os.environ, "ASSENT_DATABASE_URL": url, "ASSENT_SECRET_KEYS": "test-secret",
           "ASSENT_MAX_UPLOAD_BYTES": str(UPLOAD_LIMIT)}
    command = [sys.executable, "-c", "from assent.cli.main import main; main()", "serve", "--port", str(port),
               "--no-worker"]
    with (folder / "serve.log").open("ab") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    running = Server(process, port)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (folder / "serve.log").read_text()
            try:
                if httpx2.get(f"{running.url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx2.HTTPError:
                pass
            assert time.monotonic() < deadline, "assent serve did not start"
            time.sleep(0.2)
        created = httpx2.post(
            f"{running.url}/api/v1/subscription-types",
            json={"name": "Newsletter", "channel": "EMAIL"},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert created.status_code == 201, created.text
        yield running, key, int(created.json()["id"])
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def _rss_mib(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no {field} for {pid}")


def post(
    server: Server, path: str, headers: dict[str, str], *, chunks: Iterable[bytes] = (), length: int | None = None
) -> tuple[int, dict[str, Any] | str, int]:
    """POST over a raw socket: `Content-Length: length` (and no body), or `chunks` with
    chunked transfer encoding, stopping as soon as the server answers. Returns the status,
    the body (JSON when it is) and the body bytes sent."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=60)
    head = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers.items())]
    head.append(f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked")
    sent = 0
    with sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        if length is None:
            for chunk in chunks:
                if select.select([sock], [], [], 0)[0]:
                    break  # the server has answered
                try:
                    sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                except (BrokenPipeError, ConnectionResetError):
                    break
                sent += len(chunk)
            else:
                sock.sendall(b"0\r\n\r\n")
        return (*_response(sock), sent)


def _response(sock: socket.socket) -> tuple[int, dict[str, Any] | str]:
    data = b""
    while b"\r\n\r\n" not in data:
        block = sock.recv(65536)
        assert block, f"connection closed before an answer: {data!r}"
        data += block
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    fields = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
    if "content-length" in fields:
        while len(body) < int(fields["content-length"]):
            block = sock.recv(65536)
            assert block
            body += block
    else:  # chunked: good enough for our short answers
        while not body.endswith(b"0\r\n\r\n"):
            block = sock.recv(65536)
            if not block:
                break
            body += block
        body = b"".join(body.split(b"\r\n")[1::2])
    text = body.decode()
    parsed = json.loads(text) if fields.get("content-type", "").endswith("json") else text
    return int(lines[0].split()[1]), parsed


def _blocks(total: int, block: bytes) -> Iterator[bytes]:
    for _ in range(total // len(block)):
        yield block


def test_it_refuses_a_300_mib_body_by_its_length_before_authentication(server: tuple[Server, str, int]) -> None:
    running, _, _ = server
    status, body, _ = post(running, "/api/v1/contacts", {"Content-Type": "application/json"}, length=300 * MIB)
    assert status == 413
    assert isinstance(body, dict)
    assert (body["code"], body["field"], body["limit"]) == ("BODY_TOO_LARGE", "body", MIB)


def test_it_refuses_a_chunked_300_mib_body_before_authentication_and_stops_reading(
    server: tuple[Server, str, int],
) -> None:
    running, _, _ = server
    before = _rss_mib(running.process.pid)
    status, body, sent = post(
        running, "/api/v1/contacts", {"Content-Type": "application/json"}, chunks=_blocks(300 * MIB, b"x" * 65536)
    )
    assert status == 413
    assert isinstance(body, dict)
    assert body["code"] == "BODY_TOO_LARGE"
    assert sent < 300 * MIB  # the answer came while the body was still arriving
    assert _rss_mib(running.process.pid) - before < 32  # type: ignore[union-attr]
    # pages and the admin have the same limit (their forms are small)
    status, _, _ = post(running, "/admin/login", {"Content-Type": "application/x-www-form-urlencoded"},
                        length=2 * MIB)
    assert status == 413


def test_a_key_does_not_lift_the_limit(server: tuple[Server, str, int]) -> None:
    running, key, _ = server
    status, body, _ = post(
        running,
        "/api/v1/contacts",
        {"Authorization": f"bearer {key}", "Content-Type": "application/json", "Idempotency-Key": "big-1"},
        chunks=_blocks(8 * MIB, b" " * 65536),
    )
    assert (status, isinstance(body, dict) and body["code"]) == (413, "BODY_TOO_LARGE")


def test_the_audience_filter_streams_refuses_a_200_mib_line_and_memory_stays_flat(
    server: tuple[Server, str, int],
) -> None:
    running, key, type_id = server
    pid = running.process.pid
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "text/csv"}
    path = f"/api/v1/audiences/filter?subscription_type_id={type_id}"
    # a normal upload (over the JSON limit, under the upload limit) is filtered
    lines = b"".join(b"person%d@example.com\n" % i for i in range(100_000))
    assert len(lines) > 2 * MIB
    status, body, _ = post(running, path, headers, chunks=[lines[i : i + 65536] for i in range(0, len(lines), 65536)])
    assert status == 200
    assert isinstance(body, str)
    assert body.count("\n") == 100_001

    peak_before = _rss_mib(pid, "VmHWM")

    def long_line() -> Iterator[bytes]:
        yield b"address\nalice@example.com\n"
        yield from _blocks(200 * MIB, b"a" * 65536)

    status, body, sent = post(running, path, headers, chunks=long_line())
    assert status == 422
    assert isinstance(body, dict)
    assert (body["code"], body["field"]) == ("LINE_TOO_LONG", "body")
    assert body["detail"].startswith("body: line 3: longer than")
    assert sent < 200 * MIB
    # an upload over ASSENT_MAX_UPLOAD_BYTES (64 MiB here), in lines of a normal length
    status, body, sent = post(running, path, headers, chunks=_blocks(100 * MIB, b"bob@example.com\n" * 4096))
    assert status == 413
    assert isinstance(body, dict)
    assert (body["code"], body["limit"]) == ("BODY_TOO_LARGE", UPLOAD_LIMIT)
    assert UPLOAD_LIMIT <= sent < 100 * MIB
    assert _rss_mib(pid, "VmHWM") - peak_before < 48  # the server's peak memory stayed flat


def test_a_refused_body_leaves_its_idempotency_key_unused(server: tuple[Server, str, int]) -> None:
    running, key, _ = server
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json", "Idempotency-Key": "big-2"}
    status, _, _ = post(running, "/api/v1/contacts", headers, chunks=_blocks(4 * MIB, b" " * 65536))
    assert status == 413
    status, body, _ = post(running, "/api/v1/contacts", headers, chunks=[b'{"email": "erin@example.com"}'])
    assert status == 201, body
