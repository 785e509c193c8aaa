"""R24: the database itself refuses to rewrite history, on both backends."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from assent.storage.db import Database
from tests.conftest import Catalog


def test_the_database_refuses_update_and_delete_on_the_ledger(
    client: TestClient, make: Catalog, write_headers: dict[str, str], db: Database
) -> None:
    newsletter = make.type()
    client.post(
        "/api/v1/subscribers/EMAIL/carol@example.com/statuses",
        json={"changes": [{"subscription_type_id": newsletter, "status": "SUBSCRIBED"}]},
        headers=write_headers,
    )
    for statement in (
        "UPDATE ledger_events SET new_status = 'UNSUBSCRIBED'",
        "UPDATE ledger_events SET address = NULL",  # a half redaction is not a redaction
        "DELETE FROM ledger_events",
    ):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), db.write() as conn:
            conn.execute(sa.text(statement))
    with db.read() as conn:
        row = conn.execute(sa.text("SELECT new_status, address FROM ledger_events")).one()
    assert tuple(row) == ("SUBSCRIBED", "carol@example.com")
