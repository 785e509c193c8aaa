"""Account changes made in the admin UI are audited, and Activity › Account changes shows
them in words (issue 7, point 6)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from assent.storage import tables as t
from assent.storage.db import Database
from tests.admin.conftest import text_of
from tests.api.test_audit import audit_rows, only_new
from tests.conftest import Catalog


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def user_id(db: Database, email: str) -> int:
    with db.read() as conn:
        return int(conn.execute(sa.select(t.users.c.id).where(t.users.c.email == email)).scalar_one())


def test_it_audits_users_and_roles(sign_in: Any, db: Database) -> None:
    alice = sign_in("admin", "alice@example.com")
    me = f"user:{user_id(db, 'alice@example.com')}"
    created = alice.post("/admin/settings/users", {"email": "Bob@example.com", "role": "viewer", "password": "p" * 14})
    assert created.status_code == 303
    row = only_new(db, 0)
    assert (row["tag"], row["actor_kind"], row["actor_id"]) == ("user:user:created", "USER", me)
    assert row["after"] == {"email": "bob@example.com", "role": "viewer"}
    bob = user_id(db, "bob@example.com")
    alice.post(f"/admin/settings/users/{bob}", {"action": "role", "role": "editor"})
    row = only_new(db, 1)
    assert (row["tag"], row["subject_id"]) == ("user:user:role_changed", str(bob))
    assert (row["before"]["role"], row["after"]["role"]) == ("viewer", "editor")
    alice.post(f"/admin/settings/users/{bob}", {"action": "password", "password": "a new long passphrase"})
    assert only_new(db, 2)["tag"] == "user:user:password_reset"
    assert "passphrase" not in str(audit_rows(db))
    alice.post(f"/admin/settings/users/{bob}", {"action": "disable"})
    row = only_new(db, 3)
    assert (row["tag"], row["before"]["disabled"], row["after"]["disabled"]) == ("user:user:disabled", False, True)
    alice.post(f"/admin/settings/users/{bob}", {"action": "enable"})
    assert only_new(db, 4)["tag"] == "user:user:enabled"
    # refused: the last admin cannot demote themself; nothing is audited
    alice.post(f"/admin/settings/users/{user_id(db, 'alice@example.com')}", {"action": "role", "role": "viewer"})
    assert len(audit_rows(db)) == 5


def test_it_audits_api_keys_settings_units_and_types(sign_in: Any, db: Database, make: Catalog) -> None:
    alice = sign_in("admin", "alice@example.com")
    page = alice.post("/admin/settings/api-keys", {"name": "crm", "scopes": ["write"]})
    assert page.status_code == 200
    row = only_new(db, 0)
    assert (row["tag"], row["after"]) == ("auth:api_key:created", {"name": "crm", "scopes": ["write"]})
    alice.post(f"/admin/settings/api-keys/{row['subject_id']}/revoke")
    assert only_new(db, 1)["tag"] == "auth:api_key:revoked"
    alice.post(f"/admin/settings/api-keys/{row['subject_id']}/revoke")  # already revoked: nothing new
    assert len(audit_rows(db)) == 2

    saved = alice.post("/admin/settings", {"data_privacy_mode": "on", "consent_required_to_send": "on"})
    assert saved.status_code == 303
    row = only_new(db, 2)
    assert (row["tag"], row["before"], row["after"]) == (
        "account:data_privacy_mode:set",
        {"data_privacy_mode": False},
        {"data_privacy_mode": True},
    )

    alice.post("/admin/business-units", {"name": "Outdoor", "default_language": "en"})
    assert only_new(db, 3)["tag"] == "catalog:business_unit:created"
    first, second = make.type("First"), make.type("Second")
    alice.post(f"/admin/subscription-types/{second}/move", {"direction": "up"})
    row = only_new(db, 4)
    assert (row["tag"], row["before"], row["after"]) == (
        "catalog:subscription_type:moved",
        {"order": [first, second]},
        {"order": [second, first]},
    )
    alice.post(f"/admin/subscription-types/{first}/archive", {})
    assert only_new(db, 5)["tag"] == "catalog:subscription_type:archived"
    alice.post(f"/admin/subscription-types/{first}/archive", {"restore": "1"})
    assert only_new(db, 6)["tag"] == "catalog:subscription_type:restored"

    shown = alice.get("/admin/activity/account")
    assert shown.status_code == 200
    text = text_of(shown.text)
    assert "Changed data privacy mode Data privacy mode: off → on alice@example.com" in text
    assert "Archived a subscription type “First” Active: yes → no" in text
    assert "Created an API key “crm”" in text
    assert "Revoked an API key" in text
    only_users = text_of(alice.get("/admin/activity/account?subject=catalog").text)
    assert "Archived a subscription type" in only_users
    assert "Created an API key" not in only_users


def test_only_admins_see_account_changes(sign_in: Any) -> None:
    editor = sign_in("editor")
    assert editor.get("/admin/activity/account").status_code == 403
    assert "Account changes" not in editor.get("/admin/activity").text
    assert "Account changes" in sign_in("admin").get("/admin/activity").text
