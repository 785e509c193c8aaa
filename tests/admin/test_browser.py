"""End to end in a real Chromium: the flows of issue 4 as a user performs them.

Kept few and on SQLite only: the services underneath are tested on both databases; here
the point is the browser — forms, the htmx dialog and panel, polling, hover actions.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from assent.domain.model import Source
from assent.jobs.worker import Worker
from assent.services import contacts
from assent.services import settings as settings_service
from assent.services.state import load_account
from assent.services.users import create_user
from assent.storage.db import Database
from tests.admin.conftest import PASSWORD
from tests.admin.test_screens import act
from tests.conftest import Catalog

pytestmark = pytest.mark.browser


@pytest.fixture
def backend() -> str:
    return "sqlite"


def sign_in(browser: Any, live_server: Any, db: Database, email: str, role: str = "editor") -> None:
    with db.write() as conn:
        create_user(conn, email, role, PASSWORD)
    browser.get(f"{live_server.url}/admin/login")
    browser.delete_all_cookies()  # the browser outlives each test's server
    browser.get(f"{live_server.url}/admin/contacts")  # → the sign-in page, coming back here
    browser.find_element(By.ID, "email").send_keys(email)
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for_text(browser, "Contacts")
    assert browser.current_url.endswith("/admin/contacts")


def wait_for_text(browser: Any, text: str, timeout: float = 10) -> None:
    # The page may be replaced while it is read (a redirect after a form): read again.
    WebDriverWait(browser, timeout, ignored_exceptions=[StaleElementReferenceException]).until(
        lambda b: text in _body_text(b)
    )


def _body_text(browser: Any) -> str:
    """The body's text; "" while the page is being replaced. Chromium reports an element of
    the page just left either as stale or, in a narrower race, as a node that "does not belong
    to the document": both mean read again."""
    try:
        return str(browser.find_element(By.TAG_NAME, "body").text)
    except WebDriverException as error:
        if "does not belong to the document" in str(error.msg):
            return ""
        raise


def settled(browser: Any, read: Any, timeout: float = 10) -> Any:
    """`read(browser)` once the page holds still: htmx may swap the part being read (an
    element of the swapped part reads as stale, or as a node that "does not belong to the
    document")."""

    def steady(b: Any) -> Any:
        try:
            return read(b)
        except WebDriverException as error:
            if "does not belong to the document" in str(error.msg):
                return False
            raise

    return WebDriverWait(browser, timeout, ignored_exceptions=[StaleElementReferenceException]).until(steady)


def newsletter_row(browser: Any) -> str:
    return str(settled(browser, lambda b: b.find_element(By.XPATH, "//tr[td[normalize-space()='Newsletter']]").text))


def people(db: Database, *emails: str) -> list[int]:
    with db.write() as conn:
        account = load_account(conn)
        return [
            int(contacts.create_contact(conn, account, {"email": e, "first_name": e.split("@")[0].title()})["id"])
            for e in emails
        ]


