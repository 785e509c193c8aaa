"""The preference center, `/preferences/{token}` (SPEC R13, R6, R8, R24).

GET shows every active type of the link's channel and business unit with its status, and
"unsubscribe from all". POST (Save) applies the person's choices as CONTACT-class changes
with source PREFERENCE_CENTER, the notice they saw, and their truncated IP and user agent;
all in one transaction, through the same `Writer` as every other interface.

Leaving an "unsubscribe from all" is the person's own act and needs a second, explicit
confirmation: the first Save that would lift it answers with a page asking exactly that.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.engine import Connection
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from assent.domain.model import Actor, Channel, Evidence, Policy, Reason, Source, Status, WideOptOut
from assent.domain.rules import SendFacts, TypeFacts, decide
from assent.mail import deliver
from assent.pages import i18n
from assent.pages.i18n import N_
from assent.pages.links import Opened, open_link, read_form
from assent.pages.receipts import receipt_email
from assent.pages.web import check_form, db_of, evidence_context, form_token, mailer_of, render, settings_of
from assent.services import catalog
from assent.services.changes import Writer
from assent.services.links import Purpose
from assent.services.receipts import last_event_id
from assent.services.state import Account, load_account, load_statuses, load_types, load_wide_opt_outs

router = APIRouter(include_in_schema=False)

#: the notice a person sees above Save when their brand wrote none (R6 needs one)
DEFAULT_NOTICE = N_(
    "By saving, you agree that %(company)s may send you the email you ticked above. "
    "You can change your mind at any time on this page."
)
DEFAULT_NOTICE_VERSION = "assent-preferences-1"


@dataclass(frozen=True, slots=True)
class TypeChoice:
    id: int
    name: str
    description: str
    status: Status
    ticked: bool


@dataclass(frozen=True, slots=True)
class Center:
    opened: Opened
    account: Account
    types: list[TypeChoice]
    wide: WideOptOut | None

    @property
    def channel(self) -> Channel:
        return self.opened.address.channel


def shows_ticked(status: Status, type_: TypeFacts, policy: Policy) -> bool:
    """R13: a box is ticked when this type's own status lets mail flow — SUBSCRIBED, or
    NOT_SPECIFIED where no consent is needed (email outside data privacy mode). The rule is
    the decision's (R11): a wide opt-out or a bounce is shown apart, not as unticked boxes."""
    return not {Reason.UNSUBSCRIBED, Reason.NO_CONSENT} & set(decide(type_, SendFacts(status), policy))


def load_center(conn: Connection, opened: Opened) -> Center:
    account = load_account(conn)
    address = opened.address
    rows = catalog.list_subscription_types(
        conn, business_unit_id=opened.brand.id, channel=address.channel.value
    )
    statuses = load_statuses(conn, {address.key}, [r["id"] for r in rows])
    wides = load_wide_opt_outs(conn, address.channel, {address.key}, [opened.brand.id])
    choices = []
    for row in rows:
        status = statuses.get((address.key, row["id"]), Status.NOT_SPECIFIED)
        name, description = i18n.localized_type(row, opened.language)
        choices.append(
            TypeChoice(
                row["id"],
                name,
                description,
                status,
                shows_ticked(status, TypeFacts(address.channel, row["business_unit_id"], True), account.policy),
            )
        )
    return Center(opened, account, choices, wides.get((address.key, opened.brand.id)))


def notice(opened: Opened) -> tuple[str, str]:
    brand = opened.brand
    if brand.notice_text:
        return brand.notice_text, brand.notice_version or "1"
    text = i18n.gettext(opened.language, DEFAULT_NOTICE, company=brand.company_name)
    return text, f"{DEFAULT_NOTICE_VERSION}-{opened.language}"


def _page(request: Request, center: Center, *, status: int = 200, **extra: Any) -> HTMLResponse:
    opened = center.opened
    notice_text, _ = notice(opened)
    return render(
        request,
        "preferences.html",
        language=opened.language,
        brand=opened.brand,
        status=status,
        address=opened.address.display,
        channel=center.channel.value,
        types=center.types,
        wide=center.wide is not None,
        resubscribe=opened.target.resubscribe,
        notice_text=notice_text,
        csrf=form_token(request, opened.token),
        action=f"/preferences/{opened.token}?lang={opened.language}",
        saved=request.query_params.get("saved") == "1",
        **extra,
    )


