"""The app factory: settings in, a FastAPI app out. Nothing is built at import time.

Each interface is its own sub-app with its own error shape, mounted here: the native API at
`/api/v1` (RFC 9457), the admin UI at `/admin` (its own pages), the public pages at the root
(localized HTML pages, also for unknown paths). The root app itself serves the operations
endpoints (plain answers) and the API's OpenAPI document and Swagger UI.
"""

from __future__ import annotations

import dataclasses

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from assent import admin, api, hubspot, inbound, ops, pages
from assent.actions.account import development_secret
from assent.actions.ledger import periodic_checkpoints
from assent.api.fast_decision import FastDecisions
from assent.api.idempotency import IdempotencyMiddleware
from assent.api.problems import body_too_large, problem_response
from assent.bodylimit import BodyLimit, Refusal
from assent.config import Settings, legacy_secret_file
from assent.hubspot import errors as hubspot_errors
from assent.inbound import common as inbound_common
from assent.jobs.worker import in_process_worker
from assent.mail import mailer_for
from assent.pages import web as pages_web
from assent.storage.db import Database, open_database

DESCRIPTION = """
Assent keeps what every person agreed to receive — per address, channel, subscription type and
business unit — and answers "may we send this?" with reasons and evidence.

Authenticate with `Authorization: Bearer <api key>` (create one with `assent api-key create`).
Errors are RFC 9457 problem documents with a stable `code` and the offending `field`.
Writes accept an `Idempotency-Key` header: a retry returns the first answer.
"""


def create_app(settings: Settings, db: Database | None = None) -> FastAPI:
    database = db or open_database(settings)
    database.use_default_phone_region(settings.default_phone_region)
    if not settings.secret_keys:
        key = development_secret(database, legacy_secret_file(settings.database_url))
        settings = dataclasses.replace(settings, secret_keys=(key,))
    mailer = mailer_for(settings, database)
    app = FastAPI(
        title="Assent",
        version="0.1.0",
        description=DESCRIPTION,
        docs_url=None,  # served by api.mount_docs from vendored files: no CDN for a self-hosted service
        redoc_url=None,
        openapi_url="/openapi.json",
        # `assent serve` runs the worker's loops (jobs, ledger checkpoints, webhooks, mail) beside
        # the web server (not in tests).
        lifespan=in_process_worker(database, settings, periodic=periodic_checkpoints(database, settings))
        if settings.run_worker
        else None,
    )
    app.state.settings = settings
    app.state.db = database
    app.state.mailer = mailer  # one per app, shared by every interface
    api_app = api.create_app(settings, database, mailer)
    # innermost: the plain single decision is answered here, before any routing (api/fast_decision.py)
    app.add_middleware(FastDecisions, api=api_app)
    app.add_middleware(IdempotencyMiddleware, db=database)
    # outermost: before authentication and reading; its 413 in each interface's own shape
    app.add_middleware(BodyLimit, settings=settings, refusals=_refusals())
    ops.install(app)
    api.mount(app, api_app)
    # Each further interface mounts its own `<package>.create_app(settings, db)` here,
    # before the pages' catch-all.
    app.mount(hubspot.PREFIX, hubspot.create_app(settings, database))
    app.mount("/inbound", inbound.create_app(settings, database))
    app.add_api_route("/admin", _admin_root, include_in_schema=False)
    app.mount(admin.PREFIX, admin.create_admin(settings, database, mailer))
    pages.mount(app, settings, database, mailer)  # last: it answers every other path
    # A path no mount matches at all (a decoded newline defeats their patterns) is still
    # answered in the shape of the interface its prefix names.
    app.add_exception_handler(StarletteHTTPException, _unmatched)
    return app


def _refusals() -> tuple[tuple[str, Refusal], ...]:
    """Who renders the root body limit's 413, by path prefix (the longest wins)."""
    return (
        ("/api/", body_too_large),
        (hubspot.PREFIX, hubspot_errors.body_too_large),
        ("/inbound/", inbound_common.body_too_large),
        (admin.PREFIX, admin.too_large),
        ("/", pages_web.body_too_large),  # the pages answer every other path
    )


def _admin_root(request: Request) -> RedirectResponse:
    """`/admin` without its slash matches no mount (a mount wants `/admin/…`), so the pages'
    catch-all would answer 404: send it to the admin's own root."""
    return RedirectResponse(f"{request.scope.get('root_path', '')}/admin/", status_code=308)


def _unmatched(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if request.url.path.startswith(api.PREFIX):
        return problem_response(
            exc.status_code,
            "NOT_FOUND" if exc.status_code == 404 else "HTTP_ERROR",
            "Not found" if exc.status_code == 404 else "Error",
            str(exc.detail),
        )
    return PlainTextResponse(f"{exc.detail}\n", status_code=exc.status_code)
