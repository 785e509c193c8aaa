"""Operations endpoints: liveness, readiness, Prometheus metrics — on the root app, with
plain answers (a monitor reads status codes, not documents)."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from assent.storage import tables as t
from assent.storage.db import RETRY_AFTER_SECONDS, UNAVAILABLE, Database

router = APIRouter(include_in_schema=False)


def install(app: FastAPI) -> None:
    app.include_router(router)

    def _unavailable(_request: Request, _exc: Exception) -> Response:
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
        return PlainTextResponse("database unavailable\n", status_code=503, headers=headers)

    for error in UNAVAILABLE:
        app.add_exception_handler(error, _unavailable)


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    db: Database = request.app.state.db
    try:
        with db.read() as conn:
            conn.execute(sa.select(t.ledger_counter.c.last_id)).scalar_one()
    except Exception as error:
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
        return JSONResponse({"status": "unavailable", "error": type(error).__name__}, status_code=503, headers=headers)
    body: dict[str, object] = {"status": "ok"}
    if db.replicas:
        # A replica that is down or behind is skipped by reads, so it never makes the
        # service unready; it is reported for the operator.
        body["replicas"] = db.replica_states()
    return JSONResponse(body)


@router.get("/metrics")
def metrics(request: Request) -> PlainTextResponse:
    db: Database = request.app.state.db
    with db.read() as conn:
        events = conn.execute(sa.select(t.ledger_counter.c.last_id)).scalar_one()
        jobs: dict[str, int] = dict(
            conn.execute(sa.select(t.jobs.c.status, sa.func.count()).group_by(t.jobs.c.status)).all()
        )
        pending = conn.execute(
            sa.select(sa.func.count()).select_from(t.outbox).where(t.outbox.c.published_at.is_(None))
        ).scalar_one()
    lines = [
        "# HELP assent_ledger_events_total Ledger events written.",
        "# TYPE assent_ledger_events_total counter",
        f"assent_ledger_events_total {events}",
        "# HELP assent_outbox_pending Ledger events not yet published to webhooks.",
        "# TYPE assent_outbox_pending gauge",
        f"assent_outbox_pending {pending}",
        "# HELP assent_jobs Jobs by status.",
        "# TYPE assent_jobs gauge",
    ]
    lines += [f'assent_jobs{{status="{status}"}} {count}' for status, count in sorted(jobs.items())]
    return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")
