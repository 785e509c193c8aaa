"""State and decisions as of a past moment, rebuilt from the ledger (issue 17)."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient

from assent.domain.model import Actor, Channel, Evidence, Source, Status
from assent.services import erasure
from assent.services.as_of import policy_at
from assent.services.changes import Writer
from assent.services.ledger import RequestContext
from assent.services.state import load_account, load_types
from assent.storage.db import Database
from tests.conftest import Catalog

Headers = dict[str, str]
ANN = "ann@example.com"


def at(day: int) -> dt.datetime:
    return dt.datetime(2026, 3, day, 10, 0, tzinfo=dt.UTC)


def history(db: Database, type_id: int) -> None:
    """Ann opts in on 1 March, out on 5 March, out of everything on 10 March; erased on 12 March."""
    steps = [(1, Status.SUBSCRIBED), (5, Status.UNSUBSCRIBED), (10, None)]
    for day, status in steps:
        with db.write() as conn:
            account = load_account(conn)
            ann = account.normalize(Channel.EMAIL, ANN)
            writer = Writer(
                db, conn, account, Actor(Source.API, "key"), Evidence(legal_basis_explanation=f"letter of {day} March"),
                at=at(day),
            )  # fmt: skip
            if status is None:
                writer.set_wide_opt_out(Channel.EMAIL, [ann], 0)
            else:
                [type_] = load_types(conn, [type_id]).values()
                writer.change_statuses(Channel.EMAIL, [(ann, [(type_, status)])])
    with db.write() as conn:
        account = load_account(conn)
        ann = account.normalize(Channel.EMAIL, ANN)
        erasure.erase(db, conn, account, [ann], actor_id="dpo", context=RequestContext())


def decision(client: TestClient, headers: Headers, type_id: int, as_of: str | None = None) -> dict[str, object]:
    params: dict[str, str | int] = {"address": ANN, "subscription_type_id": type_id}
    if as_of:
        params["as_of"] = as_of
    response = client.get("/api/v1/decisions", params=params, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def test_it_answers_what_was_true_then(client: TestClient, make: Catalog, db: Database, read_headers: Headers) -> None:
    news = make.type("Newsletter")
    history(db, news)

    def state(when: str) -> dict[str, object]:
        response = client.get(f"/api/v1/subscribers/EMAIL/{ANN}", params={"as_of": when}, headers=read_headers)
        assert response.status_code == 200, response.text
        body: dict[str, object] = response.json()
        return body

    on_3rd = state("2026-03-03T12:00:00Z")
    [status] = on_3rd["statuses"]  # type: ignore[misc]
    assert (status["status"], status["source"]) == ("SUBSCRIBED", "API")
    # Erasure since blanked the explanation; the change itself is still there.
    assert status["legal_basis_explanation"] is None
    assert (on_3rd["as_of"], on_3rd["policy_as_of"], on_3rd["erased"]) == ("2026-03-03T12:00:00Z", "now", False)
    assert decision(client, read_headers, news, "2026-03-03T12:00:00+00:00")["allowed"] is True
    # Offsets count: 11:30 in Stockholm on 1 March is 10:30 UTC, after the opt-in at 10:00.
    assert [s["status"] for s in state("2026-03-01T11:30:00+01:00")["statuses"]] == ["SUBSCRIBED"]  # type: ignore[attr-defined]
    assert [s["status"] for s in state("2026-03-01T10:30:00+01:00")["statuses"]] == ["NOT_SPECIFIED"]  # type: ignore[attr-defined]

    on_6th = decision(client, read_headers, news, "2026-03-06T00:00:00Z")
    assert (on_6th["allowed"], on_6th["reasons"], on_6th["policy_as_of"]) == (False, ["UNSUBSCRIBED"], "now")
    on_11th = state("2026-03-11T00:00:00Z")
    assert [w["business_unit_id"] for w in on_11th["wide_opt_outs"]] == [0]  # type: ignore[attr-defined]
    assert decision(client, read_headers, news, "2026-03-11T00:00:00Z")["reasons"] == ["UNSUBSCRIBED_FROM_ALL", "UNSUBSCRIBED"]

    # Now: erased. The answer as of now is today's answer.
    now = dt.datetime.now(dt.UTC).isoformat()
    today = state(now)
    assert today["erased"] is True
    assert [s["status"] for s in today["statuses"]] == ["NOT_SPECIFIED"]  # type: ignore[attr-defined]
    live = decision(client, read_headers, news)
    assert {k: v for k, v in decision(client, read_headers, news, now).items() if k not in ("as_of", "policy_as_of")} == live


def test_it_wants_a_time_with_its_offset(client: TestClient, make: Catalog, read_headers: Headers) -> None:
    news = make.type("Newsletter")
    for path, params in (
        (f"/api/v1/subscribers/EMAIL/{ANN}", {"as_of": "2026-03-03T12:00:00"}),
        ("/api/v1/decisions", {"address": ANN, "subscription_type_id": news, "as_of": "2026-03-03T12:00:00"}),
    ):
        response = client.get(path, params=params, headers=read_headers)
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "as_of"
    bad = client.get(f"/api/v1/subscribers/EMAIL/{ANN}", params={"as_of": "3 March"}, headers=read_headers)
    assert bad.status_code == 422


def test_the_policy_then_comes_from_the_settings_audit(
    client: TestClient, make: Catalog, read_headers: Headers, admin_headers: Headers
) -> None:
    """Ann never said anything about the type: sendable before data privacy mode was turned
    on (the audit dates the switch), not since; a unit's own double opt-in likewise."""
    news = make.type("Newsletter")
    before_switch = dt.datetime.now(dt.UTC).isoformat()
    assert decision(client, read_headers, news)["allowed"] is True
    switched = client.patch("/api/v1/settings", json={"data_privacy_mode": True}, headers=admin_headers)
    assert switched.status_code == 200, switched.text
    after_switch = dt.datetime.now(dt.UTC).isoformat()

    assert decision(client, read_headers, news)["reasons"] == ["NO_CONSENT"]
    then = decision(client, read_headers, news, before_switch)
    assert (then["allowed"], then["reasons"], then["policy_as_of"]) == (True, [], "settings_audit")
    since = decision(client, read_headers, news, after_switch)
    assert (since["reasons"], since["policy_as_of"]) == (["NO_CONSENT"], "now")
    state = client.get(f"/api/v1/subscribers/EMAIL/{ANN}", params={"as_of": before_switch}, headers=read_headers)
    assert state.json()["policy_as_of"] == "settings_audit"


def test_a_units_double_opt_in_then_comes_from_the_settings_audit(
    client: TestClient, db: Database, admin_headers: Headers
) -> None:
    before = dt.datetime.now(dt.UTC)
    turned_on = client.patch("/api/v1/business-units/0", json={"double_opt_in": True}, headers=admin_headers)
    assert turned_on.status_code == 200, turned_on.text
    after = dt.datetime.now(dt.UTC)
    with db.read() as conn:
        account = load_account(conn)
        then, then_from = policy_at(conn, account, before)
        since, since_from = policy_at(conn, account, after)
    assert (then.double_opt_in_for(0), then_from) == (False, "settings_audit")
    assert (since.double_opt_in_for(0), since_from) == (True, "now")
