"""The writes of the HubSpot-compatible API (issue 10), on the same `Writer` as every other
interface: source HUBSPOT_API, a USER actor, the rules of `assent.domain.rules`.

What is HubSpot's here, and nothing more:
- v3 `subscribe` never resubscribes: when the change would be a resubscribe (the domain's
  `is_resubscribe`, R5) it is refused and nothing is written;
- v4 writes may resubscribe, with the rules' conditions (R5: an explanation; R6: a legal basis
  in data privacy mode), and report HubSpot's `setStatusSuccessReason`;
- HubSpot has no field for the legal basis to *process* a person's data (R6): an opt-in uses
  the processing basis already stored for the address, else records `legalBasis` for both.

Errors are `Problem`s naming HubSpot's field (camelCase); the interface renders them in
HubSpot's error shape.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from sqlalchemy.engine import Connection

from assent.config import Settings
from assent.domain.addresses import Address, InvalidAddress
from assent.domain.model import Actor, Channel, Evidence, LegalBasis, Outcome, Reason, Status
from assent.domain.rules import is_resubscribe
from assent.services import hubspot_views as views
from assent.services import links
from assent.services.changes import ChangeResult, Writer
from assent.services.errors import FieldError, Problem
from assent.services.ledger import RequestContext
from assent.services.state import (
    Account,
    AddressFacts,
    SubscriptionType,
    load_account,
    load_address_facts,
    load_statuses,
)
from assent.storage import tables as t
from assent.storage.db import Database


class SuccessReason(StrEnum):
    """HubSpot's `setStatusSuccessReason`."""

    NO_STATUS_CHANGE = "NO_STATUS_CHANGE"
    REQUESTED_CHANGE_OCCURRED = "REQUESTED_CHANGE_OCCURRED"
    RESUBSCRIBE_OCCURRED = "RESUBSCRIBE_OCCURRED"
    UNSUBSCRIBE_FROM_ALL_OCCURRED = "UNSUBSCRIBE_FROM_ALL_OCCURRED"


#: Refusal reasons → (HubSpot field, what to tell the caller). Only wording: the verdict is
#: the domain's.
_REFUSALS: dict[Reason, tuple[str, str]] = {
    Reason.EXPLANATION_REQUIRED: (
        "legalBasisExplanation",
        "legalBasisExplanation is required: Assent asks a user to explain every resubscribe, and every opt-in "
        "in data privacy mode (R5, R6)",
    ),
    Reason.LEGAL_BASIS_REQUIRED: ("legalBasis", "data privacy mode is on: legalBasis is required to opt in (R6)"),
    Reason.PROCESSING_LEGAL_BASIS_REQUIRED: (
        "legalBasis",
        "data privacy mode is on: a legal basis to process this person's data is required (R6)",
    ),
    Reason.WIDE_OPT_OUT_IN_FORCE: (
        "subscriberIdString",
        "the address is unsubscribed from all of this channel and business unit; while that stands only the "
        "person can opt in again (R7, R8)",
    ),
    Reason.ERASED: ("subscriberIdString", "the address was erased; only the person can opt in again (R10)"),
}

RESUBSCRIBE_REFUSED = "RESUBSCRIBE_NOT_ALLOWED"


def refusal(reason: Reason | str, address_field: str = "subscriberIdString") -> Problem:
    """A HubSpot 400 naming the field or the reason of a refusal."""
    try:
        where, text = _REFUSALS[Reason(reason)]
    except (KeyError, ValueError):
        where, text = address_field, f"the change was refused ({reason})"
    if where == "subscriberIdString":
        where = address_field
    return Problem(str(reason), text, errors=[FieldError(where, text, str(reason))], status=400)


def invalid(where: str, text: str, code: str = "INVALID") -> Problem:
    return Problem(code, f"{where}: {text}", errors=[FieldError(where, text, code)], status=400)


@dataclass(frozen=True, slots=True)
class StatusOutcome:
    address: Address
    view: views.StatusView
    reason: SuccessReason
    #: units whose "unsubscribe from all" stands for the address (read for v3's answer)
    wide_units: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True)
class ItemError:
    """One input of a batch that was not applied."""

    index: int
    subscriber: str
    code: str
    message: str
    field: str


