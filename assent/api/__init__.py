"""The native REST API, `/api/v1` (SPEC §3)."""

from __future__ import annotations

from fastapi import APIRouter

from assent.api import catalog, decisions, jobs, ledger, subscribers

router = APIRouter(prefix="/api/v1")
for module in (catalog, subscribers, decisions, ledger, jobs):
    router.include_router(module.router)
