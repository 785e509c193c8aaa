"""A contact's record: properties (R26), the Subscriptions tab per business unit with
Subscribe / Resubscribe / Unsubscribe, the History tab, unsubscribe from all, a preference
link by email, and deleting the contact (R2: its addresses keep their state).

Every change is an action (`assent.actions`) acting as the signed-in user (source MANUAL,
actor "user:<id>"), exactly as the REST API's single-address endpoints do; what a screen
offers and asks for is the domain's answer (`domain/rules.py`), and refusals come back from
it and are shown in words (admin/words.py). A click costs one read (what the screen needs)
and one write (the action).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.engine import Connection

from assent.actions import contacts as contact_actions
from assent.actions import links as link_actions
from assent.actions import subscriptions
from assent.admin import events, words
from assent.admin.security import SignedIn, editor, viewer
from assent.admin.web import is_htmx, problem_words, redirect, render, when
from assent.api.common import client_context
from assent.domain.addresses import Address
from assent.domain.model import (
    Actor,
    ActorClass,
    Channel,
    ConfirmationState,
    Outcome,
    Policy,
    Reason,
    Source,
    Status,
    WideOptOut,
)
from assent.domain.rules import (
    EvidenceNeeded,
    SendFacts,
    TypeFacts,
    decide,
    evidence_for_status_change,
    evidence_to_lift_wide_opt_out,
    is_resubscribe,
    may_change_status,
    may_lift_wide_opt_out,
)
from assent.services import catalog, contacts, links, subscribers
from assent.services import events as ledger_reads
from assent.services.errors import Invalid, Problem
from assent.services.evidence import parse_evidence
from assent.services.state import Account, load_account
from assent.storage.db import Database

router = APIRouter()


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def _actor(me: SignedIn) -> Actor:
    return Actor(Source.MANUAL, me.user.actor_id)


def _address(conn: Connection, contact_id: int, channel: Channel) -> Address:
    """The contact's address on `channel`, in its display form (R1: the local part as given)."""
    for address in contacts.contact_addresses(contacts.contact_row(conn, contact_id)):
        if address.channel is channel:
            return address
    word = "email address" if channel is Channel.EMAIL else "phone number"
    raise Invalid("channel", f"this contact has no {word}", "NO_ADDRESS")


def _channel(raw: Any) -> Channel:
    try:
        return Channel(str(raw))
    except ValueError:
        raise Invalid("channel", "choose EMAIL, SMS or WHATSAPP") from None


def _int(raw: Any, field: str) -> int:
    text = str(raw or "")
    if not text.isdecimal() or len(text) > 9:
        raise Invalid(field, "missing or not a number")
    return int(text)


def _wide_of(raw: dict[str, Any] | None) -> WideOptOut | None:
    if raw is None:
        return None
    return WideOptOut(raw["business_unit_id"], ActorClass(raw["set_by"]), Source(raw["source"]))


# --- the record ---------------------------------------------------------------------------


@router.get("/contacts/{contact_id}")
def record(
    request: Request,
    contact_id: int,
    tab: str = "subscriptions",
    business_unit_id: int = 0,
    before: int | None = None,
    me: SignedIn = Depends(viewer),
) -> Response:
    with _db(request).read() as conn:
        account = load_account(conn)
        row = contacts.contact_row(conn, contact_id)
        [contact] = contacts.contact_views(conn, [row])
        addresses = contacts.contact_addresses(row)
        facts = contacts.address_facts(conn, account, row)
        units = catalog.list_business_units(conn)
        context: dict[str, Any] = {}
        if tab == "history":
            hashes = [account.address_hash(a.channel, a.key) for a in addresses]
            found = (
                ledger_reads.page(conn, ledger_reads.Filters(address_hashes=hashes), before)
                if hashes
                else ledger_reads.Page([], None)
            )
            named = ledger_reads.names(conn, found.rows)
            context = {"rows": [events.describe(r, named) for r in found.rows], "page": found}
        else:
            tab = "subscriptions"
            actor = _actor(me)
            context = {"channels": [_channel_view(conn, account, a, business_unit_id, actor) for a in addresses]}
    name = (
        " ".join(p for p in (contact["first_name"], contact["last_name"]) if p) or contact["email"] or contact["phone"]
    )
    return render(
        request,
        "contacts/record.html",
        me,
        section="contacts",
        title=name or f"Contact {contact_id}",
        contact=contact,
        name=name,
        tab=tab,
        units=units,
        business_unit_id=business_unit_id,
        privacy=account.policy.data_privacy_mode,
        facts=facts,
        **context,
    )


