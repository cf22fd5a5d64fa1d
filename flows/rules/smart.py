"""Draft SMART objectives for the personal development plan, as a pure function: specific (the area and
the statement for the user's stage), measurable (a rating one level up, evidenced in reflections),
achievable (one level at a time), relevant (from the self-assessment, and the course chosen for the area in
/develop, named with its date), time-bound (a review date)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flows.rules.scale import RATING_LABELS


@dataclass(frozen=True)
class Priority:
    unit: str  # the standard or domain id
    title: str
    score: float | None  # its average self-rating (1-5), None when not rated
    statement: str  # what the framework says at the user's stage, for the area or its first item
    programme: str = ""  # the course the user chose for this area in /develop, if they did
    programme_by: date | None = None  # the date they gave themselves to finish it


def target_level(score: float | None) -> int:
    """One level above where the user is now (at least Proficient, at most Exemplary)."""
    return min(max(int(score or 2) + 1, 3), 5)


def draft_objective(p: Priority, review: date, reflections: int = 3) -> str:
    """A draft SMART objective in plain words for the user to edit."""
    level = target_level(p.score)
    now = f" from {p.score:.1f}" if p.score is not None else ""
    statement = p.statement.rstrip(".")
    first = statement[:1].lower() + statement[1:] if statement else ""
    what = f", showing that I {first}" if first and not first.startswith(("i ", "the ", "a ")) else ""
    course = ""
    if p.programme:
        by = f" by {p.programme_by.day} {p.programme_by:%B %Y}" if p.programme_by else ""
        name = p.programme if p.programme.lower().startswith("the ") else f"the {p.programme}"
        course = f"; complete {name}{by} and use one thing I learn from it at work"
    return (
        f"By {review.day} {review:%B %Y}, move my self-rating for {p.title}{now} to {level} "
        f"({RATING_LABELS[level - 1]}){what}{course}; evidence it in at least {reflections} reflections "
        "and one piece of feedback, and review progress with my line manager halfway."
    )
