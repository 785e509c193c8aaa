"""Inbound webhook fixtures: an app with a Twilio auth token, and a client that signs
requests exactly as Twilio does (the `twilio` package's own RequestValidator)."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from twilio.request_validator import RequestValidator

from assent.config import Settings

TOKEN = "12345678901234567890123456789012"
BASE_URL = "https://assent.example.com"
OUR_NUMBER = "+46701740605"
CAROL = "+46701234567"
_sids = itertools.count(1)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        secret_keys=("test-secret-key-newest",),
        base_url=BASE_URL,  # what Twilio calls, and signs: not the test client's own host
        twilio_auth_token=TOKEN,
        run_worker=False,
    )


def new_sid(prefix: str = "SM") -> str:
    return f"{prefix}{next(_sids):032x}"


class Twilio:
    """Sends what Twilio sends: form-encoded parameters, signed with the auth token over the
    public URL and every parameter."""

    def __init__(self, client: TestClient, token: str = TOKEN, base_url: str = BASE_URL) -> None:
        self.client = client
        self.token = token
        self.base_url = base_url

    def post(self, path: str, params: dict[str, str], *, signature: str | None = "sign", url: str | None = None) -> Any:
        headers = {}
        if signature == "sign":
            signature = RequestValidator(self.token).compute_signature(url or self.base_url + path, params)
        if signature is not None:
            headers["X-Twilio-Signature"] = signature
        return self.client.post(path, data=params, headers=headers)

    def text(
        self, body: str, *, sender: str = CAROL, to: str = OUR_NUMBER, sid: str | None = None, **options: Any
    ) -> Any:
        params = {
            "ToCountry": "SE",
            "SmsMessageSid": sid or "",
            "NumMedia": "0",
            "FromCountry": "SE",
            "SmsStatus": "received",
            "Body": body,
            "To": to,
            "NumSegments": "1",
            "MessageSid": sid or new_sid(),
            "AccountSid": "AC" + "0" * 32,
            "From": sender,
            "ApiVersion": "2010-04-01",
        }
        params["SmsMessageSid"] = params["MessageSid"]
        return self.post("/inbound/twilio", params, **options)

    def status(
        self, sid: str, status: str, error_code: str | None, *, to: str = CAROL, sender: str = OUR_NUMBER, **options: Any
    ) -> Any:
        params = {
            "MessageSid": sid,
            "MessageStatus": status,
            "To": to,
            "From": sender,
            "AccountSid": "AC" + "0" * 32,
            "ApiVersion": "2010-04-01",
        }
        if error_code:
            params["ErrorCode"] = error_code
        return self.post("/inbound/twilio/status", params, **options)


@pytest.fixture
def twilio(client: TestClient) -> Twilio:
    return Twilio(client)


def messages(response: Any) -> list[str]:
    """The <Message> texts of a TwiML reply (checking it is one <Response>)."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/xml")
    root = ET.fromstring(response.text)  # noqa: S314 - our own response
    assert root.tag == "Response"
    assert all(child.tag == "Message" for child in root)
    return [child.text or "" for child in root]


def one_message(response: Any) -> str:
    found = messages(response)
    assert len(found) == 1, response.text
    return found[0]
