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


def test_it_gives_up_after_three_days_and_disables_the_endpoint(
    hooks: TestClient, db: Database, make: Catalog, admin_headers: dict[str, str], receiver: Receiver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    newsletter = make.type("Newsletter")
    hook = create_hook(hooks, admin_headers, receiver.url())
    receiver.default = 503
    set_status(hooks, admin_headers, ALICE, newsletter, "SUBSCRIBED")
    set_status(hooks, admin_headers, ALICE, newsletter, "UNSUBSCRIBED")  # waits behind the first
    clock = Clock()
    worker = dispatcher(db, clock)
    worker.run_until_idle()
    for _ in range(80):  # retries for three days, an hour apart at most
        clock.jump(dt.timedelta(hours=1, minutes=15))
        worker.run_until_idle()
    first_event = receiver.deliveries[0].id
    assert {d.id for d in receiver.deliveries} == {first_event}  # the second never overtook the first
    log = hooks.get(f"/api/v1/webhooks/{hook['id']}/deliveries", headers=admin_headers,
                    params={"event_id": first_event}).json()["results"]
    assert log[0]["outcome"] == "GAVE_UP"
    assert log[0]["next_attempt_at"] is None
    assert all(a["outcome"] == "RETRY" for a in log[1:])
    gaps = [dt.datetime.fromisoformat(a["next_attempt_at"]) - dt.datetime.fromisoformat(a["at"]) for a in log[1:]]
    assert max(gaps) <= dt.timedelta(hours=1, seconds=1)  # an hour after the attempt ended, at most
    assert any("gave up on event" in r.getMessage() for r in caplog.records)
    endpoint = hooks.get(f"/api/v1/webhooks/{hook['id']}", headers=admin_headers).json()
    assert endpoint["enabled"] is False
    assert "Disabled automatically" in endpoint["disabled_reason"]


def test_it_signs_with_both_secrets_for_a_day_after_a_rotation(
    hooks: TestClient, db: Database, make: Catalog, admin_headers: dict[str, str], receiver: Receiver
) -> None:
    newsletter = make.type("Newsletter")
    hook = create_hook(hooks, admin_headers, receiver.url())
    rotated = hooks.post(f"/api/v1/webhooks/{hook['id']}/rotate-secret", headers=admin_headers).json()
    assert rotated["secret"] != hook["secret"]
    set_status(hooks, admin_headers, ALICE, newsletter, "SUBSCRIBED")
    dispatcher(db).run_until_idle()
    [delivery] = receiver.deliveries
    assert len(delivery.headers["webhook-signature"].split(" ")) == 2
    Webhook(hook["secret"]).verify(delivery.body, delivery.headers)
    Webhook(rotated["secret"]).verify(delivery.body, delivery.headers)
    assert "secret" not in hooks.get(f"/api/v1/webhooks/{hook['id']}", headers=admin_headers).json()


def test_it_refuses_private_targets_unless_allowed(
    client: TestClient, db: Database, make: Catalog, admin_headers: dict[str, str], receiver: Receiver
) -> None:
    refused = client.post("/api/v1/webhooks", json={"url": receiver.url()}, headers=admin_headers)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "url"
    # A host name is judged after DNS, at each attempt: localhost resolves to loopback.
    hook = create_hook(client, admin_headers, receiver.url().replace("127.0.0.1", "localhost"))
    set_status(client, admin_headers, ALICE, make.type("Newsletter"), "SUBSCRIBED")
    from assent.jobs.dispatcher import Dispatcher

    Dispatcher(db, allow_private=False, poll=0.05).run_until_idle()
    assert receiver.deliveries == []
    [attempt] = client.get(f"/api/v1/webhooks/{hook['id']}/deliveries", headers=admin_headers).json()["results"]
    assert attempt["outcome"] == "RETRY"
    assert attempt["error"].startswith("refused: localhost: 127.0.0.1 is a loopback address")


def test_it_sends_a_test_event_and_delivers_again_on_request(
    hooks: TestClient, db: Database, make: Catalog, admin_headers: dict[str, str], receiver: Receiver
) -> None:
    hook = create_hook(hooks, admin_headers, receiver.url(), description="CRM")
    tested = hooks.post(f"/api/v1/webhooks/{hook['id']}/test", headers=admin_headers).json()
    assert (tested["delivered"], tested["status_code"]) == (True, 200)
    [probe] = receiver.deliveries
    assert Webhook(hook["secret"]).verify(probe.body, probe.headers)["type"] == "webhook.test"

    set_status(hooks, admin_headers, ALICE, make.type("Newsletter"), "SUBSCRIBED")
    dispatcher(db).run_until_idle()
    event_id = receiver.deliveries[1].id
    again = hooks.post(f"/api/v1/webhooks/{hook['id']}/deliveries/{event_id}/retry", headers=admin_headers)
    assert again.status_code == 202, again.text
    assert again.json()["state"] == "PENDING"
    dispatcher(db).run_until_idle()
    assert receiver.ids()[1:] == [event_id, event_id]
    missing = hooks.post(f"/api/v1/webhooks/{hook['id']}/deliveries/999999/retry", headers=admin_headers)
    assert missing.status_code == 404


def test_it_changes_disables_and_deletes_endpoints(
    hooks: TestClient, db: Database, make: Catalog, admin_headers: dict[str, str], write_headers: dict[str, str],
    receiver: Receiver,
) -> None:
    assert hooks.post("/api/v1/webhooks", json={"url": receiver.url()}, headers=write_headers).status_code == 403
    bad = hooks.post("/api/v1/webhooks", json={"url": receiver.url(), "event_types": ["nope"]}, headers=admin_headers)
    assert (bad.status_code, bad.json()["errors"][0]["field"]) == (422, "event_types[0]")
    hook = create_hook(hooks, admin_headers, receiver.url())
    assert hook["event_types"] == ["*"]
    assert hook["enabled"] is True
    patched = hooks.patch(f"/api/v1/webhooks/{hook['id']}", json={"enabled": False}, headers=admin_headers).json()
    assert patched["enabled"] is False
    set_status(hooks, admin_headers, ALICE, make.type("Newsletter"), "SUBSCRIBED")
    dispatcher(db).run_until_idle()
    assert receiver.deliveries == []  # a disabled endpoint keeps its place …
    hooks.patch(f"/api/v1/webhooks/{hook['id']}", json={"enabled": True}, headers=admin_headers)
    dispatcher(db).run_until_idle()
    assert len(receiver.deliveries) == 1  # … and gets what it missed once enabled again
    listed = hooks.get("/api/v1/webhooks", headers=admin_headers).json()["results"]
    assert [h["id"] for h in listed] == [hook["id"]]
    assert hooks.delete(f"/api/v1/webhooks/{hook['id']}", headers=admin_headers).status_code == 204
    assert hooks.get(f"/api/v1/webhooks/{hook['id']}", headers=admin_headers).status_code == 404


def _metrics(client: TestClient) -> str:
    """/metrics as a scraper on the same host reads it (no ASSENT_METRICS_TOKEN: loopback only)."""
    return TestClient(client.app, client=("127.0.0.1", 50000)).get("/metrics").text


def test_metrics_show_the_backlog_deliveries_and_failures(
    hooks: TestClient, db: Database, make: Catalog, admin_headers: dict[str, str], receiver: Receiver
) -> None:
    hook = create_hook(hooks, admin_headers, receiver.url())
    receiver.script.extend([500])
    set_status(hooks, admin_headers, ALICE, make.type("Newsletter"), "SUBSCRIBED")
    clock = Clock()
    dispatcher(db, clock).run_until_idle()
    metrics = _metrics(hooks)
    assert f'assent_webhook_deliveries{{endpoint="{hook["id"]}",state="PENDING"}} 1' in metrics
    assert f'assent_webhook_failed_attempts_total{{endpoint="{hook["id"]}"}} 1' in metrics
    line = next(x for x in metrics.splitlines() if x.startswith(f'assent_webhook_backlog_seconds{{endpoint="{hook["id"]}"'))
    assert float(line.split()[-1]) > 0  # the event is waiting for its retry
    clock.jump(dt.timedelta(minutes=3))
    dispatcher(db, clock).run_until_idle()
    metrics = _metrics(hooks)
    assert f'assent_webhook_deliveries{{endpoint="{hook["id"]}",state="DELIVERED"}} 1' in metrics
    assert f'assent_webhook_backlog_seconds{{endpoint="{hook["id"]}"}} 0.000' in metrics
