"""In a real Chromium: an opt-out import walked from upload to the error report, and a
workflow built in the editor, enrolled from the contacts index and read in its run log."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from assent.domain.model import Source
from assent.jobs.worker import Worker
from assent.storage.db import Database
from tests.admin.test_browser import people, settled, sign_in, wait_for_text
from tests.admin.test_screens import act
from tests.conftest import Catalog

pytestmark = pytest.mark.browser


@pytest.fixture
def backend() -> str:
    return "sqlite"


def body_text(browser: Any) -> str:
    return str(settled(browser, lambda b: b.find_element(By.TAG_NAME, "main").text))


def test_it_walks_an_opt_out_import(browser: Any, live_server: Any, db: Database, tmp_path: Path) -> None:
    listing = tmp_path / "old-optouts.csv"
    listing.write_text("Email\nalice@example.com\nthis is not an address\nbob@example.com\n", encoding="utf-8")
    sign_in(browser, live_server, db, "importer@example.com")
    browser.find_element(By.LINK_TEXT, "Imports").click()
    wait_for_text(browser, "Import a file")
    browser.find_element(By.ID, "i-file").send_keys(str(listing))
    browser.find_element(By.CSS_SELECTOR, "input[name=kind][value=OPT_OUTS]").click()
    browser.find_element(By.XPATH, "//button[normalize-space()='Upload and check']").click()

    wait_for_text(browser, "If you confirm")
    review = body_text(browser)
    assert "2 would be opted out of all email in Account." in review
    assert "1 line is not a valid address." in review
    mapping = Select(browser.find_element(By.ID, "m-0"))
    assert mapping.first_selected_option.text == "Email address"
    assert "this is not an address" in browser.find_element(By.CSS_SELECTOR, "table.sample").text

    browser.find_element(By.LINK_TEXT, "Continue to confirm…").click()
    wait_for_text(browser, "3 rows will be opted out of all email in Account. Confirm?")
    browser.find_element(By.ID, "c-rows").send_keys("3")
    browser.find_element(By.XPATH, "//button[normalize-space()='Confirm and import']").click()
    wait_for_text(browser, "Waiting for a worker")
    assert browser.find_element(By.CSS_SELECTOR, "#import-status progress").is_displayed()

    Worker(db).run_until_idle()  # the test's app runs no worker of its own
    wait_for_text(browser, "Done: 3 rows")  # picked up by htmx polling
    summary = body_text(browser)
    assert "2 were opted out of all email in Account." in summary
    assert "1 line is not a valid address." in summary
    counts = browser.find_element(By.CSS_SELECTOR, ".counts").text
    assert "2\nchanged" in counts
    assert "1\ninvalid" in counts

    link = browser.find_element(By.LINK_TEXT, "Download the error report (CSV)")
    report = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0], {credentials: 'same-origin'}).then(r => r.text()).then(done);",
        link.get_attribute("href"),
    )
    assert report.splitlines() == [
        "line,column,value,reason",
        "3,Email,this is not an address,INVALID_ADDRESS: not a valid address",
    ]
    browser.find_element(By.LINK_TEXT, "← Imports").click()
    row = settled(browser, lambda b: b.find_element(By.XPATH, "//tr[td/a[normalize-space()='old-optouts.csv']]").text)
    assert "importer@example.com" in row
    assert "Done" in row


def test_it_builds_a_workflow_enrolls_three_contacts_and_reads_the_run_log(
    browser: Any, live_server: Any, db: Database, make: Catalog
) -> None:
    newsletter = make.type("Newsletter")
    people(db, "anna@acme.example", "bert@acme.example", "cora@acme.example")
    act(db, Source.PREFERENCE_CENTER, "cora@acme.example", newsletter)  # Cora opted out herself
    sign_in(browser, live_server, db, "marketer@example.com")

    browser.find_element(By.LINK_TEXT, "Workflows").click()
    browser.find_element(By.LINK_TEXT, "Create workflow").click()
    wait_for_text(browser, "Trigger: enroll contacts when")
    browser.find_element(By.ID, "f-name").send_keys("Welcome series")
    browser.find_element(By.CSS_SELECTOR, "input[name=trigger][value=MANUAL]").click()
    Select(browser.find_element(By.ID, "a0-type")).select_by_visible_text("Set a subscription status")
    Select(browser.find_element(By.ID, "a0-channel")).select_by_visible_text("Email")  # htmx reloads the types
    settled(
        browser, lambda b: Select(b.find_element(By.ID, "a0-st")).select_by_visible_text("Newsletter (Account)") or True
    )
    browser.find_element(By.CSS_SELECTOR, "input[name=a0_status][value=SUBSCRIBED]").click()
    browser.find_element(By.XPATH, "//button[normalize-space()='Save']").click()
    wait_for_text(browser, "Saved “Welcome series”.")
    assert "Opt in to Newsletter (email)" in body_text(browser)

    browser.find_element(By.LINK_TEXT, "Contacts").click()
    wait_for_text(browser, "Cora")
    for box in browser.find_elements(By.CSS_SELECTOR, "input[name=contact_id]"):
        box.click()
    assert browser.find_element(By.CSS_SELECTOR, "[data-selected-count]").text == "3 contacts selected"
    browser.find_element(By.CSS_SELECTOR, "details.menu > summary").click()
    browser.find_element(By.XPATH, "//button[normalize-space()='Enroll in workflow']").click()
    panel = WebDriverWait(browser, 5).until(lambda b: b.find_element(By.CSS_SELECTOR, "dialog[open] .enroll-panel"))
    assert "3 contacts selected." in panel.text
    Select(panel.find_element(By.ID, "e-workflow")).select_by_visible_text("Welcome series")
    panel.find_element(By.XPATH, ".//button[normalize-space()='Enroll']").click()
    wait_for_text(browser, "3 contacts enrolled")

    Worker(db).run_until_idle()
    browser.refresh()
    wait_for_text(browser, "Run log")
    trs = browser.find_elements(By.CSS_SELECTOR, "table.run-log tbody tr")
    texts = [" ".join(tr.text.split()) for tr in trs]
    rows = {text.split(" ")[0]: text for text in texts}
    assert set(rows) == {"anna@acme.example", "bert@acme.example", "cora@acme.example"}
    assert "Opt in to Newsletter (email): Changed" in rows["anna@acme.example"]
    assert "Opt in to Newsletter (email): Changed" in rows["bert@acme.example"]
    assert "Refused" in rows["cora@acme.example"]
    assert "Not subscribed: the contact opted out on " in rows["cora@acme.example"]
    assert "a workflow cannot resubscribe." in rows["cora@acme.example"]
    counts = browser.find_element(By.CSS_SELECTOR, ".counts").text
    assert "2\nchanged" in counts
    assert "1\nrefused" in counts
