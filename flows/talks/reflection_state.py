"""A reflection's stored state and its steps (shared by the reflection's modules and /history)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field

from flows.core.guard import GuardedState
from flows.core.replies import Button
from flows.talks.common import PROMPTS

LATER_BUTTON = Button("Later", "later")
MINUTES = ["5", "10", "15", "30"]
SKIPPED = "(skipped)"


class Answer(BaseModel):
    prompt: str
    answer: str


class ReflectState(GuardedState):
    suggested: str = ""
    group: str = ""  # the area being browsed
    hits: list[str] = Field(default_factory=list)  # search results
    searched: str = ""  # what was searched for, when it found nothing
    item: str = ""
    stage: str = ""
    model: str = "rolfe"
    answers: list[Answer] = Field(default_factory=list)
    following: bool = False  # the follow-up to a short answer is being asked
    followed: bool = False  # the follow-up has been asked once
    rating: int | None = None
    minutes: int | None = None
    extras: list[str] = Field(default_factory=list)


class R(StrEnum):
    """The steps of a reflection."""

    OFFER = "offer"
    FOCUS = "focus"
    BROWSE = "browse"
    SEARCH = "search"
    ANSWER = "answer"
    IDENTIFIERS = "identifiers"
    RATING = "rating"
    MINUTES = "minutes"
    EXTRAS = "extras"
    CONFIRM = "confirm"


def progress(s: ReflectState) -> str | None:
    """How far the draft got; None while there is nothing to lose (no answers, or every one skipped)."""
    if not s.item or all(a.answer == SKIPPED for a in s.answers):
        return None
    return f"{len(s.answers)} of {len(PROMPTS[s.model])} answered"
