"""Quiet hours (SPEC R28): an optional sending window per business unit and channel (SMS,
WhatsApp), in the recipient's local time.

Pure functions. The caller reads the clock and passes the moment in; the recipient's time
zones come from the number (phonenumbers' time-zone data). A number whose prefix spans
several zones (a North American number without an area code match, a Russian mobile…) is
inside the window only when it is inside in every one of them: the most restrictive wins.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from phonenumbers.tzdata import TIMEZONE_DATA, TIMEZONE_LONGEST_PREFIX

from assent.domain.model import Channel

#: channels whose decisions may be held back by quiet hours
QUIET_HOURS_CHANNELS = frozenset({Channel.SMS, Channel.WHATSAPP})
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_UTC = ZoneInfo("UTC")
#: how far ahead the next opening is looked for (a window open one day a week is found)
_HORIZON_DAYS = 8


@dataclass(frozen=True, slots=True)
class QuietWindow:
    """Sending is allowed from `start` to `end` local time on `days` (0 = Monday).

    `end` before `start` is a window across midnight (22:00–06:00), counted on the day it
    opens. `start == end` is the whole day.
    """

    start: dt.time
    end: dt.time
    days: frozenset[int] = frozenset(range(7))

    def _opening(self, day: dt.date, zone: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
        opens = dt.datetime.combine(day, self.start, tzinfo=zone)
        close_day = day if self.end > self.start else day + dt.timedelta(days=1)
        closes = dt.datetime.combine(close_day, self.end, tzinfo=zone)
        return opens, closes

    def is_open(self, local: dt.datetime) -> bool:
        """Is `local` (an aware time in the recipient's zone) inside the window?"""
        day = local.date()
        for candidate in (day - dt.timedelta(days=1), day):
            if candidate.weekday() not in self.days:
                continue
            opens, closes = self._opening(candidate, local.tzinfo or _UTC)
            if opens <= local < closes:
                return True
        return False

    def next_openings(self, local: dt.datetime) -> list[dt.datetime]:
        """The window's openings after `local`, in its zone, over the next days."""
        zone = local.tzinfo or _UTC
        found = []
        for ahead in range(_HORIZON_DAYS + 1):
            day = local.date() + dt.timedelta(days=ahead)
            if day.weekday() in self.days:
                opens, _ = self._opening(day, zone)
                if opens > local:
                    found.append(opens)
        return found


@dataclass(frozen=True, slots=True)
class QuietVerdict:
    allowed: bool
    #: when sending may start (UTC), if not allowed now; None when the window never opens
    defer_until: dt.datetime | None = None


ALLOWED = QuietVerdict(True)


def check_window(window: QuietWindow, local_times: Sequence[dt.datetime]) -> QuietVerdict:
    """May a message be sent now, given the recipient's local time in each of its zones?

    Allowed only if every zone is inside the window; otherwise `defer_until` is the first
    moment every zone is (one of the zones' openings, since that is where they can meet).
    """
    if all(window.is_open(local) for local in local_times):
        return ALLOWED
    openings = {opening.astimezone(dt.UTC) for local in local_times for opening in window.next_openings(local)}
    candidates = sorted(openings)
    for moment in candidates:
        if all(window.is_open(moment.astimezone(local.tzinfo)) for local in local_times):
            return QuietVerdict(False, moment)
    return QuietVerdict(False, None)


# --- the recipient's zones ------------------------------------------------------------------


def zone_names(e164: str) -> tuple[str, ...]:
    """phonenumbers' time zones for a number (its longest known prefix), as names.

    `Etc/Unknown` (no prefix known) is read as UTC.
    """
    digits = e164.removeprefix("+")
    for length in range(min(TIMEZONE_LONGEST_PREFIX, len(digits)), 0, -1):
        names = TIMEZONE_DATA.get(digits[:length])
        if names is not None:
            known = tuple(name for name in names if name != "Etc/Unknown")
            return known or ("UTC",)
    return ("UTC",)


@lru_cache(maxsize=4096)
def zones(names: tuple[str, ...]) -> tuple[ZoneInfo, ...]:
    return tuple(ZoneInfo(name) for name in names)


def local_times(now: dt.datetime, e164: str) -> list[dt.datetime]:
    """`now` (aware) in each of the number's zones."""
    return [now.astimezone(zone) for zone in zones(zone_names(e164))]


# --- stored form ------------------------------------------------------------------------------


def parse_window(raw: Mapping[str, Any] | None) -> QuietWindow | None:
    """A window as stored and sent over the API: {"start": "08:00", "end": "21:00",
    "days": ["mon", …]}; None (or absent) means no quiet hours. Raises ValueError."""
    if raw is None:
        return None
    try:
        start = dt.time.fromisoformat(str(raw["start"]))
        end = dt.time.fromisoformat(str(raw["end"]))
    except (KeyError, ValueError):
        raise ValueError("start and end are times of day, HH:MM") from None
    if start.tzinfo or end.tzinfo:
        raise ValueError("start and end are local times, without a zone")
    days_raw = raw.get("days", list(DAY_NAMES))
    if not isinstance(days_raw, list | tuple):
        raise ValueError("days is a list of mon … sun")
    days = set()
    for name in days_raw:
        if str(name).lower() not in DAY_NAMES:
            raise ValueError(f"{name!r} is not a day; use mon, tue, wed, thu, fri, sat, sun")
        days.add(DAY_NAMES.index(str(name).lower()))
    if not days:
        raise ValueError("a window needs at least one day")
    return QuietWindow(start, end, frozenset(days))


def window_dict(window: QuietWindow) -> dict[str, Any]:
    return {
        "start": window.start.strftime("%H:%M"),
        "end": window.end.strftime("%H:%M"),
        "days": [DAY_NAMES[d] for d in sorted(window.days)],
    }
