"""`GET /api/v1/decisions` answered before the framework routes it (`api/fast_decision.py`)
gives the route's answer byte for byte: the same app with and without the fast path, asked
the same requests — the plain ones it answers, and the unusual ones it passes on."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from assent.api.auth import key_cache
from assent.api.fast_decision import FastDecisions
from assent.app import create_app
from assent.config import Settings
from assent.domain.model import Channel
from assent.services import apikeys
from assent.storage.db import Database
from tests.conftest import Catalog

ALICE, BOB, CAROL = "alice@example.com", "bob@example.com", "carol@example.com"
ANNA = "+46701111111"


class PassedOn:
    """Innermost middleware: records the requests the fast path passed on to the framework."""

    paths: list[str]

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            PassedOn.paths.append(scope["path"])
        await self.app(scope, receive, send)


@pytest.fixture
def world(settings: Settings, db: Database, make: Catalog, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    # Keys stay remembered for the whole table, however slow the machine (the fast path
    # answers only for a remembered key; tests/api/test_key_cache.py covers the expiry).
    monkeypatch.setattr(apikeys, "KEY_CACHE_SECONDS", 600.0)
    fast = create_app(settings, db)
    fast.user_middleware.append(Middleware(PassedOn))  # innermost: inside FastDecisions
    framework = create_app(settings, db)
    framework.user_middleware = [m for m in framework.user_middleware if m.cls is not FastDecisions]
    with TestClient(fast) as fast_client, TestClient(framework) as framework_client:
        news, texts = make.type("News"), make.type("Texts", Channel.SMS)
        with db.write() as conn:
            key = apikeys.create_api_key(conn, "reader", ["read"])[1]
            writer = apikeys.create_api_key(conn, "writer", ["write"])[1]
        headers = {"Authorization": f"Bearer {writer}"}
        changes = {"changes": [{"subscription_type_id": news, "status": "UNSUBSCRIBED"}]}
        assert framework_client.post(
            f"/api/v1/subscribers/EMAIL/{BOB}/statuses", json=changes, headers=headers
        ).is_success
        wide = framework_client.put(f"/api/v1/subscribers/EMAIL/{CAROL}/unsubscribe-all", headers=headers)
        assert wide.is_success
        position = wide.headers["assent-consistency"]
        PassedOn.paths = []
        yield {
            "fast": fast_client,
            "framework": framework_client,
            "news": news,
            "texts": texts,
            "key": key,
            "position": position,
        }


def _answer(client: TestClient, method: str, target: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    response = client.request(method, target, headers=headers, follow_redirects=False)
    kept = {name: value for name, value in response.headers.items() if name not in ("date", "server")}
    return response.status_code, kept, response.content


#: (query, headers besides the reader's key) the fast path answers; {news}, {texts},
#: {position} and {key} are filled in
PLAIN = [
    (f"address={ALICE}&subscription_type_id={{news}}", {}),
    (f"subscription_type_id={{news}}&address={quote(BOB)}", {}),  # UNSUBSCRIBED
    ("address=Bob%40EXAMPLE.com&subscription_type_id={news}", {}),  # normalized, displayed as given
    (f"address={CAROL}&subscription_type_id={{news}}", {}),  # unsubscribed from all
    ("address=per%2Bnews%40example.com&subscription_type_id={news}", {}),
    ("address=%C3%A5sa%40ex%C3%A4mple.se&subscription_type_id={news}", {}),  # UTF-8, percent-encoded
    ("address=not+an+address&subscription_type_id={news}", {}),  # 422 INVALID_ADDRESS
    ("address=&subscription_type_id={news}", {}),  # blank: INVALID_ADDRESS, as the route reads it
    ("address=" + "a" * 308 + "%40example.com&subscription_type_id={news}", {}),  # 320 characters
    (f"address={ALICE}&subscription_type_id=987654", {}),  # 422 UNKNOWN_SUBSCRIPTION_TYPE
    (f"address={ALICE}&subscription_type_id=0", {}),
    (f"address={ALICE}&subscription_type_id=2147483647", {}),  # the largest id QueryId takes
    (f"address={ALICE}&subscription_type_id={{news}}&channel=EMAIL", {}),
    (f"address={ALICE}&subscription_type_id={{news}}&channel=SMS", {}),  # 422 WRONG_CHANNEL
    (f"address={ALICE}&subscription_type_id={{news}}&channel=", {}),
    (f"address={quote(ANNA)}&subscription_type_id={{texts}}", {}),
    ("address=0701111111&subscription_type_id={texts}", {}),  # a national number, no region
    (f"address={ALICE}&subscription_type_id={{texts}}", {}),  # not a phone number
    (f"address={CAROL}&subscription_type_id={{news}}&min_event_id={{position}}", {}),
    (f"address={CAROL}&subscription_type_id={{news}}&min%5Fevent%5Fid={{position}}", {}),
    (f"address={CAROL}&subscription_type_id={{news}}", {"Assent-Consistency": "{position}"}),
    (f"address={CAROL}&subscription_type_id={{news}}&min_event_id=", {}),
    (f"address={ALICE}&subscription_type_id={{news}}", {"Authorization": "bearer {key}"}),  # any case
    (f"address={ALICE}&subscription_type_id={{news}}", {"Authorization": "Bearer  {key} "}),
]

#: … and those it passes on to the route
PASSED_ON = [
    ("subscription_type_id={news}", {}),  # 422: address missing
    (f"address={ALICE}", {}),  # 422: subscription_type_id missing
    ("address=" + "a" * 309 + "%40example.com&subscription_type_id={news}", {}),  # 321 characters
    (f"address={ALICE}&subscription_type_id=abc", {}),
    (f"address={ALICE}&subscription_type_id=-1", {}),
    (f"address={ALICE}&subscription_type_id=%2B1", {}),
    (f"address={ALICE}&subscription_type_id=007", {}),
    (f"address={ALICE}&subscription_type_id=+{{news}}", {}),
    (f"address={ALICE}&subscription_type_id=2147483648", {}),
    (f"address={ALICE}&subscription_type_id=99999999999999999999999", {}),
    (f"address={ALICE}&subscription_type_id=%D9%A1", {}),  # an Arabic-Indic digit one
    (f"address={ALICE}&address={BOB}&subscription_type_id={{news}}", {}),  # repeated
    (f"address={ALICE}&subscription_type_id={{news}}&unknown=1", {}),
    (f"address={ALICE}&subscription_type_id={{news}}&as_of=2020-01-01T00:00:00Z", {}),
    (f"address={ALICE}&subscription_type_id={{news}}&as_of=yesterday", {}),
    (f"address={ALICE}&subscription_type_id={{news}}&min_event_id=soon", {}),  # 422, the middleware's
    (f"address={ALICE}&subscription_type_id={{news}}&min%5Fevent%5Fid=soon", {}),
    (f"address={ALICE}&subscription_type_id={{news}}", {"Assent-Consistency": "soon"}),
    (f"address={ALICE}&subscription_type_id={{news}}", {"Assent-Consistency": "-3"}),
    ("address=a%00b%40example.com&subscription_type_id={news}", {}),  # 422, RejectNul's
    (f"address={ALICE}&subscription_type_id={{news}}", {"Authorization": ""}),  # 401
    (f"address={ALICE}&subscription_type_id={{news}}", {"Authorization": "Bearer ak_nope_nope"}),  # 401
    (f"address={ALICE}&subscription_type_id={{news}}", {"Authorization": "Basic {key}"}),  # 401
    (f"address={ALICE}&subscription_type_id=abc", {"Authorization": ""}),  # 401 before 422
]


def _fill(text: str, world: dict[str, Any]) -> str:
    return text.format(**{name: world[name] for name in ("news", "texts", "key", "position")})


def _ask(
    world: dict[str, Any], query: str, extra: dict[str, str], method: str = "GET", path: str = "/api/v1/decisions"
) -> None:
    """The app with the fast path answers as the one without."""
    headers = {"Authorization": f"Bearer {world['key']}"} | {name: _fill(value, world) for name, value in extra.items()}
    target = f"{path}?{_fill(query, world)}"
    fast = _answer(world["fast"], method, target, headers)
    framework = _answer(world["framework"], method, target, headers)
    assert fast == framework, target


def test_it_answers_a_plain_request_as_the_route_does(world: dict[str, Any]) -> None:
    _ask(world, f"address={ALICE}&subscription_type_id=1&unknown=1", {})  # the route remembers the key
    for query, extra in PLAIN:
        PassedOn.paths = []
        _ask(world, query, extra)
        assert PassedOn.paths == [], f"the fast path passed {query} on"


def test_it_passes_anything_unusual_on_to_the_route(world: dict[str, Any]) -> None:
    _ask(world, f"address={ALICE}&subscription_type_id=1&unknown=1", {})
    for query, extra in PASSED_ON:
        PassedOn.paths = []
        _ask(world, query, extra)
        assert PassedOn.paths == ["/api/v1/decisions"], f"the fast path answered {query}"


def test_it_leaves_a_key_it_does_not_remember_to_the_route(world: dict[str, Any]) -> None:
    query = f"address={ALICE}&subscription_type_id={{news}}"
    _ask(world, query, {})  # the route authenticates it, and remembers it
    _ask(world, query, {})
    assert PassedOn.paths == ["/api/v1/decisions"]


def test_it_leaves_other_methods_and_paths_alone(world: dict[str, Any]) -> None:
    _ask(world, f"address={ALICE}&subscription_type_id=1&unknown=1", {})
    PassedOn.paths = []
    query = f"address={ALICE}&subscription_type_id={{news}}"
    _ask(world, query, {}, method="HEAD")
    _ask(world, query, {}, method="POST")
    _ask(world, query, {}, path="/api/v1/decisions/")
    _ask(world, query, {}, path="/api/v1/Decisions")
    assert len(PassedOn.paths) == 4


def test_it_answers_a_database_it_cannot_reach_as_the_route_does(monkeypatch: pytest.MonkeyPatch) -> None:
    """503 UNAVAILABLE, rendered by the API's own handler (a remembered key needs no database)."""
    monkeypatch.setattr(apikeys, "KEY_CACHE_SECONDS", 600.0)
    settings = Settings(
        database_url="postgresql+psycopg://postgres@127.0.0.1:9/assent", secret_keys=("k",), run_worker=False
    )
    reader = apikeys.Principal("api_key:x", "reader", frozenset({"read"}))
    answers = []
    for fast in (True, False):
        app = create_app(settings)
        app.user_middleware.append(Middleware(PassedOn))
        if not fast:
            app.user_middleware = [m for m in app.user_middleware if m.cls is not FastDecisions]
        api = next(route.app for route in app.routes if getattr(route, "path", None) == "/api/v1")
        key_cache(api).put("ak_x_y", reader)
        PassedOn.paths = []
        with TestClient(app, raise_server_exceptions=False) as client:
            target = "/api/v1/decisions?address=a%40example.com&subscription_type_id=1"
            answers.append(_answer(client, "GET", target, {"Authorization": "Bearer ak_x_y"}))
        assert PassedOn.paths == ([] if fast else ["/api/v1/decisions"])
    assert answers[0] == answers[1]
    assert answers[0][0] == 503
    assert answers[0][1]["retry-after"] == "5"
