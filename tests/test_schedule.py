"""The nudge rules in local time: clock changes, other zones, quiet hours, appraisal rounds."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from flows.rules.schedule import (
    Quiet,
    appraisal_checkpoints,
    at_local,
    next_weekly,
    parse_round,
    round_window,
    same_time_next_day,
    this_evening,
    week_start,
)

LONDON, NEW_YORK = ZoneInfo("Europe/London"), ZoneInfo("America/New_York")
MONDAY, SUNDAY = 0, 6


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        (utc(2026, 3, 20), utc(2026, 3, 23, 8, 30)),  # GMT: 08:30 local is 08:30 UTC
        (utc(2026, 3, 27), utc(2026, 3, 30, 7, 30)),  # week of 29 March (clocks go forward): 08:30 BST
        (utc(2026, 10, 18), utc(2026, 10, 19, 7, 30)),  # still BST
        (utc(2026, 10, 24), utc(2026, 10, 26, 8, 30)),  # week of 25 October (clocks go back): 08:30 GMT
    ],
)
def test_monday_0830_london_stays_at_0830_local_across_clock_changes(after: datetime, expected: datetime) -> None:
    slot = next_weekly(after, MONDAY, time(8, 30), LONDON)
    assert slot == expected
    assert slot.astimezone(LONDON).time() == time(8, 30)


def test_a_weekly_slot_is_never_plus_seven_days_in_utc() -> None:
    first = next_weekly(utc(2026, 3, 20), MONDAY, time(8, 30), LONDON)
    second = next_weekly(first, MONDAY, time(8, 30), LONDON)
    assert (second - first).total_seconds() == 7 * 86400 - 3600  # the week the clocks went forward is shorter
    assert second.astimezone(LONDON).time() == time(8, 30)


def test_new_york_gets_its_own_local_time() -> None:
    # New York changes its clocks on 8 March and 1 November 2026, not with London.
    assert next_weekly(utc(2026, 3, 1), MONDAY, time(8, 30), NEW_YORK) == utc(2026, 3, 2, 13, 30)  # EST
    assert next_weekly(utc(2026, 3, 10), MONDAY, time(8, 30), NEW_YORK) == utc(2026, 3, 16, 12, 30)  # EDT
    assert next_weekly(utc(2026, 3, 27), MONDAY, time(8, 30), NEW_YORK) == utc(2026, 3, 30, 12, 30)


def test_a_slot_in_the_skipped_hour_moves_on_by_the_gap() -> None:
    # 01:30 on 29 March 2026 does not exist in London: the clocks jump from 01:00 to 02:00.
    slot = next_weekly(utc(2026, 3, 28), SUNDAY, time(1, 30), LONDON)
    assert slot == utc(2026, 3, 29, 1, 30)
    assert slot.astimezone(LONDON).strftime("%H:%M %Z") == "02:30 BST"


def test_a_slot_in_the_repeated_hour_happens_once_at_its_first_occurrence() -> None:
    # 01:30 on 25 October 2026 happens twice in London (BST, then GMT): the nudge is at the first.
    slot = next_weekly(utc(2026, 10, 24), SUNDAY, time(1, 30), LONDON)
    assert slot == utc(2026, 10, 25, 0, 30)
    following = next_weekly(slot, SUNDAY, time(1, 30), LONDON)
    assert following == utc(2026, 11, 1, 1, 30)  # not the second 01:30 an hour later


def test_quiet_hours_across_midnight() -> None:
    quiet = Quiet(time(21), time(8))
    assert quiet.defer(utc(2026, 1, 5, 22, 0), LONDON) == utc(2026, 1, 6, 8, 0)  # late evening: next morning
    assert quiet.defer(utc(2026, 1, 5, 6, 15), LONDON) == utc(2026, 1, 5, 8, 0)  # early morning: same day
    assert quiet.defer(utc(2026, 1, 5, 12, 0), LONDON) == utc(2026, 1, 5, 12, 0)  # daytime: unchanged
    assert quiet.defer(utc(2026, 7, 6, 20, 30), LONDON) == utc(2026, 7, 7, 7, 0)  # 21:30 BST -> 08:00 BST
    assert quiet.defer(utc(2026, 1, 5, 21, 0), LONDON) == utc(2026, 1, 6, 8, 0)  # the start is quiet
    assert quiet.defer(utc(2026, 1, 5, 8, 0), LONDON) == utc(2026, 1, 5, 8, 0)  # the end is not


def test_quiet_hours_within_a_day_and_off() -> None:
    lunch = Quiet(time(12), time(13))
    assert lunch.defer(utc(2026, 1, 5, 12, 30), LONDON) == utc(2026, 1, 5, 13, 0)
    assert lunch.defer(utc(2026, 1, 5, 22, 0), LONDON) == utc(2026, 1, 5, 22, 0)
    off = Quiet(time(0), time(0))
    assert off.defer(utc(2026, 1, 5, 3, 0), LONDON) == utc(2026, 1, 5, 3, 0)


def test_snooze_times() -> None:
    assert same_time_next_day(utc(2026, 3, 28, 9, 0), LONDON) == utc(2026, 3, 29, 8, 0)  # 09:00 GMT -> 09:00 BST
    assert this_evening(utc(2026, 1, 5, 9, 0), LONDON) == utc(2026, 1, 5, 18, 30)
    assert this_evening(utc(2026, 1, 5, 18, 10), LONDON) is None  # too close: not offered


def test_week_start_is_monday_midnight_local() -> None:
    assert week_start(utc(2026, 3, 31, 12), LONDON) == utc(2026, 3, 29, 23, 0)  # Monday 00:00 BST
    assert week_start(utc(2026, 3, 29, 12), LONDON) == utc(2026, 3, 23, 0, 0)  # Sunday: the week before


def test_appraisal_checkpoints_six_weeks_two_weeks_three_days() -> None:
    points = appraisal_checkpoints(date(2027, 3, 14), time(9), LONDON)
    assert [(d, p.date()) for d, p in points] == [
        (42, date(2027, 1, 31)),
        (14, date(2027, 2, 28)),
        (3, date(2027, 3, 11)),
    ]
    assert at_local(date(2027, 3, 11), time(9), LONDON) == points[-1][1]


def test_operator_appraisal_round() -> None:
    spring = parse_round("04-01..06-30")
    assert spring == ((4, 1), (6, 30))
    assert round_window(date(2026, 11, 30), spring) == (date(2027, 4, 1), date(2027, 6, 30))
    assert round_window(date(2026, 5, 10), spring) == (date(2026, 4, 1), date(2026, 6, 30))
    winter = parse_round("12-01..01-31")
    assert winter is not None
    assert round_window(date(2027, 1, 10), winter) == (date(2026, 12, 1), date(2027, 1, 31))
    assert parse_round(None) is None and parse_round("") is None
    with pytest.raises(ValueError, match="MM-DD"):
        parse_round("April to June")
    with pytest.raises(ValueError, match="MM-DD"):
        parse_round("04-31..06-30")
