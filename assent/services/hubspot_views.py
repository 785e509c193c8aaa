"""What the HubSpot-compatible API reads (issue 10): subscription types, per-type statuses and
wide opt-outs of many addresses at once, as plain values the interface renders in HubSpot's
shapes. Set-based: one query per table for a whole batch, whatever its size.

No rule lives here: a status is what is stored (NOT_SPECIFIED when nothing is), exactly what
the native API shows for the same address (R12).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assent.domain.model import Channel, Status
from assent.services.state import StoredStatus, phone_region
from assent.storage import tables as t
from assent.storage.db import FixedSQL


@dataclass(frozen=True, slots=True)
class TypeView:
    id: int
    business_unit_id: int
    channel: Channel
    name: str
    description: str
    purpose: str | None
    is_active: bool
    created_at: dt.datetime
    updated_at: dt.datetime
    translations: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StatusView:
    """One (address, type): the stored status, or NOT_SPECIFIED with no evidence."""

    type: TypeView
    status: Status
    legal_basis: str | None = None
    legal_basis_explanation: str | None = None
    source: str | None = None
    updated_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class WideView:
    business_unit_id: int
    set_by: str
    source: str
    at: dt.datetime


_UTC = t.UTCDateTime()


def _as_time(value: Any, dialect: sa.Dialect) -> dt.datetime:
    """What SQLAlchemy makes of a time column (UTCDateTime, NOT NULL) the driver returned."""
    moment = _UTC.process_result_value(value, dialect)
    assert moment is not None
    return moment


_TYPES_SQL = (
    "SELECT id, business_unit_id, channel, name, description, purpose, is_active, created_at, updated_at, translations"
    " FROM subscription_types"
)
_TYPE_FILTERS = {
    "channel": "channel = :channel",
    "business_unit_id": "business_unit_id = :business_unit_id",
    "active": "is_active",
    "ids": "id IN :ids",
}


@functools.cache
def _types_query(filters: tuple[str, ...]) -> FixedSQL:
    """One statement of fixed text for each combination of filters `types` is given."""
    where = " AND ".join(_TYPE_FILTERS[name] for name in filters)
    return FixedSQL(_TYPES_SQL + (f" WHERE {where}" if where else "") + " ORDER BY business_unit_id, position, id")


def types(
    conn: Connection,
    *,
    channel: Channel | None = None,
    business_unit_id: int | None = None,
    include_inactive: bool = True,
    ids: Collection[int] | None = None,
) -> list[TypeView]:
    """Subscription types in preference-page order (unit, position, id)."""
    params: dict[str, Any] = {}
    if channel is not None:
        params["channel"] = channel.value
    if business_unit_id is not None:
        params["business_unit_id"] = business_unit_id
    filters = list(params)
    if not include_inactive:
        filters.append("active")
    if ids is not None:
        params["ids"] = sorted(set(ids))
        filters.append("ids")
    return [_type_of(row, conn.dialect) for row in _types_query(tuple(filters)).fetchall(conn, **params)]


def _type_of(row: tuple[Any, ...], dialect: sa.Dialect) -> TypeView:
    """A TypeView of a row of `_TYPES_SQL` as the driver returns it."""
    (type_id, unit, channel, name, description, purpose, active, created, updated, translations) = row
    return TypeView(
        id=type_id,
        business_unit_id=unit,
        channel=Channel(channel),
        name=name,
        description=description or "",
        purpose=purpose,
        is_active=bool(active),
        created_at=_as_time(created, dialect),
        updated_at=_as_time(updated, dialect),
        translations=dict(_json(translations) or {}),
    )


def _json(value: Any) -> Any:
    """A JSON column as the driver returns it: text on SQLite, parsed on PostgreSQL."""
    return json.loads(value) if isinstance(value, str | bytes) else value


@dataclass(frozen=True, slots=True)
class UnitTypes:
    """What a read of one (channel, business unit) needs before it reads any address."""

    #: whether the business unit exists
    exists: bool
    #: its active types of the channel, in preference-page order
    types: list[TypeView]
    #: the account's default phone region, to normalize numbers (`assent.domain.addresses`)
    default_phone_region: str | None


#: the unit, its active types of the channel (none: one row of NULLs) and the account's phone
#: region, the types' columns in the order of `_TYPES_SQL` (`_type_of`)
_UNIT_TYPES = FixedSQL(
    "SELECT a.default_phone_region, bu.id, st.id, st.business_unit_id, st.channel, st.name, st.description,"
    " st.purpose, st.is_active, st.created_at, st.updated_at, st.translations"
    " FROM account_settings a JOIN business_units bu ON bu.id = :unit"
    " LEFT OUTER JOIN subscription_types st"
    " ON st.business_unit_id = bu.id AND st.channel = :channel AND st.is_active"
    " WHERE a.id = 1 ORDER BY st.position, st.id"
)


def unit_types(conn: Connection, channel: Channel, business_unit_id: int) -> UnitTypes:
    """One query for the unit, its active types of the channel and the phone region: the
    per-address and the batch reads of v4 statuses share it."""
    rows = _UNIT_TYPES.fetchall(conn, unit=business_unit_id, channel=channel.value)
    if not rows:
        acc = t.account_settings
        region = conn.execute(sa.select(acc.c.default_phone_region).where(acc.c.id == 1)).scalar()
        return UnitTypes(False, [], phone_region(conn, region))
    dialect = conn.dialect
    found = [_type_of(r[2:], dialect) for r in rows if r[2] is not None]
    return UnitTypes(True, found, phone_region(conn, rows[0][0]))


def business_unit_exists(conn: Connection, business_unit_id: int) -> bool:
    bu = t.business_units
    return conn.execute(sa.select(bu.c.id).where(bu.c.id == business_unit_id)).first() is not None


def default_language(conn: Connection, business_unit_id: int) -> str:
    bu = t.business_units
    found = conn.execute(sa.select(bu.c.default_language).where(bu.c.id == business_unit_id)).scalar()
    return str(found or "en")


#: one statement of fixed text for any batch: the keys and types each bound as one value
_STORED = FixedSQL(
    "SELECT address, subscription_type_id, status, legal_basis, legal_basis_explanation, source, updated_at"
    " FROM subscription_statuses WHERE channel = :channel AND address IN :keys AND subscription_type_id IN :types"
)


def _stored(conn: Connection, channel: Channel, keys: Sequence[str], type_ids: Sequence[int]) -> Iterator[Any]:
    """The stored status rows of these addresses and types, 1,000 addresses per query, as
    plain tuples from the driver's cursor (a batch read's hundreds of rows cost SQLAlchemy's
    result handling more than the query), `updated_at` an aware UTC datetime."""
    if not keys or not type_ids:
        return
    dialect = conn.dialect
    for start in range(0, len(keys), 1000):
        rows = _STORED.fetchall(conn, channel=channel.value, keys=keys[start : start + 1000], types=type_ids)
        for row in rows:
            yield (*row[:6], _as_time(row[6], dialect))


_STATUS = {status.value: status for status in Status}


def _view(ty: TypeView, row: Any) -> StatusView:
    return StatusView(ty, _STATUS[row[2]], row[3], row[4], row[5], row[6])


def status_of_row(ty: TypeView, row: Mapping[str, Any]) -> StatusView:
    """The StatusView of a `subscription_statuses` row as a writer wrote it (`Writer.written`):
    the same values a read of the row gives back."""
    return StatusView(
        ty, _STATUS[row["status"]], row["legal_basis"], row["legal_basis_explanation"], row["source"], row["updated_at"]
    )


def status_of_stored(ty: TypeView, stored: StoredStatus) -> StatusView:
    """The StatusView of a status a writer read (`Writer.read`)."""
    return StatusView(ty, *stored)


def statuses(
    conn: Connection, channel: Channel, keys: Sequence[str], of_types: Sequence[TypeView]
) -> dict[str, list[StatusView]]:
    """For each address key, one StatusView per type in `of_types` (in that order)."""
    unique_keys = sorted(set(keys))
    by_id = {ty.id: ty for ty in of_types}
    stored = {(r[0], r[1]): _view(by_id[r[1]], r) for r in _stored(conn, channel, unique_keys, list(by_id))}
    unset = [StatusView(ty, Status.NOT_SPECIFIED) for ty in of_types]  # frozen: shared by every key
    answer: dict[str, list[StatusView]] = {}
    for key in unique_keys:
        answer[key] = [stored.get((key, ty.id)) or none for ty, none in zip(of_types, unset, strict=True)]
    return answer


def wide_opt_outs(
    conn: Connection, channel: Channel, keys: Sequence[str], business_unit_id: int | None = None
) -> dict[str, list[WideView]]:
    """Each address key's "unsubscribed from all" (of one unit, or of every unit)."""
    w = t.wide_opt_outs
    unique_keys = sorted(set(keys))
    answer: dict[str, list[WideView]] = {key: [] for key in unique_keys}
    for start in range(0, len(unique_keys), 1000):
        query = sa.select(w).where(w.c.channel == channel.value, w.c.address.in_(unique_keys[start : start + 1000]))
        if business_unit_id is not None:
            query = query.where(w.c.business_unit_id == business_unit_id)
        for r in conn.execute(query.order_by(w.c.address, w.c.business_unit_id)):
            answer[r.address].append(WideView(r.business_unit_id, r.set_by, r.source, r.at))
    return answer
