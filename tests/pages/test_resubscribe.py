"""The resubscribe email (R8): a user may invite a person who unsubscribed from all, but only
the person, on their own preference page and after a second yes, lifts the opt-out."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from assent.storage.db import Database
from tests.pages.conftest import (
    ALICE,
    Shop,
    form_token,
    history,
    links_for,
    outbox,
    path,
    subscribe,
    subscriber,
    text_of,
)


def test_it_invites_and_lets_only_the_contact_lift_their_opt_out(
    client: TestClient, shop: Shop, write_headers: dict[str, str], db: Database
) -> None:
    subscribe(client, write_headers, shop.newsletter)
    one_click = path(links_for(client, write_headers, shop)["unsubscribe_all_url"])
    client.post(one_click, data={"List-Unsubscribe": "One-Click"})
    lifted_by_user = client.request(
        "DELETE",
        f"/api/v1/subscribers/EMAIL/{ALICE}/unsubscribe-all",
        params={"business_unit_id": shop.bu},
        json={"legal_basis_explanation": "They called us"},
        headers=write_headers,
    ).json()
    assert (lifted_by_user["outcome"], lifted_by_user["reason"]) == ("REFUSED", "WIDE_OPT_OUT_SET_BY_CONTACT")

    url = f"/api/v1/subscribers/EMAIL/{ALICE}/resubscribe-email"
    sent = client.post(url, json={"business_unit_id": shop.bu, "language": "sv"}, headers=write_headers)
    assert (sent.status_code, sent.json()["sent"]) == (202, True)
    again = client.post(url, json={"business_unit_id": shop.bu}, headers=write_headers)
    assert (again.status_code, again.json()["code"]) == (429, "RATE_LIMITED")
    # "at most once a week" counts 7 days from the invitation that went out, not a calendar week
    assert 7 * 86400 - 60 <= int(again.headers["retry-after"]) <= 7 * 86400 + 1
    [message] = outbox(db)
    assert message["Subject"] == "Vill du höra från Acme AB igen?"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = re.search(r"http://testserver(/preferences/\S+)", text_of(message))
    assert link

    page = client.get(link.group(1))
    assert 'id="invitation"' in page.text
    assert subscriber(client, write_headers)["wide_opt_outs"] != []  # opening it changes nothing
    shown = re.findall(r'name="shown" value="(\d+)"', page.text)
    ask = client.post(link.group(1), data={"csrf": form_token(page.text), "shown": shown, "type": [str(shop.newsletter)]})
    assert "Vill du höra från Acme AB igen?" in ask.text
    assert subscriber(client, write_headers)["wide_opt_outs"] != []
    client.post(
        link.group(1),
        data={"csrf": form_token(ask.text), "confirm_resubscribe": "1", "shown": shown, "type": [str(shop.newsletter)]},
    )
    assert subscriber(client, write_headers)["wide_opt_outs"] == []
    lifted = [e for e in history(client, write_headers) if e["kind"] == "WIDE_OPT_OUT"][-1]
    assert (lifted["new_status"], lifted["actor_kind"], lifted["source"]) == (
        "NOT_SPECIFIED", "CONTACT", "PREFERENCE_CENTER"
    )


def test_it_sends_a_resubscribe_email_only_to_an_address_unsubscribed_from_all(
    client: TestClient, shop: Shop, write_headers: dict[str, str], db: Database
) -> None:
    none = client.post(f"/api/v1/subscribers/EMAIL/{ALICE}/resubscribe-email", json={"business_unit_id": shop.bu},
                       headers=write_headers)
    assert (none.status_code, none.json()["code"]) == (409, "NOT_UNSUBSCRIBED_FROM_ALL")
    sms = client.post("/api/v1/subscribers/SMS/+46701234567/resubscribe-email", headers=write_headers)
    assert (sms.status_code, sms.json()["field"]) == (422, "channel")
    assert outbox(db) == []


def test_a_signup_form_invites_a_person_unsubscribed_from_all_once_a_week(
    client: TestClient, shop: Shop, write_headers: dict[str, str], admin_headers: dict[str, str], db: Database
) -> None:
    """Anyone can type an address into a form: typing the address of a person who unsubscribed
    from all sends them the week's one invitation (the same one the API and the admin send),
    never one per submission; the form answers the same every time."""
    subscribe(client, write_headers, shop.newsletter)
    client.post(path(links_for(client, write_headers, shop)["unsubscribe_all_url"]), data={"List-Unsubscribe": "One-Click"})
    key = client.post(f"/api/v1/business-units/{shop.bu}/form-key", headers=admin_headers).json()["form_key"]
    body = {"business_unit_id": shop.bu, "address": ALICE, "subscription_type_ids": [shop.offers], "consent": True,
            "form_key": key}
    answers = [client.post("/api/v1/form-submissions", json=body) for _ in range(3)]
    assert [(a.status_code, a.json()) for a in answers] == [(202, {"accepted": True})] * 3
    [invitation] = outbox(db)
    assert invitation["Subject"] == "Would you like to hear from Acme AB again?"
    assert subscriber(client, write_headers)["wide_opt_outs"] != []
    # the week's invitation is taken: the API's resubscribe email waits for the next week too
    again = client.post(
        f"/api/v1/subscribers/EMAIL/{ALICE}/resubscribe-email", json={"business_unit_id": shop.bu}, headers=write_headers
    )
    assert (again.status_code, again.json()["code"]) == (429, "RATE_LIMITED")
    assert len(outbox(db)) == 1