def success_reason(result: ChangeResult) -> SuccessReason:
    if result.outcome is not Outcome.CHANGED:
        return SuccessReason.NO_STATUS_CHANGE
    if is_resubscribe(result.old_status, result.new_status):
        return SuccessReason.RESUBSCRIBE_OCCURRED
    return SuccessReason.REQUESTED_CHANGE_OCCURRED


def _evidence(legal_basis: LegalBasis | None, explanation: str | None, record_processing: bool) -> Evidence:
    return Evidence(
        legal_basis=legal_basis,
        legal_basis_explanation=explanation,
        processing_legal_basis=legal_basis if record_processing else None,
    )


def _normalize(account: Account, channel: Channel, raw: str, where: str) -> Address:
    try:
        return account.normalize_raw(channel, raw)
    except InvalidAddress as error:
        raise invalid(where, error.reason, "INVALID_ADDRESS") from None


def _type(conn: Connection, channel: Channel, type_id: int, where: str) -> views.TypeView:
    found = views.types(conn, ids=[type_id])
    if not found:
        raise invalid(where, f"subscription {type_id} does not exist", "UNKNOWN_SUBSCRIPTION")
    if found[0].channel is not channel:
        raise invalid(where, f"subscription {type_id} is a {found[0].channel.value} subscription, not {channel.value}")
    return found[0]


def set_status(
    db: Database,
    *,
    actor: Actor,
    context: RequestContext,
    channel: Channel,
    raw_address: str,
    subscription_id: int,
    target: Status,
    legal_basis: LegalBasis | None,
    explanation: str | None,
    allow_resubscribe: bool,
    address_field: str = "subscriberIdString",
) -> StatusOutcome:
    """One address, one subscription (v3 subscribe/unsubscribe, v4 POST statuses)."""
    with db.write() as conn:
        account = load_account(conn)
        address = _normalize(account, channel, raw_address, address_field)
        subscription = _type(conn, channel, subscription_id, "subscriptionId")
        Writer(db, conn, account, actor).touch(channel, [address])  # lock it before reading
        fact = load_address_facts(conn, channel, [address.key]).get(address.key)
        record_processing = legal_basis is not None and not (fact and fact.has_processing_basis)
        if not allow_resubscribe:
            current = load_statuses(conn, [address.key], [subscription.id]).get(
                (address.key, subscription.id), Status.NOT_SPECIFIED
            )
            if is_resubscribe(current, target):
                text = (
                    f"{address.display} unsubscribed from subscription {subscription.id}; v3 subscribe never "
                    "resubscribes (use POST /communication-preferences/v4/statuses/{subscriberIdString})"
                )
                raise Problem(
                    RESUBSCRIBE_REFUSED, text, errors=[FieldError(address_field, text, RESUBSCRIBE_REFUSED)], status=400
                )
        writer = Writer(db, conn, account, actor, _evidence(legal_basis, explanation, record_processing), context)
        [[result]] = writer.change_statuses(channel, [(address, [(_state_type(subscription), target)])])
        if result.outcome is Outcome.REFUSED:
            raise refusal(result.reason or "REFUSED", address_field)  # the transaction rolls back
        [view] = views.statuses(conn, channel, [address.key], [subscription])[address.key]
        wide = frozenset(w.business_unit_id for w in views.wide_opt_outs(conn, channel, [address.key])[address.key])
        return StatusOutcome(address, view, success_reason(result), wide)


def _state_type(view: views.TypeView) -> SubscriptionType:
    return SubscriptionType(view.id, view.business_unit_id, view.channel, view.name, view.is_active)


@dataclass(frozen=True, slots=True)
class WriteInput:
    raw_address: str
    channel: Channel
    subscription_id: int
    target: Status
    legal_basis: LegalBasis | None = None
    explanation: str | None = None


@dataclass
class BatchOutcome:
    results: list[StatusOutcome] = field(default_factory=list)
    errors: list[ItemError] = field(default_factory=list)


