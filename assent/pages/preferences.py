"""The preference center, `/preferences/{token}` (SPEC R13, R6, R8, R24).

GET shows every active type of the link's channel and business unit with its status, and
"unsubscribe from all". POST (Save) applies the person's choices as CONTACT-class changes
with source PREFERENCE_CENTER, the notice they saw, and their truncated IP and user agent;
all in one write transaction (`assent.actions.contact_pages.save_preferences`).

Leaving an "unsubscribe from all" is the person's own act and needs a second, explicit
confirmation: the first Save that would lift it answers with a page asking exactly that.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from sqlalchemy.engine import Connection
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from assent import i18n
from assent.actions import contact_pages
from assent.actions.contact_pages import Choices
from assent.domain.model import Channel, Status, Verdict, WideOptOut
from assent.i18n import N_
from assent.pages.links import Opened, open_link, read_form
from assent.pages.web import check_form, db_of, evidence_context, form_token, render, settings_of
from assent.services.branding import Brand
from assent.services.links import Purpose
from assent.services.preferences import PreferenceState, load_preferences
from assent.services.state import Account

router = APIRouter(include_in_schema=False)

#: the notice a person sees above Save when their brand wrote none (R6 needs one)
DEFAULT_NOTICE = N_(
    "By saving, you agree that %(company)s may send you the email you ticked above. "
    "You can change your mind at any time on this page."
)
DEFAULT_NOTICE_VERSION = "assent-preferences-1"
#: the address the admin's preview shows in place of a person's
EXAMPLE_ADDRESS = {Channel.EMAIL: "name@example.com", Channel.SMS: "+1 555 0100", Channel.WHATSAPP: "+1 555 0100"}


@dataclass(frozen=True, slots=True)
class TypeChoice:
    id: int
    name: str
    description: str
    status: Status
    ticked: bool
    #: nothing of it is sent while "unsubscribe from all" stands (the decision's reason)
    held: bool


@dataclass(frozen=True, slots=True)
class Center:
    opened: Opened
    account: Account
    types: list[TypeChoice]
    wide: WideOptOut | None
    #: R8's verdict: may the person lift the wide opt-out on this page (None without one)
    lift: Verdict | None

    @property
    def channel(self) -> Channel:
        return self.opened.address.channel


def type_choices(state: PreferenceState, language: str) -> list[TypeChoice]:
    return [
        TypeChoice(
            ty.id,
            *i18n.localized_type(ty.row, language),
            ty.status,
            ty.box.ticked,
            ty.box.held_by_wide_opt_out,
        )
        for ty in state.types
    ]


def load_center(conn: Connection, opened: Opened) -> Center:
    state = load_preferences(conn, opened.address, opened.brand.id)
    return Center(opened, state.account, type_choices(state, opened.language), state.wide, state.lift)


def notice(brand: Brand, language: str) -> tuple[str, str]:
    """The notice a person sees above Save, in their language: the unit's translation, its
    own text, or ours."""
    own = brand.notice(language)
    if own is not None:
        return own
    text = i18n.gettext(language, DEFAULT_NOTICE, company=brand.company_name)
    return text, f"{DEFAULT_NOTICE_VERSION}-{language}"


def _page(request: Request, center: Center, *, status: int = 200, **extra: Any) -> HTMLResponse:
    opened = center.opened
    notice_text, _ = notice(opened.brand, opened.language)
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
        can_lift=center.lift is not None and center.lift.applies,
        resubscribe=opened.target.resubscribe,
        highlight=None,
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


def parse_choices(form: FormData) -> Choices:
    def ids(name: str) -> set[int]:
        return {int(v) for v in form.getlist(name) if isinstance(v, str) and v.isdecimal() and len(v) < 12}

    return Choices(
        shown=ids("shown"),
        ticked=ids("type"),
        unsubscribe_all=form.get("unsubscribe_all") == "1",
        confirmed=form.get("confirm_resubscribe") == "1",
    )


def _save(request: Request, token: str, form: FormData, background: BackgroundTasks) -> Response:
    with db_of(request).read() as conn:
        opened = open_link(request, conn, token, Purpose.PREFERENCES)
        back = f"/preferences/{token}?lang={opened.language}"
        check_form(request, form, token, language=opened.language, brand=opened.brand, back=back)
        center = load_center(conn, opened)
    choices = parse_choices(form)
    notice_text, notice_version = notice(opened.brand, opened.language)
    saved = contact_pages.save_preferences(
        db_of(request),
        settings_of(request),
        target=opened.target,
        address=opened.address,
        choices=choices,
        notice_text=notice_text,
        notice_version=notice_version,
        context=evidence_context(request),
    )
    if not saved.saved:
        # R8/R13: lifting "unsubscribe from all" takes a second, explicit yes. Nothing is
        # written until it comes.
        return _confirm_page(request, center, choices)
    return RedirectResponse(f"/preferences/{token}?saved=1&lang={opened.language}", status_code=303)


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


def preview(
    brand: Brand,
    state: PreferenceState,
    *,
    language: str,
    channel: Channel,
    lang_url: Callable[[str], str],
    highlight: int | None = None,
) -> Markup:
    """The preference page of `brand` as a person with no choices yet sees it, for the
    admin's preview: the page's own partials and catalog, without its document (no form
    that posts: the admin shows it inert)."""
    language = i18n.catalog_language(language)
    html = (
        i18n.environment("assent.pages", language)
        .get_template("_preview.html")
        .render(
            brand=brand,
            languages=i18n.languages(language),
            lang_url=lang_url,
            address=EXAMPLE_ADDRESS[channel],
            channel=channel.value,
            types=type_choices(state, language),
            wide=False,
            can_lift=False,
            resubscribe=False,
            notice_text=notice(brand, language)[0],
            csrf="",
            action="",
            saved=False,
            highlight=highlight,
        )
    )
    return Markup(html)  # noqa: S704 - rendered by our autoescaping environment
