"""The admin web UI at /admin (SPEC §3): server-rendered Jinja2, htmx where it helps.

It is its own small ASGI app mounted under the main one, so its errors render as pages
(not JSON problems) and its security headers apply to it alone. Every action calls the
same services as the REST API; no rule is written here.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assent.admin.web import PREFIX, body_too_large, install_error_pages

__all__ = ["PREFIX", "create_admin", "mount", "too_large"]

STATIC = Path(__file__).parent / "static"

# Scripts and styles only from our own origin (htmx is vendored): an injected attribute
# cannot run code. Logos of business units may live elsewhere (https).
_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' https: data:; style-src 'self'; style-src-attr 'unsafe-inline'; "
        b"script-src 'self'; "
        b"object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
    ),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]


class _SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Decided now: routing below rewrites scope["root_path"] in place.
        static = scope.get("path", "").startswith(f"{scope.get('root_path', '')}/static/")

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += _HEADERS
                if not static:  # pages show personal data: keep them out of caches
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, sending)


def too_large(scope: Scope, limit: int) -> Response:
    """The root body limit's 413 (assent/bodylimit.py): the admin's page, with its headers."""
    response = body_too_large(scope, limit)
    for name, value in (*_HEADERS, (b"cache-control", b"no-store")):
        response.headers[name.decode()] = value.decode()
    return response


def create_admin(settings: object, db: object, mailer: object) -> FastAPI:
    from assent.admin.views import ROUTERS

    admin = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    admin.state.settings = settings
    admin.state.db = db
    admin.state.mailer = mailer  # built once by create_app
    install_error_pages(admin)
    for router in ROUTERS:
        admin.include_router(router)
    admin.mount("/static", StaticFiles(directory=STATIC), name="static")
    admin.add_middleware(_SecurityHeaders)
    return admin


def mount(app: FastAPI) -> None:
    app.mount(PREFIX, create_admin(app.state.settings, app.state.db, app.state.mailer))
