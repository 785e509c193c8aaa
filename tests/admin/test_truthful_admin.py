"""What the admin says and checks about the pages (issue 15, points 5, 6, 9): the unit form
checks branding like the API and edits the notice's translations; the type preview is the
real page in the chosen language; the settings, the Activity filter and /metrics promise
only what is built."""

from __future__ import annotations

import html
import re
from typing import Any

from fastapi.testclient import TestClient

from assent.domain.model import RECORDED_SOURCES, Source
from assent.storage.db import Database
from tests.admin.conftest import text_of
from tests.conftest import Catalog, count_rows

SWEDISH_NOTICE = "Acme får mejla dig om det du kryssar i."


def _unit(client: TestClient, headers: dict[str, str], unit: int) -> dict[str, Any]:
    got: dict[str, Any] = client.get(f"/api/v1/business-units/{unit}", headers=headers).json()
    return got


def test_the_unit_form_refuses_bad_branding_naming_the_field_and_writes_nothing(
    sign_in: Any, make: Catalog, client: TestClient, admin_headers: dict[str, str], db: Database
) -> None:
    admin = sign_in("admin")
    unit = make.business_unit("Acme", primary_color="#0b6e4f", logo_url="https://cdn.example.com/a.svg")
    before = _unit(client, admin_headers, unit)
    audits = count_rows(db, "audit_events")
    form = {"name": "Acme", "default_language": "en", "company_name": "Changed AB"}
    for field, value, reason in (
        ("logo_url", "http://cdn.example.com/a.svg", "Must be an https:// URL"),
        ("logo_url", "javascript:alert(1)", "Must be an https:// URL"),
        ("primary_color", "red", "Must be a colour written as #rgb, #rrggbb or rgb(r, g, b)"),
        ("accent_color", "#12345", "Must be a colour written as #rgb, #rrggbb or rgb(r, g, b)"),
    ):
        refused = admin.post(f"/admin/business-units/{unit}", {**form, field: value})
        assert refused.status_code == 422, (field, value)
        error = re.search(rf'<p class="field-error" id="e-{field}">([^<]*)</p>', refused.text)
        assert error, refused.text
        assert reason in html.unescape(error.group(1))
        created = admin.post("/admin/business-units", {"name": "Other", "default_language": "en", field: value})
        assert created.status_code == 422
        assert reason in text_of(created.text)
    assert _unit(client, admin_headers, unit) == before
    assert [u["name"] for u in client.get("/api/v1/business-units", headers=admin_headers).json()] == [
        "Account",
        "Acme",
    ]
    assert count_rows(db, "audit_events") == audits

    saved = admin.post(
        f"/admin/business-units/{unit}",
        {**form, "primary_color": "#1F4E79", "logo_url": "https://cdn.example.com/b.svg"},
    )
    assert saved.status_code == 303
    after = _unit(client, admin_headers, unit)
    assert (after["primary_color"], after["logo_url"]) == ("#1f4e79", "https://cdn.example.com/b.svg")


def test_the_unit_form_edits_the_notice_in_other_languages(
    sign_in: Any, make: Catalog, client: TestClient, admin_headers: dict[str, str]
) -> None:
    admin = sign_in("admin")
    unit = make.business_unit("Acme", notice_text="Acme may email you.", notice_version="v1")
    form = {"name": "Acme", "default_language": "en", "notice_text": "Acme may email you.", "notice_version": "v1"}
    saved = admin.post(f"/admin/business-units/{unit}", {**form, "ntr_lang_1": "sv", "ntr_text_1": SWEDISH_NOTICE})
    assert saved.status_code == 303
    assert _unit(client, admin_headers, unit)["notice_translations"] == {"sv": {"text": SWEDISH_NOTICE}}
    page = admin.get(f"/admin/business-units/{unit}").text
    assert f">{SWEDISH_NOTICE}</textarea>" in page
    bad = admin.post(f"/admin/business-units/{unit}", {**form, "ntr_lang_1": "xx", "ntr_text_1": "Hej"})
    assert bad.status_code == 422
    assert "xx: 'xx' is not a language Assent knows" in html.unescape(bad.text)
    assert _unit(client, admin_headers, unit)["notice_translations"] == {"sv": {"text": SWEDISH_NOTICE}}
    # emptying the row removes the translation
    assert (
        admin.post(f"/admin/business-units/{unit}", {**form, "ntr_lang_1": "sv", "ntr_text_1": ""}).status_code == 303
    )
    assert _unit(client, admin_headers, unit)["notice_translations"] == {}


