"""Contacts: optional CRM-style records. State never belongs to them, only to their
addresses (R2): deleting a contact leaves every status, opt-out and event in place, and a
new contact with the same address sees that state again."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assent.domain.addresses import Address
from assent.domain.model import Channel, EventKind, EventState, Status
from assent.domain.workflows import ContactChange
from assent.services import contact_search, workflows
from assent.services.contact_search import ContactFilter
from assent.services.errors import Conflict, FieldError, NotFound
from assent.services.state import Account
from assent.services.subscribers import opted_out_properties
from assent.storage import tables as t

#: Columns a caller may set directly; email and phone go through normalization (R1).
PLAIN_FIELDS = ("first_name", "last_name", "company")
PHONE_CHANNELS = (Channel.SMS, Channel.WHATSAPP)


def create_contact(conn: Connection, account: Account, values: dict[str, Any]) -> dict[str, Any]:
    row = {name: values.get(name) for name in PLAIN_FIELDS}
    row.update(_addresses(account, values))
    row["properties"] = {k: v for k, v in (values.get("properties") or {}).items() if v is not None}
    _require_unique(conn, row, None)
    now = t.now()
    contact_id = conn.execute(
        t.contacts.insert().values(**row, created_at=now, updated_at=now).returning(t.contacts.c.id)
    ).scalar_one()
    created = contact_row(conn, contact_id)
    workflows.enroll_on_changes(conn, [ContactChange(contact_id, None, created)])  # same transaction (R23)
    return get_contact(conn, contact_id)


def update_contact(conn: Connection, account: Account, contact_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    """PATCH: only the given fields change; `null` clears one. `properties` merge key by
    key, and a key set to `null` is removed."""
    current = contact_row(conn, contact_id)
    row: dict[str, Any] = {name: changes[name] for name in PLAIN_FIELDS if name in changes}
    row.update(_addresses(account, changes))
    if "properties" in changes:
        merged = {**current["properties"], **(changes["properties"] or {})}
        row["properties"] = {k: v for k, v in merged.items() if v is not None}
    _require_unique(conn, row, contact_id)
    if row:
        c = t.contacts
        conn.execute(sa.update(c).where(c.c.id == contact_id).values(**row, updated_at=t.now()))
        changed = ContactChange(contact_id, current, contact_row(conn, contact_id))
        workflows.enroll_on_changes(conn, [changed])  # same transaction (R23)
    return get_contact(conn, contact_id)


def delete_contact(conn: Connection, contact_id: int) -> None:
    """R2: the record goes; its addresses' statuses, opt-outs and history stay."""
    c = t.contacts
    if conn.execute(sa.delete(c).where(c.c.id == contact_id)).rowcount == 0:
        raise NotFound("Contact", contact_id)


def address_taken(other: int | None) -> Conflict:
    detail = f"Contact {other} already has this email address." if other else "Another contact has this email."
    return Conflict(
        "CONTACT_EXISTS",
        detail + " An email address belongs to one contact: update that one instead.",
        errors=[FieldError("email", "another contact has this email address", "CONTACT_EXISTS")],
        extra={"contact_id": other} if other else None,
    )


def _require_unique(conn: Connection, row: dict[str, Any], contact_id: int | None) -> None:
    """One contact per email address (the unique index of migration 0008); a phone may be
    shared, as in HubSpot."""
    c = t.contacts
    if row.get("email_key") is None:
        return
    query = sa.select(c.c.id).where(c.c.email_key == row["email_key"])
    if contact_id is not None:
        query = query.where(c.c.id != contact_id)
    other = conn.execute(query.limit(1)).scalar()
    if other is not None:
        raise address_taken(int(other))


def _addresses(account: Account, values: dict[str, Any]) -> dict[str, Any]:
    """Normalized email/phone columns for the keys present in `values` (a 422 names the field)."""
    row: dict[str, Any] = {}
    if "email" in values:
        email = values["email"]
        address = account.normalize(Channel.EMAIL, email, field="email") if email else None
        row["email"], row["email_key"] = (address.display, address.key) if address else (None, None)
    if "phone" in values:
        phone = values["phone"]
        row["phone"] = account.normalize(Channel.SMS, phone, field="phone").key if phone else None
    return row


