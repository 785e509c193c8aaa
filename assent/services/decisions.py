"""May we send this? (R11, R12) — for one address, a batch, or a stream of millions.

The rule is `rules.decide`, evaluated once per combination of facts (`decision_table`); this
module only fetches facts. It fetches only those that can change an answer: which stored
values matter is read off the decision table (`relevance`) — with data privacy mode off, a
SUBSCRIBED email status decides the same as none, so only UNSUBSCRIBED rows are read. The SQL
below therefore holds no rule, only generated lists of the values worth reading.

Two ways to read them, same answers (tests/decisions check both):
- lookup: the keys go to the database as one array parameter and one query joins them with
  the state tables — a single decision, a batch, a short stream;
- preload: the state worth reading for the type is read once (usually a few percent of all
  addresses) and kept for the stream, so each further key costs a dict lookup. Long streams
  only, and only while it stays within a row budget.

Everything is read in the caller's transaction, so a decision reflects every change committed
before it began (R12); nothing is cached between requests.

Quiet hours (R28) are asked only for SMS and WhatsApp types whose unit set a sending window
for that channel: the clock is read here, once per Decider, and the window rule
(`domain.quiet_hours.check_window`) is asked once per distinct set of time zones. Every other
type — all email — skips it with one comparison.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from assent.domain.addresses import Address, InvalidAddress, normalize
from assent.domain.model import Channel, ConfirmationState, Reason, Status
from assent.domain.quiet_hours import QUIET_HOURS_CHANNELS, QuietVerdict, QuietWindow, check_window, zone_names, zones
from assent.domain.rules import FactsKey, TypeFacts, decision_table, policy_key
from assent.services.errors import Collected
from assent.services.state import (
    BASIS_COLUMNS,
    BASIS_SQL,
    Account,
    SubscriptionType,
    decision_basis,
    load_decision_basis,
    load_quiet_window,
)
from assent.storage import tables as t
from assent.storage.db import Database, driver_fetchall

DEFAULT_FACTS: FactsKey = (Status.NOT_SPECIFIED, False, False, None, False)
_STATUS, _WIDE, _UNDELIVERABLE, _CONFIRMATION, _ERASED = range(5)
#: keys per lookup query: one array parameter, far below every driver's limits
LOOKUP_CHUNK = 20_000
_LARGE_LOOKUP = 500
_LOOKUP_WORK_MEM = "64MB"
_QUIET = (Reason.QUIET_HOURS,)


class _Unread:
    """Not read yet (as opposed to None: read, and there is no window)."""


_UNREAD = _Unread()

#: index → when sending may start (None: the window never opens for that number)
Deferrals = dict[int, dt.datetime | None]


@dataclass(frozen=True, slots=True)
class Relevance:
    """The stored values that can change a decision, beyond the defaults."""

    statuses: tuple[Status, ...]
    wide_opt_out: bool
    undeliverable: bool
    confirmations: tuple[ConfirmationState, ...]
    erased: bool


EVERYTHING = Relevance((Status.SUBSCRIBED, Status.UNSUBSCRIBED), True, True, tuple(ConfirmationState), True)


def relevance(table: dict[FactsKey, tuple[Reason, ...]]) -> Relevance:
    """Which non-default values of each fact change some answer of `table`.

    A value is irrelevant when, whatever the other facts, the answer is the same as with the
    default value in its place; reading such a value as the default changes no decision.
    """

    def matters(position: int, value: object) -> bool:
        return any(
            table[facts] != table[_replaced(facts, position, value)]
            for facts in table
            if facts[position] == DEFAULT_FACTS[position]
        )

    return Relevance(
        statuses=tuple(s for s in Status if s is not Status.NOT_SPECIFIED and matters(_STATUS, s)),
        wide_opt_out=matters(_WIDE, True),
        undeliverable=matters(_UNDELIVERABLE, True),
        confirmations=tuple(c for c in ConfirmationState if matters(_CONFIRMATION, c)),
        erased=matters(_ERASED, True),
    )


def _replaced(facts: FactsKey, position: int, value: object) -> FactsKey:
    return cast(FactsKey, (*facts[:position], value, *facts[position + 1 :]))


class Verdicts:
    """What the decisions of one subscription type are made of once its facts are read:
    the decision table, the unit's sending window and the clock. No I/O (`Decider` reads)."""

    def __init__(
        self,
        account: Account,
        type_: SubscriptionType,
        sqlite: bool,
        relevant: Relevance | None = None,
        now: dt.datetime | None = None,
        quiet: QuietWindow | None = None,
    ) -> None:
        self.type_ = type_
        self.channel = type_.channel.value
        plan = _plan(type_.facts, policy_key(account.policy), relevant, sqlite)
        self.table, self.relevant, self._lookup_statements, self._intern = plan
        self.default = self.table[DEFAULT_FACTS]
        self._hasher = hashlib.blake2b(key=account.hash_key, digest_size=16)
        self._hasher.update(f"{self.channel}:".encode())
        self.quiet: QuietWindow | None = None
        if type_.channel in QUIET_HOURS_CHANNELS:
            self.quiet = quiet
            self.now = now or t.now()  # the clock is read here, never in the domain
            self._quiet_verdicts: dict[tuple[str, ...], QuietVerdict] = {}

    def address_hash(self, key: str) -> str:
        """`Account.address_hash`, with the keyed prefix hashed once instead of per key."""
        hasher = self._hasher.copy()
        hasher.update(key.encode())
        return hasher.hexdigest()

    def _answers(
        self, facts: dict[int, FactsKey], keys: Sequence[str], deferred: Deferrals | None
    ) -> list[tuple[Reason, ...]]:
        answers = [self.default] * len(keys)
        table = self.table
        for index, known in facts.items():
            answers[index] = table[known]
        if self.quiet is not None:
            found = self.deferrals(keys)
            for index in found:
                answers[index] += _QUIET
            if deferred is not None:
                deferred.update(found)
        return answers

    def deferrals(self, keys: Sequence[str | None]) -> Deferrals:
        """index → `defer_until` for the keys outside the unit's sending window now (R28),
        in every time zone of the number (the most restrictive wins)."""
        window = self.quiet
        if window is None:
            return {}
        verdicts = self._quiet_verdicts
        found: Deferrals = {}
        for index, key in enumerate(keys):
            if key is None:
                continue
            names = zone_names(key)
            verdict = verdicts.get(names)
            if verdict is None:
                verdict = verdicts[names] = check_window(window, [self.now.astimezone(z) for z in zones(names)])
            if not verdict.allowed:
                found[index] = verdict.defer_until
        return found

    def _facts_of(self, row: Sequence[Any]) -> FactsKey:
        """The facts of a lookup row: (ordinal, status, wide, undeliverable, confirmation, erased)."""
        _, status, wide, undeliverable, confirmation, erased = row
        return self._intern[
            (
                Status(status) if status else Status.NOT_SPECIFIED,
                bool(wide),
                bool(undeliverable),
                ConfirmationState(confirmation) if confirmation else None,
                bool(erased),
            )
        ]


