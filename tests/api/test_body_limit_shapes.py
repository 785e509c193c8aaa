"""The root body limit's 413 (assent/bodylimit.py) comes in the shape of the interface the path
belongs to: the API's problem document, HubSpot's error JSON, the inbound webhooks' small
problem, the admin's own page, the public pages' localized page. It is answered before any
interface runs, unauthenticated and with nothing read or written."""

from __future__ import annotations

from fastapi.testclient import TestClient

from assent.storage.db import Database
from tests.conftest import count_rows

MIB = 1 << 20


def _post(client: TestClient, path: str, size: int, **headers: str) -> object:
    return client.post(path, content=b"x" * size, headers={"content-type": "application/json", **headers})


def test_the_api_answers_its_problem_document(client: TestClient) -> None:
    refused = _post(client, "/api/v1/contacts", 2 * MIB)
    assert (refused.status_code, refused.headers["content-type"]) == (413, "application/problem+json")
    body = refused.json()
    assert (body["code"], body["field"], body["limit"]) == ("BODY_TOO_LARGE", "body", MIB)
    assert refused.headers["connection"] == "close"


def test_hubspots_api_answers_in_hubspots_shape(client: TestClient) -> None:
    refused = _post(client, "/communication-preferences/v4/statuses/batch/read", 3 * MIB)
    assert refused.status_code == 413
    body = refused.json()
    assert (body["status"], body["category"]) == ("error", "VALIDATION_ERROR")
    assert "larger than" in body["message"]
    assert refused.headers["x-hubspot-correlation-id"] == body["correlationId"]


def test_the_inbound_webhooks_answer_a_small_problem(client: TestClient) -> None:
    refused = _post(client, "/inbound/sendgrid", 10 * MIB)
    assert (refused.status_code, refused.headers["content-type"]) == (413, "application/problem+json")
    assert refused.json()["status"] == 413


def test_the_admin_answers_its_own_page_with_its_headers(client: TestClient) -> None:
    refused = client.post(
        "/admin/sign-in",
        content=b"email=" + b"x" * (2 * MIB),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert refused.status_code == 413
    assert refused.headers["content-type"].startswith("text/html")
    assert "What was sent is larger than the limit of 1,048,576 bytes. Nothing was changed." in refused.text
    assert 'href="/admin/static/' in refused.text  # the admin's own layout, linked where it is mounted
    assert "frame-ancestors 'none'" in refused.headers["content-security-policy"]
    assert refused.headers["cache-control"] == "no-store"


def test_the_public_pages_answer_a_localized_page(client: TestClient, db: Database) -> None:
    events = count_rows(db, "ledger_events")
    refused = client.post(
        "/subscribe/0",
        content=b"email=" + b"x" * (2 * MIB),
        headers={"content-type": "application/x-www-form-urlencoded", "accept-language": "sv"},
    )
    assert refused.status_code == 413
    assert refused.headers["content-type"].startswith("text/html")
    assert "Vi kunde inte läsa det som skickades. Ingenting har ändrats." in refused.text
    assert "content-security-policy" in refused.headers
    assert count_rows(db, "ledger_events") == events
