"""The public pages say what is true (issue 15, point 5): under "unsubscribe from all" no topic
reads as subscribed and the page says what it takes to hear from the brand again (R7, R8,
R11, R13); the consent notice is shown, and recorded, in the person's language."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from tests.pages.conftest import Shop, form_token, history, links_for, path, statuses, subscribe, subscriber

SWEDISH_NOTICE = "Acme får mejla dig om det du kryssar i. Avregistrera dig när du vill."


def _boxes(html: str) -> dict[str, bool]:
    """Each checkbox's id → ticked."""
    return {
        m.group(1): " checked" in m.group(0) for m in re.finditer(r'<input type="checkbox" id="([^"]+)"[^>]*>', html)
    }


def _save(client: TestClient, url: str, html: str, **fields: Any) -> Any:
    data = {"csrf": form_token(html), "shown": re.findall(r'name="shown" value="(\d+)"', html), **fields}
    return client.post(url, data=data, follow_redirects=False)


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def _unsubscribed_from_all(client: TestClient, headers: dict[str, str], shop: Shop) -> str:
    """Alice subscribed to the newsletter, then unsubscribed from all on her page."""
    subscribe(client, headers, shop.newsletter)
    url = path(links_for(client, headers, shop)["preferences_url"])
    page = client.get(url)
    saved = _save(client, url, page.text, type=[str(shop.newsletter), str(shop.offers)], unsubscribe_all="1")
    assert saved.status_code == 303
    assert subscriber(client, headers)["wide_opt_outs"] != []
    return url


def test_it_shows_no_topic_as_sent_while_the_person_is_unsubscribed_from_all(
    client: TestClient, shop: Shop, write_headers: dict[str, str]
) -> None:
    url = _unsubscribed_from_all(client, write_headers, shop)
    page = client.get(url)
    assert _boxes(page.text) == {
        f"type-{shop.newsletter}": False,
        f"type-{shop.offers}": False,
        "unsubscribe-all": True,
    }
    text = _text(page.text)
    assert "You are subscribed." not in text
    assert "You have not chosen yet" not in text
    assert text.count("Not sent while you are unsubscribed from all.") == 2
    assert "You are unsubscribed from all email from Acme AB: none of the topics below is sent to you" in text
    # what it takes to hear from them again: the person's own act, and a second yes (R8, R13)
    assert "Only you can change this." in text
    assert "we will ask you to confirm before anything is sent" in text
    # R7: the statuses are kept underneath
    assert statuses(client, write_headers)[shop.newsletter] == "SUBSCRIBED"

    swedish = _text(client.get(url + "?lang=sv").text)
    assert "Du prenumererar." not in swedish
    assert swedish.count("Skickas inte så länge du är avregistrerad från alla utskick.") == 2
    assert "Bara du kan ändra det här." in swedish


def test_a_save_while_unsubscribed_from_all_changes_no_topic(
    client: TestClient, shop: Shop, write_headers: dict[str, str]
) -> None:
    url = _unsubscribed_from_all(client, write_headers, shop)
    before = len(history(client, write_headers))
    page = client.get(url)
    # The boxes came unticked: saving them is no opt-out, and ticking one starts nothing.
    assert _save(client, url, page.text, unsubscribe_all="1").status_code == 303
    assert _save(client, url, page.text, unsubscribe_all="1", type=[str(shop.offers)]).status_code == 303
    assert len(history(client, write_headers)) == before
    assert statuses(client, write_headers)[shop.newsletter] == "SUBSCRIBED"


