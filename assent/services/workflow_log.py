"""What a workflow's run log needs besides the log itself: since when a refused contact had
opted out, and who set an "unsubscribe from all" in force — read for one page of runs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assent.domain.model import Channel, Reason, Status
from assent.storage import tables as t

#: (contact id, subscription type id) → {"since": when, "set_by": actor class or None}
Facts = dict[tuple[int, int], dict[str, Any]]


def refusal_facts(conn: Connection, runs: Sequence[dict[str, Any]]) -> Facts:
    """For the runs' refusals because the contact opted out (or unsubscribed from all): when
    that opt-out was made, as the current state records it (three small reads per page)."""
    wanted = [
        (run["contact_id"], int(action["subscription_type_id"]), action["reason"])
        for run in runs
        for action in run["actions"]
        if action["reason"] in (Reason.WORKFLOW_CANNOT_RESUBSCRIBE, Reason.WIDE_OPT_OUT_IN_FORCE)
        and action.get("subscription_type_id")
    ]
    if not wanted:
        return {}
    c, st = t.contacts, t.subscription_types
    contact_ids = sorted({cid for cid, _, _ in wanted})
    type_ids = sorted({tid for _, tid, _ in wanted})
    people = {r.id: r for r in conn.execute(sa.select(c.c.id, c.c.email_key, c.c.phone).where(c.c.id.in_(contact_ids)))}
    types = {
        r.id: r
        for r in conn.execute(sa.select(st.c.id, st.c.channel, st.c.business_unit_id).where(st.c.id.in_(type_ids)))
    }

    def address(contact_id: int, type_id: int) -> str | None:
        person, type_ = people.get(contact_id), types.get(type_id)
        if person is None or type_ is None:
            return None
        return str(person.email_key) if type_.channel == Channel.EMAIL else person.phone

    keys = {(cid, tid): address(cid, tid) for cid, tid, _ in wanted}
    found_at = {a for a in keys.values() if a}
    if not found_at:
        return {}
    s, w = t.subscription_statuses, t.wide_opt_outs
    opted_out: dict[tuple[str, int], dt.datetime] = {
        (r.address, r.subscription_type_id): r.updated_at
        for r in conn.execute(
            sa.select(s.c.address, s.c.subscription_type_id, s.c.updated_at).where(
                s.c.address.in_(sorted(found_at)),
                s.c.subscription_type_id.in_(type_ids),
                s.c.status == Status.UNSUBSCRIBED.value,
            )
        )
    }
    wide = {
        (r.address, r.channel, r.business_unit_id): (r.at, r.set_by)
        for r in conn.execute(
            sa.select(w.c.address, w.c.channel, w.c.business_unit_id, w.c.at, w.c.set_by).where(
                w.c.address.in_(sorted(found_at))
            )
        )
    }
    facts: Facts = {}
    for cid, tid, reason in wanted:
        key = keys[(cid, tid)]
        if key is None:
            continue
        if reason == Reason.WORKFLOW_CANNOT_RESUBSCRIBE and (key, tid) in opted_out:
            facts[(cid, tid)] = {"since": opted_out[(key, tid)], "set_by": None}
        elif reason == Reason.WIDE_OPT_OUT_IN_FORCE:
            type_ = types[tid]
            at_by = wide.get((key, type_.channel, type_.business_unit_id))
            if at_by:
                facts[(cid, tid)] = {"since": at_by[0], "set_by": at_by[1]}
    return facts
