"""A JSON body the API cannot read — bytes that are not UTF-8, or text that is not JSON — is a
documented 422 naming `body`, with nothing written (issue 8, "How it is checked": schemathesis
found an undocumented 400 for a body of non-UTF-8 bytes on every JSON write)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from assent.storage.db import Database
from tests.conftest import count_rows

#: (method, URL, the OpenAPI path it is documented under)
ROUTES = [
    ("POST", "/api/v1/contacts", "/api/v1/contacts"),
    (
        "POST",
        "/api/v1/subscribers/EMAIL/alice@example.com/statuses",
        "/api/v1/subscribers/{channel}/{address}/statuses",
    ),
    ("PATCH", "/api/v1/settings", "/api/v1/settings"),
    (
        "DELETE",
        "/api/v1/subscribers/EMAIL/alice@example.com/unsubscribe-all?business_unit_id=0",
        "/api/v1/subscribers/{channel}/{address}/unsubscribe-all",
    ),
]


@pytest.mark.parametrize(
    "body", [b"\x80", b"O\xd7\x18", b'{"email": "\xff@example.com"}', b"{bad json", b"5\xef\xbf\xbdM("]
)
def test_an_unreadable_body_is_a_422_naming_the_body(
    client: TestClient, db: Database, admin_headers: dict[str, str], body: bytes
) -> None:
    documented = client.get("/openapi.json").json()["paths"]
    before = count_rows(db, "ledger_events"), count_rows(db, "contacts")
    for method, url, documented_as in ROUTES:
        response = client.request(
            method, url, content=body, headers={**admin_headers, "content-type": "application/json"}
        )
        assert response.status_code == 422, (method, url, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert (problem["code"], problem["field"]) == ("VALIDATION_FAILED", "body"), problem
        assert "JSON" in problem["detail"]
        assert "422" in documented[documented_as][method.lower()]["responses"]
    assert (count_rows(db, "ledger_events"), count_rows(db, "contacts")) == before
