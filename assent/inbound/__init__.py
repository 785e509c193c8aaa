"""Inbound webhooks at /inbound (SPEC §3): providers' signed callbacks.

Its own small sub-app, so its errors are what a provider expects — a plain status code and a
small problem body (`application/problem+json`), never an HTML page or the native API's
shape. Each provider is one module here exposing `router`; adding one is one line in
`PROVIDERS`. Handlers verify the provider's signature, then call one action.
"""

from __future__ import annotations

import importlib

from fastapi import APIRouter, FastAPI

from assent.config import Settings
from assent.inbound.common import install_errors
from assent.storage.db import Database

#: the provider modules of this package, one per line
PROVIDERS = (
    "twilio",  # /inbound/twilio, /inbound/twilio/status (SMS and WhatsApp)
    "ses",  # /inbound/ses (Amazon SES through SNS)
    "sendgrid",  # /inbound/sendgrid (Event Webhook)
    "postmark",  # /inbound/postmark
    "mailgun",  # /inbound/mailgun
)


def create_app(settings: Settings, db: Database) -> FastAPI:
    app = FastAPI(title="Assent inbound webhooks", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.state.db = db
    install_errors(app)
    for name in PROVIDERS:
        router: APIRouter = importlib.import_module(f"assent.inbound.{name}").router
        app.include_router(router)
    return app
