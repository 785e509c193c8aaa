"""The admin screens over plain HTTP (no browser): what a user sees after each action."""

from __future__ import annotations

import re
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from assent.cli.main import cli
from assent.domain.model import Actor, Channel, Evidence, Source, Status
from assent.jobs.worker import Worker
from assent.services import contacts, events
from assent.services.changes import Writer
from assent.services.state import load_account, load_types
from assent.storage import tables as t
from assent.storage.db import Database
from tests.admin.conftest import text_of
from tests.conftest import Catalog, count_rows


def contact(db: Database, email: str, **extra: Any) -> int:
    with db.write() as conn:
        return int(contacts.create_contact(conn, load_account(conn), {"email": email, **extra})["id"])


def act(
    db: Database, source: Source, email: str, type_id: int | None, status: Status | None = None, **evidence: Any
) -> None:
    """A change made elsewhere (the person on the preference page, an API call…)."""
    with db.write() as conn:
        account = load_account(conn)
        writer = Writer(db, conn, account, Actor(source, "elsewhere"), Evidence(**evidence))
        address = account.normalize(Channel.EMAIL, email)
        if type_id is None:
            writer.set_wide_opt_out(Channel.EMAIL, [address], 0)
        else:
            ty = load_types(conn, [type_id])[type_id]
            writer.change_statuses(Channel.EMAIL, [(address, [(ty, status or Status.UNSUBSCRIBED)])])


def test_it_explains_why_a_resubscribe_is_refused(sign_in: Any, make: Catalog, db: Database) -> None:
    newsletter = make.type("Newsletter")
    dana = contact(db, "dana@example.com", first_name="Dana")
    act(db, Source.PREFERENCE_CENTER, "dana@example.com", None)  # she unsubscribed from all herself
    editor = sign_in("editor")
    record = text_of(editor.get(f"/admin/contacts/{dana}").text)
    assert "Unsubscribed from all email in Account — by the person themself (Preference page)" in record
    assert "Unsubscribed from all email Yes" in record  # R26 property
    before = count_rows(db, "ledger_events")
    form = {
        "channel": "EMAIL",
        "subscription_type_id": newsletter,
        "status": "SUBSCRIBED",
        "legal_basis": "LEGITIMATE_INTEREST_CLIENT",
        "legal_basis_explanation": "She phoned us",
    }
    refused = editor.post(f"/admin/contacts/{dana}/statuses", form)
    assert refused.status_code == 422
    assert (
        "This person unsubscribed from all email themself; only they can resubscribe — send them a preference link."
        in text_of(refused.text)
    )
    assert count_rows(db, "ledger_events") == before
    # …so the editor sends her the link instead: a resubscribe invitation, by email
    sent = editor.post(f"/admin/contacts/{dana}/preference-link", {"business_unit_id": 0})
    assert sent.status_code == 303
    with db.read() as conn:
        [mail] = conn.execute(sa.select(t.mail_outbox.c.recipient, t.mail_outbox.c.message)).all()
    assert mail.recipient == "dana@example.com"
    assert b"/preferences/" in mail.message


def test_it_subscribes_with_evidence_and_shows_it_in_history(sign_in: Any, make: Catalog, db: Database) -> None:
    newsletter = make.type("Newsletter")
    erin = contact(db, "erin@example.com", first_name="Erin")
    act(db, Source.API, "erin@example.com", newsletter)  # opted out through the API
    editor = sign_in("editor")
    form = {"channel": "EMAIL", "subscription_type_id": newsletter, "status": "SUBSCRIBED"}
    missing = editor.post(f"/admin/contacts/{erin}/statuses", form)
    assert missing.status_code == 422
    assert "to resubscribe them, explain why you may" in text_of(missing.text)
    done = editor.post(f"/admin/contacts/{erin}/statuses", {**form, "legal_basis_explanation": "Asked at the fair"})
    assert done.status_code == 303
    history = text_of(editor.get(f"/admin/contacts/{erin}?tab=history").text)
    assert f"a user ({editor.email}) Manual, in the admin UI" in history
    assert "“Asked at the fair”" in history
    assert history.index("Opted out → Opted in") < history.index("Not opted → Opted out")  # newest first


