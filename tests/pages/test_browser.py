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

from assent.actions.demo import NOTICE_SV, seed_if_empty
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
    # Nothing is sent now, so no topic is ticked or reads as subscribed; the page says what
    # it takes to hear from them again.
    assert not browser.find_element(By.ID, f"type-{shop.newsletter}").is_selected()
    held = "Skickas inte så länge du är avregistrerad från alla utskick."
    assert _text(browser, f"#type-{shop.newsletter}-status") == held
    assert _text(browser, "#how-to-resubscribe").startswith("Bara du kan ändra det här.")
    assert statuses(client, write_headers)[shop.newsletter] == "SUBSCRIBED"  # kept underneath (R7)

    # Leaving "unsubscribe from all" takes a second, explicit yes; the ticked topics are sent.
    browser.find_element(By.ID, "unsubscribe-all").click()
    browser.find_element(By.ID, f"type-{shop.newsletter}").click()
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


#: the contrast of an element's text with what is behind it (WCAG 2), from Chromium's
#: computed styles: the nearest ancestor with an opaque background is what it is read against
CONTRAST_JS = """
const rgb = (c) => c.match(/[0-9.]+/g).map(Number);
const lum = ([r, g, b]) => [r, g, b]
  .map((v) => { v /= 255; return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; })
  .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
const behind = (el) => {
  for (let e = el; e; e = e.parentElement) {
    const c = rgb(getComputedStyle(e).backgroundColor);
    if (c.length < 4 || c[3] === 1) return c;
  }
  return [255, 255, 255];
};
const el = document.querySelector(arguments[0]);
const style = getComputedStyle(el);
const [a, b] = [lum(rgb(style.color)), lum(behind(el))].sort((x, y) => y - x);
return {ratio: (a + 0.05) / (b + 0.05), opacity: style.opacity};
"""


def _contrast(browser: Any, css: str) -> float:
    found = browser.execute_script(CONTRAST_JS, css)
    assert found["opacity"] == "1", css  # a faded text would read paler than its colour says
    return float(found["ratio"])


def _background(browser: Any, css: str) -> str:
    script = "return getComputedStyle(document.querySelector(arguments[0])).backgroundColor"
    return str(browser.execute_script(script, css))


def test_the_demo_brand_keeps_the_page_neutral_and_its_text_readable(
    browser: Any, live_server: Any, client: TestClient, db: Database, write_headers: dict[str, str]
) -> None:
    """WCAG AA (4.5:1) for body text, header text and button text, with `assent demo`'s
    brand, before and after "unsubscribe from all"."""
    assert seed_if_empty(db)
    link = client.post(
        "/api/v1/links", json={"address": "alice.andersson@example.com", "business_unit_id": 0}, headers=write_headers
    )
    assert link.status_code == 200, link.text
    browser.get(live_server.url + path(link.json()["preferences_url"]))
    for state in ("fresh", "unsubscribed from all"):
        if state != "fresh":
            browser.find_element(By.ID, "unsubscribe-all").click()
            _go(browser, By.CSS_SELECTOR, "button[type=submit]")
            assert _text(browser, "#unsubscribed-all")
        # The brand (#1f4e79) colours the masthead and the button, not the page.
        assert _background(browser, "body") == "rgb(243, 246, 249)"
        assert _background(browser, ".masthead") == "rgb(31, 78, 121)"
        assert _background(browser, "button.primary") == "rgb(31, 78, 121)"
        texts = [
            "h1",
            ".lead",
            ".choice .description",
            ".choice .status",
            "#notice",  # body text on the card
            ".footer p",  # body text on the page
            ".masthead .company",
            ".languages a",  # header text
            "button.primary",  # button text
        ]
        if state != "fresh":
            texts += ["#unsubscribed-all p", ".choice .status-held"]
        for css in texts:
            assert _contrast(browser, css) >= 4.5, (state, css, _contrast(browser, css))


def test_the_landing_page_leads_to_the_admin_and_the_api_docs(browser: Any, live_server: Any) -> None:
    browser.get(live_server.url + "/")
    assert _text(browser, "h1") == "Assent"
    _go(browser, By.ID, "admin")
    assert browser.current_url.startswith(live_server.url + "/admin/login")
    browser.get(live_server.url + "/")
    _go(browser, By.ID, "api-docs")
    assert browser.title == "Assent API"
    browser.get(live_server.url + "/")
    _go(browser, By.ID, "healthz")
    assert '"status":"ok"' in browser.page_source


def test_the_admins_swedish_preview_is_the_page_with_its_styles(
    browser: Any, live_server: Any, client: TestClient, db: Database
) -> None:
    from tests.admin.test_browser import sign_in

    assert seed_if_empty(db)
    sign_in(browser, live_server, db, "viewer@example.com", role="viewer")
    browser.get(f"{live_server.url}/admin/subscription-types/1/preview?lang=sv")
    shadow = browser.find_element(By.ID, "page-preview").shadow_root
    assert shadow.find_element(By.CSS_SELECTOR, "h1").text == "Dina inställningar"
    assert shadow.find_element(By.CSS_SELECTOR, "#notice").text == NOTICE_SV
    masthead = shadow.find_element(By.CSS_SELECTOR, ".masthead")
    style = "return getComputedStyle(arguments[0]).backgroundColor"
    assert browser.execute_script(style, masthead) == "rgb(31, 78, 121)"  # pages.css, with the brand
    assert browser.execute_script(style, browser.find_element(By.TAG_NAME, "body")) != "rgb(243, 246, 249)"
