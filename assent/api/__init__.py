"""The native REST API, `/api/v1` (SPEC §3): its own sub-app, answering RFC 9457 problem
documents (`problems.install`). The root app serves its OpenAPI document and Swagger UI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from assent.api import (
    audiences,
    audit,
    catalog,
    contacts,
    decisions,
    erasure,
    evidence,
    forms,
    imports,
    jobs,
    ledger,
    links,
    problems,
    responses,
    subscribers,
    webhooks,
    workflows,
)
from assent.api.consistency import ConsistencyMiddleware

PREFIX = "/api/v1"

#: every route of the API, without the prefix the sub-app is mounted at
router = APIRouter(responses=responses.COMMON)
# The single decision, a sender's hottest path, is matched first: a request is matched
# against the routes in order (no other route's path matches /decisions…).
router.include_router(decisions.router)
router.include_router(subscribers.batch_router)
for module in (
    catalog,
    subscribers,
    audiences,
    ledger,
    evidence,
    jobs,
    imports,
    contacts,
    erasure,
    links,
    forms,
    workflows,
    audit,
    webhooks,
):
    router.include_router(module.router)


STATIC = Path(__file__).parent / "static"


def create_app(settings: object, db: object, mailer: object) -> FastAPI:
    """The API as an ASGI app to mount at `PREFIX`."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.state.db = db
    app.state.mailer = mailer
    problems.install(app)
    # read-your-writes across replicas (R12): the position a write committed, sent back
    app.add_middleware(ConsistencyMiddleware)
    app.include_router(router)
    return app


def openapi_document(root: FastAPI) -> dict[str, Any]:
    """The API's OpenAPI document with its full paths (`/api/v1/…`), as the root app serves
    it at /openapi.json."""
    if root.openapi_schema is None:
        prefixed = APIRouter(prefix=PREFIX)
        prefixed.include_router(router)
        root.openapi_schema = get_openapi(
            title=root.title,
            version=root.version,
            openapi_version=root.openapi_version,
            description=root.description,
            routes=prefixed.routes,
        )
    return root.openapi_schema


def mount(root: FastAPI, app: FastAPI) -> None:
    """Mount the API (`create_app`) at `PREFIX`, its OpenAPI document and Swagger UI."""
    root.mount(PREFIX, app)
    root.openapi = lambda: openapi_document(root)  # type: ignore[method-assign]
    mount_docs(root)


def mount_docs(app: FastAPI) -> None:
    """Swagger UI at /docs from vendored files (swagger-ui-dist), so it works offline."""
    app.mount("/static/api", StaticFiles(directory=STATIC), name="api-static")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="Assent API",
            swagger_js_url="/static/api/swagger-ui-bundle.js",
            swagger_css_url="/static/api/swagger-ui.css",
            swagger_favicon_url="data:,",
        )
