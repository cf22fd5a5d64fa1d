"""CPD progress and pace against targets, what is covered since the last appraisal, and /appraisal: the
countdown. A reflection's minutes count automatically. The /cpd conversation is ``flows/cpd.py``."""

from __future__ import annotations

import calendar
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from html import escape
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, case, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession

from flows.core.flow import Ctx
from flows.core.replies import Button
from flows.core.storage import Prepared, first_on
from flows.rules.areas import UNIT, UNIT_NAMES, unit_of, units
from flows.rules.schedule import Round, at_local, round_window
from flows.store.models import CpdActivity, CpdTarget, Reflection, User
from flows.talks.common import menu_buttons, plural
from frameworks.catalogue import Catalogue

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


def months_on(today: date, months: int) -> date:
    """The same day ``months`` on, or the month's last day where it has fewer days."""
    month = today.month - 1 + months
    return _safe(today.year + month // 12, month % 12 + 1, today.day)


def _safe(year: int, month: int, day: int) -> date:
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


# --- progress and pace ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    target: CpdTarget
    line: str
    behind: str | None  # "4 hours behind pace for 31 March 2027", or None when on pace


_REFLECTED = (
    select(func.coalesce(func.sum(Reflection.minutes), literal_column("0")))
    .where(
        Reflection.user_id == bindparam("b_user"),
        Reflection.created_at >= bindparam("b_from"),
        Reflection.created_at < bindparam("b_to"),
    )
    .scalar_subquery()
)
_PARTICIPATORY = case((CpdActivity.participatory, CpdActivity.minutes), else_=literal_column("0"))
# The log's minutes and participatory minutes between two days, and the reflections' between two instants:
# one statement, built and compiled once (building it each time cost more than running it).
_MINUTES = Prepared(
    select(
        func.coalesce(func.sum(CpdActivity.minutes), literal_column("0")),
        func.coalesce(func.sum(_PARTICIPATORY), literal_column("0")),
        _REFLECTED,
    ).where(
        CpdActivity.user_id == bindparam("b_user"),
        CpdActivity.done_on >= bindparam("b_start"),
        CpdActivity.done_on <= bindparam("b_end"),
    )
)


async def _minutes(db: AsyncSession, user: User, start: date, end: date) -> tuple[int, int]:
    """(all minutes, participatory minutes) logged from ``start`` to ``end``, reflections included."""
    zone = ZoneInfo(user.timezone)
    params = {
        "b_user": user.id,
        "b_start": start,
        "b_end": end,
        "b_from": at_local(start, time(0), zone),
        "b_to": at_local(end + timedelta(days=1), time(0), zone),
    }
    found = await first_on(await db.connection(), _MINUTES, params)
    logged, part, mins = found if found is not None else (0, 0, 0)
    return int(logged or 0) + int(mins or 0), int(part or 0)


_TARGETS = select(CpdTarget).where(CpdTarget.user_id == bindparam("user_id")).order_by(CpdTarget.id)  # built once


async def progress(db: AsyncSession, cat: Catalogue, user: User, now: datetime, round_: Round | None) -> list[Progress]:
    today = local_today(user, now)
    targets = (await db.execute(_TARGETS, {"user_id": user.id})).scalars()
    out = []
    for t in targets:
        if t.kind == "hours":
            p = await _hours(db, user, t, today)
        elif t.kind == "reflections":
            p = await _reflections(db, user, t, today)
        elif t.kind == "coverage":
            p = await _coverage(db, cat, user, t, now, round_)
        elif t.kind == "programme":
            p = _programme(cat, t, today)
        else:
            continue
        if t.done_on is not None and t.kind != "programme":  # marked finished: shown so, never behind
            p = Progress(t, f"{p.line.split(' — ')[0]} — marked finished {long_date(t.done_on)} ✓", None)
        out.append(p)
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
    pack = [Button("Appraisal pack (PDF)", "m", "pack", scoped=False)]
    ctx.say(
        await appraisal_text(ctx),
        [[Button("Reflect now", "m", "reflect", scoped=False)], pack, *menu_buttons()[1:2]],
    )
