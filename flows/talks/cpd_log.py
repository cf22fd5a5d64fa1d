"""The log of CPD activities inside /cpd: how long (typed as people write it), the day it happened, and the
list of what was logged, each opened to correct its title, time or day, or to delete it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from html import escape, unescape
from typing import Any

from sqlalchemy import delete, func, select

from flows.core.flow import Action, Ctx, Rows, Step
from flows.core.replies import Button
from flows.core.steps import confirm
from flows.rules.parse import parse_day, parse_duration
from flows.store.models import CpdActivity
from flows.talks.cpd_state import ActivityLine, C, CpdState, back_button
from flows.talks.progress import hours, local_today, long_date

PAGE = 8  # activities a page of the list shows
EARLIEST = date(2000, 1, 1)


def minutes_typed(text: str) -> int | str | None:
    """Typed minutes as people write them ("6.5 hours", "1h30", "90 min"); a day or half of one is asked
    about, since people's days differ."""
    parsed = parse_duration(text)
    if parsed.vague:
        return f"How many hours is {escape(parsed.vague)} for you? Type them, e.g. <i>3.5 hours</i>."
    if parsed.minutes is None:
        return "I couldn't read that. Type how long it took, e.g. <i>45 min</i>, <i>1h30</i> or <i>6.5 hours</i>."
    if parsed.minutes > 24 * 60:
        return "That's more than a day. Please log each day on its own (up to 24 hours)."
    return parsed.minutes


def day_words(day: date, today: date) -> str:
    if day == today:
        return "today"
    if day == today - timedelta(days=1):
        return "yesterday"
    return long_date(day)


def activity_line(a: CpdActivity, title: str, today: date) -> str:
    kind = "participatory" if a.participatory else "self-directed"
    return f"{day_words(a.done_on, today)}: {escape(title)} — {hours(a.minutes)} h, {kind}"


async def update_activity(ctx: Ctx, s: CpdState, **values: Any) -> None:
    """Correct the activity being edited and show it again."""
    a = await ctx.db.get(CpdActivity, s.editing)
    if a is not None and a.user_id == ctx.user.id:
        for name, value in values.items():
            setattr(a, name, value)
        await ctx.db.flush()
        ctx.say("Changed.")
    s.title, s.editing = "", 0
    await ctx.go(C.ACTIVITY if a is not None else C.ACTIVITIES)


async def after_minutes(ctx: Ctx, s: CpdState) -> None:
    if s.editing:
        await update_activity(ctx, s, minutes=s.minutes)
    else:
        await ctx.go(C.WHEN)


# the day it happened


def when_prompt(ctx: Ctx, s: CpdState) -> str:
    return "When was it? Tap one or type a day, e.g. <i>18 Nov</i>, <i>last Tuesday</i> or <i>3 days ago</i>."


def when_buttons(ctx: Ctx, s: CpdState) -> Rows:
    return [[Button("Today", "day", "0"), Button("Yesterday", "day", "1")], [back_button()]]


async def tapped_day(ctx: Ctx, s: CpdState, arg: str) -> None:
    await typed_day(ctx, s, "yesterday" if arg == "1" else "today")


async def typed_day(ctx: Ctx, s: CpdState, text: str) -> None:
    today = local_today(ctx.user, ctx.now)
    day = parse_day(text, today)
    if day is None:
        ctx.say("I couldn't read that day. Try <i>yesterday</i>, <i>18 Nov</i> or 18/11/2026.")
        return
    if day > today or day < EARLIEST:
        ctx.say("Please give a day that has already happened.")
        return
    s.done_on = day
    if s.editing:
        await update_activity(ctx, s, done_on=day)
    else:
        await ctx.go(C.PARTICIPATORY)


# the list, one activity, deleting it


async def load_page(ctx: Ctx, s: CpdState) -> None:
    rows = (
        await ctx.db.execute(
            select(CpdActivity)
            .where(CpdActivity.user_id == ctx.user.id)
            .order_by(CpdActivity.done_on.desc(), CpdActivity.id.desc())
            .offset(s.page * PAGE)
            .limit(PAGE + 1)
        )
    ).scalars()
    found = list(rows)
    today = local_today(ctx.user, ctx.now)
    s.activities = [ActivityLine(id=a.id, line=activity_line(a, _title(ctx, a), today)) for a in found[:PAGE]]
    s.more, s.opened, s.editing, s.title = len(found) > PAGE, None, 0, ""


def _title(ctx: Ctx, a: CpdActivity) -> str:
    return str(ctx.cipher.decrypt_json(a.title_enc))