class Decider(Verdicts):
    """Decisions for one subscription type, read in the caller's transaction."""

    def __init__(
        self,
        conn: Connection,
        account: Account,
        type_: SubscriptionType,
        relevant: Relevance | None = None,
        now: dt.datetime | None = None,
        quiet: QuietWindow | _Unread | None = _UNREAD,
    ) -> None:
        """`quiet`: the unit's sending window for the type's channel, if the caller has read
        it already (`state.load_decision_basis`); else it is read here when it can matter."""
        if isinstance(quiet, _Unread):
            quiet = (
                load_quiet_window(conn, type_.business_unit_id, type_.channel)
                if type_.channel in QUIET_HOURS_CHANNELS
                else None
            )
        super().__init__(account, type_, conn.dialect.name == "sqlite", relevant, now, quiet)
        self.conn = conn
        self._state: dict[str, FactsKey] | None = None
        self._tuned = False
        self._erased: set[bytes] = set()  # digests, not hex: compared in the hot loop

    # --- answers ------------------------------------------------------------------------

    def reasons(self, keys: Sequence[str], deferred: Deferrals | None = None) -> list[tuple[Reason, ...]]:
        """Every key's reasons; keys in quiet hours also go into `deferred` if given."""
        return self._answers(self.facts(keys), keys, deferred)

    def exceptions(
        self, keys: Sequence[str | None], deferred: Deferrals | None = None
    ) -> dict[int, tuple[Reason, ...]]:
        """index → reasons for the keys whose answer may differ from `self.default`
        (every other key, None excepted, gets `self.default`). Keys in quiet hours are among
        them, and go into `deferred` if given."""
        table = self.table
        answers = {index: table[facts] for index, facts in self.facts(keys).items()}
        if self.quiet is not None:
            found = self.deferrals(keys)
            for index in found:
                answers[index] = answers.get(index, self.default) + _QUIET
            if deferred is not None:
                deferred.update(found)
        return answers

    def facts(self, keys: Sequence[str | None]) -> dict[int, FactsKey]:
        """index → facts for the keys with relevant stored state; None keys are skipped."""
        if self._state is not None:
            return self._preloaded_facts(keys)
        found: dict[int, FactsKey] = {}
        for start in range(0, len(keys), LOOKUP_CHUNK):
            chunk = keys[start : start + LOOKUP_CHUNK]
            for index, facts in self._lookup(chunk).items():
                found[start + index] = facts
        return found

    def _params(self) -> dict[str, Any]:
        return {"type_id": self.type_.id, "channel": self.channel, "business_unit_id": self.type_.business_unit_id}

    # --- lookup -------------------------------------------------------------------------

    def _lookup(self, keys: Sequence[str | None]) -> dict[int, FactsKey]:
        # Sorted keys walk the indexes in order: far fewer page visits on large inputs.
        present = {i: key for i, key in enumerate(keys) if key is not None}
        order = sorted(present, key=present.__getitem__)
        if not order:
            return {}
        items = [self.address_hash(present[i]) + present[i] for i in order]
        sqlite = self.conn.dialect.name == "sqlite"
        if not sqlite and len(items) >= _LARGE_LOOKUP and not self._tuned:
            # Many keys: PostgreSQL hashes the state worth reading and probes it with the keys.
            # Keep those hash tables in memory, and plan for this array, not a generic one
            # (psycopg prepares repeated statements; a plan made for one key would probe
            # the indexes ten thousand times).
            self.conn.exec_driver_sql(f"SET LOCAL work_mem = '{_LOOKUP_WORK_MEM}'")
            self.conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_custom_plan")
            self._tuned = True
        many, single, _ = self._lookup_statements
        if len(order) == 1:
            params = {**self._params(), "key": present[order[0]], "hash": items[0][:32]}
            rows = driver_fetchall(self.conn, single, params)
        else:
            params = {**self._params(), "items": json.dumps(items) if sqlite else items}
            rows = driver_fetchall(self.conn, many, params)
        return {order[row[0]]: self._facts_of(row) for row in rows}

    # --- preload ------------------------------------------------------------------------

    def preload(self, budget: int) -> bool:
        """Read all the relevant state of this type's channel and business unit, if it is at
        most `budget` rows; afterwards every key is answered from memory. False (nothing is
        kept) over budget: lookups it is."""
        state: dict[str, FactsKey] = {}
        erased: set[bytes] = set()
        rows = 0
        for position, query in _preload_queries(self.relevant):
            result = self.conn.execution_options(yield_per=10_000).execute(sa.text(query), self._params())
            for partition in result.partitions():
                rows += len(partition)
                if rows > budget:
                    result.close()
                    return False
                if position == _ERASED:
                    erased.update(bytes.fromhex(row[0]) for row in partition)
                else:
                    self._merge(state, position, partition)
        self._state, self._erased = state, erased
        return True

    def _merge(self, state: dict[str, FactsKey], position: int, rows: Iterable[Any]) -> None:
        intern, default = self._intern, DEFAULT_FACTS
        for row in rows:
            key = row[0]
            if position == _STATUS:
                value: object = Status(row[1])
            elif position == _CONFIRMATION:
                value = ConfirmationState(row[1])
            else:
                value = True
            state[key] = intern[_replaced(state.get(key, default), position, value)]

    def _preloaded_facts(self, keys: Sequence[str | None]) -> dict[int, FactsKey]:
        assert self._state is not None
        get = self._state.get
        if not self._erased:
            return {index: facts for index, key in enumerate(keys) if (facts := get(key)) is not None}  # type: ignore[arg-type]
        found: dict[int, FactsKey] = {}
        # Every key is hashed to be looked for among the erased: the hot loop of a long
        # stream, so `address_hash` is inlined and compares raw digests.
        erased, start, intern = self._erased, self._hasher.copy, self._intern
        for index, key in enumerate(keys):
            if key is None:
                continue
            facts = get(key)
            hasher = start()
            hasher.update(key.encode())
            if hasher.digest() in erased:
                facts = intern[_replaced(facts or DEFAULT_FACTS, _ERASED, True)]
            if facts is not None:
                found[index] = facts
        return found


