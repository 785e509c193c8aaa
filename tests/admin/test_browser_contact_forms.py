"""In a real Chromium (issue 15, points 3 and 4): a user makes a contact, edits it, sees it
flagged in the index after it bounced, clears undeliverable with an explanation, and opens
the jobs list from the menu."""

from __future__ import annotations

from typing import Any

import pytest
from selenium.webdriver.common.by import By

from assent.actions import subscriptions
from assent.domain.model import Channel
from assent.services.ledger import RequestContext
from assent.storage.db import Database
from tests.admin.test_browser import sign_in, wait_for_text
from tests.browser import click_to_new_page
from tests.conftest import Catalog

pytestmark = pytest.mark.browser


@pytest.fixture
def backend() -> str:
    return "sqlite"


def test_it_makes_edits_and_clears_a_bounced_contact(
    browser: Any, live_server: Any, db: Database, make: Catalog
) -> None:
    make.type("Newsletter")
    sign_in(browser, live_server, db, "editor@example.com")

    click_to_new_page(browser, browser.find_element(By.LINK_TEXT, "New contact"))
    browser.find_element(By.ID, "f-email").send_keys("not an address")
    browser.find_element(By.ID, "f-first_name").send_keys("Pat")
    click_to_new_page(browser, browser.find_element(By.XPATH, "//button[normalize-space()='Create contact']"))
    assert browser.find_element(By.ID, "f-email").get_attribute("aria-invalid") == "true"
    assert browser.find_element(By.ID, "e-email").text  # the field's own error, named
    email = browser.find_element(By.ID, "f-email")
    email.clear()
    email.send_keys("pat.doe@example.com")
    browser.find_element(By.ID, "p-name-1").send_keys("plan")
    browser.find_element(By.ID, "p-value-1").send_keys("gold")
    click_to_new_page(browser, browser.find_element(By.XPATH, "//button[normalize-space()='Create contact']"))
    wait_for_text(browser, "Created the contact.")
    assert "gold" in browser.find_element(By.CSS_SELECTOR, "aside").text

    click_to_new_page(browser, browser.find_element(By.LINK_TEXT, "Edit"))
    last = browser.find_element(By.ID, "f-last_name")
    last.send_keys("Doe")
    click_to_new_page(browser, browser.find_element(By.XPATH, "//button[normalize-space()='Save']"))
    wait_for_text(browser, "Saved the contact.")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Pat Doe"

    subscriptions.mark_undeliverable(
        db,
        channel=Channel.EMAIL,
        raw_address="pat.doe@example.com",
        actor_id="sendgrid",
        reason="550 5.1.1 user unknown",
        context=RequestContext(),
    )
    click_to_new_page(browser, browser.find_element(By.LINK_TEXT, "← Contacts"))
    row = browser.find_element(By.XPATH, "//tr[td[normalize-space()='pat.doe@example.com']]")
    assert "Undeliverable email (bounced)" in row.text
    click_to_new_page(browser, row.find_element(By.LINK_TEXT, "Pat Doe"))
    deliverability = browser.find_element(By.ID, "deliverability-EMAIL")
    assert "550 5.1.1 user unknown" in deliverability.text

    click_to_new_page(browser, deliverability.find_element(By.LINK_TEXT, "Clear undeliverable…"))
    browser.find_element(By.ID, "f-legal_basis_explanation").send_keys("Confirmed the mailbox by phone")
    click_to_new_page(browser, browser.find_element(By.XPATH, "//button[normalize-space()='Clear undeliverable']"))
    wait_for_text(browser, "pat.doe@example.com is deliverable again.")
    assert browser.find_element(By.ID, "deliverability-EMAIL").text == "Yes"

    menu = browser.find_element(By.CSS_SELECTOR, "nav[aria-label=Main]")
    click_to_new_page(browser, menu.find_element(By.LINK_TEXT, "Jobs"))
    wait_for_text(browser, "No jobs yet.")
    assert browser.current_url.endswith("/admin/jobs")
    assert browser.find_element(By.CSS_SELECTOR, "nav a[aria-current=page]").text == "Jobs"
