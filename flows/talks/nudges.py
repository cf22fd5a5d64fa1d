"""Nudges: the weekly reflection reminder, the appraisal countdown, the CPD pace check and the follow-up
of a dated action (a reflection's "now what", on the day it named).

Each user has one row per kind in ``nudges`` with the next due instant in UTC, recomputed from their
rule in local time (``flows/schedule.py``) whenever it is sent, skipped or their settings change. The
dispatcher (``Dispatcher.run_once``) claims due rows, decides (send, skip: done already, stale after
downtime, paused; or wait: one a day), records each delivery under its (nudge, occurrence) key before
sending, and sends through the push seam. No Telegram here: a ``Sender`` does the sending.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from html import escape
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from flows.core.engine import Engine
from flows.core.flow import Ctx, Kind
from flows.core.replies import Button
from flows.rules.schedule import (
    Quiet,
    appraisal_checkpoints,
    at_local,
    aware,
    hhmm,
    next_weekly,
    same_time_next_day,
    this_evening,
)
from flows.store.models import Action, CpdTarget, Nudge, Reflection, User
from flows.talks.actions import action_text as followed_action
from flows.talks.actions import on_action_change
from flows.talks.common import DAYS, short
from flows.talks.progress import appraisal_text, behind, long_date, next_appraisal, on_target_change

log = logging.getLogger(__name__)

KINDS = ("reflection", "appraisal", "cpd_pace", "action")
LETTER = {"reflection": "r", "appraisal": "a", "cpd_pace": "c", "action": "f"}
BY_LETTER = {v: k for k, v in LETTER.items()}
START = {"reflection": "reflect", "appraisal": "appraisal", "cpd_pace": "cpd", "action": "actions"}
# An action's follow-up comes with the reflection nudges: the user asked for it by giving the date.
ENABLED = {
    "reflection": "nudge_reflection",
    "appraisal": "nudge_appraisal",
    "cpd_pace": "nudge_cpd",
    "action": "nudge_reflection",
}
# How late a nudge may still go out after downtime; later than this it is skipped, not sent.
GRACE = {
    "reflection": timedelta(hours=3),
    "appraisal": timedelta(hours=24),
    "cpd_pace": timedelta(days=3),
    "action": timedelta(days=3),
}
LEASE_KEY = 0x4C43_4E55  # "LCNU": the PostgreSQL advisory lock held by the one instance sending nudges


def _zone(user: Person) -> ZoneInfo:
    return ZoneInfo(user.timezone)


def _quiet(user: Person) -> Quiet:
    return Quiet(hhmm(user.quiet_start), hhmm(user.quiet_end))


# --- the rules: when each kind is next due -------------------------------------------------------


class Person(Protocol):
    """What the rules read of a user: a ``User``, or a row of the dispatcher's claim."""

    @property
    def onboarded(self) -> bool: ...
    @property
    def timezone(self) -> str: ...
    @property
    def quiet_start(self) -> str: ...
    @property
    def quiet_end(self) -> str: ...
    @property
    def reflect_day(self) -> int: ...
    @property
    def reflect_time(self) -> str: ...
    @property
    def paused_until(self) -> datetime | None: ...
    @property
    def appraisal_date(self) -> date | None: ...
    @property
    def nudge_reflection(self) -> bool: ...
    @property
    def nudge_appraisal(self) -> bool: ...
    @property
    def nudge_cpd(self) -> bool: ...


def next_due(  # noqa: C901 - one branch per kind of nudge
    user: Person, kind: str, after: datetime, engine: Engine, has_targets: bool, actions: Sequence[date] = ()
) -> tuple[datetime, str] | None:
    """(due instant, occurrence key) of the next nudge of ``kind`` after ``after``, or None. ``actions``: the
    days unanswered actions are due (the follow-up is at the user's reflection time on the first still ahead)."""
    if not user.onboarded or not getattr(user, ENABLED[kind]):
        return None
    zone, quiet = _zone(user), _quiet(user)
    start = max(after, aware(user.paused_until)) if user.paused_until else after
    slot_time = hhmm(user.reflect_time)
    if kind == "reflection":
        slot = next_weekly(start, user.reflect_day, slot_time, zone)
        year, week, _ = slot.astimezone(zone).isocalendar()
        return quiet.defer(slot, zone), f"w{year}-{week:02d}"
    if kind == "action":
        for day in sorted(actions):
            instant = at_local(day, slot_time, zone)
            if instant > start:
                return quiet.defer(instant, zone), f"f{day.isoformat()}"
        return None
    if kind == "appraisal":
        appraisal = next_appraisal(user.appraisal_date, start.astimezone(zone).date(), engine.appraisal_round)
        if appraisal is None:
            return None
        for days, instant in appraisal_checkpoints(appraisal.day, slot_time, zone):
            if instant > start:
                return quiet.defer(instant, zone), f"a{appraisal.day.isoformat()}-{days}"
        return None
    if not has_targets:
        return None
    # CPD pace: at most monthly, at the user's weekly slot in the first week of each month.
    slot = next_weekly(start, user.reflect_day, slot_time, zone)
    while slot.astimezone(zone).day > 7:
        slot = next_weekly(slot, user.reflect_day, slot_time, zone)
    return quiet.defer(slot, zone), f"c{slot.astimezone(zone):%Y-%m}"