_Plan = tuple[dict[FactsKey, tuple[Reason, ...]], Relevance, tuple[str, str, str], dict[FactsKey, FactsKey]]


@lru_cache(maxsize=256)
def _plan(type_facts: TypeFacts, policy: tuple[object, ...], relevant: Relevance | None, sqlite: bool) -> _Plan:
    """What a Decider needs that depends only on the type and the policy, worked out once."""
    table = decision_table(type_facts, policy)
    relevant = relevant or relevance(table)
    # Run as driver SQL on the driver's cursor (`driver_fetchall`): a single decision spends
    # most of its time in SQLAlchemy otherwise.
    basis = BASIS_SQL["sqlite" if sqlite else "postgresql"]
    many, single, one = (
        _lookup_sql(relevant, sqlite, single, with_basis).text
        for single, with_basis in ((False, None), (True, None), (True, basis))
    )
    if not sqlite:  # psycopg's placeholders
        many, single, one = (_PARAMETER.sub(r"%(\1)s", sql) for sql in (many, single, one))
    return table, relevant, (many, single, one), {facts: facts for facts in table}


_PARAMETER = re.compile(r":(items|key|hash|type_id|channel|business_unit_id)\b")


def _quoted(values: Iterable[str]) -> str:
    # Only enum values of our own reach here, never input.
    return ", ".join(f"'{value}'" for value in values)


