"""Assent's own emails as bytes on the wire (aiosmtpd on loopback): `List-Unsubscribe` and
`List-Unsubscribe-Post` are plain ASCII (RFC 2369, RFC 8058) — one line up to 998
characters or folded at white space, never RFC 2047-encoded — so that a mailbox provider
finds the one-click URL."""

from __future__ import annotations

import dataclasses
import re
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient

from assent.app import create_app
from assent.config import Settings
from assent.storage.db import Database
from tests.pages.conftest import ALICE, Shop, subscribe, worker_sends_mail

#: a long public URL, so the header is well over 78 characters
BASE_URL = "https://preferences.mail.a-rather-long-brand-name.example/assent/contact-links"


@pytest.fixture
def backend() -> str:
    return "sqlite"  # mail does not touch the database backend


class RawInbox:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        self.messages.append(bytes(envelope.original_content or envelope.content))
        return "250 Message accepted"


@pytest.fixture
def raw_inbox() -> Iterator[tuple[RawInbox, int]]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    handler = RawInbox()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def _header_lines(raw: bytes, name: bytes) -> list[bytes]:
    """The physical lines of one header field (its first line and folded continuations)."""
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    found: list[bytes] = []
    for line in head:
        if found and line[:1] in (b" ", b"\t"):
            found.append(line)
        elif found:
            break
        elif line.lower().startswith(name.lower() + b":"):
            found.append(line)
    assert found, f"no {name!r} header in {raw[:2000]!r}"
    return found


def _check_list_headers(raw: bytes) -> str:
    lines = _header_lines(raw, b"List-Unsubscribe")
    for line in lines + _header_lines(raw, b"List-Unsubscribe-Post"):
        assert line.isascii()
        assert b"=?" not in line  # no RFC 2047 encoded-word
        assert len(line) <= 998
    assert b"\r\n".join(_header_lines(raw, b"List-Unsubscribe-Post")) == b"List-Unsubscribe-Post: List-Unsubscribe=One-Click"
    value = b"".join(lines).decode("ascii").partition(":")[2].strip()  # unfolded (RFC 5322 §2.2.3)
    found = re.fullmatch(rf"<{re.escape(BASE_URL)}/unsubscribe/[\w.\-]+>", value)
    assert found, value
    return value


def test_its_confirmation_and_resubscribe_emails_carry_plain_ascii_list_headers(
    settings: Settings, db: Database, raw_inbox: tuple[RawInbox, int], shop: Shop, write_headers: dict[str, str],
    admin_headers: dict[str, str],
) -> None:
    configured = dataclasses.replace(settings, smtp_url=f"smtp://127.0.0.1:{raw_inbox[1]}", base_url=BASE_URL)
    with TestClient(create_app(configured, db)) as client:
        client.patch(f"/api/v1/business-units/{shop.bu}", json={"double_opt_in": True}, headers=admin_headers)
        submitted = client.post(
            "/api/v1/form-submissions",
            json={"business_unit_id": shop.bu, "address": ALICE, "subscription_type_ids": [shop.newsletter],
                  "consent": True, "language": "sv"},
            headers=write_headers,
        )
        assert submitted.json()["confirmation_required"] is True
        subscribe(client, write_headers, shop.offers, address="bob@example.com")
        client.put("/api/v1/subscribers/EMAIL/bob@example.com/unsubscribe-all", params={"business_unit_id": shop.bu},
                   headers=write_headers)
        sent = client.post("/api/v1/subscribers/EMAIL/bob@example.com/resubscribe-email",
                           json={"business_unit_id": shop.bu}, headers=write_headers)
        assert sent.status_code == 202
    worker_sends_mail(db, configured)  # the requests queued the mail (R33); the worker sends it
    confirmation, invitation = raw_inbox[0].messages
    assert len(_check_list_headers(confirmation)) > 78
    assert len(_check_list_headers(invitation)) > 78
    assert b"Subject: =?utf-8?" in confirmation  # a Swedish subject is still encoded, as it must be