def _main(page: str) -> str:
    """The page's content, without what differs by design: the person's address (the
    preview shows a sample), the form's token and target, and the preview's highlight."""
    found = re.search(r'<main[^>]*class="card"[^>]*>(.*?)</main>', page, re.S)
    assert found, page
    content = found.group(1)
    content = re.sub(r'name="csrf" value="[^"]*"', 'name="csrf" value=""', content)
    content = re.sub(r'action="[^"]*"', 'action=""', content)
    content = content.replace(' highlight"', '"')
    return re.sub(r"\s+", " ", content).strip()


def test_the_swedish_preview_is_the_real_swedish_page(
    sign_in: Any, make: Catalog, client: TestClient, write_headers: dict[str, str], admin_headers: dict[str, str]
) -> None:
    unit = make.business_unit("Acme", company_name="Acme AB", notice_text="Acme may email you.", notice_version="v1")
    client.patch(
        f"/api/v1/business-units/{unit}",
        json={"notice_translations": {"sv": {"text": SWEDISH_NOTICE}}},
        headers=admin_headers,
    )
    news = make.type(
        "Newsletter", business_unit_id=unit, translations={"sv": {"name": "Nyhetsbrev", "description": "Varje månad"}}
    )
    make.type("Offers", business_unit_id=unit)
    link = client.post(
        "/api/v1/links",
        json={"address": "bo@example.com", "business_unit_id": unit, "language": "sv"},
        headers=write_headers,
    ).json()["preferences_url"]
    real = client.get(link.removeprefix("http://testserver")).text
    admin = sign_in("viewer")
    preview = admin.get(f"/admin/subscription-types/{news}/preview?lang=sv")
    assert preview.status_code == 200
    assert 'shadowrootmode="open"' in preview.text
    assert '<link rel="stylesheet" href="/static/pages/pages.css">' in preview.text
    assert _main(html.unescape(preview.text)).replace("name@example.com", "bo@example.com") == _main(
        html.unescape(real)
    )
    shown = text_of(preview.text)
    for swedish in ("Dina inställningar", "Nyhetsbrev", "Varje månad", SWEDISH_NOTICE, "Spara"):
        assert swedish in shown
    assert "Acme may email you." not in shown
    assert "Acme may email you." in text_of(admin.get(f"/admin/subscription-types/{news}/preview?lang=en").text)


def test_the_activity_filter_offers_only_sources_something_records(sign_in: Any) -> None:
    page = sign_in("viewer").get("/admin/activity").text
    select = re.search(r'<select id="a-source".*?</select>', page, re.S)
    assert select
    offered = re.findall(r'<option value="([A-Z_]+)"', select.group(0))
    assert offered == [s.value for s in RECORDED_SOURCES]
    assert Source.SYSTEM.value not in offered
    assert {"SMS_KEYWORD", "WHATSAPP_KEYWORD", "BOUNCE", "SPAM_COMPLAINT", "ESP_UNSUBSCRIBE"} <= set(offered)


def test_the_settings_page_says_what_a_keyword_does(sign_in: Any) -> None:
    page = text_of(sign_in("admin").get("/admin/settings").text)
    assert "STOP or another opt-out keyword unsubscribes the sender from all of that unit's messages" in page
    assert "START, YES or UNSTOP lifts that again" in page
    assert "A number not listed here acts for the default business unit." in page


def test_metrics_describe_the_outbox_as_the_dispatcher_sees_it(app: Any) -> None:
    with TestClient(app, client=("127.0.0.1", 50000)) as local:
        metrics = local.get("/metrics")
    assert metrics.status_code == 200
    assert "not yet published to webhooks" not in metrics.text
    assert (
        "# HELP assent_outbox_pending Ledger events the webhook dispatcher has not yet queued for the endpoints."
        in metrics.text
    )
