"""Issue 15 point 1: one once-a-week limit on the resubscribe invitation (R8), whichever
interface asks — the API's resubscribe email or the admin's "Send preference link" — and the
record shows when the next one may go. Plain HTTP, on both databases."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from fastapi.testclient import TestClient

from assent.domain.model import Source
from assent.storage.db import Database
from tests.admin.conftest import text_of
from tests.admin.test_screens import act, contact
from tests.conftest import Catalog, count_rows
from tests.pages.conftest import outbox

DANA = "dana@example.com"
API_INVITE = f"/api/v1/subscribers/EMAIL/{DANA}/resubscribe-email"


def _dana_unsubscribed_from_all_herself(db: Database, make: Catalog) -> int:
    make.type("Newsletter")
    dana = contact(db, DANA, first_name="Dana")
    act(db, Source.ONE_CLICK, DANA, None)  # her own one-click "unsubscribe from all"
    return dana


def _click(editor: Any, dana: int) -> str:
    """The editor clicks "Send preference link" on Dana's record: the flash they then read."""
    sent = editor.post(f"/admin/contacts/{dana}/preference-link", {"business_unit_id": 0})
    assert sent.status_code == 303, sent.text
    return text_of(editor.get(sent.headers["location"]).text)


def _next_time(page: str) -> dt.datetime:
    found = re.search(r"[Tt]he next can be sent from (\d{4}-\d\d-\d\d \d\d:\d\d) UTC", page)
    assert found, page
    return dt.datetime.strptime(found.group(1), "%Y-%m-%d %H:%M").replace(tzinfo=dt.UTC)


def _about_a_week_from_now(when: dt.datetime) -> None:
    week = dt.datetime.now(dt.UTC) + dt.timedelta(days=7)
    assert abs(when - week) < dt.timedelta(minutes=2), when


def test_an_admin_invitation_counts_against_the_apis_week(
    sign_in: Any, client: TestClient, make: Catalog, write_headers: dict[str, str], db: Database
) -> None:
    dana = _dana_unsubscribed_from_all_herself(db, make)
    editor = sign_in("editor")
    before = text_of(editor.get(f"/admin/contacts/{dana}").text)
    assert "The link goes as an invitation to resubscribe, at most one a week." in before

    assert f"Sent an invitation to resubscribe to {DANA}." in _click(editor, dana)
    again = client.post(API_INVITE, json={"business_unit_id": 0}, headers=write_headers)
    assert (again.status_code, again.json()["code"]) == (429, "RATE_LIMITED")
    assert 7 * 86400 - 60 <= int(again.headers["retry-after"]) <= 7 * 86400 + 1
    assert len(outbox(db)) == 1

    record = text_of(editor.get(f"/admin/contacts/{dana}").text)
    _about_a_week_from_now(_next_time(record))  # shown beside the button


def test_after_the_apis_invitation_the_admin_refuses_and_queues_nothing(
    sign_in: Any, client: TestClient, make: Catalog, write_headers: dict[str, str], db: Database
) -> None:
    dana = _dana_unsubscribed_from_all_herself(db, make)
    sent = client.post(API_INVITE, json={"business_unit_id": 0}, headers=write_headers)
    assert sent.status_code == 202, sent.text
    editor = sign_in("editor")
    record = text_of(editor.get(f"/admin/contacts/{dana}").text)
    shown = _next_time(record)
    _about_a_week_from_now(shown)

    refused = _click(editor, dana)
    assert f"Not sent: an invitation to resubscribe went to {DANA} in the last 7 days (at most one a week)." in refused
    assert _next_time(refused) == shown  # a refused click does not move the week
    assert len(outbox(db)) == 1
    assert count_rows(db, "mail_queue") == 1  # nothing waits in the queue either


def test_three_clicks_send_one_invitation(sign_in: Any, make: Catalog, db: Database) -> None:
    dana = _dana_unsubscribed_from_all_herself(db, make)
    editor = sign_in("editor")
    for _ in range(3):
        editor.get(f"/admin/contacts/{dana}")  # reading "next allowed at" takes nothing from the week
    pages = [_click(editor, dana) for _ in range(3)]
    assert f"Sent an invitation to resubscribe to {DANA}." in pages[0]
    assert all("Not sent: an invitation to resubscribe went to" in page for page in pages[1:])
    [message] = outbox(db)
    assert count_rows(db, "mail_queue") == 1
    assert message["To"] == DANA
    assert "/preferences/" in str(message.get_body(("plain",)))


def test_a_plain_preference_link_is_not_limited(sign_in: Any, make: Catalog, db: Database) -> None:
    """Without an "unsubscribe from all" the button sends the preference link, which R8's
    week does not count."""
    make.type("Newsletter")
    erin = contact(db, "erin@example.com")
    editor = sign_in("editor")
    record = text_of(editor.get(f"/admin/contacts/{erin}").text)
    assert "invitation to resubscribe" not in record
    for _ in range(2):
        assert "Sent a link to their preference page to erin@example.com." in _click(editor, erin)
    assert len(outbox(db)) == 2
