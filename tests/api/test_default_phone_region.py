"""ASSENT_DEFAULT_PHONE_REGION (SPEC §3) is the default of the account setting
`default_phone_region`: national numbers are read in it unless the setting names a region."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from assent.app import create_app
from assent.config import Settings
from assent.domain.model import Channel
from assent.storage.db import Database
from tests.conftest import Catalog

SWEDISH = "070-123 45 67"
AMERICAN = "(415) 555-0123"


@pytest.fixture
def swedish_client(database_url: str, db: Database) -> Iterator[TestClient]:
    env = {
        "ASSENT_DATABASE_URL": database_url,
        "ASSENT_SECRET_KEYS": "test-secret-key",
        "ASSENT_BASE_URL": "http://testserver",
        "ASSENT_DEFAULT_PHONE_REGION": "se",
    }
    with TestClient(create_app(Settings.from_env(env, run_worker=False), db)) as client:
        yield client


def decided(client: TestClient, headers: dict[str, str], type_id: int, address: str) -> Any:
    return client.get(
        "/api/v1/decisions", params={"address": address, "subscription_type_id": type_id}, headers=headers
    )


def test_national_numbers_are_read_in_the_environments_region_until_the_setting_names_one(
    swedish_client: TestClient, make: Catalog, admin_headers: dict[str, str]
) -> None:
    client = swedish_client
    sms = make.type("SMS offers", Channel.SMS)
    assert client.get("/api/v1/settings", headers=admin_headers).json()["default_phone_region"] is None
    assert decided(client, admin_headers, sms, SWEDISH).json()["address"] == "+46701234567"
    contact = client.post("/api/v1/contacts", json={"phone": SWEDISH}, headers=admin_headers)
    assert (contact.status_code, contact.json()["phone"]) == (201, "+46701234567"), contact.text
    changed = client.post(
        f"/api/v1/subscribers/SMS/{SWEDISH}/statuses",
        json={"changes": [{"subscription_type_id": sms, "status": "UNSUBSCRIBED"}]},
        headers=admin_headers,
    )
    assert (changed.status_code, changed.json()["address"]) == (200, "+46701234567"), changed.text

    # the account setting wins over the environment
    client.patch("/api/v1/settings", json={"default_phone_region": "US"}, headers=admin_headers).raise_for_status()
    assert decided(client, admin_headers, sms, AMERICAN).json()["address"] == "+14155550123"
    refused = decided(client, admin_headers, sms, SWEDISH)
    assert (refused.status_code, refused.json()["code"], refused.json()["field"]) == (422, "INVALID_ADDRESS", "address")

    # cleared again, the environment's region applies again
    client.patch("/api/v1/settings", json={"default_phone_region": None}, headers=admin_headers).raise_for_status()
    assert decided(client, admin_headers, sms, SWEDISH).json()["address"] == "+46701234567"


def test_without_either_a_national_number_is_refused(
    client: TestClient, make: Catalog, admin_headers: dict[str, str]
) -> None:
    sms = make.type("SMS offers", Channel.SMS)
    refused = decided(client, admin_headers, sms, SWEDISH)
    assert (refused.status_code, refused.json()["code"], refused.json()["field"]) == (422, "INVALID_ADDRESS", "address")
    assert decided(client, admin_headers, sms, "+46 70 123 45 67").json()["address"] == "+46701234567"


def test_an_unknown_region_in_the_environment_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="ASSENT_DEFAULT_PHONE_REGION"):
        Settings.from_env({"ASSENT_DEFAULT_PHONE_REGION": "XX"})
    assert Settings.from_env({"ASSENT_DEFAULT_PHONE_REGION": " se "}).default_phone_region == "SE"