def _where_in(column: str, values: Sequence[str]) -> str:
    # `= x` for one value, so SQLite sees the exact term of a partial index's WHERE
    return f"{column} = '{values[0]}'" if len(values) == 1 else f"{column} IN ({_quoted(values)})"


def _lookup_sql(relevant: Relevance, sqlite: bool, single: bool = False, basis: str | None = None) -> sa.TextClause:
    """One query: the given keys joined with the state worth reading (see `relevance`).

    Each item is an address hash (32 hex digits) followed by its key: one array parameter,
    which SQLite reads with json_each and PostgreSQL with unnest. A single key comes as two
    plain parameters instead: PostgreSQL can then keep one plan for every single decision
    rather than plan each one (the array form's plan depends on the array's length).

    With `basis` (a single key, `state.BASIS_SQL`): one row, always — the basis's columns,
    then the key's, whether or not it has state worth reading (`decide_one`).
    """
    if single:
        keys = "(SELECT 0 AS ord, CAST(:hash AS TEXT) AS hash, CAST(:key AS TEXT) AS key)"
    elif sqlite:
        keys = (
            "(SELECT CAST(j.key AS INTEGER) AS ord, substr(j.value, 1, 32) AS hash, substr(j.value, 33) AS key"
            " FROM json_each(:items) AS j)"
        )
    else:
        keys = (
            "(SELECT CAST(u.ord AS INTEGER) - 1 AS ord, substr(u.item, 1, 32) AS hash, substr(u.item, 33) AS key"
            " FROM unnest(CAST(:items AS TEXT[])) WITH ORDINALITY AS u(item, ord))"
        )
    columns, joins, present = ["k.ord"], [], []
    if relevant.statuses:
        columns.append("s.status")
        joins.append(
            "LEFT JOIN subscription_statuses s ON s.address = k.key AND s.subscription_type_id = :type_id"
            f" AND {_where_in('s.status', [s.value for s in relevant.statuses])}"
        )
        present.append("s.address IS NOT NULL")
    else:
        columns.append("NULL")
    if relevant.wide_opt_out:
        columns.append("w.address IS NOT NULL")
        joins.append(
            "LEFT JOIN wide_opt_outs w ON w.address = k.key AND w.channel = :channel"
            " AND w.business_unit_id = :business_unit_id"
        )
        present.append("w.address IS NOT NULL")
    else:
        columns.append("NULL")
    # Two joins rather than one with an OR, each answered by a small partial index (migration
    # 0005). SQLite prefers the primary key (unique) unless told: one descent of a small
    # index instead of two of the big ones, measured about twice as fast.
    if relevant.undeliverable:
        hint = " INDEXED BY ix_addresses_undeliverable" if sqlite else ""
        columns.append("u.address IS NOT NULL")
        joins.append(f"LEFT JOIN addresses u{hint} ON u.channel = :channel AND u.address = k.key AND u.undeliverable")
        present.append("u.address IS NOT NULL")
    else:
        columns.append("NULL")
    if relevant.confirmations:
        values = [c.value for c in relevant.confirmations]
        pending_only = values == [ConfirmationState.PENDING.value]
        hint = " INDEXED BY ix_addresses_pending" if sqlite and pending_only else ""
        columns.append("p.confirmation")
        joins.append(
            f"LEFT JOIN addresses p{hint} ON p.channel = :channel AND p.address = k.key"
            f" AND {_where_in('p.confirmation', values)}"
        )
        present.append("p.address IS NOT NULL")
    else:
        columns.append("NULL")
    if relevant.erased:
        columns.append("e.address_hash IS NOT NULL")
        joins.append("LEFT JOIN erasures e ON e.address_hash = k.hash AND e.channel = :channel")
        present.append("e.address_hash IS NOT NULL")
    else:
        columns.append("NULL")
    if basis is not None:
        return sa.text(f"SELECT b.*, {', '.join(columns)} FROM ({basis}) AS b CROSS JOIN {keys} AS k {' '.join(joins)}")
    if not present:
        return sa.text("SELECT 0, NULL, NULL, NULL, NULL, NULL WHERE 1 = 0")
    return sa.text(f"SELECT {', '.join(columns)} FROM {keys} AS k {' '.join(joins)} WHERE {' OR '.join(present)}")


