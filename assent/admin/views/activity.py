"""Activity: the whole ledger, newest first, filterable by address, type, source, actor and
date (see services/events.py for how it stays fast at millions of events)."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from assent.admin import events, words
from assent.admin.security import SignedIn, viewer
from assent.admin.web import render
from assent.domain.addresses import InvalidAddress
from assent.domain.model import RECORDED_SOURCES, ActorClass, Channel
from assent.services import catalog
from assent.services import events as ledger_reads
from assent.services.state import Account, load_account
from assent.storage.db import Database

router = APIRouter()

#: the filter's sources: those something records, in words
SOURCES = {s.value: words.source(s.value) for s in RECORDED_SOURCES}


def address_hashes(account: Account, raw: str) -> list[str]:
    """The ledger keys of an address typed in a search box: an email, or a phone number on
    both phone channels. Empty when it is neither."""
    text = raw.strip()
    channels = [Channel.EMAIL] if "@" in text else [Channel.SMS, Channel.WHATSAPP]
    hashes = []
    for channel in channels:
        try:
            address = account.normalize_raw(channel, text)
        except InvalidAddress:
            continue
        hashes.append(account.address_hash(channel, address.key))
    return hashes


def _day(raw: str | None, plus_days: int = 0) -> dt.datetime | None:
    try:
        day = dt.datetime.fromisoformat(raw).replace(tzinfo=dt.UTC) if raw else None
        return day + dt.timedelta(days=plus_days) if day else None
    except ValueError:
        return None


@router.get("/activity")
def activity(
    request: Request,
    address: str = "",
    subscription_type_id: str = "",
    source: str = "",
    actor_kind: str = "",
    actor_id: str = "",
    since: str = "",
    until: str = "",
    before: int | None = None,
    me: SignedIn = Depends(viewer),
) -> Response:
    db: Database = request.app.state.db
    error = ""
    with db.read() as conn:
        account = load_account(conn)
        filters = ledger_reads.Filters(
            subscription_type_id=int(subscription_type_id) if subscription_type_id.isdecimal() else None,
            source=source if source in SOURCES else None,
            actor_kind=actor_kind if actor_kind in words.ACTOR else None,
            actor_id=actor_id.strip() or None,
            since=_day(since),
            until=_day(until, plus_days=1),  # the whole "to" day
        )
        if address.strip():
            filters.address_hashes = address_hashes(account, address)
            if not filters.address_hashes:
                error = f"“{address}” is not an email address or a phone number."
        found = ledger_reads.page(conn, filters, before) if not error else ledger_reads.Page([], None)
        named = ledger_reads.names(conn, found.rows)
        types = catalog.list_subscription_types(conn, include_inactive=True)
        units = {u["id"]: u["name"] for u in catalog.list_business_units(conn)}
    return render(
        request,
        "activity.html",
        me,
        section="activity",
        title="Activity",
        rows=[events.describe(r, named) for r in found.rows],
        page=found,
        error=error,
        types=[
            (ty["id"], f"{ty['name']} ({words.CHANNEL[ty['channel']]}, {units.get(ty['business_unit_id'], '')})")
            for ty in types
        ],
        actor_kinds=[k.value for k in ActorClass],
        sources=SOURCES,
        f={
            "address": address,
            "subscription_type_id": subscription_type_id,
            "source": source,
            "actor_kind": actor_kind,
            "actor_id": actor_id,
            "since": since,
            "until": until,
        },
    )