_BOUNCE_FIELDS = (
    "undeliverable_reason",
    "undeliverable_at",
    "soft_bounces",
    "last_soft_bounce_at",
    "last_soft_bounce_reason",
)


def _channel_view(
    conn: Connection, account: Account, address: Address, business_unit_id: int, actor: Actor
) -> dict[str, Any]:
    """One channel's card: every button is there because the domain says the change may be
    made (`may_change_status`, `may_lift_wide_opt_out`), and a button the rules would refuse
    is replaced by their reason; what blocks sending is the decision's (`decide`, R11)."""
    view = subscribers.subscriber_view(conn, account, address)
    wide = next((w for w in view["wide_opt_outs"] if w["business_unit_id"] == business_unit_id), None)
    found = _wide_of(wide)
    facts = {
        "wide_opt_out": found is not None,
        "undeliverable": view["undeliverable"],
        "confirmation": _CONFIRMATION.get(view["confirmed"]),
        "erased": view["erased"],
    }
    statuses = []
    for s in view["statuses"]:
        if s["business_unit_id"] != business_unit_id or not s["is_active"]:
            continue
        status = Status(s["status"])
        subscribe = may_change_status(
            current=status, target=Status.SUBSCRIBED, actor=actor, wide_opt_out=found, erased=view["erased"]
        )
        unsubscribe = may_change_status(current=status, target=Status.UNSUBSCRIBED, actor=actor)
        blocked = decide(
            TypeFacts(address.channel, business_unit_id, is_active=True), SendFacts(status, **facts), account.policy
        )
        statuses.append(
            {
                **s,
                "resubscribe": is_resubscribe(status),
                "can_subscribe": subscribe.applies,
                "not_offered": words.not_offered(subscribe, address.channel.value, set_by=wide and wide["set_by"]),
                "can_unsubscribe": unsubscribe.applies,
                # the badge says "Opted out" already; the rest is why nothing is sent
                "blocked": [words.BLOCKED[r.value] for r in blocked if r is not Reason.UNSUBSCRIBED],
            }
        )
    lift = may_lift_wide_opt_out(found, actor) if found is not None else None
    invitation = address.channel is Channel.EMAIL and link_actions.invites_to_resubscribe(found, actor)
    return {
        "channel": address.channel.value,
        "address": view["address"],
        "statuses": statuses,
        "wide": wide,
        # R8: whether this user may lift it (with evidence), or only the person can
        "wide_liftable": lift is not None and lift.applies,
        "wide_only_contact": lift is not None and lift.reason is Reason.WIDE_OPT_OUT_SET_BY_CONTACT,
        # "Send preference link" is then the resubscribe invitation, at most one a week
        "invitation": invitation,
        "next_invitation_at": links.next_invitation_at(conn, account, address, business_unit_id)
        if invitation
        else None,
        "undeliverable": view["undeliverable"],
        "bounce": {k: view[k] for k in _BOUNCE_FIELDS},
        "complaint": next((c for c in view["complaints"] if c["business_unit_id"] == business_unit_id), None),
        "erased": view["erased"],
        "processing_legal_basis": view["processing_legal_basis"],
    }


_CONFIRMATION = {True: ConfirmationState.CONFIRMED, False: ConfirmationState.PENDING}


# --- the two legal-basis dialogs: a type, or unsubscribe-from-all -------------------------


