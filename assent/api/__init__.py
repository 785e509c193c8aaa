"""The native REST API, `/api/v1` (SPEC §3)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from assent.api import (
    audiences,
    catalog,
    contacts,
    decisions,
    erasure,
    forms,
    jobs,
    ledger,
    links,
    subscribers,
    webhooks,
)

router = APIRouter(prefix="/api/v1")
router.include_router(subscribers.batch_router)
for module in (catalog, subscribers, decisions, audiences, ledger, jobs, contacts, erasure, links, forms, webhooks):
    router.include_router(module.router)


STATIC = Path(__file__).parent / "static"


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