# The statements of ``plan`` (after onboarding, settings, a target or an action changes), built once.
_NUDGES = select(Nudge).where(Nudge.user_id == bindparam("user_id"))
_HAS_TARGETS = (
    select(CpdTarget.id).where(CpdTarget.user_id == bindparam("user_id"), CpdTarget.done_on.is_(None)).limit(1)
)
_ACTION_DAYS = (
    select(Action.due_on)
    .where(Action.user_id == bindparam("user_id"), Action.outcome == "")
    .distinct()
    .order_by(Action.due_on)
)


async def _has_targets(db: AsyncSession, user_id: int) -> bool:
    return await db.scalar(_HAS_TARGETS, {"user_id": user_id}) is not None


async def _action_days(db: AsyncSession, user_id: int) -> list[date]:
    return list((await db.execute(_ACTION_DAYS, {"user_id": user_id})).scalars())


async def reschedule(ctx: Ctx, kinds: Sequence[str] = KINDS) -> None:
    """Recompute the user's nudges after a change (settings, a pause, a target): it takes effect at once."""
    await plan(ctx.db, ctx.engine, ctx.user, ctx.now, kinds)


async def plan(db: AsyncSession, engine: Engine, user: User, now: datetime, kinds: Sequence[str] = KINDS) -> None:
    rows = {n.kind: n for n in (await db.execute(_NUDGES, {"user_id": user.id})).scalars()}
    targets = await _has_targets(db, user.id) if "cpd_pace" in kinds else False
    actions = await _action_days(db, user.id) if "action" in kinds else []
    for kind in kinds:
        row = rows.get(kind)
        nxt = next_due(user, kind, now, engine, targets, actions)
        if row is None:  # one row per kind, even with nothing due (the kind off): seed() then skips the user
            row = _row(user.id, kind, now)
            db.add(row)
        paused = user.paused_until is not None and aware(user.paused_until) > now
        if row.snoozed and nxt is not None and not paused and row.due_at and aware(row.due_at) > now:
            continue  # a snooze the user asked for stands
        row.due_at, row.occurrence = nxt if nxt is not None else (None, "")
        row.snoozed, row.updated_at = False, now
    await db.flush()


def _row(user_id: int, kind: str, now: datetime) -> Nudge:
    return Nudge(
        user_id=user_id, kind=kind, due_at=None, occurrence="", seq=0, snoozed=False, sent_virtual=False, updated_at=now
    )


async def seed(engine: Engine, now: datetime) -> int:
    """Give every set-up user without nudge rows their schedule (users from before nudges existed)."""
    made = 0
    while True:
        async with engine.transaction() as db:
            users = (
                (
                    await db.execute(
                        select(User)
                        .where(User.onboarded, ~select(Nudge.id).where(Nudge.user_id == User.id).exists())
                        .limit(500)
                    )
                )
                .scalars()
                .all()
            )
            for user in users:
                await plan(db, engine, user, now)
        made += len(users)
        if len(users) < 500:
            return made


# --- what a nudge says ----------------------------------------------------------------------------


def nudge_buttons(kind: str, seq: int, now: datetime, zone: ZoneInfo) -> list[list[Button]]:
    def b(label: str, op: str) -> Button:
        return Button(label, "n", f"{op}.{LETTER[kind]}.{seq}", scoped=False)

    snooze = [b("In 1 hour", "s1h")]
    if this_evening(now, zone) is not None:
        snooze.append(b("This evening", "sev"))
    snooze.append(b("Tomorrow", "stm"))
    start = {
        "reflection": "Start now",
        "appraisal": "Reflect now",
        "cpd_pace": "Open my CPD",
        "action": "Tell me how it went",
    }[kind]
    pack = [[Button("Make my appraisal pack", "m", "pack", scoped=False)]] if kind == "appraisal" else []
    return [[b(start, "go")], *pack, snooze, [b("Pause nudges", "pau"), b("Change schedule", "sch")]]


def reflection_text(recent: int) -> str:
    """The weekly nudge; ``recent``: reflections in the last four weeks (a gentle line, no shaming)."""
    if not recent:
        line = "Five minutes is enough — one thing that happened this week, and what it taught you."
    else:
        plural = "s" if recent != 1 else ""
        line = f"You've made {recent} reflection{plural} in the last four weeks. Five minutes keeps it going."
    return f"<b>Your weekly reflection</b>\n{line}"


