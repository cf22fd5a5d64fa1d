"""/cpd: log development activities, set targets and see progress with pace; /appraisal: the countdown
and what is covered or missing since the last appraisal. A reflection's minutes count automatically."""

from __future__ import annotations

import calendar
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from html import escape, unescape
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from flows.core.engine import Engine
from flows.core.flow import Action, Ctx, Flow, Kind, Rows, Step
from flows.core.guard import GuardedState, identifier_step
from flows.core.replies import Button
from flows.core.steps import Then, fixed, free_text, number
from flows.rules.schedule import Round, at_local, round_window
from flows.store.models import CpdActivity, CpdTarget, Reflection, User
from flows.talks.common import menu_buttons, parse_date, plural, short
from frameworks.catalogue import Catalogue

UNIT = {"mlf2025": "standard", "lf2011": "domain"}  # what "every standard/domain covered" counts
UNIT_NAMES = {"standard": "standards", "domain": "domains"}
TARGET_KINDS = {
    "hours": "Hours over a period",
    "reflections": "Reflections a month",
    "coverage": "Cover every area before my appraisal",
    "programme": "Finish a programme by a date",
}


def hours(minutes: float) -> str:
    value = minutes / 60
    return f"{value:.0f}" if abs(value - round(value)) < 0.05 else f"{value:.1f}"