@dataclass
class _EvidenceDialog:
    """What both legal-basis dialogs show and ask for, read once per click."""

    form: Any
    channel: Channel
    address: Address
    contact: dict[str, Any]
    view: dict[str, Any]
    policy: Policy

    @property
    def has_processing_basis(self) -> bool:
        return self.view["processing_legal_basis"] is not None

    def status_of(self, type_id: int) -> Status:
        found = next((s["status"] for s in self.view["statuses"] if s["subscription_type_id"] == type_id), None)
        return Status(found) if found else Status.NOT_SPECIFIED

    def render(
        self,
        request: Request,
        me: SignedIn,
        name: str,
        title: str,
        *,
        needed: EvidenceNeeded,
        status: int = 200,
        errors: dict[str, str] | None = None,
        refusal: str = "",
        **extra: Any,
    ) -> Response:
        template = f"contacts/_{name}_dialog.html" if is_htmx(request) else f"contacts/{name}.html"
        fields = ("legal_basis", "processing_legal_basis", "legal_basis_explanation")
        return render(
            request,
            template,
            me,
            status_code=status,
            section="contacts",
            title=title,
            contact=self.contact,
            address=self.view["address"],
            channel=self.channel.value,
            privacy=self.policy.data_privacy_mode,
            has_processing_basis=self.has_processing_basis,
            needed=needed,
            values={k: self.form.get(k) or "" for k in fields},
            errors=errors or {},
            refusal=refusal,
            **extra,
        )


def _load_dialog(conn: Connection, contact_id: int, form: Any) -> _EvidenceDialog:
    channel = _channel(form.get("channel"))
    account = load_account(conn)
    contact = contacts.get_contact(conn, contact_id)
    address = _address(conn, contact_id, channel)
    view = subscribers.subscriber_view(conn, account, address)
    return _EvidenceDialog(form, channel, address, contact, view, account.policy)


def _change_dialog(
    request: Request,
    me: SignedIn,
    dialog: _EvidenceDialog,
    ty: dict[str, Any],
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    refusal: str = "",
) -> Response:
    current = dialog.status_of(ty["id"])
    needed = evidence_for_status_change(
        actor=_actor(me),
        current=current,
        target=Status.SUBSCRIBED,
        policy=dialog.policy,
        has_processing_basis=dialog.has_processing_basis,
    )
    # Opened by its URL where the record offers no button: the rules' reason, and no form
    wide = next((w for w in dialog.view["wide_opt_outs"] if w["business_unit_id"] == ty["business_unit_id"]), None)
    allowed = may_change_status(
        current=current,
        target=Status.SUBSCRIBED,
        actor=_actor(me),
        wide_opt_out=_wide_of(wide),
        erased=dialog.view["erased"],
    )
    offered = allowed.outcome is not Outcome.REFUSED
    if not offered and not refusal:
        refusal = words.refusal(allowed.reason, dialog.channel.value, set_by=wide["set_by"] if wide else None)
    title = "Resubscribe" if is_resubscribe(current) else "Subscribe"
    return dialog.render(
        request,
        me,
        "change",
        title,
        needed=needed,
        status=status,
        errors=errors,
        refusal=refusal,
        offered=offered,
        ty=ty,
        current=current.value,
    )


@router.get("/contacts/{contact_id}/subscribe")
def subscribe_dialog(request: Request, contact_id: int, me: SignedIn = Depends(editor)) -> Response:
    """The legal-basis dialog (a <dialog> with htmx, a page without JavaScript)."""
    type_id = _int(request.query_params.get("subscription_type_id"), "subscription_type_id")
    with _db(request).read() as conn:
        dialog = _load_dialog(conn, contact_id, request.query_params)
        ty = catalog.get_subscription_type(conn, type_id)
    return _change_dialog(request, me, dialog, ty)


