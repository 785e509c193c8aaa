"""Apply a provider's feedback: bounces, complaints and unsubscribes (SPEC R19, issue 13).

One write transaction per request, whatever its size (a SendGrid batch holds up to a few
thousand events). In it:

1. events already recorded (a provider's retry after a timeout) are skipped;
2. each event's meaning comes from the one mapping, `domain.feedback.effect_of`;
3. the events are recorded, keyed by the provider's id, before anything is applied — a
   concurrent delivery of the same event waits for this transaction, then skips it;
4. the changes go through `Writer`s, set-based: one call per kind of change (and unit), not
   one per event.

An event that cannot be applied (no valid address) is reported and the others applied. An
event about an erased address (R22) changes nothing and is recorded by the keyed hash only:
the address is never written again (`Writer.touch` would store it; an erased address is
refused every send already, R10/R11).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Connection

from assent.domain.addresses import Address, InvalidAddress
from assent.domain.feedback import Effect, EffectKind, FeedbackEvent, effect_of
from assent.domain.model import Actor, Channel, Evidence, Source, Status
from assent.services import inbound
from assent.services.bounces import Bounce, FeedbackWriter, Report, record_reports
from assent.services.state import Account, load_account, load_erased, load_types
from assent.storage import tables as t
from assent.storage.db import Database

EMAIL = Channel.EMAIL
ERASED = "ERASED"


@dataclass(frozen=True, slots=True)
class Rejected:
    """An event of a request that was not applied, and why."""

    index: int
    event_id: str | None
    reason: str


class ReplayedToken(Exception):
    """A webhook token that was already accepted once: nothing is written."""


@dataclass
class FeedbackResult:
    #: events recorded by this request (changes made, or evidence kept)
    applied: int = 0
    #: events recorded before (a retry): nothing written for them
    duplicates: int = 0
    #: events that mean nothing here (deliveries, opens, …)
    ignored: int = 0
    #: how many recorded events made each kind of change
    effects: Counter[str] = field(default_factory=Counter)
    rejected: list[Rejected] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "applied": self.applied,
            "duplicates": self.duplicates,
            "ignored": self.ignored,
            "effects": dict(sorted(self.effects.items())),
            "rejected": [{"index": r.index, "id": r.event_id, "reason": r.reason} for r in self.rejected],
        }


@dataclass(frozen=True, slots=True)
class _Planned:
    event: FeedbackEvent
    address: Address
    effect: Effect
    erased: bool = False


def apply_feedback(
    db: Database,
    provider: str,
    events: Sequence[FeedbackEvent | Rejected],
    *,
    token: str | None = None,
) -> FeedbackResult:
    """Apply one request's events (and report the parser's rejections) for `provider`.
    With `token`, the request's webhook token is claimed in the same transaction: one seen
    before raises ReplayedToken, and nothing is written."""
    result = FeedbackResult(rejected=[e for e in events if isinstance(e, Rejected)])
    indexed = [(i, e) for i, e in enumerate(events) if isinstance(e, FeedbackEvent)]
    with db.write() as conn:
        at = t.now()
        if token is not None and not inbound.claim_token(conn, provider, token, at):
            raise ReplayedToken(token)
        account = load_account(conn)
        catalog = inbound.load_catalog(conn)
        known = inbound.known_events(conn, provider, [e.event_id for _, e in indexed])
        planned: list[_Planned] = []
        seen: set[str] = set()
        for index, event in indexed:
            if event.event_id in known or event.event_id in seen:
                result.duplicates += 1
                continue
            seen.add(event.event_id)
            effect = effect_of(event, catalog)
            if effect.kind is EffectKind.NOTHING:
                result.ignored += 1
                continue
            try:
                address = account.normalize_raw(EMAIL, event.recipient)
            except InvalidAddress as error:
                result.rejected.append(Rejected(index, event.event_id, f"recipient: {error.reason}"))
                continue
            planned.append(_Planned(event, address, effect))
        erased = load_erased(conn, account, EMAIL, {p.address.key for p in planned})
        planned = [_Planned(p.event, p.address, p.effect, p.address.key in erased) for p in planned]
        claimed = inbound.record_events(conn, [_record(account, provider, p, at) for p in planned])
        mine = [p for p in planned if p.event.event_id in claimed]
        result.duplicates += len(planned) - len(mine)
        result.applied = len(mine)
        result.effects.update(ERASED if p.erased else p.effect.kind.value for p in mine)
        _apply(db, conn, account, provider, at, [p for p in mine if not p.erased])
    return result


def _record(account: Account, provider: str, planned: _Planned, at: dt.datetime) -> dict[str, Any]:
    return {
        "provider": provider,
        "event_id": planned.event.event_id,
        "address_hash": account.address_hash(EMAIL, planned.address.key),
        "kind": planned.event.kind.value,
        "effect": ERASED if planned.erased else planned.effect.kind.value,
        "received_at": at,
    }


def _apply(
    db: Database, conn: Connection, account: Account, provider: str, at: dt.datetime, todo: Sequence[_Planned]
) -> None:
    """The changes, grouped: one Writer call per kind of change (and unit)."""
    hard: list[Bounce] = []
    soft: list[Bounce] = []
    wide: dict[tuple[Source, int], list[Address]] = defaultdict(list)
    type_opt_outs: list[tuple[Address, int]] = []
    reports: list[Report] = []
    for p in todo:
        kind, effect = p.effect.kind, p.effect
        if kind is EffectKind.UNDELIVERABLE:
            hard.append(Bounce(p.address, p.event.diagnostic, p.event.at))
        elif kind is EffectKind.SOFT_BOUNCE:
            soft.append(Bounce(p.address, p.event.diagnostic, p.event.at))
        elif kind is EffectKind.WIDE_OPT_OUT and effect.source and effect.business_unit_id is not None:
            wide[(effect.source, effect.business_unit_id)].append(p.address)
        elif kind is EffectKind.TYPE_OPT_OUT and effect.subscription_type_id is not None:
            type_opt_outs.append((p.address, effect.subscription_type_id))
        elif kind is EffectKind.EVIDENCE:
            note = (
                f"{provider} reports a resubscribe ({p.event.diagnostic or p.event.kind.value}); not applied: "
                "only the person, in Assent, or a user may resubscribe (R5)"
            )
            reports.append(Report(p.address, effect.business_unit_id, effect.subscription_type_id, note))

    def writer(source: Source, explanation: str | None = None) -> FeedbackWriter:
        evidence = Evidence(legal_basis_explanation=explanation)
        return FeedbackWriter(db, conn, account, Actor(source, provider), evidence, at=at)

    bounces = writer(Source.BOUNCE)
    # Lock every address this request changes at once, in key order (Writer.touch sorts):
    # two requests sharing addresses then cannot deadlock between the calls below.
    bounces.touch(EMAIL, [p.address for p in todo if p.effect.kind is not EffectKind.EVIDENCE])
    bounces.mark_undeliverable(hard)
    bounces.count_soft_bounces(soft)
    for (source, unit), addresses in sorted(wide.items()):
        what = "spam complaint" if source is Source.SPAM_COMPLAINT else "unsubscribe"
        writer(source, f"{provider}: {what}").set_wide_opt_out(EMAIL, addresses, unit)
    if type_opt_outs:
        types = load_types(conn, {type_id for _, type_id in type_opt_outs})
        requests = [(address, [(types[type_id], Status.UNSUBSCRIBED)]) for address, type_id in type_opt_outs]
        writer(Source.ESP_UNSUBSCRIBE, f"{provider}: unsubscribe").change_statuses(EMAIL, requests)
    if reports:
        record_reports(writer(Source.ESP_UNSUBSCRIBE), reports)
