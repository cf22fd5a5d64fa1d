"""Durations and days typed as people write them (flows/parse.py)."""

from __future__ import annotations

from datetime import date

import pytest

from flows.rules.parse import Duration, find_due, length_months, parse_day, parse_duration

TODAY = date(2026, 12, 2)  # a Wednesday


@pytest.mark.parametrize(
    ("typed", "minutes"),
    [
        ("6.5 hours", 390),
        ("6,5 hours", 390),
        ("1h30", 90),
        ("1h 30m", 90),
        ("1 hour 30 minutes", 90),
        ("1 hr and 15 mins", 75),
        ("90 min", 90),
        ("90 mins", 90),
        ("90m", 90),
        ("2 hrs", 120),
        ("2hrs", 120),
        ("2 h", 120),
        ("1.5h", 90),
        ("1½ h", 90),
        ("an hour", 60),
        ("an hour and a half", 90),
        ("half an hour", 30),
        ("one and a half hours", 90),
        ("two hours", 120),
        ("forty-five minutes", 45),
        ("about 45 minutes", 45),
        ("45", 45),
        ("1.5", 90),
        ("1:30", 90),
        ("  3 HOURS ", 180),
    ],
)
def test_durations_as_people_write_them(typed: str, minutes: int) -> None:
    assert parse_duration(typed) == Duration(minutes)


@pytest.mark.parametrize("typed", ["half a day", "a full day", "all day", "a day", "two days", "the whole morning"])
def test_a_day_or_part_of_one_is_asked_about(typed: str) -> None:
    parsed = parse_duration(typed)
    assert parsed.minutes is None and parsed.vague


@pytest.mark.parametrize("typed", ["", "purple monkey", "0", "0 hours", "-", "🙂", "hours", "9" * 5000])
def test_what_is_not_a_duration(typed: str) -> None:
    assert parse_duration(typed) == Duration()


def test_a_bare_number_can_mean_hours() -> None:
    assert parse_duration("7", bare="hours") == Duration(420)


@pytest.mark.parametrize(
    ("typed", "day"),
    [
        ("today", TODAY),
        ("Yesterday", date(2026, 12, 1)),
        ("the day before yesterday", date(2026, 11, 30)),
        ("3 days ago", date(2026, 11, 29)),
        ("a week ago", None),
        ("1 week ago", date(2026, 11, 25)),
        ("Monday", date(2026, 11, 30)),
        ("last wednesday", date(2026, 11, 25)),
        ("fri", date(2026, 11, 27)),
        ("18 Nov", date(2026, 11, 18)),
        ("18th November", date(2026, 11, 18)),
        ("November 18", date(2026, 11, 18)),
        ("18 Dec", date(2025, 12, 18)),  # no year, in the past: last December
        ("18/11", date(2026, 11, 18)),
        ("18/11/2026", date(2026, 11, 18)),
        ("2026-11-18", date(2026, 11, 18)),
        ("31 Feb", None),
        ("soon", None),
    ],
)
def test_days_in_the_past(typed: str, day: date | None) -> None:
    assert parse_day(typed, TODAY) == day


@pytest.mark.parametrize(
    ("typed", "day"),
    [
        ("by 18 Dec", date(2026, 12, 18)),
        ("18 Nov", date(2027, 11, 18)),
        ("Friday", date(2026, 12, 4)),
        ("by next wednesday", date(2026, 12, 9)),
        ("in 2 weeks", date(2026, 12, 16)),
        ("tomorrow", date(2026, 12, 3)),
    ],
)
def test_days_in_the_future(typed: str, day: date) -> None:
    assert parse_day(typed, TODAY, future=True) == day


@pytest.mark.parametrize(
    ("typed", "months"),
    [("Six months", 6), ("12 weeks", 3), ("1 year", 12), ("Short sessions", None), (None, None)],
)
def test_a_programme_length(typed: str | None, months: int | None) -> None:
    assert length_months(typed) == months


@pytest.mark.parametrize(
    ("typed", "day"),
    [
        ("I will hold a listening session by 18 Dec and note what changes.", date(2026, 12, 18)),
        ("Agree ground rules at the start of the meeting on Friday", date(2026, 12, 4)),
        ("Book a 1:1 with each band 6 in 2 weeks", date(2026, 12, 16)),
        ("Ask for feedback next week.", date(2026, 12, 9)),
        ("Finish the budget review by 31/01/2027, then share it", date(2027, 1, 31)),
        ("Be calmer in meetings.", None),
        ("I did it by hand on the ward", None),
        ("by yesterday", None),
    ],
)
def test_the_date_an_action_names(typed: str, day: date | None) -> None:
    assert find_due(typed, TODAY) == day
