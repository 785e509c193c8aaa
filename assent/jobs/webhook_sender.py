"""One signed webhook POST (Standard Webhooks), with the SSRF guard.

The host is resolved at every attempt and every address it resolves to is judged
(`domain.webhooks.refused_target`) before anything is sent; the connection then goes to the
address that was judged (pinned), so a DNS answer that changes between the check and the
connect (rebinding) cannot slip a private target through. Redirects are never followed
(`http.client` does not), at most 4 KB of a response body is read, and each phase of the
exchange must finish within the timeout.

Connections are kept alive per thread and target, so a busy endpoint is not a TCP (and TLS)
handshake per event.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.client
import ipaddress
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from standardwebhooks import Webhook

from assent.domain.webhooks import MAX_RESPONSE_BYTES, TIMEOUT_SECONDS, refused_target

USER_AGENT = "Assent-Webhooks/0.1"

Resolver = Callable[[str, int], list[str]]
_Key = tuple[str, str, int, str]  # scheme, host, port, the judged IP


@dataclass(frozen=True, slots=True)
class Result:
    status_code: int | None
    error: str | None
    body: str | None
    duration_ms: int


def body_of(event_type: str, timestamp: str | dt.datetime, data: dict[str, Any]) -> bytes:
    """The payload: `{"type", "timestamp", "data"}`, compact JSON. `timestamp` is when the
    event happened (a ledger event's `at`, as the feed shows it)."""
    stamp = timestamp if isinstance(timestamp, str) else timestamp.astimezone(dt.UTC).isoformat()
    stamp = stamp.replace("+00:00", "Z")
    return json.dumps({"type": event_type, "timestamp": stamp, "data": data}, separators=(",", ":")).encode()


def sign(secrets: Sequence[str], webhook_id: str, at: dt.datetime, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers; one `v1,` signature per secret (rotation)."""
    text = body.decode()
    signatures = " ".join(Webhook(secret).sign(webhook_id, at, text) for secret in secrets)
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signatures,
    }


def resolve(host: str, port: int) -> list[str]:
    with contextlib.suppress(ValueError):  # an IP address is its own answer: no resolver call
        return [str(ipaddress.ip_address(host))]
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class _Pinned(http.client.HTTPConnection):
    """An HTTP connection to one already-judged IP address, with the URL's host name in
    the Host header (and, for HTTPS, in SNI and the certificate check)."""

    def __init__(self, host: str, port: int, ip: str, timeout: float, tls: ssl.SSLContext | None) -> None:
        super().__init__(host, port, timeout=timeout)
        self.ip = ip
        self.tls = tls

    def connect(self) -> None:
        sock = socket.create_connection((self.ip, self.port), self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = self.tls.wrap_socket(sock, server_hostname=self.host) if self.tls else sock


class Sender:
    def __init__(
        self,
        *,
        allow_private: bool = False,
        timeout: float = TIMEOUT_SECONDS,
        resolver: Resolver = resolve,
    ) -> None:
        self.allow_private = allow_private
        self.timeout = timeout
        self.resolver = resolver
        self._tls = ssl.create_default_context()
        self._local = threading.local()
        self._pools: list[dict[_Key, _Pinned]] = []  # every thread's, so that `close` reaches them
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close every kept-alive connection (when the threads that used them are done)."""
        with self._lock:
            pools, self._pools = self._pools, []
        for pool in pools:
            for connection in pool.values():
                connection.close()
            pool.clear()

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> Result:
        started = time.monotonic()
        try:
            status, text = self._post(url, body, headers)
        except Refused as refused:
            return Result(None, f"refused: {refused}", None, _ms(started))
        except (OSError, http.client.HTTPException, ValueError) as error:
            reason = "timed out" if isinstance(error, TimeoutError) else f"{type(error).__name__}: {error}"
            return Result(None, reason[:500], None, _ms(started))
        return Result(status, None if 200 <= status < 300 else f"HTTP {status}", text, _ms(started))

    def _post(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise Refused("the URL must be http:// or https:// with a host")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            addresses = self.resolver(parts.hostname, port)
        except OSError as error:
            raise Refused(f"{parts.hostname} does not resolve ({error})") from error
        if not addresses:
            raise Refused(f"{parts.hostname} does not resolve")
        if not self.allow_private:
            for ip in addresses:
                reason = refused_target(ip)
                if reason:
                    raise Refused(f"{parts.hostname}: {reason} (ASSENT_WEBHOOK_ALLOW_PRIVATE is off)")
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        key = (parts.scheme, parts.hostname, port, addresses[0])
        all_headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "Content-Length": str(len(body)),
            **headers,
        }
        deadline = time.monotonic() + self.timeout
        connection, reused = self._connection(key, deadline)
        try:
            return self._exchange(key, connection, path, body, all_headers, deadline)
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            self._drop(key)
            if not reused:
                raise
            # A kept-alive connection the receiver had closed: nothing was taken, try a new one.
            connection, _ = self._connection(key, deadline)
            return self._exchange(key, connection, path, body, all_headers, deadline)
        except BaseException:
            self._drop(key)
            raise

    def _exchange(
        self, key: _Key, connection: _Pinned, path: str, body: bytes, headers: dict[str, str], deadline: float
    ) -> tuple[int, str]:
        connection.timeout = _left(deadline)
        if connection.sock is None:
            connection.connect()
        assert connection.sock is not None
        connection.sock.settimeout(_left(deadline))
        connection.request("POST", path, body=body, headers=headers)
        connection.sock.settimeout(_left(deadline))
        response = connection.getresponse()
        connection.sock.settimeout(_left(deadline))
        data = response.read(MAX_RESPONSE_BYTES)
        if response.will_close or not response.isclosed():
            # closing, or more than 4 KB we will not read: this connection is done
            self._drop(key)
        return response.status, data.decode("utf-8", "replace")

    def _connection(self, key: _Key, deadline: float) -> tuple[_Pinned, bool]:
        pool: dict[_Key, _Pinned] = self._pool()
        found = pool.get(key)
        if found is not None and found.sock is not None:
            return found, True
        scheme, host, port, ip = key
        connection = _Pinned(host, port, ip, _left(deadline), self._tls if scheme == "https" else None)
        pool[key] = connection
        return connection, False

    def _pool(self) -> dict[_Key, _Pinned]:
        pool: dict[_Key, _Pinned] | None = getattr(self._local, "pool", None)
        if pool is None:
            pool = self._local.pool = {}
            with self._lock:
                self._pools.append(pool)
        return pool

    def _drop(self, key: _Key) -> None:
        found = self._pool().pop(key, None)
        if found is not None:
            found.close()


class Refused(Exception):
    """The target may not be called (SSRF guard) or is not a usable URL."""


def _left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("timed out")
    return left


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
