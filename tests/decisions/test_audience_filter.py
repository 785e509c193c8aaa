"""`POST /api/v1/audiences/filter`: a stream of addresses in, the sendable ones out."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from assent.domain.model import Channel
from assent.services import audiences
from assent.storage.db import Database
from tests.conftest import Catalog

FILTER = "/api/v1/audiences/filter"


def change(client: TestClient, headers: dict[str, str], address: str, type_id: int, status: str, channel: str = "EMAIL") -> None:
    response = client.post(
        f"/api/v1/subscribers/{channel}/{address}/statuses",
        json={"changes": [{"subscription_type_id": type_id, "status": status}]},
        headers=headers,
    )
    assert response.status_code == 200, response.text


def post(client: TestClient, headers: dict[str, str], type_id: int, body: bytes | str, media_type: str, **params: Any) -> Any:
    return client.post(
        FILTER,
        params={"subscription_type_id": type_id, **params},
        content=body.encode() if isinstance(body, str) else body,
        headers={**headers, "Content-Type": media_type},
    )


@pytest.fixture
def audience(client: TestClient, make: Catalog, write_headers: dict[str, str]) -> dict[str, int]:
    """Bob opted out of the newsletter, Carol of all email, Dave's mail bounces; the phone
    +46701234567 opted in to SMS offers and +46701234568 opted out of them."""
    newsletter = make.type("Newsletter")
    sms = make.type("SMS offers", Channel.SMS)
    archived = make.type("Old news", is_active=False)
    change(client, write_headers, "bob@example.com", newsletter, "UNSUBSCRIBED")
    assert client.put("/api/v1/subscribers/EMAIL/carol@example.com/unsubscribe-all", headers=write_headers).status_code == 200
    bounce = client.put(
        "/api/v1/subscribers/EMAIL/dave@example.com/undeliverable",
        json={"legal_basis_explanation": "hard bounce"},
        headers=write_headers,
    )
    assert bounce.status_code == 200, bounce.text
    change(client, write_headers, "+46701234567", sms, "SUBSCRIBED", "SMS")
    change(client, write_headers, "+46701234568", sms, "UNSUBSCRIBED", "SMS")
    return {"newsletter": newsletter, "sms": sms, "archived": archived}


def test_it_streams_the_sendable_addresses_of_a_csv(
    client: TestClient, audience: dict[str, int], read_headers: dict[str, str]
) -> None:
    body = "\ufeffemail,name\r\nAlice@Example.COM,Alice\r\nbob@example.com,Bob\r\n\r\n\"Carol@Example.com\",Carol\r\nerin@example.com\r\nnot an address\r\n"
    response = post(client, read_headers, audience["newsletter"], body, "text/csv")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.text == "address\nAlice@example.com\nerin@example.com\n"

    with_charset = post(client, read_headers, audience["newsletter"], body, "text/csv; charset=utf-8")
    assert with_charset.text == response.text
    other = client.post(
        FILTER,
        params={"subscription_type_id": audience["newsletter"]},
        content=body.encode(),
        headers={**read_headers, "Content-Type": "text/csv", "Accept": "application/x-ndjson"},
    )
    assert other.headers["content-type"] == "application/x-ndjson"
    assert [json.loads(line) for line in other.text.splitlines()] == [
        {"address": "Alice@example.com"},
        {"address": "erin@example.com"},
    ]


def test_it_gives_every_line_with_its_reasons_when_asked(
    client: TestClient, audience: dict[str, int], read_headers: dict[str, str]
) -> None:
    emails = "alice@example.com\nBob@example.com\ncarol@example.com\ndave@example.com\nnot,an address\n"
    response = post(client, read_headers, audience["newsletter"], emails, "text/csv", include_blocked="true")
    assert response.text.splitlines() == [
        "address,allowed,reasons",
        "alice@example.com,true,",
        "Bob@example.com,false,UNSUBSCRIBED",
        "carol@example.com,false,UNSUBSCRIBED_FROM_ALL",
        "dave@example.com,false,UNDELIVERABLE",
        "not,false,INVALID_ADDRESS",
    ]
    archived = post(client, read_headers, audience["archived"], "alice@example.com\n", "text/csv", include_blocked="true")
    assert archived.text.splitlines()[1] == "alice@example.com,false,TYPE_INACTIVE"

    phones = "\n".join(
        json.dumps(line) for line in ({"address": "+46 70 123 45 67"}, {"address": "+46701234568"}, {"address": "+46701234569"}, {"phone": "x"})
    )
    sms = post(client, read_headers, audience["sms"], phones, "application/x-ndjson", include_blocked="true")
    assert sms.headers["content-type"] == "application/x-ndjson"
    assert [json.loads(line) for line in sms.text.splitlines()] == [
        {"address": "+46701234567", "allowed": True, "reasons": []},
        {"address": "+46701234568", "allowed": False, "reasons": ["UNSUBSCRIBED"]},
        {"address": "+46701234569", "allowed": False, "reasons": ["NO_CONSENT"]},
        {"address": '{"phone": "x"}', "allowed": False, "reasons": ["INVALID_ADDRESS"]},
    ]
    sendable = post(client, read_headers, audience["sms"], phones, "application/x-ndjson")
    assert sendable.text == '{"address":"+46701234567"}\n'
    well_formed = '{"address":"+46701234568"}\n  { "address" : "+46 70 123 45 67" } \n'
    assert post(client, read_headers, audience["sms"], well_formed, "application/x-ndjson").text == sendable.text


def test_it_refuses_a_body_that_is_not_utf8_and_streams_nothing(
    client: TestClient, audience: dict[str, int], read_headers: dict[str, str]
) -> None:
    body = b"alice@example.com\nbob@example.com\n" + b"caf\xe9@example.com\n"
    response = post(client, read_headers, audience["newsletter"], body, "text/csv")
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert (problem["code"], problem["field"]) == ("INVALID_ENCODING", "body")
    assert "line 3" in problem["detail"]
    assert "alice" not in response.text


def test_it_refuses_an_unknown_type_and_an_unknown_media_type(
    client: TestClient, audience: dict[str, int], read_headers: dict[str, str]
) -> None:
    unknown = post(client, read_headers, 999_999, "alice@example.com\n", "text/csv")
    assert (unknown.status_code, unknown.json()["field"]) == (422, "subscription_type_id")
    assert unknown.json()["code"] == "UNKNOWN_SUBSCRIPTION_TYPE"
    wrong = post(client, read_headers, audience["newsletter"], '["alice@example.com"]', "application/json")
    assert (wrong.status_code, wrong.json()["code"]) == (415, "UNSUPPORTED_MEDIA_TYPE")
    latin1 = post(client, read_headers, audience["newsletter"], "alice@example.com\n", "text/csv; charset=latin-1")
    assert latin1.status_code == 415


@pytest.mark.parametrize("preload", [False, True], ids=["lookups", "preloaded"])
def test_it_keeps_order_and_count_across_many_chunks(
    client: TestClient,
    audience: dict[str, int],
    read_headers: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    preload: bool,
) -> None:
    monkeypatch.setattr(audiences, "PRELOAD_MIN_LINES", 0 if preload else 10**9)
    lines = [f"person{n}@example.com" for n in range(25_000)]
    lines[3] = "bob@example.com"
    lines[24_999] = "carol@example.com"
    lines[20_000] = "dave@example.com"  # first line of the second chunk
    lines[12_345] = "@@"
    # The reader's first block ends inside a two-byte character (15 + 2k bytes before it).
    lines[0] = "ab@example.com"
    lines[1] = "\u00e5" * (audiences.BLOCK // 2) + "@example.com"
    response = post(client, read_headers, audience["newsletter"], "\n".join(lines), "text/csv", include_blocked="true")
    assert response.status_code == 200
    rows = response.text.splitlines()[1:]
    assert len(rows) == 25_000
    assert [row.partition(",")[0] for row in rows] == lines
    blocked = {n: row.rpartition(",")[2] for n, row in enumerate(rows) if ",false," in row}
    assert blocked == {
        1: "INVALID_ADDRESS",
        3: "UNSUBSCRIBED",
        12_345: "INVALID_ADDRESS",
        20_000: "UNDELIVERABLE",
        24_999: "UNSUBSCRIBED_FROM_ALL",
    }
    sendable = post(client, read_headers, audience["newsletter"], "\n".join(lines), "text/csv")
    assert len(sendable.text.splitlines()) == 1 + 25_000 - 5


def test_it_holds_no_connection_between_chunks(db: Database, make: Catalog) -> None:
    """A client that goes away leaves the stream suspended: it must not hold a snapshot."""
    newsletter = make.type()
    upload = io.BytesIO("".join(f"person{n}@example.com\n" for n in range(25_000)).encode())
    stream = audiences.filter_audience(
        db, newsletter, upload, media_type="text/csv", output="text/csv", include_blocked=False, lines_expected=25_000
    )
    assert next(stream) == b"address\n"
    assert next(stream).count(b"\n") == audiences.CHUNK
    assert db.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    stream.close()
    assert upload.closed
