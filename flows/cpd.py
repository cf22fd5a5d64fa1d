"""/cpd: log development activities, set targets and see progress with pace; /appraisal: the countdown
and what is covered or missing since the last appraisal. A reflection's minutes count automatically."""

from __future__ import annotations

import calendar
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from html import escape
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import Field
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from flows.common import chunks, first_number, menu_buttons, parse_date, plural, short
from flows.engine import Engine
from flows.flow import Ctx, Flow, Kind, Step
from flows.guard import GuardedState, identifier_step, intake
from flows.models import CpdActivity, CpdTarget, Reflection, User
from flows.replies import Button
from flows.schedule import Round, at_local, round_window
from frameworks.catalogue import Catalogue

UNIT = {"mlf2025": "standard", "lf2011": "domain"}  # what "every standard/domain covered" counts
UNIT_NAMES = {"standard": "standards", "domain": "domains"}
ACTIVITY_MINUTES = ["30", "60", "90", "120", "180", "420"]
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


class CpdState(GuardedState):
    title: str = ""
    minutes: int = 0
    participatory: bool = False
    kind: Literal["", "hours", "reflections", "coverage", "programme"] = ""
    goal: int = 0  # minutes, or reflections a month
    part_goal: int = 0
    programme: str = ""
    items: list[str] = Field(default_factory=list)


def _cpd_progress(s: CpdState) -> str | None:
    return "not saved yet" if s.title else None


async def cpd_command(ctx: Ctx, args: str) -> None:
    await ctx.start("cpd", CpdState(), "home")


async def ask_home(ctx: Ctx, s: CpdState) -> None:
    items = await progress(ctx.db, ctx.catalogue, ctx.user, ctx.now, ctx.engine.appraisal_round)
    today = local_today(ctx.user, ctx.now)
    year_ago = today - timedelta(days=365)
    total, part = await _minutes(ctx.db, ctx.user, year_ago, today)
    lines = [
        "<b>Your CPD</b>",
        f"Last 12 months: {hours(total)} hours logged ({hours(part)} participatory), reflections included.",
    ]
    if items:
        lines += ["", "<b>Targets</b>", *(f"• {p.line}" for p in items)]
    else:
        lines += [
            "",
            "No targets yet. A target (e.g. 35 hours over 3 years, 20 of them participatory) lets me show your pace.",
        ]
    buttons = [[Button("Log an activity", "log")], [Button("Set a target", "target")]]
    if items:
        buttons.append([Button("Remove a target", "remove")])
    buttons.append([Button("Done", "done")])
    ctx.say("\n".join(lines), buttons)


async def done(ctx: Ctx, s: CpdState, arg: str) -> None:
    ctx.finish()
    ctx.say("OK. /cpd shows your progress any time.", menu_buttons())


async def home(ctx: Ctx, s: CpdState, arg: str = "") -> None:
    await ctx.start("cpd", CpdState(), "home")


# logging an activity


async def log(ctx: Ctx, s: CpdState, arg: str) -> None:
    await ctx.go("what")


async def ask_what(ctx: Ctx, s: CpdState) -> None:
    ctx.say(
        "What did you do? One line, e.g. <i>Finance for non-finance managers workshop</i>.",
        [[Button("Back", "home")]],
    )


async def typed_what(ctx: Ctx, s: CpdState, text: str) -> None:
    await intake(ctx, s, text, accept_what)


async def accept_what(ctx: Ctx, s: CpdState, text: str) -> None:
    s.title = short(text.strip(), 200)
    await ctx.go("minutes")


async def ask_minutes(ctx: Ctx, s: CpdState) -> None:
    labels = {"30": "30 min", "60": "1 h", "90": "1½ h", "120": "2 h", "180": "3 h", "420": "A day (7 h)"}
    ctx.say(
        "How long did it take? Tap one or type the minutes (e.g. 45).",
        [*chunks([Button(labels[m], "mins", m) for m in ACTIVITY_MINUTES], 3), [Button("Back", "home")]],
    )


def _number(ctx: Ctx, arg: str, low: int, high: int, what: str) -> int | None:
    """The number typed or tapped, if it is in range; otherwise say what is wanted."""
    value = first_number(arg)
    if value is None or not low <= value <= high:
        ctx.say(f"Please give {what} as a number from {low} to {high}.")
        return None
    return value


async def set_minutes(ctx: Ctx, s: CpdState, arg: str) -> None:
    value = _number(ctx, arg, 1, 24 * 60, "the minutes")
    if value is None:
        return
    s.minutes = value
    await ctx.go("participatory")