def test_it_shows_an_api_key_once(sign_in: Any, db: Database) -> None:
    admin = sign_in("admin")
    created = admin.post("/admin/settings/api-keys", {"name": "ESP", "scopes": ["read", "write"]})
    assert created.status_code == 200
    assert created.headers["cache-control"] == "no-store"
    key = re.search(r'id="new-key">(assent_[^<]+)<', created.text)
    assert key is not None
    assert key.group(1) not in admin.get("/admin/settings").text
    key_id = key.group(1).split("_")[1]
    assert admin.post(f"/admin/settings/api-keys/{key_id}/revoke").status_code == 303
    with db.read() as conn:
        assert conn.execute(sa.select(t.api_keys.c.revoked_at)).scalar_one() is not None


def test_it_saves_settings_and_names_a_bad_field(sign_in: Any, db: Database) -> None:
    admin = sign_in("admin")
    bad = admin.post("/admin/settings", {"data_privacy_mode": "on", "sms_number_1": "12", "sms_bu_1": "0"})
    assert bad.status_code == 422
    assert "not an E.164 phone number" in bad.text
    with db.read() as conn:
        assert conn.execute(sa.select(t.account_settings.c.data_privacy_mode)).scalar_one() is False
    good = {
        "data_privacy_mode": "on",
        "consent_required_to_send": "on",
        "sms_number_1": "+46 70 123 45 67",
        "sms_bu_1": "0",
    }
    assert admin.post("/admin/settings", good).status_code == 303
    with db.read() as conn:
        row = conn.execute(sa.select(t.account_settings)).one()
    assert (row.data_privacy_mode, row.double_opt_in, row.sms_numbers) == (True, False, {"+46701234567": 0})


def test_it_edits_translates_reorders_and_archives_types(sign_in: Any, make: Catalog, db: Database) -> None:
    first = make.type("Newsletter")
    admin = sign_in("admin")
    created = admin.post(
        "/admin/subscription-types",
        {
            "business_unit_id": 0,
            "channel": "EMAIL",
            "name": "Offers",
            "description": "Sales",
            "tr_lang_1": "sv",
            "tr_name_1": "Erbjudanden",
            "tr_description_1": "Rea",
        },
    )
    assert created.status_code == 303
    page = text_of(admin.get("/admin/subscription-types").text.split("<tbody>")[1])
    assert page.index("Newsletter") < page.index("Offers")
    with db.read() as conn:
        offers = conn.execute(sa.select(t.subscription_types).where(t.subscription_types.c.name == "Offers")).one()
    assert offers.translations == {"sv": {"name": "Erbjudanden", "description": "Rea"}}
    assert admin.post(f"/admin/subscription-types/{offers.id}/move", {"direction": "up"}).status_code == 303
    page = text_of(admin.get("/admin/subscription-types").text.split("<tbody>")[1])
    assert page.index("Offers") < page.index("Newsletter")
    assert "Erbjudanden" in admin.get(f"/admin/subscription-types/{offers.id}/preview?lang=sv").text
    blank = admin.post(f"/admin/subscription-types/{first}", {"name": ""})
    assert blank.status_code == 422
    assert admin.post(f"/admin/subscription-types/{first}/archive").status_code == 303
    assert "Newsletter" not in admin.get("/admin/subscription-types").text.split("<tbody>")[1]


