"""What a person's preference center shows for one business unit and channel: every active
type with its status and how its box shows (R13, `rules.preference_box`: under a wide
opt-out no box is ticked, since nothing is sent), the wide opt-out in force, and whether the
person may lift it on this page (`rules.may_lift_wide_opt_out`, R8). Read by the page and
by the Save action, in their transactions; the admin's preview reads `blank_preferences`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from assent.domain.addresses import Address
from assent.domain.model import Actor, Channel, Source, Status, Verdict, WideOptOut
from assent.domain.rules import PreferenceBox, TypeFacts, may_lift_wide_opt_out, preference_box
from assent.services import catalog
from assent.services.state import Account, load_account, load_statuses, load_wide_opt_outs

#: who acts on the preference page: the person themself (R8, R13)
PAGE_ACTOR = Actor(Source.PREFERENCE_CENTER)


@dataclass(frozen=True, slots=True)
class TypeState:
    row: dict[str, Any]  # the catalog's type (names, translations)
    status: Status
    box: PreferenceBox

    @property
    def id(self) -> int:
        return int(self.row["id"])

    @property
    def ticked(self) -> bool:
        return self.box.ticked


@dataclass(frozen=True, slots=True)
class PreferenceState:
    account: Account
    types: list[TypeState]
    wide: WideOptOut | None

    @property
    def lift(self) -> Verdict | None:
        """May the person lift the wide opt-out here (R8)? None without one."""
        return may_lift_wide_opt_out(self.wide, PAGE_ACTOR) if self.wide is not None else None


def load_preferences(conn: Connection, address: Address, business_unit_id: int) -> PreferenceState:
    account = load_account(conn)
    rows = catalog.list_subscription_types(conn, business_unit_id=business_unit_id, channel=address.channel.value)
    statuses = load_statuses(conn, {address.key}, [r["id"] for r in rows])
    wide = load_wide_opt_outs(conn, address.channel, {address.key}, [business_unit_id]).get(
        (address.key, business_unit_id)
    )
    types = []
    for row in rows:
        status = statuses.get((address.key, row["id"]), Status.NOT_SPECIFIED)
        facts = TypeFacts(address.channel, row["business_unit_id"], True)
        types.append(
            TypeState(row, status, preference_box(status, facts, account.policy, wide_opt_out=wide is not None))
        )
    return PreferenceState(account, types, wide)


def blank_preferences(
    conn: Connection, channel: Channel, business_unit_id: int, *, also: int | None = None
) -> PreferenceState:
    """The page as a person with no choices yet sees it (the admin's preview); `also` adds
    one archived type, shown where it would stand."""
    account = load_account(conn)
    rows = catalog.list_subscription_types(
        conn, business_unit_id=business_unit_id, channel=channel.value, include_inactive=also is not None
    )
    rows = [r for r in rows if r["is_active"] or r["id"] == also]
    facts = TypeFacts(channel, business_unit_id, True)
    box = preference_box(Status.NOT_SPECIFIED, facts, account.policy, wide_opt_out=False)
    return PreferenceState(account, [TypeState(row, Status.NOT_SPECIFIED, box) for row in rows], None)
