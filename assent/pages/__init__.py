"""The public, contact-facing pages (SPEC §3 "Public pages", R13–R17): the preference
center, one-click unsubscribe, "get my link", the signup form and double opt-in, and the
landing page at `/`.

Server-rendered (Jinja2, Babel), no JavaScript needed, no login: each page is opened by a
signed link (`assent.services.links`) or is a public form with abuse limits.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles

from assent.pages import home, preferences, request_link, signup, unsubscribe, web

STATIC = Path(__file__).parent / "static"


def create_app(settings: object, db: object, mailer: object) -> FastAPI:
    """The pages as an ASGI app; errors render as localized HTML pages (`web.install`)."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.state.db = db
    app.state.mailer = mailer
    router = APIRouter(include_in_schema=False)
    # `/preferences` (get my link) before `/preferences/{token}`: both are plain paths.
    for module in (home, request_link, preferences, unsubscribe, signup):
        router.include_router(module.router)
    app.include_router(router)
    app.mount("/static/pages", StaticFiles(directory=STATIC), name="pages-static")
    web.install(app)
    return app


def mount(root: FastAPI, settings: object, db: object, mailer: object) -> None:
    """At the root, after every other interface: the pages answer every other path."""
    root.mount("", create_app(settings, db, mailer))