def test_it_walks_the_ledger_in_bounded_steps(
    sign_in: Any, make: Catalog, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    newsletter, offers = make.type("Newsletter"), make.type("Offers")
    act(db, Source.API, "old@example.com", newsletter)
    for n in range(6):
        act(db, Source.API, f"p{n}@example.com", offers)
    monkeypatch.setattr(events, "SCAN", 4)  # so a rare type is found over several steps
    viewer = sign_in("viewer")
    first = viewer.get(f"/admin/activity?subscription_type_id={newsletter}")
    assert "old@example.com" not in first.text
    older = re.search(r'href="([^"]+before=\d+)">Search older events', first.text)
    assert older is not None
    second = viewer.get(older.group(1).replace("&amp;", "&"))
    assert "old@example.com" in second.text
    by_address = text_of(viewer.get("/admin/activity?address=OLD@example.com").text)
    assert "old@example.com" in by_address
    assert "p0@example.com" not in by_address


def test_it_creates_users_from_the_command_line(
    database_url: str, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASSENT_DATABASE_URL", database_url)
    monkeypatch.setenv("ASSENT_SECRET_KEYS", "k")
    runner = CliRunner()
    made = runner.invoke(
        cli, ["user", "create", "--email", "Root@Example.com", "--role", "admin", "--password", "x" * 12]
    )
    assert made.exit_code == 0, made.output
    again = runner.invoke(cli, ["user", "create", "--email", "root@example.com", "--password", "x" * 12])
    assert again.exit_code == 1
    assert "already exists" in again.output
    with db.read() as conn:
        assert conn.execute(sa.select(t.users.c.email, t.users.c.role)).all() == [("root@example.com", "admin")]


def test_it_bulk_updates_every_contact_matching_a_search(sign_in: Any, make: Catalog, db: Database) -> None:
    newsletter = make.type("Newsletter")
    for name in ("ann", "bo", "cy"):
        contact(db, f"{name}@acme.example")
    contact(db, "dee@other.example")
    editor = sign_in("editor")
    index = editor.get("/admin/contacts?q=@acme.example")
    assert editor.get("/admin/contacts/count?q=@acme.example").text == "3"
    assert 'name="all_matching"' in index.text
    form = {
        "all_matching": "1",
        "s_q": "@acme.example",
        "operation": "SET_STATUS",
        "channel": "EMAIL",
        "business_unit_id": "0",
        "status": "UNSUBSCRIBED",
        "subscription_type_id": [str(newsletter)],
    }
    started = editor.post("/admin/contacts/bulk", form)
    assert started.status_code == 303
    Worker(db).run_until_idle()
    summary = text_of(editor.get(started.headers["location"]).text)
    assert "Done: 3 contacts" in summary
    assert "3 changed" in summary
    assert "dee@other.example" not in summary


def test_it_asks_the_bulk_panel_for_evidence_in_data_privacy_mode(sign_in: Any, make: Catalog, db: Database) -> None:
    newsletter = make.type("Newsletter")
    ann = contact(db, "ann@acme.example")
    with db.write() as conn:
        conn.execute(sa.update(t.account_settings).values(data_privacy_mode=True))
    editor = sign_in("editor")
    form = {
        "contact_id": [str(ann)],
        "operation": "SET_STATUS",
        "channel": "EMAIL",
        "business_unit_id": "0",
        "status": "SUBSCRIBED",
        "subscription_type_id": [str(newsletter)],
    }
    refused = editor.post("/admin/contacts/bulk", form, headers={"HX-Request": "true"})
    assert refused.status_code == 422
    assert refused.text.lstrip().startswith('<div class="bulk-panel">')  # the panel again, not a page
    assert "Data privacy mode is on: choose the legal basis to communicate" in text_of(refused.text)
    assert count_rows(db, "jobs") == 0


def test_it_deletes_a_contact_and_the_address_keeps_its_opt_outs(sign_in: Any, make: Catalog, db: Database) -> None:
    newsletter = make.type("Newsletter")
    gina = contact(db, "gina@example.com", first_name="Gina")
    act(db, Source.ONE_CLICK, "gina@example.com", newsletter)
    editor = sign_in("editor")
    assert "Opt-outs stay with the address" in text_of(editor.get(f"/admin/contacts/{gina}/delete").text)
    assert editor.post(f"/admin/contacts/{gina}/delete").status_code == 303
    assert editor.get(f"/admin/contacts/{gina}").status_code == 404
    again = contact(db, "GINA@example.com", first_name="Gina")
    record = text_of(editor.get(f"/admin/contacts/{again}").text)
    assert "Opted out of email: Newsletter Yes" in record
    assert "One-click unsubscribe" in record
