"""Issue 15, points 3 and 4: what the admin shows of an address's state (undeliverable,
unsubscribed from all, the legal basis to process), clearing undeliverable through the
action with an explanation, the jobs list, and making and editing contacts with the API's
validation. Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient

from assent.domain.model import Source
from assent.jobs.worker import Worker
from assent.storage import tables as t
from assent.storage.db import Database
from tests.admin.conftest import text_of
from tests.admin.test_screens import act, contact
from tests.conftest import Catalog, count_rows

Headers = dict[str, str]


def bounce(client: TestClient, headers: Headers, email: str, reason: str = "550 5.1.1 user unknown") -> None:
    """A hard bounce as an ESP integration reports it (the API's route, source BOUNCE)."""
    done = client.put(
        f"/api/v1/subscribers/EMAIL/{email}/undeliverable", json={"legal_basis_explanation": reason}, headers=headers
    )
    assert done.status_code == 200, done.text


def index_row(page: str, email: str) -> str:
    rows = re.findall(r"<tr>(.*?)</tr>", page.split("<tbody>", 1)[1], re.S)
    [row] = [text_of(r) for r in rows if email in r]
    return row


def delivery_events(db: Database) -> list[tuple[str | None, str | None, str | None, str]]:
    e = t.ledger_events
    with db.read() as conn:
        query = (
            sa.select(e.c.old_status, e.c.new_status, e.c.legal_basis_explanation, e.c.actor_kind)
            .where(e.c.kind == "UNDELIVERABLE")
            .order_by(e.c.id)
        )
        return [tuple(r) for r in conn.execute(query)]  # type: ignore[misc]


# --- point 3: state that matters is visible -----------------------------------------------


def test_the_index_flags_undeliverable_and_unsubscribed_from_all_per_contact(
    sign_in: Any, client: TestClient, write_headers: Headers, make: Catalog, db: Database
) -> None:
    make.type("Newsletter")
    brand = make.business_unit("Shop")
    contact(db, "ann@example.com", first_name="Ann")
    contact(db, "bo@example.com", first_name="Bo")
    contact(db, "cy@example.com", first_name="Cy")
    contact(db, "dee@example.com", first_name="Dee")
    bounce(client, write_headers, "ann@example.com")
    act(db, Source.MANUAL, "bo@example.com", None)  # unsubscribed from all email of Account
    opted = client.put(
        "/api/v1/subscribers/EMAIL/cy@example.com/unsubscribe-all",
        params={"business_unit_id": brand},
        headers=write_headers,
    )
    assert opted.status_code == 200, opted.text
    viewer = sign_in("viewer")
    page = viewer.get("/admin/contacts").text
    assert "Undeliverable email (bounced)" in index_row(page, "ann@example.com")
    assert "Unsubscribed from all" not in index_row(page, "ann@example.com")
    assert "Unsubscribed from all email: Account" in index_row(page, "bo@example.com")
    assert "Unsubscribed from all email: Shop" in index_row(page, "cy@example.com")
    assert "Undeliverable" not in index_row(page, "cy@example.com")
    dee = index_row(page, "dee@example.com")
    assert "Undeliverable" not in dee
    assert "Unsubscribed" not in dee


def test_the_index_reads_its_flags_with_the_page_not_per_contact(
    sign_in: Any, client: TestClient, write_headers: Headers, make: Catalog, db: Database
) -> None:
    make.type("Newsletter")
    for n in range(3):
        contact(db, f"p{n}@example.com")
    viewer = sign_in("viewer")
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    def count() -> int:
        statements.clear()
        sa.event.listen(db.engine, "before_cursor_execute", seen)
        try:
            assert viewer.get("/admin/contacts").status_code == 200
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", seen)
        return sum(1 for s in statements if "FROM addresses" in s)

    few = count()
    for n in range(3, 30):
        contact(db, f"p{n}@example.com")
        bounce(client, write_headers, f"p{n}@example.com")
    assert count() == few == 1  # one read of the addresses for the whole page


def test_the_record_shows_the_bounce_and_the_legal_basis_to_process(
    sign_in: Any, client: TestClient, write_headers: Headers, make: Catalog, db: Database
) -> None:
    newsletter = make.type("Newsletter")
    ann = contact(db, "ann@example.com")
    subscribed = client.post(
        "/api/v1/subscribers/EMAIL/ann@example.com/statuses",
        json={
            "changes": [{"subscription_type_id": newsletter, "status": "SUBSCRIBED"}],
            "legal_basis": "CONSENT_WITH_NOTICE",
            "processing_legal_basis": "LEGITIMATE_INTEREST_CLIENT",
            "legal_basis_explanation": "Signed up at the counter",
        },
        headers=write_headers,
    )
    assert subscribed.status_code == 200, subscribed.text
    bounce(client, write_headers, "ann@example.com", "550 5.1.1 mailbox does not exist")
    viewer = sign_in("viewer")
    page = viewer.get(f"/admin/contacts/{ann}").text
    properties = text_of(page.split('id="props-title"', 1)[1].split("</aside>", 1)[0])
    assert "Legal basis to process data Legitimate interest – existing customer" in properties
    assert "Undeliverable (bounced)" in properties
    assert "“550 5.1.1 mailbox does not exist”" in properties
    with db.read() as conn:
        at = conn.execute(sa.select(t.addresses.c.undeliverable_at)).scalar_one()
    assert at.strftime("%Y-%m-%d %H:%M UTC") in properties
    assert "Clear undeliverable" not in page  # a viewer sees no button…
    assert viewer.get(f"/admin/contacts/{ann}/clear-undeliverable?channel=EMAIL").status_code == 403
    refused = viewer.post(
        f"/admin/contacts/{ann}/clear-undeliverable", {"channel": "EMAIL", "legal_basis_explanation": "ok"}
    )
    assert refused.status_code == 403  # …and is refused
    assert len(delivery_events(db)) == 1


def test_clearing_undeliverable_needs_an_explanation_and_is_recorded(
    sign_in: Any, client: TestClient, write_headers: Headers, make: Catalog, db: Database
) -> None:
    make.type("Newsletter")
    ann = contact(db, "ann@example.com")
    bounce(client, write_headers, "ann@example.com")
    editor = sign_in("editor")
    record = editor.get(f"/admin/contacts/{ann}").text
    assert f"/admin/contacts/{ann}/clear-undeliverable?channel=EMAIL" in record
    form = editor.get(f"/admin/contacts/{ann}/clear-undeliverable?channel=EMAIL")
    assert "550 5.1.1 user unknown" in text_of(form.text)

    for empty in ("", "   "):
        missing = editor.post(
            f"/admin/contacts/{ann}/clear-undeliverable", {"channel": "EMAIL", "legal_basis_explanation": empty}
        )
        assert missing.status_code == 422
        assert 'id="e-legal_basis_explanation"' in missing.text
        assert "Say why this address can receive mail again." in text_of(missing.text)
    assert len(delivery_events(db)) == 1  # nothing written

    done = editor.post(
        f"/admin/contacts/{ann}/clear-undeliverable",
        {"channel": "EMAIL", "legal_basis_explanation": "She confirmed the mailbox by phone"},
    )
    assert done.status_code == 303
    assert delivery_events(db)[-1] == ("UNDELIVERABLE", "DELIVERABLE", "She confirmed the mailbox by phone", "USER")
    with db.read() as conn:
        assert conn.execute(sa.select(t.addresses.c.undeliverable)).scalar_one() is False
    page = editor.get(f"/admin/contacts/{ann}").text
    assert "is deliverable again" in text_of(page)
    assert "Undeliverable (bounced)" not in page
    assert "Undeliverable" not in index_row(editor.get("/admin/contacts").text, "ann@example.com")


def test_the_api_refuses_to_clear_undeliverable_without_an_explanation_too(
    client: TestClient, write_headers: Headers, db: Database
) -> None:
    bounce(client, write_headers, "ann@example.com")
    url = "/api/v1/subscribers/EMAIL/ann@example.com/undeliverable"
    refused = client.request("DELETE", url, json={"legal_basis_explanation": " "}, headers=write_headers)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "legal_basis_explanation"
    assert len(delivery_events(db)) == 1


def test_the_jobs_list_shows_bulk_updates_imports_and_workflow_enrollments(
    sign_in: Any, client: TestClient, write_headers: Headers, make: Catalog, db: Database
) -> None:
    newsletter = make.type("Newsletter")
    ann = contact(db, "ann@example.com")
    flow = _opt_out_workflow(client, write_headers, newsletter, "Welcome series", "MANUAL")
    assert flow.status_code == 201, flow.text
    editor = sign_in("editor")
    enrolled = editor.post("/admin/contacts/enroll", {"contact_id": [str(ann)], "workflow_id": str(flow.json()["id"])})
    assert enrolled.status_code == 303, enrolled.text
    content = b"email\nbo@example.com\n"
    created = client.post(
        "/api/v1/imports",
        data={"kind": "OPT_OUTS", "channel": "EMAIL", "business_unit_id": "0"},
        files={"file": ("old-list.csv", content, "text/csv")},
        headers=write_headers,
    )
    assert created.status_code in (200, 201), created.text
    imp = created.json()["id"]
    confirmed = client.post(f"/api/v1/imports/{imp}/confirm", json={"row_count": 1}, headers=write_headers)
    assert confirmed.status_code in (200, 202), confirmed.text
    bulk = editor.post(
        "/admin/contacts/bulk",
        {
            "contact_id": [str(ann)],
            "operation": "SET_STATUS",
            "channel": "EMAIL",
            "business_unit_id": "0",
            "status": "UNSUBSCRIBED",
            "subscription_type_id": [str(newsletter)],
        },
    )
    assert bulk.status_code == 303
    bulk_id = bulk.headers["location"].rsplit("/", 1)[1]
    Worker(db).run_until_idle()

    viewer = sign_in("viewer")
    menu = viewer.get("/admin/contacts").text
    assert 'href="/admin/jobs"' in menu
    page = viewer.get("/admin/jobs")
    assert page.status_code == 200
    body = page.text.split("<tbody>", 1)[1]
    rows = [text_of(r) for r in re.findall(r"<tr>(.*?)</tr>", body, re.S)]
    kinds = [r.split(" UTC ", 1)[1] for r in rows]  # after the date each was started
    assert kinds[0].startswith("Bulk update Done")
    assert kinds[1].startswith("Import: old-list.csv Done")
    assert kinds[2].startswith("Workflow enrollment: Welcome series Done")
    assert "1 / 1" in rows[0], rows
    assert "1 / 1" in rows[2], rows
    assert "api_key:" in rows[1]  # started through the API: its key's id
    assert "0 changed · 1 already so" in rows[0]  # the workflow had opted ann out already
    assert "1 changed" in rows[1]
    assert "1 changed" in rows[2]
    assert "editor-0@example.com" in rows[0]
    assert "editor-0@example.com" in rows[2]
    assert f'href="/admin/jobs/{bulk_id}"' in body
    assert f'href="/admin/imports/{imp}"' in body
    assert f'href="/admin/workflows/{flow.json()["id"]}"' in body
    only = text_of(viewer.get("/admin/jobs?kind=IMPORT").text)
    assert "old-list.csv" in only
    assert "Welcome series" not in only


def test_the_jobs_list_pages_newest_first(
    sign_in: Any, client: TestClient, write_headers: Headers, db: Database
) -> None:
    from assent.jobs import queue

    with db.write() as conn:
        made = [queue.insert_job(conn, "BULK_UPDATE", {"channel": "EMAIL"}, None, t.now()) for _ in range(55)]
    viewer = sign_in("viewer")
    first = viewer.get("/admin/jobs").text
    ids = re.findall(r'href="/admin/jobs/(job_\w+)"', first)
    assert ids == sorted(made, reverse=True)[:50]
    older = re.search(r'href="/admin/jobs\?([^"]+)">Older', first)
    assert older, first
    second = viewer.get("/admin/jobs?" + older.group(1).replace("&amp;", "&")).text
    assert re.findall(r'href="/admin/jobs/(job_\w+)"', second) == sorted(made, reverse=True)[50:]
    assert viewer.get("/admin/jobs?after=nonsense").status_code == 200


# --- point 4: making and editing contacts -------------------------------------------------


def test_an_editor_creates_a_contact_and_its_workflow_trigger_fires(
    sign_in: Any, client: TestClient, write_headers: Headers, make: Catalog, db: Database
) -> None:
    newsletter = make.type("Newsletter")
    flow = _opt_out_workflow(client, write_headers, newsletter, "On creation", "CONTACT_CREATED")
    assert flow.status_code == 201, flow.text
    editor = sign_in("editor")
    assert 'href="/admin/contacts/new"' in editor.get("/admin/contacts").text
    assert editor.get("/admin/contacts/new").status_code == 200
    made = editor.post(
        "/admin/contacts/new",
        {
            "email": "Pat.Doe@Example.com",
            "phone": "+46 70 123 45 67",
            "first_name": "Pat",
            "last_name": "Doe",
            "company": "Acme",
            "property_name": ["plan", ""],
            "property_value": ["gold", ""],
        },
    )
    assert made.status_code == 303, made.text
    found = re.fullmatch(r"/admin/contacts/(\d+)", made.headers["location"])
    assert found
    shown = client.get(f"/api/v1/contacts/{found.group(1)}", headers=write_headers).json()
    assert (shown["email"], shown["phone"], shown["first_name"], shown["company"], shown["properties"]) == (
        "Pat.Doe@example.com",
        "+46701234567",
        "Pat",
        "Acme",
        {"plan": "gold"},
    )
    Worker(db).run_until_idle()
    runs = client.get(f"/api/v1/workflows/{flow.json()['id']}/runs", headers=write_headers).json()["results"]
    assert [(r["trigger"], r["contact_id"]) for r in runs] == [("CONTACT_CREATED", int(found.group(1)))]


def test_a_bad_field_is_a_form_error_naming_it_and_nothing_is_written(sign_in: Any, db: Database) -> None:
    editor = sign_in("editor")
    bad = editor.post("/admin/contacts/new", {"email": "not an address", "first_name": "Pat"})
    assert bad.status_code == 422
    assert 'id="f-email"' in bad.text
    assert 'aria-invalid="true" aria-describedby="e-email"' in bad.text
    assert 'id="e-email"' in bad.text
    assert 'value="Pat"' in bad.text  # what was typed stays
    long = editor.post("/admin/contacts/new", {"email": "ok@example.com", "first_name": "x" * 201})
    assert long.status_code == 422
    assert 'id="e-first_name"' in long.text
    phone = editor.post("/admin/contacts/new", {"phone": "12"})
    assert phone.status_code == 422
    assert 'id="e-phone"' in phone.text
    nameless = editor.post(
        "/admin/contacts/new", {"email": "ok@example.com", "property_name": [""], "property_value": ["gold"]}
    )
    assert nameless.status_code == 422
    assert 'id="e-properties"' in nameless.text
    assert count_rows(db, "contacts") == 0

    pat = contact(db, "pat@example.com", first_name="Pat", properties={"plan": "gold", "seats": 3})
    contact(db, "kim@example.com")
    form = editor.get(f"/admin/contacts/{pat}/edit").text
    assert 'value="pat@example.com"' in form
    assert 'value="seats"' in form
    assert 'value="3"' in form
    edited = editor.post(f"/admin/contacts/{pat}/edit", {"email": "pat@", "first_name": "Patricia"})
    assert edited.status_code == 422
    assert 'id="e-email"' in edited.text
    taken = editor.post(f"/admin/contacts/{pat}/edit", {"email": "KIM@example.com", "first_name": "Patricia"})
    assert taken.status_code == 409
    assert 'id="e-email"' in taken.text
    assert "another contact has this email address" in text_of(taken.text).lower()
    with db.read() as conn:
        row = conn.execute(sa.select(t.contacts).where(t.contacts.c.id == pat)).one()
    assert (row.email, row.first_name) == ("pat@example.com", "Pat")


def test_an_editor_edits_fields_and_properties(
    sign_in: Any, client: TestClient, write_headers: Headers, db: Database
) -> None:
    pat = contact(db, "pat@example.com", first_name="Pat", company="Acme", properties={"plan": "gold", "seats": 3})
    editor = sign_in("editor")
    assert f'href="/admin/contacts/{pat}/edit"' in editor.get(f"/admin/contacts/{pat}").text
    saved = editor.post(
        f"/admin/contacts/{pat}/edit",
        {
            "email": "pat@example.com",
            "phone": "",
            "first_name": "Patricia",
            "last_name": "Doe",
            "company": "",
            "property_name": ["plan", "seats", "region", ""],
            "property_value": ["", "3", "north", ""],
        },
    )
    assert saved.status_code == 303, saved.text
    shown = client.get(f"/api/v1/contacts/{pat}", headers=write_headers).json()
    assert (shown["first_name"], shown["last_name"], shown["company"]) == ("Patricia", "Doe", None)
    assert shown["properties"] == {"seats": 3, "region": "north"}  # a value shown unchanged keeps its type
    assert "Saved the contact." in text_of(editor.get(f"/admin/contacts/{pat}").text)


def test_a_viewer_neither_sees_nor_may_use_the_contact_forms(sign_in: Any, db: Database) -> None:
    pat = contact(db, "pat@example.com", first_name="Pat")
    viewer = sign_in("viewer")
    assert "/admin/contacts/new" not in viewer.get("/admin/contacts").text
    assert f"/admin/contacts/{pat}/edit" not in viewer.get(f"/admin/contacts/{pat}").text
    assert viewer.get("/admin/contacts/new").status_code == 403
    assert viewer.get(f"/admin/contacts/{pat}/edit").status_code == 403
    assert viewer.post("/admin/contacts/new", {"email": "new@example.com"}).status_code == 403
    assert viewer.post(f"/admin/contacts/{pat}/edit", {"first_name": "Eve"}).status_code == 403
    assert count_rows(db, "contacts") == 1
    editor = sign_in("editor")
    assert editor.post("/admin/contacts/new", {"email": "new@example.com"}, csrf=False).status_code == 403
    assert count_rows(db, "contacts") == 1


def _opt_out_workflow(client: TestClient, headers: Headers, type_id: int, name: str, trigger: str) -> Any:
    """POST a workflow whose one action opts the contact's email out of `type_id`."""
    action = {
        "type": "SET_SUBSCRIPTION_STATUS",
        "channel": "EMAIL",
        "subscription_type_id": type_id,
        "status": "UNSUBSCRIBED",
    }
    return client.post(
        "/api/v1/workflows",
        json={"name": name, "trigger": {"type": trigger}, "actions": [action]},
        headers=headers,
    )