async def ask_participatory(ctx: Ctx, s: CpdState) -> None:
    ctx.say(
        "Was it participatory — learning with other people (a course, workshop, action learning set, "
        "conference) rather than on your own?",
        [[Button("Yes, with others", "part", "y"), Button("No, on my own", "part", "n")], [Button("Back", "home")]],
    )


async def set_participatory(ctx: Ctx, s: CpdState, arg: str) -> None:
    s.participatory = arg == "y"
    await ctx.go("link")


async def ask_link(ctx: Ctx, s: CpdState) -> None:
    fw = ctx.user.framework
    options = [
        Button(("✓ " if e.id in s.items else "") + short(e.title, 36), "item", e.id)
        for e in ctx.catalogue.of_kind(fw, UNIT.get(fw, "standard"))
    ]
    ctx.say(
        "Which areas of your framework did it develop? Tap any that apply, then Save.",
        [*chunks(options, 1), [Button("Save", "save"), Button("Back", "home")]],
    )


async def toggle_item(ctx: Ctx, s: CpdState, arg: str) -> None:
    if arg in s.items:
        s.items = [i for i in s.items if i != arg]
    elif arg in ctx.catalogue.by_id:
        s.items = [*s.items, arg]
    await ctx.go("link")


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
    await home(ctx, s)


# setting a target


async def target(ctx: Ctx, s: CpdState, arg: str) -> None:
    await ctx.go("kind")


async def ask_kind(ctx: Ctx, s: CpdState) -> None:
    ctx.say(
        "What kind of target?",
        [*([Button(label, "kind", key)] for key, label in TARGET_KINDS.items()), [Button("Back", "home")]],
    )


async def set_kind(ctx: Ctx, s: CpdState, arg: str) -> None:
    if arg not in TARGET_KINDS:
        return
    s.kind = arg  # type: ignore[assignment]
    if arg == "hours":
        await ctx.go("goal")
    elif arg == "reflections":
        await ctx.go("count")
    elif arg == "coverage":
        await _save_target(ctx, s, None)
    else:
        await ctx.go("programme")


async def ask_goal(ctx: Ctx, s: CpdState) -> None:
    ctx.say(
        "How many hours in all? (Nurses' revalidation asks for 35 hours over 3 years.)",
        [[Button("35 hours", "goal", "35")], [Button("Back", "home")]],
    )


async def set_goal(ctx: Ctx, s: CpdState, arg: str) -> None:
    value = _number(ctx, arg, 1, 1000, "the hours")
    if value is None:
        return
    s.goal = value * 60
    await ctx.go("part_goal")


async def ask_part_goal(ctx: Ctx, s: CpdState) -> None:
    ctx.say(
        "How many of those hours should be participatory (learning with others)?",
        [[Button("20 hours", "pgoal", "20"), Button("None", "pgoal", "0")], [Button("Back", "home")]],
    )


