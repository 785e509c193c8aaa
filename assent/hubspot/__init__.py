"""The HubSpot-compatible Communication Preferences API (SPEC §3, issue 10), a sub-app the
root app mounts at `/communication-preferences`: HubSpot's own SDKs work against Assent with
only their base URL changed.

v3 (`/v3/…`), v4 (`/v4/…`) and HubSpot's date-versioned releases of the same operations
(`/2025-09/…`, `/2026-03/…`, `/2026-09/…`) are served by the same handlers. Errors are
HubSpot's JSON (`assent.hubspot.errors`), never RFC 9457.
"""

from __future__ import annotations

from fastapi import FastAPI

from assent.config import Settings
from assent.hubspot import errors, v3, v4
from assent.storage.db import Database

PREFIX = "/communication-preferences"
#: HubSpot's date-versioned releases of the v4 operations (the 2025-09 one also carries v3's)
DATED = ("2025-09", "2026-03", "2026-09")


def create_app(settings: Settings, db: Database) -> FastAPI:
    app = FastAPI(
        title="Assent — HubSpot-compatible Communication Preferences API",
        version="0.1.0",
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.settings = settings
    app.state.db = db
    errors.install(app)
    app.include_router(v3.definitions_router, prefix="/v3")
    app.include_router(v3.router, prefix="/v3")
    app.include_router(v3.router, prefix="/2025-09")
    app.include_router(v3.resubscribe_router, prefix="/2025-09")
    app.include_router(v4.router, prefix="/v4")
    for version in DATED:
        app.include_router(v4.router, prefix=f"/{version}")
    return app
