"""Numbers typed with digits that are not ASCII (`²`, `¹`: `str.isdigit` says yes, `int` says
no) in the public pages' forms, the API's multipart import fields and its `Assent-Consistency`
header are bad input — ignored, or a 4xx naming the field — never a 500 (issue 8 point 9's
class of bug, found past the admin by a schemathesis run)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from assent.storage.db import Database
from tests.conftest import count_rows
from tests.pages.conftest import ALICE, Shop, form_token, links_for, path, subscribe


def test_the_public_forms_ignore_odd_digits(
    app: object, shop: Shop, write_headers: dict[str, str], db: Database
) -> None:
    client = TestClient(app, raise_server_exceptions=False)  # type: ignore[arg-type]
    page = client.get(f"/subscribe/{shop.bu}")
    signup = client.post(
        f"/subscribe/{shop.bu}", data={"csrf": form_token(page.text), "email": ALICE, "type": ["²"], "consent": "1"}
    )
    assert signup.status_code == 422, signup.text  # no type chosen: the form says so
    assert count_rows(db, "subscription_statuses") == 0

    asked = client.get("/preferences", params={"business_unit_id": 0})
    request_link = client.post(
        "/preferences", data={"csrf": form_token(asked.text), "email": ALICE, "business_unit_id": "²"}
    )
    assert request_link.status_code == 200, request_link.text

    subscribe(client, write_headers, shop.newsletter)
    center = path(links_for(client, write_headers, shop)["preferences_url"])
    shown = client.get(center)
    saved = client.post(center, data={"csrf": form_token(shown.text), "shown": ["²"], "type": ["¹"]})
    assert saved.status_code < 500, saved.text


def test_the_api_refuses_odd_digits_in_a_header_and_a_multipart_field(
    app: object, admin_headers: dict[str, str]
) -> None:
    client = TestClient(app, raise_server_exceptions=False)  # type: ignore[arg-type]
    read = client.get(
        "/api/v1/subscription-types", headers={**admin_headers, "Assent-Consistency": "²".encode("latin-1")}
    )
    assert read.status_code == 422, read.text
    assert read.json()["field"] == "assent-consistency"
    uploaded = client.post(
        "/api/v1/imports",
        data={"kind": "OPT_OUTS", "business_unit_id": "²"},
        files={"file": ("opt-outs.csv", b"email\nbob@example.com\n", "text/csv")},
        headers=admin_headers,
    )
    assert uploaded.status_code == 422, uploaded.text
    assert uploaded.json()["field"] == "business_unit_id"