@router.api_route("/preferences/{token}", methods=["GET", "HEAD"], response_class=HTMLResponse)
def show(request: Request, token: str) -> HTMLResponse:
    with db_of(request).read() as conn:
        center = load_center(conn, open_link(request, conn, token, Purpose.PREFERENCES))
    return _page(request, center)


@router.post("/preferences/{token}", response_class=HTMLResponse)
async def save(request: Request, token: str, background: BackgroundTasks) -> Response:
    form = await read_form(request)
    return await run_in_threadpool(_save, request, token, form, background)


@dataclass(frozen=True, slots=True)
class Choices:
    shown: set[int]
    ticked: set[int]
    unsubscribe_all: bool
    confirmed: bool

    @classmethod
    def parse(cls, form: FormData) -> Choices:
        def ids(name: str) -> set[int]:
            return {int(v) for v in form.getlist(name) if isinstance(v, str) and v.isdigit() and len(v) < 12}

        return cls(
            shown=ids("shown"),
            ticked=ids("type"),
            unsubscribe_all=form.get("unsubscribe_all") == "1",
            confirmed=form.get("confirm_resubscribe") == "1",
        )


def _save(request: Request, token: str, form: FormData, background: BackgroundTasks) -> Response:
    db = db_of(request)
    with db.write() as conn:
        before = last_event_id(conn)
        opened = open_link(request, conn, token, Purpose.PREFERENCES)
        back = f"/preferences/{token}?lang={opened.language}"
        check_form(request, form, token, language=opened.language, brand=opened.brand, back=back)
        center = load_center(conn, opened)
        choices = Choices.parse(form)
        leaving = center.wide is not None and not choices.unsubscribe_all
        if leaving and not choices.confirmed:
            # R8/R13: lifting "unsubscribe from all" takes a second, explicit yes. Nothing
            # is written until it comes.
            return _confirm_page(request, center, choices)
        apply(conn, request, center, choices)
    message = receipt_email(
        db,
        settings_of(request),
        brand=opened.brand,
        target=opened.target,
        to=opened.address.display,
        source=Source.PREFERENCE_CENTER.value,
        after_id=before,
    )
    if message is not None:
        background.add_task(deliver, mailer_of(request), message)
    return RedirectResponse(f"/preferences/{token}?saved=1&lang={opened.language}", status_code=303)


def apply(conn: Connection, request: Request, center: Center, choices: Choices) -> None:
    opened = center.opened
    notice_text, notice_version = notice(opened)
    writer = Writer(
        db_of(request),
        conn,
        center.account,
        Actor(Source.PREFERENCE_CENTER),
        Evidence(notice_text=notice_text, notice_version=notice_version),
        evidence_context(request),
    )
    address, channel, bu = opened.address, center.channel, opened.brand.id
    if center.wide is not None and not choices.unsubscribe_all:
        writer.remove_wide_opt_out(channel, [address], bu)
    elif center.wide is None and choices.unsubscribe_all:
        writer.set_wide_opt_out(channel, [address], bu)
    types = load_types(conn, [c.id for c in center.types if c.id in choices.shown])
    changes = []
    for choice in center.types:
        if choice.id not in choices.shown:
            continue  # added after the page was served: the person never saw it
        wants = choice.id in choices.ticked
        if wants and not choice.ticked and not choices.unsubscribe_all:
            changes.append((types[choice.id], Status.SUBSCRIBED))
        elif not wants and choice.ticked:
            # An opt-out is honoured even alongside "unsubscribe from all" (R4).
            changes.append((types[choice.id], Status.UNSUBSCRIBED))
    if changes:
        writer.change_statuses(channel, [(address, changes)])


def _confirm_page(request: Request, center: Center, choices: Choices) -> HTMLResponse:
    opened = center.opened
    chosen = [c for c in center.types if c.id in choices.shown and c.id in choices.ticked]
    return render(
        request,
        "confirm_resubscribe.html",
        language=opened.language,
        brand=opened.brand,
        address=opened.address.display,
        channel=center.channel.value,
        chosen=chosen,
        shown=sorted(choices.shown),
        ticked=sorted(choices.ticked),
        csrf=form_token(request, opened.token),
        action=f"/preferences/{opened.token}?lang={opened.language}",
        back=f"/preferences/{opened.token}?lang={opened.language}",
    )
