"""Bounces for many addresses at once: the `Writer` of provider feedback (issue 13).

`FeedbackWriter` is a `Writer` (same transaction, same address locking, same ledger and
outbox) with two set-based actions more: a hard bounce marks addresses undeliverable with
the provider's diagnostic and the date (R11); a soft bounce is counted on the address, with
its last time and diagnostic, and never suppresses. Each writes one ledger event per bounce.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from assent.domain.addresses import Address
from assent.domain.model import EventKind, EventState, Outcome
from assent.services import ledger
from assent.services.changes import Writer
from assent.storage import tables as t


@dataclass(frozen=True, slots=True)
class Bounce:
    address: Address
    diagnostic: str | None
    at: dt.datetime | None = None  # when the provider says it bounced


class FeedbackWriter(Writer):
    def mark_undeliverable(self, bounces: Sequence[Bounce]) -> list[Outcome]:
        """Hard bounces: UNDELIVERABLE until a user clears it with an explanation (R11).
        An address already undeliverable is UNCHANGED (its first diagnostic stays)."""
        if not bounces:
            return []
        a = t.addresses
        channel = bounces[0].address.channel
        self.touch(channel, [b.address for b in bounces])
        keys = sorted({b.address.key for b in bounces})
        already = set(
            self.conn.execute(
                sa.select(a.c.address).where(a.c.channel == channel.value, a.c.address.in_(keys), a.c.undeliverable)
            ).scalars()
        )
        outcomes, rows, events = [], [], []
        for bounce in bounces:
            key = bounce.address.key
            if key in already:
                outcomes.append(Outcome.UNCHANGED)
                continue
            already.add(key)
            outcomes.append(Outcome.CHANGED)
            reason = _clip(bounce.diagnostic)
            rows.append({"k": key, "r": reason, "at": bounce.at or self.at})
            events.append(
                self.event(
                    bounce.address,
                    kind=EventKind.UNDELIVERABLE,
                    old_status=EventState.DELIVERABLE,
                    new_status=EventState.UNDELIVERABLE,
                    legal_basis_explanation=reason,
                )
            )
        if rows:
            self.conn.execute(
                sa.update(a)
                .where(a.c.channel == channel.value, a.c.address == sa.bindparam("k"))
                .values(
                    undeliverable=True,
                    undeliverable_reason=sa.bindparam("r"),
                    undeliverable_at=sa.bindparam("at", type_=t.UTCDateTime()),
                    updated_at=self.at,
                ),
                rows,
            )
        ledger.append(self.db, self.conn, events, self.at)
        return outcomes

    def count_soft_bounces(self, bounces: Sequence[Bounce]) -> None:
        """Soft bounces: one more on the address's count, and its last time and diagnostic."""
        if not bounces:
            return
        a = t.addresses
        channel = bounces[0].address.channel
        self.touch(channel, [b.address for b in bounces])
        counts: dict[str, int] = {}
        last: dict[str, tuple[dt.datetime, str | None]] = {}
        for bounce in bounces:
            key, at = bounce.address.key, bounce.at or self.at
            counts[key] = counts.get(key, 0) + 1
            if key not in last or at >= last[key][0]:
                last[key] = (at, _clip(bounce.diagnostic))
        rows = [{"k": key, "n": counts[key], "at": last[key][0], "r": last[key][1]} for key in sorted(counts)]
        self.conn.execute(
            sa.update(a)
            .where(a.c.channel == channel.value, a.c.address == sa.bindparam("k"))
            .values(
                soft_bounces=a.c.soft_bounces + sa.bindparam("n", type_=sa.Integer()),
                last_soft_bounce_at=sa.bindparam("at", type_=t.UTCDateTime()),
                last_soft_bounce_reason=sa.bindparam("r"),
                updated_at=self.at,
            ),
            rows,
        )
        events = [
            self.event(
                b.address,
                kind=EventKind.SOFT_BOUNCE.value,
                new_status=EventState.SOFT_BOUNCE.value,
                legal_basis_explanation=_clip(b.diagnostic),
            )
            for b in bounces
        ]
        ledger.append(self.db, self.conn, events, self.at)


def _clip(text: str | None) -> str | None:
    """A diagnostic as stored: stripped, at most 500 characters (the column's width)."""
    cleaned = " ".join((text or "").split())
    return cleaned[:500] or None


@dataclass(frozen=True, slots=True)
class Report:
    """A provider's report that changes nothing here (a resubscribe), kept as evidence."""

    address: Address
    business_unit_id: int | None
    subscription_type_id: int | None
    note: str


def record_reports(writer: Writer, reports: Sequence[Report]) -> None:
    """Evidence only: one ledger event per report (kind ESP_RESUBSCRIBE), no state changed
    and no address row written."""
    events = [
        writer.event(
            r.address,
            kind=EventKind.ESP_RESUBSCRIBE.value,
            new_status=EventState.NOT_APPLIED.value,
            business_unit_id=r.business_unit_id,
            subscription_type_id=r.subscription_type_id,
            legal_basis_explanation=r.note,
        )
        for r in reports
    ]
    ledger.append(writer.db, writer.conn, events, writer.at)
