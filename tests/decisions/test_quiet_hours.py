"""Quiet hours through the API (R28): single, batch and the audience filter's blocked rows.

The window is set relative to the real clock (the service reads it; nothing is faked): a
window that opens two hours from now in Stockholm is closed now, and `defer_until` is its
opening. One that opened two hours ago and closes in two hours is open.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from assent.domain.model import Channel
from tests.conftest import Catalog

STOCKHOLM = ZoneInfo("Europe/Stockholm")
ANNA, BERTIL, CECILIA = "+46701111111", "+46702222222", "+46703333333"


def closed_window() -> tuple[dict[str, Any], str]:
    """A window that opens in two hours (Stockholm time), and that opening in UTC."""
    opens = (dt.datetime.now(STOCKHOLM) + dt.timedelta(hours=2)).replace(second=0, microsecond=0)
    closes = opens + dt.timedelta(hours=1)
    window = {"start": opens.strftime("%H:%M"), "end": closes.strftime("%H:%M")}
    return window, opens.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def open_window() -> dict[str, Any]:
    now = dt.datetime.now(STOCKHOLM)
    return {"start": (now - dt.timedelta(hours=2)).strftime("%H:%M"), "end": (now + dt.timedelta(hours=2)).strftime("%H:%M")}


def set_quiet_hours(client: TestClient, headers: dict[str, str], unit: int, **windows: Any) -> Any:
    response = client.patch(f"/api/v1/business-units/{unit}", headers=headers, json={"quiet_hours": windows})
    assert response.status_code == 200, response.text
    return response.json()


def subscribe(client: TestClient, headers: dict[str, str], channel: str, number: str, *type_ids: int) -> None:
    response = client.post(
        f"/api/v1/subscribers/{channel}/{quote(number)}/statuses",
        headers=headers,
        json={"changes": [{"subscription_type_id": i, "status": "SUBSCRIBED"} for i in type_ids]},
    )
    assert response.status_code == 200, response.text


def decide(client: TestClient, headers: dict[str, str], type_id: int, number: str) -> Any:
    response = client.get("/api/v1/decisions", params={"address": number, "subscription_type_id": type_id}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def types(make: Catalog, client: TestClient, write_headers: dict[str, str]) -> dict[str, int]:
    found = {
        "sms": make.type("SMS offers", Channel.SMS),
        "whatsapp": make.type("WhatsApp offers", Channel.WHATSAPP),
        "email": make.type("Newsletter", Channel.EMAIL),
    }
    for number in (ANNA, BERTIL):
        subscribe(client, write_headers, "SMS", number, found["sms"])
        subscribe(client, write_headers, "WHATSAPP", number, found["whatsapp"])
    subscribe(client, write_headers, "EMAIL", "anna@example.com", found["email"])
    return found


def test_outside_the_window_a_decision_is_deferred_and_inside_it_is_allowed(
    client: TestClient, types: dict[str, int], admin_headers: dict[str, str], read_headers: dict[str, str]
) -> None:
    assert decide(client, read_headers, types["sms"], ANNA)["allowed"] is True
    window, opening = closed_window()
    saved = set_quiet_hours(client, admin_headers, 0, SMS=window)
    assert saved["quiet_hours"]["SMS"]["days"] == ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    answer = decide(client, read_headers, types["sms"], ANNA)
    assert answer == {
        "address": ANNA, "channel": "SMS", "subscription_type_id": types["sms"],
        "allowed": False, "reasons": ["QUIET_HOURS"], "defer_until": opening,
    }  # fmt: skip
    # the window is per channel: WhatsApp and email are untouched
    assert decide(client, read_headers, types["whatsapp"], ANNA)["allowed"] is True
    assert "defer_until" not in decide(client, read_headers, types["email"], "anna@example.com")
    set_quiet_hours(client, admin_headers, 0, SMS=open_window())
    answer = decide(client, read_headers, types["sms"], ANNA)
    assert (answer["allowed"], answer["reasons"], "defer_until" in answer) == (True, [], False)
    set_quiet_hours(client, admin_headers, 0, SMS=None)
    assert decide(client, read_headers, types["sms"], ANNA)["allowed"] is True


def test_quiet_hours_come_on_top_of_other_reasons(
    client: TestClient, types: dict[str, int], admin_headers: dict[str, str], read_headers: dict[str, str]
) -> None:
    window, opening = closed_window()
    set_quiet_hours(client, admin_headers, 0, WHATSAPP=window)
    answer = decide(client, read_headers, types["whatsapp"], CECILIA)  # never opted in
    assert answer["reasons"] == ["NO_CONSENT", "QUIET_HOURS"]
    assert answer["defer_until"] == opening


def test_a_batch_defers_each_number_by_its_own_zones(
    client: TestClient, types: dict[str, int], admin_headers: dict[str, str], read_headers: dict[str, str]
) -> None:
    window, opening = closed_window()
    set_quiet_hours(client, admin_headers, 0, SMS=window)
    response = client.post(
        "/api/v1/decisions/batch",
        headers=read_headers,
        json={"subscription_type_id": types["sms"], "addresses": [ANNA, "not a number", CECILIA, BERTIL]},
    )
    assert response.status_code == 200, response.text
    anna, invalid, cecilia, bertil = response.json()["results"]
    assert (anna["reasons"], anna["defer_until"]) == (["QUIET_HOURS"], opening)
    assert (bertil["reasons"], bertil["defer_until"]) == (["QUIET_HOURS"], opening)
    assert (cecilia["reasons"], cecilia["defer_until"]) == (["NO_CONSENT", "QUIET_HOURS"], opening)
    assert invalid["reasons"] == ["INVALID_ADDRESS"]
    assert "defer_until" not in invalid


def test_the_audience_filter_drops_deferred_numbers_and_shows_when_to_send(
    client: TestClient, types: dict[str, int], admin_headers: dict[str, str], read_headers: dict[str, str]
) -> None:
    def audience(media_type: str, body: str, **params: Any) -> str:
        response = client.post(
            "/api/v1/audiences/filter",
            params={"subscription_type_id": types["sms"], **params},
            content=body.encode(),
            headers={**read_headers, "Content-Type": media_type},
        )
        assert response.status_code == 200, response.text
        return response.text

    csv_body = f"phone\n{ANNA}\n{CECILIA}\n"
    assert audience("text/csv", csv_body) == f"address\n{ANNA}\n"
    assert audience("text/csv", csv_body, include_blocked="true") == (
        f"address,allowed,reasons\n{ANNA},true,\n{CECILIA},false,NO_CONSENT\n"
    )
    window, opening = closed_window()
    set_quiet_hours(client, admin_headers, 0, SMS=window)
    assert audience("text/csv", csv_body) == "address\n"
    assert audience("text/csv", csv_body, include_blocked="true") == (
        "address,allowed,reasons,defer_until\n"
        f"{ANNA},false,QUIET_HOURS,{opening}\n"
        f"{CECILIA},false,NO_CONSENT|QUIET_HOURS,{opening}\n"
    )
    ndjson = audience("application/x-ndjson", f'{{"address": "{ANNA}"}}\n', include_blocked="true")
    assert json.loads(ndjson) == {"address": ANNA, "allowed": False, "reasons": ["QUIET_HOURS"], "defer_until": opening}
    set_quiet_hours(client, admin_headers, 0, SMS=open_window())
    assert audience("text/csv", csv_body, include_blocked="true") == (
        f"address,allowed,reasons,defer_until\n{ANNA},true,,\n{CECILIA},false,NO_CONSENT,\n"
    )


@pytest.mark.parametrize(
    ("windows", "field"),
    [
        ({"SMS": {"start": "8:00", "end": "21:00"}}, "start"),
        ({"SMS": {"start": "08:00", "end": "21:00", "days": []}}, "days"),
        ({"SMS": {"start": "08:00", "end": "21:00", "days": ["funday"]}}, "days"),
        ({"EMAIL": {"start": "08:00", "end": "21:00"}}, "EMAIL"),
    ],
)
def test_a_bad_window_is_refused_naming_the_field(
    client: TestClient, admin_headers: dict[str, str], windows: dict[str, Any], field: str
) -> None:
    response = client.patch("/api/v1/business-units/0", headers=admin_headers, json={"quiet_hours": windows})
    assert response.status_code == 422
    assert field in response.text
    assert client.get("/api/v1/business-units/0", headers=admin_headers).json()["quiet_hours"] is None
