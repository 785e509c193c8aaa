"""The preference center over HTTP (R13, R6, R8, R17, R24): what it shows, what Save
records, its form token, and the second confirmation before "unsubscribe from all" ends."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from assent import i18n
from assent.storage.db import Database
from tests.conftest import count_rows
from tests.pages.conftest import Shop, form_token, history, links_for, path, statuses, subscribe, subscriber


def _boxes(html: str) -> dict[str, bool]:
    """Each checkbox's label → ticked."""
    found = {}
    for box in re.finditer(r'<input type="checkbox" id="([^"]+)"[^>]*>', html):
        label = re.search(rf'<label for="{box.group(1)}">([^<]+)</label>', html)
        assert label, box.group(1)
        found[label.group(1)] = " checked" in box.group(0)
    return found


def _save(client: TestClient, url: str, html: str, **fields: Any) -> Any:
    data = {"csrf": form_token(html), "shown": re.findall(r'name="shown" value="(\d+)"', html), **fields}
    return client.post(url, data=data, follow_redirects=False)


def test_it_shows_every_active_type_of_the_channel_and_unit_in_the_links_language(
    client: TestClient, shop: Shop, write_headers: dict[str, str]
) -> None:
    subscribe(client, write_headers, shop.offers)
    url = path(links_for(client, write_headers, shop, language="sv")["preferences_url"])
    page = client.get(url)
    assert page.status_code == 200
    assert '<html lang="sv">' in page.text
    assert _boxes(page.text) == {
        "Nyhetsbrev": True,  # NOT_SPECIFIED is sendable on email outside data privacy mode
        "Offers": True,
        "Avregistrera mig från alla utskick via e-post från Acme AB": False,
    }
    assert "Nyheter från Acme, en gång i månaden." in page.text
    assert "Du prenumererar." in page.text
    assert "Du har inte valt ännu: du får det här om du inte kryssar ur rutan." in page.text
    assert "Acme AB" in page.text
    assert "Storgatan 1, 111 22 Stockholm" in page.text
    assert "--primary:#0b6e4f" in page.text
    for hidden in ("Old digest", "SMS deals", "Other brand news"):
        assert hidden not in page.text
    # The person's own pick wins over the link's language (R17), and the switcher keeps it.
    english = client.get(url + "?lang=en")
    assert '<html lang="en">' in english.text
    assert "Newsletter" in english.text
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"


def test_it_shows_not_specified_unticked_in_data_privacy_mode(
    client: TestClient, shop: Shop, write_headers: dict[str, str], admin_headers: dict[str, str]
) -> None:
    subscribe(client, write_headers, shop.offers)
    assert client.patch("/api/v1/settings", json={"data_privacy_mode": True}, headers=admin_headers).status_code == 200
    page = client.get(path(links_for(client, write_headers, shop)["preferences_url"]))
    assert _boxes(page.text)["Newsletter"] is False
    assert _boxes(page.text)["Offers"] is True


def test_it_saves_choices_as_the_contact_with_the_notice_and_request_evidence(
    app: Any, shop: Shop, write_headers: dict[str, str]
) -> None:
    with TestClient(app, client=("203.0.113.77", 50000), headers={"User-Agent": "Mozilla/5.0 Test"}) as client:
        subscribe(client, write_headers, shop.offers)
        url = path(links_for(client, write_headers, shop)["preferences_url"])
        # Newsletter is NOT_SPECIFIED (shown ticked); untick it, keep Offers.
        saved = _save(client, url, client.get(url).text, type=[str(shop.offers)])
        assert saved.status_code == 303
        page = client.get(saved.headers["location"])
        assert "Your preferences have been saved." in page.text
        assert statuses(client, write_headers)[shop.newsletter] == "UNSUBSCRIBED"
        assert statuses(client, write_headers)[shop.offers] == "SUBSCRIBED"
        # Tick it again: the contact's own resubscribe, evidenced by the notice they saw.
        _save(client, url, page.text, type=[str(shop.offers), str(shop.newsletter)])
        assert statuses(client, write_headers)[shop.newsletter] == "SUBSCRIBED"
        events = [e for e in history(client, write_headers) if e["source"] == "PREFERENCE_CENTER"]
    assert [(e["old_status"], e["new_status"]) for e in events] == [
        ("NOT_SPECIFIED", "UNSUBSCRIBED"),
        ("UNSUBSCRIBED", "SUBSCRIBED"),
    ]
    for event in events:
        assert event["actor_kind"] == "CONTACT"
        assert event["ip"] == "203.0.113.0"
        assert event["user_agent"] == "Mozilla/5.0 Test"
        assert event["notice_version"] == "acme-2026-1"
    assert events[1]["legal_basis"] == "CONSENT_WITH_NOTICE"
    assert events[1]["notice_text"] == "Acme may email you about what you tick. Unsubscribe any time."


