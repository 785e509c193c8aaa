"""POST /inbound/twilio and /inbound/twilio/status on both backends, signed exactly as Twilio
signs (R18, R27, R12; standards §6–7)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from assent.domain.model import Channel
from tests.conftest import Catalog, count_rows
from tests.inbound_twilio.conftest import CAROL, OUR_NUMBER, Twilio, messages, new_sid, one_message

OPT_OUT_REPLY = (
    "You are unsubscribed from Account. No more messages will be sent. Reply START to resubscribe, HELP for help."
)
OPT_IN_REPLY = (
    "You are subscribed to messages from Account again. Msg&data rates may apply. Reply STOP to cancel, HELP for help."
)
WRITES = ("sms_messages", "ledger_events", "wide_opt_outs", "addresses", "outbox")


def subscriber(client: TestClient, headers: dict[str, str], channel: str = "SMS", number: str = CAROL) -> Any:
    response = client.get(f"/api/v1/subscribers/{channel}/{quote(number)}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def wide_units(client: TestClient, headers: dict[str, str], channel: str = "SMS", number: str = CAROL) -> list[int]:
    return sorted(w["business_unit_id"] for w in subscriber(client, headers, channel, number)["wide_opt_outs"])


def history(client: TestClient, headers: dict[str, str], channel: str = "SMS", number: str = CAROL) -> list[Any]:
    response = client.get(f"/api/v1/subscribers/{channel}/{quote(number)}/history", headers=headers)
    assert response.status_code == 200, response.text
    return list(response.json()["results"])


def reasons(client: TestClient, headers: dict[str, str], type_id: int, number: str = CAROL) -> list[str]:
    response = client.get("/api/v1/decisions", params={"address": number, "subscription_type_id": type_id}, headers=headers)
    assert response.status_code == 200, response.text
    return list(response.json()["reasons"])


def written(db: Any) -> dict[str, int]:
    return {table: count_rows(db, table) for table in WRITES}


VARIANTS = [
    "STOP", "STOPALL", "STOP ALL", "UNSUBSCRIBE", "UNSUB", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT", "OPT OUT",
    "OPT-OUT", "stop", "Stop", "  stop  ", "Stop!", "STOP.", "'stop'", "stop   all", "Opt-out!", "opt out", "\tQuit\n",
]  # fmt: skip


def test_every_stop_keyword_variant_opts_out_with_one_reply(
    twilio: Twilio, client: TestClient, read_headers: dict[str, str]
) -> None:
    for index, text in enumerate(VARIANTS):
        number = f"+4670123{index:04d}"
        reply = one_message(twilio.text(text, sender=number))
        assert reply == OPT_OUT_REPLY, text
        assert wide_units(client, read_headers, number=number) == [0], text
        [event] = history(client, read_headers, number=number)
        assert event["source"] == "SMS_KEYWORD"
        assert event["actor_kind"] == "CONTACT"
        assert event["notice_text"] == text  # the message, as sent, is the evidence
        assert event["actor_id"].startswith("twilio:SM")


def test_a_stop_blocks_the_next_decision_and_start_lifts_it(
    twilio: Twilio, client: TestClient, make: Catalog, read_headers: dict[str, str]
) -> None:
    promotions = make.type("SMS promotions", Channel.SMS)
    assert "UNSUBSCRIBED_FROM_ALL" not in reasons(client, read_headers, promotions)
    assert one_message(twilio.text("STOP")) == OPT_OUT_REPLY
    assert "UNSUBSCRIBED_FROM_ALL" in reasons(client, read_headers, promotions)  # R12: at once
    assert one_message(twilio.text("start")) == OPT_IN_REPLY
    assert "UNSUBSCRIBED_FROM_ALL" not in reasons(client, read_headers, promotions)
    assert wide_units(client, read_headers) == []
    lifted, set_ = history(client, read_headers)
    assert (set_["new_status"], lifted["new_status"]) == ("UNSUBSCRIBED", "NOT_SPECIFIED")
    assert lifted["source"] == "SMS_KEYWORD"
    assert lifted["actor_kind"] == "CONTACT"


@pytest.mark.parametrize("text", ["YES", "unstop", "Start."])
def test_every_start_keyword_lifts_a_wide_opt_out(
    twilio: Twilio, client: TestClient, read_headers: dict[str, str], text: str
) -> None:
    twilio.text("STOP")
    assert one_message(twilio.text(text)) == OPT_IN_REPLY
    assert wide_units(client, read_headers) == []


def test_start_lifts_even_a_wide_opt_out_a_user_set(
    twilio: Twilio, client: TestClient, write_headers: dict[str, str], read_headers: dict[str, str]
) -> None:
    response = client.put(
        f"/api/v1/subscribers/SMS/{quote(CAROL)}/unsubscribe-all",
        params={"business_unit_id": 0},
        headers=write_headers,
        json={"legal_basis_explanation": "asked on the phone"},
    )
    assert response.status_code == 200, response.text
    assert one_message(twilio.text("START")) == OPT_IN_REPLY  # R8: the contact's own act
    assert wide_units(client, read_headers) == []


@pytest.mark.parametrize("text", ["HELP", "info", "Help?"])
def test_help_answers_with_the_help_text_and_changes_nothing(
    twilio: Twilio, client: TestClient, db: Any, admin_headers: dict[str, str], text: str
) -> None:
    client.patch(
        "/api/v1/business-units/0",
        headers=admin_headers,
        json={"company_name": "Acme", "sms_help_text": "help@acme.test or 08-123 45"},
    )
    before = count_rows(db, "ledger_events")
    reply = one_message(twilio.text(text))
    assert reply == "Acme: help@acme.test or 08-123 45. Msg&data rates may apply. Reply STOP to cancel."
    assert count_rows(db, "ledger_events") == before
    assert count_rows(db, "wide_opt_outs") == 0


def test_the_demo_units_help_reply_names_its_help_contact_once(twilio: Twilio, db: Any) -> None:
    # `assent serve --demo`: texting HELP gets "<company>: <help contact>. …", the help
    # contact being what the unit's sms_help_text holds (not a second "reply STOP" sentence)
    from assent.actions.demo import seed_if_empty

    assert seed_if_empty(db)
    reply = one_message(twilio.text("HELP"))
    assert reply == "Acme Outfitters AB: support@acme.example. Msg&data rates may apply. Reply STOP to cancel."


def test_a_whatsapp_stop_opts_out_of_whatsapp_only(twilio: Twilio, client: TestClient, read_headers: dict[str, str]) -> None:
    reply = one_message(twilio.text("STOP", sender=f"whatsapp:{CAROL}", to=f"whatsapp:{OUR_NUMBER}"))
    assert reply == OPT_OUT_REPLY
    assert wide_units(client, read_headers, "WHATSAPP") == [0]
    assert wide_units(client, read_headers, "SMS") == []
    [event] = history(client, read_headers, "WHATSAPP")
    assert event["source"] == "WHATSAPP_KEYWORD"


def test_the_unit_is_the_receiving_numbers(
    twilio: Twilio, client: TestClient, make: Catalog, admin_headers: dict[str, str], read_headers: dict[str, str]
) -> None:
    brand = make.business_unit("Brand", company_name="Brand AB", default_language="sv")
    other = "+46701740699"
    response = client.patch("/api/v1/settings", headers=admin_headers, json={"sms_numbers": {OUR_NUMBER: brand}})
    assert response.status_code == 200, response.text
    reply = one_message(twilio.text("STOP"))
    assert reply == (
        "Du är avregistrerad från Brand AB. Inga fler meddelanden skickas. Svara START för att prenumerera igen, HELP för hjälp."
    )
    assert wide_units(client, read_headers) == [brand]
    one_message(twilio.text("STOP", to=other))  # a number not in sms_numbers: the default unit
    assert wide_units(client, read_headers) == [0, brand]
    # and a WhatsApp message to the same number belongs to the same unit
    one_message(twilio.text("STOP", sender=f"whatsapp:{CAROL}", to=f"whatsapp:{OUR_NUMBER}"))
    assert wide_units(client, read_headers, "WHATSAPP") == [brand]


def test_a_retried_message_sid_writes_once_and_gets_the_same_reply(
    twilio: Twilio, client: TestClient, db: Any, read_headers: dict[str, str]
) -> None:
    sid = new_sid()
    first = one_message(twilio.text("STOP", sid=sid))
    after_first = written(db)
    second = one_message(twilio.text("STOP", sid=sid))
    assert second == first == OPT_OUT_REPLY
    assert written(db) == after_first
    assert len(history(client, read_headers)) == 1
    # a retry of a START after a later STOP is still the same message: it does nothing again
    start = new_sid()
    one_message(twilio.text("START", sid=start))
    twilio.text("STOP")
    assert one_message(twilio.text("START", sid=start)) == OPT_IN_REPLY
    assert wide_units(client, read_headers) == [0]


@pytest.mark.parametrize(
    "signature", [None, "", "bm90IGEgc2lnbmF0dXJl", "wrong-url"], ids=["missing", "empty", "wrong", "other-url"]
)
def test_a_bad_or_missing_signature_is_403_with_nothing_written_or_replied(
    twilio: Twilio, db: Any, signature: str | None
) -> None:
    before = written(db)
    if signature == "wrong-url":
        response = twilio.text("STOP", url="https://elsewhere.example.com/inbound/twilio")
    else:
        response = twilio.text("STOP", signature=signature)
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 403
    assert "<Message>" not in response.text
    assert written(db) == before


def test_a_tampered_parameter_breaks_the_signature(twilio: Twilio, client: TestClient, db: Any) -> None:
    params = {"MessageSid": new_sid(), "From": CAROL, "To": OUR_NUMBER, "Body": "HELP"}
    from twilio.request_validator import RequestValidator

    from tests.inbound_twilio.conftest import BASE_URL, TOKEN

    signature = RequestValidator(TOKEN).compute_signature(BASE_URL + "/inbound/twilio", params)
    response = client.post(
        "/inbound/twilio", data={**params, "Body": "STOP"}, headers={"X-Twilio-Signature": signature}
    )
    assert response.status_code == 403
    assert count_rows(db, "wide_opt_outs") == 0


def test_parameters_twilio_adds_later_are_ignored_but_signed(twilio: Twilio, read_headers: dict[str, str], client: TestClient) -> None:
    params = {"MessageSid": new_sid(), "From": CAROL, "To": OUR_NUMBER, "Body": "stop", "OptOutType": "STOP",
              "SomethingNew": "1", "MediaUrl0": ""}  # fmt: skip
    assert one_message(twilio.post("/inbound/twilio", params)) == OPT_OUT_REPLY
    assert wide_units(client, read_headers) == [0]


def test_no_token_configured_is_503_naming_the_setting(client: TestClient, app: Any, db: Any) -> None:
    from assent.app import create_app

    bare = create_app(app.state.settings.__class__(**{**app.state.settings.__dict__, "twilio_auth_token": None}), db)
    with TestClient(bare) as unconfigured:
        for path in ("/inbound/twilio", "/inbound/twilio/status"):
            response = unconfigured.post(path, data={"MessageSid": new_sid(), "From": CAROL, "To": OUR_NUMBER, "Body": "STOP"})
            assert response.status_code == 503
            assert response.headers["content-type"] == "application/problem+json"
            assert "ASSENT_TWILIO_AUTH_TOKEN" in response.json()["detail"]
    assert count_rows(db, "sms_messages") == 0


def test_bodies_are_bounded(client: TestClient, db: Any) -> None:
    response = client.post(
        "/inbound/twilio",
        content=b"Body=" + b"x" * (70 * 1024),
        headers={"content-type": "application/x-www-form-urlencoded", "X-Twilio-Signature": "x"},
    )
    assert response.status_code == 413
    assert count_rows(db, "sms_messages") == 0


def test_a_signed_message_without_a_sender_is_422_naming_the_field(twilio: Twilio, db: Any) -> None:
    response = twilio.post("/inbound/twilio", {"MessageSid": new_sid(), "To": OUR_NUMBER, "Body": "STOP"})
    assert response.status_code == 422
    assert response.json()["field"] == "From"
    response = twilio.text("STOP", sender="not-a-number")
    assert response.status_code == 422
    assert response.json()["field"] == "From"
    assert count_rows(db, "sms_messages") == 0


# --- any reasonable means (R27) ----------------------------------------------------------------


@pytest.mark.parametrize("text", ["please stop texting me", "Unsubscribe me now", "I want to OPT OUT of these"])
def test_a_stop_word_among_other_words_opts_out_by_default(
    twilio: Twilio, client: TestClient, make: Catalog, read_headers: dict[str, str], text: str
) -> None:
    promotions = make.type("SMS promotions", Channel.SMS)
    assert one_message(twilio.text(text)) == OPT_OUT_REPLY
    assert "UNSUBSCRIBED_FROM_ALL" in reasons(client, read_headers, promotions)
    [event] = history(client, read_headers)
    assert event["notice_text"] == text


@pytest.mark.parametrize("text", ["What time do you open?", "Stopped by the shop yesterday", "Thanks!", ""])
def test_a_message_without_a_stop_word_changes_nothing(twilio: Twilio, db: Any, text: str) -> None:
    assert messages(twilio.text(text)) == []
    assert count_rows(db, "ledger_events") == 0
    assert count_rows(db, "wide_opt_outs") == 0


def test_under_review_a_stop_word_among_words_is_queued_and_a_keyword_still_acts(
    twilio: Twilio, client: TestClient, db: Any, admin_headers: dict[str, str], read_headers: dict[str, str]
) -> None:
    response = client.patch("/api/v1/settings", headers=admin_headers, json={"sms_revocation_policy": "REVIEW"})
    assert response.status_code == 200, response.text
    assert response.json()["sms_revocation_policy"] == "REVIEW"
    assert messages(twilio.text("please stop texting me")) == []  # no confirmation of what has not happened
    assert wide_units(client, read_headers) == []
    assert count_rows(db, "ledger_events") == 0
    with db.read() as conn:
        from assent.services.sms import reviews

        [queued] = reviews(conn)
    assert queued["body"] == "please stop texting me"
    assert queued["keyword"] == "STOP"
    # a whole-message keyword acts at once under either policy
    assert one_message(twilio.text("STOP", sender="+46701234568")) == OPT_OUT_REPLY
    assert wide_units(client, read_headers, number="+46701234568") == [0]


def test_the_revocation_policy_is_validated(client: TestClient, admin_headers: dict[str, str]) -> None:
    response = client.patch("/api/v1/settings", headers=admin_headers, json={"sms_revocation_policy": "IGNORE"})
    assert response.status_code == 422
    assert "sms_revocation_policy" in response.text
    assert client.get("/api/v1/settings", headers=admin_headers).json()["sms_revocation_policy"] == "OPT_OUT"


# --- a unit's own keywords and texts -------------------------------------------------------------


def test_custom_swedish_keywords_and_replies(
    twilio: Twilio, client: TestClient, admin_headers: dict[str, str], read_headers: dict[str, str]
) -> None:
    response = client.patch(
        "/api/v1/business-units/0",
        headers=admin_headers,
        json={
            "company_name": "Butiken",
            "sms_keywords": {"opt_out": ["stopp", "Avsluta"], "opt_in": ["BÖRJA"], "help": ["hjälp"]},
            "sms_replies": {"opt_out": "Du får inga fler sms från {company}. Svara START för att börja igen."},
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["sms_keywords"] == {"opt_out": ["STOPP", "AVSLUTA"], "opt_in": ["BORJA"], "help": ["HJALP"]}
    custom = "Du får inga fler sms från Butiken. Svara START för att börja igen."
    assert one_message(twilio.text("Stopp!")) == custom
    assert one_message(twilio.text("börja")) == OPT_IN_REPLY.replace("Account", "Butiken")
    assert one_message(twilio.text("avsluta", sender="+46701234568")) == custom
    assert one_message(twilio.text("Snälla avsluta", sender="+46701234569")) == custom  # any reasonable means
    assert one_message(twilio.text("hjälp")).startswith("Butiken")
    assert one_message(twilio.text("STOP", sender="+46701234570")) == custom  # the defaults stay
    assert wide_units(client, read_headers, number="+46701234568") == [0]


def test_a_keyword_in_two_families_is_refused_naming_the_field(client: TestClient, admin_headers: dict[str, str]) -> None:
    response = client.patch(
        "/api/v1/business-units/0", headers=admin_headers, json={"sms_keywords": {"opt_in": ["STOP"]}}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "sms_keywords.opt_in"
    assert client.get("/api/v1/business-units/0", headers=admin_headers).json()["sms_keywords"] is None


# --- status callbacks -------------------------------------------------------------------------


def test_error_21610_sets_the_sms_wide_opt_out_of_the_sending_numbers_unit(
    twilio: Twilio, client: TestClient, db: Any, make: Catalog, admin_headers: dict[str, str], read_headers: dict[str, str]
) -> None:
    brand = make.business_unit("Brand")
    client.patch("/api/v1/settings", headers=admin_headers, json={"sms_numbers": {OUR_NUMBER: brand}})
    sid = new_sid()
    assert twilio.status(sid, "failed", "21610").status_code == 204
    assert wide_units(client, read_headers) == [brand]
    [event] = history(client, read_headers)
    assert event["source"] == "SMS_KEYWORD"
    assert "21610" in event["legal_basis_explanation"]
    before = written(db)
    assert twilio.status(sid, "failed", "21610").status_code == 204  # a retry: nothing again
    assert written(db) == before


def test_ordinary_status_callbacks_change_and_keep_nothing(twilio: Twilio, db: Any) -> None:
    sid = new_sid()
    for status in ("queued", "sent", "delivered"):
        assert twilio.status(sid, status, None).status_code == 204
    assert twilio.status(sid, "undelivered", "30003").status_code == 204
    assert written(db) == dict.fromkeys(WRITES, 0)


def test_a_status_callback_needs_a_good_signature(twilio: Twilio, db: Any) -> None:
    assert twilio.status(new_sid(), "failed", "21610", signature="bm90IGEgc2lnbmF0dXJl").status_code == 403
    assert twilio.status(new_sid(), "failed", "21610", signature=None).status_code == 403
    assert written(db) == dict.fromkeys(WRITES, 0)


def test_whatsapp_131050_opts_out_of_the_units_marketing_types_only(
    twilio: Twilio, client: TestClient, make: Catalog, write_headers: dict[str, str], read_headers: dict[str, str]
) -> None:
    offers = make.type("WhatsApp offers", Channel.WHATSAPP, purpose="Marketing")
    orders = make.type("Order updates", Channel.WHATSAPP, purpose="Transactional order updates")
    sms = make.type("SMS offers", Channel.SMS, purpose="marketing")
    url = f"/api/v1/subscribers/WHATSAPP/{quote(CAROL)}/statuses"
    body = {"changes": [{"subscription_type_id": offers, "status": "SUBSCRIBED"}, {"subscription_type_id": orders, "status": "SUBSCRIBED"}],
            "legal_basis_explanation": "signed up in the shop"}  # fmt: skip
    assert client.post(url, headers=write_headers, json=body).status_code == 200
    response = twilio.status(new_sid("MM"), "failed", "131050", to=f"whatsapp:{CAROL}", sender=f"whatsapp:{OUR_NUMBER}")
    assert response.status_code == 204
    statuses = {s["subscription_type_id"]: s["status"] for s in subscriber(client, read_headers, "WHATSAPP")["statuses"]}
    assert statuses[offers] == "UNSUBSCRIBED"
    assert statuses[orders] == "SUBSCRIBED"
    assert wide_units(client, read_headers, "WHATSAPP") == []
    assert "UNSUBSCRIBED" in reasons(client, read_headers, offers)
    assert reasons(client, read_headers, orders) == []
    assert "UNSUBSCRIBED" not in reasons(client, read_headers, sms)


def test_two_deliveries_of_one_message_at_once_apply_it_once(db: Any, client: TestClient) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from assent.actions import sms

    message = sms.InboundMessage(new_sid(), Channel.SMS, CAROL, OUR_NUMBER, "STOP")
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: sms.receive_message(db, message), range(4)))
    assert {r.reply for r in results} == {OPT_OUT_REPLY}
    assert sorted(r.duplicate for r in results) == [False, True, True, True]
    assert count_rows(db, "ledger_events") == 1


def test_erasure_blanks_what_the_person_texted_but_keeps_the_dedupe(
    twilio: Twilio, client: TestClient, db: Any, admin_headers: dict[str, str]
) -> None:
    import sqlalchemy as sa

    sid = new_sid()
    one_message(twilio.text("please stop texting me", sid=sid))
    response = client.post("/api/v1/erasures", json={"channel": "SMS", "address": CAROL}, headers=admin_headers)
    assert response.status_code == 200, response.text
    with db.read() as conn:
        [row] = conn.execute(sa.text("SELECT address, body, reply FROM sms_messages")).all()
    assert (row.address, row.body) == (None, None)
    assert one_message(twilio.text("please stop texting me", sid=sid)) == OPT_OUT_REPLY  # a late retry: still once
    assert count_rows(db, "sms_messages") == 1