def _preload_queries(relevant: Relevance) -> list[tuple[int, str]]:
    queries = []
    if relevant.statuses:
        queries.append(
            (
                _STATUS,
                "SELECT address, status FROM subscription_statuses WHERE subscription_type_id = :type_id"
                f" AND {_where_in('status', [s.value for s in relevant.statuses])}",
            )
        )
    if relevant.wide_opt_out:
        queries.append(
            (
                _WIDE,
                "SELECT address FROM wide_opt_outs WHERE channel = :channel AND business_unit_id = :business_unit_id",
            )
        )
    if relevant.undeliverable:
        queries.append((_UNDELIVERABLE, "SELECT address FROM addresses WHERE channel = :channel AND undeliverable"))
    if relevant.confirmations:
        values = [c.value for c in relevant.confirmations]
        queries.append(
            (
                _CONFIRMATION,
                "SELECT address, confirmation FROM addresses"
                f" WHERE channel = :channel AND {_where_in('confirmation', values)}",
            )
        )
    if relevant.erased:
        queries.append((_ERASED, "SELECT address_hash FROM erasures WHERE channel = :channel"))
    return queries


# --- the service functions other modules call ------------------------------------------


@dataclass(frozen=True, slots=True)
class OneDecision:
    address: Address
    type_: SubscriptionType
    reasons: tuple[Reason, ...]
    #: when sending may start, if the address is in its quiet hours (None: never)
    deferred: Deferrals


@dataclass(frozen=True, slots=True)
class _Shape:
    """What the statement of a single decision depends on, as the last basis read had it."""

    channel: Channel
    business_unit_id: int
    region: str | None
    hash_key: bytes
    statement: str


#: (engine, type id) → the shape the last single decision of that type read (`decide_one`)
_shapes: dict[tuple[int, int], _Shape] = {}
_SHAPES_KEPT = 4096


def decide_one(conn: Connection, raw: str, type_id: int, channel: str | None = None) -> OneDecision:
    """One address, one type, as of now — a sender's hot path, in one statement: the basis
    (`state.BASIS_SQL`: the account, the type, its unit) joined with the address's state.

    That statement has to be written before the basis is read: the address's key depends on
    the type's channel and the account's phone region, its erasure hash on the account's
    hash key, the joins worth making on the type and the policy. So it is written from the
    basis the last decision of the type read (`ask_one`), and the basis read with it is
    compared with that (`answer_one`); when anything differs, the decision is made again
    from the basis just read. What is remembered only picks the statement: every answer is
    made from what the database holds when it is asked (R12): after a change, the basis
    just read and a lookup of the address's state, as two statements each is made. A
    request that would fail (`channel` not the type's, an invalid address, an unknown type)
    takes that way, whose checks come in their order.
    """
    ask = ask_one(conn.engine, raw, type_id)
    basis = None
    if ask is not None:
        [row] = driver_fetchall(conn, ask.statement, ask.params)
        one = answer_one(conn, ask, row, type_id, channel)
        if one is not None:
            return one
        basis = decision_basis(conn, row, type_id)
    if basis is None:
        basis = load_decision_basis(conn, type_id)
    require_channel(basis.type_, channel)
    address = basis.account.normalize(basis.type_.channel, raw)
    decider = Decider(conn, basis.account, basis.type_, quiet=basis.quiet)
    if len(_shapes) >= _SHAPES_KEPT:
        _shapes.clear()
    _shapes[(id(conn.engine), type_id)] = _shape_of(decider, basis.account)
    deferred: Deferrals = {}
    [reasons] = decider.reasons([address.key], deferred)
    return OneDecision(address, basis.type_, reasons, deferred)


