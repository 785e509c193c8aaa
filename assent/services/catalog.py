"""Business units and subscription types."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assent.domain.keywords import check_extra_keywords
from assent.domain.quiet_hours import parse_window, window_dict
from assent.services.errors import Collected, Invalid, NotFound
from assent.services.state import require_business_unit
from assent.storage import tables as t

LANGUAGES = ("en", "sv", "de", "fr", "es", "nl", "da", "no", "fi", "it", "pt", "pl")


def _row(row: Any) -> dict[str, Any]:
    return dict(row._mapping)


def list_business_units(conn: Connection) -> list[dict[str, Any]]:
    bu = t.business_units
    return [_row(r) for r in conn.execute(sa.select(bu).order_by(bu.c.id))]


def get_business_unit(conn: Connection, bu_id: int) -> dict[str, Any]:
    row = conn.execute(sa.select(t.business_units).where(t.business_units.c.id == bu_id)).first()
    if row is None:
        raise NotFound("Business unit", bu_id)
    return _row(row)


def create_business_unit(conn: Connection, values: dict[str, Any]) -> dict[str, Any]:
    now = t.now()
    values = {"default_language": "en", **check_sms_fields(values)}
    bu_id = conn.execute(
        t.business_units.insert().values(**values, created_at=now, updated_at=now).returning(t.business_units.c.id)
    ).scalar_one()
    return get_business_unit(conn, bu_id)


def update_business_unit(conn: Connection, bu_id: int, values: dict[str, Any]) -> dict[str, Any]:
    get_business_unit(conn, bu_id)
    values = check_sms_fields(values)
    if values:
        bu = t.business_units
        conn.execute(sa.update(bu).where(bu.c.id == bu_id).values(**values, updated_at=t.now()))
    return get_business_unit(conn, bu_id)


def check_sms_fields(values: dict[str, Any]) -> dict[str, Any]:
    """A unit's SMS keywords and quiet hours, checked by the domain (422 naming the field)."""
    values = dict(values)
    problems = Collected()
    if values.get("sms_keywords") is not None:
        cleaned, found = check_extra_keywords(values["sms_keywords"])
        for name, reason in found.items():
            problems.add(f"sms_keywords.{name}", reason, "INVALID_KEYWORD")
        values["sms_keywords"] = cleaned
    if values.get("sms_replies") is not None:
        replies = {k: (v.strip() or None) if isinstance(v, str) else None for k, v in values["sms_replies"].items()}
        values["sms_replies"] = replies
    if values.get("quiet_hours") is not None:
        windows: dict[str, Any] = {}
        for channel, raw in values["quiet_hours"].items():
            try:
                window = parse_window(raw)
            except ValueError as error:
                problems.add(f"quiet_hours.{channel}", str(error), "INVALID_QUIET_HOURS")
                continue
            windows[channel] = window_dict(window) if window else None
        values["quiet_hours"] = windows
    problems.raise_if_any()
    return values


def list_subscription_types(
    conn: Connection,
    *,
    business_unit_id: int | None = None,
    channel: str | None = None,
    include_inactive: bool = False,
) -> list[dict[str, Any]]:
    st = t.subscription_types
    query = sa.select(st).order_by(st.c.business_unit_id, st.c.channel, st.c.position, st.c.id)
    if business_unit_id is not None:
        query = query.where(st.c.business_unit_id == business_unit_id)
    if channel is not None:
        query = query.where(st.c.channel == channel)
    if not include_inactive:
        query = query.where(st.c.is_active)
    return [_row(r) for r in conn.execute(query)]


def get_subscription_type(conn: Connection, type_id: int) -> dict[str, Any]:
    row = conn.execute(sa.select(t.subscription_types).where(t.subscription_types.c.id == type_id)).first()
    if row is None:
        raise NotFound("Subscription type", type_id)
    return _row(row)


def _require_unique_name(conn: Connection, bu_id: int, channel: str, name: str, type_id: int | None = None) -> None:
    """Two types of one unit and channel may not share a name: people choose between them by
    name on the preference page, and HubSpot's "Opted out of email: <type>" is keyed by it."""
    st = t.subscription_types
    query = sa.select(st.c.id).where(
        st.c.business_unit_id == bu_id, st.c.channel == channel, sa.func.lower(st.c.name) == name.strip().lower()
    )
    if type_id is not None:
        query = query.where(st.c.id != type_id)
    clash = conn.execute(query).scalar()
    if clash is not None:
        reason = f"subscription type {clash} of this unit and channel already has this name"
        raise Invalid("name", reason, "DUPLICATE_NAME")


def _check_sendgrid_group(conn: Connection, channel: str, group: int | None, type_id: int | None = None) -> None:
    """A SendGrid unsubscribe group stands for one EMAIL type (provider feedback maps it)."""
    if group is None:
        return
    if channel != "EMAIL":
        raise Invalid("sendgrid_group_id", "only an EMAIL type can stand for a SendGrid group", "EMAIL_ONLY")
    st = t.subscription_types
    query = sa.select(st.c.id).where(st.c.sendgrid_group_id == group)
    if type_id is not None:
        query = query.where(st.c.id != type_id)
    clash = conn.execute(query).scalar()
    if clash is not None:
        reason = f"subscription type {clash} already has this group"
        raise Invalid("sendgrid_group_id", reason, "DUPLICATE_SENDGRID_GROUP")


def create_subscription_type(conn: Connection, values: dict[str, Any]) -> dict[str, Any]:
    require_business_unit(conn, values["business_unit_id"])
    _require_unique_name(conn, values["business_unit_id"], values["channel"], values["name"])
    _check_sendgrid_group(conn, values["channel"], values.get("sendgrid_group_id"))
    st = t.subscription_types
    if values.get("position") is None:
        last = conn.execute(
            sa.select(sa.func.max(st.c.position)).where(
                st.c.business_unit_id == values["business_unit_id"], st.c.channel == values["channel"]
            )
        ).scalar()
        values["position"] = (last or 0) + 1
    now = t.now()
    values = {"description": "", "translations": {}, "is_active": True, **values}
    type_id = conn.execute(st.insert().values(**values, created_at=now, updated_at=now).returning(st.c.id)).scalar_one()
    return get_subscription_type(conn, type_id)


def update_subscription_type(conn: Connection, type_id: int, values: dict[str, Any]) -> dict[str, Any]:
    current = get_subscription_type(conn, type_id)
    for fixed in ("channel", "business_unit_id"):
        if fixed in values and values[fixed] != current[fixed]:
            raise Invalid(fixed, "cannot change once created: statuses are recorded against it", "IMMUTABLE")
    values = {k: v for k, v in values.items() if k not in ("channel", "business_unit_id")}
    if "name" in values:
        _require_unique_name(conn, current["business_unit_id"], current["channel"], values["name"], type_id)
    if values.get("sendgrid_group_id") is not None:
        _check_sendgrid_group(conn, current["channel"], values["sendgrid_group_id"], type_id)
    if values:
        st = t.subscription_types
        conn.execute(sa.update(st).where(st.c.id == type_id).values(**values, updated_at=t.now()))
    return get_subscription_type(conn, type_id)


def reorder_subscription_types(conn: Connection, ordered_ids: list[int]) -> None:
    st = t.subscription_types
    for position, type_id in enumerate(ordered_ids, start=1):
        conn.execute(sa.update(st).where(st.c.id == type_id).values(position=position, updated_at=t.now()))
