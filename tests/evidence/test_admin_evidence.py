"""The admin History tab offers each event's receipt and the state at that point (issue 17)."""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi.testclient import TestClient

from assent.domain.model import Source, Status
from assent.storage.db import Database
from tests.admin.conftest import sign_in, text_of  # noqa: F401  (fixture)
from tests.admin.test_screens import act, contact
from tests.conftest import Catalog
from tests.evidence.test_receipts import public_key, signed_correctly


def test_the_history_tab_offers_receipts_and_the_state_at_each_event(
    sign_in: Any, make: Catalog, db: Database, client: TestClient  # noqa: F811
) -> None:
    news = make.type("Newsletter")
    make.type("Offers")
    erin = contact(db, "erin@example.com", first_name="Erin")
    act(db, Source.API, "erin@example.com", news, Status.SUBSCRIBED, legal_basis_explanation="Asked at the fair")
    act(db, Source.API, "erin@example.com", news, Status.UNSUBSCRIBED)
    act(db, Source.API, "other@example.com", news, Status.SUBSCRIBED)
    viewer = sign_in("viewer")
    history = viewer.get(f"/admin/contacts/{erin}?tab=history").text
    receipts = re.findall(rf'href="/admin/contacts/{erin}/events/(\d+)/receipt" download', history)
    states = re.findall(rf'href="/admin/contacts/{erin}/as-of\?event=(\d+)"', history)
    assert receipts == states == ["2", "1"]  # newest first

    download = viewer.get(f"/admin/contacts/{erin}/events/1/receipt")
    assert download.status_code == 200
    assert download.headers["content-disposition"] == 'attachment; filename="consent-receipt-1.json"'
    document = json.loads(download.text)
    assert signed_correctly(document, public_key(client))
    assert document["assent"]["event"]["new_status"] == "SUBSCRIBED"

    first = text_of(viewer.get(f"/admin/contacts/{erin}/as-of?event=1").text)
    assert "State at event #1" in first
    assert "Newsletter Account Opted in" in first
    assert "“Asked at the fair”" in first
    assert "Offers Account Not opted" in first
    second = text_of(viewer.get(f"/admin/contacts/{erin}/as-of?event=2").text)
    assert "Newsletter Account Opted out" in second
    # Another person's event is not Erin's to show.
    assert viewer.get(f"/admin/contacts/{erin}/events/3/receipt").status_code == 404
    assert viewer.get(f"/admin/contacts/{erin}/as-of?event=3").status_code == 404
    assert viewer.get(f"/admin/contacts/{erin}/as-of?event=99").status_code == 404
