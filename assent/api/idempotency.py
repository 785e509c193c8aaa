"""`Idempotency-Key` on the native API's writes: a retry returns the first answer and
applies nothing again.

The key is reserved (a row with status 0) before the request runs, so a retry that arrives
while the first attempt is still running gets a 409 instead of running twice. The answer is
stored when the request ends; a 5xx releases the key so that the client may retry. A
reservation left by a crashed process is taken over after `ABANDONED_AFTER` (actions/idempotency.py).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assent.actions.idempotency import finish_key, reserve_key
from assent.api.auth import bearer_token
from assent.api.problems import PROBLEM_JSON
from assent.services.apikeys import authenticate
from assent.storage.db import Database

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
#: POSTs that only read (bodies too large to keep, answers that must stay fresh)
READ_ONLY_PATHS = ("/api/v1/audiences/filter", "/api/v1/decisions/batch")
#: old keys are purged at most this often (ABANDONED_AFTER and KEPT_FOR: actions/idempotency.py)
PURGE_EVERY = dt.timedelta(minutes=10)
MAX_KEY_LENGTH = 200


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp, db: Database) -> None:
        self.app = app
        self.db = db
        self._last_purge = dt.datetime.min.replace(tzinfo=dt.UTC)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in WRITE_METHODS
            or not scope["path"].startswith("/api/")
            or scope["path"].startswith(READ_ONLY_PATHS)
        ):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        key = headers.get("idempotency-key")
        token = bearer_token(headers.get("authorization"))
        if not key:
            await self.app(scope, receive, send)
            return
        if len(key) > MAX_KEY_LENGTH:
            await _problem(send, 422, "VALIDATION_FAILED", f"Idempotency-Key: longer than {MAX_KEY_LENGTH} characters")
            return
        principal = await run_in_threadpool(self._principal, token)
        if principal is None:  # the route answers 401; nothing to remember
            await self.app(scope, receive, send)
            return

        body = await _read_body(receive)
        digest = hashlib.sha256(
            b"\0".join([scope["method"].encode(), scope["path"].encode(), scope.get("query_string", b""), body])
        ).hexdigest()
        state, stored = await run_in_threadpool(self._reserve, principal, key, digest)
        if state == "mismatch":
            await _problem(send, 422, "IDEMPOTENCY_KEY_REUSED", "Idempotency-Key: already used for a different request")
            return
        if state == "running":
            await _problem(
                send, 409, "IDEMPOTENCY_KEY_IN_USE", "Idempotency-Key: a request with this key is still running"
            )
            return
        if state == "replay":
            assert stored is not None
            status, content_type, payload = stored
            await send(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [(b"content-type", content_type.encode()), (b"idempotent-replayed", b"true")],
                }
            )
            await send({"type": "http.response.body", "body": payload})
            return

        sent_body = False

        async def replay_receive() -> Message:
            nonlocal sent_body
            if not sent_body:
                sent_body = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        captured: dict[str, Any] = {"status": 500, "content_type": "application/json", "body": b""}

        async def capture_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
                for name, value in message.get("headers", []):
                    if name.lower() == b"content-type":
                        captured["content_type"] = value.decode("latin-1")
            elif message["type"] == "http.response.body":
                captured["body"] += message.get("body", b"")
            await send(message)

        try:
            await self.app(scope, replay_receive, capture_send)
        finally:
            await run_in_threadpool(
                self._finish, principal, key, captured["status"], captured["content_type"], captured["body"]
            )

    # --- storage (run in a thread) -------------------------------------------------------

    def _principal(self, token: str | None) -> str | None:
        if not token:
            return None
        with self.db.read() as conn:
            found = authenticate(conn, token)
        return found.id if found else None

    def _reserve(self, principal: str, key: str, digest: str) -> tuple[str, tuple[int, str, bytes] | None]:
        now = dt.datetime.now(dt.UTC)
        purge = now - self._last_purge > PURGE_EVERY
        if purge:
            self._last_purge = now
        return reserve_key(self.db, principal, key, digest, purge=purge)

    def _finish(self, principal: str, key: str, status: int, content_type: str, body: bytes) -> None:
        finish_key(self.db, principal, key, status, content_type, body)


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":  # gone, or stopped at the body limit: remember nothing
            raise ClientDisconnect
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    return b"".join(chunks)


async def _problem(send: Send, status: int, code: str, detail: str) -> None:
    field, _, reason = detail.partition(": ")
    payload = json.dumps(
        {
            "type": f"https://assent.dev/problems/{code.lower().replace('_', '-')}",
            "title": "Idempotency-Key",
            "status": status,
            "detail": detail,
            "code": code,
            "field": field,
            "errors": [{"field": field, "reason": reason, "code": code}],
        }
    ).encode()
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", PROBLEM_JSON.encode())]})
    await send({"type": "http.response.body", "body": payload})
