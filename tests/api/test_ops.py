"""Operations endpoints and the API docs."""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi.testclient import TestClient

from assent.app import create_app
from assent.config import Settings
from assent.storage.db import Database


def test_it_reports_health_readiness_and_metrics(app: Any) -> None:
    client = TestClient(app, client=("127.0.0.1", 50000))  # /metrics: loopback only, no token set
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ok"}
    metrics = client.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    assert "assent_ledger_events_total 0" in metrics.text


def test_it_serves_the_api_docs_without_a_cdn(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert "cdn" not in page.text.lower()
    assert "/static/api/swagger-ui-bundle.js" in page.text
    assert client.get("/static/api/swagger-ui-bundle.js").status_code == 200
    assert client.get("/openapi.json").json()["info"]["title"] == "Assent"


def test_it_serves_metrics_only_to_loopback_without_a_token(app: Any) -> None:
    for host in ("127.0.0.1", "::1"):
        assert TestClient(app, client=(host, 50000)).get("/metrics").status_code == 200
    for host in ("203.0.113.9", "10.0.0.2", "testclient"):
        outside = TestClient(app, client=(host, 50000)).get("/metrics")
        assert (outside.status_code, "assent_" in outside.text) == (403, False)


def test_it_serves_metrics_to_the_configured_token_only(settings: Settings, db: Database) -> None:
    app = create_app(dataclasses.replace(settings, metrics_token="s3cret-scrape"), db)
    for host in ("203.0.113.9", "127.0.0.1"):
        client = TestClient(app, client=(host, 50000))
        assert client.get("/metrics", headers={"Authorization": "Bearer s3cret-scrape"}).status_code == 200
        assert client.get("/metrics", headers={"Authorization": "bearer s3cret-scrape"}).status_code == 200
        wrong = client.get("/metrics", headers={"Authorization": "Bearer guess"})
        assert (wrong.status_code, wrong.headers["www-authenticate"]) == (401, "Bearer")
        assert client.get("/metrics").status_code == 401
