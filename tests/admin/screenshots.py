"""Screenshots of the admin's main screens, on the demo data, in headless Chromium.

    .venv/bin/python -m tests.admin.screenshots [docs/screenshots]

Writes docs/screenshots/admin-*.png (1280×900, a laptop screen).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from assent.actions.demo import seed_if_empty
from assent.app import create_app
from assent.config import Settings
from assent.domain.model import Actor, Channel, Source, Status
from assent.jobs.worker import Worker
from assent.services import settings as settings_service
from assent.services.changes import Writer
from assent.services.state import load_account, load_types
from assent.services.users import create_user
from assent.storage import tables as t
from assent.storage.db import Database
from assent.storage.migrate import migrate
from tests.browser import CHROMEDRIVER, CHROMIUM, LiveServer

PASSWORD = "correct horse battery staple"


def chromium() -> Any:
    options = Options()
    options.binary_location = CHROMIUM if Path(CHROMIUM).exists() else str(shutil.which("chromium"))
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(3)
    return driver


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp())
    settings = Settings(
        database_url=f"sqlite:///{folder / 'demo.db'}", secret_keys=("screens",), base_url="http://127.0.0.1"
    )
    db = Database(settings.database_url)
    migrate(db)
    seed_if_empty(db)
    with db.write() as conn:
        create_user(conn, "maria@acme.example", "admin", PASSWORD)
        create_user(conn, "sam@acme.example", "editor", PASSWORD)
        create_user(conn, "vic@acme.example", "viewer", PASSWORD)
        settings_service.update_settings(conn, {"data_privacy_mode": True})
    # Charlie, who unsubscribed from all email herself, also opts out of Offers on the page
    with db.write() as conn:
        account = load_account(conn)
        offers = next(ty for ty in load_types(conn).values() if ty.name == "Offers")
        charlie = account.normalize(Channel.EMAIL, "charlie.carlsson@example.com")
        Writer(db, conn, account, Actor(Source.PREFERENCE_CENTER)).change_statuses(
            Channel.EMAIL, [(charlie, [(offers, Status.UNSUBSCRIBED)])]
        )
    server = LiveServer(create_app(settings, db))
    server.start()
    browser = chromium()
    url = server.url + "/admin"

    def shot(name: str) -> None:
        browser.save_screenshot(str(out / f"admin-{name}.png"))
        print(f"  {out / f'admin-{name}.png'}")

    try:
        browser.get(f"{url}/login")
        browser.find_element(By.ID, "email").send_keys("maria@acme.example")
        shot("sign-in")
        browser.find_element(By.ID, "password").send_keys(PASSWORD)
        browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        WebDriverWait(browser, 5).until(lambda b: "/contacts" in b.current_url)
        WebDriverWait(browser, 5).until(lambda b: "matching" not in b.find_element(By.CSS_SELECTOR, ".toolbar").text)
        # one who may be opted in, one who unsubscribed from all email herself, one a user opted out
        for name in ("Bob Berg", "Charlie Carlsson", "Julia Jansson"):
            browser.find_element(By.XPATH, f"//tr[td/a[normalize-space()='{name}']]//input[@name='contact_id']").click()
        shot("contacts")

        browser.find_element(By.CSS_SELECTOR, "details.menu > summary").click()
        browser.find_element(By.XPATH, "//button[normalize-space()='Edit communication subscriptions']").click()
        panel = WebDriverWait(browser, 5).until(lambda b: b.find_element(By.CSS_SELECTOR, "dialog[open] .bulk-panel"))
        panel.find_element(By.CSS_SELECTOR, "input[name=status][value=SUBSCRIBED]").click()
        for name in ("Newsletter", "Offers"):
            panel.find_element(By.XPATH, f".//label[normalize-space()='{name}']/input").click()
        Select(panel.find_element(By.ID, "b-basis")).select_by_visible_text("Legitimate interest – existing customer")
        Select(panel.find_element(By.ID, "b-processing")).select_by_visible_text("Performance of a contract")
        panel.find_element(By.ID, "b-explanation").send_keys("Customers who asked for offers at the spring fair")
        shot("bulk-panel")
        panel.find_element(By.XPATH, ".//button[normalize-space()='Finish']").click()
        WebDriverWait(browser, 5).until(lambda b: "/jobs/" in b.current_url)
        Worker(db).run_until_idle()
        WebDriverWait(browser, 10).until(lambda b: "Done:" in b.find_element(By.TAG_NAME, "body").text)
        shot("bulk-summary")

        with db.read() as conn:
            # Charlie: unsubscribed from all email herself, and from Offers
            opted = conn.execute(
                sa.select(t.contacts.c.id).where(t.contacts.c.email_key == "charlie.carlsson@example.com")
            ).scalar_one()
        browser.get(f"{url}/contacts/{opted}")
        row = browser.find_element(By.XPATH, "//tr[td/span[contains(@class, 'UNSUBSCRIBED')]]")
        ActionChains(browser).move_to_element(row).perform()
        shot("contact")
        # No Resubscribe on her rows: the rules refuse it while her own opt-out of all stands,
        # and the record shows that reason in the button's place (issue 15, point 2).
        assert not row.find_elements(By.LINK_TEXT, "Resubscribe")
        browser.get(f"{url}/contacts/{opted}?tab=history")
        shot("contact-history")

        browser.get(f"{url}/subscription-types")
        shot("subscription-types")
        browser.get(f"{url}/subscription-types/1/preview?lang=sv")
        shot("subscription-type-preview")
        browser.get(f"{url}/business-units/0")
        shot("business-unit")
        browser.get(f"{url}/settings")
        shot("settings")
        browser.get(f"{url}/activity")
        shot("activity")
    finally:
        browser.quit()
        server.stop()
        db.dispose()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots"))
