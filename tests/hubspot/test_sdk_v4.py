"""Every call `hubspot-sdk` offers for communication preferences (HubSpot's v4 operations at
their 2026-03 paths), against a live Assent, each checked against the native API's view."""

from __future__ import annotations

import pytest
from hubspot_sdk import BadRequestError, HubSpot

from tests.conftest import Catalog
from tests.hubspot.conftest import Native


def test_it_lists_definitions_with_translations(sdk: HubSpot, make: Catalog) -> None:
    brand = make.business_unit("Brand B")
    news = make.type("Newsletter", translations={"sv": {"name": "Nyhetsbrev", "description": "Varje månad"}})
    offers = make.type("Offers", business_unit_id=brand)

    everything = sdk.communication_preferences.definitions.list(include_translations=True)
    of_brand = sdk.communication_preferences.definitions.list(business_unit_id=brand)

    assert everything.status == "COMPLETE"
    by_id = {d.id: d for d in everything.results}
    assert set(by_id) == {str(news), str(offers)}
    [swedish] = by_id[str(news)].subscription_translations or []
    assert (swedish.language_code, swedish.name, swedish.subscription_id) == ("sv", "Nyhetsbrev", news)
    assert [d.id for d in of_brand.results] == [str(offers)]
    assert of_brand.results[0].business_unit_id == brand


def test_it_reads_and_writes_one_status(sdk: HubSpot, make: Catalog, native: Native) -> None:
    news = make.type("Newsletter")
    cp = sdk.communication_preferences

    [before] = cp.get_statuses("alice@example.com", channel="EMAIL").results
    written = cp.update_status(
        "alice@example.com",
        channel="EMAIL",
        status_state="SUBSCRIBED",
        subscription_id=news,
        legal_basis="LEGITIMATE_INTEREST_CLIENT",
        legal_basis_explanation="Customer since 2020",
    )
    [after] = cp.get_statuses("alice@example.com", channel="EMAIL", business_unit_id=0).results

    assert (before.status, before.subscription_id, before.subscription_name) == ("NOT_SPECIFIED", news, "Newsletter")
    [result] = written.results
    assert (result.status, result.set_status_success_reason) == ("SUBSCRIBED", "REQUESTED_CHANGE_OCCURRED")
    assert (after.status, after.legal_basis, after.source) == (
        "SUBSCRIBED",
        "LEGITIMATE_INTEREST_CLIENT",
        "HUBSPOT_API",
    )
    assert after.timestamp is not None
    assert native.status("alice@example.com", news) == "SUBSCRIBED"


def test_v4_resubscribes_and_says_so(sdk: HubSpot, make: Catalog, native: Native) -> None:
    news = make.type()
    native.set("bob@example.com", news, "UNSUBSCRIBED")
    cp = sdk.communication_preferences

    with pytest.raises(BadRequestError) as unexplained:
        cp.update_status("bob@example.com", channel="EMAIL", status_state="SUBSCRIBED", subscription_id=news)
    assert native.status("bob@example.com", news) == "UNSUBSCRIBED"
    body = unexplained.value.body
    assert isinstance(body, dict)
    assert body["errors"][0]["in"] == "legalBasisExplanation"  # R5: stricter than HubSpot

    done = cp.update_status(
        "bob@example.com",
        channel="EMAIL",
        status_state="SUBSCRIBED",
        subscription_id=news,
        legal_basis_explanation="Asked us by phone to be added back",
    )

    assert done.results[0].set_status_success_reason == "RESUBSCRIBE_OCCURRED"
    assert native.status("bob@example.com", news) == "SUBSCRIBED"
    again = cp.update_status(
        "bob@example.com", channel="EMAIL", status_state="SUBSCRIBED", subscription_id=news
    ).results[0]
    assert again.set_status_success_reason == "NO_STATUS_CHANGE"


