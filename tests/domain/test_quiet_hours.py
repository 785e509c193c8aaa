"""Quiet hours (R28) as tables: the window rule and the zones of a number. No database, no clock."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from assent.domain.quiet_hours import QuietWindow, check_window, local_times, parse_window, window_dict, zone_names

STOCKHOLM = ZoneInfo("Europe/Stockholm")
NEW_YORK = ZoneInfo("America/New_York")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")
DAYTIME = QuietWindow(dt.time(8), dt.time(21))
NO_SUNDAYS = QuietWindow(dt.time(8), dt.time(21), frozenset(range(6)))
NIGHT = QuietWindow(dt.time(22), dt.time(6))


def at(zone: ZoneInfo, *parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=zone)  # type: ignore[misc]


def utc(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=dt.UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("window", "local", "allowed", "defer_until"),
    [
        # 2026-06-10 is a Wednesday, 2026-06-14 a Sunday; Stockholm is UTC+2 in summer
        (DAYTIME, at(STOCKHOLM, 2026, 6, 10, 12, 0), True, None),
        (DAYTIME, at(STOCKHOLM, 2026, 6, 10, 8, 0), True, None),  # opening minute is inside
        (DAYTIME, at(STOCKHOLM, 2026, 6, 10, 21, 0), False, utc(2026, 6, 11, 6, 0)),  # closing minute is outside
        (DAYTIME, at(STOCKHOLM, 2026, 6, 10, 7, 59), False, utc(2026, 6, 10, 6, 0)),
        (DAYTIME, at(STOCKHOLM, 2026, 6, 10, 23, 30), False, utc(2026, 6, 11, 6, 0)),
        (NO_SUNDAYS, at(STOCKHOLM, 2026, 6, 13, 22, 0), False, utc(2026, 6, 15, 6, 0)),  # Saturday night → Monday
        (NO_SUNDAYS, at(STOCKHOLM, 2026, 6, 14, 12, 0), False, utc(2026, 6, 15, 6, 0)),  # Sunday noon
        (NO_SUNDAYS, at(STOCKHOLM, 2026, 6, 15, 9, 0), True, None),
        # across midnight, counted on the day it opens
        (NIGHT, at(STOCKHOLM, 2026, 6, 10, 23, 0), True, None),
        (NIGHT, at(STOCKHOLM, 2026, 6, 11, 5, 59), True, None),
        (NIGHT, at(STOCKHOLM, 2026, 6, 11, 12, 0), False, utc(2026, 6, 11, 20, 0)),
        # winter time: Stockholm is UTC+1
        (DAYTIME, at(STOCKHOLM, 2026, 1, 14, 6, 0), False, utc(2026, 1, 14, 7, 0)),
        # the night the clocks go forward (2026-03-29, 02:00 → 03:00)
        (QuietWindow(dt.time(9), dt.time(17)), at(STOCKHOLM, 2026, 3, 29, 1, 0), False, utc(2026, 3, 29, 7, 0)),
    ],
)
def test_it_checks_one_zone(window: QuietWindow, local: dt.datetime, allowed: bool, defer_until: dt.datetime | None) -> None:
    verdict = check_window(window, [local])
    assert (verdict.allowed, verdict.defer_until) == (allowed, defer_until)


@pytest.mark.parametrize(
    ("moment", "allowed", "defer_until"),
    [
        # 15:00 UTC: 11:00 in New York, 08:00 in Los Angeles — both inside
        (utc(2026, 6, 10, 15, 0), True, None),
        # 13:00 UTC: 09:00 in New York but 06:00 in Los Angeles — wait for LA's 08:00
        (utc(2026, 6, 10, 13, 0), False, utc(2026, 6, 10, 15, 0)),
        # 02:00 UTC: 22:00 New York (closed), 19:00 Los Angeles — next morning in LA
        (utc(2026, 6, 11, 2, 0), False, utc(2026, 6, 11, 15, 0)),
    ],
)
def test_the_most_restrictive_of_several_zones_wins(moment: dt.datetime, allowed: bool, defer_until: dt.datetime | None) -> None:
    verdict = check_window(DAYTIME, [moment.astimezone(NEW_YORK), moment.astimezone(LOS_ANGELES)])
    assert (verdict.allowed, verdict.defer_until) == (allowed, defer_until)


def test_windows_that_never_meet_defer_to_no_moment() -> None:
    # one hour a day, in zones twelve hours apart: never open in both at once
    window = QuietWindow(dt.time(9), dt.time(10))
    moment = utc(2026, 6, 10, 0, 0)
    verdict = check_window(window, [moment.astimezone(ZoneInfo("Asia/Tokyo")), moment.astimezone(ZoneInfo("America/Chicago"))])
    assert (verdict.allowed, verdict.defer_until) == (False, None)


@pytest.mark.parametrize(
    ("number", "names"),
    [
        ("+46701234567", ("Europe/Stockholm",)),
        ("+12125551234", ("America/New_York",)),
        ("+33612345678", ("Europe/Paris",)),
        ("+999123456", ("UTC",)),  # no prefix known
    ],
)
def test_it_takes_zones_from_phonenumbers(number: str, names: tuple[str, ...]) -> None:
    assert zone_names(number) == names


def test_a_number_spanning_several_zones_gets_all_of_them() -> None:
    names = zone_names("+18005551234")  # a toll-free NANP number: every zone of the plan
    assert len(names) > 5
    assert {"America/New_York", "Pacific/Honolulu"} <= set(names)
    assert len(local_times(utc(2026, 6, 10, 12, 0), "+18005551234")) == len(names)


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        ({"start": "08:00", "end": "21:00"}, None),
        ({"start": "08:00", "end": "21:00", "days": ["mon", "tue", "wed", "thu", "fri", "sat"]}, None),
        ({"start": "8", "end": "21:00"}, "start and end are times of day, HH:MM"),
        ({"end": "21:00"}, "start and end are times of day, HH:MM"),
        ({"start": "08:00", "end": "21:00", "days": []}, "a window needs at least one day"),
        ({"start": "08:00", "end": "21:00", "days": ["funday"]}, "'funday' is not a day; use mon, tue, wed, thu, fri, sat, sun"),
    ],
)
def test_it_parses_a_stored_window(raw: dict[str, object], error: str | None) -> None:
    if error is None:
        window = parse_window(raw)
        assert window is not None
        assert parse_window(window_dict(window)) == window
    else:
        with pytest.raises(ValueError, match=error.replace("(", r"\(")):
            parse_window(raw)
