"""Raw HTTP for what the SDKs do not call: v4 and the date-versioned paths (served by the same
handlers), 2025-09's v3 operations and `resubscribe`, and HubSpot's error shape for every
error the sub-app answers (401, 403, 404, 405, 400, 413), never RFC 9457."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Catalog
from tests.hubspot.conftest import Native

CP = "/communication-preferences"
V4_VERSIONS = ("v4", "2025-09", "2026-03", "2026-09")


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _hubspot_error(response: Any, status: int, category: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    assert body["status"] == "error"
    assert body["category"] == category
    assert body["message"]
    assert len(body["correlationId"]) == 36
    assert response.headers["x-hubspot-correlation-id"] == body["correlationId"]
    assert not {"type", "title", "detail"} & set(body)  # not an RFC 9457 problem document
    return body


@pytest.mark.parametrize("version", V4_VERSIONS)
def test_every_v4_release_is_served_by_the_same_handlers(
    client: TestClient, token: str, make: Catalog, native: Native, version: str
) -> None:
    news = make.type("Newsletter")
    address = f"{version}@example.com"
    base = f"{CP}/{version}"

    definitions = client.get(f"{base}/definitions", headers=_auth(token))
    written = client.post(
        f"{base}/statuses/{address}",
        headers=_auth(token),
        json={"channel": "EMAIL", "statusState": "SUBSCRIBED", "subscriptionId": news},
    )
    read = client.post(f"{base}/statuses/batch/read?channel=EMAIL", headers=_auth(token), json={"inputs": [address]})
    batch = client.post(
        f"{base}/statuses/batch/write",
        headers=_auth(token),
        json={
            "inputs": [
                {
                    "subscriberIdString": address,
                    "channel": "EMAIL",
                    "statusState": "UNSUBSCRIBED",
                    "subscriptionId": news,
                }
            ]
        },
    )
    wide = client.post(
        f"{base}/statuses/batch/unsubscribe-all?channel=EMAIL", headers=_auth(token), json={"inputs": [address]}
    )
    wide_read = client.post(
        f"{base}/statuses/batch/unsubscribe-all/read?channel=EMAIL", headers=_auth(token), json={"inputs": [address]}
    )
    links = client.post(
        f"{base}/links/generate?channel=EMAIL", headers=_auth(token), json={"subscriberIdString": address}
    )

    assert [d["id"] for d in definitions.json()["results"]] == [str(news)]
    assert written.json()["results"][0]["setStatusSuccessReason"] == "REQUESTED_CHANGE_OCCURRED"
    assert read.json()["results"][0]["statuses"][0]["status"] == "SUBSCRIBED"
    assert batch.json()["results"][0]["status"] == "UNSUBSCRIBED"
    assert wide.json()["results"] == [{"subscriberIdString": address}]
    assert wide_read.json()["results"][0]["wideStatuses"][0]["wideStatusType"] == "PORTAL_WIDE"
    assert links.json()["managePreferencesUrl"].startswith("http://testserver/preferences/")
    assert native.status(address, news) == "UNSUBSCRIBED"
    assert native.wide_units(address) == {0}


def test_2025_09_carries_v3s_operations_and_resubscribe(
    client: TestClient, token: str, make: Catalog, native: Native
) -> None:
    news = make.type()
    body = {"emailAddress": "alice@example.com", "subscriptionId": str(news)}
    base = f"{CP}/2025-09"

    subscribed = client.post(f"{base}/subscribe", headers=_auth(token), json=body)
    unsubscribed = client.post(f"{base}/unsubscribe", headers=_auth(token), json=body)
    refused = client.post(f"{base}/subscribe", headers=_auth(token), json=body)
    unexplained = client.post(f"{base}/resubscribe", headers=_auth(token), json=body)
    assert native.status("alice@example.com", news) == "UNSUBSCRIBED"
    resubscribed = client.post(
        f"{base}/resubscribe", headers=_auth(token), json={**body, "legalBasisExplanation": "Asked at the desk"}
    )
    status = client.get(f"{base}/status/email/alice@example.com", headers=_auth(token))

    assert subscribed.json()["status"] == "SUBSCRIBED"
    assert unsubscribed.json()["status"] == "NOT_SUBSCRIBED"
    assert _hubspot_error(refused, 400, "VALIDATION_ERROR")["subCategory"] == "RESUBSCRIBE_NOT_ALLOWED"
    assert _hubspot_error(unexplained, 400, "VALIDATION_ERROR")["errors"][0]["in"] == "legalBasisExplanation"
    assert resubscribed.json()["status"] == "SUBSCRIBED"
    assert status.json()["subscriptionStatuses"][0]["status"] == "SUBSCRIBED"
    assert native.status("alice@example.com", news) == "SUBSCRIBED"


def test_401_without_or_with_a_wrong_token(client: TestClient) -> None:
    for headers in ({}, {"Authorization": "Bearer assent_nope_nope"}, {"Authorization": "Basic dXNlcjpwYXNz"}):
        response = client.get(f"{CP}/v4/definitions", headers=headers)
        _hubspot_error(response, 401, "INVALID_AUTHENTICATION")
        assert response.headers["www-authenticate"] == "Bearer"


def test_403_when_a_read_key_writes(client: TestClient, read_token: str, make: Catalog, native: Native) -> None:
    news = make.type()
    response = client.post(
        f"{CP}/v3/subscribe",
        headers=_auth(read_token),
        json={"emailAddress": "bob@example.com", "subscriptionId": str(news)},
    )
    body = _hubspot_error(response, 403, "MISSING_SCOPES")
    assert "write" in body["message"]
    assert native.view("bob@example.com")["statuses"][0]["status"] == "NOT_SPECIFIED"
    assert client.get(f"{CP}/v3/definitions", headers=_auth(read_token)).status_code == 200


def test_404_and_405_in_hubspots_shape(client: TestClient, token: str) -> None:
    _hubspot_error(client.get(f"{CP}/v5/definitions", headers=_auth(token)), 404, "OBJECT_NOT_FOUND")
    _hubspot_error(client.get(f"{CP}/v3/nothing/here", headers=_auth(token)), 404, "OBJECT_NOT_FOUND")
    _hubspot_error(client.delete(f"{CP}/v4/definitions", headers=_auth(token)), 405, "METHOD_NOT_ALLOWED")


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("get", "/v4/statuses/a@example.com", None, "channel"),
        ("get", "/v4/statuses/a@example.com?channel=FAX", None, "channel"),
        ("get", "/v4/statuses/a@example.com?channel=EMAIL&businessUnitId=99999999999", None, "businessUnitId"),
        (
            "post",
            "/v4/statuses/a@example.com",
            {"channel": "EMAIL", "statusState": "MAYBE", "subscriptionId": 1},
            "statusState",
        ),
        ("post", "/v4/statuses/a@example.com", {"channel": "EMAIL", "statusState": "SUBSCRIBED"}, "subscriptionId"),
        (
            "post",
            "/v4/statuses/a@example.com",
            {"channel": "EMAIL", "statusState": "SUBSCRIBED", "subscriptionId": 2**40},
            "subscriptionId",
        ),
        (
            "post",
            "/v4/statuses/a@example.com",
            {"channel": "EMAIL", "statusState": "SUBSCRIBED", "subscriptionId": 1, "legalBasis": "BECAUSE"},
            "legalBasis",
        ),
        (
            "post",
            "/v4/statuses/a@example.com",
            {"channel": "EMAIL", "statusState": "SUBSCRIBED", "subscriptionId": 1, "legalBasisExplanation": "a\x00b"},
            "legalBasisExplanation",
        ),
        (
            "post",
            "/v4/statuses/not-an-address",
            {"channel": "EMAIL", "statusState": "SUBSCRIBED", "subscriptionId": 1},
            "subscriberIdString",
        ),
        ("post", "/v3/subscribe", {"emailAddress": "a@example.com", "subscriptionId": "one"}, "subscriptionId"),
        ("post", "/v3/subscribe", {"subscriptionId": "1"}, "emailAddress"),
        ("post", "/v4/statuses/batch/read?channel=EMAIL", {"inputs": []}, "inputs"),
        ("post", "/v4/statuses/batch/write", {"inputs": [{"channel": "EMAIL"}]}, "inputs[0].statusState"),
        (
            "post",
            "/v4/links/generate?channel=EMAIL",
            {"subscriberIdString": "a@example.com", "language": "no such language!"},
            "language",
        ),
    ],
)
def test_400_names_the_field(
    client: TestClient, token: str, make: Catalog, method: str, path: str, body: Any, field: str
) -> None:
    make.type()
    response = client.request(method, f"{CP}{path}", headers=_auth(token), json=body)
    errors = _hubspot_error(response, 400, "VALIDATION_ERROR")["errors"]
    assert field in [e["in"] for e in errors]


def test_nul_and_oversized_bodies(client: TestClient, token: str) -> None:
    _hubspot_error(client.get(f"{CP}/v4/statuses/a%00b?channel=EMAIL", headers=_auth(token)), 400, "VALIDATION_ERROR")
    huge = {"inputs": ["x" * 300 + "@example.com"] * 4000}
    _hubspot_error(
        client.post(f"{CP}/v4/statuses/batch/read?channel=EMAIL", headers=_auth(token), json=huge),
        413,
        "VALIDATION_ERROR",
    )
    not_json = client.post(
        f"{CP}/v4/statuses/batch/read?channel=EMAIL",
        headers={**_auth(token), "Content-Type": "application/json"},
        content=b"{not json",
    )
    _hubspot_error(not_json, 400, "VALIDATION_ERROR")
