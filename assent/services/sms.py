"""Reading what SMS and WhatsApp keywords need: a unit's keywords and texts, stored inbound
messages (the dedupe record and the review queue), and the types a WhatsApp marketing stop
reaches. The changes themselves are actions (`assent.actions.sms`)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import phonenumbers
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assent.domain.keywords import Keyword, KeywordSet, is_marketing_purpose, keyword_set, reply_text
from assent.domain.model import Channel
from assent.services.state import SubscriptionType
from assent.storage import tables as t

RECEIVED = "received"  # the `event` of an inbound message (status callbacks use their status)
PENDING, CONFIRMED, DISMISSED = "PENDING", "CONFIRMED", "DISMISSED"


@dataclass(frozen=True, slots=True)
class SmsUnit:
    """A business unit as its keywords and replies need it."""

    id: int
    company: str
    language: str
    keywords: KeywordSet
    replies: dict[str, str | None] = field(default_factory=dict)
    help_text: str | None = None

    def reply(self, kind: Keyword) -> str:
        return reply_text(
            kind, company=self.company, language=self.language, custom=self.replies, help_contact=self.help_text
        )


def load_sms_unit(conn: Connection, unit_id: int) -> SmsUnit:
    bu = t.business_units
    row = conn.execute(sa.select(bu).where(bu.c.id == unit_id)).first()
    if row is None:  # a number mapped to a unit that is gone: answer as the default unit
        row = conn.execute(sa.select(bu).where(bu.c.id == 0)).one()
    return SmsUnit(
        id=row.id,
        company=row.company_name or row.name,
        language=row.default_language,
        keywords=keyword_set(row.sms_keywords or {}),
        replies=dict(row.sms_replies or {}),
        help_text=row.sms_help_text,
    )


def unit_of_number(sms_numbers: dict[str, int], raw: str) -> int:
    """The business unit of one of our numbers (settings `sms_numbers`), else 0 (R18)."""
    if raw in sms_numbers:
        return sms_numbers[raw]
    try:
        parsed = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException:
        return 0
    return sms_numbers.get(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164), 0)


def marketing_types(conn: Connection, unit_id: int) -> list[SubscriptionType]:
    """The unit's WhatsApp types whose purpose is marketing (error 131050)."""
    st = t.subscription_types
    rows = conn.execute(
        sa.select(st.c.id, st.c.business_unit_id, st.c.name, st.c.is_active, st.c.purpose).where(
            st.c.business_unit_id == unit_id, st.c.channel == Channel.WHATSAPP.value
        )
    )
    return [
        SubscriptionType(r.id, r.business_unit_id, Channel.WHATSAPP, r.name, r.is_active)
        for r in rows
        if is_marketing_purpose(r.purpose)
    ]


def stored_message(conn: Connection, address_hash: str, message_sid: str, event: str = RECEIVED) -> Any:
    m = t.sms_messages
    return conn.execute(
        sa.select(m).where(m.c.address_hash == address_hash, m.c.message_sid == message_sid, m.c.event == event)
    ).first()


def reviews(conn: Connection, state: str = PENDING, limit: int = 100) -> list[dict[str, Any]]:
    """The review queue (oldest first, as a queue is worked), or the decided ones (newest first)."""
    m = t.sms_messages
    order = m.c.received_at.asc() if state == PENDING else m.c.reviewed_at.desc()
    query = sa.select(m).where(m.c.review == state).order_by(order).limit(limit)
    return [dict(r._mapping) for r in conn.execute(query)]


def review_count(conn: Connection, state: str = PENDING) -> int:
    """How many messages are in that state of review (the queue shows the oldest ones)."""
    m = t.sms_messages
    return int(conn.execute(sa.select(sa.func.count()).select_from(m).where(m.c.review == state)).scalar_one())


def messages_for(conn: Connection, address_hashes: Collection[str], sids: Collection[str]) -> dict[str, dict[str, Any]]:
    """Inbound messages by sid, for the events that name them (history screens)."""
    if not sids or not address_hashes:
        return {}
    m = t.sms_messages
    rows = conn.execute(sa.select(m).where(m.c.address_hash.in_(list(address_hashes)), m.c.message_sid.in_(list(sids))))
    return {r.message_sid: dict(r._mapping) for r in rows}