def contact_for(conn: Connection, account: Account, address: Address) -> tuple[int, bool]:
    """The contact of an address (its email, or for SMS/WhatsApp its phone), created when
    there is none: (contact id, created). Workflows triggered by the creation are enrolled."""
    c = t.contacts
    column = c.c.email_key if address.channel is Channel.EMAIL else c.c.phone
    found = conn.execute(sa.select(c.c.id).where(column == address.key).order_by(c.c.id).limit(1)).scalar()
    if found is not None:
        return int(found), False
    field = "email" if address.channel is Channel.EMAIL else "phone"
    created = create_contact(conn, account, {field: address.display})
    return int(created["id"]), True


def contact_row(conn: Connection, contact_id: int) -> dict[str, Any]:
    found = conn.execute(sa.select(t.contacts).where(t.contacts.c.id == contact_id)).first()
    if found is None:
        raise NotFound("Contact", contact_id)
    return dict(found._mapping)


def get_contact(conn: Connection, contact_id: int) -> dict[str, Any]:
    [view] = contact_views(conn, [contact_row(conn, contact_id)])
    return view


def contact_addresses(contact: dict[str, Any]) -> list[Address]:
    """Where a contact's state lives: its email on EMAIL, its phone on SMS and WhatsApp."""
    found = []
    if contact.get("email_key"):
        found.append(Address(Channel.EMAIL, contact["email_key"], contact["email"]))
    if contact.get("phone"):
        found.extend(Address(channel, contact["phone"], contact["phone"]) for channel in PHONE_CHANNELS)
    return found


def search_contacts(
    conn: Connection,
    account: Account,
    search: ContactFilter,
    after: int | None,
    limit: int,
    *,
    with_state: bool = False,
) -> dict[str, Any]:
    """One page in id order after the id `after`: `{"results", "next"}`; `next` is null on
    the last page. `with_state` adds each contact's `state` (see `contact_views`)."""
    ids = list(conn.execute(contact_search.page_query(conn, account, search, after, limit)).scalars())
    more = len(ids) > limit
    ids = ids[:limit]
    c = t.contacts
    rows = [dict(r._mapping) for r in conn.execute(sa.select(c).where(c.c.id.in_(ids)).order_by(c.c.id))] if ids else []
    views = contact_views(conn, rows, with_state=with_state)
    return {"results": views, "next": str(ids[-1]) if more else None}


def contact_views(
    conn: Connection, rows: Sequence[dict[str, Any]], *, with_state: bool = False
) -> list[dict[str, Any]]:
    """Contacts as the API shows them, with R26's "Opted out of …" properties, computed
    for a whole page in three queries (plus one per distinct opt-out pattern on it).

    `with_state` (the admin's index) adds `state`: the channels on which the contact's
    address is undeliverable (a hard bounce, R11) and the (channel, business unit) pairs it
    is unsubscribed from all of — one query more for the whole page."""
    addresses = {row["id"]: contact_addresses(row) for row in rows}
    keys = {a.key for found in addresses.values() for a in found}
    types_by_channel = _types_by_channel(conn) if keys else {}
    unsubscribed, wides = _opt_outs(conn, keys)
    bounced = _undeliverable(conn, keys) if with_state else set()
    cache: dict[tuple[Channel, frozenset[int], frozenset[int]], dict[str, bool]] = {}
    views = []
    for row in rows:
        props: dict[str, bool] = {}
        for address in addresses[row["id"]]:
            channel = address.channel
            pattern = (
                channel,
                frozenset(unsubscribed.get((address.key, channel), ())),
                frozenset(wides.get((address.key, channel), ())),
            )
            if pattern not in cache:
                statuses = [
                    {
                        "name": name,
                        "business_unit_id": bu_id,
                        "is_active": active,
                        "status": Status.UNSUBSCRIBED.value if type_id in pattern[1] else Status.NOT_SPECIFIED.value,
                    }
                    for type_id, bu_id, name, active in types_by_channel.get(channel, [])
                ]
                cache[pattern] = opted_out_properties(
                    conn, channel, statuses, [{"business_unit_id": bu} for bu in sorted(pattern[2])]
                )
            props.update(cache[pattern])
        view = _public(row, props)
        if with_state:
            found = addresses[row["id"]]
            view["state"] = {
                "undeliverable": [a.channel.value for a in found if (a.key, a.channel) in bounced],
                "unsubscribed_all": [
                    (a.channel.value, bu) for a in found for bu in sorted(wides.get((a.key, a.channel), ()))
                ],
            }
        views.append(view)
    return views


