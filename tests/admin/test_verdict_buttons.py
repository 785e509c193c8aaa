"""Issue 15 point 2 over plain HTTP: the contact record offers only what the rules allow
(`rules.may_change_status`, `rules.decide`) and shows their reason instead; what a user
cannot take back asks first, with a page when there is no JavaScript."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from assent.domain.model import Source, Status
from assent.services import settings as settings_service
from assent.storage import tables as t
from assent.storage.db import Database
from tests.admin.conftest import text_of
from tests.admin.test_screens import act, contact
from tests.conftest import Catalog, count_rows


def _row(html: str, name: str) -> str:
    found = re.search(rf"<tr>\s*<td>{re.escape(name)}</td>.*?</tr>", html, re.S)
    assert found, html
    return found.group(0)


def _form(html: str, action: str) -> dict[str, str]:
    """The hidden fields of the form that posts to `action` (what its button submits)."""
    found = re.search(rf'<form[^>]*action="{re.escape(action)}"[^>]*>(.*?)</form>', html, re.S)
    assert found, html
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', found.group(1)))


def _href(html: str, text: str) -> str:
    found = re.search(rf'<a[^>]*href="([^"]+)"[^>]*>{re.escape(text)}</a>', html)
    assert found, html
    return found.group(1).replace("&amp;", "&")


def test_no_subscribe_under_the_persons_own_opt_out_of_all(sign_in: Any, make: Catalog, db: Database) -> None:
    make.type("Newsletter")
    make.type("Offers")
    dana = contact(db, "dana@example.com")
    act(db, Source.ONE_CLICK, "dana@example.com", None)  # she unsubscribed from all herself
    editor = sign_in("editor")
    html = editor.get(f"/admin/contacts/{dana}").text
    for name in ("Newsletter", "Offers"):
        row = _row(html, name)
        assert f'aria-label="Subscribe to {name}"' not in row
        assert "No subscribe: they unsubscribed from all email themself, and only they can undo it." in text_of(row)
        assert f'aria-label="Unsubscribe from {name}"' in row  # opting out is always allowed (R4)
        assert "not sent: unsubscribed from all" in text_of(row)
    # The dialog's own URL, opened anyway, says why and offers no form
    newsletter = re.search(r'name="subscription_type_id" value="(\d+)"', _row(html, "Newsletter"))
    assert newsletter
    dialog = editor.get(
        f"/admin/contacts/{dana}/subscribe",
        params={"channel": "EMAIL", "subscription_type_id": newsletter.group(1), "business_unit_id": 0},
    )
    assert "only they can resubscribe — send them a preference link." in text_of(dialog.text)
    assert f'action="/admin/contacts/{dana}/statuses"' not in dialog.text


def test_subscribe_is_offered_where_the_rules_allow_it(sign_in: Any, make: Catalog, db: Database) -> None:
    newsletter = make.type("Newsletter")
    make.type("Offers")
    erin = contact(db, "erin@example.com")
    act(db, Source.API, "erin@example.com", newsletter)  # opted out of one type: a user may resubscribe
    editor = sign_in("editor")
    html = editor.get(f"/admin/contacts/{erin}").text
    assert 'aria-label="Resubscribe to Newsletter"' in _row(html, "Newsletter")
    assert 'aria-label="Subscribe to Offers"' in _row(html, "Offers")
    assert "No subscribe" not in text_of(html)


def test_a_users_opt_out_of_all_says_to_remove_it_first(sign_in: Any, make: Catalog, db: Database) -> None:
    make.type("Newsletter")
    frank = contact(db, "frank@example.com")
    editor = sign_in("editor")
    page = editor.get(f"/admin/contacts/{frank}/unsubscribe-all?channel=EMAIL&business_unit_id=0").text
    editor.post(f"/admin/contacts/{frank}/unsubscribe-all", _form(page, f"/admin/contacts/{frank}/unsubscribe-all"))
    html = editor.get(f"/admin/contacts/{frank}").text
    row = _row(html, "Newsletter")
    assert 'aria-label="Subscribe to Newsletter"' not in row
    assert "No subscribe: unsubscribed from all email by a user; remove that opt-out first." in text_of(row)
    assert "Remove this opt-out" in html


def test_in_data_privacy_mode_not_opted_is_not_sendable(sign_in: Any, make: Catalog, db: Database) -> None:
    newsletter = make.type("Newsletter")
    make.type("Offers")
    gina = contact(db, "gina@example.com")
    act(db, Source.API, "gina@example.com", newsletter, Status.SUBSCRIBED)
    editor = sign_in("editor")
    assert "not sent" not in text_of(_row(editor.get(f"/admin/contacts/{gina}").text, "Offers"))
    with db.write() as conn:
        settings_service.update_settings(conn, {"data_privacy_mode": True})
    html = editor.get(f"/admin/contacts/{gina}").text
    assert "Not opted not sent: no consent yet" in text_of(_row(html, "Offers"))  # NO_CONSENT
    assert "not sent" not in text_of(_row(html, "Newsletter"))

    # Subscribing her asks for the legal basis's explanation, not a resubscribe's
    offers = re.search(r"subscription_type_id=(\d+)[^\"]*\" [^>]*aria-label=\"Subscribe to Offers\"", html)
    assert offers
    missing = editor.post(
        f"/admin/contacts/{gina}/statuses",
        {
            "channel": "EMAIL",
            "subscription_type_id": offers.group(1),
            "status": "SUBSCRIBED",
            "legal_basis": "LEGITIMATE_INTEREST_CLIENT",
            "processing_legal_basis": "PERFORMANCE_OF_CONTRACT",
        },
    )
    assert missing.status_code == 422
    said = text_of(missing.text)
    assert "Data privacy mode is on: explain the legal basis in a sentence — why you may send to this person." in said
    assert "opted out" not in said
    assert "in again" not in said


def test_unsubscribe_from_all_asks_first(sign_in: Any, make: Catalog, db: Database) -> None:
    make.type("Newsletter")
    hugo = contact(db, "hugo@example.com")
    editor = sign_in("editor")
    record = editor.get(f"/admin/contacts/{hugo}").text
    action = f"/admin/contacts/{hugo}/unsubscribe-all"
    assert f'action="{action}"' not in record  # no one-click form on the record
    events = count_rows(db, "ledger_events")

    ask = editor.get(_href(record, "Unsubscribe from all email of Account…"))  # the button, without JavaScript
    assert ask.status_code == 200
    assert "Unsubscribe from all email of Account?" in text_of(ask.text)
    as_dialog = editor.get(action, params={"channel": "EMAIL", "business_unit_id": 0}, headers={"HX-Request": "true"})
    assert "<html" not in as_dialog.text
    assert 'id="dialog-title"' in as_dialog.text
    assert (count_rows(db, "wide_opt_outs"), count_rows(db, "ledger_events")) == (0, events)

    done = editor.post(action, _form(ask.text, action))
    assert done.status_code == 303
    assert "hugo@example.com is unsubscribed from all email of Account." in text_of(
        editor.get(done.headers["location"]).text
    )
    assert count_rows(db, "wide_opt_outs") == 1


def test_archiving_a_type_asks_first(sign_in: Any, make: Catalog, db: Database) -> None:
    newsletter = make.type("Newsletter")
    admin = sign_in("admin")
    index = admin.get("/admin/subscription-types").text
    action = f"/admin/subscription-types/{newsletter}/archive"
    assert f'action="{action}"' not in index

    ask = admin.get(_href(index, "Archive…"))
    assert ask.status_code == 200
    assert "Archive “Newsletter”?" in text_of(ask.text)
    with db.read() as conn:
        assert conn.execute(sa.select(t.subscription_types.c.is_active)).scalar_one() is True

    done = admin.post(action, _form(ask.text, action))
    assert done.status_code == 303
    assert "Archived “Newsletter”." in text_of(admin.get(done.headers["location"]).text)
    with db.read() as conn:
        assert conn.execute(sa.select(t.subscription_types.c.is_active)).scalar_one() is False


def test_deleting_a_contact_asks_first(sign_in: Any, make: Catalog, db: Database) -> None:
    ida = contact(db, "ida@example.com", first_name="Ida")
    editor = sign_in("editor")
    record = editor.get(f"/admin/contacts/{ida}").text
    action = f"/admin/contacts/{ida}/delete"
    assert f'action="{action}"' not in record

    ask = editor.get(_href(record, "Delete contact…"))
    assert "Delete Ida?" in text_of(ask.text)
    as_dialog = editor.get(action, headers={"HX-Request": "true"})
    assert "<html" not in as_dialog.text
    assert f'action="{action}"' in as_dialog.text
    assert count_rows(db, "contacts") == 1

    done = editor.post(action, _form(ask.text, action))
    assert done.status_code == 303
    assert count_rows(db, "contacts") == 0


def test_sources_are_never_in_brackets_inside_brackets(sign_in: Any, make: Catalog, db: Database) -> None:
    make.type("Newsletter")
    jo = contact(db, "jo@example.com")
    editor = sign_in("editor")
    page = editor.get(f"/admin/contacts/{jo}/unsubscribe-all?channel=EMAIL&business_unit_id=0").text
    editor.post(f"/admin/contacts/{jo}/unsubscribe-all", _form(page, f"/admin/contacts/{jo}/unsubscribe-all"))
    record = text_of(editor.get(f"/admin/contacts/{jo}").text)
    assert "by a user (Manual, in the admin UI)" in record
    assert not re.search(r"\([^()]*\(", record)
    history = text_of(editor.get(f"/admin/contacts/{jo}?tab=history").text)
    assert not re.search(r"\([^()]*\(", history)
