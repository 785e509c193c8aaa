"""SMS and WhatsApp: inbound keywords, delivery errors that mean "opted out", and the review
queue of possible opt-outs (SPEC R18, R27; standards §6–7).

Each action is one write transaction. An inbound message first claims its row in
`sms_messages` (INSERT … ON CONFLICT DO NOTHING on the primary key): a Twilio retry, even one
racing the first delivery, finds the row taken, changes nothing and gets the stored reply —
on PostgreSQL the second insert waits for the first transaction and then sees its row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from assent.domain.keywords import Act, MessageKind, classify, respond
from assent.domain.model import Actor, Channel, Evidence, Outcome, Source, Status
from assent.services.changes import Writer
from assent.services.errors import Invalid, NotFound
from assent.services.sms import (
    CONFIRMED,
    DISMISSED,
    PENDING,
    RECEIVED,
    load_sms_unit,
    marketing_types,
    stored_message,
    unit_of_number,
)
from assent.services.state import Account, load_account
from assent.storage import tables as t
from assent.storage.db import Database

#: Twilio: "the recipient replied STOP" (standards TW-03); WhatsApp: the user stopped
#: marketing messages (WA-06)
SMS_STOPPED = "21610"
WHATSAPP_MARKETING_STOPPED = "131050"
ACTING_ERRORS = frozenset({SMS_STOPPED, WHATSAPP_MARKETING_STOPPED})

_SOURCE = {Channel.SMS: Source.SMS_KEYWORD, Channel.WHATSAPP: Source.WHATSAPP_KEYWORD}


@dataclass(frozen=True, slots=True)
class InboundMessage:
    message_sid: str
    channel: Channel
    sender: str  # `From` without its `whatsapp:` prefix
    receiver: str  # `To`, one of our numbers
    body: str


@dataclass(frozen=True, slots=True)
class Received:
    kind: MessageKind
    reply: str | None
    duplicate: bool = False


def receive_message(db: Database, message: InboundMessage) -> Received:
    """One inbound text: its keyword acted on, its reply chosen and kept (R18, R27)."""
    with db.write() as conn:
        account = load_account(conn)
        address = account.normalize(message.channel, message.sender, "From")
        unit_id = unit_of_number(account.sms_numbers, message.receiver)
        address_hash = account.address_hash(message.channel, address.key)
        row = {
            "address_hash": address_hash,
            "message_sid": message.message_sid,
            "event": RECEIVED,
            "channel": message.channel.value,
            "address": address.key,
            "business_unit_id": unit_id,
            "body": message.body,
            "received_at": t.now(),
        }
        if not _claim(conn, row):
            stored = stored_message(conn, address_hash, message.message_sid)
            return Received(MessageKind(stored.kind or MessageKind.OTHER), stored.reply, duplicate=True)
        unit = load_sms_unit(conn, unit_id)
        classified = classify(message.body, unit.keywords)
        response = respond(classified.kind, account.sms_revocation_policy)
        writer = _writer(
            db, conn, account, message.channel, message.message_sid, _evidence(message, classified.keyword)
        )
        if response.act is Act.SET_WIDE_OPT_OUT:
            writer.set_wide_opt_out(message.channel, [address], unit.id)
        elif response.act is Act.REMOVE_WIDE_OPT_OUT:
            writer.remove_wide_opt_out(message.channel, [address], unit.id)  # R8: the contact's own act
        reply = unit.reply(response.reply) if response.reply else None
        _update(
            conn,
            address_hash,
            message.message_sid,
            RECEIVED,
            business_unit_id=unit.id,
            kind=classified.kind.value,
            keyword=classified.keyword,
            reply=reply,
            review=PENDING if response.act is Act.QUEUE_FOR_REVIEW else None,
        )
    return Received(classified.kind, reply)


@dataclass(frozen=True, slots=True)
class StatusCallback:
    message_sid: str
    status: str  # MessageStatus
    error_code: str | None
    channel: Channel
    recipient: str  # `To`: the person, without `whatsapp:`
    sender: str  # `From`: our number


def record_status(db: Database, callback: StatusCallback) -> bool:
    """A message status callback. Errors that mean "opted out" are opt-outs (R27); every
    other status changes nothing and is not kept. True when something was written."""
    if callback.error_code not in ACTING_ERRORS:
        return False
    with db.write() as conn:
        account = load_account(conn)
        address = account.normalize(callback.channel, callback.recipient, "To")
        unit_id = unit_of_number(account.sms_numbers, callback.sender)
        address_hash = account.address_hash(callback.channel, address.key)
        row = {
            "address_hash": address_hash,
            "message_sid": callback.message_sid,
            "event": callback.status[:20],
            "channel": callback.channel.value,
            "address": address.key,
            "business_unit_id": unit_id,
            "error_code": callback.error_code,
            "received_at": t.now(),
        }
        if not _claim(conn, row):
            return False  # Twilio delivered this callback before (MessageSid + MessageStatus)
        explanation = _ERROR_WORDS[callback.error_code].format(sid=callback.message_sid)
        writer = _writer(
            db, conn, account, callback.channel, callback.message_sid, Evidence(legal_basis_explanation=explanation)
        )
        if callback.error_code == SMS_STOPPED:
            writer.set_wide_opt_out(callback.channel, [address], unit_id)
        elif callback.channel is Channel.WHATSAPP:
            types = marketing_types(conn, unit_id)
            if types:
                writer.change_statuses(Channel.WHATSAPP, [(address, [(st, Status.UNSUBSCRIBED) for st in types])])
    return True


_ERROR_WORDS = {
    SMS_STOPPED: "Twilio error 21610: the recipient had replied STOP (message {sid})",
    WHATSAPP_MARKETING_STOPPED: "WhatsApp error 131050: the user stopped marketing messages (message {sid})",
}


# --- the review queue (policy REVIEW) -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reviewed:
    address: str
    channel: Channel
    outcome: Outcome


def confirm_review(db: Database, address_hash: str, message_sid: str, user: str, note: str | None) -> Reviewed:
    """A person confirms a queued message was an opt-out: the wide opt-out is set as the
    contact's own act (their message is the evidence), the reviewer and note beside it."""
    with db.write() as conn:
        stored = _decide_review(conn, address_hash, message_sid, CONFIRMED, user, note)
        account = load_account(conn)
        channel = Channel(stored.channel)
        address = account.normalize_raw(channel, stored.address)
        reviewer = f"; confirmed in the review queue by {user}" + (f": {note}" if note else "")
        message = InboundMessage(message_sid, channel, stored.address, "", stored.body or "")
        base = _evidence(message, stored.keyword)
        evidence = Evidence(
            notice_text=base.notice_text, legal_basis_explanation=f"{base.legal_basis_explanation}{reviewer}"
        )
        [result] = _writer(db, conn, account, channel, message_sid, evidence).set_wide_opt_out(
            channel, [address], stored.business_unit_id
        )
    return Reviewed(address.display, channel, result.outcome)


