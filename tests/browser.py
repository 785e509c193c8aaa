"""A real Chromium (Debian `chromium` + `chromium-driver`) and a live Assent server, for
end-to-end tests of the pages and the admin UI.

Use the fixtures by importing them in a test package's conftest.py:

    from tests.browser import browser, live_server  # noqa: F401

`live_server` runs uvicorn on a free loopback port in a thread against the test's own
database; `browser` is one headless Chromium per test session. Without a browser the tests
skip — unless CI=true, where they fail.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

IN_CI = os.environ.get("CI", "").lower() == "true"
CHROMIUM = os.environ.get("ASSENT_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("ASSENT_TEST_CHROMEDRIVER", "/usr/bin/chromedriver")


def _missing(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"CI=true and {reason}: install chromium chromium-driver")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")) or not (
        Path(CHROMEDRIVER).exists() or shutil.which("chromedriver")
    ):
        _missing("no Chromium/ChromeDriver on this machine")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM if Path(CHROMIUM).exists() else str(shutil.which("chromium"))
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,900",
    ):
        options.add_argument(flag)
    driver_path = CHROMEDRIVER if Path(CHROMEDRIVER).exists() else str(shutil.which("chromedriver"))
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.implicitly_wait(3)
    try:
        yield driver
    finally:
        driver.quit()


def click_to_new_page(browser: Any, element: Any, timeout: float = 10) -> None:
    """Click something that loads a new page, and wait until the new page has loaded.

    The old page is marked with a script variable and the wait is for a complete document
    without it. (Waiting for an old element to go stale is not enough: Chromium answers a
    question about an element of a page being replaced with an "inspector error" that is
    not a staleness error.)
    """
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    browser.execute_script("window.__assentOldPage = true")
    element.click()

    def arrived(driver: Any) -> bool:
        try:
            return bool(
                driver.execute_script("return window.__assentOldPage !== true && document.readyState === 'complete'")
            )
        except WebDriverException:  # the page is between documents
            return False

    WebDriverWait(browser, timeout).until(arrived)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    def __init__(self, app: Any) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("live server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def live_server(app: Any) -> Iterator[LiveServer]:
    """The test's app (its own database) served over real HTTP on loopback."""
    server = LiveServer(app)
    server.start()
    try:
        yield server
    finally:
        server.stop()
