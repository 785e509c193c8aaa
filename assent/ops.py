"""Operations endpoints: liveness, readiness, Prometheus metrics."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from assent.mail.queue import queue_view
from assent.services import webhooks
from assent.storage import tables as t
from assent.storage.db import Database

router = APIRouter(include_in_schema=False)


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
        return JSONResponse({"status": "unavailable", "error": type(error).__name__}, status_code=503)
    return JSONResponse({"status": "ok"})


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
        backlog = webhooks.backlog(conn, t.now())
        deliveries = webhooks.pending_counts(conn)
        a = t.webhook_attempts
        failures: dict[str, int] = dict(
            conn.execute(
                sa.select(a.c.endpoint_id, sa.func.count())
                .where(a.c.outcome.in_(["RETRY", "GAVE_UP"]))
                .group_by(a.c.endpoint_id)
            ).all()
        )
        mail = queue_view(conn, limit=0)["counts"]
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
    lines += [
        "# HELP assent_webhook_backlog_seconds Age of the oldest event an endpoint has not received yet.",
        "# TYPE assent_webhook_backlog_seconds gauge",
    ]
    lines += [f'assent_webhook_backlog_seconds{{endpoint="{e}"}} {age:.3f}' for e, age in sorted(backlog.items())]
    lines += [
        "# HELP assent_webhook_deliveries Events per endpoint by delivery state (PENDING, DELIVERED, GAVE_UP).",
        "# TYPE assent_webhook_deliveries gauge",
    ]
    lines += [
        f'assent_webhook_deliveries{{endpoint="{e}",state="{state}"}} {count}'
        for e, states in sorted(deliveries.items())
        for state, count in sorted(states.items())
    ]
    lines += [
        "# HELP assent_webhook_failed_attempts_total Delivery attempts that failed (non-2xx, timeout, refused).",
        "# TYPE assent_webhook_failed_attempts_total counter",
    ]
    lines += [f'assent_webhook_failed_attempts_total{{endpoint="{e}"}} {n}' for e, n in sorted(failures.items())]
    lines += ["# HELP assent_mail_queue Queued mail by state.", "# TYPE assent_mail_queue gauge"]
    lines += [f'assent_mail_queue{{state="{state}"}} {count}' for state, count in sorted(mail.items())]
    return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")
