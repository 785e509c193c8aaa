"""Reading what the rules need: the policy, the types, and per-address state in sets."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from assent.domain.addresses import Address, InvalidAddress, normalize
from assent.domain.keywords import RevocationPolicy
from assent.domain.model import ActorClass, Channel, ConfirmationState, Policy, Source, Status, WideOptOut
from assent.domain.quiet_hours import QUIET_HOURS_CHANNELS, QuietWindow, parse_window
from assent.domain.rules import TypeFacts
from assent.services.errors import Invalid, NotFound
from assent.storage import tables as t
from assent.storage.db import PHONE_REGION_FALLBACK, FixedSQL, driver_fetchall


@dataclass(frozen=True, slots=True)
class Account:
    """The account settings as the services need them, read fresh per transaction (R12)."""

    policy: Policy
    hash_key: bytes
    default_phone_region: str | None
    sms_numbers: dict[str, int]
    sms_revocation_policy: RevocationPolicy = RevocationPolicy.OPT_OUT

    def address_hash(self, channel: Channel | str, key: str) -> str:
        """A keyed hash naming an address without revealing it (ledger key, erasures)."""
        return hashlib.blake2b(f"{channel}:{key}".encode(), key=self.hash_key, digest_size=16).hexdigest()

    def address_hasher(self, channel: Channel | str) -> Callable[[str], str]:
        """`address_hash` of one channel for many keys: the keyed hash state is made once
        and copied per key (keying BLAKE2 costs a third of hashing a short address)."""
        base = hashlib.blake2b(f"{channel}:".encode(), key=self.hash_key, digest_size=16)

        def hash_of(key: str) -> str:
            hasher = base.copy()
            hasher.update(key.encode())
            return hasher.hexdigest()

        return hash_of

    def normalize_raw(self, channel: Channel, raw: str) -> Address:
        """Normalize, raising InvalidAddress (for set-based paths that report per row)."""
        return normalize(channel, raw, self.default_phone_region)

    def normalize(self, channel: Channel, raw: str, field: str = "address") -> Address:
        """Normalize, or a 422 naming `field` (R1)."""
        try:
            return normalize(channel, raw, self.default_phone_region)
        except InvalidAddress as error:
            raise Invalid(field, error.reason, "INVALID_ADDRESS") from None


def load_account(conn: Connection) -> Account:
    """The account settings and the units' double opt-in overrides, in one statement."""
    [row] = driver_fetchall(conn, _ACCOUNT[conn.dialect.name], {})
    return _account(conn, row)


def phone_region(conn: Connection | Engine, stored: str | None) -> str | None:
    """The region national phone numbers are read in: the account setting wins; unset,
    ASSENT_DEFAULT_PHONE_REGION (carried by the engine) applies. Every reader of the
    setting asks this."""
    fallback: str | None = conn.get_execution_options().get(PHONE_REGION_FALLBACK)
    return stored or fallback


@dataclass(frozen=True, slots=True)
class SubscriptionType:
    id: int
    business_unit_id: int
    channel: Channel
    name: str
    is_active: bool

    @property
    def facts(self) -> TypeFacts:
        return TypeFacts(self.channel, self.business_unit_id, self.is_active)


def load_types(conn: Connection, ids: Collection[int] | None = None) -> dict[int, SubscriptionType]:
    query = sa.select(
        t.subscription_types.c.id,
        t.subscription_types.c.business_unit_id,
        t.subscription_types.c.channel,
        t.subscription_types.c.name,
        t.subscription_types.c.is_active,
    )
    if ids is not None:
        query = query.where(t.subscription_types.c.id.in_(list(ids)))
    return {
        r.id: SubscriptionType(r.id, r.business_unit_id, Channel(r.channel), r.name, r.is_active)
        for r in conn.execute(query)
    }


def load_type(conn: Connection, type_id: int, field: str = "subscription_type_id") -> SubscriptionType:
    found = load_types(conn, [type_id]).get(type_id)
    if found is None:
        raise Invalid(field, f"subscription type {type_id} does not exist", "UNKNOWN_SUBSCRIPTION_TYPE")
    return found


@dataclass(frozen=True, slots=True)
class DecisionBasis:
    """What a decision for one type needs besides the address's own state: the account,
    the type, and (SMS, WhatsApp) its unit's sending window — read fresh, in one statement."""

    account: Account
    type_: SubscriptionType
    quiet: QuietWindow | None


