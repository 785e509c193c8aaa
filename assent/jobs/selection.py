"""Which addresses a bulk update is about, written once into `job_targets` (seq 1..n).

Three ways to say it: contact ids, a contact search (the filters of `GET /contacts`), or a
list of addresses. Lists go in with one bulk insert (COPY on PostgreSQL); a search with one
`INSERT … SELECT`, so a million matching contacts never pass through Python. A row that
names no usable address (not an address, an unknown contact, a contact without one on the
channel) becomes a target with an error, reported as that row's refusal, never a 422.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assent.domain.addresses import InvalidAddress
from assent.domain.model import Channel, Reason, Status
from assent.services import contact_search
from assent.services.contact_search import ContactFilter
from assent.services.errors import Invalid, Problem
from assent.services.state import Account
from assent.storage import tables as t
from assent.storage.db import Database, chunked

#: Row-level reasons besides the domain's INVALID_ADDRESS: a contact id that does not
#: exist (any more), and a contact with no address on the job's channel.
CONTACT_NOT_FOUND = "CONTACT_NOT_FOUND"
NO_ADDRESS = "NO_ADDRESS"

MAX_ROWS = 100_000


@dataclass(frozen=True)
class ContactSearch:
    q: str | None = None
    subscription_type_id: int | None = None
    status: Status | None = None
    business_unit_id: int | None = None


@dataclass(frozen=True)
class Selection:
    contact_ids: Sequence[int] | None = None
    contact_search: ContactSearch | None = None
    addresses: Sequence[str] | None = None

    def describe(self) -> dict[str, Any]:
        """What the job's params keep: the search itself, or only how long a list was."""
        if self.contact_search is not None:
            s = self.contact_search
            search = {"q": s.q, "subscription_type_id": s.subscription_type_id, "business_unit_id": s.business_unit_id}
            return {"kind": "contact_search", "search": {**search, "status": s.status.value if s.status else None}}
        if self.contact_ids is not None:
            return {"kind": "contact_ids", "count": len(self.contact_ids)}
        return {"kind": "addresses", "count": len(self.addresses or ())}


@dataclass(frozen=True)
class Prepared:
    """A selection checked and, for address lists, already normalized (outside any lock)."""

    selection: Selection
    rows: list[dict[str, Any]] | None = None


def prepare(account: Account, channel: Channel, selection: Selection) -> Prepared:
    given = [
        name
        for name, value in (
            ("contact_ids", selection.contact_ids),
            ("contact_search", selection.contact_search),
            ("addresses", selection.addresses),
        )
        if value is not None
    ]
    if len(given) != 1:
        raise Invalid(
            "selection",
            "give exactly one of contact_ids, contact_search or addresses"
            + (f" (got {', '.join(given)})" if given else ""),
            "SELECTION_REQUIRED",
        )
    if selection.addresses is not None:
        return Prepared(selection, [_address_row(account, channel, raw) for raw in selection.addresses])
    return Prepared(selection)


def _address_row(account: Account, channel: Channel, raw: str) -> dict[str, Any]:
    try:
        address = account.normalize_raw(channel, raw)
    except InvalidAddress as error:
        # Shown back as given, but storable: JSON may carry lone surrogates, no database can.
        shown = raw[:320].encode("utf-8", "replace").decode("utf-8").replace("\x00", "\ufffd")
        error_text = row_error(Reason.INVALID_ADDRESS, error.reason)
        return {"address": None, "display": shown, "contact_id": None, "error": error_text}
    return {"address": address.key, "display": address.display, "contact_id": None, "error": None}


def materialize(
    db: Database, conn: Connection, account: Account, job_id: str, channel: Channel, prepared: Prepared
) -> int:
    """Write the targets of `job_id`; returns how many."""
    selection = prepared.selection
    if prepared.rows is not None:
        rows = prepared.rows
    elif selection.contact_ids is not None:
        rows = _contact_rows(conn, channel, selection.contact_ids)
    else:
        assert selection.contact_search is not None
        return _insert_search(conn, account, job_id, channel, selection.contact_search)
    db.bulk_insert(
        conn, t.job_targets, [{"job_id": job_id, "seq": seq, **row} for seq, row in enumerate(rows, start=1)]
    )
    return len(rows)


def _contact_rows(conn: Connection, channel: Channel, ids: Sequence[int]) -> list[dict[str, Any]]:
    c = t.contacts
    key, display = (c.c.email_key, c.c.email) if channel is Channel.EMAIL else (c.c.phone, c.c.phone)
    found: dict[int, tuple[str | None, str | None]] = {}
    for part in chunked(sorted(set(ids)), 5000):
        for row in conn.execute(sa.select(c.c.id, key.label("key"), display.label("display")).where(c.c.id.in_(part))):
            found[row.id] = (row.key, row.display)
    word = "email address" if channel is Channel.EMAIL else "phone number"
    rows = []
    for contact_id in ids:
        if contact_id not in found:
            error: str | None = row_error(CONTACT_NOT_FOUND, f"contact {contact_id} does not exist")
            address = shown = None
        else:
            address, shown = found[contact_id]
            error = None if address else row_error(NO_ADDRESS, f"contact {contact_id} has no {word}")
        rows.append({"address": address, "display": shown, "contact_id": contact_id, "error": error})
    return rows


def search_condition(conn: Connection, account: Account, search: ContactSearch) -> sa.ColumnElement[bool]:
    """The contacts a selection's search names (the filters of `GET /contacts`); a bad filter
    is a 422 naming the field as the caller sent it (`contact_search.…`)."""
    wanted = ContactFilter(
        q=search.q,
        business_unit_id=search.business_unit_id,
        subscription_type_id=search.subscription_type_id,
        status=search.status,
    )
    try:
        return contact_search.condition(conn, account, wanted)
    except Problem as problem:
        for error in problem.errors:
            error.field = f"contact_search.{error.field}"
        raise


def _insert_search(conn: Connection, account: Account, job_id: str, channel: Channel, search: ContactSearch) -> int:
    """Every matching contact with an address on the channel, in id order, in one statement."""
    c = t.contacts
    key, display = (c.c.email_key, c.c.email) if channel is Channel.EMAIL else (c.c.phone, c.c.phone)
    where = search_condition(conn, account, search)
    matches = sa.select(
        sa.literal(job_id, t.job_targets.c.job_id.type),
        sa.func.row_number().over(order_by=c.c.id),
        key,
        display,
        c.c.id,
    ).where(where, key.is_not(None))
    conn.execute(t.job_targets.insert().from_select(["job_id", "seq", "address", "display", "contact_id"], matches))
    # rowcount of INSERT … SELECT is -1 through psycopg: count what went in.
    g = t.job_targets
    return int(conn.execute(sa.select(sa.func.count()).where(g.c.job_id == job_id)).scalar_one())


def row_error(code: str, text: str) -> str:
    return f"{code}: {text}"[:500]


def split_error(error: str | None) -> tuple[str, str]:
    code, _, text = (error or "").partition(": ")
    return code or Reason.INVALID_ADDRESS.value, text