def long_date(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


# --- what is covered ------------------------------------------------------------------------------


def unit_of(cat: Catalogue, item_id: str) -> str | None:
    """The standard (MLF) or domain (LF) an item belongs to."""
    entry = cat.by_id.get(item_id)
    while entry is not None and entry.kind not in UNIT.values():
        entry = cat.by_id.get(entry.parent) if entry.parent else None
    return entry.id if entry is not None else None


async def covered(db: AsyncSession, cat: Catalogue, user: User, since: datetime) -> set[str]:
    """The standards or domains of the user's framework reflected on since ``since``."""
    rows = await db.execute(
        select(Reflection.item_id, Reflection.item_key, Reflection.extra_items).where(
            Reflection.user_id == user.id, Reflection.created_at >= since
        )
    )
    units = set()
    for item, key, extras in rows.all():
        entry = cat.resolve(key, item)
        for one in [entry.id if entry else item, *(extras or [])]:
            if (unit := unit_of(cat, one)) is not None:
                units.add(unit)
    return units


def units(cat: Catalogue, framework: str) -> list[str]:
    return [e.id for e in cat.of_kind(framework, UNIT.get(framework, "standard"))]


@dataclass(frozen=True)
class Appraisal:
    day: date
    from_round: bool  # the operator's default round (the user set no date)
    round_end: date | None = None


def next_appraisal(chosen: date | None, today: date, round_: Round | None) -> Appraisal | None:
    """The user's own next appraisal date, else the operator's round (the day it opens, or today)."""
    if chosen is not None and chosen >= today:
        return Appraisal(chosen, False)
    if round_ is None:
        return None
    first, last = round_window(today, round_)
    return Appraisal(max(first, today), True, last)


def local_today(user: User, now: datetime) -> date:
    return now.astimezone(ZoneInfo(user.timezone)).date()


def years_on(today: date, years: int) -> date:
    """The same day ``years`` on (0: six months on), or the month's last day where it has fewer days."""
    if years == 0:
        month = today.month + 6
        return _safe(today.year + (month - 1) // 12, (month - 1) % 12 + 1, today.day)
    return _safe(today.year + years, today.month, today.day)


def _safe(year: int, month: int, day: int) -> date:
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


# --- progress and pace ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    target: CpdTarget
    line: str
    behind: str | None  # "4 hours behind pace for 31 March 2027", or None when on pace


async def _minutes(db: AsyncSession, user: User, start: date, end: date) -> tuple[int, int]:
    """(all minutes, participatory minutes) logged from ``start`` to ``end``, reflections included."""
    zone = ZoneInfo(user.timezone)
    logged = (
        await db.execute(
            select(CpdActivity.minutes, CpdActivity.participatory).where(
                CpdActivity.user_id == user.id, CpdActivity.done_on >= start, CpdActivity.done_on <= end
            )
        )
    ).all()
    reflected = await db.scalar(
        select(func.coalesce(func.sum(Reflection.minutes), 0)).where(
            Reflection.user_id == user.id,
            Reflection.created_at >= at_local(start, time(0), zone),
            Reflection.created_at < at_local(end + timedelta(days=1), time(0), zone),
        )
    )
    return sum(m for m, _ in logged) + int(reflected or 0), sum(m for m, p in logged if p)


async def progress(db: AsyncSession, cat: Catalogue, user: User, now: datetime, round_: Round | None) -> list[Progress]:
    today = local_today(user, now)
    targets = (await db.execute(select(CpdTarget).where(CpdTarget.user_id == user.id).order_by(CpdTarget.id))).scalars()
    out = []
    for t in targets:
        if t.kind == "hours":
            out.append(await _hours(db, user, t, today))
        elif t.kind == "reflections":
            out.append(await _reflections(db, user, t, today))
        elif t.kind == "coverage":
            out.append(await _coverage(db, cat, user, t, now, round_))
        elif t.kind == "programme":
            out.append(_programme(cat, t, today))
    return out


async def _hours(db: AsyncSession, user: User, t: CpdTarget, today: date) -> Progress:
    end = t.ends_on or today
    done, part = await _minutes(db, user, t.starts_on, min(today, end))
    goal, part_goal = t.minutes or 0, t.participatory_minutes or 0
    line = f"{hours(done)} of {hours(goal)} hours by {long_date(end)}"
    if part_goal:
        line += f" ({hours(part)} of {hours(part_goal)} participatory)"
    span = max((end - t.starts_on).days, 1)
    expected = goal * min(max((today - t.starts_on).days, 0), span) / span
    short_by = expected - done
    if done >= goal:
        return Progress(t, line + " — done ✓", None)
    if short_by >= 60:
        behind = f"{hours(short_by)} hours behind pace for {long_date(end)}"
        return Progress(t, f"{line} — {behind}", behind)
    return Progress(t, line + " — on pace", None)


async def _reflections(db: AsyncSession, user: User, t: CpdTarget, today: date) -> Progress:
    zone = ZoneInfo(user.timezone)
    first = today.replace(day=1)
    days = calendar.monthrange(today.year, today.month)[1]
    done = await db.scalar(
        select(func.count())
        .select_from(Reflection)
        .where(Reflection.user_id == user.id, Reflection.created_at >= at_local(first, time(0), zone))
    )
    goal = t.count or 0
    line = f"{done or 0} of {goal} reflections this month"
    expected = int(goal * today.day / days)
    if (done or 0) >= goal:
        return Progress(t, line + " — done ✓", None)
    if expected - (done or 0) >= 1:
        behind = f"{plural(expected - (done or 0), 'reflection')} behind pace for this month"
        return Progress(t, f"{line} — {behind}", behind)
    return Progress(t, line + " — on pace", None)


async def _coverage(
    db: AsyncSession,
    cat: Catalogue,
    user: User,
    t: CpdTarget,
    now: datetime,
    round_: Round | None,
) -> Progress:
    today = local_today(user, now)
    appraisal = next_appraisal(user.appraisal_date, today, round_)
    all_units = units(cat, user.framework)
    name = UNIT_NAMES.get(UNIT.get(user.framework, "standard"), "areas")
    if appraisal is None:
        return Progress(
            t, f"Every one of the {len(all_units)} {name} before your appraisal (set its date in /settings)", None
        )
    since = at_local(appraisal.day - timedelta(days=365), time(0), ZoneInfo(user.timezone))
    done = covered_count = len(await covered(db, cat, user, since) & set(all_units))
    left = len(all_units) - done
    weeks = max((appraisal.day - today).days // 7, 0)
    line = f"{covered_count} of {len(all_units)} {name} reflected on before {long_date(appraisal.day)}"
    if left == 0:
        return Progress(t, line + " — done ✓", None)
    if left > weeks:
        unit = UNIT.get(user.framework, "standard")
        behind = f"{plural(left, unit, name)} still to cover and {plural(weeks, 'week')} to go"
        return Progress(t, f"{line} — {behind}", behind)
    return Progress(t, line + " — on pace (one a week covers the rest)", None)


def _programme(cat: Catalogue, t: CpdTarget, today: date) -> Progress:
    entry = cat.by_id.get(t.programme or "")
    title = entry.title if entry else (t.programme or "a programme")
    end = t.ends_on or today
    if t.done_on is not None:
        return Progress(t, f"{escape(title)}: finished ✓", None)
    if today > end:
        behind = f"{title} was due to be finished by {long_date(end)}"
        return Progress(t, f"{escape(title)}: due {long_date(end)} — overdue", behind)
    return Progress(t, f"{escape(title)}: finish by {long_date(end)} ({(end - today).days} days)", None)


async def behind(db: AsyncSession, cat: Catalogue, user: User, now: datetime, round_: Round | None) -> list[str]:
    """The targets the user is behind on, in words (the CPD pace nudge says them)."""
    return [p.behind for p in await progress(db, cat, user, now, round_) if p.behind]


TargetHook = Callable[[Ctx], Awaitable[None]]
_target_hooks: list[TargetHook] = []


def on_target_change(hook: TargetHook) -> None:
    """Run ``hook`` after a target is set, removed or finished. The nudges register one (to plan the pace
    nudge again): they read this module's pace, so this module doesn't import them."""
    if hook not in _target_hooks:  # each engine registers the flows again
        _target_hooks.append(hook)


async def target_changed(ctx: Ctx) -> None:
    for hook in _target_hooks:
        await hook(ctx)


# --- /appraisal -----------------------------------------------------------------------------------


async def appraisal_text(ctx: Ctx) -> str:
    u, cat = ctx.user, ctx.catalogue
    today = local_today(u, ctx.now)
    appraisal = next_appraisal(u.appraisal_date, today, ctx.engine.appraisal_round)
    all_units = units(cat, u.framework)
    name = UNIT_NAMES.get(UNIT.get(u.framework, "standard"), "areas")
    if appraisal is None:
        return "You haven't set an appraisal date. Set it in /settings and I'll count down to it with you."
    days = (appraisal.day - today).days
    when = "today" if days == 0 else f"in {plural(days, 'day')}"
    head = (
        f"<b>Your appraisal</b>: {long_date(appraisal.day)}, {when}."
        if not appraisal.from_round
        else f"<b>Your organisation's appraisal round</b> runs to {long_date(appraisal.round_end or appraisal.day)} "
        f"({when} until it opens, or under way). Set your own date in /settings."
    )
    since = at_local(appraisal.day - timedelta(days=365), time(0), ZoneInfo(u.timezone))
    done = await covered(ctx.db, cat, u, since)
    have = [cat.get(i).title for i in all_units if i in done]
    missing = [cat.get(i).title for i in all_units if i not in done]
    count = await ctx.db.scalar(
        select(func.count()).select_from(Reflection).where(Reflection.user_id == u.id, Reflection.created_at >= since)
    )
    lines = [
        head,
        "",
        f"Since {long_date(since.date())}: {plural(count or 0, 'reflection')}, {len(have)} of {len(all_units)} {name}.",
    ]
    if have:
        lines.append("Covered: " + "; ".join(escape(t) for t in have) + ".")
    if missing:
        lines.append("Not yet: " + "; ".join(escape(t) for t in missing) + ".")
        lines.append("A reflection on one of these fills a gap before the conversation.")
    return "\n".join(lines)


async def appraisal_command(ctx: Ctx, args: str) -> None:
    ctx.say(await appraisal_text(ctx), [[Button("Reflect now", "m", "reflect", scoped=False)], *menu_buttons()[1:2]])


# --- the /cpd flow ----------------------------------------------------------------------------------


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


class TargetLine(BaseModel):
    """A target as the summary and the list of targets show it."""

    id: int
    line: str
    finishable: bool = False  # a programme not finished yet


class CpdState(GuardedState):
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


def _cpd_progress(s: CpdState) -> str | None:
    return "not saved yet" if s.title else None


ENDS = {"6 months": 0, "1 year": 1, "3 years": 3}  # "In 1 year": years on (0: six months)


async def cpd_command(ctx: Ctx, args: str) -> None:
    await ctx.start("cpd", CpdState(), C.HOME)


def _back() -> Button:
    return Button("Back", "home")  # a new one each time: the engine signs each button it sends


def _to(then: Then[CpdState], **values: object) -> Action[CpdState]:
    """A button that sets ``values`` in the state and goes to ``then`` (a step, or what to do)."""
    if unknown := set(values) - set(CpdState.model_fields):
        raise TypeError(f"CpdState has no fields {sorted(unknown)}")  # at import, not when tapped

    async def go(ctx: Ctx, s: CpdState, arg: str) -> None:
        for name, value in values.items():
            setattr(s, name, value)
        await (ctx.go(then) if isinstance(then, str) else then(ctx, s))

    return go


# the summary


async def _fresh(ctx: Ctx, s: CpdState) -> None:
    """Entering the summary or the list of targets: a new state (nothing half-entered), the targets loaded."""
    items = await progress(ctx.db, ctx.catalogue, ctx.user, ctx.now, ctx.engine.appraisal_round)
    ctx.state = CpdState(
        targets=[
            TargetLine(id=p.target.id, line=p.line, finishable=p.target.kind == "programme" and not p.target.done_on)
            for p in items
        ]
    )


async def _home_prompt(ctx: Ctx, s: CpdState) -> str:
    today = local_today(ctx.user, ctx.now)
    total, part = await _minutes(ctx.db, ctx.user, today - timedelta(days=365), today)
    lines = [
        "<b>Your CPD</b>",
        f"Last 12 months: {hours(total)} hours logged ({hours(part)} participatory), reflections included.",
        "",
    ]
    if s.targets:
        lines += ["<b>Targets</b>", *(f"• {t.line}" for t in s.targets)]
    else:
        lines.append(
            "No targets yet. A target (e.g. 35 hours over 3 years, 20 of them participatory) lets me show your pace."
        )
    return "\n".join(lines)


def _home_buttons(ctx: Ctx, s: CpdState) -> Rows:
    remove = [[Button("Remove a target", "remove")]] if s.targets else []
    return [[Button("Log an activity", "log")], [Button("Set a target", "target")], *remove, [Button("Done", "done")]]


async def done(ctx: Ctx, s: CpdState, arg: str) -> None:
    ctx.finish()
    ctx.say("OK. /cpd shows your progress any time.", menu_buttons())


# logging an activity


async def accept_what(ctx: Ctx, s: CpdState, text: str) -> None:
    s.title = short(text.strip(), 200)
    await ctx.go(C.MINUTES)


def _link_buttons(ctx: Ctx, s: CpdState) -> Rows:
    fw = ctx.user.framework
    areas = ctx.catalogue.of_kind(fw, UNIT.get(fw, "standard"))
    rows = [[Button(("✓ " if e.id in s.items else "") + short(e.title, 36), "item", e.id)] for e in areas]
    return [*rows, [Button("Save", "save"), _back()]]


async def toggle_item(ctx: Ctx, s: CpdState, arg: str) -> None:
    if arg in s.items:
        s.items = [i for i in s.items if i != arg]
    elif arg in ctx.catalogue.by_id:
        s.items = [*s.items, arg]
    await ctx.go(C.LINK)


async def save_activity(ctx: Ctx, s: CpdState, arg: str) -> None:
    ctx.db.add(
        CpdActivity(
            user_id=ctx.user.id,
            done_on=local_today(ctx.user, ctx.now),
            title_enc=ctx.cipher.encrypt_json(s.title),
            minutes=s.minutes,
            participatory=s.participatory,
            items=s.items,
            created_at=ctx.now,
        )
    )
    await ctx.db.flush()
    kind = "participatory" if s.participatory else "self-directed"
    ctx.say(f"Logged: {escape(s.title)} — {hours(s.minutes)} h, {kind}.")
    await ctx.go(C.HOME)


# setting a target


def _programme_buttons(ctx: Ctx, s: CpdState) -> Rows:
    programmes = ctx.catalogue.of_kind("programmes", "programme")
    return [*([Button(short(e.title, 40), "prog", e.id.split(".", 1)[1])] for e in programmes), [_back()]]


async def set_programme(ctx: Ctx, s: CpdState, arg: str) -> None:
    if f"programmes.{arg}" not in ctx.catalogue.by_id:
        return
    s.programme = f"programmes.{arg}"
    await ctx.go(C.END)


async def set_end(ctx: Ctx, s: CpdState, arg: str) -> None:
    """A tapped "In 1 year" (or typed "1 year"), or a typed date."""
    today = local_today(ctx.user, ctx.now)
    offset = ENDS.get(arg.lower().removeprefix("in ").strip())
    day = years_on(today, offset) if offset is not None else parse_date(arg)
    if day is None:
        ctx.say("I couldn't read that date. Try 31/03/2027.")
        return
    if day <= today:
        ctx.say("Please give a date in the future.")
        return
    s.ends_on = day
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


# removing a target or finishing a programme


def _targets_buttons(ctx: Ctx, s: CpdState) -> Rows:
    rows = []
    for t in s.targets:
        label = short(_plain(t.line), 48)
        rows.append([Button("Remove: " + label, "change", f"-{t.id}")])
        if t.finishable:
            rows.append([Button("Mark finished: " + label, "change", f"+{t.id}")])
    return [*rows, [_back()]]


def _plain(line: str) -> str:
    return unescape(line.split(" — ")[0].replace("<b>", "").replace("</b>", ""))


async def change_target(ctx: Ctx, s: CpdState, arg: str) -> None:
    """Remove a target ("-7") or mark a programme finished ("+7")."""
    t = await ctx.db.get(CpdTarget, int(arg[1:])) if arg[1:].isdigit() else None
    if t is not None and t.user_id == ctx.user.id:
        if arg.startswith("+"):
            t.done_on = local_today(ctx.user, ctx.now)
            ctx.say("Well done — marked finished.")
        else:
            await ctx.db.execute(delete(CpdTarget).where(CpdTarget.id == t.id))
            ctx.say("Target removed.")
        await target_changed(ctx)
    await ctx.go(C.HOME)


# Back while logging an activity goes one question back, keeping what was typed; elsewhere to the summary.
PREVIOUS = {C.MINUTES: C.WHAT, C.PARTICIPATORY: C.MINUTES, C.LINK: C.PARTICIPATORY}


async def back(ctx: Ctx, s: CpdState, arg: str) -> None:
    await ctx.go(PREVIOUS.get(C(ctx.step), C.HOME) if ctx.step in PREVIOUS else C.HOME)


def _what_buttons(ctx: Ctx, s: CpdState) -> Rows:
    if not s.title:
        return [[_back()]]
    return [[Button("Keep what I wrote", "keep")], [Button("Discard this entry", "home")]]


BACK = {"home": back}
FLOW = Flow(
    name="cpd",
    label="CPD entry",
    state=CpdState,
    names=C,
    progress=_cpd_progress,
    steps={
        C.HOME: Step(
            _home_prompt,
            _home_buttons,
            {"log": _to(C.WHAT), "target": _to(C.KIND), "remove": _to(C.TARGETS), "done": done},
            enter=_fresh,
            goes_to=(C.WHAT, C.KIND, C.TARGETS),
        ),
        C.WHAT: free_text(
            "What did you do? One line, e.g. <i>Finance for non-finance managers workshop</i>.",
            accept_what,
            _what_buttons,
            {"keep": _to(C.MINUTES), "home": _to(C.HOME)},
        ),
        C.IDENTIFIERS: identifier_step(accept_what),
        C.MINUTES: number(
            "How long did it take? Tap one or type the minutes (e.g. 45).",
            into="minutes",
            low=1,
            high=24 * 60,
            what="the minutes",
            presets=[("30 min", 30), ("1 h", 60), ("1½ h", 90), ("2 h", 120), ("3 h", 180), ("A day (7 h)", 420)],
            then=C.PARTICIPATORY,
            extra=[[_back()]],
            actions=BACK,
        ),
        C.PARTICIPATORY: Step(
            "Was it participatory — learning with other people (a course, workshop, action learning set, "
            "conference) rather than on your own?",
            fixed([[Button("Yes — with others", "yes"), Button("No — on my own", "no")], [_back()]]),
            {"yes": _to(C.LINK, participatory=True), "no": _to(C.LINK, participatory=False), **BACK},
            goes_to=(C.LINK,),
        ),
        C.LINK: Step(
            "Which areas of your framework did it develop? Tap any that apply, then Save.",
            _link_buttons,
            {"item": toggle_item, "save": save_activity, **BACK},
            goes_to=(C.HOME,),
        ),
        C.KIND: Step(
            "What kind of target?",
            fixed([*([Button(label, kind)] for kind, label in TARGET_KINDS.items()), [_back()]]),
            {
                "hours": _to(C.GOAL, kind="hours"),
                "reflections": _to(C.COUNT, kind="reflections"),
                "coverage": _to(save_target, kind="coverage"),  # nothing more to ask
                "programme": _to(C.PROGRAMME, kind="programme"),
                **BACK,
            },
            goes_to=(C.GOAL, C.COUNT, C.PROGRAMME),
        ),
        C.GOAL: number(
            "How many hours in all? (Nurses' revalidation asks for 35 hours over 3 years.)",
            into="goal",
            low=1,
            high=1000,
            scale=60,
            what="the hours",
            presets=[("35 hours", 35)],
            then=C.PART_GOAL,
            extra=[[_back()]],
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
            then=C.END,
            extra=[[_back()]],
            actions=BACK,
        ),
        C.COUNT: number(
            "How many reflections a month?",
            into="goal",
            low=1,
            high=31,
            what="the reflections a month",
            presets=[("1", 1), ("2", 2), ("4", 4)],
            then=save_target,
            extra=[[_back()]],
            actions=BACK,
        ),
        C.PROGRAMME: Step("Which programme?", _programme_buttons, {"prog": set_programme, **BACK}, goes_to=(C.END,)),
        C.END: Step(
            "By when? Tap one or type a date like 31/03/2027.",
            fixed([[Button(f"In {span}", "end", span) for span in ENDS], [_back()]]),
            {"end": set_end, **BACK},
            text=set_end,
            goes_to=(C.HOME,),
        ),
        C.TARGETS: Step(
            "Which target?", _targets_buttons, {"change": change_target, **BACK}, enter=_fresh, goes_to=(C.HOME,)
        ),
    },
)


def register(engine: Engine) -> None:
    engine.flow(FLOW)
    engine.command("cpd", cpd_command, Kind.SWITCH)
    engine.command("appraisal", appraisal_command, Kind.OVERLAY)
