"""The targets inside /cpd: setting one (hours over a period, reflections a month, every area before the
appraisal, a programme by a date), and, from *Change, finish or remove a target*, opening one to change its
date or its hours (or reflections a month), mark it finished (it no longer counts as outstanding and is
shown as finished in /cpd, the pace nudge and the pack), reopen it, or remove it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from html import unescape

from sqlalchemy import delete

from flows.core.flow import Action, Ctx, Rows, Step
from flows.core.replies import Button
from flows.core.steps import fixed, number
from flows.rules.parse import length_months
from flows.store.models import CpdTarget
from flows.talks.common import parse_date, plural, short
from flows.talks.cpd_state import C, CpdState, TargetLine, back_button, to
from flows.talks.progress import (
    TARGET_KINDS,
    hours,
    local_today,
    long_date,
    months_on,
    progress,
    target_changed,
    years_on,
)

ENDS = {"6 months": 0, "1 year": 1, "3 years": 3}  # "In 1 year": years on (0: six months)
MANAGE = "Change, finish or remove a target"  # the summary's button: every message that points here names it


# setting a target


def _programme_buttons(ctx: Ctx, s: CpdState) -> Rows:
    programmes = ctx.catalogue.of_kind("programmes", "programme")
    return [*([Button(short(e.title, 40), "prog", e.id.split(".", 1)[1])] for e in programmes), [back_button()]]


async def set_programme(ctx: Ctx, s: CpdState, arg: str) -> None:
    if f"programmes.{arg}" not in ctx.catalogue.by_id:
        return
    s.programme = f"programmes.{arg}"
    await ctx.go(C.END)


def programme_months(ctx: Ctx, s: CpdState) -> int | None:
    """How many months the chosen programme runs, where the catalogue says."""
    code = s.programme.split(".", 1)[-1]
    found = next((p for p in ctx.catalogue.programmes.entries if p.code == code), None)
    return length_months(found.duration) if found is not None and s.kind == "programme" else None


def _end_buttons(ctx: Ctx, s: CpdState) -> Rows:
    months = programme_months(ctx, s)
    length: Rows = []
    if months:
        day = months_on(local_today(ctx.user, ctx.now), months)
        length = [[Button(f"By {long_date(day)} (its length)", "end", "length")]]
    return [*length, [Button(f"In {span}", "end", span) for span in ENDS], [back_button()]]


def _end_prompt(ctx: Ctx, s: CpdState) -> str:
    months = programme_months(ctx, s)
    runs = f"It runs for about {plural(months, 'month')}. " if months else ""
    return runs + "By when? Tap one or type a date like 31/03/2027."


async def set_end(ctx: Ctx, s: CpdState, arg: str) -> None:
    """A tapped "In 1 year" (or typed "1 year"), the programme's own length, or a typed date."""
    today = local_today(ctx.user, ctx.now)
    offset = ENDS.get(arg.lower().removeprefix("in ").strip())
    months = programme_months(ctx, s) if arg == "length" else None
    day = years_on(today, offset) if offset is not None else parse_date(arg)
    day = months_on(today, months) if months else day
    if day is None:
        ctx.say("I couldn't read that date. Try 31/03/2027.")
        return
    if day <= today:
        ctx.say("Please give a date in the future.")
        return
    s.ends_on = day
    if s.redating:
        await _redate(ctx, s, day)
        return
    await save_target(ctx, s)


async def save_target(ctx: Ctx, s: CpdState) -> None:
    ctx.db.add(
        CpdTarget(
            user_id=ctx.user.id,
            kind=s.kind,
            minutes=s.goal if s.kind == "hours" else None,
            participatory_minutes=s.part_goal if s.kind == "hours" else None,
            count=s.goal if s.kind == "reflections" else None,
            programme=s.programme or None,
            starts_on=local_today(ctx.user, ctx.now),
            ends_on=s.ends_on,
            created_at=ctx.now,
        )
    )
    await ctx.db.flush()
    ctx.say("Target set.")
    await target_changed(ctx)
    await ctx.go(C.HOME)


