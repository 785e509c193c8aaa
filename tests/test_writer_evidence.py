"""`Writer` takes evidence per address row (issue 7 point 4); one evidence for all stays the
common case."""

from __future__ import annotations

import sqlalchemy as sa

from assent.domain.model import Actor, Channel, Evidence, LegalBasis, Outcome, Source, Status
from assent.services.changes import Writer
from assent.services.state import load_account, load_types
from assent.storage import tables as t
from assent.storage.db import Database
from tests.conftest import Catalog

CLIENT = Evidence(LegalBasis.LEGITIMATE_INTEREST_CLIENT, "bought in March", LegalBasis.PERFORMANCE_OF_CONTRACT)
LEAD = Evidence(LegalBasis.LEGITIMATE_INTEREST_PQL, "asked for a quote", LegalBasis.PROCESS_AND_STORE)


def _run(db: Database, type_id: int, evidence: list[Evidence | None] | None, default: Evidence) -> list[Outcome]:
    with db.write() as conn:
        account = load_account(conn)
        st = load_types(conn, [type_id])[type_id]
        rows = [
            (account.normalize(Channel.EMAIL, raw), [(st, Status.SUBSCRIBED)])
            for raw in ("a@example.com", "b@example.com", "c@example.com")
        ]
        results = Writer(db, conn, account, Actor(Source.IMPORT, "import:1"), default).change_statuses(
            Channel.EMAIL, rows, evidence
        )
    return [r.outcome for [r] in results]


def test_each_row_records_its_own_legal_basis_and_a_missing_one_falls_back(db: Database, make: Catalog) -> None:
    type_id = make.type()
    with db.write() as conn:
        conn.execute(sa.update(t.account_settings).values(data_privacy_mode=True))
    # b's row carries none of its own: the writer's default (here: nothing) applies, and data
    # privacy mode refuses it for want of a legal basis — per row, not for the whole call.
    outcomes = _run(db, type_id, [CLIENT, None, LEAD], Evidence())
    assert outcomes == [Outcome.CHANGED, Outcome.REFUSED, Outcome.CHANGED]
    s, a, e = t.subscription_statuses, t.addresses, t.ledger_events
    with db.read() as conn:
        stored = conn.execute(sa.select(s.c.address, s.c.legal_basis, s.c.legal_basis_explanation).order_by(s.c.address))
        processing = conn.execute(
            sa.select(a.c.address, a.c.processing_legal_basis, a.c.processing_legal_basis_explanation)
            .order_by(a.c.address)
        ).all()
        events = conn.execute(sa.select(e.c.address, e.c.legal_basis, e.c.processing_legal_basis).order_by(e.c.id))
        assert stored.all() == [
            ("a@example.com", "LEGITIMATE_INTEREST_CLIENT", "bought in March"),
            ("c@example.com", "LEGITIMATE_INTEREST_PQL", "asked for a quote"),
        ]
        assert events.all() == [
            ("a@example.com", "LEGITIMATE_INTEREST_CLIENT", "PERFORMANCE_OF_CONTRACT"),
            ("c@example.com", "LEGITIMATE_INTEREST_PQL", "PROCESS_AND_STORE"),
        ]
    assert processing == [
        ("a@example.com", "PERFORMANCE_OF_CONTRACT", "bought in March"),
        ("b@example.com", None, None),
        ("c@example.com", "PROCESS_AND_STORE", "asked for a quote"),
    ]


def test_one_evidence_for_all_is_the_default(db: Database, make: Catalog) -> None:
    type_id = make.type()
    assert _run(db, type_id, None, CLIENT) == [Outcome.CHANGED] * 3
    with db.read() as conn:
        bases = conn.execute(sa.select(t.subscription_statuses.c.legal_basis)).scalars().all()
    assert bases == ["LEGITIMATE_INTEREST_CLIENT"] * 3
