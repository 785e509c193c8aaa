"""The one mapping from provider feedback to a change (domain/feedback.py): pure, no database."""

from __future__ import annotations

import pytest

from assent.domain.feedback import (
    Catalog,
    EffectKind,
    FeedbackEvent,
    FeedbackKind,
    TypeRef,
    effect_of,
    metadata_for,
    metadata_id,
)
from assent.domain.model import Source

CATALOG = Catalog(types={3: TypeRef(3, 0), 7: TypeRef(7, 5)}, units={0, 5}, groups={4242: 7})
K = FeedbackKind
E = EffectKind


def ev(kind: FeedbackKind, **extra: object) -> FeedbackEvent:
    return FeedbackEvent("p", "id", kind, "a@example.com", **extra)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("event", "kind", "source", "unit", "type_id"),
    [
        (ev(K.HARD_BOUNCE), E.UNDELIVERABLE, Source.BOUNCE, None, None),
        (ev(K.SOFT_BOUNCE), E.SOFT_BOUNCE, Source.BOUNCE, None, None),
        (ev(K.COMPLAINT), E.WIDE_OPT_OUT, Source.SPAM_COMPLAINT, 0, None),
        (ev(K.COMPLAINT, business_unit_id=5), E.WIDE_OPT_OUT, Source.SPAM_COMPLAINT, 5, None),
        (ev(K.COMPLAINT, subscription_type_id=7), E.WIDE_OPT_OUT, Source.SPAM_COMPLAINT, 5, None),
        (ev(K.COMPLAINT, business_unit_id=99), E.WIDE_OPT_OUT, Source.SPAM_COMPLAINT, 0, None),
        (ev(K.UNSUBSCRIBE, subscription_type_id=3), E.TYPE_OPT_OUT, Source.ESP_UNSUBSCRIBE, 0, 3),
        (
            ev(K.UNSUBSCRIBE, subscription_type_id=99, business_unit_id=5),
            E.WIDE_OPT_OUT,
            Source.ESP_UNSUBSCRIBE,
            5,
            None,
        ),
        (ev(K.UNSUBSCRIBE), E.WIDE_OPT_OUT, Source.ESP_UNSUBSCRIBE, 0, None),
        (ev(K.UNSUBSCRIBE, group_id=4242), E.TYPE_OPT_OUT, Source.ESP_UNSUBSCRIBE, 5, 7),
        (ev(K.UNSUBSCRIBE, group_id=1, subscription_type_id=3), E.WIDE_OPT_OUT, Source.ESP_UNSUBSCRIBE, 0, None),
        (ev(K.GROUP_RESUBSCRIBE, group_id=4242), E.EVIDENCE, Source.ESP_UNSUBSCRIBE, 5, 7),
        (ev(K.DELIVERY), E.NOTHING, None, None, None),
        (ev(K.OTHER), E.NOTHING, None, None, None),
    ],
)
def test_it_maps_each_kind_of_feedback(
    event: FeedbackEvent, kind: EffectKind, source: Source | None, unit: int | None, type_id: int | None
) -> None:
    effect = effect_of(event, CATALOG)
    assert (effect.kind, effect.source, effect.business_unit_id, effect.subscription_type_id) == (
        kind, source, unit, type_id
    )  # fmt: skip


def test_a_resubscribe_from_a_provider_never_changes_a_status() -> None:
    for event in (ev(K.GROUP_RESUBSCRIBE), ev(K.GROUP_RESUBSCRIBE, subscription_type_id=3)):
        assert effect_of(event, CATALOG).kind is E.EVIDENCE


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12", 12),
        (12, 12),
        (["4"], 4),
        (" 4 ", 4),
        ("-1", None),
        (-1, None),
        (True, None),
        ("x", None),
        (None, None),
        ("9" * 13, None),
    ],
)
def test_it_reads_metadata_ids_as_providers_return_them(raw: object, expected: int | None) -> None:
    assert metadata_id(raw) == expected


def test_the_metadata_round_trips_through_every_shape() -> None:
    shapes = metadata_for(5, 7)
    assert metadata_id(shapes["sendgrid"]["custom_args"]["assent_subscription_type_id"]) == 7  # type: ignore[index]
    tags = {t["Name"]: [t["Value"]] for t in shapes["ses"]["Tags"]}  # type: ignore[index]
    assert metadata_id(tags["assent_business_unit_id"]) == 5
    assert "assent_subscription_type_id" not in metadata_for(0, None)["values"]  # type: ignore[operator]
