"""The contact record's actions (issue 7 points 1 and 8, issue 8's test gaps): each click
is one write transaction and at most one read, records the address as the contact holds it
(R1: the local part as given), and the unsubscribe-from-all buttons work end to end."""

from __future__ import annotations

import traceback
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from assent.domain.model import Source
from assent.storage import tables as t
from assent.storage.db import Database
from tests.admin.test_screens import act, contact
from tests.conftest import Catalog


@contextmanager
def transactions(db: Database) -> Iterator[Counter[str]]:
    """Transactions begun while the block runs, as "read"/"write", leaving out the admin's
    own session checks (admin/security.py), which every page pays."""
    seen: Counter[str] = Counter()

    def begun(conn: sa.Connection) -> None:
        if any("admin/security.py" in frame.filename for frame in traceback.extract_stack()):
            return
        seen["write" if conn.get_execution_options().get("assent_write") else "read"] += 1

    sa.event.listen(db.engine, "begin", begun)
    try:
        yield seen
    finally:
        sa.event.remove(db.engine, "begin", begun)


def _events(db: Database) -> list[tuple[str, str | None, str, str]]:
    e = t.ledger_events
    with db.read() as conn:
        rows = conn.execute(sa.select(e.c.kind, e.c.address, e.c.new_status, e.c.actor_kind).order_by(e.c.id))
        return [tuple(r) for r in rows]  # type: ignore[misc]


def test_a_change_records_the_address_as_the_contact_holds_it(sign_in: Any, make: Catalog, db: Database) -> None:
    newsletter = make.type("Newsletter")
    pat = contact(db, "Pat.Doe@example.com")
    editor = sign_in("editor")
    form = {"channel": "EMAIL", "subscription_type_id": newsletter, "status": "SUBSCRIBED"}
    with transactions(db) as seen:
        done = editor.post(f"/admin/contacts/{pat}/statuses", form)
    assert done.status_code == 303
    assert _events(db) == [("STATUS", "Pat.Doe@example.com", "SUBSCRIBED", "USER")]  # not pat.doe@…
    assert seen == Counter({"read": 1, "write": 1})


def test_unsubscribe_from_all_and_lifting_it_from_the_record(sign_in: Any, make: Catalog, db: Database) -> None:
    make.type("Newsletter")
    pat = contact(db, "Pat.Doe@example.com")
    editor = sign_in("editor")
    with transactions(db) as seen:
        done = editor.post(f"/admin/contacts/{pat}/unsubscribe-all", {"channel": "EMAIL", "business_unit_id": 0})
    assert done.status_code == 303
    assert seen == Counter({"read": 1, "write": 1})
    record = editor.get(f"/admin/contacts/{pat}")
    assert "Unsubscribed from all email" in record.text
    assert "Remove this opt-out" in record.text  # a user set it: a user may lift it, with evidence
    lift = {"channel": "EMAIL", "business_unit_id": 0}
    missing = editor.post(f"/admin/contacts/{pat}/resubscribe-all", lift)
    assert missing.status_code == 422
    with transactions(db) as seen:
        lifted = editor.post(f"/admin/contacts/{pat}/resubscribe-all", {**lift, "legal_basis_explanation": "Asked us"})
    assert lifted.status_code == 303
    assert seen == Counter({"read": 1, "write": 1})
    with db.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.wide_opt_outs)).scalar_one() == 0
    assert _events(db) == [
        ("WIDE_OPT_OUT", "Pat.Doe@example.com", "UNSUBSCRIBED", "USER"),
        ("WIDE_OPT_OUT", "Pat.Doe@example.com", "NOT_SPECIFIED", "USER"),
    ]


def test_the_record_offers_no_lift_of_the_persons_own_wide_opt_out(
    sign_in: Any, make: Catalog, db: Database
) -> None:
    make.type("Newsletter")
    pat = contact(db, "pat@example.com")
    act(db, Source.ONE_CLICK, "pat@example.com", None)
    editor = sign_in("editor")
    record = editor.get(f"/admin/contacts/{pat}").text
    assert "Only they can undo it: send them a preference link." in record
    assert "Remove this opt-out" not in record
    refused = editor.post(
        f"/admin/contacts/{pat}/resubscribe-all",
        {"channel": "EMAIL", "business_unit_id": 0, "legal_basis_explanation": "Asked us"},
    )
    assert refused.status_code == 422
    assert "only they can undo it" in refused.text