#: The account settings and the units' double opt-in overrides (`load_account`), with the
#: type and its unit's sending windows (`load_decision_basis`; a single decision reads it
#: joined with the address's state: `decisions.decide_one`). Driver SQL on the driver's
#: cursor (`driver_fetchall`): no statement is built or compiled per call, and SQLAlchemy
#: does not handle its result.
_ACCOUNT_COLUMNS = """
a.data_privacy_mode, a.consent_required_to_send, a.double_opt_in, a.hash_key,
a.default_phone_region, a.sms_numbers, a.sms_revocation_policy,
(SELECT {overrides} FROM business_units b WHERE b.double_opt_in IS NOT NULL) AS overrides
"""
_ACCOUNT_SQL = f"SELECT {_ACCOUNT_COLUMNS} FROM account_settings a WHERE a.id = 1"
_BASIS_SQL = f"""
SELECT {_ACCOUNT_COLUMNS}, st.id, st.business_unit_id, st.channel, st.name, st.is_active, u.quiet_hours
FROM account_settings a
LEFT JOIN subscription_types st ON st.id = {{type_id}}
LEFT JOIN business_units u ON u.id = st.business_unit_id
WHERE a.id = 1
"""
_OVERRIDES = {
    "sqlite": "json_group_array(json_array(b.id, b.double_opt_in))",
    "postgresql": "json_agg(json_build_array(b.id, b.double_opt_in))",
}
_ACCOUNT = {dialect: _ACCOUNT_SQL.format(overrides=overrides) for dialect, overrides in _OVERRIDES.items()}
#: by dialect, with the type's id as the parameter `type_id` in the dialect's own placeholder
BASIS_SQL = {
    "sqlite": _BASIS_SQL.format(overrides=_OVERRIDES["sqlite"], type_id=":type_id"),
    "postgresql": _BASIS_SQL.format(overrides=_OVERRIDES["postgresql"], type_id="%(type_id)s"),
}
#: the columns of a row of BASIS_SQL
BASIS_COLUMNS = 14


def _json(value: Any) -> Any:
    """A JSON column or aggregate as the driver returns it: text on SQLite, parsed on PostgreSQL."""
    return json.loads(value) if isinstance(value, str | bytes) else value


def _account(conn: Connection | Engine, row: Sequence[Any]) -> Account:
    """The Account of a row that starts with `_ACCOUNT_COLUMNS`."""
    (privacy, consent, doi, hash_key, region, sms_numbers, revocation, overrides) = row[:8]
    policy = Policy(
        data_privacy_mode=bool(privacy),
        consent_required_to_send=bool(consent),
        double_opt_in=bool(doi),
        double_opt_in_by_business_unit={int(bu): bool(value) for bu, value in _json(overrides) or ()},
    )
    region = phone_region(conn, region)
    return Account(policy, bytes.fromhex(hash_key), region, dict(_json(sms_numbers)), RevocationPolicy(revocation))


def load_decision_basis(conn: Connection, type_id: int, field: str = "subscription_type_id") -> DecisionBasis:
    """`load_account`, `load_type` and (for SMS and WhatsApp) `load_quiet_window`, as one
    statement: the same values, one round trip."""
    [row] = driver_fetchall(conn, BASIS_SQL[conn.dialect.name], {"type_id": type_id})
    return decision_basis(conn, row, type_id, field)


def decision_basis(
    conn: Connection | Engine, row: Sequence[Any], type_id: int, field: str = "subscription_type_id"
) -> DecisionBasis:
    """The basis from a row whose first BASIS_COLUMNS are BASIS_SQL's; a 422 naming `field`
    when the type does not exist. No I/O: `conn` is where the row was read, for the
    execution options it carries (the phone region's fallback)."""
    (found_id, bu_id, channel, name, is_active, quiet_hours) = row[8:BASIS_COLUMNS]
    if found_id is None:
        raise Invalid(field, f"subscription type {type_id} does not exist", "UNKNOWN_SUBSCRIPTION_TYPE")
    account = _account(conn, row)
    type_ = SubscriptionType(found_id, bu_id, Channel(channel), name, bool(is_active))
    quiet = None
    if type_.channel in QUIET_HOURS_CHANNELS:
        quiet = parse_window((_json(quiet_hours) or {}).get(type_.channel.value))
    return DecisionBasis(account, type_, quiet)


def load_quiet_window(conn: Connection, bu_id: int, channel: Channel) -> QuietWindow | None:
    """The unit's sending window for an SMS or WhatsApp channel, if it set one (R28)."""
    bu = t.business_units
    stored = conn.execute(sa.select(bu.c.quiet_hours).where(bu.c.id == bu_id)).scalar()
    return parse_window((stored or {}).get(channel.value))


def require_business_unit(conn: Connection, bu_id: int, field: str = "business_unit_id") -> None:
    exists = conn.execute(sa.select(t.business_units.c.id).where(t.business_units.c.id == bu_id)).first()
    if exists is None:
        raise Invalid(field, f"business unit {bu_id} does not exist", "UNKNOWN_BUSINESS_UNIT")


def require_contact(conn: Connection, contact_id: int) -> sa.Row[tuple[object, ...]]:
    row = conn.execute(sa.select(t.contacts).where(t.contacts.c.id == contact_id)).first()
    if row is None:
        raise NotFound("Contact", contact_id)
    return row


# --- per-address state, loaded for many addresses in one query each ---------------------


_STATUS = {status.value: status for status in Status}  # per row of a batch: a dict, not Status(…)


