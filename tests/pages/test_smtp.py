"""Real SMTP delivery to an aiosmtpd server on loopback: the message arrives with a text and
an HTML part, the right headers and a link that works. (Mail does not touch the database
backend, so these run on SQLite only.)"""

from __future__ import annotations

import dataclasses
import datetime as dt
import email
import email.policy
import re
import socket
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient

from assent.app import create_app
from assent.config import Settings
from assent.mail.queue import MailSender
from assent.mail.smtp import SmtpConfig, SmtpMailer
from assent.storage import tables as t
from assent.storage.db import Database
from tests.conftest import count_rows
from tests.pages.conftest import ALICE, Shop, form_token, html_of, subscribe, text_of, worker_sends_mail


@pytest.fixture
def backend() -> str:
    return "sqlite"


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
        return "250 Message accepted"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    handler, port = Inbox(), _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


@pytest.fixture
def smtp_client(settings: Settings, db: Database, inbox: tuple[Inbox, int]) -> Iterator[TestClient]:
    configured = dataclasses.replace(
        settings, smtp_url=f"smtp://127.0.0.1:{inbox[1]}", mail_from="Assent <mail@acme.example>"
    )
    with TestClient(create_app(configured, db)) as client:
        yield client


def test_it_sends_a_preference_link_by_smtp_that_opens_the_preference_center(
    smtp_client: TestClient, inbox: tuple[Inbox, int], shop: Shop, write_headers: dict[str, str], db: Database
) -> None:
    subscribe(smtp_client, write_headers, shop.newsletter)
    page = smtp_client.get("/preferences", params={"business_unit_id": shop.bu, "lang": "sv"})
    smtp_client.post(
        "/preferences?lang=sv",
        data={"csrf": form_token(page.text), "email": ALICE, "business_unit_id": shop.bu},
    )
    assert inbox[0].messages == []  # queued (R33): the worker sends it
    worker_sends_mail(db, smtp_client.app.state.settings)
    [(sender, recipients, message)] = inbox[0].messages
    assert (sender, recipients) == ("mail@acme.example", ["Alice.Andersson@example.com"])
    assert message["From"] == "Acme AB <mail@acme.example>"
    assert message["Subject"] == "Dina e-postinställningar hos Acme AB"
    assert message["Content-Language"] == "sv"
    assert message["Message-ID"]
    assert message["Date"]
    assert message.get_content_type() == "multipart/alternative"
    assert "Storgatan 1, 111 22 Stockholm" in text_of(message)
    assert "#0b6e4f" in html_of(message)  # the brand's colour
    link = re.search(r"http://testserver(/preferences/\S+)", text_of(message))
    assert link
    opened = smtp_client.get(link.group(1))
    assert opened.status_code == 200
    assert "Nyhetsbrev" in opened.text
    assert "Alice.Andersson@example.com" in opened.text
    assert count_rows(db, "mail_outbox") == 0  # with SMTP configured nothing stays local


def test_it_sends_a_confirmation_whose_list_unsubscribe_header_works(
    smtp_client: TestClient, inbox: tuple[Inbox, int], shop: Shop, write_headers: dict[str, str],
    admin_headers: dict[str, str], db: Database,
) -> None:
    smtp_client.patch(f"/api/v1/business-units/{shop.bu}", json={"double_opt_in": True}, headers=admin_headers)
    submitted = smtp_client.post(
        "/api/v1/form-submissions",
        json={"business_unit_id": shop.bu, "address": ALICE, "subscription_type_ids": [shop.newsletter], "consent": True},
        headers=write_headers,
    )
    assert submitted.json()["confirmation_required"] is True
    worker_sends_mail(db, smtp_client.app.state.settings)  # the signup queued it (R33)
    [(_, _, message)] = inbox[0].messages
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    header = re.fullmatch(r"<http://testserver(/unsubscribe/[\w.\-]+)>", message["List-Unsubscribe"])
    assert header
    response = smtp_client.post(header.group(1), data={"List-Unsubscribe": "One-Click"}, follow_redirects=False)
    assert response.status_code == 200
    wides = smtp_client.get(f"/api/v1/subscribers/EMAIL/{ALICE}", headers=write_headers).json()["wide_opt_outs"]
    assert [(w["business_unit_id"], w["source"]) for w in wides] == [(shop.bu, "ONE_CLICK")]


def test_it_queues_mail_while_the_server_is_down_and_delivers_it_when_it_is_back(
    settings: Settings, db: Database, shop: Shop, write_headers: dict[str, str]
) -> None:
    port = _free_port()
    down = dataclasses.replace(settings, smtp_url=f"smtp://127.0.0.1:{port}", mail_from="Assent <mail@acme.example>")
    with TestClient(create_app(down, db)) as client:
        subscribe(client, write_headers, shop.newsletter)
        client.put(f"/api/v1/subscribers/EMAIL/{ALICE}/unsubscribe-all", params={"business_unit_id": shop.bu},
                   headers=write_headers)
        url = f"/api/v1/subscribers/EMAIL/{ALICE}/resubscribe-email"
        invited = client.post(url, json={"business_unit_id": shop.bu}, headers=write_headers)
        assert invited.status_code == 202
        assert (invited.json()["sent"], invited.json()["queued"]) == (False, True)
        page = client.get("/preferences", params={"business_unit_id": shop.bu})
        asked = client.post("/preferences", data={"csrf": form_token(page.text), "email": ALICE, "business_unit_id": shop.bu})
        assert asked.status_code == 200
    # The requests only queued the mail (R33); the worker's first attempt finds the server down.
    assert worker_sends_mail(db, down) == 2
    with db.read() as conn:
        queued = conn.execute(sa.select(t.mail_queue.c.state, t.mail_queue.c.attempts, t.mail_queue.c.last_error)).all()
    assert [(state, attempts) for state, attempts, _ in queued] == [("QUEUED", 1), ("QUEUED", 1)]
    assert all("Connection refused" in (error or "") for _, _, error in queued)

    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        sender = MailSender(db, SmtpMailer(down.smtp_url or ""), clock=lambda: t.now() + dt.timedelta(seconds=30))
        sender.run_until_idle()
    finally:
        controller.stop()
    subjects = sorted(str(message["Subject"]) for _, _, message in handler.messages)
    assert subjects == ["Would you like to hear from Acme AB again?", "Your email preferences for Acme AB"]
    assert {tuple(rcpt) for _, rcpt, _ in handler.messages} == {("Alice.Andersson@example.com",)}
    with db.read() as conn:
        assert conn.execute(sa.select(t.mail_queue.c.state)).scalars().all() == ["SENT", "SENT"]


def test_it_reads_smtp_urls() -> None:
    assert SmtpConfig.parse("smtp://localhost:2525") == SmtpConfig("smtp", "localhost", 2525, None, None)
    assert SmtpConfig.parse("smtps://me%40acme.example:p%3Ass@mail.acme.example") == SmtpConfig(
        "smtps", "mail.acme.example", 465, "me@acme.example", "p:ss"
    )
    assert SmtpConfig.parse("smtp+starttls://u:p@mx").port == 587
    with pytest.raises(ValueError, match="smtp://"):
        SmtpConfig.parse("http://mx")