@router.post("/contacts/{contact_id}/statuses")
async def change_status(request: Request, contact_id: int, me: SignedIn = Depends(editor)) -> Response:
    form = await request.form()
    _channel(form.get("channel"))
    type_id = _int(form.get("subscription_type_id"), "subscription_type_id")
    target = Status(str(form.get("status"))) if form.get("status") in Status.__members__ else None
    if target is None:
        raise Invalid("status", "choose SUBSCRIBED, NOT_SPECIFIED or UNSUBSCRIBED")
    back = f"/contacts/{contact_id}?business_unit_id={form.get('business_unit_id') or 0}"
    with _db(request).read() as conn:
        dialog = _load_dialog(conn, contact_id, form)
        ty = catalog.get_subscription_type(conn, type_id)
    address = dialog.address
    try:
        change = subscriptions.change_statuses(
            _db(request),
            channel=dialog.channel,
            raw_address=address.display,
            changes=[subscriptions.RequestedChange(type_id, target)],
            actor=_actor(me),
            evidence=parse_evidence(form),
            context=client_context(request),
        )
    except Problem as problem:  # evidence missing (R5, R6): nothing written
        if target is Status.UNSUBSCRIBED:
            return redirect(request, back, problem.detail, kind="bad")
        errors = _evidence_words(problem, resubscribe=is_resubscribe(dialog.status_of(type_id), target))
        return _change_dialog(request, me, dialog, ty, errors=errors, status=422)
    [result] = change.results
    if result.outcome is Outcome.REFUSED:
        # A refusal for a wide opt-out in force says who set it: that decides who may lift it.
        wide = change.wide_opt_outs.get(ty["business_unit_id"])
        text = words.refusal(result.reason, dialog.channel.value, set_by=wide.set_by if wide else None)
        if target is Status.UNSUBSCRIBED:
            return redirect(request, back, text, kind="bad")
        return _change_dialog(request, me, dialog, ty, refusal=text, status=422)
    name = ty["name"]
    if result.outcome is Outcome.UNCHANGED:
        return redirect(request, back, f"{address.display} is already {words.status(target.value).lower()} for {name}.")
    verb = {
        Status.SUBSCRIBED: "Resubscribed" if is_resubscribe(result.old_status) else "Subscribed",
        Status.UNSUBSCRIBED: "Unsubscribed",
        Status.NOT_SPECIFIED: "Reset",
    }[target]
    return redirect(request, back, f"{verb} {address.display} {'from' if verb == 'Unsubscribed' else 'to'} {name}.")


def _evidence_words(problem: Problem, *, resubscribe: bool = True) -> dict[str, str]:
    """The evidence a refusal asks for, per field. An explanation is a resubscribe's only
    when the person had opted out; for one who never did, it explains the legal basis."""
    out = {}
    for error in problem.errors:
        if error.code == Reason.EXPLANATION_REQUIRED and not resubscribe:
            out[error.field] = words.OPT_IN_EXPLANATION
            continue
        found = words.REFUSALS.get(error.code)
        out[error.field] = found.one.format(channel="email") if found else error.reason
    return out or problem_words(problem)


# --- unsubscribe from all -----------------------------------------------------------------


@router.get("/contacts/{contact_id}/unsubscribe-all")
def unsubscribe_all_confirm(request: Request, contact_id: int, me: SignedIn = Depends(editor)) -> Response:
    """Asks first: a user cannot undo it for every type at once if the person set it later
    (R8), and a user's own lift needs evidence. A <dialog> with htmx, a page without
    JavaScript; only its form's POST changes anything."""
    channel = _channel(request.query_params.get("channel"))
    unit_id = _int(request.query_params.get("business_unit_id"), "business_unit_id")
    with _db(request).read() as conn:
        contact = contacts.get_contact(conn, contact_id)
        address = _address(conn, contact_id, channel)
        unit = catalog.get_business_unit(conn, unit_id)
    template = "contacts/_unsubscribe_all_dialog.html" if is_htmx(request) else "contacts/unsubscribe_all.html"
    return render(
        request,
        template,
        me,
        section="contacts",
        title=f"Unsubscribe from all {words.CHANNEL_IN_TEXT[channel.value]} of {unit['name']}?",
        contact=contact,
        address=address.display,
        channel=channel.value,
        unit=unit,
    )