async def nudge_text(ctx: Ctx, kind: str) -> str | None:
    """The appraisal countdown or the CPD pace check (None: on pace after all, so nothing to say)."""
    u = ctx.user
    if kind == "action":
        return await action_text(ctx)
    if kind == "appraisal":
        return await appraisal_text(ctx)
    late = await behind(ctx.db, ctx.catalogue, u, ctx.now, ctx.engine.appraisal_round)
    if not late:
        return None
    lines = "\n".join(f"• You're {line}." if "behind" in line else f"• {line}." for line in late)
    where = "Finished one, or want to change it? /cpd → <b>Change, finish or remove a target</b>."
    return f"<b>Your CPD</b>\n{lines}\n{where}"


# --- buttons on a nudge ---------------------------------------------------------------------------


async def _nudge(ctx: Ctx, kind: str) -> Nudge | None:
    return (
        await ctx.db.execute(select(Nudge).where(Nudge.user_id == ctx.user.id, Nudge.kind == kind))
    ).scalar_one_or_none()


async def click(ctx: Ctx, arg: str) -> None:
    parts = arg.split(".")
    if len(parts) != 3 or parts[1] not in BY_LETTER or not parts[2].isdigit():
        return
    op, kind, seq = parts[0], BY_LETTER[parts[1]], int(parts[2])
    if op == "go":
        await ctx.engine.run_command(ctx, START[kind])
    elif op == "sch":
        await ctx.engine.run_command(ctx, "settings")
    elif op == "pau":
        ctx.say(
            "Pause all nudges for how long? (Useful for annual leave.)",
            [
                [
                    Button(f"{n} week{'s' if n > 1 else ''}", "n", f"p{n}.{LETTER[kind]}.{seq}", scoped=False)
                    for n in range(1, 5)
                ]
            ],
        )
    elif op in ("p1", "p2", "p3", "p4"):
        await pause(ctx, int(op[1]))
    elif op in ("s1h", "sev", "stm"):
        await snooze(ctx, kind, seq, op)


async def pause(ctx: Ctx, weeks: int) -> None:
    nudge = await _nudge(ctx, "reflection")
    base = _base(ctx, nudge)
    ctx.user.paused_until = base + timedelta(weeks=weeks)
    await reschedule(ctx)
    until = ctx.user.paused_until.astimezone(_zone(ctx.user))
    ctx.say(
        f"Paused: no nudges until {DAYS[until.weekday()]} {long_date(until.date())}. /settings resumes them sooner."
    )


def _base(ctx: Ctx, nudge: Nudge | None) -> datetime:
    """Now, or — when the nudge was sent by a pass run with ``--at`` — that pass's pretend time."""
    if nudge is not None and nudge.sent_virtual and nudge.sent_at is not None:
        return aware(nudge.sent_at)
    return ctx.now


async def snooze(ctx: Ctx, kind: str, seq: int, op: str) -> None:
    nudge = await _nudge(ctx, kind)
    if nudge is None or nudge.seq != seq or nudge.seq == 0:
        ctx.say("That reminder has been replaced by a newer one, so I've left it alone.")
        return
    base, zone = _base(ctx, nudge), _zone(ctx.user)
    when = {"s1h": base + timedelta(hours=1), "sev": this_evening(base, zone), "stm": same_time_next_day(base, zone)}[
        op
    ]
    if when is None:
        when = base + timedelta(hours=1)
    when = _quiet(ctx.user).defer(when, zone)
    nudge.due_at, nudge.occurrence, nudge.snoozed, nudge.updated_at = when, f"snooze{seq}", True, ctx.now
    local_when = when.astimezone(zone)
    day = "today" if local_when.date() == base.astimezone(zone).date() else DAYS[local_when.weekday()]
    ctx.say(f"OK, I'll remind you {day} at {local_when:%H:%M}.")


async def action_text(ctx: Ctx) -> str | None:
    """The follow-up of the actions due by today and not answered (None: all answered since). The next one
    is planned here: the dispatcher moved this nudge on without knowing the user's actions."""
    today = ctx.now.astimezone(_zone(ctx.user)).date()
    due = await ctx.db.execute(
        select(Action.due_on, Reflection.answers_enc)
        .join(Reflection, Reflection.id == Action.reflection_id)
        .where(Action.user_id == ctx.user.id, Action.outcome == "", Action.due_on <= today)
        .order_by(Action.due_on.desc())
        .limit(3)
    )
    found = due.all()
    await reschedule(ctx, kinds=("action",))
    if not found:
        return None
    day, answers = found[0]
    said = escape(short(followed_action(ctx.cipher.decrypt_json(answers)), 300))
    more = f"\n(And {len(found) - 1} more: /actions lists them.)" if len(found) > 1 else ""
    return f"<b>How did it go?</b>\nYou said you would, by {long_date(day)}:\n<i>{said}</i>{more}"


async def replan_actions(ctx: Ctx) -> None:
    """An action was added or answered: its follow-up is planned again."""
    await reschedule(ctx, kinds=("action",))


async def replan_pace(ctx: Ctx) -> None:
    """A CPD target changed: the pace nudge is planned again."""
    await reschedule(ctx, kinds=("cpd_pace",))


def register(engine: Engine) -> None:
    engine.click("n", click, Kind.ALWAYS)
    on_target_change(replan_pace)
    on_action_change(replan_actions)