def dismiss_review(db: Database, address_hash: str, message_sid: str, user: str, note: str | None) -> Reviewed:
    """A person decides a queued message was not an opt-out. The note says why (required)."""
    if not (note or "").strip():
        raise Invalid("note", "say why this message is not an opt-out", "NOTE_REQUIRED")
    with db.write() as conn:
        stored = _decide_review(conn, address_hash, message_sid, DISMISSED, user, note)
    return Reviewed(stored.address or "", Channel(stored.channel), Outcome.UNCHANGED)


def _decide_review(
    conn: Connection, address_hash: str, message_sid: str, state: str, user: str, note: str | None
) -> Any:
    # Compare-and-set: two reviewers acting at once cannot both decide one message.
    m = t.sms_messages
    done = conn.execute(
        sa.update(m)
        .where(
            m.c.address_hash == address_hash,
            m.c.message_sid == message_sid,
            m.c.event == RECEIVED,
            m.c.review == PENDING,
        )
        .values(review=state, review_note=(note or "").strip() or None, reviewed_by=user, reviewed_at=t.now())
    ).rowcount
    if done != 1:
        raise NotFound("Message awaiting review", message_sid)
    return stored_message(conn, address_hash, message_sid)


# --- helpers --------------------------------------------------------------------------------


def _claim(conn: Connection, row: dict[str, Any]) -> bool:
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    m = t.sms_messages
    statement = insert(m).values(**row).on_conflict_do_nothing().returning(m.c.message_sid)
    return conn.execute(statement).first() is not None


def _update(conn: Connection, address_hash: str, message_sid: str, event: str, **values: Any) -> None:
    m = t.sms_messages
    conn.execute(
        sa.update(m)
        .where(m.c.address_hash == address_hash, m.c.message_sid == message_sid, m.c.event == event)
        .values(**values)
    )


def _writer(
    db: Database, conn: Connection, account: Account, channel: Channel, message_sid: str, evidence: Evidence
) -> Writer:
    # The contact acts by texting (CONTACT actor); the message names the act in the ledger.
    return Writer(db, conn, account, Actor(_SOURCE[channel], id=f"twilio:{message_sid}"), evidence)


def _evidence(message: InboundMessage, keyword: str | None) -> Evidence:
    said = f'Texted "{keyword}"' if keyword else "Texted"
    how = "WhatsApp" if message.channel is Channel.WHATSAPP else "SMS"
    return Evidence(
        notice_text=message.body,
        legal_basis_explanation=f"{said} by {how} (Twilio message {message.message_sid})",
    )
