"""Every kind of ledger event reaches webhook receivers under a documented `type`
(README "Receive changes"): a kind added to the ledger without one would stop the dispatcher."""

from __future__ import annotations

import pytest

from assent.domain.model import EventKind
from assent.domain.webhooks import ALL, SUBSCRIBABLE, EventType, event_type, normalize_event_types, wants


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        (EventKind.STATUS, "subscription.changed"),
        (EventKind.WIDE_OPT_OUT, "unsubscribe_all.changed"),
        (EventKind.UNDELIVERABLE, "delivery.changed"),
        (EventKind.CONFIRMATION, "confirmation.changed"),
        (EventKind.ERASURE, "address.erased"),
        (EventKind.SOFT_BOUNCE, "delivery.changed"),
        (EventKind.ESP_RESUBSCRIBE, "resubscribe.reported"),
    ],
)
def test_each_ledger_kind_has_its_webhook_type(kind: EventKind, expected: str) -> None:
    assert event_type(kind.value).value == expected


def test_every_ledger_kind_is_covered_and_every_type_can_be_chosen() -> None:
    assert {event_type(kind.value) for kind in EventKind} == set(SUBSCRIBABLE)
    assert EventType.TEST not in SUBSCRIBABLE
    assert len(SUBSCRIBABLE) == len(set(SUBSCRIBABLE))  # delivery.changed is listed once


def test_an_endpoint_filter_receives_soft_bounces_as_delivery_changes() -> None:
    chosen, problems = normalize_event_types(["delivery.changed", "resubscribe.reported"])
    assert problems == []
    assert wants(chosen, EventKind.SOFT_BOUNCE.value)
    assert wants(chosen, EventKind.ESP_RESUBSCRIBE.value)
    assert not wants(chosen, EventKind.STATUS.value)
    assert wants([ALL], EventKind.ESP_RESUBSCRIBE.value)
