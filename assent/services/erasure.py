"""Erasure (R22, GDPR Art. 17): forget a person, keep them suppressed.

In the caller's one transaction: the contacts holding the address go; the address's
statuses, wide opt-outs and `addresses` row go; its ledger events keep what happened but
lose who it was (the personal columns are blanked, which the ledger's trigger allows and
nothing else); an `erasures` row remembers a keyed hash of the address, so that later
imports and API calls cannot opt it in again (R10) while the person still can; and one
ERASURE event says so.

A phone number is erased on SMS and WhatsApp together: it is one personal datum.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assent.domain.addresses import Address
from assent.domain.model import Actor, Channel, EventKind, EventState, Source
from assent.services import ledger
from assent.services.changes import Writer
from assent.services.contacts import PHONE_CHANNELS, contact_addresses
from assent.services.errors import NotFound
from assent.services.ledger import RequestContext
from assent.services.state import Account
from assent.storage import tables as t
from assent.storage.db import Database
from assent.storage.upsert import upsert


@dataclass(frozen=True)
class Erased:
    """What an erasure removed: counts only, never the address."""

    erased_at: dt.datetime
    addresses: int
    contacts_deleted: int
    statuses_deleted: int
    wide_opt_outs_deleted: int
    events_redacted: int
    #: preference links, bulk-job reports and locally kept mail that named the address
    other_records_cleared: int
    erasure_events: int

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def erase_contact(
    db: Database, conn: Connection, account: Account, contact_id: int, *, actor_id: str | None, context: RequestContext
) -> Erased:
    """Erase a contact and every address it holds."""
    c = t.contacts
    row = conn.execute(sa.select(c).where(c.c.id == contact_id)).first()
    if row is None:
        raise NotFound("Contact", contact_id)
    addresses = contact_addresses(dict(row._mapping))
    return erase(db, conn, account, addresses, actor_id=actor_id, context=context, contact_ids=[contact_id])


def erase(
    db: Database,
    conn: Connection,
    account: Account,
    addresses: Sequence[Address],
    *,
    actor_id: str | None,
    context: RequestContext,
    contact_ids: Sequence[int] = (),
) -> Erased:
    targets = _with_both_phone_channels(addresses)
    writer = Writer(db, conn, account, Actor(Source.ERASURE, actor_id), context=context)
    for channel in Channel:
        on_channel = [a for a in targets if a.channel is channel]
        if on_channel:
            # Lock the addresses first, so that a concurrent change of one waits for the
            # erasure and then finds it erased (see services.changes).
            writer.touch(channel, on_channel)
    hashes = {(a.channel, a.key): account.address_hash(a.channel, a.key) for a in targets}
    already = _already_erased(conn, hashes)
    contacts = _delete_contacts(conn, targets, contact_ids)
    statuses = wides = 0
    for address in targets:
        where = {"address": address.key, "channel": address.channel.value}
        statuses += _delete(conn, t.subscription_statuses, where)
        wides += _delete(conn, t.wide_opt_outs, where)
        _delete(conn, t.addresses, where)
    redacted = _redact(conn, list(hashes.values()))
    elsewhere = _forget_elsewhere(conn, targets, list(hashes.values()))
    upsert(
        conn,
        t.erasures,
        [{"address_hash": h, "channel": channel.value, "at": writer.at} for (channel, _), h in hashes.items()],
        keys=("address_hash", "channel"),
    )
    # An erasure that finds nothing left to erase writes no second event.
    changed = statuses or wides or redacted or contacts or elsewhere
    events = [
        {**writer.event(a, kind=EventKind.ERASURE, new_status=EventState.ERASED), "address": None}
        for a in targets
        if changed or hashes[(a.channel, a.key)] not in already
    ]
    ledger.append(db, conn, events, writer.at)
    return Erased(writer.at, len(targets), contacts, statuses, wides, redacted, elsewhere, len(events))


def _with_both_phone_channels(addresses: Sequence[Address]) -> list[Address]:
    found: dict[tuple[Channel, str], Address] = {}
    for address in addresses:
        channels = PHONE_CHANNELS if address.channel in PHONE_CHANNELS else (address.channel,)
        for channel in channels:
            found.setdefault((channel, address.key), Address(channel, address.key, address.display))
    return list(found.values())


def _already_erased(conn: Connection, hashes: dict[tuple[Channel, str], str]) -> set[str]:
    e = t.erasures
    if not hashes:
        return set()
    return set(conn.execute(sa.select(e.c.address_hash).where(e.c.address_hash.in_(list(hashes.values())))).scalars())


def _delete_contacts(conn: Connection, targets: Sequence[Address], contact_ids: Sequence[int]) -> int:
    c = t.contacts
    emails = sorted({a.key for a in targets if a.channel is Channel.EMAIL})
    phones = sorted({a.key for a in targets if a.channel is not Channel.EMAIL})
    holding = [c.c.id.in_(list(contact_ids))] if contact_ids else []
    if emails:
        holding.append(c.c.email_key.in_(emails))
    if phones:
        holding.append(c.c.phone.in_(phones))
    if not holding:
        return 0
    return conn.execute(sa.delete(c).where(sa.or_(*holding))).rowcount


def _delete(conn: Connection, table: sa.Table, where: dict[str, str]) -> int:
    return conn.execute(sa.delete(table).where(*(table.c[name] == value for name, value in where.items()))).rowcount


def _forget_elsewhere(conn: Connection, targets: Sequence[Address], hashes: list[str]) -> int:
    """The address's other traces: its preference links stop working, bulk-job reports
    show the row as erased, and mail kept by the local outbox (no SMTP configured) goes."""
    ls, jt, jo, mail = t.link_subjects, t.job_targets, t.job_outcomes, t.mail_outbox
    keys = sorted({a.key for a in targets})
    # The link subject keeps its row (no address in it) with the next token generation, so
    # linking the address again later never revives the links sent before (migration 0009).
    cleared = conn.execute(
        sa.update(ls)
        .where(ls.c.address_hash.in_(hashes), ls.c.address.is_not(None))
        .values(address=None, display=None, generation=ls.c.generation + 1)
    ).rowcount
    # Inbound texts keep their (hash-keyed) row, so a late Twilio retry is still a duplicate,
    # but lose what the person wrote.
    sms = t.sms_messages
    cleared += conn.execute(
        sa.update(sms).where(sms.c.address_hash.in_(hashes)).values(address=None, body=None, review_note=None)
    ).rowcount
    erased = "ERASED: the address was erased (R22)"
    cleared += conn.execute(
        sa.update(jt).where(jt.c.address.in_(keys)).values(address=None, display=None, error=erased)
    ).rowcount
    # Reports keep the address as it was written; its key is that, lower-cased. These two
    # reads scan the job tables (no index serves so rare a question).
    cleared += conn.execute(sa.update(jo).where(sa.func.lower(jo.c.address).in_(keys)).values(address=None)).rowcount
    for key in (a.key for a in targets if a.channel is Channel.EMAIL):
        named = sa.func.lower(mail.c.recipient).contains(key, autoescape=True)
        cleared += conn.execute(sa.delete(mail).where(named)).rowcount
    return cleared


def _redact(conn: Connection, hashes: list[str]) -> int:
    """Blank the personal columns of the events: exactly the UPDATE the ledger's trigger
    lets through (tables.LEDGER_PERSONAL_COLUMNS). Their keyed digests and the hash chain stay
    as they are (the trigger refuses any change to them), so the events still verify, as
    redacted. Earlier ERASURE events hold nothing of the
    person (their request context is the admin's who asked) and stay as they are."""
    if not hashes:
        return 0
    e = t.ledger_events
    blank = dict.fromkeys(t.LEDGER_PERSONAL_COLUMNS)
    return conn.execute(
        sa.update(e)
        .where(e.c.address_hash.in_(hashes), e.c.redacted.is_(False), e.c.kind != EventKind.ERASURE)
        .values(**blank, redacted=True)
    ).rowcount