def test_leaving_unsubscribe_from_all_sends_exactly_the_ticked_topics(
    client: TestClient, shop: Shop, write_headers: dict[str, str]
) -> None:
    url = _unsubscribed_from_all(client, write_headers, shop)
    page = client.get(url)
    ask = _save(client, url, page.text, type=[str(shop.offers)])
    assert ask.status_code == 200
    assert "Do you want to hear from Acme AB again?" in ask.text
    assert "<li>Offers</li>" in ask.text
    assert "<li>Newsletter</li>" not in ask.text
    assert subscriber(client, write_headers)["wide_opt_outs"] != []  # nothing yet without the second yes
    done = _save(client, url, ask.text, type=[str(shop.offers)], confirm_resubscribe="1")
    assert done.status_code == 303
    assert subscriber(client, write_headers)["wide_opt_outs"] == []
    # The newsletter was unticked on the page, so it does not start again; offers (never
    # chosen: sendable email outside data privacy mode) is sent, as ticked.
    assert statuses(client, write_headers)[shop.newsletter] == "UNSUBSCRIBED"
    again = client.get(url)
    assert _boxes(again.text) == {
        f"type-{shop.newsletter}": False,
        f"type-{shop.offers}": True,
        "unsubscribe-all": False,
    }
    assert "Not sent while" not in again.text


def test_it_shows_and_records_the_notice_in_the_persons_language(
    client: TestClient, shop: Shop, write_headers: dict[str, str], admin_headers: dict[str, str]
) -> None:
    patched = client.patch(
        f"/api/v1/business-units/{shop.bu}",
        json={"notice_translations": {"sv": {"text": f"  {SWEDISH_NOTICE} "}}},
        headers=admin_headers,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["notice_translations"] == {"sv": {"text": SWEDISH_NOTICE}}
    assert client.get(f"/api/v1/business-units/{shop.bu}", headers=admin_headers).json()["notice_translations"] == {
        "sv": {"text": SWEDISH_NOTICE}
    }
    url = path(links_for(client, write_headers, shop, language="sv")["preferences_url"])
    swedish = client.get(url)
    assert f'<p class="notice-text" id="notice">{SWEDISH_NOTICE}</p>' in swedish.text
    english = client.get(url + "?lang=en")
    assert "Acme may email you about what you tick. Unsubscribe any time." in english.text
    assert SWEDISH_NOTICE not in english.text
    signup = client.get(f"/subscribe/{shop.bu}?lang=sv")
    assert SWEDISH_NOTICE in signup.text

    # In data privacy mode an unchosen type is unticked: ticking it is an opt-in, with the notice.
    assert client.patch("/api/v1/settings", json={"data_privacy_mode": True}, headers=admin_headers).status_code == 200
    swedish = client.get(url)
    assert _save(client, url, swedish.text, type=[str(shop.offers)]).status_code == 303
    [event] = [e for e in history(client, write_headers) if e["subscription_type_id"] == shop.offers]
    assert (event["new_status"], event["notice_version"]) == ("SUBSCRIBED", "acme-2026-1")
    assert event["notice_text"] == SWEDISH_NOTICE


def test_it_refuses_a_notice_translation_it_cannot_show_and_writes_nothing(
    client: TestClient, shop: Shop, admin_headers: dict[str, str]
) -> None:
    unit = f"/api/v1/business-units/{shop.bu}"
    before = client.get(unit, headers=admin_headers).json()
    for body, field in (
        ({"notice_translations": {"sv": {"text": "   "}}}, "notice_translations.sv.text"),
        ({"notice_translations": {"sv": {"text": "x" * 4001}}}, "notice_translations.sv.text"),
        ({"notice_translations": {"sv": {"words": "Hej"}}}, "notice_translations.sv.words"),
        ({"notice_translations": {"xx": {"text": "Hej"}}}, "notice_translations.xx"),
    ):
        refused = client.patch(unit, json=body, headers=admin_headers)
        assert refused.status_code == 422, body
        assert refused.headers["content-type"].startswith("application/problem+json")
        fields = [refused.json().get("field"), *(e.get("field") for e in refused.json().get("errors", []))]
        assert any(f and f.startswith(field) for f in fields), (body, refused.json())
    assert client.get(unit, headers=admin_headers).json() == before
