"""End to end in a real Chromium (Debian chromium + chromium-driver) against a live server:
a person manages their preferences with the keyboard and the mouse, unsubscribes from all,
confirms leaving it, switches language; signs up, confirms, and unsubscribes in one click.
State and ledger evidence are then checked through the API. SQLite only: the same paths
run on PostgreSQL in the HTTP tests beside this file."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from assent.storage.db import Database
from tests.browser import click_to_new_page
from tests.pages.conftest import ALICE, Shop, history, links_for, outbox, path, statuses, subscribe, subscriber, text_of

pytestmark = pytest.mark.browser


@pytest.fixture
def backend() -> str:
    return "sqlite"


def _text(browser: Any, css: str) -> str:
    return str(browser.find_element(By.CSS_SELECTOR, css).text)


def _go(browser: Any, by: str, selector: str) -> None:
    """Click something that loads a new page, and wait until it has."""
    click_to_new_page(browser, browser.find_element(by, selector))


def _check_page(browser: Any) -> None:
    """No script needed, every box labelled, nothing wider than a phone."""
    assert "<script" not in browser.page_source
    unlabelled = browser.execute_script(
        "return [...document.querySelectorAll('input:not([type=hidden])')]"
        ".filter(i => !i.closest('.hp') && i.labels.length === 0).map(i => i.name)"
    )
    assert unlabelled == []
    browser.set_window_size(390, 844)
    try:
        assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
    finally:
        browser.set_window_size(1280, 900)


def test_it_lets_a_person_manage_their_preferences(
    browser: Any, live_server: Any, client: TestClient, shop: Shop, write_headers: dict[str, str]
) -> None:
    subscribe(client, write_headers, shop.newsletter)
    browser.get(live_server.url + path(links_for(client, write_headers, shop)["preferences_url"]))
    assert _text(browser, "h1") == "Your preferences"
    _check_page(browser)

    # Keyboard: Space toggles the focused box; the mouse: a click on a label toggles its box.
    browser.find_element(By.ID, f"type-{shop.newsletter}").send_keys(Keys.SPACE)
    browser.find_element(By.CSS_SELECTOR, f"label[for=type-{shop.offers}]").click()  # NOT_SPECIFIED → unticked
    _go(browser, By.CSS_SELECTOR, "button[type=submit]")
    assert "Your preferences have been saved." in _text(browser, "#saved")
    assert statuses(client, write_headers)[shop.newsletter] == "UNSUBSCRIBED"
    assert statuses(client, write_headers)[shop.offers] == "UNSUBSCRIBED"

    _go(browser, By.LINK_TEXT, "Svenska")
    assert _text(browser, "h1") == "Dina inställningar"
    assert _text(browser, f"label[for=type-{shop.newsletter}]") == "Nyhetsbrev"
    browser.find_element(By.ID, f"type-{shop.newsletter}").click()
    _go(browser, By.CSS_SELECTOR, "button[type=submit]")
    assert "Dina inställningar har sparats." in _text(browser, "#saved")
    browser.find_element(By.ID, "unsubscribe-all").click()
    _go(browser, By.CSS_SELECTOR, "button[type=submit]")
    assert _text(browser, "#unsubscribed-all").startswith("Du är avregistrerad från alla utskick via e-post")
    assert subscriber(client, write_headers)["wide_opt_outs"][0]["set_by"] == "CONTACT"

    # Leaving "unsubscribe from all" takes a second, explicit yes.
    browser.find_element(By.ID, "unsubscribe-all").click()
    _go(browser, By.CSS_SELECTOR, "button[type=submit]")
    assert _text(browser, "h1") == "Vill du höra från Acme AB igen?"
    assert subscriber(client, write_headers)["wide_opt_outs"] != []
    _go(browser, By.ID, "confirm-resubscribe")
    assert "Dina inställningar har sparats." in _text(browser, "#saved")

    assert subscriber(client, write_headers)["wide_opt_outs"] == []
    assert statuses(client, write_headers)[shop.newsletter] == "SUBSCRIBED"
    events = [e for e in history(client, write_headers) if e["source"] == "PREFERENCE_CENTER"]
    assert [(e["kind"], e["subscription_type_id"], e["new_status"]) for e in events] == [
        ("STATUS", shop.newsletter, "UNSUBSCRIBED"),
        ("STATUS", shop.offers, "UNSUBSCRIBED"),
        ("STATUS", shop.newsletter, "SUBSCRIBED"),
        ("WIDE_OPT_OUT", None, "UNSUBSCRIBED"),
        ("WIDE_OPT_OUT", None, "NOT_SPECIFIED"),
    ]
    for event in events:
        assert (event["actor_kind"], event["ip"], event["notice_version"]) == ("CONTACT", "127.0.0.0", "acme-2026-1")
        assert "HeadlessChrome" in event["user_agent"]


def test_it_signs_up_confirms_and_unsubscribes_in_one_click(
    browser: Any,
    live_server: Any,
    client: TestClient,
    shop: Shop,
    write_headers: dict[str, str],
    admin_headers: dict[str, str],
    db: Database,
) -> None:
    client.patch(f"/api/v1/business-units/{shop.bu}", json={"double_opt_in": True}, headers=admin_headers)
    browser.get(f"{live_server.url}/subscribe/{shop.bu}")
    _check_page(browser)
    browser.find_element(By.ID, "email").send_keys(ALICE)
    browser.find_element(By.ID, f"type-{shop.newsletter}").click()
    browser.find_element(By.ID, "consent").click()
    _go(browser, By.CSS_SELECTOR, "button[type=submit]")
    assert _text(browser, "h1") == "Thank you"
    assert subscriber(client, write_headers)["confirmed"] is False

    [message] = outbox(db)
    confirm = re.search(r"http://testserver(/confirm/\S+)", text_of(message))
    assert confirm
    browser.get(live_server.url + confirm.group(1))
    assert subscriber(client, write_headers)["confirmed"] is False  # opening it confirms nothing
    _go(browser, By.CSS_SELECTOR, "button[type=submit]")
    assert _text(browser, "h1") == "Thank you, you are confirmed"
    assert subscriber(client, write_headers)["confirmed"] is True

    one_click = path(links_for(client, write_headers, shop, subscription_type_id=shop.newsletter)["unsubscribe_url"])
    browser.get(live_server.url + one_click)
    _check_page(browser)
    assert statuses(client, write_headers)[shop.newsletter] == "SUBSCRIBED"
    _go(browser, By.CSS_SELECTOR, "button[type=submit]")
    assert _text(browser, "h1") == "You are unsubscribed"
    assert browser.current_url == live_server.url + one_click + "?lang=en"  # no redirect: the POST's own answer
    assert statuses(client, write_headers)[shop.newsletter] == "UNSUBSCRIBED"
    sources = [e["source"] for e in history(client, write_headers)]
    assert sources == ["FORM", "FORM", "DOUBLE_OPT_IN", "ONE_CLICK"]
