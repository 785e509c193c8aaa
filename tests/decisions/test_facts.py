"""Decisions read the right facts: for every combination of stored state, the answer read
from the database — by lookup and by preload — is what `rules.decide` says for that state."""

from __future__ import annotations

import itertools

import pytest
import sqlalchemy as sa

from assent.domain.addresses import normalize
from assent.domain.model import Actor, Channel, ConfirmationState, Source, Status
from assent.domain.rules import SendFacts, decide
from assent.services.changes import Writer
from assent.services.decisions import Decider, load_send_facts
from assent.services.settings import update_settings
from assent.services.state import load_account, load_type
from assent.storage import tables as t
from assent.storage.db import Database
from tests.conftest import Catalog

COMBINATIONS = list(
    itertools.product(
        (Status.SUBSCRIBED, Status.UNSUBSCRIBED, Status.NOT_SPECIFIED),
        (False, True),  # wide opt-out
        (False, True),  # undeliverable
        (None, ConfirmationState.PENDING, ConfirmationState.CONFIRMED),
        (False, True),  # erased
    )
)


def _address(channel: Channel, n: int) -> str:
    return f"+4670123{n:04d}" if channel is not Channel.EMAIL else f"Person.{n}@Example.com"


def _store(db: Database, type_id: int, channel: Channel) -> list[str]:
    """One address per combination of facts, stored the way the actions store them."""
    keys = []
    with db.write() as conn:
        account = load_account(conn)
        type_ = load_type(conn, type_id)
        writer = Writer(db, conn, account, Actor(Source.API, "test"))
        for n, (status, wide, undeliverable, confirmation, erased) in enumerate(COMBINATIONS):
            address = normalize(channel, _address(channel, n), "SE")
            keys.append(address.key)
            if status is not Status.NOT_SPECIFIED:
                writer.change_statuses(channel, [(address, [(type_, status)])])
            if wide:
                writer.set_wide_opt_out(channel, [address], type_.business_unit_id)
            if undeliverable:
                writer.set_undeliverable(address, True, "hard bounce")
            if confirmation is not None:
                writer.set_confirmation(address, ConfirmationState.PENDING)
                if confirmation is ConfirmationState.CONFIRMED:
                    writer.set_confirmation(address, confirmation)
            if erased:
                conn.execute(
                    t.erasures.insert().values(
                        address_hash=account.address_hash(channel, address.key), channel=channel.value, at=t.now()
                    )
                )
    return keys


@pytest.mark.parametrize(
    ("channel", "settings"),
    [
        (Channel.EMAIL, {}),
        (Channel.EMAIL, {"double_opt_in": True}),
        (Channel.EMAIL, {"data_privacy_mode": True}),
        (Channel.SMS, {}),
    ],
    ids=["email", "email-double-opt-in", "email-privacy-mode", "sms"],
)
def test_it_answers_as_the_rules_do_for_every_combination_of_state(
    db: Database, make: Catalog, channel: Channel, settings: dict[str, bool]
) -> None:
    type_id = make.type("Offers", channel)
    keys = _store(db, type_id, channel)
    with db.write() as conn:
        update_settings(conn, settings)
    with db.read() as conn:
        account = load_account(conn)
        type_ = load_type(conn, type_id)
        expected = [decide(type_.facts, SendFacts(*facts), account.policy) for facts in COMBINATIONS]
        looked_up = Decider(conn, account, type_).reasons(keys)
        one_by_one = [Decider(conn, account, type_).reasons([key])[0] for key in keys]
        preloaded = Decider(conn, account, type_)
        assert preloaded.preload(budget=1000)
        assert Decider(conn, account, type_).preload(budget=3) is False
        from_memory = preloaded.reasons(keys)
        stored = load_send_facts(conn, account, type_, keys)
    assert looked_up == expected
    assert one_by_one == expected
    assert from_memory == expected
    assert {key: stored.get(key) for key in keys} == {
        key: facts if facts != (Status.NOT_SPECIFIED, False, False, None, False) else None
        for key, facts in zip(keys, COMBINATIONS, strict=True)
    }


def test_it_hashes_addresses_as_the_account_does(db: Database, make: Catalog) -> None:
    type_id = make.type()
    with db.read() as conn:
        account = load_account(conn)
        decider = Decider(conn, account, load_type(conn, type_id))
        key = "alice.smith+news@example.com"
        assert decider.address_hash(key) == account.address_hash(Channel.EMAIL, key)
        assert conn.execute(sa.select(sa.func.count()).select_from(t.erasures)).scalar_one() == 0
