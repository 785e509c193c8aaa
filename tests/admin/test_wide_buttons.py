"""The contact record's POST handlers on their success paths, through HTTP as a signed-in
editor: unsubscribe from all, lift it, and the preference link for a unit in any language."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from assent.storage.db import Database
from tests.admin.conftest import text_of
from tests.conftest import Catalog
from tests.pages.conftest import outbox


def test_a_unit_in_german_can_send_a_preference_link_from_the_admin(
    sign_in: Any, client: TestClient, make: Catalog, admin_headers: dict[str, str], db: Database
) -> None:
    unit = make.business_unit("Laden", company_name="Laden GmbH", default_language="de")
    created = client.post("/api/v1/contacts", json={"email": "dana@example.com"}, headers=admin_headers)
    assert created.status_code == 201, created.text
    editor = sign_in("editor")
    sent = editor.post(f"/admin/contacts/{created.json()['id']}/preference-link", {"business_unit_id": unit})
    assert sent.status_code == 303
    [message] = outbox(db)
    assert (message["To"], message["Content-Language"]) == ("dana@example.com", "en")
    assert message["Subject"] == "Your email preferences for Laden GmbH"


def _wide(client: TestClient, headers: dict[str, str], address: str) -> list[dict[str, Any]]:
    answer = client.get(f"/api/v1/subscribers/EMAIL/{address}", headers=headers)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["wide_opt_outs"])


def test_an_editor_unsubscribes_a_contact_from_all_and_lifts_it(
    sign_in: Any, client: TestClient, make: Catalog, admin_headers: dict[str, str], db: Database
) -> None:
    unit = make.business_unit("Shop", company_name="Shop AB")
    created = client.post("/api/v1/contacts", json={"email": "Erin.Ek@example.com"}, headers=admin_headers)
    contact = created.json()["id"]
    editor = sign_in("editor")

    done = editor.post(f"/admin/contacts/{contact}/unsubscribe-all", {"channel": "EMAIL", "business_unit_id": unit})
    assert (done.status_code, done.headers["location"]) == (303, f"/admin/contacts/{contact}?business_unit_id={unit}")
    page = text_of(editor.get(done.headers["location"]).text)
    assert "is unsubscribed from all email of Shop." in page
    [wide] = _wide(client, admin_headers, "erin.ek@example.com")
    assert (wide["business_unit_id"], wide["set_by"], wide["source"]) == (unit, "USER", "MANUAL")
    again = editor.post(f"/admin/contacts/{contact}/unsubscribe-all", {"channel": "EMAIL", "business_unit_id": unit})
    assert "was already unsubscribed from all email of Shop." in text_of(editor.get(again.headers["location"]).text)

    lifted = editor.post(
        f"/admin/contacts/{contact}/resubscribe-all",
        {"channel": "EMAIL", "business_unit_id": unit, "legal_basis_explanation": "She asked us at the counter"},
    )
    assert (lifted.status_code, lifted.headers["location"]) == (303, f"/admin/contacts/{contact}?business_unit_id={unit}")
    assert "may receive email again." in text_of(editor.get(lifted.headers["location"]).text)
    assert _wide(client, admin_headers, "erin.ek@example.com") == []
    history = client.get("/api/v1/subscribers/EMAIL/erin.ek@example.com/history", headers=admin_headers).json()
    wides = [e for e in history["results"] if e["kind"] == "WIDE_OPT_OUT"]
    assert [(e["new_status"], e["source"], e["actor_kind"]) for e in wides] == [
        ("NOT_SPECIFIED", "MANUAL", "USER"), ("UNSUBSCRIBED", "MANUAL", "USER")
    ]
    assert wides[0]["legal_basis_explanation"] == "She asked us at the counter"
    assert all(e["actor_id"].startswith("user:") for e in wides)
