"""A contact's record: properties (R26), the Subscriptions tab per business unit with
Subscribe / Resubscribe / Unsubscribe, the History tab, unsubscribe from all, a preference
link by email, and deleting the contact (R2: its addresses keep their state).

Every change is `services/subscribers.py` acting as the signed-in user (source MANUAL,
actor "user:<id>"), exactly as the REST API's single-address endpoints do; refusals come
back from the domain core and are shown in words (admin/words.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, BackgroundTasks, Depends, Request
from fastapi.responses import Response
from sqlalchemy.engine import Connection

from assent.admin import events, words
from assent.admin.security import SignedIn, editor, viewer
from assent.admin.web import is_htmx, problem_words, redirect, render
from assent.api.common import client_context
from assent.domain.addresses import Address
from assent.domain.model import Actor, Channel, Evidence, LegalBasis, Outcome, Source, Status
from assent.mail import Mailer, compose, mailer_for
from assent.mail.queue import deliver_now, enqueue
from assent.pages.branding import load_brand
from assent.services import catalog, contacts, links, subscribers
from assent.services.errors import Invalid, Problem
from assent.services.links import LinkTarget
from assent.services.state import load_account
from assent.storage.db import Database

router = APIRouter()


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def _actor(me: SignedIn) -> Actor:
    return Actor(Source.MANUAL, me.user.actor_id)


def _address(conn: Connection, contact_id: int, channel: Channel) -> Address:
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
    if not text.isdigit() or len(text) > 9:
        raise Invalid(field, "missing or not a number")
    return int(text)


def _evidence(form: Any) -> Evidence:
    def basis(name: str) -> LegalBasis | None:
        value = str(form.get(name) or "")
        return LegalBasis(value) if value in LegalBasis.__members__ else None

    return Evidence(
        legal_basis=basis("legal_basis"),
        legal_basis_explanation=str(form.get("legal_basis_explanation") or "").strip()[:4000] or None,
        processing_legal_basis=basis("processing_legal_basis"),
    )


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
        contact = contacts.get_contact(conn, contact_id)
        addresses = contacts.contact_addresses(contacts.contact_row(conn, contact_id))
        units = catalog.list_business_units(conn)
        context: dict[str, Any] = {}
        if tab == "history":
            hashes = [account.address_hash(a.channel, a.key) for a in addresses]
            found = (
                events.page(conn, events.Filters(address_hashes=hashes), before) if hashes else events.Page([], None)
            )
            named = events.names(conn, found.rows)
            context = {"rows": [events.describe(r, named) for r in found.rows], "page": found}
        else:
            tab = "subscriptions"
            context = {"channels": [_channel_view(conn, account, a, business_unit_id) for a in addresses]}
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
        **context,
    )


def _channel_view(conn: Connection, account: Any, address: Address, business_unit_id: int) -> dict[str, Any]:
    view = subscribers.subscriber_view(conn, account, address)
    wide = next((w for w in view["wide_opt_outs"] if w["business_unit_id"] == business_unit_id), None)
    return {
        "channel": address.channel.value,
        "address": view["address"],
        "statuses": [s for s in view["statuses"] if s["business_unit_id"] == business_unit_id and s["is_active"]],
        "wide": wide,
        "undeliverable": view["undeliverable"],
        "erased": view["erased"],
        "processing_legal_basis": view["processing_legal_basis"],
    }


# --- subscribe / resubscribe / unsubscribe ------------------------------------------------


def _dialog(
    request: Request,
    me: SignedIn,
    contact_id: int,
    form: Any,
    *,
    errors: dict[str, str] | None = None,
    refusal: str = "",
    status: int = 200,
) -> Response:
    type_id = _int(form.get("subscription_type_id"), "subscription_type_id")
    with _db(request).read() as conn:
        evidence = _load_evidence_dialog(conn, contact_id, form)
        ty = catalog.get_subscription_type(conn, type_id)
    statuses = evidence.view["statuses"]
    current = next((s["status"] for s in statuses if s["subscription_type_id"] == type_id), "NOT_SPECIFIED")
    return evidence.render(
        request,
        me,
        "change",
        "Resubscribe" if current == Status.UNSUBSCRIBED else "Subscribe",
        status=status,
        errors=errors,
        refusal=refusal,
        ty=ty,
        current=current,
    )


@dataclass
class _EvidenceDialog:
    """What both legal-basis dialogs (a type, or unsubscribe-from-all) show and ask for."""

    form: Any
    channel: Channel
    contact: dict[str, Any]
    view: dict[str, Any]
    privacy: bool

    def render(
        self,
        request: Request,
        me: SignedIn,
        name: str,
        title: str,
        *,
        status: int,
        errors: dict[str, str] | None,
        refusal: str,
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
            privacy=self.privacy,
            has_processing_basis=self.view["processing_legal_basis"] is not None,
            values={k: self.form.get(k) or "" for k in fields},
            errors=errors or {},
            refusal=refusal,
            **extra,
        )


def _load_evidence_dialog(conn: Connection, contact_id: int, form: Any) -> _EvidenceDialog:
    channel = _channel(form.get("channel"))
    account = load_account(conn)
    contact = contacts.get_contact(conn, contact_id)
    view = subscribers.subscriber_view(conn, account, _address(conn, contact_id, channel))
    return _EvidenceDialog(form, channel, contact, view, account.policy.data_privacy_mode)


@router.get("/contacts/{contact_id}/subscribe")
def subscribe_dialog(request: Request, contact_id: int, me: SignedIn = Depends(editor)) -> Response:
    """The legal-basis dialog (a <dialog> with htmx, a page without JavaScript)."""
    return _dialog(request, me, contact_id, request.query_params)


@router.post("/contacts/{contact_id}/statuses")
async def change_status(request: Request, contact_id: int, me: SignedIn = Depends(editor)) -> Response:
    form = await request.form()
    channel = _channel(form.get("channel"))
    type_id = _int(form.get("subscription_type_id"), "subscription_type_id")
    target = Status(str(form.get("status"))) if form.get("status") in Status.__members__ else None
    if target is None:
        raise Invalid("status", "choose SUBSCRIBED, NOT_SPECIFIED or UNSUBSCRIBED")
    back = f"/contacts/{contact_id}?business_unit_id={form.get('business_unit_id') or 0}"
    with _db(request).read() as conn:
        address = _address(conn, contact_id, channel)
    try:
        _, [result] = subscribers.change_statuses(
            _db(request),
            channel=channel,
            raw_address=address.key,
            changes=[subscribers.RequestedChange(type_id, target)],
            actor=_actor(me),
            evidence=_evidence(form),
            context=client_context(request),
        )
    except Problem as problem:  # evidence missing (R5, R6): nothing written
        if target is Status.UNSUBSCRIBED:
            return redirect(request, back, problem.detail, kind="bad")
        return _dialog(request, me, contact_id, form, errors=_evidence_words(problem), status=422)
    if result.outcome is Outcome.REFUSED:
        text = _refusal(request, contact_id, channel, result.reason, type_id)
        if target is Status.UNSUBSCRIBED:
            return redirect(request, back, text, kind="bad")
        return _dialog(request, me, contact_id, form, refusal=text, status=422)
    with _db(request).read() as conn:
        name = catalog.get_subscription_type(conn, type_id)["name"]
    if result.outcome is Outcome.UNCHANGED:
        return redirect(request, back, f"{address.display} is already {words.status(target.value).lower()} for {name}.")
    verb = {
        Status.SUBSCRIBED: "Resubscribed" if result.old_status is Status.UNSUBSCRIBED else "Subscribed",
        Status.UNSUBSCRIBED: "Unsubscribed",
        Status.NOT_SPECIFIED: "Reset",
    }[target]
    return redirect(request, back, f"{verb} {address.display} {'from' if verb == 'Unsubscribed' else 'to'} {name}.")


def _evidence_words(problem: Problem) -> dict[str, str]:
    out = {}
    for error in problem.errors:
        found = words.REFUSALS.get(error.code)
        out[error.field] = found.one.format(channel="email") if found else error.reason
    return out or problem_words(problem)


def _refusal(request: Request, contact_id: int, channel: Channel, reason: Any, type_id: int | None) -> str:
    """A refusal in words; for a wide opt-out in force, saying who set it (who may lift it)."""
    set_by = None
    with _db(request).read() as conn:
        if type_id is not None:
            unit = catalog.get_subscription_type(conn, type_id)["business_unit_id"]
            view = subscribers.subscriber_view(conn, load_account(conn), _address(conn, contact_id, channel))
            set_by = next((w["set_by"] for w in view["wide_opt_outs"] if w["business_unit_id"] == unit), None)
    return words.refusal(str(reason) if reason else None, channel.value, set_by=set_by)


# --- unsubscribe from all -----------------------------------------------------------------


@router.post("/contacts/{contact_id}/unsubscribe-all")
async def unsubscribe_all(request: Request, contact_id: int, me: SignedIn = Depends(editor)) -> Response:
    form = await request.form()
    channel = _channel(form.get("channel"))
    unit = _int(form.get("business_unit_id"), "business_unit_id")
    with _db(request).read() as conn:
        address = _address(conn, contact_id, channel)
        unit_name = catalog.get_business_unit(conn, unit)["name"]
    _, result = subscribers.set_wide_opt_out(
        _db(request),
        channel=channel,
        raw_address=address.key,
        business_unit_id=unit,
        actor=_actor(me),
        evidence=Evidence(),
        context=client_context(request),
    )
    word = words.CHANNEL_IN_TEXT[channel.value]
    text = (
        f"{address.display} is unsubscribed from all {word} of {unit_name}."
        if result.outcome is Outcome.CHANGED
        else f"{address.display} was already unsubscribed from all {word} of {unit_name}."
    )
    return redirect(request, f"/contacts/{contact_id}?business_unit_id={unit}", text)


@router.get("/contacts/{contact_id}/resubscribe-all")
def resubscribe_all_dialog(request: Request, contact_id: int, me: SignedIn = Depends(editor)) -> Response:
    return _wide_dialog(request, me, contact_id, request.query_params)


def _wide_dialog(
    request: Request,
    me: SignedIn,
    contact_id: int,
    form: Any,
    *,
    errors: dict[str, str] | None = None,
    refusal: str = "",
    status: int = 200,
) -> Response:
    unit_id = _int(form.get("business_unit_id"), "business_unit_id")
    with _db(request).read() as conn:
        evidence = _load_evidence_dialog(conn, contact_id, form)
        unit = catalog.get_business_unit(conn, unit_id)
    return evidence.render(
        request,
        me,
        "wide",
        "Remove unsubscribe from all",
        status=status,
        errors=errors,
        refusal=refusal,
        unit=unit,
    )


@router.post("/contacts/{contact_id}/resubscribe-all")
async def resubscribe_all(request: Request, contact_id: int, me: SignedIn = Depends(editor)) -> Response:
    """Lift an "unsubscribe from all" — only one a user or an import set (R8)."""
    form = await request.form()
    channel = _channel(form.get("channel"))
    unit = _int(form.get("business_unit_id"), "business_unit_id")
    with _db(request).read() as conn:
        address = _address(conn, contact_id, channel)
    try:
        _, result = subscribers.set_wide_opt_out(
            _db(request),
            channel=channel,
            raw_address=address.key,
            business_unit_id=unit,
            actor=_actor(me),
            evidence=_evidence(form),
            context=client_context(request),
            remove=True,
        )
    except Problem as problem:
        return _wide_dialog(request, me, contact_id, form, errors=_evidence_words(problem), status=422)
    if result.outcome is Outcome.REFUSED:
        text = words.refusal(str(result.reason), channel.value)
        return _wide_dialog(request, me, contact_id, form, refusal=text, status=422)
    word = words.CHANNEL_IN_TEXT[channel.value]
    return redirect(
        request, f"/contacts/{contact_id}?business_unit_id={unit}", f"{address.display} may receive {word} again."
    )


# --- preference link, delete ----------------------------------------------------------------


def _mailer(request: Request) -> Mailer:
    parent = getattr(request.app.state, "parent", None)
    found: Mailer | None = getattr(parent.state, "mailer", None) if parent is not None else None
    return found or mailer_for(request.app.state.settings, _db(request))


@router.post("/contacts/{contact_id}/preference-link")
async def send_preference_link(
    request: Request, contact_id: int, background: BackgroundTasks, me: SignedIn = Depends(editor)
) -> Response:
    """Email the contact a link to their preference page for one business unit. When they
    unsubscribed from all themselves, it is the resubscribe invitation (only they can)."""
    form = await request.form()
    unit = _int(form.get("business_unit_id"), "business_unit_id")
    settings = request.app.state.settings
    with _db(request).write() as conn:
        account = load_account(conn)
        address = _address(conn, contact_id, Channel.EMAIL)
        brand = load_brand(conn, unit)
        if brand is None:
            raise Invalid("business_unit_id", f"business unit {unit} does not exist")
        view = subscribers.subscriber_view(conn, account, address)
        by_contact = any(w["business_unit_id"] == unit and w["set_by"] == "CONTACT" for w in view["wide_opt_outs"])
        language = brand.default_language
        target = LinkTarget(links.remember(conn, account, address), unit, language)
        make = compose.resubscribe if by_contact else compose.preference_link
        # Queued in the transaction that decides to send it (R33); sent after the response.
        mail_id = enqueue(conn, make(settings, brand, language, address.display, target))
    background.add_task(
        deliver_now, _db(request), _mailer(request), mail_id, retry_base_seconds=settings.mail_retry_base_seconds
    )
    what = "an invitation to resubscribe" if by_contact else "a link to their preference page"
    return redirect(request, f"/contacts/{contact_id}?business_unit_id={unit}", f"Sent {what} to {address.display}.")


@router.get("/contacts/{contact_id}/delete")
def delete_page(request: Request, contact_id: int, me: SignedIn = Depends(editor)) -> Response:
    with _db(request).read() as conn:
        contact = contacts.get_contact(conn, contact_id)
    return render(request, "contacts/delete.html", me, section="contacts", title="Delete contact", contact=contact)


@router.post("/contacts/{contact_id}/delete")
def delete(request: Request, contact_id: int, me: SignedIn = Depends(editor)) -> Response:
    with _db(request).write() as conn:
        contacts.delete_contact(conn, contact_id)
    return redirect(
        request,
        "/contacts",
        "Deleted the contact. Its addresses keep their opt-outs, statuses and history: "
        "a new contact with the same address sees them again.",
    )
