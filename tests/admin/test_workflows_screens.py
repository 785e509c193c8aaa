"""/admin/workflows over plain HTTP: the editor, enable/disable, delete, enrolling from the
contacts index, and the run log in words — and who may do what."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
import sqlalchemy as sa

from assent.admin import words
from assent.domain.model import Channel, Source
from assent.jobs.worker import Worker
from assent.services import settings as settings_service
from assent.storage import tables as t
from assent.storage.db import Database
from tests.admin.conftest import Admin, text_of
from tests.admin.test_screens import act, contact
from tests.conftest import Catalog, count_rows


def workflow_form(name: str, type_id: int | str, status: str = "SUBSCRIBED", **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "enabled": "1",
        "trigger": "MANUAL",
        "action_count": "2",
        "a0_type": "SET_SUBSCRIPTION_STATUS",
        "a0_channel": "EMAIL",
        "a0_subscription_type_id": str(type_id),
        "a0_status": status,
        "a1_type": "",  # the empty row to add another
        "do": "save",
        **extra,
    }


def created_id(response: Any) -> int:
    assert response.status_code == 303, text_of(response.text)
    found = re.fullmatch(r"/admin/workflows/(\d+)", response.headers["location"])
    assert found, response.headers["location"]
    return int(found.group(1))


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_it_builds_a_workflow_enrolls_a_selection_and_explains_the_refusal(
    sign_in: Any, db: Database, make: Catalog
) -> None:
    newsletter = make.type("Newsletter")
    ids = [contact(db, f"{n}@example.com", first_name=n.title()) for n in ("anna", "bert", "cora")]
    act(db, Source.PREFERENCE_CENTER, "cora@example.com", newsletter)  # Cora opted out herself
    editor = sign_in("editor")
    workflow = created_id(editor.post("/admin/workflows", workflow_form("Welcome", newsletter)))
    listed = text_of(editor.get("/admin/workflows").text)
    assert (
        "Welcome Manual (enrolled from the contacts list or the API) Opt in to Newsletter (email) Enabled 0 0 0"
        in listed
    )

    panel = editor.get("/admin/contacts/enroll", params={"contact_id": ids})
    assert "3 contacts selected." in text_of(panel.text)
    enrolled = editor.post("/admin/contacts/enroll", {"contact_id": ids, "workflow_id": str(workflow)})
    assert enrolled.status_code == 303
    assert enrolled.headers["location"] == f"/admin/workflows/{workflow}"
    Worker(db).run_until_idle()

    log = text_of(editor.get(f"/admin/workflows/{workflow}").text)
    assert "2 changed 0 already so 1 refused" in log
    assert log.count("Opt in to Newsletter (email): Changed") == 2
    day = words.on_day(_opted_out_at(db))
    assert (
        f"cora@example.com {_when(_enrolled(db))} Opt in to Newsletter (email): Refused "
        f"Not subscribed: the contact opted out on {day}; a workflow cannot resubscribe." in log
    )
    refused = text_of(editor.get(f"/admin/workflows/{workflow}", params={"outcome": "REFUSED"}).text)
    assert "cora@example.com" in refused
    assert "anna@example.com" not in refused


def _opted_out_at(db: Database) -> Any:
    with db.read() as conn:
        s = t.subscription_statuses
        return conn.execute(sa.select(s.c.updated_at).where(s.c.status == "UNSUBSCRIBED")).scalar_one()


def _enrolled(db: Database) -> Any:
    with db.read() as conn:
        r = t.workflow_runs
        return conn.execute(sa.select(r.c.enrolled_at).where(r.c.address == "cora@example.com")).scalar_one()


def _when(value: Any) -> str:
    return str(value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"))


def test_it_enrolls_every_contact_matching_the_search(sign_in: Any, db: Database, make: Catalog) -> None:
    newsletter = make.type("Newsletter")
    for name in ("anna@acme.example", "bert@acme.example", "eve@other.example"):
        contact(db, name)
    editor = sign_in("editor")
    workflow = created_id(editor.post("/admin/workflows", workflow_form("Acme", newsletter)))
    form = {"all_matching": "1", "s_q": "@acme.example", "workflow_id": str(workflow)}
    assert editor.post("/admin/contacts/enroll", form).status_code == 303
    Worker(db).run_until_idle()
    log = text_of(editor.get(f"/admin/workflows/{workflow}").text)
    assert "anna@acme.example" in log
    assert "bert@acme.example" in log
    assert "eve@other.example" not in log


def test_it_names_what_the_form_lacks_and_asks_for_evidence_in_privacy_mode(
    sign_in: Any, db: Database, make: Catalog
) -> None:
    newsletter = make.type("Newsletter")
    sms = make.type("Alerts", channel=Channel.SMS)
    editor = sign_in("editor")
    empty = editor.post("/admin/workflows", workflow_form("", "", status=""))
    assert empty.status_code == 422
    page = text_of(empty.text)
    assert "Give the workflow a name." in page
    assert "Choose a subscription type of this channel." in page
    assert "Choose Opt in, Not opted or Opt out." in page
    wrong = editor.post("/admin/workflows", workflow_form("Wrong channel", sms))
    assert wrong.status_code == 422
    assert "is a SMS type, not EMAIL" in text_of(wrong.text)
    # adding a row re-shows the form with another empty action, saving nothing
    more = editor.post(
        "/admin/workflows", {**workflow_form("Two", newsletter), "a1_type": "SET_UNSUBSCRIBE_ALL", "do": "add"}
    )
    assert more.status_code == 200
    assert 'name="a2_type"' in more.text
    assert '<option value="SET_UNSUBSCRIBE_ALL" selected>' in more.text
    assert count_rows(db, "workflows") == 0
    with db.write() as conn:
        settings_service.update_settings(conn, {"data_privacy_mode": True})
    form = editor.get("/admin/workflows/new").text
    assert 'name="a0_legal_basis"' in form
    missing = editor.post("/admin/workflows", workflow_form("Private", newsletter))
    assert missing.status_code == 422
    assert 'aria-describedby="e-a0_subscription_type_id"' not in missing.text
    assert "legal basis" in text_of(missing.text).lower()
    evidence = {
        "a0_legal_basis": "LEGITIMATE_INTEREST_CLIENT",
        "a0_processing_legal_basis": "LEGITIMATE_INTEREST_CLIENT",
        "a0_legal_basis_explanation": "Existing customers",
    }
    created_id(editor.post("/admin/workflows", workflow_form("Private", newsletter, **evidence)))
    assert count_rows(db, "workflows") == 1


def test_it_edits_disables_and_deletes_with_a_confirmation(sign_in: Any, db: Database, make: Catalog) -> None:
    newsletter = make.type("Newsletter")
    anna = contact(db, "anna@example.com")
    editor = sign_in("editor")
    workflow = created_id(editor.post("/admin/workflows", workflow_form("Welcome", newsletter)))
    edit = editor.get(f"/admin/workflows/{workflow}/edit").text
    assert 'value="Welcome"' in edit
    assert f'<option value="{newsletter}" selected>' in edit
    trigger = {"trigger": "PROPERTY_CHANGED", "property": "stage", "value": "customer"}
    assert (
        editor.post(f"/admin/workflows/{workflow}", workflow_form("Customers", newsletter, **trigger)).status_code
        == 303
    )
    assert "“stage” changed to “customer”" in text_of(editor.get(f"/admin/workflows/{workflow}").text)

    assert editor.post(f"/admin/workflows/{workflow}/enabled", {"enabled": "0"}).status_code == 303
    assert "Disabled" in text_of(editor.get("/admin/workflows").text)
    refused = editor.post("/admin/contacts/enroll", {"contact_id": [anna], "workflow_id": str(workflow)})
    assert refused.status_code == 422
    assert "is disabled" in text_of(refused.text)
    assert count_rows(db, "jobs") == 0

    confirm = editor.get(f"/admin/workflows/{workflow}/delete")
    assert "Delete “Customers”?" in text_of(confirm.text)
    assert editor.post(f"/admin/workflows/{workflow}/delete").status_code == 303
    assert "Customers" not in text_of(editor.get("/admin/workflows").text)
    assert "Deleted" in text_of(editor.get(f"/admin/workflows/{workflow}").text)  # its log stays readable


def test_a_viewer_reads_workflows_and_changes_nothing(sign_in: Any, db: Database, make: Catalog) -> None:
    newsletter = make.type("Newsletter")
    anna = contact(db, "anna@example.com")
    editor = sign_in("editor")
    workflow = created_id(editor.post("/admin/workflows", workflow_form("Welcome", newsletter)))
    viewer: Admin = sign_in("viewer")
    page = viewer.get(f"/admin/workflows/{workflow}")
    assert page.status_code == 200
    assert 'method="post"' not in page.text.split("</header>")[1]
    assert "Create workflow" not in viewer.get("/admin/workflows").text
    assert "Enroll in workflow" not in viewer.get("/admin/contacts").text
    for path in ("/admin/workflows/new", f"/admin/workflows/{workflow}/edit", "/admin/contacts/enroll"):
        assert viewer.get(path).status_code == 403, path
    posts = {
        "/admin/workflows": workflow_form("Mine", newsletter),
        f"/admin/workflows/{workflow}": workflow_form("Renamed", newsletter),
        f"/admin/workflows/{workflow}/enabled": {"enabled": "0"},
        f"/admin/workflows/{workflow}/delete": {},
        "/admin/contacts/enroll": {"contact_id": [anna], "workflow_id": str(workflow)},
    }
    for path, form in posts.items():
        assert viewer.post(path, form).status_code == 403, path
    assert count_rows(db, "workflows") == 1
    assert count_rows(db, "jobs") == 0
    assert "Welcome Manual" in text_of(editor.get("/admin/workflows").text)
    assert "Enabled" in text_of(editor.get("/admin/workflows").text)
