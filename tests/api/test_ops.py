"""Operations endpoints and the API docs."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_it_reports_health_readiness_and_metrics(client: TestClient) -> None:
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
