"""API keys are remembered for a moment (services/apikeys.KEY_CACHE_SECONDS), so the single decision
pays no transaction to authenticate — and a revoked key still stops working within that bound."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from assent.actions.apikeys import create_api_key, revoke_api_key
from assent.domain.audit import COMMAND_LINE
from assent.services import apikeys
from assent.storage.db import Database


def test_a_revoked_key_stops_working_within_the_cache_bound(
    client: TestClient, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(apikeys, "KEY_CACHE_SECONDS", 0.3)
    key_id, key = create_api_key(db, "short-lived", ["read"], COMMAND_LINE)
    headers = {"Authorization": f"Bearer {key}"}
    assert client.get("/api/v1/subscription-types", headers=headers).status_code == 200
    assert revoke_api_key(db, key_id, COMMAND_LINE)
    time.sleep(0.35)
    assert client.get("/api/v1/subscription-types", headers=headers).status_code == 401


def test_an_unknown_key_is_never_remembered(client: TestClient, db: Database) -> None:
    _, key = create_api_key(db, "later", ["read"], COMMAND_LINE)
    wrong = {"Authorization": f"Bearer {key}x"}
    assert client.get("/api/v1/subscription-types", headers=wrong).status_code == 401
    assert client.get("/api/v1/subscription-types", headers={"Authorization": f"Bearer {key}"}).status_code == 200


def test_a_revoked_key_stops_working_on_the_hubspot_routes_within_the_bound(
    client: TestClient, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(apikeys, "KEY_CACHE_SECONDS", 0.3)
    key_id, key = create_api_key(db, "hubspot", ["read"], COMMAND_LINE)
    headers = {"Authorization": f"Bearer {key}"}
    path = "/communication-preferences/v4/statuses/batch/read?channel=EMAIL"
    assert client.post(path, json={"inputs": ["someone@example.com"]}, headers=headers).status_code == 200
    assert revoke_api_key(db, key_id, COMMAND_LINE)
    time.sleep(0.35)
    answer = client.post(path, json={"inputs": ["someone@example.com"]}, headers=headers)
    assert answer.status_code == 401
    assert answer.json()["category"] == "INVALID_AUTHENTICATION"