def test_it_bulk_opts_out_three_contacts_and_shows_their_history(
    browser: Any, live_server: Any, db: Database, make: Catalog
) -> None:
    make.type("Newsletter")
    make.type("Product updates")
    make.type("Offers")
    people(
        db, "anna@acme.example", "bert@acme.example", "cecilia@acme.example", "david@acme.example", "eve@other.example"
    )
    sign_in(browser, live_server, db, "editor@example.com")

    search = browser.find_element(By.ID, "c-q")
    search.send_keys("@acme.example")
    search.submit()
    wait_for_text(browser, "David")
    assert "Eve" not in browser.find_element(By.TAG_NAME, "tbody").text
    boxes = browser.find_elements(By.CSS_SELECTOR, "input[name=contact_id]")
    assert len(boxes) == 4
    for box in boxes[:3]:
        box.click()
    assert browser.find_element(By.CSS_SELECTOR, "[data-selected-count]").text == "3 contacts selected"

    browser.find_element(By.CSS_SELECTOR, "details.menu > summary").click()
    browser.find_element(By.XPATH, "//button[normalize-space()='Edit communication subscriptions']").click()
    panel = WebDriverWait(browser, 5).until(lambda b: b.find_element(By.CSS_SELECTOR, "dialog[open] .bulk-panel"))
    assert "3 contacts selected." in panel.text
    panel.find_element(By.CSS_SELECTOR, "input[name=status][value=UNSUBSCRIBED]").click()
    for name in ("Newsletter", "Offers"):
        panel.find_element(By.XPATH, f".//label[normalize-space()='{name}']/input").click()
    panel.find_element(By.XPATH, ".//button[normalize-space()='Finish']").click()

    WebDriverWait(browser, 5).until(lambda b: "/admin/jobs/" in b.current_url)
    Worker(db).run_until_idle()  # the test's app runs no worker of its own
    wait_for_text(browser, "Done: 3 contacts")  # picked up by htmx polling
    counts = browser.find_element(By.CSS_SELECTOR, ".counts").text
    assert "6\nchanged" in counts
    assert "0\nrefused" in counts
    rows = browser.find_elements(By.CSS_SELECTOR, "#job-status tbody tr")
    assert len(rows) == 6
    histories = sorted({a.get_attribute("href") for a in browser.find_elements(By.LINK_TEXT, "History")})
    assert len(histories) == 3

    for url in histories:
        browser.get(url)
        table = browser.find_element(By.TAG_NAME, "tbody").text
        assert table.count("Opted out") == 2, table
        assert "Newsletter" in table
        assert "Offers" in table
        assert "Product updates" not in table
        assert "a user (editor@example.com)" in table
        assert "Bulk update" in table


def test_it_resubscribes_in_data_privacy_mode_only_with_a_legal_basis(
    browser: Any, live_server: Any, db: Database, make: Catalog
) -> None:
    newsletter = make.type("Newsletter")
    with db.write() as conn:
        settings_service.update_settings(conn, {"data_privacy_mode": True})
    [frank] = people(db, "frank@example.com")
    act(db, Source.API, "frank@example.com", newsletter)  # he was opted out through the API
    sign_in(browser, live_server, db, "editor@example.com")
    browser.get(f"{live_server.url}/admin/contacts/{frank}")

    row = browser.find_element(By.XPATH, "//tr[td[normalize-space()='Newsletter']]")
    assert "Opted out" in row.text
    ActionChains(browser).move_to_element(row).perform()  # the actions show on hover
    row.find_element(By.LINK_TEXT, "Resubscribe").click()
    dialog = WebDriverWait(browser, 5).until(lambda b: b.find_element(By.CSS_SELECTOR, "dialog[open]"))
    assert "Subscription type: Newsletter" in dialog.text
    dialog.find_element(By.ID, "d-explanation").send_keys("He asked us at the counter")
    dialog.find_element(By.XPATH, ".//button[normalize-space()='Save']").click()
    wait_for_text(browser, "Data privacy mode is on: choose the legal basis to communicate")
    assert "Opted out" in newsletter_row(browser)

    def fill_in_and_save(b: Any) -> bool:
        dialog = b.find_element(By.CSS_SELECTOR, "dialog[open]")
        Select(dialog.find_element(By.ID, "d-basis")).select_by_visible_text("Freely given consent from contact")
        Select(dialog.find_element(By.ID, "d-processing")).select_by_visible_text("Performance of a contract")
        dialog.find_element(By.XPATH, ".//button[normalize-space()='Save']").click()
        return True

    settled(browser, fill_in_and_save)
    wait_for_text(browser, "Resubscribed frank@example.com to Newsletter.")
    row = newsletter_row(browser)
    assert "Opted in" in row
    assert "Freely given consent from contact" in row
    assert "He asked us at the counter" in row
    assert not re.search(r"dialog\[open\]", browser.page_source)
