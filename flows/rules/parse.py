"""Durations and days typed as people write them, as pure functions: "6.5 hours", "1h30", "90 min",
"2 hrs", "an hour and a half"; "today", "yesterday", "last Tuesday", "18 Dec", "18/12/2026"."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

WORDS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "forty five": 45,
    "fifty": 50,
    "sixty": 60,
    "ninety": 90,
}
VAGUE = re.compile(
    r"\b(half|½|full|whole|all)[ -]?(a |the )?(day|morning|afternoon|week)\b|\b(a|one|two|three) days?\b"
)
_WORD = re.compile(r"(?<!\w)(" + "|".join(sorted((re.escape(w) for w in WORDS), key=len, reverse=True)) + r")(?=½|\b)")
_NUM = r"(\d{1,6}(?:[.,]\d{1,3})?|\d{0,6}\s*½)"
_HOURS = r"(?:hours?|hrs?|h)"
_MINUTES = r"(?:minutes?|mins?|m)"
_ABOUT = r"(?:about |around |roughly |approx\.? )?"


@dataclass(frozen=True)
class Duration:
    """What a typed duration meant: ``minutes``, or ``vague`` (e.g. "half a day": ask how many hours)."""

    minutes: int | None = None
    vague: str = ""


def _number(text: str) -> float:
    text = text.strip().replace(",", ".")
    if text.endswith("½"):
        whole = text[:-1].strip()
        return (float(whole) if whole else 0) + 0.5
    return float(text)


def parse_duration(text: str, bare: str = "minutes") -> Duration:
    """A duration in minutes. A bare whole number is in ``bare`` units ("45": minutes); a bare decimal is
    hours ("1.5"). A day or part of one is vague: people's days differ, so the caller asks for hours."""
    t = " ".join(text.lower().replace("-", " ").split()).replace("half an hour", "30 min")
    t = t.replace(" and a half", "½").replace("a half", "½")
    if m := VAGUE.search(t):
        return Duration(vague=m.group(0))
    t = _WORD.sub(lambda m: str(WORDS[m.group(1)]), t)
    t = re.sub(r"(\d+) (hours?|hrs?)½", r"\1½ \2", t)
    if m := re.fullmatch(_ABOUT + r"(\d{1,2}):(\d{2})", t):
        return _checked(int(m.group(1)) * 60 + int(m.group(2)))
    hm = re.fullmatch(rf"{_ABOUT}{_NUM}\s*{_HOURS}\.?(?:\s*(?:and\s*)?(\d{{1,4}})\s*{_MINUTES}?\.?)?", t)
    if hm:
        return _checked(round(_number(hm.group(1)) * 60) + int(hm.group(2) or 0))
    mins = re.fullmatch(rf"{_ABOUT}{_NUM}\s*{_MINUTES}\.?", t)
    if mins:
        return _checked(round(_number(mins.group(1))))
    bare_number = re.fullmatch(rf"{_ABOUT}{_NUM}", t)
    if bare_number:
        value = _number(bare_number.group(1))
        as_hours = bare == "hours" or not value.is_integer()
        return _checked(round(value * 60) if as_hours else int(value))
    return Duration()


def _checked(minutes: int) -> Duration:
    return Duration(minutes) if minutes > 0 else Duration()


_MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
MONTHS = {m: i for i, m in enumerate(_MONTH_NAMES, 1)}
DAY_NAMES = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