@router.post("/contacts/{contact_id}/unsubscribe-all")
async def unsubscribe_all(request: Request, contact_id: int, me: SignedIn = Depends(editor)) -> Response:
    form = await request.form()
    channel = _channel(form.get("channel"))
    unit = _int(form.get("business_unit_id"), "business_unit_id")
    with _db(request).read() as conn:
        address = _address(conn, contact_id, channel)
        unit_name = catalog.get_business_unit(conn, unit)["name"]
    _, result = subscriptions.set_unsubscribe_all(
        _db(request),
        channel=channel,
        raw_address=address.display,
        business_unit_id=unit,
        actor=_actor(me),
        context=client_context(request),
    )
    word = words.CHANNEL_IN_TEXT[channel.value]
    text = (
        f"{address.display} is unsubscribed from all {word} of {unit_name}."
        if result.outcome is Outcome.CHANGED
        else f"{address.display} was already unsubscribed from all {word} of {unit_name}."
    )
    return redirect(request, f"/contacts/{contact_id}?business_unit_id={unit}", text)


def _wide_dialog(
    request: Request,
    me: SignedIn,
    dialog: _EvidenceDialog,
    unit: dict[str, Any],
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    refusal: str = "",
) -> Response:
    needed = evidence_to_lift_wide_opt_out(dialog.policy, has_processing_basis=dialog.has_processing_basis)
    return dialog.render(
        request,
        me,
        "wide",
        f"Remove an opt-out of all {words.CHANNEL_IN_TEXT[dialog.channel.value]} that a user added",
        needed=needed,
        status=status,
        errors=errors,
        refusal=refusal,
        unit=unit,
    )


def _load_wide_dialog(request: Request, contact_id: int, form: Any) -> tuple[_EvidenceDialog, dict[str, Any]]:
    unit_id = _int(form.get("business_unit_id"), "business_unit_id")
    with _db(request).read() as conn:
        return _load_dialog(conn, contact_id, form), catalog.get_business_unit(conn, unit_id)


@router.get("/contacts/{contact_id}/resubscribe-all")
def resubscribe_all_dialog(request: Request, contact_id: int, me: SignedIn = Depends(editor)) -> Response:
    dialog, unit = _load_wide_dialog(request, contact_id, request.query_params)
    return _wide_dialog(request, me, dialog, unit)


@router.post("/contacts/{contact_id}/resubscribe-all")
async def resubscribe_all(request: Request, contact_id: int, me: SignedIn = Depends(editor)) -> Response:
    """Lift an "unsubscribe from all" — only one a user or an import set (R8)."""
    form = await request.form()
    dialog, unit = _load_wide_dialog(request, contact_id, form)
    try:
        _, result = subscriptions.lift_unsubscribe_all(
            _db(request),
            channel=dialog.channel,
            raw_address=dialog.address.display,
            business_unit_id=unit["id"],
            actor=_actor(me),
            evidence=parse_evidence(form),
            context=client_context(request),
        )
    except Problem as problem:
        return _wide_dialog(request, me, dialog, unit, errors=_evidence_words(problem), status=422)
    if result.outcome is Outcome.REFUSED:
        text = words.refusal(result.reason, dialog.channel.value)
        return _wide_dialog(request, me, dialog, unit, refusal=text, status=422)
    word = words.CHANNEL_IN_TEXT[dialog.channel.value]
    return redirect(
        request,
        f"/contacts/{contact_id}?business_unit_id={unit['id']}",
        f"{dialog.address.display} may receive {word} again.",
    )


# --- preference link, delete ----------------------------------------------------------------


