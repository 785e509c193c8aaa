"""Changing an unconfirmed import's mapping (the admin's editable mapping): the stored file is
checked and predicted again under the same id, without sending the file again."""

from __future__ import annotations

import io

import pytest

from assent.actions.imports import ImportRequest, confirm_import, create_import, remap_import
from assent.domain.imports import ImportKind
from assent.domain.model import Evidence
from assent.services import imports as reading
from assent.services.errors import Conflict, Problem
from assent.storage.db import Database
from tests.conftest import Catalog, count_rows


def test_it_predicts_again_with_the_new_mapping(db: Database, make: Catalog) -> None:
    newsletter = make.type("Newsletter")
    content = "email,news\nalice@example.com,opt out\nbob@example.com,maybe\nnot an address,opt out\n"
    created = create_import(
        db, io.BytesIO(content.encode()), ImportRequest(kind=ImportKind.CONTACTS), actor_id="user:1"
    )
    assert created["mapping"] == {"email": "email", "news": "property:news"}
    assert created["predicted"]["by_reason"] == {"INVALID_ADDRESS": 1}

    changed = remap_import(db, created["id"], {"news": f"subscription:{newsletter}"}, Evidence(), actor_id="user:1")
    assert changed["id"] == created["id"]
    assert changed["mapping"] == {"email": "email", "news": f"subscription:{newsletter}"}
    assert changed["row_count"] == 3
    assert changed["sample"] == created["sample"]
    assert changed["predicted"]["by_reason"] == {"INVALID_ADDRESS": 1, "UNKNOWN_STATUS": 1}
    with db.read() as conn:
        assert reading.view(conn, created["id"])["status"] == "AWAITING_CONFIRMATION"
    report = "".join(reading.error_csv(db, created["id"])).splitlines()
    assert report[1:] == [
        '3,news,maybe,"UNKNOWN_STATUS: not a status: use SUBSCRIBED, UNSUBSCRIBED, NOT_SPECIFIED '
        '(or opt in, opt out, not opted)"',
        "4,email,not an address,INVALID_ADDRESS: not a valid address",
    ]
    assert count_rows(db, "ledger_events") == 0


def test_a_wrong_mapping_changes_nothing_and_a_confirmed_import_cannot_be_remapped(db: Database) -> None:
    created = create_import(
        db, io.BytesIO(b"email\nalice@example.com\n"), ImportRequest(kind=ImportKind.OPT_OUTS), actor_id=None
    )
    with pytest.raises(Problem) as refused:
        remap_import(db, created["id"], {"email": "first_name"}, Evidence(), actor_id=None)
    assert refused.value.errors[0].field == "mapping.email"
    with db.read() as conn:
        assert reading.view(conn, created["id"])["mapping"] == {"email": "email"}
    confirm_import(db, created["id"], 1, actor_id=None)
    with pytest.raises(Conflict):
        remap_import(db, created["id"], {"email": "email"}, Evidence(), actor_id=None)
