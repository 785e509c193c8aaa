"""Issue 15 points 1 and 2 in a real Chromium: the record offers only what the rules allow,
the resubscribe invitation keeps its week whoever clicks, and "unsubscribe from all" asks
first in a <dialog>."""

from __future__ import annotations

import re
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from assent.domain.model import Source
from assent.storage.db import Database
from tests.admin.test_browser import newsletter_row, people, settled, sign_in, wait_for_text
from tests.admin.test_screens import act
from tests.browser import click_to_new_page
from tests.conftest import Catalog, count_rows
from tests.pages.conftest import outbox

pytestmark = pytest.mark.browser

NEXT = re.compile(r"the next can be sent from \d{4}-\d\d-\d\d \d\d:\d\d UTC", re.IGNORECASE)


@pytest.fixture
def backend() -> str:
    return "sqlite"


def _flash(browser: Any) -> str:
    return str(settled(browser, lambda b: b.find_element(By.CSS_SELECTOR, ".flash").text))


def test_a_contacts_own_opt_out_limits_what_the_record_offers(
    browser: Any, live_server: Any, db: Database, make: Catalog
) -> None:
    make.type("Newsletter")
    dana, erin = people(db, "dana@example.com", "erin@example.com")
    act(db, Source.ONE_CLICK, "dana@example.com", None)  # Dana unsubscribed from all herself
    sign_in(browser, live_server, db, "editor@example.com")

    # No Subscribe under her own opt-out of all: the reason instead
    browser.get(f"{live_server.url}/admin/contacts/{dana}")
    row = newsletter_row(browser)
    assert "No subscribe: they unsubscribed from all email themself, and only they can undo it." in row
    assert not browser.find_elements(By.XPATH, "//tr[td[normalize-space()='Newsletter']]//a[text()='Subscribe']")
    assert "The link goes as an invitation to resubscribe, at most one a week." in browser.page_source

    # The invitation twice: the second is refused, and says when the next may go
    send = browser.find_element(By.XPATH, "//button[normalize-space()='Send preference link']")
    click_to_new_page(browser, send)
    assert "Sent an invitation to resubscribe to dana@example.com." in _flash(browser)
    assert NEXT.search(browser.find_element(By.ID, "next-invitation").text)
    send = browser.find_element(By.XPATH, "//button[normalize-space()='Send preference link']")
    click_to_new_page(browser, send)
    refused = _flash(browser)
    assert "Not sent: an invitation to resubscribe went to dana@example.com in the last 7 days" in refused
    assert NEXT.search(refused)
    assert len(outbox(db)) == 1

    # Erin: Subscribe is offered; "unsubscribe from all" asks first, and Cancel changes nothing
    browser.get(f"{live_server.url}/admin/contacts/{erin}")
    assert "No subscribe" not in newsletter_row(browser)
    assert browser.find_elements(By.CSS_SELECTOR, "a[aria-label='Subscribe to Newsletter']")
    browser.find_element(By.LINK_TEXT, "Unsubscribe from all email of Account…").click()
    dialog = WebDriverWait(browser, 5).until(lambda b: b.find_element(By.CSS_SELECTOR, "dialog[open]"))
    assert "Unsubscribe from all email of Account?" in dialog.text
    dialog.find_element(By.LINK_TEXT, "Cancel").click()
    WebDriverWait(browser, 5).until(lambda b: not b.find_elements(By.CSS_SELECTOR, "dialog[open]"))
    assert count_rows(db, "wide_opt_outs") == 1  # Dana's only

    browser.find_element(By.LINK_TEXT, "Unsubscribe from all email of Account…").click()
    dialog = WebDriverWait(browser, 5).until(lambda b: b.find_element(By.CSS_SELECTOR, "dialog[open]"))
    click_to_new_page(
        browser, dialog.find_element(By.XPATH, ".//button[normalize-space()='Unsubscribe from all email']")
    )
    wait_for_text(browser, "erin@example.com is unsubscribed from all email of Account.")
    assert count_rows(db, "wide_opt_outs") == 2
    assert "No subscribe: unsubscribed from all email by a user; remove that opt-out first." in newsletter_row(browser)