@router.post("/contacts/{contact_id}/preference-link")
async def send_preference_link(request: Request, contact_id: int, me: SignedIn = Depends(editor)) -> Response:
    """Email the contact a link to their preference page for one business unit. When they
    unsubscribed from all themselves, it is the resubscribe invitation (only they can).
    The action queues it (R33); the worker sends it."""
    form = await request.form()
    unit = _int(form.get("business_unit_id"), "business_unit_id")
    with _db(request).read() as conn:
        address = _address(conn, contact_id, Channel.EMAIL)
    back = f"/contacts/{contact_id}?business_unit_id={unit}"
    try:
        sent = link_actions.send_preference_link(
            _db(request), request.app.state.settings, address=address, business_unit_id=unit, actor=_actor(me)
        )
    except link_actions.InvitationLimited as limited:  # R8's once a week, whoever asked: nothing queued
        return redirect(
            request,
            back,
            f"Not sent: an invitation to resubscribe went to {address.display} in the last 7 days "
            f"(at most one a week). The next can be sent from {when(limited.next_at)}.",
            kind="bad",
        )
    what = "an invitation to resubscribe" if sent.invitation else "a link to their preference page"
    done = "Sent" if sent.mail.sent else "Queued"  # with SMTP the worker sends it in a moment
    return redirect(request, back, f"{done} {what} to {address.display}.")


@router.get("/contacts/{contact_id}/delete")
def delete_page(request: Request, contact_id: int, me: SignedIn = Depends(editor)) -> Response:
    """Asks first (a <dialog> with htmx, this page without JavaScript): only its form's POST
    deletes."""
    with _db(request).read() as conn:
        contact = contacts.get_contact(conn, contact_id)
    template = "contacts/_delete_dialog.html" if is_htmx(request) else "contacts/delete.html"
    return render(request, template, me, section="contacts", title="Delete contact", contact=contact)


@router.post("/contacts/{contact_id}/delete")
def delete(request: Request, contact_id: int, me: SignedIn = Depends(editor)) -> Response:
    contact_actions.delete_contact(_db(request), contact_id)
    return redirect(
        request,
        "/contacts",
        "Deleted the contact. Its addresses keep their opt-outs, statuses and history: "
        "a new contact with the same address sees them again.",
    )


# --- clear undeliverable (R11) ---------------------------------------------------------------


def _clear_page(
    request: Request,
    me: SignedIn,
    contact_id: int,
    channel: Channel,
    *,
    explanation: str = "",
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    with _db(request).read() as conn:
        account = load_account(conn)
        row = contacts.contact_row(conn, contact_id)
        [contact] = contacts.contact_views(conn, [row])
        fact = next((f for f in contacts.address_facts(conn, account, row) if f["channel"] == channel.value), None)
    if fact is None:
        word = "email address" if channel is Channel.EMAIL else "phone number"
        raise Invalid("channel", f"this contact has no {word}", "NO_ADDRESS")
    return render(
        request,
        "contacts/clear_undeliverable.html",
        me,
        status_code=status,
        section="contacts",
        title="Clear undeliverable",
        contact=contact,
        fact=fact,
        explanation=explanation,
        errors=errors or {},
    )


@router.get("/contacts/{contact_id}/clear-undeliverable")
def clear_undeliverable_page(request: Request, contact_id: int, me: SignedIn = Depends(editor)) -> Response:
    return _clear_page(request, me, contact_id, _channel(request.query_params.get("channel")))


@router.post("/contacts/{contact_id}/clear-undeliverable")
async def clear_undeliverable(request: Request, contact_id: int, me: SignedIn = Depends(editor)) -> Response:
    """A user says the address can receive mail again, and why (R11): the action refuses
    without an explanation and records it in the ledger."""
    form = await request.form()
    channel = _channel(form.get("channel"))
    explanation = str(form.get("legal_basis_explanation") or "")
    with _db(request).read() as conn:
        address = _address(conn, contact_id, channel)
    try:
        _, outcome = subscriptions.clear_undeliverable(
            _db(request),
            channel=channel,
            raw_address=address.display,
            actor=_actor(me),
            reason=explanation[:4000],
            context=client_context(request),
        )
    except Problem as problem:
        errors = {e.field: e.reason[:1].upper() + e.reason[1:] + "." for e in problem.errors} or problem_words(problem)
        return _clear_page(
            request, me, contact_id, channel, explanation=explanation, errors=errors, status=problem.status
        )
    text = (
        f"{address.display} is deliverable again."
        if outcome is Outcome.CHANGED
        else f"{address.display} was not marked undeliverable."
    )
    return redirect(request, f"/contacts/{contact_id}", text)