async def set_part_goal(ctx: Ctx, s: CpdState, arg: str) -> None:
    value = _number(ctx, arg, 0, s.goal // 60, "the participatory hours")
    if value is None:
        return
    s.part_goal = value * 60
    await ctx.go("end")


async def ask_count(ctx: Ctx, s: CpdState) -> None:
    ctx.say(
        "How many reflections a month?",
        [[Button(n, "count", n) for n in ("1", "2", "4")], [Button("Back", "home")]],
    )


async def set_count(ctx: Ctx, s: CpdState, arg: str) -> None:
    value = _number(ctx, arg, 1, 31, "the reflections a month")
    if value is None:
        return
    s.goal = value
    await _save_target(ctx, s, None)


async def ask_programme(ctx: Ctx, s: CpdState) -> None:
    options = [
        Button(short(e.title, 40), "prog", e.id.split(".", 1)[1])
        for e in ctx.catalogue.of_kind("programmes", "programme")
    ]
    ctx.say("Which programme?", [*chunks(options, 1), [Button("Back", "home")]])


async def set_programme(ctx: Ctx, s: CpdState, arg: str) -> None:
    if f"programmes.{arg}" not in ctx.catalogue.by_id:
        return
    s.programme = f"programmes.{arg}"
    await ctx.go("end")


async def ask_end(ctx: Ctx, s: CpdState) -> None:
    today = local_today(ctx.user, ctx.now)
    options = [("In 1 year", 1), ("In 3 years", 3)] if s.kind == "hours" else [("In 6 months", 0), ("In 1 year", 1)]
    ctx.say(
        "By when? Tap one or type a date like 31/03/2027.",
        [
            [Button(label, "end", years_on(today, years).isoformat()) for label, years in options],
            [Button("Back", "home")],
        ],
    )


async def set_end(ctx: Ctx, s: CpdState, arg: str) -> None:
    day = parse_date(arg)
    if day is None:
        ctx.say("I couldn't read that date. Try 31/03/2027.")
        return
    if day <= local_today(ctx.user, ctx.now):
        ctx.say("Please give a date in the future.")
        return
    await _save_target(ctx, s, day)


async def _save_target(ctx: Ctx, s: CpdState, end: date | None) -> None:
    ctx.db.add(
        CpdTarget(
            user_id=ctx.user.id,
            kind=s.kind,
            minutes=s.goal if s.kind == "hours" else None,
            participatory_minutes=s.part_goal if s.kind == "hours" else None,
            count=s.goal if s.kind == "reflections" else None,
            programme=s.programme or None,
            starts_on=local_today(ctx.user, ctx.now),
            ends_on=end,
            created_at=ctx.now,
        )
    )
    await ctx.db.flush()
    ctx.say("Target set.")
    await target_changed(ctx)
    await home(ctx, s)


# removing a target or finishing a programme


async def remove(ctx: Ctx, s: CpdState, arg: str) -> None:
    await ctx.go("targets")


async def ask_targets(ctx: Ctx, s: CpdState) -> None:
    items = await progress(ctx.db, ctx.catalogue, ctx.user, ctx.now, ctx.engine.appraisal_round)
    rows = []
    for p in items:
        label = short(_plain(p.line), 48)
        rows.append([Button("Remove: " + label, "drop", str(p.target.id))])
        if p.target.kind == "programme" and p.target.done_on is None:
            rows.append([Button("Mark finished: " + label, "finish", str(p.target.id))])
    ctx.say("Which target?", [*rows, [Button("Back", "home")]])


def _plain(line: str) -> str:
    return line.split(" — ")[0].replace("<b>", "").replace("</b>", "")


async def _mine(ctx: Ctx, arg: str) -> CpdTarget | None:
    if not arg.isdigit():
        return None
    t = await ctx.db.get(CpdTarget, int(arg))
    return t if t is not None and t.user_id == ctx.user.id else None


async def drop(ctx: Ctx, s: CpdState, arg: str) -> None:
    t = await _mine(ctx, arg)
    if t is not None:
        await ctx.db.execute(delete(CpdTarget).where(CpdTarget.id == t.id))
        ctx.say("Target removed.")
        await target_changed(ctx)
    await home(ctx, s)


async def finish_programme(ctx: Ctx, s: CpdState, arg: str) -> None:
    t = await _mine(ctx, arg)
    if t is not None:
        t.done_on = local_today(ctx.user, ctx.now)
        ctx.say("Well done — marked finished.")
        await target_changed(ctx)
    await home(ctx, s)


BACK = {"home": home}
FLOW = Flow(
    name="cpd",
    label="CPD entry",
    state=CpdState,
    progress=_cpd_progress,
    steps={
        "home": Step(ask_home, {"log": log, "target": target, "remove": remove, "done": done}),
        "what": Step(ask_what, dict(BACK), text=typed_what),
        "identifiers": identifier_step(accept_what),
        "minutes": Step(ask_minutes, {"mins": set_minutes, **BACK}, text=set_minutes),
        "participatory": Step(ask_participatory, {"part": set_participatory, **BACK}),
        "link": Step(ask_link, {"item": toggle_item, "save": save_activity, **BACK}),
        "kind": Step(ask_kind, {"kind": set_kind, **BACK}),
        "goal": Step(ask_goal, {"goal": set_goal, **BACK}, text=set_goal),
        "part_goal": Step(ask_part_goal, {"pgoal": set_part_goal, **BACK}, text=set_part_goal),
        "count": Step(ask_count, {"count": set_count, **BACK}, text=set_count),
        "programme": Step(ask_programme, {"prog": set_programme, **BACK}),
        "end": Step(ask_end, {"end": set_end, **BACK}, text=set_end),
        "targets": Step(ask_targets, {"drop": drop, "finish": finish_programme, **BACK}),
    },
)


def register(engine: Engine) -> None:
    engine.flow(FLOW)
    engine.command("cpd", cpd_command, Kind.SWITCH)
    engine.command("appraisal", appraisal_command, Kind.OVERLAY)
