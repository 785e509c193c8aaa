"""Paging parameters with digits that are not ASCII (`²` passes `str.isdigit` but not `int`)
answer the API's 422 naming the parameter, never a 500 — on both backends (issue 8, point 9's
"like the API does", and the no-5xx rule that a schemathesis run found broken by
`GET /api/v1/contacts?cursor=²`)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

ODD = ["²", "1²", "¹²³"]

#: (URL without the parameter, the parameter)
PAGED = [
    ("/api/v1/contacts", "cursor"),
    ("/api/v1/events", "after"),
    ("/api/v1/exports/history", "after"),
    ("/api/v1/subscribers/EMAIL/alice@example.com/history", "cursor"),
    ("/api/v1/ledger/checkpoints", "cursor"),
    ("/api/v1/workflows", "after"),
]


@pytest.mark.parametrize("value", ODD)
def test_a_paging_parameter_of_odd_digits_is_a_422_naming_it(
    client: TestClient, admin_headers: dict[str, str], value: str
) -> None:
    for url, parameter in PAGED:
        response = client.get(url, params={parameter: value}, headers=admin_headers)
        assert response.status_code == 422, (url, response.status_code, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["field"] == parameter, url