# Each lookup is one statement of fixed text (`FixedSQL`): a writer makes four of them for
# every batch, and SQLAlchemy's building, compiling and result handling cost three times
# what SQLite does for a batch of 100.
def _by_address(columns: str) -> FixedSQL:
    """The stored statuses of some addresses and types, read by the primary key (address,
    type). On PostgreSQL the types are compared as `subscription_type_id + 0`: they must not
    lead it to the (type, status, address) index, whose scan reads every row of the types
    (an index-only scan it prices cheaper than probing the primary key with each address,
    and which grows with the table)."""
    sql = f"SELECT {columns} FROM subscription_statuses WHERE address IN :keys AND subscription_type_id IN :types"
    return FixedSQL(sql, postgresql=sql.replace("subscription_type_id IN", "subscription_type_id + 0 IN"))


_STATUSES = _by_address("address, subscription_type_id, status")


def load_statuses(conn: Connection, keys: Collection[str], type_ids: Collection[int]) -> dict[tuple[str, int], Status]:
    if not keys or not type_ids:
        return {}
    rows = _STATUSES.fetchall(conn, keys=keys, types=type_ids)
    return {(address, type_id): _STATUS[status] for address, type_id, status in rows}


_STATUS_ROWS = _by_address(
    "address, subscription_type_id, status, legal_basis, legal_basis_explanation, source, updated_at"
)
_UTC = t.UTCDateTime()

#: a stored status with its evidence: status, legal_basis, legal_basis_explanation, source, updated_at
StoredStatus = tuple[Status, str | None, str | None, str | None, dt.datetime]


def load_status_rows(
    conn: Connection, keys: Collection[str], type_ids: Collection[int]
) -> dict[tuple[str, int], StoredStatus]:
    """`load_statuses` with each status's evidence and time (an aware UTC datetime)."""
    if not keys or not type_ids:
        return {}
    dialect = conn.dialect
    moment = _UTC.process_result_value
    return {
        (address, type_id): (_STATUS[status], basis, explanation, source, moment(at, dialect))  # type: ignore[misc]
        for address, type_id, status, basis, explanation, source, at in _STATUS_ROWS.fetchall(
            conn, keys=keys, types=type_ids
        )
    }


# not `at`: a datetime parsed per row for nothing (a re-imported list reads every one)
_WIDE_SQL = (
    "SELECT address, business_unit_id, set_by, source FROM wide_opt_outs WHERE channel = :channel AND address IN :keys"
)
_WIDE = FixedSQL(_WIDE_SQL)
_WIDE_OF_UNITS = FixedSQL(_WIDE_SQL + " AND business_unit_id IN :units")


def load_wide_opt_outs(
    conn: Connection, channel: Channel, keys: Collection[str], bu_ids: Collection[int] | None = None
) -> dict[tuple[str, int], WideOptOut]:
    if not keys:
        return {}
    if bu_ids is None:
        rows = _WIDE.fetchall(conn, channel=channel.value, keys=keys)
    else:
        rows = _WIDE_OF_UNITS.fetchall(conn, channel=channel.value, keys=keys, units=bu_ids)
    # a few distinct values over a whole batch: one (immutable) object for each
    made: dict[tuple[int, str, str], WideOptOut] = {}
    found: dict[tuple[str, int], WideOptOut] = {}
    for address, bu_id, set_by, source in rows:
        wide = made.get((bu_id, set_by, source))
        if wide is None:
            wide = made[(bu_id, set_by, source)] = WideOptOut(bu_id, ActorClass(set_by), Source(source))
        found[(address, bu_id)] = wide
    return found


@dataclass(frozen=True, slots=True)
class AddressFacts:
    undeliverable: bool = False
    confirmation: ConfirmationState | None = None
    has_processing_basis: bool = False


_FACTS = FixedSQL(
    "SELECT address, undeliverable, confirmation, processing_legal_basis FROM addresses"
    " WHERE channel = :channel AND address IN :keys"
)


def load_address_facts(conn: Connection, channel: Channel, keys: Collection[str]) -> dict[str, AddressFacts]:
    if not keys:
        return {}
    rows = _FACTS.fetchall(conn, channel=channel.value, keys=keys)
    # a few distinct facts over a whole batch: one (immutable) object for each
    made: dict[tuple[bool, str | None, bool], AddressFacts] = {}
    found = {}
    for address, undeliverable, confirmation, basis in rows:
        shape = (bool(undeliverable), confirmation or None, basis is not None)
        facts = made.get(shape)
        if facts is None:
            facts = made[shape] = AddressFacts(
                shape[0], ConfirmationState(confirmation) if confirmation else None, shape[2]
            )
        found[address] = facts
    return found


_ERASED = FixedSQL("SELECT address_hash FROM erasures WHERE channel = :channel AND address_hash IN :hashes")


def load_erased(
    conn: Connection,
    account: Account,
    channel: Channel,
    keys: Iterable[str],
    hash_of: Callable[[Channel, str], str] | None = None,
) -> set[str]:
    """The keys among `keys` that were erased (R22). `hash_of`: the caller's memo of
    `account.address_hash`, when it needs the hashes again (a writer's events)."""
    hash_of = hash_of or account.address_hash
    by_hash = {hash_of(channel, key): key for key in keys}
    if not by_hash:
        return set()
    return {by_hash[address_hash] for (address_hash,) in _ERASED.fetchall(conn, channel=channel.value, hashes=by_hash)}
