"""HubSpot's own SDKs against a live Assent on loopback (only their base URL changes).

- `v3`: `hubspot-api-client`'s `communication_preferences` (HubSpot's v3 client);
- `sdk`: `hubspot-sdk`'s `communication_preferences` (the v4 operations at their 2026-03 paths);
- `native`: what the native API (`/api/v1`) says of the same address, for R12 checks.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import hubspot
import pytest
from fastapi.testclient import TestClient
from hubspot_sdk import HubSpot

from assent.services.settings import update_settings
from assent.storage.db import Database
from tests.browser import LiveServer
from tests.conftest import _key


@pytest.fixture
def token(db: Database) -> str:
    return _key(db, "write")


@pytest.fixture
def read_token(db: Database) -> str:
    return _key(db, "read")


@pytest.fixture
def v3(live_server: LiveServer, token: str) -> Any:
    return hubspot.Client.create(access_token=token, host=live_server.url).communication_preferences


@pytest.fixture
def sdk(live_server: LiveServer, token: str) -> Iterator[HubSpot]:
    with HubSpot(access_token=token, base_url=live_server.url, max_retries=0) as client:
        yield client


class Native:
    """The native API's view of an address, on the same database."""

    def __init__(self, client: TestClient, headers: dict[str, str]) -> None:
        self.client = client
        self.headers = headers

    def view(self, address: str, channel: str = "EMAIL") -> dict[str, Any]:
        response = self.client.get(f"/api/v1/subscribers/{channel}/{quote(address)}", headers=self.headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def status(self, address: str, type_id: int, channel: str = "EMAIL") -> str:
        found = [s for s in self.view(address, channel)["statuses"] if s["subscription_type_id"] == type_id]
        return str(found[0]["status"])

    def wide_units(self, address: str, channel: str = "EMAIL") -> set[int]:
        return {w["business_unit_id"] for w in self.view(address, channel)["wide_opt_outs"]}

    def history(self, address: str, channel: str = "EMAIL") -> list[dict[str, Any]]:
        response = self.client.get(f"/api/v1/subscribers/{channel}/{quote(address)}/history", headers=self.headers)
        assert response.status_code == 200, response.text
        results: list[dict[str, Any]] = response.json()["results"]
        return results

    def set(self, address: str, type_id: int, status: str, **evidence: Any) -> None:
        response = self.client.post(
            f"/api/v1/subscribers/EMAIL/{quote(address)}/statuses",
            headers=self.headers,
            json={"changes": [{"subscription_type_id": type_id, "status": status}], **evidence},
        )
        assert response.status_code == 200, response.text


@pytest.fixture
def native(client: TestClient, admin_headers: dict[str, str]) -> Native:
    return Native(client, admin_headers)


@pytest.fixture
def privacy_mode(db: Database) -> None:
    with db.write() as conn:
        update_settings(conn, {"data_privacy_mode": True})
