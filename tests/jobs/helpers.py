"""Helpers for job tests: start a bulk update, run the worker, read outcomes back."""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi.testclient import TestClient

from assent.jobs.worker import Worker
from assent.storage.db import Database

EXPLAINED = {"legal_basis_explanation": "Customers asked for it at the 2026 fair"}


def start(client: TestClient, headers: dict[str, str], **body: Any) -> Any:
    return client.post("/api/v1/bulk-updates", json={"channel": "EMAIL", **body}, headers=headers)


def run_jobs(db: Database, chunk_size: int = 2) -> Worker:
    worker = Worker(db, chunk_size=chunk_size)
    worker.run_until_idle()
    return worker


def job(client: TestClient, headers: dict[str, str], job_id: str) -> Any:
    response = client.get(f"/api/v1/jobs/{job_id}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def outcomes(client: TestClient, headers: dict[str, str], job_id: str, **params: str) -> list[dict[str, str]]:
    response = client.get(f"/api/v1/jobs/{job_id}/outcomes", headers=headers, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text)))


def by_address(rows: list[dict[str, str]]) -> dict[str, list[tuple[str, str, str]]]:
    """address -> [(type id, outcome, reason)] in type order."""
    found: dict[str, list[tuple[str, str, str]]] = {}
    for row in rows:
        found.setdefault(row["address"], []).append((row["subscription_type_id"], row["outcome"], row["reason"]))
    return found