@dataclass(frozen=True, slots=True)
class OneAsk:
    """The one statement of a single decision, written from the shape its type's last
    decision read (`decide_one`), and what it was written from."""

    shape: _Shape
    address: Address
    statement: str
    params: dict[str, Any]


def ask_one(engine: Engine, raw: str, type_id: int) -> OneAsk | None:
    """The statement that answers a single decision of `type_id` on `engine`'s connections,
    if a decision of that type was made there before and the address is valid as that
    basis would read it; else None (`decide_one` then reads the basis first). No I/O."""
    shape = _shapes.get((id(engine), type_id))
    if shape is None:
        return None
    try:
        address = normalize(shape.channel, raw, shape.region)
    except InvalidAddress:
        return None
    hasher = hashlib.blake2b(f"{shape.channel.value}:{address.key}".encode(), key=shape.hash_key, digest_size=16)
    params = {
        "type_id": type_id,
        "channel": shape.channel.value,
        "business_unit_id": shape.business_unit_id,
        "key": address.key,
        "hash": hasher.hexdigest(),
    }
    return OneAsk(shape, address, shape.statement, params)


def answer_one(
    source: Connection | Engine, ask: OneAsk, row: Sequence[Any], type_id: int, channel: str | None
) -> OneDecision | None:
    """The decision from the row `ask`'s statement returned, made by the rules as they
    stand in that row; None when that basis is not the one the statement was written from
    (or `channel` is not the type's): `decide_one` then decides from the basis just read.
    No I/O: `source` is where the row came from, for its dialect and execution options."""
    basis = decision_basis(source, row, type_id)
    verdicts = Verdicts(basis.account, basis.type_, source.dialect.name == "sqlite", quiet=basis.quiet)
    shape = ask.shape
    if _shape_of(verdicts, basis.account) != shape or (channel is not None and channel != shape.channel.value):
        return None
    deferred: Deferrals = {}
    facts = {0: verdicts._facts_of(row[BASIS_COLUMNS:])}
    [reasons] = verdicts._answers(facts, [ask.address.key], deferred)
    return OneDecision(ask.address, basis.type_, reasons, deferred)


async def decide_one_on_loop(db: Database, raw: str, type_id: int, channel: str | None) -> OneDecision | None:
    """`decide_one`'s statement sent from the event loop (`Database.loop_reads`: PostgreSQL
    without replicas), when the type's statement is known and the basis it was written from
    still holds; None when this way cannot answer — then ask `decide_one` the usual way."""
    reads = db.loop_reads()
    ask = None if reads is None else ask_one(reads.engine, raw, type_id)
    if reads is None or ask is None:
        return None
    rows = await reads.fetchall(ask.statement, ask.params)
    if rows is None:
        return None
    [row] = rows
    return answer_one(reads.engine, ask, row, type_id, channel)


def _shape_of(verdicts: Verdicts, account: Account) -> _Shape:
    type_ = verdicts.type_
    statement = verdicts._lookup_statements[2]
    return _Shape(type_.channel, type_.business_unit_id, account.default_phone_region, account.hash_key, statement)


def require_channel(type_: SubscriptionType, channel: str | None) -> None:
    """A 422 naming `channel` when it is given and is not the type's."""
    if channel is not None and channel != type_.channel.value:
        problems = Collected()
        problems.add("channel", f"subscription type {type_.id} is a {type_.channel.value} type", "WRONG_CHANNEL")
        problems.raise_if_any()


def decide_many(
    conn: Connection, account: Account, type_: SubscriptionType, addresses: Sequence[Address]
) -> list[tuple[Reason, ...]]:
    return Decider(conn, account, type_).reasons([a.key for a in addresses])


def load_send_facts(
    conn: Connection, account: Account, type_: SubscriptionType, keys: Sequence[str]
) -> dict[str, FactsKey]:
    """Facts for every key that has any stored state; the rest have the defaults."""
    decider = Decider(conn, account, type_, EVERYTHING)
    return {keys[index]: facts for index, facts in decider.facts(keys).items()}