def set_statuses_batch(
    db: Database, *, actor: Actor, context: RequestContext, inputs: Sequence[WriteInput]
) -> BatchOutcome:
    """v4 `batch/write`: each input judged by the rules; what is refused or invalid is
    reported per input and the rest is applied, all in one transaction.

    Every input carries its own legal basis, so inputs are grouped by identical evidence and
    one `Writer` is called once per group (in order of first appearance; a later group reads
    what an earlier one wrote, in the same transaction), each group's rows with that evidence.
    """
    outcome = BatchOutcome()
    at = t.now()
    with db.write() as conn:
        account = load_account(conn)
        # one writer: it locks each address once; it keeps what it read of the statuses, which
        # answers those it leaves unchanged
        writer = Writer(db, conn, account, actor, context=context, at=at, keep_read=True)
        known = {ty.id: ty for ty in views.types(conn, ids={i.subscription_id for i in inputs})}
        valid: list[tuple[int, Address, views.TypeView, WriteInput]] = []
        for index, item in enumerate(inputs):
            try:
                address = account.normalize_raw(item.channel, item.raw_address)
            except InvalidAddress as error:
                outcome.errors.append(
                    ItemError(index, item.raw_address, "INVALID_ADDRESS", error.reason, "subscriberIdString")
                )
                continue
            subscription = known.get(item.subscription_id)
            if subscription is None or subscription.channel is not item.channel:
                text = (
                    f"subscription {item.subscription_id} does not exist"
                    if subscription is None
                    else f"subscription {item.subscription_id} is a {subscription.channel.value} subscription"
                )
                outcome.errors.append(ItemError(index, address.display, "INVALID_SUBSCRIPTION", text, "subscriptionId"))
                continue
            valid.append((index, address, subscription, item))

        # Whether an opt-in records its legal basis as the processing basis depends on what the
        # address holds: lock the addresses of inputs with a legal basis, then read it.
        by_channel: dict[Channel, list[Address]] = {}
        for _, address, _, item in valid:
            if item.legal_basis is not None:
                by_channel.setdefault(item.channel, []).append(address)
        facts: dict[Channel, dict[str, AddressFacts]] = {}
        for channel, addresses in by_channel.items():
            writer.touch(channel, addresses)
            facts[channel] = load_address_facts(conn, channel, {a.key for a in addresses})

        groups: dict[
            tuple[Channel, LegalBasis | None, str | None, bool], list[tuple[int, Address, SubscriptionType, Status]]
        ] = {}
        for index, address, subscription, item in valid:
            fact = facts.get(item.channel, {}).get(address.key)
            record = item.legal_basis is not None and not (fact and fact.has_processing_basis)
            key = (item.channel, item.legal_basis, item.explanation, record)
            groups.setdefault(key, []).append((index, address, _state_type(subscription), item.target))

        done: list[tuple[int, Address, int, ChangeResult]] = []
        for (channel, legal_basis, explanation, record), members in groups.items():
            proof = _evidence(legal_basis, explanation, record)
            results = writer.change_statuses(
                channel, [(address, [(st, target)]) for _, address, st, target in members], [proof] * len(members)
            )
            for (index, address, st, _), [result] in zip(members, results, strict=True):
                if result.outcome is Outcome.REFUSED:
                    problem = refusal(result.reason or "REFUSED")
                    outcome.errors.append(
                        ItemError(
                            index, address.display, problem.code, problem.errors[0].reason, problem.errors[0].field
                        )
                    )
                else:
                    done.append((index, address, st.id, result))

        final = _views_of([(address, type_id) for _, address, type_id, _ in done], known, writer)
    for _index, address, type_id, result in sorted(done, key=lambda d: d[0]):
        outcome.results.append(
            StatusOutcome(address, final[(address.channel, address.key, type_id)], success_reason(result))
        )
    outcome.errors.sort(key=lambda e: e.index)
    return outcome


def _views_of(
    pairs: Sequence[tuple[Address, int]], known: dict[int, views.TypeView], writer: Writer
) -> dict[tuple[Channel, str, int], views.StatusView]:
    """The status of each pair after the writes: the row the writer wrote last, else the one
    it read under its lock (every pair of a batch was read), else none (NOT_SPECIFIED)."""
    answer: dict[tuple[Channel, str, int], views.StatusView] = {}
    written, read = writer.written, writer.read
    for address, type_id in pairs:
        ty, pair = known[type_id], (address.key, type_id)
        row = written.get(pair)
        if row is not None:
            view = views.status_of_row(ty, row)
        else:
            stored = read.get(pair)
            view = views.StatusView(ty, Status.NOT_SPECIFIED) if stored is None else views.status_of_stored(ty, stored)
        answer[(address.channel, address.key, type_id)] = view
    return answer