def test_it_refuses_a_save_without_this_pages_form_token(
    client: TestClient, shop: Shop, write_headers: dict[str, str], db: Database
) -> None:
    url = path(links_for(client, write_headers, shop)["preferences_url"])
    other = path(links_for(client, write_headers, shop, address="bob@example.com")["preferences_url"])
    html = client.get(url).text
    attempts = [
        {"data": {"shown": [str(shop.newsletter)]}},
        {"data": {"shown": [str(shop.newsletter)], "csrf": "forged"}},
        {"data": {"shown": [str(shop.newsletter)], "csrf": form_token(client.get(other).text)}},
        {"data": {"shown": [str(shop.newsletter)], "csrf": form_token(html)}, "headers": {"Sec-Fetch-Site": "cross-site"}},
    ]
    for attempt in attempts:
        response = client.post(url, follow_redirects=False, **attempt)
        assert response.status_code == 403
        assert "Nothing has been changed" in response.text
    assert count_rows(db, "ledger_events") == 0


def test_it_asks_again_before_ending_an_unsubscribe_from_all(
    client: TestClient, shop: Shop, write_headers: dict[str, str]
) -> None:
    subscribe(client, write_headers, shop.newsletter)
    url = path(links_for(client, write_headers, shop)["preferences_url"])
    _save(client, url, client.get(url).text, type=[str(shop.newsletter)], unsubscribe_all="1")
    [wide] = subscriber(client, write_headers)["wide_opt_outs"]
    assert (wide["set_by"], wide["source"]) == ("CONTACT", "PREFERENCE_CENTER")
    page = client.get(url)
    assert "You are unsubscribed from all email from Acme AB" in page.text
    assert _boxes(page.text)["Unsubscribe from all email from Acme AB"] is True

    # Unticking it is not enough: the answer is a page asking for an explicit yes.
    ask = _save(client, url, page.text, type=[str(shop.newsletter)])
    assert ask.status_code == 200
    assert "Do you want to hear from Acme AB again?" in ask.text
    assert subscriber(client, write_headers)["wide_opt_outs"] != []
    confirmed = client.post(
        url,
        data={
            "csrf": form_token(ask.text),
            "confirm_resubscribe": "1",
            "shown": re.findall(r'name="shown" value="(\d+)"', ask.text),
            "type": re.findall(r'name="type" value="(\d+)"', ask.text),
        },
        follow_redirects=False,
    )
    assert confirmed.status_code == 303
    assert subscriber(client, write_headers)["wide_opt_outs"] == []
    assert statuses(client, write_headers)[shop.newsletter] == "SUBSCRIBED"
    lifted = [e for e in history(client, write_headers) if e["kind"] == "WIDE_OPT_OUT"]
    assert [(e["new_status"], e["actor_kind"], e["source"]) for e in lifted] == [
        ("UNSUBSCRIBED", "CONTACT", "PREFERENCE_CENTER"),
        ("NOT_SPECIFIED", "CONTACT", "PREFERENCE_CENTER"),
    ]


def test_it_picks_the_language_in_r17_order() -> None:
    assert i18n.choose(explicit="sv", link="en", business_unit="en", accept="en") == "sv"
    assert i18n.choose(link="sv-SE", business_unit="en", accept="en") == "sv"
    assert i18n.choose(link="de", business_unit="sv", accept="en") == "sv"  # no German catalog
    assert i18n.choose(business_unit="de", accept="fr;q=0.9, sv;q=0.8, en;q=0.1") == "sv"
    assert i18n.choose(accept="de, fr") == "en"
    assert i18n.choose(explicit="xx", accept="garbage;q=x") == "en"
