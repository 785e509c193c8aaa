"""Sign-in, sessions, roles and CSRF, checked on every admin route (plain HTTP)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from assent.admin.views import ROUTERS
from assent.app import create_app
from assent.config import Settings
from assent.services import contacts
from assent.services.state import load_account
from assent.services.users import create_user
from assent.storage.db import Database
from tests.admin.conftest import PASSWORD, Admin
from tests.conftest import Catalog, count_rows

ROLE_DEPENDENCIES = {"require_viewer": "viewer", "require_editor": "editor", "require_admin": "admin"}
PUBLIC = {("GET", "/"), ("GET", "/login"), ("POST", "/login")}


def admin_routes(_app: Any = None) -> list[tuple[str, str, str | None]]:
    """(method, path, required role) of every admin route (the routers create_admin mounts)."""
    found = []
    for router in ROUTERS:
        for route in router.routes:
            assert isinstance(route, APIRoute)
            calls = [d.call.__name__ for d in route.dependant.dependencies if d.call is not None]
            roles = [ROLE_DEPENDENCIES[name] for name in calls if name in ROLE_DEPENDENCIES]
            found.extend((method, route.path, roles[0] if roles else None) for method in route.methods)
    return found


def concrete(path: str) -> str:
    return "/admin" + re.sub(r"\{[^}]+\}", "1", path)


def test_it_guards_every_route_with_a_role(app: Any) -> None:
    routes = admin_routes(app)
    assert len(routes) > 20
    unguarded = [(m, p) for m, p, role in routes if role is None and (m, p) not in PUBLIC]
    assert unguarded == []


def test_it_sends_the_signed_out_to_the_sign_in_page(app: Any, client: TestClient) -> None:
    for method, path, role in admin_routes(app):
        if role is None:
            continue
        if method == "GET":
            response = client.get(concrete(path), follow_redirects=False)
            assert response.status_code == 303, path
            assert response.headers["location"].startswith("/admin/login?next="), path
        else:
            assert client.post(concrete(path), data={"csrf_token": "x"}).status_code == 401, path


def test_it_rejects_posts_without_the_csrf_token(app: Any, sign_in: Any, make: Catalog, db: Database) -> None:
    alice = contact_with_newsletter(db, make)
    admin = sign_in("admin")
    for method, path, role in admin_routes(app):
        if method != "POST" or role is None:
            continue
        response = admin.post(concrete(path), {"channel": "EMAIL", "status": "UNSUBSCRIBED"}, csrf=False)
        assert response.status_code == 403, path
        assert "CSRF" in response.text
        forged = admin.post(concrete(path), {"csrf_token": "0" * 64}, csrf=False)
        assert forged.status_code == 403, path
    # the real form, without its token, changes nothing either
    form = {"channel": "EMAIL", "subscription_type_id": alice["type"], "status": "UNSUBSCRIBED"}
    assert admin.post(f"/admin/contacts/{alice['id']}/statuses", form, csrf=False).status_code == 403
    assert count_rows(db, "ledger_events") == 0
    assert admin.post("/admin/login", {"email": admin.email, "password": PASSWORD}, csrf=False).status_code == 403


def test_it_lets_a_viewer_change_nothing(app: Any, sign_in: Any, make: Catalog, db: Database) -> None:
    alice = contact_with_newsletter(db, make)
    viewer = sign_in("viewer")
    assert viewer.get(f"/admin/contacts/{alice['id']}").status_code == 200
    for method, path, role in admin_routes(app):
        if method == "POST" and role in ("editor", "admin"):
            assert viewer.post(concrete(path), {"channel": "EMAIL"}).status_code == 403, path
    # posting the record's unsubscribe form directly, with a valid CSRF token
    form = {"channel": "EMAIL", "subscription_type_id": alice["type"], "status": "UNSUBSCRIBED", "business_unit_id": 0}
    refused = viewer.post(f"/admin/contacts/{alice['id']}/statuses", form)
    assert refused.status_code == 403
    assert "needs the editor role" in refused.text
    assert count_rows(db, "ledger_events") == 0
    page = viewer.get(f"/admin/contacts/{alice['id']}").text
    assert 'method="post"' not in page.split("</header>")[1]  # no buttons that change anything
    assert ">Subscribe</a>" not in page
    # the same form from an editor works
    editor = sign_in("editor")
    assert editor.post(f"/admin/contacts/{alice['id']}/statuses", form).status_code == 303
    assert count_rows(db, "ledger_events") == 1


def test_it_keeps_settings_to_admins(app: Any, sign_in: Any) -> None:
    editor = sign_in("editor")
    admin_only = [(m, p) for m, p, role in admin_routes(app) if role == "admin"]
    assert ("POST", "/settings") in admin_only
    assert ("POST", "/settings/api-keys") in admin_only
    for method, path in admin_only:
        response = editor.get(concrete(path)) if method == "GET" else editor.post(concrete(path))
        assert response.status_code == 403, path
    assert "Settings" not in editor.get("/admin/contacts").text.split("<main")[0]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_it_signs_in_with_a_session_cookie_and_out_for_good(client: TestClient, db: Database) -> None:
    with db.write() as conn:
        create_user(conn, "Alice@Example.com", "editor", PASSWORD)
    alice = Admin(client, "alice@example.com")
    assert alice.sign_in("wrong password!").status_code == 401
    response = alice.sign_in()
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert "assent_session=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Path=/admin" in cookie
    assert "Secure" not in cookie
    token = client.cookies.get("assent_session")
    assert alice.get("/admin/contacts").status_code == 200
    assert alice.post("/admin/logout").status_code == 303
    # the old cookie is dead on the server, not just deleted in this browser
    client.cookies.set("assent_session", token or "", path="/admin")
    assert client.get("/admin/contacts", follow_redirects=False).status_code == 303


def test_it_marks_the_cookie_secure_behind_https(database_url: str, db: Database) -> None:
    settings = Settings(
        database_url=database_url, secret_keys=("k",), base_url="https://assent.example", run_worker=False
    )
    with db.write() as conn:
        create_user(conn, "bob@example.com", "viewer", PASSWORD)
    with TestClient(create_app(settings, db), base_url="https://testserver") as client:
        response = Admin(client, "bob@example.com").sign_in()
    assert response.status_code == 303
    assert "Secure" in response.headers["set-cookie"]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_it_throttles_failed_sign_ins_in_the_database(app: Any, db: Database) -> None:
    with db.write() as conn:
        create_user(conn, "carol@example.com", "admin", PASSWORD)
    # each attempt from a fresh client: the limit is not kept in a cookie or in memory
    for _ in range(5):
        with TestClient(app) as client:
            assert Admin(client, "carol@example.com").sign_in("not the password").status_code == 401
    with TestClient(create_app(app.state.settings, db)) as other_process:
        blocked = Admin(other_process, "carol@example.com").sign_in()
    assert blocked.status_code == 429
    assert "Too many failed sign-ins" in blocked.text
    assert count_rows(db, "admin_sessions") == 0


def contact_with_newsletter(db: Database, make: Catalog) -> dict[str, Any]:
    newsletter = make.type("Newsletter")
    with db.write() as conn:
        created = contacts.create_contact(
            conn, load_account(conn), {"email": "alice@example.com", "first_name": "Alice"}
        )
    return {"id": created["id"], "type": newsletter}


@pytest.fixture
def backend() -> str:
    # Roles and CSRF are HTTP matters, the same on both databases: SQLite is enough for
    # them; the tests with SQL of their own (sessions, throttle) name both backends.
    return "sqlite"
