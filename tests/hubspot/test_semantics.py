"""The semantic points of issue 10, over raw HTTP, each checked against the native API's view
of the same address (R12: the same state at every moment)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from assent.domain.model import Channel
from assent.storage.db import Database
from tests.conftest import Catalog, count_rows
from tests.hubspot.conftest import Native

CP = "/communication-preferences"


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _opt_in(client: TestClient, token: str, address: str, type_id: int, **extra: Any) -> Any:
    body = {"channel": "EMAIL", "statusState": "SUBSCRIBED", "subscriptionId": type_id, **extra}
    return client.post(f"{CP}/v4/statuses/{address}", headers=_auth(token), json=body)


def test_business_units_scope_statuses_and_wide_opt_outs(
    client: TestClient, token: str, make: Catalog, native: Native
) -> None:
    brand = make.business_unit("Brand B")
    news = make.type("Newsletter")
    offers = make.type("Offers", business_unit_id=brand)
    assert _opt_in(client, token, "alice@example.com", offers).status_code == 200

    default = client.get(f"{CP}/v4/statuses/alice@example.com?channel=EMAIL", headers=_auth(token)).json()
    branded = client.get(
        f"{CP}/v4/statuses/alice@example.com?channel=EMAIL&businessUnitId={brand}", headers=_auth(token)
    ).json()
    opted = client.post(
        f"{CP}/v4/statuses/alice@example.com/unsubscribe-all?channel=EMAIL&businessUnitId={brand}",
        headers=_auth(token),
    )
    default_wide = client.get(f"{CP}/v4/statuses/alice@example.com/unsubscribe-all?channel=EMAIL", headers=_auth(token))
    brand_wide = client.get(
        f"{CP}/v4/statuses/alice@example.com/unsubscribe-all?channel=EMAIL&businessUnitId={brand}",
        headers=_auth(token),
    )
    unknown = client.get(f"{CP}/v4/statuses/alice@example.com?channel=EMAIL&businessUnitId=999", headers=_auth(token))

    assert [(s["subscriptionId"], s["status"]) for s in default["results"]] == [(news, "NOT_SPECIFIED")]
    assert [(s["subscriptionId"], s["status"], s["businessUnitId"]) for s in branded["results"]] == [
        (offers, "SUBSCRIBED", brand)
    ]
    assert opted.status_code == 200
    assert default_wide.json()["results"] == []
    [wide] = brand_wide.json()["results"]
    assert (wide["wideStatusType"], wide["businessUnitId"]) == ("BUSINESS_UNIT_WIDE", brand)
    assert native.wide_units("alice@example.com") == {brand}
    assert unknown.status_code == 400
    assert unknown.json()["errors"][0]["in"] == "businessUnitId"


def test_r7_no_opt_in_while_unsubscribed_from_all(
    client: TestClient, token: str, make: Catalog, native: Native
) -> None:
    news = make.type()
    client.post(f"{CP}/v4/statuses/bob@example.com/unsubscribe-all?channel=EMAIL", headers=_auth(token))

    refused = _opt_in(client, token, "bob@example.com", news, legalBasisExplanation="He asked")

    assert refused.status_code == 400
    assert refused.json()["subCategory"] == "WIDE_OPT_OUT_IN_FORCE"
    assert refused.json()["errors"][0]["in"] == "subscriberIdString"
    assert native.status("bob@example.com", news) == "NOT_SPECIFIED"
    assert native.wide_units("bob@example.com") == {0}


def test_r10_an_erased_address_cannot_be_opted_in(
    client: TestClient, token: str, admin_headers: dict[str, str], make: Catalog, native: Native
) -> None:
    news = make.type()
    assert _opt_in(client, token, "carol@example.com", news).status_code == 200
    erased = client.post(
        "/api/v1/erasures", headers=admin_headers, json={"channel": "EMAIL", "address": "carol@example.com"}
    )
    assert erased.status_code == 200, erased.text

    refused = _opt_in(client, token, "carol@example.com", news)
    opt_out = client.post(
        f"{CP}/v4/statuses/carol@example.com",
        headers=_auth(token),
        json={"channel": "EMAIL", "statusState": "UNSUBSCRIBED", "subscriptionId": news},
    )

    assert refused.status_code == 400
    assert refused.json()["subCategory"] == "ERASED"
    assert opt_out.status_code == 200  # opting out is always allowed (R4)
    assert native.view("carol@example.com")["erased"] is True


def test_data_privacy_mode_needs_a_legal_basis_and_records_it_for_processing(
    client: TestClient, db: Database, token: str, make: Catalog, native: Native, privacy_mode: None
) -> None:
    news = make.type("Newsletter")
    offers = make.type("Offers")

    without = _opt_in(client, token, "dave@example.com", news, legalBasisExplanation="Signed up at the fair")
    assert without.status_code == 400
    assert without.json()["errors"][0]["in"] == "legalBasis"
    assert native.status("dave@example.com", news) == "NOT_SPECIFIED"
    assert native.history("dave@example.com") == []
    assert count_rows(db, "subscription_statuses") == 0

    first = _opt_in(
        client, token, "dave@example.com", news, legalBasis="CONSENT_WITH_NOTICE", legalBasisExplanation="Fair form"
    )
    second = _opt_in(
        client,
        token,
        "dave@example.com",
        offers,
        legalBasis="LEGITIMATE_INTEREST_CLIENT",
        legalBasisExplanation="Customer",
    )

    assert first.status_code == second.status_code == 200
    view = native.view("dave@example.com")
    # HubSpot has no field for the basis to process the person's data: the first opt-in's
    # legal basis is recorded for both, and later opt-ins use the one stored (R6).
    assert view["processing_legal_basis"] == "CONSENT_WITH_NOTICE"
    bases = {s["subscription_type_id"]: s["legal_basis"] for s in view["statuses"]}
    assert bases == {news: "CONSENT_WITH_NOTICE", offers: "LEGITIMATE_INTEREST_CLIENT"}


def test_v3_subscribe_in_data_privacy_mode_needs_a_legal_basis(
    client: TestClient, token: str, make: Catalog, native: Native, privacy_mode: None
) -> None:
    news = make.type()
    refused = client.post(
        f"{CP}/v3/subscribe",
        headers=_auth(token),
        json={"emailAddress": "erin@example.com", "subscriptionId": str(news)},
    )
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["in"] == "legalBasis"
    assert native.status("erin@example.com", news) == "NOT_SPECIFIED"


@pytest.mark.parametrize(
    ("channel", "raw", "normalized"),
    [("SMS", "+46 70 123 45 67", "+46701234567"), ("WHATSAPP", "+14155550100", "+14155550100")],
)
def test_sms_and_whatsapp_with_e164_numbers(
    client: TestClient, token: str, make: Catalog, native: Native, channel: str, raw: str, normalized: str
) -> None:
    texts = make.type("Promotions", channel=Channel(channel))
    make.type("Email news")

    written = client.post(
        f"{CP}/v4/statuses/{raw}",
        headers=_auth(token),
        json={"channel": channel, "statusState": "SUBSCRIBED", "subscriptionId": texts},
    )
    read = client.get(f"{CP}/v4/statuses/{normalized}?channel={channel}", headers=_auth(token)).json()
    wrong = client.post(
        f"{CP}/v4/statuses/{raw}",
        headers=_auth(token),
        json={"channel": "EMAIL", "statusState": "SUBSCRIBED", "subscriptionId": texts},
    )
    not_a_number = client.get(f"{CP}/v4/statuses/hello?channel={channel}", headers=_auth(token))

    assert written.status_code == 200, written.text
    assert written.json()["results"][0]["subscriberIdString"] == normalized
    assert [(s["subscriptionId"], s["status"], s["channel"]) for s in read["results"]] == [
        (texts, "SUBSCRIBED", channel)
    ]
    assert native.status(normalized, texts, channel) == "SUBSCRIBED"
    assert wrong.status_code == 400
    assert wrong.json()["errors"][0]["in"] == "subscriberIdString"  # a phone number is no email address
    assert not_a_number.status_code == 400
    assert not_a_number.json()["errors"][0]["in"] == "subscriberIdString"


def test_batch_write_reports_each_failed_input_and_applies_the_rest(
    client: TestClient, token: str, make: Catalog, native: Native
) -> None:
    news = make.type("Newsletter")
    texts = make.type("SMS", channel=Channel.SMS)
    native.set("gone@example.com", news, "UNSUBSCRIBED")

    def item(address: str, type_id: int, **extra: Any) -> dict[str, Any]:
        return {
            "subscriberIdString": address,
            "channel": "EMAIL",
            "statusState": "SUBSCRIBED",
            "subscriptionId": type_id,
            **extra,
        }

    answer = client.post(
        f"{CP}/v4/statuses/batch/write",
        headers=_auth(token),
        json={
            "inputs": [
                item("ok1@example.com", news, legalBasis="CONSENT_WITH_NOTICE", legalBasisExplanation="Form A"),
                item("not an address", news),
                item("ok2@example.com", 999_999),
                item("ok2@example.com", texts),
                item("gone@example.com", news),  # a resubscribe without an explanation (R5)
                item(
                    "ok2@example.com", news, legalBasis="LEGITIMATE_INTEREST_CLIENT", legalBasisExplanation="Customer"
                ),
                item("gone@example.com", news, legalBasisExplanation="Phoned us"),
            ]
        },
    )

    assert answer.status_code == 207
    body = answer.json()
    assert body["numErrors"] == 4
    assert [(e["context"]["index"], e["errors"][0]["in"], e["subCategory"]) for e in body["errors"]] == [
        (["1"], "subscriberIdString", "INVALID_ADDRESS"),
        (["2"], "subscriptionId", "INVALID_SUBSCRIPTION"),
        (["3"], "subscriptionId", "INVALID_SUBSCRIPTION"),
        (["4"], "legalBasisExplanation", "EXPLANATION_REQUIRED"),
    ]
    assert all(e["status"] == "error" and e["category"] == "VALIDATION_ERROR" for e in body["errors"])
    assert [(r["subscriberIdString"], r["setStatusSuccessReason"]) for r in body["results"]] == [
        ("ok1@example.com", "REQUESTED_CHANGE_OCCURRED"),
        ("ok2@example.com", "REQUESTED_CHANGE_OCCURRED"),
        ("gone@example.com", "RESUBSCRIBE_OCCURRED"),
    ]
    # each input's own legal basis (grouped by evidence, one Writer call per group)
    assert native.view("ok1@example.com")["statuses"][0]["legal_basis"] == "CONSENT_WITH_NOTICE"
    assert native.view("ok2@example.com")["statuses"][0]["legal_basis"] == "LEGITIMATE_INTEREST_CLIENT"
    assert native.status("gone@example.com", news) == "SUBSCRIBED"
    assert native.history("gone@example.com")[0]["legal_basis_explanation"] == "Phoned us"  # newest first


def test_batch_limits_are_ten_times_hubspots(client: TestClient, read_token: str, make: Catalog) -> None:
    make.type()
    thousand = [f"p{i}@example.com" for i in range(1000)]

    ok = client.post(f"{CP}/v4/statuses/batch/read?channel=EMAIL", headers=_auth(read_token), json={"inputs": thousand})
    too_many = client.post(
        f"{CP}/v4/statuses/batch/read?channel=EMAIL",
        headers=_auth(read_token),
        json={"inputs": [*thousand, "x@example.com"]},
    )

    assert ok.status_code == 200
    assert len(ok.json()["results"]) == 1000
    assert too_many.status_code == 400
    assert too_many.json()["errors"][0]["in"] == "inputs"


def test_batch_write_answers_unchanged_statuses_as_stored(
    client: TestClient, token: str, make: Catalog, native: Native
) -> None:
    """An input that changes nothing is answered with the stored status and its evidence, as a
    read answers it; so is one that an earlier input of the same batch changed."""
    news = make.type("Newsletter")
    offers = make.type("Offers")
    native.set("kept@example.com", news, "UNSUBSCRIBED")

    def item(address: str, type_id: int, status: str) -> dict[str, Any]:
        return {"subscriberIdString": address, "channel": "EMAIL", "statusState": status, "subscriptionId": type_id}

    inputs = [
        item("kept@example.com", news, "UNSUBSCRIBED"),
        {**item("new@example.com", offers, "SUBSCRIBED"), "legalBasis": "CONSENT_WITH_NOTICE"},
        {**item("new@example.com", offers, "SUBSCRIBED"), "legalBasisExplanation": "again"},
    ]
    answer = client.post(f"{CP}/v4/statuses/batch/write", headers=_auth(token), json={"inputs": inputs})

    assert answer.status_code == 200
    results = answer.json()["results"]
    assert [r["setStatusSuccessReason"] for r in results] == [
        "NO_STATUS_CHANGE",
        "REQUESTED_CHANGE_OCCURRED",
        "NO_STATUS_CHANGE",
    ]
    for result in results:
        read = client.get(f"{CP}/v4/statuses/{result['subscriberIdString']}?channel=EMAIL", headers=_auth(token))
        [stored] = [s for s in read.json()["results"] if s["subscriptionId"] == result["subscriptionId"]]
        assert {k: v for k, v in result.items() if k != "setStatusSuccessReason"} == stored
