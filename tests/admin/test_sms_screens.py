"""The admin side of SMS/WhatsApp keywords (issue 12): the revocation policy, a unit's
keywords, replies and quiet hours, the review queue, and what a contact's history shows."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from assent.config import Settings
from assent.storage.db import Database
from tests.admin.conftest import text_of
from tests.conftest import count_rows
from tests.inbound_twilio.conftest import CAROL, TOKEN, Twilio, messages, one_message

QUEUE = "/admin/activity/possible-opt-outs"
ADMIN_BASE_URL = "http://testserver"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        secret_keys=("test-secret-key-newest",),
        base_url=ADMIN_BASE_URL,  # plain http, so the test client keeps the admin's cookies
        twilio_auth_token=TOKEN,
        run_worker=False,
    )


@pytest.fixture
def twilio(client: TestClient) -> Twilio:
    return Twilio(client, base_url=ADMIN_BASE_URL)


def wide_units(client: TestClient, headers: dict[str, str], number: str = CAROL) -> list[int]:
    body = client.get(f"/api/v1/subscribers/SMS/{quote(number)}", headers=headers).json()
    return [w["business_unit_id"] for w in body["wide_opt_outs"]]


def review_form(page: str) -> str:
    found = re.search(r'action="(/admin/activity/possible-opt-outs/[0-9a-f]+/SM[0-9a-f]+)"', page)
    assert found, page
    return found.group(1)


def test_an_admin_sets_the_revocation_policy(sign_in: Any, client: TestClient, admin_headers: dict[str, str]) -> None:
    admin = sign_in("admin")
    page = admin.get("/admin/settings").text
    assert 'name="sms_revocation_policy" value="OPT_OUT" checked' in page
    response = admin.post("/admin/settings", {"consent_required_to_send": "on", "sms_revocation_policy": "REVIEW"})
    assert response.status_code == 303
    assert client.get("/api/v1/settings", headers=admin_headers).json()["sms_revocation_policy"] == "REVIEW"
    assert 'name="sms_revocation_policy" value="REVIEW" checked' in admin.get("/admin/settings").text


def test_an_editor_confirms_or_dismisses_possible_opt_outs(
    sign_in: Any, twilio: Twilio, client: TestClient, db: Database, admin_headers: dict[str, str]
) -> None:
    client.patch("/api/v1/settings", headers=admin_headers, json={"sms_revocation_policy": "REVIEW"})
    assert messages(twilio.text("please stop texting me")) == []
    assert messages(twilio.text("Could you stop the reminders?", sender="+46709999999")) == []
    editor, viewer = sign_in("editor"), sign_in("viewer")
    page = editor.get(QUEUE)
    assert page.status_code == 200
    assert "please stop texting me" in text_of(page.text)
    assert CAROL in page.text
    first = review_form(page.text)
    # a viewer sees the queue but cannot decide
    assert "Confirm opt-out" not in viewer.get(QUEUE).text
    assert viewer.post(first, {"action": "confirm"}).status_code == 403
    assert wide_units(client, admin_headers) == []
    # confirming: the contact's own act, their message the evidence, the reviewer beside it
    done = editor.post(first, {"action": "confirm", "note": "clearly a stop"})
    assert done.status_code == 303
    assert wide_units(client, admin_headers) == [0]
    [event] = client.get(f"/api/v1/subscribers/SMS/{quote(CAROL)}/history", headers=admin_headers).json()["results"]
    assert (event["source"], event["actor_kind"], event["notice_text"]) == ("SMS_KEYWORD", "CONTACT", "please stop texting me")
    assert "confirmed in the review queue by user:" in event["legal_basis_explanation"]
    assert "clearly a stop" in event["legal_basis_explanation"]
    # deciding twice is refused; nothing is written again
    assert editor.post(first, {"action": "confirm"}).status_code == 303
    assert count_rows(db, "ledger_events") == 1
    # dismissing needs a note
    second = review_form(editor.get(QUEUE).text)
    editor.post(second, {"action": "dismiss"})
    assert "Could you stop the reminders?" in editor.get(QUEUE).text.split("<h2>Decided</h2>")[0]
    assert editor.post(second, {"action": "dismiss", "note": "about appointment reminders only"}).status_code == 303
    after = text_of(editor.get(QUEUE).text)
    assert "Nothing waiting for review." in after
    assert "Dismissed" in after
    assert "about appointment reminders only" in after
    assert wide_units(client, admin_headers, "+46709999999") == []
    assert count_rows(db, "ledger_events") == 1


def test_an_admin_edits_a_units_keywords_replies_and_quiet_hours(
    sign_in: Any, twilio: Twilio, client: TestClient, admin_headers: dict[str, str]
) -> None:
    admin = sign_in("admin")
    form = {
        "name": "Account",
        "default_language": "sv",
        "company_name": "Butiken",
        "kw_opt_out": "stopp, avsluta",
        "kw_opt_in": "",
        "kw_help": "hjälp",
        "reply_opt_out": "Avslutat hos {company}.",
        "quiet_SMS": "on",
        "quiet_SMS_start": "08:00",
        "quiet_SMS_end": "21:00",
        "quiet_SMS_days": ["mon", "tue", "wed", "thu", "fri", "sat"],
        "quiet_WHATSAPP_start": "08:00",
        "quiet_WHATSAPP_end": "21:00",
    }
    assert admin.post("/admin/business-units/0", form).status_code == 303
    unit = client.get("/api/v1/business-units/0", headers=admin_headers).json()
    assert unit["sms_keywords"] == {"opt_out": ["STOPP", "AVSLUTA"], "opt_in": [], "help": ["HJALP"]}
    assert unit["sms_replies"]["opt_out"] == "Avslutat hos {company}."
    assert unit["quiet_hours"] == {"SMS": {"start": "08:00", "end": "21:00", "days": ["mon", "tue", "wed", "thu", "fri", "sat"]}, "WHATSAPP": None}
    page = admin.get("/admin/business-units/0").text
    assert 'value="STOPP, AVSLUTA"' in page
    assert 'name="quiet_SMS_days" value="sun">' in page  # Sunday unticked
    assert one_message(twilio.text("Stopp")) == "Avslutat hos Butiken."
    # a keyword in two families is refused on the form, naming it
    bad = admin.post("/admin/business-units/0", {**form, "kw_opt_in": "stopp"})
    assert bad.status_code == 422
    assert "already a opt_out keyword" in bad.text
    assert client.get("/api/v1/business-units/0", headers=admin_headers).json()["sms_keywords"]["opt_in"] == []


def test_the_contact_record_shows_the_keyword_message_and_reply(
    sign_in: Any, twilio: Twilio, client: TestClient, write_headers: dict[str, str]
) -> None:
    contact = client.post("/api/v1/contacts", json={"phone": CAROL, "first_name": "Carol"}, headers=write_headers)
    assert contact.status_code == 201, contact.text
    twilio.text("Stop!")
    page = sign_in("viewer").get(f"/admin/contacts/{contact.json()['id']}?tab=history")
    shown = text_of(page.text)
    assert "Keyword: STOP" in shown
    assert "Message: “Stop!”" in shown
    assert "Reply sent: “You are unsubscribed from Account. No more messages will be sent." in shown
    assert "by SMS text" in shown


def test_the_queue_says_when_more_wait_than_it_shows(
    sign_in: Any, twilio: Twilio, client: TestClient, admin_headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from assent.admin.views import reviews

    monkeypatch.setattr(reviews, "SHOWN", 2)
    client.patch("/api/v1/settings", headers=admin_headers, json={"sms_revocation_policy": "REVIEW"})
    for n, sender in enumerate(("+46701000001", "+46701000002", "+46701000003")):
        twilio.text(f"please stop texting me ({n})", sender=sender)
    page = sign_in("editor").get(QUEUE)
    shown = text_of(page.text)
    assert "please stop texting me (0)" in shown
    assert "please stop texting me (1)" in shown
    assert "please stop texting me (2)" not in shown
    assert "Showing the oldest 2 of 3 waiting: decide these to see the next." in shown
