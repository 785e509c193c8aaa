"""What a person's preference center shows for one business unit and channel: every active
type with its status and whether its box is ticked (R13, `rules.shows_ticked`), and the
wide opt-out in force. Read by the page and by the Save action, in their transactions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from assent.domain.addresses import Address
from assent.domain.model import Status, WideOptOut
from assent.domain.rules import TypeFacts, shows_ticked
from assent.services import catalog
from assent.services.state import Account, load_account, load_statuses, load_wide_opt_outs


@dataclass(frozen=True, slots=True)
class TypeState:
    row: dict[str, Any]  # the catalog's type (names, translations)
    status: Status
    ticked: bool

    @property
    def id(self) -> int:
        return int(self.row["id"])


@dataclass(frozen=True, slots=True)
class PreferenceState:
    account: Account
    types: list[TypeState]
    wide: WideOptOut | None


def load_preferences(conn: Connection, address: Address, business_unit_id: int) -> PreferenceState:
    account = load_account(conn)
    rows = catalog.list_subscription_types(conn, business_unit_id=business_unit_id, channel=address.channel.value)
    statuses = load_statuses(conn, {address.key}, [r["id"] for r in rows])
    wides = load_wide_opt_outs(conn, address.channel, {address.key}, [business_unit_id])
    types = []
    for row in rows:
        status = statuses.get((address.key, row["id"]), Status.NOT_SPECIFIED)
        facts = TypeFacts(address.channel, row["business_unit_id"], True)
        types.append(TypeState(row, status, shows_ticked(status, facts, account.policy)))
    return PreferenceState(account, types, wides.get((address.key, business_unit_id)))
