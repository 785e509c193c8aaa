"""/admin/imports over plain HTTP: upload, mapping, the dry run in words, the row count
confirmation, the summary and the error report — and who may do what."""

from __future__ import annotations

import csv
import dataclasses
import io
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from assent.app import create_app
from assent.domain.model import Source
from assent.jobs.worker import Worker
from assent.storage.db import Database
from tests.admin.conftest import Admin, text_of
from tests.admin.test_screens import act
from tests.conftest import Catalog, count_rows

OPT_OUTS = "email\nalice@example.com\nnot an address\nbob@example.com\n"


def upload(session: Admin, content: str, **fields: Any) -> Any:
    data = {"kind": "OPT_OUTS", "channel": "EMAIL", "business_unit_id": "0", **fields}
    files = {"file": ("old-list.csv", content.encode(), "text/csv")}
    return session.post("/admin/imports", data, files=files)


def import_id(response: Any) -> str:
    assert response.status_code == 303, response.text
    found = re.fullmatch(r"/admin/imports/(imp_\w+)", response.headers["location"])
    assert found, response.headers["location"]
    return found.group(1)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_it_walks_an_opt_out_import_from_upload_to_the_error_report(sign_in: Any, db: Database) -> None:
    editor = sign_in("editor")
    imp = import_id(upload(editor, OPT_OUTS))
    review = text_of(editor.get(f"/admin/imports/{imp}").text)
    assert "old-list.csv" in review
    assert "2 would be opted out of all email in Account." in review
    assert "1 line is not a valid address." in review
    assert "Continue to confirm" in review
    page = editor.get(f"/admin/imports/{imp}/confirm").text
    assert "3 rows will be opted out of all email in Account. Confirm?" in text_of(page)

    wrong = editor.post(f"/admin/imports/{imp}/confirm", {"row_count": "4"})
    assert wrong.status_code == 409
    assert "the file has 3 rows, not 4" in text_of(wrong.text)
    assert count_rows(db, "jobs") == 0

    assert editor.post(f"/admin/imports/{imp}/confirm", {"row_count": "3"}).status_code == 303
    running = editor.get(f"/admin/imports/{imp}").text
    assert '<meta http-equiv="refresh" content="2">' in running
    assert f'hx-get="/admin/imports/{imp}"' in running
    Worker(db).run_until_idle()
    done = editor.get(f"/admin/imports/{imp}", headers={"HX-Request": "true"}).text
    assert "hx-trigger" not in done  # polling stops
    assert "<html" not in done  # the fragment alone
    summary = text_of(editor.get(f"/admin/imports/{imp}").text)
    assert "Done: 3 rows" in summary
    assert "2 were opted out of all email in Account." in summary
    assert "1 line is not a valid address." in summary
    assert f"by {editor.email}" in summary
    assert count_rows(db, "ledger_events") == 2

    report = editor.get(f"/admin/imports/{imp}/errors.csv")
    assert report.status_code == 200
    assert report.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(report.text)))
    assert rows == [
        ["line", "column", "value", "reason"],
        ["3", "email", "not an address", "INVALID_ADDRESS: not a valid address"],
    ]

    listed = text_of(editor.get("/admin/imports").text)
    assert f"old-list.csv Opt-out list · Email · Account {editor.email} Done 3" in listed


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_it_says_who_would_not_be_resubscribed_and_rechecks_an_edited_mapping(
    sign_in: Any, db: Database, make: Catalog
) -> None:
    newsletter = make.type("Newsletter")
    act(db, Source.PREFERENCE_CENTER, "carol@example.com", newsletter)  # she opted out herself
    editor = sign_in("editor")
    content = "email,news\ncarol@example.com,opt in\ndan@example.com,opt in\n"
    imp = import_id(upload(editor, content, kind="CONTACTS"))
    page = editor.get(f"/admin/imports/{imp}").text
    assert 'name="map_1"' in page
    assert "Contact property “news”" in page  # read as a property: no status predicted
    assert "would not be resubscribed" not in page

    remapped = editor.post(f"/admin/imports/{imp}/mapping", {"map_0": "email", "map_1": f"subscription:{newsletter}"})
    assert remapped.status_code == 303
    review = text_of(editor.get(f"/admin/imports/{imp}").text)
    assert "1 of these would not be resubscribed: they opted out." in review
    wrong = editor.post(f"/admin/imports/{imp}/mapping", {"map_0": "first_name", "map_1": "ignore"})
    assert wrong.status_code == 422
    assert "no address column" in text_of(wrong.text)


def test_a_viewer_reads_imports_and_changes_nothing(sign_in: Any, db: Database) -> None:
    editor = sign_in("editor")
    imp = import_id(upload(editor, OPT_OUTS))
    viewer = sign_in("viewer")
    index = viewer.get("/admin/imports")
    assert index.status_code == 200
    assert 'type="file"' not in index.text
    review = viewer.get(f"/admin/imports/{imp}")
    assert review.status_code == 200
    assert "email Email address alice@example.com" in text_of(review.text)  # the mapping, read-only
    assert "<select" not in review.text.split("</header>")[1]
    assert viewer.get(f"/admin/imports/{imp}/errors.csv").status_code == 200
    assert viewer.get(f"/admin/imports/{imp}/confirm").status_code == 403
    assert upload(viewer, OPT_OUTS).status_code == 403
    assert viewer.post(f"/admin/imports/{imp}/confirm", {"row_count": "3"}).status_code == 403
    assert viewer.post(f"/admin/imports/{imp}/mapping", {"map_0": "ignore"}).status_code == 403
    assert viewer.post(f"/admin/imports/{imp}/cancel").status_code == 403
    assert count_rows(db, "imports") == 1
    assert count_rows(db, "jobs") == 0
    assert "Awaiting confirmation" in text_of(editor.get("/admin/imports").text)


def test_it_refuses_an_upload_without_the_csrf_token_and_stores_nothing(sign_in: Any, db: Database) -> None:
    editor = sign_in("editor")
    files = {"file": ("list.csv", OPT_OUTS.encode(), "text/csv")}
    refused = editor.post("/admin/imports", {"kind": "OPT_OUTS"}, csrf=False, files=files)
    assert refused.status_code == 403
    assert "CSRF" in refused.text
    assert count_rows(db, "imports") == 0


def test_it_names_why_a_file_is_refused_and_bounds_the_body(sign_in: Any, db: Database, app: Any) -> None:
    editor = sign_in("editor")
    refused = upload(editor, "")
    assert refused.status_code == 422
    assert "empty" in text_of(refused.text).lower()
    latin = editor.post(
        "/admin/imports",
        {"kind": "OPT_OUTS"},
        files={"file": ("l.csv", "email\njosé@example.com\n".encode("latin-1"), "text/csv")},
    )
    assert latin.status_code == 422
    assert "line 2" in text_of(latin.text)
    assert count_rows(db, "imports") == 0

    small = create_app(dataclasses.replace(app.state.settings, max_upload_bytes=1000), db)
    with TestClient(small) as client:
        bob = Admin(client, editor.email)
        assert bob.sign_in().status_code == 303
        big = upload(bob, "email\n" + "x@example.com\n" * 10_000)
        assert big.status_code == 413
        assert "larger than the limit" in text_of(big.text)
    assert count_rows(db, "imports") == 0
