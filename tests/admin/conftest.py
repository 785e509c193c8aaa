"""Admin UI fixtures: users of each role, signed-in HTTP clients, and the shared Chromium
and live server (tests/browser.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from assent.services.users import create_user
from assent.storage.db import Database

PASSWORD = "correct horse battery staple"


class Admin:
    """A browser-less admin session: a TestClient signed in as one user."""

    def __init__(self, client: TestClient, email: str) -> None:
        self.client = client
        self.email = email
        self.csrf = ""

    def sign_in(self, password: str = PASSWORD) -> Any:
        form = self.client.get("/admin/login")
        nonce = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert nonce, form.text
        response = self.client.post(
            "/admin/login",
            data={"email": self.email, "password": password, "csrf_token": nonce.group(1)},
            follow_redirects=False,
        )
        if response.status_code == 303:
            page = self.client.get("/admin/contacts")
            self.csrf = re.search(r'data-csrf="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        return response

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(path, **kwargs)

    def post(self, path: str, data: dict[str, Any] | None = None, *, csrf: bool = True, **kwargs: Any) -> Any:
        body = dict(data or {})
        if csrf:
            body["csrf_token"] = self.csrf
        return self.client.post(path, data=body, follow_redirects=False, **kwargs)


@pytest.fixture
def sign_in(app: Any, db: Database) -> Iterator[Any]:
    """sign_in("editor") → an Admin signed in as a new user with that role."""
    clients: list[TestClient] = []

    def make(role: str, email: str | None = None) -> Admin:
        address = email or f"{role}-{len(clients)}@example.com"
        with db.write() as conn:
            create_user(conn, address, role, PASSWORD)
        client = TestClient(app)
        clients.append(client)
        session = Admin(client, address)
        assert session.sign_in().status_code == 303
        return session

    yield make
    for client in clients:
        client.close()


def text_of(html: str) -> str:
    """A page's text with tags and runs of white space removed (what a reader sees)."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()
