"""One-click unsubscribe exactly per RFC 8058 (R15), over raw HTTP: form-encoded and
multipart bodies, no cookie or CSRF token, 200 without a redirect, idempotent; GET and HEAD
never change anything."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from assent.storage.db import Database
from tests.conftest import count_rows
from tests.pages.conftest import ALICE, Shop, history, links_for, path, statuses, subscribe, subscriber


def _post_raw(client: TestClient, url: str, body: bytes, content_type: str) -> object:
    client.cookies.clear()
    return client.post(url, content=body, headers={"Content-Type": content_type}, follow_redirects=False)


def test_it_unsubscribes_only_the_messages_type_from_a_form_encoded_post(
    client: TestClient, shop: Shop, write_headers: dict[str, str], db: Database
) -> None:
    subscribe(client, write_headers, shop.newsletter, shop.offers)
    url = path(links_for(client, write_headers, shop, subscription_type_id=shop.newsletter)["unsubscribe_url"])
    for _ in range(2):  # the second POST is a retry: same answer, nothing more written
        response = _post_raw(client, url, b"List-Unsubscribe=One-Click", "application/x-www-form-urlencoded")
        assert response.status_code == 200  # type: ignore[attr-defined]
        assert "location" not in response.headers  # type: ignore[attr-defined]
        assert "set-cookie" not in response.headers  # type: ignore[attr-defined]
        assert "You are unsubscribed" in response.text  # type: ignore[attr-defined]
    assert statuses(client, write_headers) == {shop.newsletter: "UNSUBSCRIBED", shop.offers: "SUBSCRIBED",
                                              shop.archived: "NOT_SPECIFIED", shop.foreign: "NOT_SPECIFIED"}
    events = [e for e in history(client, write_headers) if e["source"] == "ONE_CLICK"]
    assert [(e["subscription_type_id"], e["old_status"], e["new_status"], e["actor_kind"]) for e in events] == [
        (shop.newsletter, "SUBSCRIBED", "UNSUBSCRIBED", "CONTACT")
    ]


def test_it_accepts_multipart_with_other_fields(
    client: TestClient, shop: Shop, write_headers: dict[str, str]
) -> None:
    subscribe(client, write_headers, shop.newsletter)
    url = path(links_for(client, write_headers, shop, subscription_type_id=shop.newsletter)["unsubscribe_url"])
    boundary = "----rfc8058"
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n"
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"extra\"\r\n\r\nignored\r\n"
        f"--{boundary}--\r\n"
    ).encode()
    response = _post_raw(client, url, body, f"multipart/form-data; boundary={boundary}")
    assert response.status_code == 200  # type: ignore[attr-defined]
    assert statuses(client, write_headers)[shop.newsletter] == "UNSUBSCRIBED"


def test_it_unsubscribes_from_all_with_an_unsubscribe_all_link(
    client: TestClient, shop: Shop, write_headers: dict[str, str]
) -> None:
    subscribe(client, write_headers, shop.newsletter)
    url = path(links_for(client, write_headers, shop)["list_unsubscribe"].strip("<>"))
    response = _post_raw(client, url, b"List-Unsubscribe=One-Click", "application/x-www-form-urlencoded")
    assert response.status_code == 200  # type: ignore[attr-defined]
    [wide] = subscriber(client, write_headers)["wide_opt_outs"]
    assert (wide["business_unit_id"], wide["set_by"], wide["source"]) == (shop.bu, "CONTACT", "ONE_CLICK")
    assert statuses(client, write_headers)[shop.newsletter] == "SUBSCRIBED"  # kept under the wide opt-out (R7)
    decision = client.get(
        "/api/v1/decisions",
        params={"channel": "EMAIL", "address": "alice.andersson@example.com", "subscription_type_id": shop.newsletter},
        headers=write_headers,
    ).json()
    assert decision["reasons"] == ["UNSUBSCRIBED_FROM_ALL"]


def test_it_changes_nothing_on_get_and_shows_one_button_and_the_preference_center(
    client: TestClient, shop: Shop, write_headers: dict[str, str], db: Database
) -> None:
    subscribe(client, write_headers, shop.newsletter)
    links = links_for(client, write_headers, shop, subscription_type_id=shop.newsletter)
    events = count_rows(db, "ledger_events")
    for url in (links["unsubscribe_url"], links["unsubscribe_all_url"]):
        page = client.get(path(url))
        assert page.status_code == 200
        assert client.head(path(url)).status_code == 200
        forms = re.findall(r"<form[^>]*>.*?</form>", page.text, re.S)
        assert len(forms) == 1
        assert 'method="post"' in forms[0]
        assert '<input type="hidden" name="List-Unsubscribe" value="One-Click">' in forms[0]
        assert len(re.findall(r"<button", page.text)) == 1
        preferences = re.search(r'href="(/preferences/[^"?]+)', page.text)
        assert preferences
        assert client.get(preferences.group(1)).status_code == 200
    assert "Newsletter" in client.get(path(links["unsubscribe_url"])).text
    assert count_rows(db, "ledger_events") == events
    assert statuses(client, write_headers)[shop.newsletter] == "SUBSCRIBED"


def test_it_refuses_a_post_without_the_one_click_body(
    client: TestClient, shop: Shop, write_headers: dict[str, str], db: Database
) -> None:
    subscribe(client, write_headers, shop.newsletter)
    url = path(links_for(client, write_headers, shop, subscription_type_id=shop.newsletter)["unsubscribe_url"])
    events = count_rows(db, "ledger_events")
    for body, content_type in (
        (b"", "application/x-www-form-urlencoded"),
        (b"List-Unsubscribe=Yes", "application/x-www-form-urlencoded"),
        (b'{"List-Unsubscribe": "One-Click"}', "application/json"),
    ):
        response = _post_raw(client, url, body, content_type)
        assert response.status_code == 400  # type: ignore[attr-defined]
        assert "Nothing has been changed" in response.text  # type: ignore[attr-defined]
    assert count_rows(db, "ledger_events") == events


def test_an_api_key_claiming_form_cannot_lift_a_one_click_unsubscribe_from_all(
    client: TestClient, shop: Shop, write_headers: dict[str, str]
) -> None:
    """Issue 8, point 1 (R8): a form submission is an opt-in to types, never the lifting of
    the person's own "unsubscribe from all" — whatever source a key claims."""
    subscribe(client, write_headers, shop.newsletter)
    url = path(links_for(client, write_headers, shop)["list_unsubscribe"].strip("<>"))
    assert _post_raw(client, url, b"List-Unsubscribe=One-Click", "application/x-www-form-urlencoded").status_code == 200  # type: ignore[attr-defined]
    for source in ("FORM", "API", "MANUAL", "WORKFLOW", "IMPORT"):
        response = client.request(
            "DELETE",
            f"/api/v1/subscribers/EMAIL/{ALICE}/unsubscribe-all?business_unit_id={shop.bu}",
            json={"source": source, "legal_basis_explanation": "they filled in our form", "notice_text": "Yes!"},
            headers=write_headers,
        )
        assert response.status_code == 200, response.text
        answer = response.json()
        assert (answer["outcome"], answer["unsubscribed_from_all"]) == ("REFUSED", True), source
    assert [w["source"] for w in subscriber(client, write_headers)["wide_opt_outs"]] == ["ONE_CLICK"]
    assert [e["new_status"] for e in history(client, write_headers) if e["kind"] == "WIDE_OPT_OUT"] == ["UNSUBSCRIBED"]
