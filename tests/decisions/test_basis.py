"""A single decision reads the account, the type and its unit's sending window in one
statement (`state.load_decision_basis`): the same values the separate readers give."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from assent.domain.model import Channel
from assent.services.catalog import update_business_unit
from assent.services.errors import Invalid
from assent.services.settings import update_settings
from assent.services.state import load_account, load_decision_basis, load_quiet_window, load_type
from assent.storage.db import Database
from tests.conftest import Catalog

WINDOW = {"start": "08:00", "end": "20:30", "days": ["mon", "tue", "sat"]}


def _separately(db: Database, type_id: int) -> tuple[object, ...]:
    with db.read() as conn:
        type_ = load_type(conn, type_id)
        quiet = load_quiet_window(conn, type_.business_unit_id, type_.channel)
        return load_account(conn), type_, quiet if type_.channel is not Channel.EMAIL else None


def _together(db: Database, type_id: int) -> tuple[object, ...]:
    with db.read_replica() as conn:
        basis = load_decision_basis(conn, type_id)
    return basis.account, basis.type_, basis.quiet


def test_the_basis_is_what_the_separate_readers_read(db: Database, make: Catalog) -> None:
    on, off = make.business_unit("Opted in", double_opt_in=True), make.business_unit("Opted out", double_opt_in=False)
    news = make.type("News", Channel.EMAIL, on)
    texts = make.type("Texts", Channel.SMS, off)
    chats = make.type("Chats", Channel.WHATSAPP, 0, is_active=False)
    assert _together(db, news) == _separately(db, news)  # defaults: no quiet hours anywhere
    with db.write() as conn:
        update_settings(
            conn,
            {
                "data_privacy_mode": True,
                "consent_required_to_send": False,
                "double_opt_in": True,
                "default_phone_region": "se",
                "sms_numbers": {"+46701234567": off},
                "sms_revocation_policy": "REVIEW",
            },
        )
        update_business_unit(conn, off, {"quiet_hours": {"SMS": WINDOW}})
        update_business_unit(conn, 0, {"quiet_hours": {"WHATSAPP": WINDOW, "SMS": None}})
    for type_id in (news, texts, chats):
        together = _together(db, type_id)
        assert together == _separately(db, type_id)
    account, texts_type, quiet = _together(db, texts)
    assert account.policy.double_opt_in_by_business_unit == {on: True, off: False}  # type: ignore[attr-defined]
    assert account.default_phone_region == "SE"  # type: ignore[attr-defined]
    assert quiet is not None
    assert texts_type.channel is Channel.SMS  # type: ignore[attr-defined]
    assert _together(db, chats)[1].is_active is False  # type: ignore[attr-defined]


def test_an_unknown_type_is_refused_naming_the_field(db: Database) -> None:
    with db.read() as conn, pytest.raises(Invalid) as refused:
        load_decision_basis(conn, 987654, field="subscription_type_id")
    [error] = refused.value.errors
    assert (error.field, error.code) == ("subscription_type_id", "UNKNOWN_SUBSCRIPTION_TYPE")
    assert "987654" in refused.value.detail


def test_a_malformed_position_is_refused_however_its_name_is_spelled(
    client: TestClient, make: Catalog, read_headers: dict[str, str]
) -> None:
    news = make.type("News")
    for name in ("min_event_id", "min%5Fevent%5Fid"):
        query = f"address=a%40example.com&subscription_type_id={news}&{name}=soon"
        refused = client.get(f"/api/v1/decisions?{query}", headers=read_headers)
        assert refused.status_code == 422, name
        assert refused.json()["errors"][0]["field"] == "min_event_id"
    allowed = client.get(f"/api/v1/decisions?address=a%40example.com&subscription_type_id={news}", headers=read_headers)
    assert allowed.json()["allowed"] is True
