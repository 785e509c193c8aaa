"""The one validation path for subscription types named in a request: does it exist, is it
on this channel (and, where the request is about one business unit, of that unit), is it
active where only active types may be chosen. The API, the pages, bulk jobs and signups
all ask `type_problem` / `check_types`, so each gives the same answer in the same words."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.engine import Connection

from assent.domain.model import Channel
from assent.services.errors import Collected, Invalid
from assent.services.state import SubscriptionType, load_types


@dataclass(frozen=True, slots=True)
class TypeProblem:
    reason: str
    code: str


def type_problem(
    found: SubscriptionType | None,
    type_id: int,
    channel: Channel,
    business_unit_id: int | None = None,
    *,
    active_only: bool = False,
) -> TypeProblem | None:
    """Why type `type_id` (`found`, or None when it does not exist) cannot be used here."""
    if found is None:
        return TypeProblem(f"subscription type {type_id} does not exist", "UNKNOWN_SUBSCRIPTION_TYPE")
    if business_unit_id is not None and (found.business_unit_id != business_unit_id or found.channel is not channel):
        return TypeProblem(
            f"subscription type {type_id} is not a {channel.value} type of business unit {business_unit_id}",
            "WRONG_SUBSCRIPTION_TYPE",
        )
    if found.channel is not channel:
        return TypeProblem(
            f"subscription type {type_id} is a {found.channel.value} type, not {channel.value}", "WRONG_CHANNEL"
        )
    if active_only and not found.is_active:
        return TypeProblem(f"subscription type {type_id} is archived", "TYPE_INACTIVE")
    return None


def check_types(
    conn: Connection,
    ids: Sequence[int],
    field_of: Callable[[int], str],
    channel: Channel,
    business_unit_id: int | None = None,
    *,
    active_only: bool = False,
    unique: bool = False,
    problems: Collected | None = None,
) -> dict[int, SubscriptionType]:
    """The named types, each checked (`type_problem`); every problem is collected under
    `field_of(index)` and raised together as a 422 — unless the caller passes its own
    `problems` to raise later with its other fields."""
    known = load_types(conn, set(ids))
    collected = problems if problems is not None else Collected()
    seen: set[int] = set()
    for index, type_id in enumerate(ids):
        problem = type_problem(known.get(type_id), type_id, channel, business_unit_id, active_only=active_only)
        if problem is not None:
            collected.add(field_of(index), problem.reason, problem.code)
        elif unique and type_id in seen:
            collected.add(field_of(index), f"subscription type {type_id} is named twice", "DUPLICATE")
        seen.add(type_id)
    if problems is None:
        collected.raise_if_any()
    return known


def check_type(
    conn: Connection,
    type_id: int,
    channel: Channel,
    business_unit_id: int | None = None,
    field: str = "subscription_type_id",
) -> SubscriptionType:
    """One type, checked; a 422 naming `field` otherwise."""
    found = load_types(conn, [type_id]).get(type_id)
    problem = type_problem(found, type_id, channel, business_unit_id)
    if problem is not None:
        raise Invalid(field, problem.reason, problem.code)
    assert found is not None
    return found
