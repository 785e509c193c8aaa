"""One address: what it agreed to (the `subscriber` shape). Changing it is
`assent.actions.subscriptions`."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assent.domain.addresses import Address
from assent.domain.model import Channel, ConfirmationState, Source, Status
from assent.services.state import Account
from assent.storage import tables as t

CHANNEL_WORD = {Channel.EMAIL: "email", Channel.SMS: "SMS", Channel.WHATSAPP: "WhatsApp"}


# --- reading ------------------------------------------------------------------------------


def subscriber_view(conn: Connection, account: Account, address: Address) -> dict[str, Any]:
    """Everything Assent holds for one address on one channel (the `subscriber` shape)."""
    channel = address.channel
    st, s, w, a = t.subscription_types, t.subscription_statuses, t.wide_opt_outs, t.addresses
    types = conn.execute(
        sa.select(st.c.id, st.c.business_unit_id, st.c.name, st.c.is_active)
        .where(st.c.channel == channel.value)
        .order_by(st.c.business_unit_id, st.c.position, st.c.id)
    ).all()
    stored = {
        r.subscription_type_id: r
        for r in conn.execute(sa.select(s).where(s.c.address == address.key, s.c.channel == channel.value))
    }
    wides = conn.execute(
        sa.select(w).where(w.c.address == address.key, w.c.channel == channel.value).order_by(w.c.business_unit_id)
    ).all()
    row = conn.execute(sa.select(a).where(a.c.address == address.key, a.c.channel == channel.value)).first()
    erased = conn.execute(
        sa.select(t.erasures.c.at).where(
            t.erasures.c.channel == channel.value,
            t.erasures.c.address_hash == account.address_hash(channel, address.key),
        )
    ).first()
    statuses = []
    for ty in types:
        found = stored.get(ty.id)
        statuses.append(
            {
                "subscription_type_id": ty.id,
                "business_unit_id": ty.business_unit_id,
                "name": ty.name,
                "is_active": ty.is_active,
                "status": found.status if found else Status.NOT_SPECIFIED.value,
                "legal_basis": found.legal_basis if found else None,
                "legal_basis_explanation": found.legal_basis_explanation if found else None,
                "source": found.source if found else None,
                "updated_at": found.updated_at if found else None,
            }
        )
    confirmed: bool | None = None
    if row is not None and row.confirmation:
        confirmed = row.confirmation == ConfirmationState.CONFIRMED.value
    wide_list = [
        {"business_unit_id": r.business_unit_id, "set_by": r.set_by, "source": r.source, "at": r.at} for r in wides
    ]
    return {
        "address": row.display if row is not None else address.display,
        "channel": channel.value,
        "statuses": statuses,
        "wide_opt_outs": wide_list,
        "undeliverable": bool(row.undeliverable) if row is not None else False,
        "undeliverable_reason": row.undeliverable_reason if row is not None else None,
        "undeliverable_at": row.undeliverable_at if row is not None else None,
        "soft_bounces": row.soft_bounces if row is not None else 0,
        "last_soft_bounce_at": row.last_soft_bounce_at if row is not None else None,
        "last_soft_bounce_reason": row.last_soft_bounce_reason if row is not None else None,
        "complaints": [
            {"business_unit_id": w["business_unit_id"], "at": w["at"]}
            for w in wide_list
            if w["source"] == Source.SPAM_COMPLAINT.value
        ],
        "confirmed": confirmed,
        "processing_legal_basis": row.processing_legal_basis if row is not None else None,
        "erased": erased is not None,
        "properties": opted_out_properties(conn, channel, statuses, wide_list),
    }


def opted_out_properties(
    conn: Connection, channel: Channel, statuses: list[dict[str, Any]], wides: list[dict[str, Any]]
) -> dict[str, bool]:
    """R26: HubSpot's "Opted out of email: <type>" and "Unsubscribed from all email".

    Types and opt-outs of business units other than the default "Account" carry the unit's
    name, as HubSpot's per-brand properties do, so two brands' "Newsletter" stay apart.
    """
    word = CHANNEL_WORD[channel]
    bu_names = dict(conn.execute(sa.select(t.business_units.c.id, t.business_units.c.name)).all())

    def brand(bu_id: int) -> str:
        return "" if bu_id == 0 else f" ({bu_names.get(bu_id, bu_id)})"

    props = {
        f"Opted out of {word}: {s['name']}{brand(s['business_unit_id'])}": s["status"] == Status.UNSUBSCRIBED.value
        for s in statuses
        if s["is_active"]
    }
    opted = {w["business_unit_id"] for w in wides}
    for bu_id in sorted(bu_names):
        props[f"Unsubscribed from all {word}{brand(bu_id)}"] = bu_id in opted
    return props


def known_email(conn: Connection, key: str) -> str | None:
    """The display form of an email address Assent knows — one with state, or one a contact
    holds — or None."""
    a, c = t.addresses, t.contacts
    found = conn.execute(
        sa.select(a.c.display).where(a.c.address == key, a.c.channel == Channel.EMAIL.value)
    ).scalar() or conn.execute(sa.select(c.c.email).where(c.c.email_key == key).limit(1)).scalar()
    return str(found) if found else None