async def after_part_goal(ctx: Ctx, s: CpdState) -> None:
    """The hours asked: a new target goes on to its date; a target being changed takes them now."""
    if not s.retargeting:
        await ctx.go(C.END)
        return
    t = await _mine(ctx, s.retargeting)
    if t is not None and t.kind == "hours":
        t.minutes, t.participatory_minutes = s.goal, s.part_goal
        part = f" ({hours(s.part_goal)} participatory)" if s.part_goal else ""
        ctx.say(f"Target changed: {hours(s.goal)} hours{part}.")
        await target_changed(ctx)
    await ctx.go(C.HOME)


async def after_count(ctx: Ctx, s: CpdState) -> None:
    """Reflections a month asked: a new target is saved; a target being changed takes the new number."""
    if not s.retargeting:
        await save_target(ctx, s)
        return
    t = await _mine(ctx, s.retargeting)
    if t is not None and t.kind == "reflections":
        t.count = s.goal
        ctx.say(f"Target changed: {plural(s.goal, 'reflection')} a month.")
        await target_changed(ctx)
    await ctx.go(C.HOME)


# changing, finishing, reopening or removing one


def plain(line: str) -> str:
    return unescape(line.replace("<b>", "").replace("</b>", ""))


def _targets_buttons(ctx: Ctx, s: CpdState) -> Rows:
    return [*([Button(short(plain(t.line), 64), "open", str(t.id))] for t in s.targets), [back_button()]]


async def open_target(ctx: Ctx, s: CpdState, arg: str) -> None:
    if arg.isdigit() and any(t.id == int(arg) for t in s.targets):
        s.target = int(arg)
        await ctx.go(C.TARGET)
        return
    await ctx.go(C.TARGETS)


def _opened(s: CpdState) -> TargetLine | None:
    return next((t for t in s.targets if t.id == s.target), None)


def _target_prompt(ctx: Ctx, s: CpdState) -> str:
    t = _opened(s)
    if t is None:
        return "That target is no longer there."
    return f"{t.line}\n\nWhat would you like to do with this target?"


AMOUNT = {"hours": "New hours", "reflections": "New number a month"}
DATED = ("hours", "programme")  # the kinds with a date to change


def _target_buttons(ctx: Ctx, s: CpdState) -> Rows:
    t = _opened(s)
    if t is None:
        return [[Button("Back to the targets", "targets")]]
    arg = str(t.id)
    change = [Button("New date", "redate", arg)] if t.kind in DATED else []
    if t.kind in AMOUNT:
        change.append(Button(AMOUNT[t.kind], "amount", arg))
    state = Button("Reopen it", "reopen", arg) if t.done else Button("Mark finished", "finish", arg)
    return [
        *([change] if change else []),
        [state, Button("Remove it", "remove", arg)],
        [Button("Back to the targets", "targets")],
    ]


async def _mine(ctx: Ctx, target_id: int) -> CpdTarget | None:
    t = await ctx.db.get(CpdTarget, target_id)
    return t if t is not None and t.user_id == ctx.user.id else None


async def finish(ctx: Ctx, s: CpdState, arg: str) -> None:
    t = await _mine(ctx, int(arg)) if arg.isdigit() else None
    if t is not None and t.done_on is None:
        t.done_on = local_today(ctx.user, ctx.now)
        ctx.say("Well done — marked finished. It no longer counts towards your pace; “Reopen it” undoes this.")
        await target_changed(ctx)
    await ctx.go(C.HOME)


async def reopen(ctx: Ctx, s: CpdState, arg: str) -> None:
    t = await _mine(ctx, int(arg)) if arg.isdigit() else None
    if t is not None and t.done_on is not None:
        t.done_on = None
        ctx.say("Reopened: it counts towards your pace again.")
        await target_changed(ctx)
    await ctx.go(C.HOME)


async def remove(ctx: Ctx, s: CpdState, arg: str) -> None:
    t = await _mine(ctx, int(arg)) if arg.isdigit() else None
    if t is not None:
        await ctx.db.execute(delete(CpdTarget).where(CpdTarget.id == t.id))
        ctx.say("Target removed.")
        await target_changed(ctx)
    await ctx.go(C.HOME)


async def redate(ctx: Ctx, s: CpdState, arg: str) -> None:
    """Change a target's date: the same question as for a new target's."""
    t = await _mine(ctx, int(arg)) if arg.isdigit() else None
    if t is None or t.kind not in DATED:
        await ctx.go(C.TARGETS)
        return
    s.redating, s.kind = t.id, "hours" if t.kind == "hours" else "programme"
    s.programme = t.programme or ""  # a programme's own length is offered again
    await ctx.go(C.END)


