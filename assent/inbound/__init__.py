"""Inbound webhooks (`/inbound`): what providers tell us about the people we message.

Its own sub-app with its own error shape: plain status codes with a small problem body
(`inbound/esp.py`), never the native API's RFC 9457 codes or a page. Each provider has one
module and one line below.
"""

from __future__ import annotations

from fastapi import FastAPI

from assent.config import Settings
from assent.inbound import esp, mailgun, postmark, sendgrid, ses
from assent.storage.db import Database


def create_app(settings: Settings, db: Database) -> FastAPI:
    app = FastAPI(title="Assent inbound webhooks", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.state.db = db
    esp.install(app)
    app.include_router(ses.router)
    app.include_router(sendgrid.router)
    app.include_router(postmark.router)
    app.include_router(mailgun.router)
    return app
