"""A webhook's `data` is built straight from the ledger row (services/events.public_events),
without validating through `EventOut`: it must stay exactly what the model would give."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi.testclient import TestClient

from assent.services.events import EventOut, event_dict, public_events
from assent.storage import tables as t
from assent.storage.db import Database
from tests.conftest import Catalog
from tests.webhooks.conftest import feed, set_status


def test_it_builds_each_event_exactly_as_the_model_shows_it(
    hooks: TestClient, db: Database, make: Catalog, admin_headers: dict[str, str]
) -> None:
    newsletter = make.type("Newsletter")
    set_status(hooks, admin_headers, "zoe@bücher.example", newsletter, "SUBSCRIBED")  # not ASCII
    set_status(hooks, admin_headers, "bob@example.com", newsletter, "SUBSCRIBED")
    set_status(hooks, admin_headers, "bob@example.com", newsletter, "UNSUBSCRIBED")
    hooks.put(
        "/api/v1/subscribers/EMAIL/bob@example.com/unsubscribe-all",
        params={"business_unit_id": 0},
        headers=admin_headers,
    )
    erased = hooks.post(
        "/api/v1/erasures", json={"channel": "EMAIL", "address": "bob@example.com"}, headers=admin_headers
    )
    assert erased.status_code in (200, 201, 202), erased.text
    e = t.ledger_events
    with db.read() as conn:
        rows = conn.execute(sa.select(e)).all()
        built = public_events(conn, [row.id for row in rows])
    assert len(rows) >= 5
    assert any(row.redacted for row in rows)
    for row in rows:
        assert built[row.id] == EventOut.model_validate(event_dict(row._mapping)).model_dump(mode="json")
        assert list(built[row.id]) == list(EventOut.model_fields)  # the same key order, too
    assert list(built.values()) == [built[event["id"]] for event in feed(hooks, admin_headers)]
