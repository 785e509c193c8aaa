"""A real HTTP receiver on loopback, a clock the test moves, and a dispatcher over the
test's database. Loopback targets need ASSENT_WEBHOOK_ALLOW_PRIVATE=true (allow_private)."""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient

from assent.app import create_app
from assent.config import Settings
from assent.jobs.dispatcher import Dispatcher
from assent.storage.db import Database


@dataclasses.dataclass
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def payload(self) -> Any:
        return json.loads(self.body)

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]


class Receiver:
    """Records every POST; answers with the scripted status codes, then `default`."""

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        self.script: collections.deque[int] = collections.deque()
        self.default = 200
        self.delay = 0.0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    receiver.deliveries.append(Delivery(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                    status = receiver.script.popleft() if receiver.script else receiver.default
                if receiver.delay:
                    threading.Event().wait(receiver.delay)
                answer = b'{"ok": true}'
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def ids(self) -> list[str]:
        with self.lock:
            return [d.id for d in self.deliveries]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    found.thread.start()
    yield found
    found.server.shutdown()
    found.server.server_close()


class Clock:
    """Now, unless the test moved it."""

    def __init__(self) -> None:
        self.offset = dt.timedelta(0)

    def __call__(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + self.offset

    def jump(self, delta: dt.timedelta) -> None:
        self.offset += delta


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def hooks_settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, webhook_allow_private=True, webhook_retry_base_seconds=5.0)


@pytest.fixture
def hooks(hooks_settings: Settings, db: Database) -> Iterator[TestClient]:
    """The app with loopback targets allowed."""
    with TestClient(create_app(hooks_settings, db)) as test_client:
        yield test_client


def dispatcher(db: Database, clock: Clock | None = None, **options: Any) -> Dispatcher:
    return Dispatcher(db, allow_private=True, clock=clock or Clock(), poll=0.05, **options)


def create_hook(client: TestClient, headers: dict[str, str], url: str, **body: Any) -> dict[str, Any]:
    response = client.post("/api/v1/webhooks", json={"url": url, **body}, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def set_status(client: TestClient, headers: dict[str, str], address: str, type_id: int, status: str) -> None:
    response = client.post(
        f"/api/v1/subscribers/EMAIL/{address}/statuses",
        json={
            "changes": [{"subscription_type_id": type_id, "status": status}],
            "legal_basis_explanation": "Asked us on the phone",  # a user's resubscribe needs one
        },
        headers=headers,
    )
    assert response.status_code == 200, response.text


def feed(client: TestClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    response = client.get("/api/v1/events", params={"limit": 1000}, headers=headers)
    assert response.status_code == 200, response.text
    results: list[dict[str, Any]] = response.json()["results"]
    return results
