"""The native REST API, `/api/v1` (SPEC §3)."""

from __future__ import annotations

from fastapi import APIRouter

from assent.api import audiences, catalog, contacts, decisions, erasure, forms, jobs, ledger, links, subscribers

router = APIRouter(prefix="/api/v1")
for module in (catalog, subscribers, decisions, audiences, ledger, jobs, contacts, erasure, links, forms):
    router.include_router(module.router)
