"""Account changes are audited (issue 7, point 6): each kind writes exactly one audit row with
what changed, in the same transaction as the change, and `GET /api/v1/audit` lists them."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from fastapi.testclient import TestClient

from assent.cli.main import cli
from assent.storage import tables as t
from assent.storage.db import Database
from tests.conftest import Catalog, count_rows

Headers = dict[str, str]


def audit_rows(db: Database) -> list[dict[str, Any]]:
    with db.read() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(t.audit_events).order_by(t.audit_events.c.id))]


def only_new(db: Database, seen: int) -> dict[str, Any]:
    rows = audit_rows(db)
    assert len(rows) == seen + 1, rows[seen:]
    return rows[-1]


def key_id(headers: Headers) -> str:
    return "api_key:" + headers["Authorization"].split("_")[1]


def test_it_audits_data_privacy_mode_and_other_settings(
    client: TestClient, admin_headers: Headers, db: Database
) -> None:
    assert client.patch("/api/v1/settings", json={"data_privacy_mode": True}, headers=admin_headers).status_code == 200
    row = only_new(db, 0)
    assert row["tag"] == "account:data_privacy_mode:set"
    assert (row["before"], row["after"]) == ({"data_privacy_mode": False}, {"data_privacy_mode": True})
    assert (row["actor_kind"], row["actor_id"]) == ("USER", key_id(admin_headers))
    assert row["ip"] is None or isinstance(row["ip"], str)
    assert row["at"] is not None

    client.patch("/api/v1/settings", json={"double_opt_in": True, "data_privacy_mode": True}, headers=admin_headers)
    row = only_new(db, 1)
    assert row["tag"] == "account:settings:updated"
    assert (row["before"], row["after"]) == ({"double_opt_in": False}, {"double_opt_in": True})

    # nothing changed, nothing audited
    client.patch("/api/v1/settings", json={"double_opt_in": True}, headers=admin_headers)
    assert len(audit_rows(db)) == 2


def test_it_audits_business_units(client: TestClient, admin_headers: Headers, db: Database) -> None:
    unit = client.post("/api/v1/business-units", json={"name": "Acme"}, headers=admin_headers).json()
    row = only_new(db, 0)
    assert (row["tag"], row["subject_id"], row["before"]) == ("catalog:business_unit:created", str(unit["id"]), None)
    assert row["after"]["name"] == "Acme"
    client.patch(f"/api/v1/business-units/{unit['id']}", json={"name": "Acme AB"}, headers=admin_headers)
    row = only_new(db, 1)
    assert row["tag"] == "catalog:business_unit:updated"
    assert (row["before"], row["after"]) == ({"name": "Acme"}, {"name": "Acme AB"})


def test_it_audits_subscription_types_created_edited_archived_restored(
    client: TestClient, admin_headers: Headers, db: Database
) -> None:
    created = client.post(
        "/api/v1/subscription-types", json={"name": "News", "channel": "EMAIL"}, headers=admin_headers
    ).json()
    path = f"/api/v1/subscription-types/{created['id']}"
    assert only_new(db, 0)["tag"] == "catalog:subscription_type:created"
    client.patch(path, json={"name": "Newsletter"}, headers=admin_headers)
    row = only_new(db, 1)
    assert (row["tag"], row["before"], row["after"]) == (
        "catalog:subscription_type:updated",
        {"name": "News"},
        {"name": "Newsletter"},
    )
    client.patch(path, json={"is_active": False}, headers=admin_headers)
    row = only_new(db, 2)
    assert (row["tag"], row["before"], row["after"]) == (
        "catalog:subscription_type:archived",
        {"is_active": True},
        {"is_active": False},
    )
    client.patch(path, json={"is_active": True}, headers=admin_headers)
    assert only_new(db, 3)["tag"] == "catalog:subscription_type:restored"


def test_a_failing_change_writes_no_audit_row(
    client: TestClient, admin_headers: Headers, db: Database, make: Catalog
) -> None:
    make.type("Newsletter")
    clash = client.post(
        "/api/v1/subscription-types", json={"name": "newsletter", "channel": "EMAIL"}, headers=admin_headers
    )
    assert clash.status_code == 422
    bad = client.patch("/api/v1/settings", json={"sms_numbers": {"+46701234567": 99}}, headers=admin_headers)
    assert bad.status_code == 422
    assert client.post("/api/v1/business-units/99/form-key", headers=admin_headers).status_code == 422
    assert client.patch("/api/v1/business-units/99", json={"name": "x"}, headers=admin_headers).status_code == 404
    assert audit_rows(db) == []


def _refuse_audit_rows(db: Database) -> None:
    """A trigger in the real database that makes every audit insert fail."""
    with db.write() as conn:
        if db.is_sqlite:
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'no'); END"
            )
        else:
            conn.exec_driver_sql(
                "CREATE FUNCTION refuse_audit() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'no'; END $$ "
                "LANGUAGE plpgsql"
            )
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION refuse_audit()"
            )


def test_the_change_commits_only_with_its_audit_row(app: Any, admin_headers: Headers, db: Database) -> None:
    _refuse_audit_rows(db)
    with TestClient(app, raise_server_exceptions=False) as client:
        assert (
            client.patch("/api/v1/settings", json={"data_privacy_mode": True}, headers=admin_headers).status_code == 500
        )
        assert client.post("/api/v1/business-units", json={"name": "Acme"}, headers=admin_headers).status_code == 500
        created = client.post(
            "/api/v1/subscription-types", json={"name": "News", "channel": "EMAIL"}, headers=admin_headers
        )
        assert created.status_code == 500
        assert client.post("/api/v1/business-units/0/form-key", headers=admin_headers).status_code == 500
        settings = client.get("/api/v1/settings", headers=admin_headers).json()
    assert settings["data_privacy_mode"] is False
    assert count_rows(db, "business_units") == 1  # only the default unit
    assert count_rows(db, "subscription_types") == 0
    assert count_rows(db, "form_keys") == 0


def test_it_audits_form_keys_without_the_key(client: TestClient, admin_headers: Headers, db: Database) -> None:
    first = client.post("/api/v1/business-units/0/form-key", headers=admin_headers).json()["form_key"]
    row = only_new(db, 0)
    assert (row["tag"], row["subject_id"]) == ("forms:form_key:created", "0")
    second = client.post("/api/v1/business-units/0/form-key", headers=admin_headers).json()["form_key"]
    assert only_new(db, 1)["tag"] == "forms:form_key:rotated"
    assert first not in str(audit_rows(db))
    assert second not in str(audit_rows(db))


def test_get_audit_pages_and_filters_by_tag_prefix(
    client: TestClient, admin_headers: Headers, read_headers: Headers
) -> None:
    client.patch("/api/v1/settings", json={"data_privacy_mode": True}, headers=admin_headers)
    client.post("/api/v1/business-units", json={"name": "Acme"}, headers=admin_headers)
    client.post("/api/v1/subscription-types", json={"name": "News", "channel": "EMAIL"}, headers=admin_headers)
    everything = client.get("/api/v1/audit", headers=admin_headers).json()
    assert [r["tag"] for r in everything["results"]] == [
        "account:data_privacy_mode:set",
        "catalog:business_unit:created",
        "catalog:subscription_type:created",
    ]
    first = client.get("/api/v1/audit?limit=2", headers=admin_headers).json()
    rest = client.get(f"/api/v1/audit?after={first['next']}", headers=admin_headers).json()
    assert [r["id"] for r in first["results"] + rest["results"]] == [r["id"] for r in everything["results"]]
    assert client.get(f"/api/v1/audit?after={rest['next']}", headers=admin_headers).json()["results"] == []
    catalog = client.get("/api/v1/audit?tag=catalog", headers=admin_headers).json()
    assert [r["tag"] for r in catalog["results"]] == [
        "catalog:business_unit:created",
        "catalog:subscription_type:created",
    ]
    one = client.get("/api/v1/audit?tag=catalog:subscription_type", headers=admin_headers).json()
    assert [r["tag"] for r in one["results"]] == ["catalog:subscription_type:created"]
    unknown = client.get("/api/v1/audit?tag=catalog:sub", headers=admin_headers)
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "tag"
    assert client.get("/api/v1/audit", headers=read_headers).status_code == 403


def test_the_command_line_audits_users_and_keys(
    database_url: str, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASSENT_DATABASE_URL", database_url)
    monkeypatch.setenv("ASSENT_SECRET_KEYS", "k")
    runner = CliRunner()
    made = runner.invoke(cli, ["user", "create", "--email", "Root@Example.com", "--password", "a long passphrase"])
    assert made.exit_code == 0, made.output
    row = only_new(db, 0)
    assert (row["tag"], row["actor_kind"], row["actor_id"]) == ("user:user:created", "SYSTEM", "cli")
    assert row["after"] == {"email": "root@example.com", "role": "admin"}
    key = runner.invoke(cli, ["api-key", "create", "--name", "crm", "--scope", "write"])
    assert key.exit_code == 0, key.output
    row = only_new(db, 1)
    assert (row["tag"], row["after"]) == ("auth:api_key:created", {"name": "crm", "scopes": ["write"]})
    assert key.output.strip().splitlines()[-1].split("_")[2] not in str(row)
    reset = runner.invoke(
        cli, ["user", "reset-password", "--email", "root@example.com", "--password", "another long one"]
    )
    assert reset.exit_code == 0, reset.output
    assert only_new(db, 2)["tag"] == "user:user:password_reset"
    assert count_rows(db, "users") == 1
