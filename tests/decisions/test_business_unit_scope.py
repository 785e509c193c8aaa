"""A wide opt-out ("unsubscribe from all") covers one business unit only (R8, R11): an
address unsubscribed from all of unit A may still be sent, and be subscribed to, the types
of unit B — through a single decision, a batch, the audience filter (both of its lookup
paths) and status changes. Each check has its control: the same question about unit A is
refused."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from assent.services import audiences
from tests.conftest import Catalog

ALICE = "alice@example.com"


@pytest.fixture
def units(client: TestClient, make: Catalog, write_headers: dict[str, str]) -> dict[str, int]:
    a, b = make.business_unit("Unit A"), make.business_unit("Unit B")
    ids = {
        "a": a, "b": b,
        "a_news": make.type("A news", business_unit_id=a), "b_news": make.type("B news", business_unit_id=b),
        "a_offers": make.type("A offers", business_unit_id=a), "b_offers": make.type("B offers", business_unit_id=b),
    }
    subscribed = client.post(
        f"/api/v1/subscribers/EMAIL/{ALICE}/statuses",
        json={"changes": [{"subscription_type_id": ids[k], "status": "SUBSCRIBED"} for k in ("a_news", "b_news")]},
        headers=write_headers,
    )
    assert subscribed.status_code == 200, subscribed.text
    wide = client.put(f"/api/v1/subscribers/EMAIL/{ALICE}/unsubscribe-all", params={"business_unit_id": a},
                      headers=write_headers)
    assert wide.json()["outcome"] == "CHANGED", wide.text
    return ids


def _single(client: TestClient, headers: dict[str, str], type_id: int) -> Any:
    answer = client.get("/api/v1/decisions", params={"address": ALICE, "subscription_type_id": type_id}, headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_single_decision_is_blocked_only_in_the_unit_of_the_wide_opt_out(
    client: TestClient, units: dict[str, int], read_headers: dict[str, str]
) -> None:
    other, same = _single(client, read_headers, units["b_news"]), _single(client, read_headers, units["a_news"])
    assert (other["allowed"], same["allowed"]) == (True, False)
    assert same["reasons"] == ["UNSUBSCRIBED_FROM_ALL"]
    assert other["reasons"] == []


def test_a_batch_decision_is_blocked_only_in_the_unit_of_the_wide_opt_out(
    client: TestClient, units: dict[str, int], read_headers: dict[str, str]
) -> None:
    def batch(type_id: int) -> list[bool]:
        answer = client.post("/api/v1/decisions/batch", json={"subscription_type_id": type_id,
                             "addresses": [ALICE, "bob@example.com"]}, headers=read_headers)
        assert answer.status_code == 200, answer.text
        return [r["allowed"] for r in answer.json()["results"]]

    # bob never subscribed: only alice's answer differs between the units
    assert batch(units["b_news"])[0] is True
    assert batch(units["a_news"])[0] is False


@pytest.mark.parametrize("preload", [False, True], ids=["lookups", "preloaded"])
def test_the_audience_filter_blocks_only_in_the_unit_of_the_wide_opt_out(
    client: TestClient, units: dict[str, int], read_headers: dict[str, str], monkeypatch: pytest.MonkeyPatch,
    preload: bool,
) -> None:
    monkeypatch.setattr(audiences, "PRELOAD_MIN_LINES", 0 if preload else 10**9)

    def sendable(type_id: int) -> str:
        answer = client.post("/api/v1/audiences/filter", params={"subscription_type_id": type_id},
                             content=f"{ALICE}\n", headers={**read_headers, "Content-Type": "text/csv"})
        assert answer.status_code == 200, answer.text
        return answer.text

    assert sendable(units["b_news"]) == f"address\n{ALICE}\n"
    assert sendable(units["a_news"]) == "address\n"


def test_status_changes_see_only_the_wide_opt_out_of_the_types_unit(
    client: TestClient, units: dict[str, int], write_headers: dict[str, str]
) -> None:
    def subscribe(type_id: int, source: str) -> dict[str, Any]:
        answer = client.post(
            f"/api/v1/subscribers/EMAIL/{ALICE}/statuses",
            json={"source": source, "changes": [{"subscription_type_id": type_id, "status": "SUBSCRIBED"}],
                  "legal_basis_explanation": "She signed up at the counter"},
            headers=write_headers,
        )
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()["results"][0]
        return result

    assert subscribe(units["b_offers"], "API")["outcome"] == "CHANGED"
    refused = subscribe(units["a_offers"], "API")
    assert refused["outcome"] == "REFUSED"
    assert refused["reason"] == "WIDE_OPT_OUT_IN_FORCE"
