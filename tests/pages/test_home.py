"""`GET /` is a landing page, not a 404 (issue 15, point 6): it links the admin, the API's
documents and the health endpoints, and each link answers."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient


def test_it_shows_a_landing_page_that_links_what_runs_here(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "<h1>Assent</h1>" in page.text
    links = re.findall(r'<a href="([^"?]+)[^"]*"', page.text)
    for wanted in ("/admin/", "/docs", "/openapi.json", "/healthz", "/readyz", "/metrics", "/preferences"):
        assert wanted in links, wanted
    for link in links:
        answered = client.get(link, follow_redirects=True)
        assert answered.status_code != 404, link
    assert client.get("/admin/", follow_redirects=True).url.path == "/admin/login"
    bare = client.get("/admin", follow_redirects=False)  # without the slash: no dead end either
    assert (bare.status_code, bare.headers["location"]) == (308, "/admin/")
    assert client.get("/docs").status_code == 200
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json()["status"] == "ok"
    assert client.head("/").status_code == 200
    assert client.get("/nowhere").status_code == 404  # other unknown paths still answer 404


def test_it_speaks_the_visitors_language(client: TestClient) -> None:
    page = client.get("/", headers={"Accept-Language": "sv-SE,sv;q=0.9"})
    assert '<html lang="sv">' in page.text
    assert "För dem som driver tjänsten" in page.text
    assert client.get("/?lang=en").text.count("For the team that runs it") == 1
