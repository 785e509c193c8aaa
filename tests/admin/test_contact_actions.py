"""The contact record's POST handlers on their success paths, through HTTP as a signed-in
editor: unsubscribe from all, lift it, and the preference link for a unit in any language."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from assent.storage.db import Database
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
