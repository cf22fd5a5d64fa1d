"""The state and steps of /cpd, shared by the conversation (``flows/cpd.py``) and the log of activities
(``flows/cpd_log.py``)."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import BaseModel, Field

from flows.core.flow import Action, Ctx
from flows.core.guard import GuardedState
from flows.core.replies import Button
from flows.core.steps import Then


class C(StrEnum):
    """The steps of /cpd."""

    HOME = "home"
    WHAT = "what"
    IDENTIFIERS = "identifiers"
    MINUTES = "minutes"
    PARTICIPATORY = "participatory"
    LINK = "link"
    KIND = "kind"
    GOAL = "goal"
    PART_GOAL = "part_goal"
    COUNT = "count"
    PROGRAMME = "programme"
    END = "end"
    TARGETS = "targets"
    TARGET = "target"
    WHEN = "when"
    ACTIVITIES = "activities"
    ACTIVITY = "activity"
    DELETE = "delete"


class TargetLine(BaseModel):
    """A target as the summary and the list of targets show it."""

    id: int
    line: str
    kind: str = ""  # hours, reflections, coverage or programme
    done: bool = False  # marked finished


class ActivityLine(BaseModel):
    """A logged activity as the list shows it."""

    id: int
    line: str


class CpdState(GuardedState):
    schema_version: ClassVar[int] = 2  # 2: targets opened one at a time (their kind, finished or not)
    title: str = ""
    minutes: int = 0
    participatory: bool = False
    kind: Literal["", "hours", "reflections", "coverage", "programme"] = ""
    goal: int = 0  # minutes, or reflections a month
    part_goal: int = 0
    programme: str = ""
    ends_on: date | None = None
    items: list[str] = Field(default_factory=list)
    targets: list[TargetLine] = Field(default_factory=list)  # loaded when the summary or the list is shown
    done_on: date | None = None  # the day the activity happened (None: today)
    editing: int = 0  # the logged activity being corrected (0: a new one)
    redating: int = 0  # the target whose date is being changed (0: a new target's date is asked)
    target: int = 0  # the target opened from the list
    retargeting: int = 0  # the target whose hours (or reflections a month) are being changed
    page: int = 0  # of the list of logged activities, newest first
    activities: list[ActivityLine] = Field(default_factory=list)  # the page shown
    more: bool = False  # older activities beyond the page
    opened: ActivityLine | None = None  # the activity opened from the list


def cpd_progress(s: CpdState) -> str | None:
    return "not saved yet" if s.title else None


def back_button() -> Button:
    return Button("Back", "home")  # a new one each time: the engine signs each button it sends


def to(then: Then[CpdState], **values: object) -> Action[CpdState]:
    """A button that sets ``values`` in the state and goes to ``then`` (a step, or what to do)."""
    if unknown := set(values) - set(CpdState.model_fields):
        raise TypeError(f"CpdState has no fields {sorted(unknown)}")  # at import, not when tapped

    async def go(ctx: Ctx, s: CpdState, arg: str) -> None:
        for name, value in values.items():
            setattr(s, name, value)
        await (ctx.go(then) if isinstance(then, str) else then(ctx, s))

    return go
