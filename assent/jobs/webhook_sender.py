"""One signed webhook POST (Standard Webhooks), with the SSRF guard.

The host is resolved at every attempt and every address it resolves to is judged
(`domain.webhooks.refused_target`) before anything is sent; the connection then goes to the
address that was judged (pinned), so a DNS answer that changes between the check and the
connect (rebinding) cannot slip a private target through. Redirects are never followed (a
3xx is a failed attempt like any other non-2xx), at most 4 KB of a response body is read,
and the whole exchange must finish within the timeout.

Connections are kept alive per thread and target, so a busy endpoint is not a TCP (and TLS)
handshake per event.
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pydantic_core
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
    """The payload: `{"type", "timestamp", "data"}`, compact JSON in UTF-8 (pydantic-core's
    encoder: a third of the json module's CPU). `timestamp` is when the event happened (a
    ledger event's `at`, as the feed shows it)."""
    stamp = timestamp if isinstance(timestamp, str) else timestamp.astimezone(dt.UTC).isoformat()
    stamp = stamp.replace("+00:00", "Z")
    return pydantic_core.to_json({"type": event_type, "timestamp": stamp, "data": data})


def sign(secrets: Sequence[str], webhook_id: str, at: dt.datetime, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers; one `v1,` signature per secret (rotation)."""
    text = body.decode()
    signatures = " ".join(_signer(secret).sign(webhook_id, at, text) for secret in secrets)
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signatures,
    }


@functools.lru_cache(maxsize=1024)
def _signer(secret: str) -> Webhook:
    """The signer of one secret (a pure function of it: the secret decoded once, not per
    event; a rotated secret is another string, so another signer)."""
    return Webhook(secret)


def resolve(host: str, port: int) -> list[str]:
    literal = _ip_literal(host)
    if literal is not None:  # an IP address is its own answer: no resolver call
        return [literal]
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@functools.lru_cache(maxsize=1024)
def _ip_literal(host: str) -> str | None:
    """The address a host that is an IP literal names (a pure function of the text)."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class _Target:
    scheme: str
    host: str
    port: int
    #: the request line and the headers that are the same for every request to this URL
    head: bytes


@functools.lru_cache(maxsize=1024)
def _target(url: str) -> _Target | str:
    """What a URL says to connect to and how its requests begin, or why it cannot be sent
    to (a pure function of the text: parsed once, not per event)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "refused: the URL must be http:// or https:// with a host"
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as error:
        return f"ValueError: {error}"
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if _FORBIDDEN_IN_TARGET.search(path) or not path.isascii():
        return f"ValueError: the URL's path may not contain spaces, control or non-ASCII characters: {path!r}"
    host = parts.hostname
    name = f"[{host}]" if ":" in host else host
    authority = name if port == (443 if parts.scheme == "https" else 80) else f"{name}:{port}"
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {authority}",
        "Accept-Encoding: identity",
        "Content-Type: application/json",
        f"User-Agent: {USER_AGENT}",
    ]
    try:
        head = "\r\n".join(lines).encode("ascii")
    except UnicodeEncodeError as error:
        return f"ValueError: the URL's host is not ASCII ({error})"
    return _Target(parts.scheme, host, port, head)


class _Connection:
    """A kept-alive HTTP/1.1 connection to one already-judged IP address (the URL's host
    name goes in the Host header, and for HTTPS in SNI and the certificate check)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def close(self) -> None:
        self.sock.close()


class Sender:
    """POSTs over kept-alive connections, one per thread and target.

    HTTP/1.1 is written and read here rather than with `http.client`, whose request and
    response handling (header objects, the email parser, a buffered file per response)
    cost more CPU than the rest of a delivery: a request is one `sendall`, a response one
    or two `recv`s. What it reads: the status line (interim 1xx answers are skipped), the
    headers it needs (Content-Length, Transfer-Encoding, Connection) and at most 4 KB of
    the body, whether sized, chunked or up to the close; a connection whose body was not
    read to its end, or that the receiver closes, is not used again."""

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
        self._pools: list[dict[_Key, _Connection]] = []  # every thread's, so that `close` reaches them
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
        except (OSError, ValueError) as error:
            reason = "timed out" if isinstance(error, TimeoutError) else f"{type(error).__name__}: {error}"
            return Result(None, reason[:500], None, _ms(started))
        return Result(status, None if 200 <= status < 300 else f"HTTP {status}", text, _ms(started))

    def _post(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
        target = _target(url)
        if isinstance(target, str):
            if target.startswith("refused: "):
                raise Refused(target.removeprefix("refused: "))
            raise ValueError(target.removeprefix("ValueError: "))
        try:
            addresses = self.resolver(target.host, target.port)
        except OSError as error:
            raise Refused(f"{target.host} does not resolve ({error})") from error
        if not addresses:
            raise Refused(f"{target.host} does not resolve")
        if not self.allow_private:
            for ip in addresses:
                reason = refused_target(ip)
                if reason:
                    raise Refused(f"{target.host}: {reason} (ASSENT_WEBHOOK_ALLOW_PRIVATE is off)")
        request = _request(target, body, headers)
        key = (target.scheme, target.host, target.port, addresses[0])
        deadline = time.monotonic() + self.timeout
        pool = self._pool()
        connection = pool.pop(key, None)
        reused = connection is not None
        if connection is None:
            connection = self._connect(key, deadline)
        try:
            try:
                status, text, keep = _exchange(connection, request, deadline)
            except _Closed:
                connection.close()
                if not reused:
                    raise
                # A kept-alive connection the receiver had closed: nothing was taken, try a new one.
                connection = self._connect(key, deadline)
                status, text, keep = _exchange(connection, request, deadline)
        except BaseException:
            connection.close()
            raise
        if keep:
            pool[key] = connection
        else:
            connection.close()
        return status, text

    def _connect(self, key: _Key, deadline: float) -> _Connection:
        scheme, host, port, ip = key
        sock = socket.create_connection((ip, port), _left(deadline))
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if scheme == "https":
                sock.settimeout(_left(deadline))
                sock = self._tls.wrap_socket(sock, server_hostname=host)
        except BaseException:
            sock.close()
            raise
        return _Connection(sock)

    def _pool(self) -> dict[_Key, _Connection]:
        pool: dict[_Key, _Connection] | None = getattr(self._local, "pool", None)
        if pool is None:
            pool = self._local.pool = {}
            with self._lock:
                self._pools.append(pool)
        return pool


_FORBIDDEN_IN_TARGET = re.compile("[\\x00-\\x20\\x7f]")
_FORBIDDEN_IN_HEADER = re.compile("[\\r\\n\\x00]")


def _request(target: _Target, body: bytes, headers: dict[str, str]) -> bytes:
    """The request's bytes: the request line, the headers, the body."""
    fields = "".join(f"\r\n{field}: {value}" for field, value in headers.items())
    if any(_FORBIDDEN_IN_HEADER.search(f"{field}{value}") for field, value in headers.items()):
        raise ValueError("a header may not contain a line break")
    return b"".join((target.head, f"\r\nContent-Length: {len(body)}{fields}\r\n\r\n".encode("latin-1"), body))


class _Closed(ConnectionError):
    """The receiver closed the connection before the first byte of an answer."""


def _exchange(connection: _Connection, request: bytes, deadline: float) -> tuple[int, str, bool]:
    """Send one request, read its answer: (status, up to 4 KB of body, whether the
    connection can carry the next request)."""
    sock = connection.sock
    sock.settimeout(_left(deadline))
    try:
        sock.sendall(request)
    except (BrokenPipeError, ConnectionResetError) as error:
        raise _Closed(str(error)) from error
    first = True
    while True:  # interim answers (100 Continue, 103 Early Hints) come before the real one
        head = _read_head(connection, deadline, first)
        first = False
        status, version, fields = _parse_head(head)
        if not 100 <= status < 200 or status == 101:
            break
    if status == 101:
        raise ValueError("the receiver switched protocols")
    keep = version == "HTTP/1.1" and "close" not in fields.get("connection", "").lower()
    if version == "HTTP/1.0" and "keep-alive" in fields.get("connection", "").lower():
        keep = True
    if status in (204, 304):
        return status, "", keep
    if "chunked" in fields.get("transfer-encoding", "").lower():
        body, complete = _read_chunked(connection, deadline)
    elif "content-length" in fields:
        length = fields["content-length"]
        if not length.isdecimal():
            raise ValueError(f"bad Content-Length {length!r}")
        size = int(length)
        body = _read_exactly(connection, min(size, MAX_RESPONSE_BYTES), deadline)
        complete = size <= MAX_RESPONSE_BYTES
    else:  # the body runs until the receiver closes
        body, complete = _read_to_close(connection, deadline), False
    return status, body.decode("utf-8", "replace"), keep and complete


_MAX_HEAD = 65536


def _recv(connection: _Connection, deadline: float) -> bytes:
    connection.sock.settimeout(_left(deadline))
    return connection.sock.recv(65536)


def _read_head(connection: _Connection, deadline: float, first: bool) -> bytes:
    while (end := connection.buffer.find(b"\r\n\r\n")) < 0:
        if len(connection.buffer) > _MAX_HEAD:
            raise ValueError("the answer's headers are too long")
        try:
            data = _recv(connection, deadline)
        except ConnectionResetError as error:
            if first and not connection.buffer:
                raise _Closed(str(error)) from error
            raise
        if not data:
            if first and not connection.buffer:
                raise _Closed("the receiver closed the connection without an answer")
            raise ConnectionError("the receiver closed the connection in the middle of an answer")
        connection.buffer += data
    head, connection.buffer = connection.buffer[:end], connection.buffer[end + 4 :]
    return head


def _parse_head(head: bytes) -> tuple[int, str, dict[str, str]]:
    status_line, _, rest = head.partition(b"\r\n")
    version, _, tail = status_line.decode("latin-1").partition(" ")
    code = tail[:3]
    if version not in ("HTTP/1.1", "HTTP/1.0") or len(code) != 3 or not code.isdecimal():
        raise ValueError(f"not an HTTP answer: {status_line[:100]!r}")
    fields: dict[str, str] = {}
    for line in rest.decode("latin-1").split("\r\n") if rest else ():
        name, colon, value = line.partition(":")
        if colon:
            name = name.strip().lower()
            if name in _WANTED_FIELDS:
                value = value.strip()
                fields[name] = f"{fields[name]}, {value}" if name in fields else value
    if "content-length" in fields and "," in fields["content-length"]:
        sizes = {size.strip() for size in fields["content-length"].split(",")}
        if len(sizes) != 1:
            raise ValueError("conflicting Content-Length headers")
        fields["content-length"] = sizes.pop()
    return int(code), version, fields


_WANTED_FIELDS = frozenset({"content-length", "transfer-encoding", "connection"})


def _read_exactly(connection: _Connection, size: int, deadline: float) -> bytes:
    while len(connection.buffer) < size:
        data = _recv(connection, deadline)
        if not data:
            raise ConnectionError("the receiver closed the connection in the middle of an answer")
        connection.buffer += data
    found, connection.buffer = connection.buffer[:size], connection.buffer[size:]
    return found


def _read_line(connection: _Connection, deadline: float) -> bytes:
    while (end := connection.buffer.find(b"\r\n")) < 0:
        if len(connection.buffer) > _MAX_HEAD:
            raise ValueError("a chunk's size line is too long")
        data = _recv(connection, deadline)
        if not data:
            raise ConnectionError("the receiver closed the connection in the middle of an answer")
        connection.buffer += data
    line, connection.buffer = connection.buffer[:end], connection.buffer[end + 2 :]
    return line


def _read_chunked(connection: _Connection, deadline: float) -> tuple[bytes, bool]:
    """Up to 4 KB of a chunked body, and whether it was read to its end (with its trailers)."""
    body = b""
    while True:
        size_text = _read_line(connection, deadline).split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise ValueError(f"bad chunk size {size_text[:20]!r}") from None
        if size == 0:
            while _read_line(connection, deadline):  # trailers, up to the empty line
                pass
            return body, True
        wanted = min(size, MAX_RESPONSE_BYTES - len(body))
        body += _read_exactly(connection, wanted, deadline)
        if wanted < size:  # more than 4 KB: the rest is not read
            return body, False
        _read_exactly(connection, 2, deadline)  # the CRLF after the chunk


def _read_to_close(connection: _Connection, deadline: float) -> bytes:
    while len(connection.buffer) < MAX_RESPONSE_BYTES:
        data = _recv(connection, deadline)
        if not data:
            break
        connection.buffer += data
    found, connection.buffer = connection.buffer[:MAX_RESPONSE_BYTES], b""
    return found


class Refused(Exception):
    """The target may not be called (SSRF guard) or is not a usable URL."""


def _left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("timed out")
    return left


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
