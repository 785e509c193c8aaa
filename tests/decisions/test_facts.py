"""Decisions read the right facts: for every combination of stored state, the answer read
from the database — by lookup and by preload — is what `rules.decide` says for that state."""

from __future__ import annotations

import itertools

import pytest
import sqlalchemy as sa

from assent.domain.addresses import normalize
from assent.domain.model import Actor, Channel, ConfirmationState, Reason, Source, Status
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


S, U, N = Status.SUBSCRIBED, Status.UNSUBSCRIBED, Status.NOT_SPECIFIED
PENDING, CONFIRMED = ConfirmationState.PENDING, ConfirmationState.CONFIRMED
R = Reason
#: Answers worked out by hand from SPEC R11, not from `rules.decide`: (status, wide opt-out,
#: undeliverable, confirmation, erased) → every reason that blocks, in any order.
FIXED: dict[str, dict[tuple[Status, bool, bool, ConfirmationState | None, bool], set[Reason]]] = {
    "email": {
        (S, False, False, None, False): set(),
        (N, False, False, None, False): set(),  # email needs no consent outside privacy mode
        (U, False, False, None, False): {R.UNSUBSCRIBED},
        (U, True, False, None, False): {R.UNSUBSCRIBED_FROM_ALL, R.UNSUBSCRIBED},
        (S, False, False, PENDING, False): set(),  # double opt-in is off
        (S, True, True, PENDING, True): {R.UNDELIVERABLE, R.UNSUBSCRIBED_FROM_ALL, R.ERASED},
    },
    "email-double-opt-in": {
        (S, False, False, PENDING, False): {R.UNCONFIRMED},
        (S, False, False, CONFIRMED, False): set(),
        (S, False, False, None, False): set(),  # never asked to confirm: counts as confirmed
        (U, False, True, PENDING, False): {R.UNDELIVERABLE, R.UNSUBSCRIBED, R.UNCONFIRMED},
    },
    "email-privacy-mode": {
        (N, False, False, None, False): {R.NO_CONSENT},
        (S, False, False, None, False): set(),
        (N, True, False, None, True): {R.UNSUBSCRIBED_FROM_ALL, R.NO_CONSENT, R.ERASED},
    },
    "sms": {
        (N, False, False, None, False): {R.NO_CONSENT},  # SMS always needs consent
        (N, False, False, PENDING, False): {R.NO_CONSENT},  # confirmation is an email matter
        (S, False, False, PENDING, False): set(),
        (U, True, True, None, True): {R.UNDELIVERABLE, R.UNSUBSCRIBED_FROM_ALL, R.UNSUBSCRIBED, R.ERASED},
    },
}
SETTINGS = {
    "email": (Channel.EMAIL, {}),
    "email-double-opt-in": (Channel.EMAIL, {"double_opt_in": True}),
    "email-privacy-mode": (Channel.EMAIL, {"data_privacy_mode": True}),
    "sms": (Channel.SMS, {}),
}


@pytest.mark.parametrize("case", list(FIXED))
def test_it_answers_fixed_cases_as_spec_r11_says(db: Database, make: Catalog, case: str) -> None:
    channel, settings = SETTINGS[case]
    type_id = make.type("Offers", channel)
    keys = _store(db, type_id, channel)
    with db.write() as conn:
        update_settings(conn, settings)
    with db.read() as conn:
        account = load_account(conn)
        type_ = load_type(conn, type_id)
        looked_up = Decider(conn, account, type_).reasons(keys)
        preloaded = Decider(conn, account, type_)
        assert preloaded.preload(budget=1000)
        from_memory = preloaded.reasons(keys)
    for facts, expected in FIXED[case].items():
        index = COMBINATIONS.index(facts)
        assert set(looked_up[index]) == expected, facts
        assert set(from_memory[index]) == expected, facts
