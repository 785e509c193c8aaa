"""The public, contact-facing pages (SPEC §3 "Public pages", R13–R17): the preference
center, one-click unsubscribe, "get my link", the signup form and double opt-in.

Server-rendered (Jinja2, Babel), no JavaScript needed, no login: each page is opened by a
signed link (`assent.services.links`) or is a public form with abuse limits.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles

from assent.mail import mailer_for
from assent.pages import preferences, request_link, signup, unsubscribe, web

STATIC = Path(__file__).parent / "static"


def mount(app: FastAPI) -> None:
    router = APIRouter(include_in_schema=False)
    # `/preferences` (get my link) before `/preferences/{token}`: both are plain paths.
    for module in (request_link, preferences, unsubscribe, signup):
        router.include_router(module.router)
    app.include_router(router)
    app.mount("/static/pages", StaticFiles(directory=STATIC), name="pages-static")
    web.install(app)
    if getattr(app.state, "mailer", None) is None:
        app.state.mailer = mailer_for(app.state.settings, app.state.db)