@dataclass(frozen=True, slots=True)
class WideOutcome:
    address: Address
    changed: bool
    statuses: list[views.StatusView]


@dataclass
class WideBatchOutcome:
    results: list[WideOutcome] = field(default_factory=list)
    errors: list[ItemError] = field(default_factory=list)


def unsubscribe_all(
    db: Database,
    *,
    actor: Actor,
    context: RequestContext,
    channel: Channel,
    raw_addresses: Sequence[str],
    business_unit_id: int,
    with_statuses: bool,
) -> WideBatchOutcome:
    """v4 `unsubscribe-all` for one or many addresses: the wide opt-out of (channel, unit),
    always allowed (R8). Type statuses keep their values (R7); `with_statuses` (HubSpot's
    `verbose`) answers them."""
    outcome = WideBatchOutcome()
    with db.write() as conn:
        account = load_account(conn)
        if not views.business_unit_exists(conn, business_unit_id):
            raise invalid("businessUnitId", f"business unit {business_unit_id} does not exist", "UNKNOWN_BUSINESS_UNIT")
        addresses: list[Address] = []
        for index, raw in enumerate(raw_addresses):
            try:
                addresses.append(account.normalize_raw(channel, raw))
            except InvalidAddress as error:
                outcome.errors.append(ItemError(index, raw, "INVALID_ADDRESS", error.reason, "inputs"))
        if not addresses:
            return outcome
        results = Writer(db, conn, account, actor, context=context).set_wide_opt_out(
            channel, addresses, business_unit_id
        )
        of_types = views.types(conn, channel=channel, business_unit_id=business_unit_id, include_inactive=False)
        found = views.statuses(conn, channel, [a.key for a in addresses], of_types) if with_statuses else {}
        for address, result in zip(addresses, results, strict=True):
            outcome.results.append(WideOutcome(address, result.outcome is Outcome.CHANGED, found.get(address.key, [])))
    return outcome


@dataclass(frozen=True, slots=True)
class Links:
    address: Address
    preferences_url: str
    unsubscribe_all_url: str
    unsubscribe_url: str | None


def generate_links(
    db: Database,
    settings: Settings,
    *,
    channel: Channel,
    raw_address: str,
    business_unit_id: int,
    language: str | None,
    subscription_id: int | None,
) -> Links:
    """v4 `links/generate`: makes the address linkable (`link_subjects`) and signs its links."""
    lang = _language(language)
    with db.write() as conn:
        account = load_account(conn)
        address = _normalize(account, channel, raw_address, "subscriberIdString")
        if not views.business_unit_exists(conn, business_unit_id):
            raise invalid("businessUnitId", f"business unit {business_unit_id} does not exist", "UNKNOWN_BUSINESS_UNIT")
        if subscription_id is not None:
            subscription = _type(conn, channel, subscription_id, "subscriptionId")
            if subscription.business_unit_id != business_unit_id:
                raise invalid(
                    "subscriptionId", f"subscription {subscription_id} is not one of business unit {business_unit_id}"
                )
        target = links.LinkTarget(
            links.remember(conn, account, address),
            business_unit_id,
            lang or views.default_language(conn, business_unit_id),
            subscription_id,
        )
    urls = links.urls_for(settings)
    bundle = links.bundle(urls, target, channel)
    return Links(address, bundle["preferences_url"], bundle["unsubscribe_all_url"], bundle["unsubscribe_url"])


def _language(raw: str | None) -> str | None:
    try:
        return links.normalize_language(raw, "language")
    except Problem as problem:
        raise invalid("language", problem.errors[0].reason if problem.errors else problem.detail) from None


__all__ = [
    "BatchOutcome",
    "ItemError",
    "Links",
    "StatusOutcome",
    "SuccessReason",
    "WideBatchOutcome",
    "WideOutcome",
    "WriteInput",
    "generate_links",
    "set_status",
    "set_statuses_batch",
    "unsubscribe_all",
]