def parse_day(text: str, today: date, *, future: bool = False) -> date | None:
    """A day typed as people write it. Without a year, and for weekday names, the nearest such day in the
    past (``future``: in the future, e.g. "by 18 Dec"). None when it can't be read."""
    t = " ".join(text.lower().replace(",", " ").split()).removeprefix("by ").removeprefix("on ").strip()
    relative = {"today": 0, "yesterday": -1, "tomorrow": 1, "day before yesterday": -2, "the day before yesterday": -2}
    if t in relative:
        return today + timedelta(days=relative[t])
    if m := re.fullmatch(r"(\d{1,3}) (day|week)s? (ago|from now|time)", t):
        days = int(m.group(1)) * (7 if m.group(2) == "week" else 1)
        return today + timedelta(days=-days if m.group(3) == "ago" else days)
    if m := re.fullmatch(r"in (\d{1,3}) (day|week)s?", t):
        return today + timedelta(days=int(m.group(1)) * (7 if m.group(2) == "week" else 1))
    if m := re.fullmatch(r"(last |this |next )?(mon|tues?|wed(?:nes)?|thu(?:rs?)?|fri|sat(?:ur)?|sun)(?:day)?", t):
        weekday = next(i for i, d in enumerate(DAY_NAMES) if d.startswith(m.group(2)[:3]))
        if future or m.group(1) == "next ":
            return today + timedelta(days=(weekday - today.weekday() - 1) % 7 + 1)
        return today - timedelta(days=(today.weekday() - weekday - 1) % 7 + 1)
    for fmt in ("%d/%m/%Y", "%d-%m-%Y", "%Y-%m-%d", "%d/%m/%y", "%d %B %Y", "%d %b %Y"):
        try:
            return datetime.strptime(t, fmt).date()
        except ValueError:
            continue
    return _day_month(t, today, future)


def _day_month(t: str, today: date, future: bool) -> date | None:
    """ "18 Dec", "18th December", "December 18", "18/12": the nearest such day back (or on, ``future``)."""
    day = month = None
    if m := re.fullmatch(r"(\d{1,2})(?:st|nd|rd|th)? (?:of )?([a-z]{3,9})\.?", t):
        day, month = int(m.group(1)), MONTHS.get(m.group(2)[:3])
    elif m := re.fullmatch(r"([a-z]{3,9})\.? (\d{1,2})(?:st|nd|rd|th)?", t):
        day, month = int(m.group(2)), MONTHS.get(m.group(1)[:3])
    elif m := re.fullmatch(r"(\d{1,2})[/.-](\d{1,2})", t):
        day, month = int(m.group(1)), int(m.group(2))
    if day is None or month is None:
        return None
    for year in (today.year, today.year + (1 if future else -1)):
        try:
            found = date(year, month, day)
        except ValueError:
            return None
        if (found >= today) if future else (found <= today):
            return found
    return None


def length_months(text: str | None) -> int | None:
    """A programme's length in whole months, where the catalogue says it ("Six months", "12 weeks", "1 year")."""
    t = _WORD.sub(lambda m: str(WORDS[m.group(1)]), " ".join((text or "").lower().split()))
    if not (m := re.fullmatch(r"(\d{1,2}) (month|week|year)s?", t)):
        return None
    count = int(m.group(1))
    return {"month": count, "week": max(round(count / 4.35), 1), "year": count * 12}[m.group(2)]


_DUE = re.compile(r"\b(?:by|before|on|until|in)\s+(?:the\s+)?", re.IGNORECASE)


def find_due(text: str, today: date) -> date | None:
    """The date an action names, if it names one: "… by 18 Dec", "… by Friday", "… in 2 weeks", "next week".
    Only a day after today counts (it is when to ask how it went)."""
    lowered = text.lower()
    found: list[date] = []
    if re.search(r"\bnext week\b", lowered):
        found.append(today + timedelta(days=7))
    if re.search(r"\bnext month\b", lowered):
        found.append(today + timedelta(days=30))
    for m in _DUE.finditer(text):
        words = re.split(r"[\s]+", re.split(r"[.,;:!?()]", text[m.end() :], maxsplit=1)[0].strip())
        prefix = "in " if m.group(0).lower().startswith("in") else ""
        for n in range(min(len(words), 4), 0, -1):
            day = parse_day(prefix + " ".join(words[:n]), today, future=True)
            if day is not None and day > today:
                found.append(day)
                break
    return min(found) if found else None
