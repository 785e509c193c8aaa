"""Settings → Webhooks in the admin UI (plain HTTP): admins only; the secret shown once; a
test event that a real receiver verifies; rotate, disable, the delivery log with retry; the
mail queue."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest
from standardwebhooks import Webhook

from assent.config import Settings
from assent.storage.db import Database
from tests.admin.conftest import text_of
from tests.conftest import Catalog
from tests.webhooks.conftest import Receiver, dispatcher, receiver  # noqa: F401  (the fixture)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, webhook_allow_private=True)


def _secret(html: str) -> str:
    found = re.search(r'id="new-secret">(whsec_[^<]+)<', html)
    assert found, "no secret on the page"
    return found.group(1)


def test_it_manages_webhooks_for_admins_only(
    sign_in: Any, db: Database, make: Catalog, receiver: Receiver  # noqa: F811
) -> None:
    assert sign_in("editor").get("/admin/settings/webhooks").status_code == 403
    admin = sign_in("admin")
    page = admin.post("/admin/settings/webhooks", {"url": receiver.url(), "description": "CRM", "event_types": "*"})
    assert page.status_code == 200
    secret = _secret(page.text)
    [hook_id] = re.findall(r'/admin/settings/webhooks/(wh_[0-9a-f]+)"', page.text)
    assert secret not in admin.get("/admin/settings/webhooks").text  # shown once

    tested = admin.post(f"/admin/settings/webhooks/{hook_id}", {"action": "test"})
    assert "Test event delivered: HTTP 200" in text_of(tested.text)
    [probe] = receiver.deliveries
    assert Webhook(secret).verify(probe.body, probe.headers)["type"] == "webhook.test"

    rotated = admin.post(f"/admin/settings/webhooks/{hook_id}", {"action": "rotate"})
    assert _secret(rotated.text) != secret
    admin.post(f"/admin/settings/webhooks/{hook_id}", {"action": "types", "event_types": "unsubscribe_all.changed"})
    detail = text_of(admin.get(f"/admin/settings/webhooks/{hook_id}").text)
    assert "Enabled" in detail
    assert "test 1 TEST 200" in detail  # the log shows the test attempt
    admin.post(f"/admin/settings/webhooks/{hook_id}", {"action": "disable"})
    assert "Disabled by an administrator." in text_of(admin.get(f"/admin/settings/webhooks/{hook_id}").text)
    listing = text_of(admin.get("/admin/settings/webhooks").text)
    assert "unsubscribe_all.changed Disabled" in listing
    assert "Queued: 0 · Failed: 0" in listing
