"""The app factory: settings in, a FastAPI app out. Nothing is built at import time."""

from __future__ import annotations

from fastapi import FastAPI

from assent import admin, api, ops, pages
from assent.api import problems
from assent.api.idempotency import IdempotencyMiddleware
from assent.config import Settings
from assent.jobs.worker import in_process_worker
from assent.storage.db import Database

DESCRIPTION = """
Assent keeps what every person agreed to receive — per address, channel, subscription type and
business unit — and answers "may we send this?" with reasons and evidence.

Authenticate with `Authorization: Bearer <api key>` (create one with `assent api-key create`).
Errors are RFC 9457 problem documents with a stable `code` and the offending `field`.
Writes accept an `Idempotency-Key` header: a retry returns the first answer.
"""


def create_app(settings: Settings, db: Database | None = None) -> FastAPI:
    database = db or Database(settings.database_url)
    app = FastAPI(
        title="Assent",
        version="0.1.0",
        description=DESCRIPTION,
        docs_url=None,  # served below from vendored files: no CDN for a self-hosted service
        redoc_url=None,
        openapi_url="/openapi.json",
        # `assent serve` runs the worker's loops (jobs, webhooks, mail) beside the web server (not in tests).
        lifespan=in_process_worker(database, settings) if settings.run_worker else None,
    )
    app.state.settings = settings
    app.state.db = database
    problems.install(app)
    app.add_middleware(IdempotencyMiddleware, db=database)
    app.include_router(api.router)
    api.mount_docs(app)
    app.include_router(ops.router)
    # Each further interface (public pages, admin UI, HubSpot-compatible API, inbound
    # webhooks) adds one `<package>.mount(app)` line here.
    admin.mount(app)
    pages.mount(app)
    return app
