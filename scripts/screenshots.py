"""Screenshots of the preference center for the README (desktop and phone, English and
Swedish), taken with the same Debian Chromium the tests drive:

    .venv/bin/python scripts/screenshots.py            # writes docs/screenshots/*.png

It builds a throwaway SQLite database with one branded business unit, serves Assent and a
logo on loopback, and captures each page at its full height.
"""

from __future__ import annotations

import base64
import http.server
import socket
import sys
import tempfile
import threading
import time
from functools import partial
from pathlib import Path

import uvicorn
from fastapi.testclient import TestClient
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

from assent.app import create_app
from assent.config import Settings
from assent.services import catalog
from assent.services.apikeys import create_api_key
from assent.storage.db import Database
from assent.storage.migrate import migrate

OUT = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
LOGO = """<svg xmlns="http://www.w3.org/2000/svg" width="220" height="44" viewBox="0 0 220 44">
<circle cx="22" cy="22" r="18" fill="#f2c14e"/><path d="M8 30 L22 12 L36 30 Z" fill="#ffffff"/>
<text x="50" y="30" font-family="Helvetica, Arial, sans-serif" font-size="22" font-weight="700"
fill="#ffffff">Nordlys</text></svg>"""
TYPES = [
    ("Newsletter", "Stories from the trail and what's new at Nordlys, once a month.",
     "Nyhetsbrev", "Berättelser från leden och nyheter från Nordlys, en gång i månaden."),
    ("Product news", "Be first to hear about new gear and restocks.",
     "Produktnyheter", "Bli först att höra om ny utrustning och påfyllda lager."),
    ("Offers and events", "Member prices, sales and events in our stores.",
     "Erbjudanden och evenemang", "Medlemspriser, rea och evenemang i våra butiker."),
    ("Customer surveys", "A few questions now and then, to help us do better.",
     "Kundundersökningar", "Några frågor då och då, så att vi kan bli bättre."),
]
SIZES = {"desktop": (1280, 860, 1, False), "phone": (390, 844, 2, True)}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_logo(directory: Path) -> int:
    (directory / "logo.svg").write_text(LOGO)
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(directory))
    handler.log_message = lambda *args: None  # type: ignore[assignment]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return int(server.server_address[1])


def seed(db: Database, logo_url: str) -> tuple[str, int, list[int]]:
    with db.write() as conn:
        _, key = create_api_key(conn, "screenshots", ["admin"])
        bu = catalog.create_business_unit(conn, {
            "name": "Nordlys", "company_name": "Nordlys Outdoor AB",
            "postal_address": "Sveavägen 12, 111 57 Stockholm, Sweden", "logo_url": logo_url,
            "primary_color": "#1d4e89", "accent_color": "#f2c14e", "default_language": "en",
            "notice_text": "By saving, you agree that Nordlys Outdoor AB may email you about the topics you "
                           "ticked. You can change your mind at any time on this page.",
            "notice_version": "2026-01",
            "notice_translations": {"sv": {"text": "Genom att spara godkänner du att Nordlys Outdoor AB "
                                                   "mejlar dig om de ämnen du kryssat i. Du kan ändra dig "
                                                   "när som helst på den här sidan."}},
        })
        ids = [
            catalog.create_subscription_type(conn, {
                "name": name, "description": description, "channel": "EMAIL", "business_unit_id": bu["id"],
                "translations": {"sv": {"name": sv_name, "description": sv_description}},
            })["id"]
            for name, description, sv_name, sv_description in TYPES
        ]
    return key, int(bu["id"]), [int(i) for i in ids]


def chromium() -> webdriver.Chrome:
    options = Options()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--no-first-run",
                 "--disable-sync", "--hide-scrollbars", "--force-color-profile=srgb"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def capture(driver: webdriver.Chrome, url: str, size: str, target: Path) -> None:
    width, height, scale, mobile = SIZES[size]
    metrics = {"width": width, "height": height, "deviceScaleFactor": scale, "mobile": mobile}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    driver.get(url)
    full = int(driver.execute_script("return document.documentElement.scrollHeight"))
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {**metrics, "height": max(height, full)})
    time.sleep(0.2)
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
    target.write_bytes(base64.b64decode(shot["data"]))
    print(f"wrote {target.relative_to(OUT.parent.parent)}")


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        settings = Settings(database_url=f"sqlite:///{directory / 'shots.db'}", secret_keys=("screenshots",),
                            base_url=base, run_worker=False)
        db = Database(settings.database_url)
        migrate(db)
        key, bu, types = seed(db, f"http://127.0.0.1:{serve_logo(directory)}/logo.svg")
        app = create_app(settings, db)
        headers = {"Authorization": f"Bearer {key}"}
        address = "anna.lindqvist@example.com"
        with TestClient(app) as client:
            client.post(f"/api/v1/subscribers/EMAIL/{address}/statuses", headers=headers, json={"changes": [
                {"subscription_type_id": types[0], "status": "SUBSCRIBED"},
                {"subscription_type_id": types[2], "status": "UNSUBSCRIBED"},
            ]})
            url = client.post("/api/v1/links", headers=headers,
                              json={"address": address, "business_unit_id": bu}).json()["preferences_url"]
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        threading.Thread(target=server.run, daemon=True).start()
        while not server.started:
            time.sleep(0.05)
        driver = chromium()
        try:
            OUT.mkdir(parents=True, exist_ok=True)
            for language in ("en", "sv"):
                for size in SIZES:
                    capture(driver, f"{url}?lang={language}", size, OUT / f"preferences-{language}-{size}.png")
        finally:
            driver.quit()
            server.should_exit = True
    return 0


if __name__ == "__main__":
    sys.exit(main())