async def list_prompt(ctx: Ctx, s: CpdState) -> str:
    count = await ctx.db.scalar(select(func.count()).select_from(CpdActivity).where(CpdActivity.user_id == ctx.user.id))
    if not s.activities:
        return "Nothing logged yet. <b>Log an activity</b> on the CPD summary adds one."
    head = f"<b>Your logged activities</b> ({count or 0}, newest first). Tap one to correct or delete it."
    return "\n".join([head, *(f"• {a.line}" for a in s.activities)])


def list_buttons(ctx: Ctx, s: CpdState) -> Rows:
    rows = [[Button(_label(a.line), "open", str(a.id))] for a in s.activities]
    paging = ([Button("Newer", "page", str(s.page - 1))] if s.page else []) + (
        [Button("Older", "page", str(s.page + 1))] if s.more else []
    )
    return [*rows, *([paging] if paging else []), [back_button()]]


def _label(line: str) -> str:
    text = unescape(line)
    return text if len(text) <= 56 else text[:55].rstrip() + "…"


async def turn_page(ctx: Ctx, s: CpdState, arg: str) -> None:
    s.page = max(int(arg), 0) if arg.isdigit() else 0
    await ctx.go(C.ACTIVITIES)


async def open_activity(ctx: Ctx, s: CpdState, arg: str) -> None:
    chosen = next((a for a in s.activities if str(a.id) == arg), None)
    if chosen is None:
        await ctx.go(C.ACTIVITIES)
        return
    s.opened = chosen
    await ctx.go(C.ACTIVITY)


async def reload_opened(ctx: Ctx, s: CpdState) -> None:
    """Entering one activity: read it again (it may just have been changed)."""
    a = await ctx.db.get(CpdActivity, s.opened.id) if s.opened is not None else None
    if a is None or a.user_id != ctx.user.id:
        ctx.say("That activity is no longer there.")
        await ctx.go(C.ACTIVITIES)
        return
    s.opened = ActivityLine(id=a.id, line=activity_line(a, _title(ctx, a), local_today(ctx.user, ctx.now)))
    s.editing = 0


def activity_prompt(ctx: Ctx, s: CpdState) -> str:
    return f"{s.opened.line if s.opened else ''}\n\nWhat would you like to change?"


def activity_buttons(ctx: Ctx, s: CpdState) -> Rows:
    return [
        [Button("What it was", "edit", "what"), Button("How long", "edit", "minutes")],
        [Button("When", "edit", "when"), Button("Delete it", "delete")],
        [Button("Back to the list", "list")],
    ]


async def edit(ctx: Ctx, s: CpdState, arg: str) -> None:
    step = {"what": C.WHAT, "minutes": C.MINUTES, "when": C.WHEN}.get(arg)
    if s.opened is None or step is None:
        await ctx.go(C.ACTIVITIES)
        return
    s.editing = s.opened.id
    await ctx.go(step)


async def to_list(ctx: Ctx, s: CpdState, arg: str) -> None:
    await ctx.go(C.ACTIVITIES)


async def to_delete(ctx: Ctx, s: CpdState, arg: str) -> None:
    await ctx.go(C.DELETE)


async def delete_it(ctx: Ctx, s: CpdState, arg: str) -> None:
    if s.opened is not None:
        await ctx.db.execute(
            delete(CpdActivity).where(CpdActivity.id == s.opened.id, CpdActivity.user_id == ctx.user.id)
        )
        ctx.say("Deleted.")
    await ctx.go(C.ACTIVITIES)


async def keep_it(ctx: Ctx, s: CpdState, arg: str) -> None:
    await ctx.go(C.ACTIVITY)


def steps(back: Mapping[str, Action[CpdState]]) -> dict[str, Step[CpdState]]:
    """The log's steps other than the ones it shares with logging a new activity (what, how long); ``back``
    is /cpd's Back."""
    BACK = back
    return {
        C.WHEN: Step(
            when_prompt, when_buttons, {"day": tapped_day, **BACK}, text=typed_day, goes_to=(C.PARTICIPATORY,)
        ),
        C.ACTIVITIES: Step(
            list_prompt,
            list_buttons,
            {"open": open_activity, "page": turn_page, **BACK},
            enter=load_page,
            goes_to=(C.ACTIVITY, C.HOME),
        ),
        C.ACTIVITY: Step(
            activity_prompt,
            activity_buttons,
            {"edit": edit, "delete": to_delete, "list": to_list, **BACK},
            enter=reload_opened,
            goes_to=(C.WHAT, C.MINUTES, C.WHEN, C.DELETE, C.ACTIVITIES),
        ),
        C.DELETE: confirm(
            lambda ctx, s: f"Delete <b>{escape(_label(s.opened.line)) if s.opened else 'this activity'}</b>? "
            "This can't be undone.",
            ("Delete it", delete_it),
            ("Keep it", keep_it),
        ),
    }