def _undeliverable(conn: Connection, keys: Iterable[str]) -> set[tuple[str, Channel]]:
    """The (address, channel) pairs of `keys` marked undeliverable."""
    keys = sorted(set(keys))
    if not keys:
        return set()
    a = t.addresses
    query = sa.select(a.c.address, a.c.channel).where(a.c.address.in_(keys), a.c.undeliverable)
    return {(row.address, Channel(row.channel)) for row in conn.execute(query)}


def address_facts(conn: Connection, account: Account, contact: dict[str, Any]) -> list[dict[str, Any]]:
    """What the record's properties show per address of a contact (a row of `contacts`):
    whether it is undeliverable and the ledger event that marked it so (its date, its
    diagnostic), and the legal basis to process the person's data recorded on it. Two
    queries, plus one per undeliverable address."""
    found = contact_addresses(contact)
    if not found:
        return []
    a, e = t.addresses, t.ledger_events
    rows = {
        (r.address, Channel(r.channel)): r
        for r in conn.execute(
            sa.select(
                a.c.address,
                a.c.channel,
                a.c.undeliverable,
                a.c.undeliverable_reason,
                a.c.undeliverable_at,
                a.c.processing_legal_basis,
                a.c.processing_legal_basis_explanation,
            ).where(a.c.address.in_(sorted({x.key for x in found})))
        )
    }
    facts = []
    for address in found:
        row = rows.get((address.key, address.channel))
        undeliverable = bool(row.undeliverable) if row is not None else False
        event = None
        if undeliverable:
            marked = conn.execute(
                sa.select(e.c.id, e.c.at, e.c.legal_basis_explanation, e.c.source)
                .where(
                    e.c.address_hash == account.address_hash(address.channel, address.key),
                    e.c.kind == EventKind.UNDELIVERABLE.value,
                    e.c.new_status == EventState.UNDELIVERABLE.value,
                )
                .order_by(e.c.id.desc())
                .limit(1)
            ).first()
            event = dict(marked._mapping) if marked is not None else None
        facts.append(
            {
                "channel": address.channel.value,
                "address": address.display,
                "undeliverable": undeliverable,
                "undeliverable_reason": row.undeliverable_reason if row is not None else None,
                "undeliverable_at": row.undeliverable_at if row is not None else None,
                "undeliverable_event": event,
                "processing_legal_basis": row.processing_legal_basis if row is not None else None,
                "processing_legal_basis_explanation": row.processing_legal_basis_explanation if row else None,
            }
        )
    return facts


def _public(row: dict[str, Any], props: dict[str, bool]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "email": row["email"],
        "phone": row["phone"],
        "first_name": row["first_name"],
        "last_name": row["last_name"],
        "company": row["company"],
        "properties": row["properties"] or {},
        "subscription_properties": props,
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def _types_by_channel(conn: Connection) -> dict[Channel, list[tuple[int, int, str, bool]]]:
    st = t.subscription_types
    found: dict[Channel, list[tuple[int, int, str, bool]]] = {}
    query = sa.select(st.c.id, st.c.business_unit_id, st.c.channel, st.c.name, st.c.is_active).order_by(
        st.c.business_unit_id, st.c.position, st.c.id
    )
    for row in conn.execute(query):
        found.setdefault(Channel(row.channel), []).append((row.id, row.business_unit_id, row.name, bool(row.is_active)))
    return found


def _opt_outs(
    conn: Connection, keys: Iterable[str]
) -> tuple[dict[tuple[str, Channel], set[int]], dict[tuple[str, Channel], set[int]]]:
    """Unsubscribed type ids and wide opt-out business units, per (address, channel)."""
    keys = sorted(set(keys))
    unsubscribed: dict[tuple[str, Channel], set[int]] = {}
    wides: dict[tuple[str, Channel], set[int]] = {}
    if not keys:
        return unsubscribed, wides
    s, w = t.subscription_statuses, t.wide_opt_outs
    for row in conn.execute(
        sa.select(s.c.address, s.c.channel, s.c.subscription_type_id).where(
            s.c.address.in_(keys), s.c.status == Status.UNSUBSCRIBED.value
        )
    ):
        unsubscribed.setdefault((row.address, Channel(row.channel)), set()).add(row.subscription_type_id)
    for row in conn.execute(sa.select(w.c.address, w.c.channel, w.c.business_unit_id).where(w.c.address.in_(keys))):
        wides.setdefault((row.address, Channel(row.channel)), set()).add(row.business_unit_id)
    return unsubscribed, wides
