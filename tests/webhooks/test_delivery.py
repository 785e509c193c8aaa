"""Delivery to a real receiver on loopback, verified with the standardwebhooks library."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from standardwebhooks import Webhook, WebhookVerificationError

from assent.storage.db import Database
from tests.conftest import Catalog
from tests.webhooks.conftest import Clock, Receiver, create_hook, dispatcher, feed, set_status

ALICE = "alice@example.com"


def test_it_delivers_every_change_signed_with_the_event_as_the_feed_shows_it(
    hooks: TestClient, db: Database, make: Catalog, admin_headers: dict[str, str], receiver: Receiver
) -> None:
    newsletter = make.type("Newsletter")
    hook = create_hook(hooks, admin_headers, receiver.url(), event_types=["*"])
    assert hook["secret"].startswith("whsec_")
    set_status(hooks, admin_headers, ALICE, newsletter, "SUBSCRIBED")
    hooks.put(f"/api/v1/subscribers/EMAIL/{ALICE}/unsubscribe-all", params={"business_unit_id": 0},
              headers=admin_headers)

    dispatcher(db).run_until_idle()

    events = feed(hooks, admin_headers)
    assert len(receiver.deliveries) == len(events) == 2
    for delivery, event in zip(receiver.deliveries, events, strict=True):
        payload = Webhook(hook["secret"]).verify(delivery.body, delivery.headers)
        assert delivery.id == str(event["id"])
        assert payload["data"] == event
        assert payload["timestamp"] == event["at"]
        assert delivery.headers["content-type"] == "application/json"
    assert [d.payload["type"] for d in receiver.deliveries] == ["subscription.changed", "unsubscribe_all.changed"]
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 43).verify(receiver.deliveries[0].body, receiver.deliveries[0].headers)


def test_it_sends_only_the_types_an_endpoint_asked_for(
    hooks: TestClient, db: Database, make: Catalog, admin_headers: dict[str, str], receiver: Receiver
) -> None:
    newsletter = make.type("Newsletter")
    create_hook(hooks, admin_headers, receiver.url("/wide"), event_types=["unsubscribe_all.changed"])
    set_status(hooks, admin_headers, ALICE, newsletter, "SUBSCRIBED")
    hooks.put(f"/api/v1/subscribers/EMAIL/{ALICE}/unsubscribe-all", params={"business_unit_id": 0},
              headers=admin_headers)
    dispatcher(db).run_until_idle()
    assert [(d.path, d.payload["type"]) for d in receiver.deliveries] == [("/wide", "unsubscribe_all.changed")]


def test_it_retries_after_a_500_with_the_same_webhook_id(
    hooks: TestClient, db: Database, make: Catalog, admin_headers: dict[str, str], receiver: Receiver
) -> None:
    newsletter = make.type("Newsletter")
    hook = create_hook(hooks, admin_headers, receiver.url())
    receiver.script.extend([500])
    set_status(hooks, admin_headers, ALICE, newsletter, "SUBSCRIBED")
    clock = Clock()
    worker = dispatcher(db, clock)
    worker.run_until_idle()
    assert len(receiver.deliveries) == 1  # failed; the retry waits for its time
    log = hooks.get(f"/api/v1/webhooks/{hook['id']}/deliveries", headers=admin_headers).json()["results"]
    [failed] = log
    assert (failed["attempt"], failed["status_code"], failed["outcome"]) == (1, 500, "RETRY")
    wait = dt.datetime.fromisoformat(failed["next_attempt_at"]) - dt.datetime.fromisoformat(failed["at"])
    assert dt.timedelta(seconds=5) <= wait <= dt.timedelta(seconds=6.1)  # the base, plus at most 20 % jitter

    clock.jump(dt.timedelta(seconds=7))
    worker.run_until_idle()
    first, second = receiver.deliveries
    assert first.id == second.id
    Webhook(hook["secret"]).verify(second.body, second.headers)
    log = hooks.get(f"/api/v1/webhooks/{hook['id']}/deliveries", headers=admin_headers).json()["results"]
    assert [(a["attempt"], a["status_code"], a["outcome"]) for a in log] == [(2, 200, "DELIVERED"), (1, 500, "RETRY")]
