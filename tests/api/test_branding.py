"""Branding input is checked (issue 15, point 9): a logo is an https:// URL, a colour is one
of the grammar `domain/branding.py` defines; anything else is a 422 problem naming the field,
and nothing is written. The admin form asks the same request models (tests/admin)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from assent.domain.branding import check_logo_url, parse_color
from assent.storage.db import Database
from tests.conftest import Catalog, count_rows

BAD_LOGOS = [
    "http://example.com/logo.png",
    "javascript:alert(1)",
    "//example.com/logo.png",
    "https://",
    "https:///logo.png",
    "https://exa mple.com/logo.png",
    "logo.png",
]
BAD_COLORS = ["red", "#12345", "#ggg", "1f4e79", "rgb(300, 0, 0)", "rgba(0, 0, 0, 0.5)", "#1f4e79;x:y", ""]


@pytest.mark.parametrize(
    ("given", "stored"),
    [("#1F4E79", "#1f4e79"), ("#AbC", "#aabbcc"), ("rgb(31, 78, 121)", "#1f4e79"), (" rgb(0 0 0) ", "#000000")],
)
def test_it_reads_each_colour_of_the_grammar_as_hex(given: str, stored: str) -> None:
    assert parse_color(given) == stored


@pytest.mark.parametrize("value", BAD_COLORS)
def test_it_refuses_anything_else_as_a_colour(value: str) -> None:
    with pytest.raises(ValueError, match="#rgb, #rrggbb or rgb"):
        parse_color(value)


@pytest.mark.parametrize("value", BAD_LOGOS)
def test_it_refuses_a_logo_that_is_not_an_https_url(value: str) -> None:
    with pytest.raises(ValueError, match="https://"):
        check_logo_url(value)


def _fields(problem: dict[str, Any]) -> set[str]:
    return {problem.get("field"), *(e.get("field") for e in problem.get("errors", []))} - {None}


def test_the_api_stores_colours_as_hex_and_an_https_logo(
    client: TestClient, make: Catalog, admin_headers: dict[str, str]
) -> None:
    unit = make.business_unit("Acme")
    body = {
        "logo_url": "https://cdn.example.com/acme.svg",
        "primary_color": "#1F4E79",
        "accent_color": "rgb(227, 108, 10)",
    }
    saved = client.patch(f"/api/v1/business-units/{unit}", json=body, headers=admin_headers)
    assert saved.status_code == 200, saved.text
    got = saved.json()
    assert (got["logo_url"], got["primary_color"], got["accent_color"]) == (
        "https://cdn.example.com/acme.svg",
        "#1f4e79",
        "#e36c0a",
    )
    cleared = client.patch(f"/api/v1/business-units/{unit}", json={"logo_url": None}, headers=admin_headers)
    assert cleared.json()["logo_url"] is None


def test_the_api_refuses_bad_branding_naming_the_field_and_writes_nothing(
    client: TestClient, make: Catalog, admin_headers: dict[str, str], db: Database
) -> None:
    unit = make.business_unit("Acme", primary_color="#0b6e4f")
    before = client.get(f"/api/v1/business-units/{unit}", headers=admin_headers).json()
    audits = count_rows(db, "audit_events")
    cases = [
        *(("logo_url", v) for v in BAD_LOGOS),
        *(("primary_color", v) for v in BAD_COLORS),
        ("accent_color", "navy"),
    ]
    for field, value in cases:
        refused = client.patch(
            f"/api/v1/business-units/{unit}", json={field: value, "company_name": "Changed AB"}, headers=admin_headers
        )
        assert refused.status_code == 422, (field, value)
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert field in _fields(refused.json()), refused.json()
        created = client.post("/api/v1/business-units", json={"name": "Other", field: value}, headers=admin_headers)
        assert created.status_code == 422, (field, value)
        assert field in _fields(created.json())
    assert client.get(f"/api/v1/business-units/{unit}", headers=admin_headers).json() == before
    assert [u["name"] for u in client.get("/api/v1/business-units", headers=admin_headers).json()] == [
        "Account",
        "Acme",
    ]
    assert count_rows(db, "audit_events") == audits
