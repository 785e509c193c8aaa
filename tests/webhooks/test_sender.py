"""The sender's own HTTP/1.1 against a receiver that answers with raw bytes: sized, chunked
and close-delimited bodies (at most 4 KB read), interim answers, kept-alive connections
the receiver closed, redirects not followed, the timeout."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator

import pytest

from assent.jobs.webhook_sender import Sender

Answer = Callable[[bytes], bytes | None]  # the request's bytes -> what to send (None: close)


class RawReceiver:
    """Answers each request on a connection with the next scripted bytes; counts connections."""

    def __init__(self, answers: list[bytes | None], close_after_each: bool = False) -> None:
        self.answers = list(answers)
        self.close_after_each = close_after_each
        self.requests: list[bytes] = []
        self.connections = 0
        self.server = socket.create_server(("127.0.0.1", 0))
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.getsockname()[1]}/hook?x=1"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._connection, args=(conn,), daemon=True).start()

    def _connection(self, conn: socket.socket) -> None:
        buffer = b""
        with conn:
            while True:
                while b"\r\n\r\n" not in buffer:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buffer += data
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                )
                while len(buffer) < length:
                    buffer += conn.recv(65536)
                self.requests.append(head + b"\r\n\r\n" + buffer[:length])
                buffer = buffer[length:]
                answer = self.answers.pop(0) if self.answers else b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
                if answer is None:
                    return
                if answer:
                    conn.sendall(answer)
                if self.close_after_each:
                    return

    def close(self) -> None:
        self.server.close()


@pytest.fixture
def raw() -> Iterator[Callable[..., RawReceiver]]:
    made: list[RawReceiver] = []

    def make(answers: list[bytes | None], **options: bool) -> RawReceiver:
        made.append(RawReceiver(answers, **options))
        return made[-1]

    yield make
    for receiver in made:
        receiver.close()


def test_it_reads_sized_chunked_and_close_delimited_bodies(raw: Callable[..., RawReceiver]) -> None:
    big = b"x" * 10_000
    receiver = raw(
        [
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
            b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-T: 1\r\n\r\n",
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 Accepted\r\ncontent-length: 2\r\n\r\nok",
            b"HTTP/1.1 500 Oops\r\nContent-Length: 10000\r\n\r\n" + big,
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nz",
        ]
    )
    sender = Sender(allow_private=True, timeout=5)
    try:
        results = [sender.post(receiver.url, b'{"a":1}', {"webhook-id": "1"}) for _ in range(5)]
    finally:
        sender.close()
    assert [(r.status_code, r.error, r.body) for r in results] == [
        (200, None, "hello"),
        (201, None, "abcde"),
        (202, None, "ok"),
        (500, "HTTP 500", "x" * 4096),  # 4 KB of it; the connection is not used again
        (200, None, "z"),
    ]
    assert receiver.connections == 2  # kept alive, except after the body left unread
    request = receiver.requests[0]
    assert request.startswith(b"POST /hook?x=1 HTTP/1.1\r\n")
    assert f"Host: 127.0.0.1:{receiver.url.split(':')[2].split('/')[0]}\r\n".encode() in request
    assert b"Content-Type: application/json\r\n" in request
    assert b"webhook-id: 1\r\n" in request
    assert request.endswith(b'\r\n\r\n{"a":1}')


def test_it_does_not_follow_redirects_and_reads_to_the_close(raw: Callable[..., RawReceiver]) -> None:
    receiver = raw(
        [
            b"HTTP/1.1 302 Found\r\nLocation: http://169.254.169.254/\r\nContent-Length: 0\r\n\r\n",
            b"HTTP/1.0 200 OK\r\n\r\nthe rest",
        ],
        close_after_each=True,
    )
    sender = Sender(allow_private=True, timeout=5)
    try:
        moved = sender.post(receiver.url, b"{}", {})
        closed = sender.post(receiver.url, b"{}", {})
    finally:
        sender.close()
    assert (moved.status_code, moved.error) == (302, "HTTP 302")
    assert (closed.status_code, closed.body) == (200, "the rest")
    assert len(receiver.requests) == 2  # nothing went to the Location


def test_it_sends_again_on_a_new_connection_when_a_kept_alive_one_was_closed(
    raw: Callable[..., RawReceiver],
) -> None:
    receiver = raw([b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"], close_after_each=True)
    sender = Sender(allow_private=True, timeout=5)
    try:
        first = sender.post(receiver.url, b"{}", {})
        second = sender.post(receiver.url, b"{}", {})  # the receiver closed the first connection
    finally:
        sender.close()
    assert (first.status_code, second.status_code) == (200, 200)
    assert receiver.connections == 2


def test_it_fails_an_attempt_the_receiver_drops_or_never_answers(raw: Callable[..., RawReceiver]) -> None:
    dropped = raw([None])
    silent = raw([b""])  # reads the request, answers nothing
    garbage = raw([b"SPDY nonsense\r\n\r\n"])
    sender = Sender(allow_private=True, timeout=0.5)
    try:
        lost = sender.post(dropped.url, b"{}", {})
        waited = sender.post(silent.url, b"{}", {})
        bad = sender.post(garbage.url, b"{}", {})
    finally:
        sender.close()
    assert lost.status_code is None
    assert lost.error
    assert (waited.status_code, waited.error) == (None, "timed out")
    assert 400 <= waited.duration_ms < 2000
    assert bad.status_code is None
    assert "not an HTTP answer" in (bad.error or "")


def test_it_refuses_a_url_it_cannot_send_as_it_is() -> None:
    sender = Sender(allow_private=True, timeout=1)
    assert (sender.post("ftp://example.com/", b"{}", {}).error or "").startswith("refused:")
    assert "may not contain spaces" in (sender.post("http://127.0.0.1:9/a b", b"{}", {}).error or "")
    assert "line break" in (sender.post("http://127.0.0.1:9/", b"{}", {"x": "a\r\nb: c"}).error or "")
