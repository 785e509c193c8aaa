"""What the HubSpot-compatible API reads (issue 10): subscription types, per-type statuses and
wide opt-outs of many addresses at once, as plain values the interface renders in HubSpot's
shapes. Set-based: one query per table for a whole batch, whatever its size.

No rule lives here: a status is what is stored (NOT_SPECIFIED when nothing is), exactly what
the native API shows for the same address (R12).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assent.domain.model import Channel, Status
from assent.storage import tables as t


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


def _type(row: Any) -> TypeView:
    return TypeView(
        id=row.id,
        business_unit_id=row.business_unit_id,
        channel=Channel(row.channel),
        name=row.name,
        description=row.description or "",
        purpose=row.purpose,
        is_active=bool(row.is_active),
        created_at=row.created_at,
        updated_at=row.updated_at,
        translations=dict(row.translations or {}),
    )


def types(
    conn: Connection,
    *,
    channel: Channel | None = None,
    business_unit_id: int | None = None,
    include_inactive: bool = True,
    ids: Collection[int] | None = None,
) -> list[TypeView]:
    """Subscription types in preference-page order (unit, position, id)."""
    st = t.subscription_types
    query = sa.select(st).order_by(st.c.business_unit_id, st.c.position, st.c.id)
    if channel is not None:
        query = query.where(st.c.channel == channel.value)
    if business_unit_id is not None:
        query = query.where(st.c.business_unit_id == business_unit_id)
    if not include_inactive:
        query = query.where(st.c.is_active)
    if ids is not None:
        query = query.where(st.c.id.in_(sorted(set(ids))))
    return [_type(r) for r in conn.execute(query)]


def business_unit_exists(conn: Connection, business_unit_id: int) -> bool:
    bu = t.business_units
    return conn.execute(sa.select(bu.c.id).where(bu.c.id == business_unit_id)).first() is not None


def default_language(conn: Connection, business_unit_id: int) -> str:
    bu = t.business_units
    found = conn.execute(sa.select(bu.c.default_language).where(bu.c.id == business_unit_id)).scalar()
    return str(found or "en")


def _stored(conn: Connection, channel: Channel, keys: Sequence[str], type_ids: Sequence[int]) -> Iterator[Any]:
    """The stored status rows of these addresses and types, 1,000 addresses per query."""
    if not keys or not type_ids:
        return
    s = t.subscription_statuses
    columns = (s.c.address, s.c.subscription_type_id, s.c.status, s.c.legal_basis, s.c.legal_basis_explanation,
               s.c.source, s.c.updated_at)  # fmt: skip
    for start in range(0, len(keys), 1000):
        yield from conn.execute(
            sa.select(*columns).where(
                s.c.channel == channel.value,
                s.c.address.in_(keys[start : start + 1000]),
                s.c.subscription_type_id.in_(type_ids),
            )
        )


def _view(ty: TypeView, row: Any) -> StatusView:
    return StatusView(ty, Status(row.status), row.legal_basis, row.legal_basis_explanation, row.source, row.updated_at)


def statuses(
    conn: Connection, channel: Channel, keys: Sequence[str], of_types: Sequence[TypeView]
) -> dict[str, list[StatusView]]:
    """For each address key, one StatusView per type in `of_types` (in that order)."""
    unique_keys = sorted(set(keys))
    stored = {
        (r.address, r.subscription_type_id): r for r in _stored(conn, channel, unique_keys, [t.id for t in of_types])
    }
    answer: dict[str, list[StatusView]] = {}
    for key in unique_keys:
        answer[key] = [
            _view(ty, found)
            if (found := stored.get((key, ty.id))) is not None
            else StatusView(ty, Status.NOT_SPECIFIED)
            for ty in of_types
        ]
    return answer


def status_pairs(
    conn: Connection, channel: Channel, pairs: Sequence[tuple[str, TypeView]]
) -> dict[tuple[str, int], StatusView]:
    """The StatusView of each (address key, type) pair, and of no other pair."""
    keys = sorted({key for key, _ in pairs})
    type_ids = sorted({ty.id for _, ty in pairs})
    wanted = {(key, ty.id): ty for key, ty in pairs}
    answer = {pair: StatusView(ty, Status.NOT_SPECIFIED) for pair, ty in wanted.items()}
    for r in _stored(conn, channel, keys, type_ids):
        ty = wanted.get((r.address, r.subscription_type_id))
        if ty is not None:
            answer[(r.address, ty.id)] = _view(ty, r)
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