def test_unsubscribe_all_and_its_empty_read(sdk: HubSpot, make: Catalog, native: Native) -> None:
    news = make.type()
    native.set("carol@example.com", news, "SUBSCRIBED")
    cp = sdk.communication_preferences

    nothing = cp.get_unsubscribe_all_status("carol@example.com", channel="EMAIL")
    quiet = cp.unsubscribe_all("carol@example.com", channel="EMAIL")
    verbose = cp.unsubscribe_all("carol@example.com", channel="EMAIL", verbose=True)
    [wide] = cp.get_unsubscribe_all_status("carol@example.com", channel="EMAIL").results

    assert nothing.results == []  # HubSpot's answer for an address without one
    assert quiet.results == []
    assert [(s.subscription_id, s.set_status_success_reason) for s in verbose.results] == [(news, "NO_STATUS_CHANGE")]
    assert (wide.wide_status_type, wide.status, wide.business_unit_id) == ("PORTAL_WIDE", "UNSUBSCRIBED", 0)
    assert native.wide_units("carol@example.com") == {0}


def test_it_generates_links_that_open_the_preference_center(sdk: HubSpot, make: Catalog, native: Native) -> None:
    news = make.type()
    links = sdk.communication_preferences.generate_links(
        channel="EMAIL", subscriber_id_string="dave@example.com", subscription_id=news, language="sv"
    )

    assert links.subscriber_id_string == "dave@example.com"
    assert links.manage_preferences_url.startswith("http://testserver/preferences/")
    assert links.unsubscribe_all_url.startswith("http://testserver/unsubscribe/")
    assert links.unsubscribe_single_url is not None
    page = native.client.get(links.manage_preferences_url.removeprefix("http://testserver"))
    assert page.status_code == 200
    assert "dave@example.com" in page.text


def test_batch_read_write_and_unsubscribe_all(sdk: HubSpot, make: Catalog, native: Native) -> None:
    news = make.type("Newsletter")
    offers = make.type("Offers")
    batch = sdk.communication_preferences.statuses.batch

    written = batch.update_statuses(
        inputs=[
            {
                "subscriber_id_string": "e1@example.com",
                "channel": "EMAIL",
                "status_state": "SUBSCRIBED",
                "subscription_id": news,
            },
            {
                "subscriber_id_string": "e2@example.com",
                "channel": "EMAIL",
                "status_state": "SUBSCRIBED",
                "subscription_id": offers,
                "legal_basis": "CONSENT_WITH_NOTICE",
                "legal_basis_explanation": "Web form",
            },
            {
                "subscriber_id_string": "e2@example.com",
                "channel": "EMAIL",
                "status_state": "UNSUBSCRIBED",
                "subscription_id": news,
            },
        ]
    )
    read = batch.read(channel="EMAIL", inputs=["e1@example.com", "e2@example.com"])
    opted = batch.unsubscribe_all(channel="EMAIL", inputs=["e1@example.com"], verbose=True)
    wide = batch.get_unsubscribe_all_statuses(channel="EMAIL", inputs=["e1@example.com", "e2@example.com"])

    assert [(r.subscriber_id_string, r.subscription_id, r.status) for r in written.results] == [
        ("e1@example.com", news, "SUBSCRIBED"),
        ("e2@example.com", offers, "SUBSCRIBED"),
        ("e2@example.com", news, "UNSUBSCRIBED"),
    ]
    assert written.results[1].legal_basis == "CONSENT_WITH_NOTICE"
    statuses = {(r.subscriber_id_string, s.subscription_id): s.status for r in read.results for s in r.statuses}
    assert statuses == {
        ("e1@example.com", news): "SUBSCRIBED",
        ("e1@example.com", offers): "NOT_SPECIFIED",
        ("e2@example.com", news): "UNSUBSCRIBED",
        ("e2@example.com", offers): "SUBSCRIBED",
    }
    assert [r.subscriber_id_string for r in opted.results] == ["e1@example.com"]
    assert {s.set_status_success_reason for s in opted.results[0].statuses or []} == {"UNSUBSCRIBE_FROM_ALL_OCCURRED"}
    assert {r.subscriber_id_string: len(r.wide_statuses) for r in wide.results} == {
        "e1@example.com": 1,
        "e2@example.com": 0,
    }
    for address, type_id, status in (("e1@example.com", news, "SUBSCRIBED"), ("e2@example.com", news, "UNSUBSCRIBED")):
        assert native.status(address, type_id) == status
    assert native.wide_units("e1@example.com") == {0}
    assert native.wide_units("e2@example.com") == set()
