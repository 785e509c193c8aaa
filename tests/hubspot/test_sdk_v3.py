"""Every call `hubspot-api-client` offers for communication preferences (HubSpot's v3 client),
against a live Assent, each checked against the native API's view of the same address."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hubspot.communication_preferences import ApiException, PublicUpdateSubscriptionStatusRequest

from assent.domain.model import Channel
from tests.conftest import Catalog
from tests.hubspot.conftest import Native


def _request(email: str, type_id: int, **extra: Any) -> PublicUpdateSubscriptionStatusRequest:
    return PublicUpdateSubscriptionStatusRequest(email_address=email, subscription_id=str(type_id), **extra)


def test_it_lists_email_definitions(v3: Any, make: Catalog) -> None:
    brand = make.business_unit("Brand B")
    news = make.type("Newsletter", description="Monthly news", purpose="Marketing")
    other = make.type("Offers", business_unit_id=brand)
    make.type("SMS promos", channel=Channel.SMS)

    page = v3.definition_api.get_page()

    by_id = {d.id: d for d in page.subscription_definitions}
    assert set(by_id) == {str(news), str(other)}  # v3 is email only
    assert by_id[str(news)].name == "Newsletter"
    assert by_id[str(news)].description == "Monthly news"
    assert by_id[str(news)].purpose == "Marketing"
    assert by_id[str(news)].is_active is True
    assert by_id[str(news)].communication_method == "Email"
    assert by_id[str(other)].business_unit_id == brand
    assert by_id[str(news)].created_at is not None


def test_it_subscribes_and_the_native_api_sees_it(v3: Any, make: Catalog, native: Native) -> None:
    news = make.type()

    answer = v3.status_api.subscribe(
        _request("Alice@Example.com", news, legal_basis="CONSENT_WITH_NOTICE", legal_basis_explanation="Signed up")
    )

    assert (answer.id, answer.status, answer.source_of_status) == (str(news), "SUBSCRIBED", "SUBSCRIPTION_STATUS")
    assert answer.legal_basis == "CONSENT_WITH_NOTICE"
    assert native.status("alice@example.com", news) == "SUBSCRIBED"
    [event] = native.history("alice@example.com")
    assert (event["source"], event["actor_kind"], event["legal_basis"]) == (
        "HUBSPOT_API",
        "USER",
        "CONSENT_WITH_NOTICE",
    )


def test_it_reads_statuses_with_wide_opt_outs_as_their_source(v3: Any, sdk: Any, make: Catalog, native: Native) -> None:
    brand = make.business_unit("Brand B")
    news = make.type("Newsletter")
    offers = make.type("Offers", business_unit_id=brand)
    native.set("bob@example.com", news, "SUBSCRIBED")
    native.set("bob@example.com", offers, "SUBSCRIBED")

    before = {s.id: s for s in v3.status_api.get_email_status("bob@example.com").subscription_statuses}
    assert before[str(news)].status == before[str(offers)].status == "SUBSCRIBED"
    assert before[str(offers)].brand_id == brand

    sdk.communication_preferences.unsubscribe_all("bob@example.com", channel="EMAIL", business_unit_id=brand)
    after = v3.status_api.get_email_status("bob@example.com")

    statuses = {s.id: s for s in after.subscription_statuses}
    assert after.recipient == "bob@example.com"
    assert (statuses[str(news)].status, statuses[str(news)].source_of_status) == ("SUBSCRIBED", "SUBSCRIPTION_STATUS")
    assert (statuses[str(offers)].status, statuses[str(offers)].source_of_status) == (
        "NOT_SUBSCRIBED",
        "BRAND_WIDE_STATUS",
    )
    assert native.wide_units("bob@example.com") == {brand}
    assert native.status("bob@example.com", offers) == "SUBSCRIBED"  # R7: kept while the wide opt-out stands

    sdk.communication_preferences.unsubscribe_all("bob@example.com", channel="EMAIL")
    portal = {s.id: s for s in v3.status_api.get_email_status("bob@example.com").subscription_statuses}
    assert (portal[str(news)].status, portal[str(news)].source_of_status) == ("NOT_SUBSCRIBED", "PORTAL_WIDE_STATUS")


def test_it_maps_not_specified_and_unsubscribed_to_not_subscribed(v3: Any, make: Catalog, native: Native) -> None:
    news = make.type("Newsletter")
    offers = make.type("Offers")
    native.set("carol@example.com", offers, "UNSUBSCRIBED")

    statuses = {s.id: s.status for s in v3.status_api.get_email_status("carol@example.com").subscription_statuses}

    assert statuses == {str(news): "NOT_SUBSCRIBED", str(offers): "NOT_SUBSCRIBED"}
    assert native.status("carol@example.com", news) == "NOT_SPECIFIED"
    assert native.status("carol@example.com", offers) == "UNSUBSCRIBED"


def test_it_unsubscribes(v3: Any, make: Catalog, native: Native) -> None:
    news = make.type()
    native.set("dave@example.com", news, "SUBSCRIBED")

    answer = v3.status_api.unsubscribe(_request("dave@example.com", news))

    assert answer.status == "NOT_SUBSCRIBED"
    assert native.status("dave@example.com", news) == "UNSUBSCRIBED"


def test_v3_subscribe_never_resubscribes(v3: Any, make: Catalog, native: Native) -> None:
    news = make.type()
    v3.status_api.unsubscribe(_request("erin@example.com", news))
    events_before = len(native.history("erin@example.com"))

    with pytest.raises(ApiException) as refused:
        v3.status_api.subscribe(_request("erin@example.com", news, legal_basis_explanation="She asked us"))

    assert refused.value.status == 400
    body = json.loads(refused.value.body)
    assert body["status"] == "error"
    assert body["category"] == "VALIDATION_ERROR"
    assert body["subCategory"] == "RESUBSCRIBE_NOT_ALLOWED"
    assert body["errors"][0]["in"] == "emailAddress"
    assert body["correlationId"]
    assert native.status("erin@example.com", news) == "UNSUBSCRIBED"
    assert len(native.history("erin@example.com")) == events_before


def test_v3_errors_reach_the_sdk_in_hubspots_shape(v3: Any, make: Catalog) -> None:
    make.type()
    with pytest.raises(ApiException) as unknown:
        v3.status_api.subscribe(_request("frank@example.com", 999_999))
    with pytest.raises(ApiException) as bad_address:
        v3.status_api.get_email_status("not an address")

    for error, field in ((unknown.value, "subscriptionId"), (bad_address.value, "emailAddress")):
        body = json.loads(error.body)
        assert error.status == 400
        assert body["category"] == "VALIDATION_ERROR"
        assert body["errors"][0]["in"] == field
        assert "type" not in body  # never an RFC 9457 document
