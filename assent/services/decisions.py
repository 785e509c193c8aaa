"""May we send this? (R11, R12) — for one address, a batch, or a stream of millions.

Storage supplies facts per address in a few set-based queries; the domain's decision table
(`decide` evaluated once per combination of facts) turns them into reasons.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assent.domain.addresses import Address
from assent.domain.model import ConfirmationState, Reason, Status
from assent.domain.rules import FactsKey, decision_table, policy_key
from assent.services.state import Account, SubscriptionType
from assent.storage import tables as t

CHUNK = 5000


def decide_many(
    conn: Connection, account: Account, type_: SubscriptionType, addresses: Sequence[Address]
) -> list[tuple[Reason, ...]]:
    table = decision_table(type_.facts, policy_key(account.policy))
    facts = load_send_facts(conn, account, type_, [a.key for a in addresses])
    default: FactsKey = (Status.NOT_SPECIFIED, False, False, None, False)
    return [table[facts.get(a.key, default)] for a in addresses]


def load_send_facts(
    conn: Connection, account: Account, type_: SubscriptionType, keys: Sequence[str]
) -> dict[str, FactsKey]:
    """Facts for every key that has any stored state; the rest have the defaults."""
    channel = type_.channel.value
    status: dict[str, Status] = {}
    wide: set[str] = set()
    delivery: dict[str, tuple[bool, ConfirmationState | None]] = {}
    erased: set[str] = set()
    s, w, a, e = t.subscription_statuses, t.wide_opt_outs, t.addresses, t.erasures
    for start in range(0, len(keys), CHUNK):
        chunk = list(dict.fromkeys(keys[start : start + CHUNK]))
        for key, value in conn.execute(
            sa.select(s.c.address, s.c.status).where(
                s.c.subscription_type_id == type_.id, s.c.address.in_(chunk)
            )
        ):
            status[key] = Status(value)
        wide.update(
            conn.execute(
                sa.select(w.c.address).where(
                    w.c.channel == channel,
                    w.c.business_unit_id == type_.business_unit_id,
                    w.c.address.in_(chunk),
                )
            ).scalars()
        )
        for key, undeliverable, confirmation in conn.execute(
            sa.select(a.c.address, a.c.undeliverable, a.c.confirmation).where(
                a.c.channel == channel,
                a.c.address.in_(chunk),
                sa.or_(a.c.undeliverable, a.c.confirmation.is_not(None)),
            )
        ):
            delivery[key] = (bool(undeliverable), ConfirmationState(confirmation) if confirmation else None)
        hashes = {account.address_hash(channel, key): key for key in chunk}
        erased.update(
            hashes[h]
            for h in conn.execute(
                sa.select(e.c.address_hash).where(e.c.channel == channel, e.c.address_hash.in_(list(hashes)))
            ).scalars()
        )
    found: dict[str, FactsKey] = {}
    for key in status.keys() | wide | delivery.keys() | erased:
        undeliverable, confirmation = delivery.get(key, (False, None))
        found[key] = (
            status.get(key, Status.NOT_SPECIFIED),
            key in wide,
            undeliverable,
            confirmation,
            key in erased,
        )
    return found
