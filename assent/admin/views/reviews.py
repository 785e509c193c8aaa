"""Activity → Possible opt-outs: texts that asked to stop in other words, held for a person
because the account's `sms_revocation_policy` is REVIEW (SPEC R27). Editors and admins
confirm one (the wide opt-out is set as the contact's own act, their message the evidence)
or dismiss it with a note; either is one action (`assent.actions.sms`)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from assent.actions import sms as sms_actions
from assent.admin.security import SignedIn, editor, viewer
from assent.admin.web import redirect, render
from assent.services import catalog, sms
from assent.services.errors import Problem
from assent.storage.db import Database

router = APIRouter()
PATH = "/activity/possible-opt-outs"
#: the oldest this many waiting messages are shown; the page says how many wait in all
SHOWN = 100


@router.get(PATH)
def queue(request: Request, me: SignedIn = Depends(viewer)) -> Response:
    db: Database = request.app.state.db
    with db.read() as conn:
        pending = sms.reviews(conn, sms.PENDING, SHOWN)
        waiting = sms.review_count(conn, sms.PENDING)
        decided = sms.reviews(conn, sms.CONFIRMED, 25) + sms.reviews(conn, sms.DISMISSED, 25)
        units = {u["id"]: u["name"] for u in catalog.list_business_units(conn)}
    decided.sort(key=lambda row: row["reviewed_at"], reverse=True)
    return render(
        request,
        "reviews.html",
        me,
        section="activity",
        title="Possible opt-outs",
        pending=pending,
        waiting=waiting,
        decided=decided[:25],
        units=units,
    )


@router.post(PATH + "/{address_hash}/{message_sid}")
async def decide(request: Request, address_hash: str, message_sid: str, me: SignedIn = Depends(editor)) -> Response:
    form = await request.form()
    action = str(form.get("action", ""))
    note = str(form.get("note", "")).strip() or None
    db: Database = request.app.state.db
    user = f"user:{me.user.id}"
    try:
        if action == "confirm":
            done = sms_actions.confirm_review(db, address_hash, message_sid, user, note)
            text = f"Opted {done.address} out of all {done.channel.value.title()} messages of the unit."
        elif action == "dismiss":
            done = sms_actions.dismiss_review(db, address_hash, message_sid, user, note)
            text = f"Dismissed: the message from {done.address} changes nothing."
        else:
            return redirect(request, PATH)
    except Problem as problem:
        reason = problem.errors[0].reason if problem.errors else problem.detail
        return redirect(request, PATH, reason[0].upper() + reason[1:], kind="bad")
    return redirect(request, PATH, text)
