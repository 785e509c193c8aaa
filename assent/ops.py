"""Operations endpoints: liveness, readiness, Prometheus metrics.

`/metrics` tells how busy the service is (events, jobs, the webhook backlog): it is served
with `Authorization: Bearer $ASSENT_METRICS_TOKEN` when that is set, and otherwise only to
clients on loopback (a scraper on the same host).
"""

from __future__ import annotations

import hmac
import ipaddress

import sqlalchemy as sa
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from assent.api.auth import bearer_token
from assent.config import Settings
from assent.domain.webhooks import AttemptOutcome
from assent.mail.queue import queue_view
from assent.services import webhooks
from assent.storage import tables as t
from assent.storage.db import RETRY_AFTER_SECONDS, Database
from assent.unavailable import answer_unavailable

router = APIRouter(include_in_schema=False)


def install(app: FastAPI) -> None:
    app.include_router(router)

    answer_unavailable(app, lambda _request: PlainTextResponse("database unavailable\n", status_code=503))


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


def _metrics_refusal(request: Request) -> PlainTextResponse | None:
    settings: Settings = request.app.state.settings
    if settings.metrics_token:
        given = bearer_token(request.headers.get("authorization")) or ""
        if hmac.compare_digest(given.encode(), settings.metrics_token.encode()):
            return None
        return PlainTextResponse(
            "Send Authorization: Bearer <ASSENT_METRICS_TOKEN>.\n",
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    host = request.client.host if request.client else ""
    try:
        if ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:
        pass
    return PlainTextResponse("Metrics are served to loopback only; set ASSENT_METRICS_TOKEN.\n", status_code=403)


@router.get("/metrics")
def metrics(request: Request) -> PlainTextResponse:
    refused = _metrics_refusal(request)
    if refused is not None:
        return refused
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
                .where(a.c.outcome.in_([AttemptOutcome.RETRY.value, AttemptOutcome.GAVE_UP.value]))
                .group_by(a.c.endpoint_id)
            ).all()
        )
        mail = queue_view(conn, limit=0)["counts"]
    lines = [
        "# HELP assent_ledger_events_total Ledger events written.",
        "# TYPE assent_ledger_events_total counter",
        f"assent_ledger_events_total {events}",
        "# HELP assent_outbox_pending Ledger events the webhook dispatcher has not yet queued for the endpoints.",
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
