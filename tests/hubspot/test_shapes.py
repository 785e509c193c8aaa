"""The batch answers' JSON, written as text (`shapes.StatusWriter`, `shapes.envelope_answer`),
is byte for byte what `Answer` makes of the dict shapes the other operations answer."""

from __future__ import annotations

import datetime as dt

import pydantic_core

from assent.actions.hubspot import ItemError, SuccessReason
from assent.domain.model import Channel, Status
from assent.hubspot import shapes
from assent.services.hubspot_views import StatusView, TypeView

_AT = dt.datetime(2026, 3, 4, 5, 6, 7, 891234, tzinfo=dt.UTC)


def _type(name: str, unit: int = 0) -> TypeView:
    return TypeView(7, unit, Channel.SMS, name, "", None, True, _AT, _AT)


VIEWS = [
    StatusView(_type("Newsletter"), Status.NOT_SPECIFIED),
    StatusView(
        _type('Nyheter "å" \\ \n\t\x01 ✓ 𝄞', 3), Status.SUBSCRIBED, "CONSENT_WITH_NOTICE", "at the fair", "FORM", _AT
    ),
    StatusView(_type("Offers"), Status.UNSUBSCRIBED, None, 'said "no" 🙅', "HUBSPOT_API", _AT + dt.timedelta(hours=1)),
]


def test_status_json_is_the_dict_shape() -> None:
    write = shapes.StatusWriter()
    for view in VIEWS:
        for reason in (None, *SuccessReason):
            for subscriber in ("+46701234567", "åsa@exämple.se", 'we"ird\\@x'):
                text = write(view, shapes.subscriber_json(subscriber), reason)
                assert text.encode() == pydantic_core.to_json(shapes.public_status(view, subscriber, reason))


def test_envelope_answer_is_the_dict_shape() -> None:
    errors = [ItemError(3, "nö@", "INVALID_ADDRESS", 'not an "address"', "subscriberIdString")]
    write = shapes.StatusWriter()
    for found in ([], errors):
        answer = shapes.envelope_answer([write(VIEWS[1], shapes.subscriber_json("a@b.se"))], _AT, found)
        body = shapes.envelope([shapes.public_status(VIEWS[1], "a@b.se")], _AT, found)
        body["completedAt"] = shapes.iso(_AT)
        expected = shapes.Answer(body, status_code=207 if found else 200)
        assert answer.status_code == expected.status_code
        assert answer.headers["content-type"] == expected.headers["content-type"]
        completed = pydantic_core.from_json(answer.body)["completedAt"]
        assert answer.body.replace(completed.encode(), shapes.iso(_AT).encode()) == expected.body
