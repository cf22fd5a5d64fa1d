"""When nudges fall due: rules in the user's local time (``zoneinfo``), answers in UTC.

Pure functions, no database: a weekly slot is "Monday 08:30 in Europe/London" every week, whatever
the clocks do, never "+7 days" in UTC. A slot in a skipped hour (clocks forward) moves on by the gap
(01:30 on the last Sunday of March in London is 02:30 BST); a slot in a repeated hour (clocks back)
happens once, at its first occurrence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

Round = tuple[tuple[int, int], tuple[int, int]]  # an appraisal round: (month, day) to (month, day)
APPRAISAL_CHECKPOINTS = (42, 14, 3)  # days before the appraisal: about six weeks, two weeks, three days
EVENING = time(18, 30)


def hhmm(text: str) -> time:
    hour, minute = text.split(":")
    return time(int(hour), int(minute))


def at_local(day: date, moment: time, zone: ZoneInfo) -> datetime:
    """``day`` at ``moment`` in ``zone``, in UTC. A time the clocks skip is moved on by the gap."""
    # fold=0 reads a repeated hour as its first occurrence, and a skipped time with the offset from
    # before the change, which lands the same distance after the gap (01:30 -> 02:30 BST).
    return datetime.combine(day, moment, tzinfo=zone).astimezone(UTC)


def aware(moment: datetime) -> datetime:
    """A stored time as UTC-aware (SQLite hands times back without their zone)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def local(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone)


def week_start(instant: datetime, zone: ZoneInfo) -> datetime:
    """Monday 00:00 local of the week ``instant`` falls in, in UTC."""
    day = local(instant, zone).date()
    return at_local(day - timedelta(days=day.weekday()), time(0), zone)


def next_weekly(after: datetime, weekday: int, moment: time, zone: ZoneInfo) -> datetime:
    """The first ``weekday`` at ``moment`` local strictly after ``after``."""
    today = local(after, zone).date()
    day = today + timedelta(days=(weekday - today.weekday()) % 7)
    while (slot := at_local(day, moment, zone)) <= after:
        day += timedelta(days=7)
    return slot


@dataclass(frozen=True)
class Quiet:
    """Quiet hours in local time, e.g. 21:00-08:00 (across midnight) or 13:00-14:00."""

    start: time
    end: time

    def contains(self, moment: time) -> bool:
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end

    def defer(self, instant: datetime, zone: ZoneInfo) -> datetime:
        """``instant``, or the end of the quiet hours it falls in."""
        wall = local(instant, zone)
        if not self.contains(wall.time().replace(tzinfo=None)):
            return instant
        day = wall.date()
        if self.start > self.end and wall.time() >= self.start:
            day += timedelta(days=1)  # late evening: quiet until tomorrow morning
        return at_local(day, self.end, zone)


def same_time_next_day(instant: datetime, zone: ZoneInfo) -> datetime:
    wall = local(instant, zone)
    return at_local(wall.date() + timedelta(days=1), wall.time().replace(tzinfo=None), zone)


def this_evening(now: datetime, zone: ZoneInfo) -> datetime | None:
    """18:30 today, local, if that is at least half an hour away."""
    evening = at_local(local(now, zone).date(), EVENING, zone)
    return evening if evening - now >= timedelta(minutes=30) else None


def appraisal_checkpoints(appraisal: date, moment: time, zone: ZoneInfo) -> list[tuple[int, datetime]]:
    """(days before, instant) of each countdown nudge, earliest first."""
    return [(days, at_local(appraisal - timedelta(days=days), moment, zone)) for days in APPRAISAL_CHECKPOINTS]


def parse_round(text: str | None) -> Round | None:
    """An operator's appraisal round, "MM-DD..MM-DD" (e.g. "04-01..06-30"), as ((m, d), (m, d))."""
    if not text:
        return None
    try:
        first, last = text.split("..")
        (m1, d1), (m2, d2) = (tuple(int(x) for x in part.strip().split("-")) for part in (first, last))
        date(2024, m1, d1), date(2024, m2, d2)  # a leap year, so 02-29 is allowed
    except ValueError:
        raise ValueError(f"appraisal round {text!r} is not MM-DD..MM-DD, e.g. 04-01..06-30") from None
    return (m1, d1), (m2, d2)


def _on(year: int, month_day: tuple[int, int]) -> date:
    month, day = month_day
    try:
        return date(year, month, day)
    except ValueError:  # 29 February in a common year
        return date(year, month, day - 1)


def round_window(today: date, round_: Round) -> tuple[date, date]:
    """The current or next appraisal round's first and last day."""
    for year in (today.year - 1, today.year, today.year + 1):
        first = _on(year, round_[0])
        last = _on(year if round_[1] >= round_[0] else year + 1, round_[1])
        if last >= today:
            return first, last
    raise AssertionError("unreachable: a round recurs every year")


def _of_day(text: str) -> int:
    return hhmm(text).hour * 60 + hhmm(text).minute


def make_room(start: str, end: str, time: str) -> tuple[str, str]:
    """Quiet hours that leave ``time`` out, keeping the larger part: they end at it, or start the quarter
    hour after it."""
    before = (_of_day(time) - _of_day(start)) % 1440
    after = (_of_day(end) - _of_day(time)) % 1440
    if before >= after:
        return start, time
    later = (_of_day(time) // 15 * 15 + 15) % 1440
    if (later - _of_day(time)) % 1440 >= after:  # nothing left of them after it
        return end, end
    return f"{later // 60:02d}:{later % 60:02d}", end