async def amount(ctx: Ctx, s: CpdState, arg: str) -> None:
    """Change an hours target's hours (then its participatory part) or a reflections target's number."""
    t = await _mine(ctx, int(arg)) if arg.isdigit() else None
    if t is None or t.kind not in AMOUNT:
        await ctx.go(C.TARGETS)
        return
    s.retargeting, s.kind = t.id, "hours" if t.kind == "hours" else "reflections"
    await ctx.go(C.GOAL if t.kind == "hours" else C.COUNT)


async def _redate(ctx: Ctx, s: CpdState, day: date) -> None:
    t = await _mine(ctx, s.redating)
    if t is not None:
        t.ends_on = day
        ctx.say(f"New date set: {long_date(day)}.")
        await target_changed(ctx)
    await ctx.go(C.HOME)


async def to_targets(ctx: Ctx, s: CpdState, arg: str) -> None:
    await ctx.go(C.TARGETS)


def _goal_prompt(ctx: Ctx, s: CpdState) -> str:
    if s.retargeting:
        return "How many hours in all should the target be now?"
    return "How many hours in all? (Nurses' revalidation asks for 35 hours over 3 years.)"


async def fresh(ctx: Ctx, s: CpdState) -> None:
    """Entering the summary or the list of targets: a new state (nothing half-entered), the targets loaded."""
    items = await progress(ctx.db, ctx.catalogue, ctx.user, ctx.now, ctx.engine.appraisal_round)
    ctx.state = CpdState(
        targets=[
            TargetLine(id=p.target.id, line=p.line, kind=p.target.kind, done=bool(p.target.done_on)) for p in items
        ]
    )


def steps(back: Mapping[str, Action[CpdState]]) -> dict[str, Step[CpdState]]:
    """The target steps of /cpd; ``back`` is /cpd's Back."""
    BACK = back
    return {
        C.KIND: Step(
            "What kind of target?",
            fixed([*([Button(label, kind)] for kind, label in TARGET_KINDS.items()), [back_button()]]),
            {
                "hours": to(C.GOAL, kind="hours"),
                "reflections": to(C.COUNT, kind="reflections"),
                "coverage": to(save_target, kind="coverage"),  # nothing more to ask
                "programme": to(C.PROGRAMME, kind="programme"),
                **BACK,
            },
            goes_to=(C.GOAL, C.COUNT, C.PROGRAMME),
        ),
        C.GOAL: number(
            _goal_prompt,
            into="goal",
            low=1,
            high=1000,
            scale=60,
            what="the hours",
            presets=[("35 hours", 35)],
            then=C.PART_GOAL,
            extra=[[back_button()]],
            actions=BACK,
        ),
        C.PART_GOAL: number(
            "How many of those hours should be participatory (learning with others)?",
            into="part_goal",
            low=0,
            high=lambda s: s.goal // 60,
            scale=60,
            what="the participatory hours",
            presets=[("20 hours", 20), ("None", 0)],
            then=after_part_goal,
            extra=[[back_button()]],
            actions=BACK,
        ),
        C.COUNT: number(
            "How many reflections a month?",
            into="goal",
            low=1,
            high=31,
            what="the reflections a month",
            presets=[("1", 1), ("2", 2), ("4", 4)],
            then=after_count,
            extra=[[back_button()]],
            actions=BACK,
        ),
        C.PROGRAMME: Step("Which programme?", _programme_buttons, {"prog": set_programme, **BACK}, goes_to=(C.END,)),
        C.END: Step(_end_prompt, _end_buttons, {"end": set_end, **BACK}, text=set_end, goes_to=(C.HOME,)),
        C.TARGETS: Step(
            "Which target? Tap one to change its date or amount, mark it finished, reopen or remove it.",
            _targets_buttons,
            {"open": open_target, **BACK},
            enter=fresh,
            goes_to=(C.TARGET,),
        ),
        C.TARGET: Step(
            _target_prompt,
            _target_buttons,
            {
                "redate": redate,
                "amount": amount,
                "finish": finish,
                "reopen": reopen,
                "remove": remove,
                "targets": to_targets,
            },
            goes_to=(C.END, C.GOAL, C.COUNT, C.HOME, C.TARGETS),
            screen=lambda s: str(s.target),
        ),
    }
