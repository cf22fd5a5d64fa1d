"""Nudges: the weekly reflection reminder, the appraisal countdown, the CPD pace check and the follow-up
of a dated action (a reflection's "now what", on the day it named).

Each user has one row per kind in ``nudges`` with the next due instant in UTC, recomputed from their
rule in local time (``flows/schedule.py``) whenever it is sent, skipped or their settings change. The
dispatcher (``Dispatcher.run_once``) claims due rows, decides (send, skip: done already, stale after
downtime, paused; or wait: one a day), records each delivery under its (nudge, occurrence) key before
sending, and sends through the push seam. No Telegram here: a ``Sender`` does the sending.
"""

from __future__ import annotations

import asyncio
import logging
import time as clock
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from html import escape
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import Select, Table, bindparam, func, insert, select, text, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from flows.actions import action_text as followed_action
from flows.actions import on_action_change
from flows.common import DAYS, short
from flows.cpd import appraisal_text, behind, long_date, next_appraisal, on_target_change
from flows.engine import Engine
from flows.flow import Ctx, Kind
from flows.models import Action, CpdTarget, Nudge, NudgeDelivery, Reflection, User
from flows.push import Sender, SendStatus
from flows.replies import Button, Identity, Reply
from flows.schedule import (
    Quiet,
    appraisal_checkpoints,
    at_local,
    aware,
    hhmm,
    next_weekly,
    same_time_next_day,
    this_evening,
    week_start,
)

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


def next_due(
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


async def _has_targets(db: AsyncSession, user_id: int) -> bool:
    found = await db.scalar(
        select(CpdTarget.id).where(CpdTarget.user_id == user_id, CpdTarget.done_on.is_(None)).limit(1)
    )
    return found is not None


async def _action_days(db: AsyncSession, user_id: int) -> list[date]:
    rows = await db.execute(
        select(Action.due_on).where(Action.user_id == user_id, Action.outcome == "").distinct().order_by(Action.due_on)
    )
    return list(rows.scalars())


async def reschedule(ctx: Ctx, kinds: Sequence[str] = KINDS) -> None:
    """Recompute the user's nudges after a change (settings, a pause, a target): it takes effect at once."""
    await plan(ctx.db, ctx.engine, ctx.user, ctx.now, kinds)


async def plan(db: AsyncSession, engine: Engine, user: User, now: datetime, kinds: Sequence[str] = KINDS) -> None:
    rows = {n.kind: n for n in (await db.execute(select(Nudge).where(Nudge.user_id == user.id))).scalars()}
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
    return "<b>Your CPD</b>\n" + "\n".join(f"• You're {line}." if "behind" in line else f"• {line}." for line in late)


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


# --- the dispatcher -------------------------------------------------------------------------------


@dataclass
class Pass:
    """What one dispatch pass did."""

    sent: int = 0
    skipped: dict[str, int] = field(default_factory=dict)  # why: stale, done, on-track, blocked...
    deferred: int = 0  # one a day: moved to tomorrow
    blocked: int = 0
    failed: int = 0
    held: bool = True  # this instance held the sending lease

    def skip(self, why: str) -> None:
        self.skipped[why] = self.skipped.get(why, 0) + 1


@dataclass(frozen=True)
class _Send:
    nudge_id: int
    occurrence: str
    kind: str
    who: Identity
    user_id: int = 0
    seq: int = 0
    zone: str = "Europe/London"
    recent: int = 0  # reflections in the last four weeks


_DELIVERY: Table = NudgeDelivery.__table__  # type: ignore[assignment]
_ITEM = (_DELIVERY.c.nudge_id == bindparam("n")) & (_DELIVERY.c.occurrence == bindparam("o"))
_MARK = update(_DELIVERY).where(_ITEM, _DELIVERY.c.status == bindparam("was")).values(status=bindparam("to"))
_SET = update(_DELIVERY).where(_ITEM).values(status=bindparam("to"))
_MARK_MANY = (
    update(_DELIVERY)
    .where(
        tuple_(_DELIVERY.c.nudge_id, _DELIVERY.c.occurrence).in_(bindparam("keys", expanding=True)),
        _DELIVERY.c.status == "queued",
    )
    .values(status="sending")
    .returning(_DELIVERY.c.nudge_id, _DELIVERY.c.occurrence)
)


class _Marker:
    """Marks nudges "sending" just before they go, the ones whose turn comes in the same few
    milliseconds together in one statement (at 500 a second that is a handful; at 20, one)."""

    WINDOW = 0.003

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.waiting: list[tuple[_Send, asyncio.Future[bool]]] = []
        self.flushing: asyncio.Task[None] | None = None

    async def mark(self, item: _Send) -> bool:
        """True if this call marked it (it was queued); False if something else had it already."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.waiting.append((item, future))
        if self.flushing is None:
            self.flushing = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        await asyncio.sleep(self.WINDOW)
        batch, self.waiting, self.flushing = self.waiting, [], None
        try:
            keys = [(item.nudge_id, item.occurrence) for item, _ in batch]
            async with self.engine.transaction() as db:
                marked = set((await db.execute(_MARK_MANY, {"keys": keys})).all())
        except Exception as exc:
            for _, future in batch:
                future.set_exception(exc)
            return
        for item, future in batch:
            future.set_result((item.nudge_id, item.occurrence) in marked)


class Pacer:
    """Spaces sends to at most ``rate`` a second across the pass (bursts of at most one), pauses
    everything when Telegram says to wait (429 ``retry_after``), and stands back while ``busy()``
    says the bot's replies need the room."""

    def __init__(self, rate: float, busy: Callable[[], bool] | None = None) -> None:
        self.interval = 1.0 / rate
        self.next_at = clock.monotonic()
        self.busy = busy
        self.per_second = max(1, int(rate))
        self.sent: deque[float] = deque()

    async def wait(self) -> None:
        while self.busy is not None and self.busy():
            await asyncio.sleep(0.05)
        now = clock.monotonic()
        at = max(self.next_at, now)
        self.next_at = at + self.interval
        if at > now:
            await asyncio.sleep(at - now)

    def hold(self, seconds: float) -> None:
        self.next_at = max(self.next_at, clock.monotonic() + seconds)

    async def admit(self) -> None:
        """Just before a send: never more than ``rate`` in any second, even when sends whose turns came
        during a stall (a slow transaction, a busy machine) would otherwise go out together."""
        while len(self.sent) >= self.per_second:
            wait = self.sent[0] + 1.0 - clock.monotonic()
            if wait <= 0:
                self.sent.popleft()
                continue
            await asyncio.sleep(wait)
        self.sent.append(clock.monotonic())


_CLAIMED = (
    Nudge.id,
    Nudge.kind,
    Nudge.due_at,
    Nudge.occurrence,
    Nudge.snoozed,
    Nudge.seq,
    Nudge.sent_at,
    Nudge.sent_virtual,
    User.id.label("user_id"),
    User.channel,
    User.external_id,
    User.blocked,
    User.onboarded,
    User.timezone,
    User.quiet_start,
    User.quiet_end,
    User.reflect_day,
    User.reflect_time,
    User.paused_until,
    User.appraisal_date,
    User.nudge_reflection,
    User.nudge_appraisal,
    User.nudge_cpd,
)
_NUDGES: Table = Nudge.__table__  # type: ignore[assignment]
_MOVE_ON = (
    update(_NUDGES)
    .where(_NUDGES.c.id == bindparam("i"))
    .values(
        due_at=bindparam("due"),
        occurrence=bindparam("occ"),
        seq=bindparam("seq"),
        sent_at=bindparam("sat"),
        sent_virtual=bindparam("virt"),
        snoozed=bindparam("snz"),
        updated_at=bindparam("upd"),
    )
)


def claim_query(now: datetime, limit: int, channel: str, postgres: bool) -> Select[*tuple[Any, ...]]:
    """The due rows of a channel, oldest first, with what deciding needs; on PostgreSQL locked, skipping
    rows another transaction holds (FOR UPDATE SKIP LOCKED)."""
    query = (
        select(*_CLAIMED)
        .join(User, User.id == Nudge.user_id)
        .where(Nudge.due_at <= now, User.channel == channel)
        .order_by(Nudge.due_at)
        .limit(limit)
    )
    return query.with_for_update(of=Nudge, skip_locked=True) if postgres else query


def due_query(now: datetime, limit: int, channel: str | None = None) -> Select[Nudge, User]:
    query = select(Nudge, User).join(User, User.id == Nudge.user_id).where(Nudge.due_at <= now)
    if channel is not None:
        query = query.where(User.channel == channel)
    return query.order_by(Nudge.due_at).limit(limit)


class Dispatcher:
    """Sends due nudges. ``rate``: nudges a second for all instances together — keep it under
    Telegram's 30 a second so interactive replies always have room."""

    def __init__(
        self,
        engine: Engine,
        sender: Sender,
        *,
        channel: str = "telegram",
        rate: float = 20.0,
        batch: int = 500,
        in_flight: int = 8,
        busy: Callable[[], bool] | None = None,
    ) -> None:
        self.engine = engine
        self.busy = busy
        self.channel = channel
        self.sender = sender
        self.rate = rate
        self.batch = batch
        self.in_flight = in_flight
        self._postgres = not engine.single_writer
        self._running = asyncio.Lock()

    async def run_once(self, at: datetime | None = None) -> Pass:
        """One pass: everything due at ``at`` (default: now). ``at`` given = a pretend time (``--at``)."""
        if self._running.locked():
            return Pass(held=False)  # the previous tick is still sending
        async with self._running:
            if not self._postgres:
                return await self._pass(at)
            bind = self.engine.database
            async with bind.connect() as lease:
                got = await lease.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": LEASE_KEY})
                await lease.commit()
                if not got:
                    return Pass(held=False)  # another instance is sending; its death releases the lease
                try:
                    return await self._pass(at)
                finally:
                    await lease.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LEASE_KEY})
                    await lease.commit()

    async def _pass(self, at: datetime | None) -> Pass:
        result = Pass()
        await self._recover(result)
        pacer = Pacer(self.rate, self.busy)

        def claim() -> asyncio.Task[tuple[list[_Send], bool]]:
            now = at or self.engine.clock()
            return asyncio.create_task(self._claim(now, virtual=at is not None, result=result))

        sends, more = await claim()
        while True:
            # The next batch is claimed while this one is sent, so sending never stops for a claim.
            following = claim() if more else None
            try:
                await self._send_all(sends, pacer, result, at or self.engine.clock())
            finally:
                if following is not None and not following.done():
                    await asyncio.wait([following])
            if following is None:
                return result
            sends, more = following.result()

    async def _recover(self, result: Pass) -> None:
        """After a crash: queued deliveries are sent; one that was being sent is not sent again."""
        async with self.engine.transaction() as db:
            mine = select(User.id).where(User.channel == self.channel)
            await db.execute(
                update(NudgeDelivery)
                .where(NudgeDelivery.status == "sending", NudgeDelivery.user_id.in_(mine))
                .values(status="unknown")
            )
            queued = (
                await db.execute(
                    select(
                        NudgeDelivery.nudge_id,
                        NudgeDelivery.occurrence,
                        NudgeDelivery.kind,
                        User.channel,
                        User.external_id,
                        User.id,
                        User.timezone,
                        Nudge.seq,
                    )
                    .join(User, User.id == NudgeDelivery.user_id)
                    .join(Nudge, Nudge.id == NudgeDelivery.nudge_id)
                    .where(NudgeDelivery.status == "queued", User.channel == self.channel)
                )
            ).all()
        sends = [_Send(n, o, k, Identity(c, e), uid, seq, zone) for n, o, k, c, e, uid, zone, seq in queued]
        if sends:
            log.info("resuming %d queued nudges", len(sends))
            await self._send_all(sends, Pacer(self.rate, self.busy), result, self.engine.clock())

    async def _claim(self, now: datetime, *, virtual: bool, result: Pass) -> tuple[list[_Send], bool]:
        """Lock a batch of due rows, decide each, record the deliveries to make, move each row on: a few
        statements for the whole batch (Core rows and executemany, not one ORM object per row)."""
        async with self.engine.transaction() as db:
            conn = await db.connection()  # Core statements: the ORM's result set-up cost more than the rest
            rows = (await conn.execute(claim_query(now, self.batch, self.channel, self._postgres))).all()
            if not rows:
                return [], False
            user_ids = list({r.user_id for r in rows})
            since = now - timedelta(weeks=4)
            reflected = {
                uid: (latest, recent)
                for uid, latest, recent in (
                    await conn.execute(
                        select(
                            Reflection.user_id,
                            func.max(Reflection.created_at),
                            func.count().filter(Reflection.created_at >= since),
                        )
                        .where(Reflection.user_id.in_(user_ids))
                        .group_by(Reflection.user_id)
                    )
                ).all()
            }
            # One a day: when each user was last sent a nudge of any kind (read, not locked: users and
            # their other rows are left to the interactive transactions, so the two never deadlock).
            nudged: dict[int, datetime | None] = dict(
                (
                    await conn.execute(
                        select(Nudge.user_id, func.max(Nudge.sent_at))
                        .where(Nudge.user_id.in_(user_ids))
                        .group_by(Nudge.user_id)
                    )
                ).all()
            )
            sends: list[_Send] = []
            records: list[dict[str, Any]] = []
            moves: list[dict[str, Any]] = []
            for r in rows:
                zone = _zone(r)
                sent = nudged.get(r.user_id)
                today = sent is not None and aware(sent).astimezone(zone).date() == now.astimezone(zone).date()
                latest, recent = reflected.get(r.user_id, (None, 0))
                why = await self._decide(db, r, now, latest, today)
                move = {"i": r.id, "seq": r.seq, "sat": r.sent_at, "virt": r.sent_virtual, "snz": False, "upd": now}
                if why == "wait":
                    result.deferred += 1
                    due_tomorrow = _quiet(r).defer(same_time_next_day(now, zone), zone)
                    moves.append({**move, "due": due_tomorrow, "occ": r.occurrence, "snz": r.snoozed})
                    continue
                due = aware(r.due_at or now)
                if why == "send":
                    seq = r.seq + 1
                    records.append(
                        {
                            "nudge_id": r.id,
                            "occurrence": r.occurrence,
                            "user_id": r.user_id,
                            "kind": r.kind,
                            "status": "queued",
                            "due_at": due,
                            "created_at": now,
                        }
                    )
                    who = Identity(r.channel, r.external_id)
                    sends.append(_Send(r.id, r.occurrence, r.kind, who, r.user_id, seq, r.timezone, recent))
                    move.update(seq=seq, sat=now, virt=virtual)
                    nudged[r.user_id] = now
                else:
                    result.skip(why)
                targets = await _has_targets(db, r.user_id) if r.kind == "cpd_pace" else False
                nxt = next_due(r, r.kind, max(now, due), self.engine, targets)
                moves.append({**move, "due": nxt[0] if nxt else None, "occ": nxt[1] if nxt else ""})
            if records:
                keys = [(rec["nudge_id"], rec["occurrence"]) for rec in records]
                sent_before = set(
                    (
                        await conn.execute(
                            select(NudgeDelivery.nudge_id, NudgeDelivery.occurrence).where(
                                tuple_(NudgeDelivery.nudge_id, NudgeDelivery.occurrence).in_(keys)
                            )
                        )
                    ).all()
                )
                if sent_before:
                    result.skip("already-sent")
                    records = [rec for rec in records if (rec["nudge_id"], rec["occurrence"]) not in sent_before]
                    sends = [x for x in sends if (x.nudge_id, x.occurrence) not in sent_before]
                if records:
                    await conn.execute(insert(_DELIVERY), records)
            await conn.execute(_MOVE_ON, moves)
        return sends, len(rows) == self.batch

    async def _decide(self, db: AsyncSession, r: Any, now: datetime, last: datetime | None, nudged_today: bool) -> str:
        """What to do with a claimed row ``r`` (a nudge and its user's settings)."""
        due = aware(r.due_at or now)
        if r.blocked:
            return "blocked"
        if now - due > GRACE.get(r.kind, timedelta(hours=3)):
            return "stale"  # after downtime: too late to be useful, so not sent
        if r.paused_until is not None and aware(r.paused_until) > now:
            return "paused"
        if not getattr(r, ENABLED[r.kind], False) or not r.onboarded:
            return "off"
        reflected = last is not None and aware(last) >= week_start(due, _zone(r))
        if r.kind == "reflection" and not r.snoozed and reflected:
            return "done"  # they have reflected this week already
        if r.kind == "cpd_pace":
            user = await db.get(User, r.user_id)
            if user is None or not await behind(db, self.engine.catalogue, user, now, self.engine.appraisal_round):
                return "on-track"
        if not r.snoozed and nudged_today:
            return "wait"  # one a day
        return "send"

    async def _send_all(self, sends: list[_Send], pacer: Pacer, result: Pass, now: datetime) -> None:
        outcomes: list[tuple[_Send, str]] = []
        marker = _Marker(self.engine)

        async def flush() -> None:
            # What became of each, a batch at a time. A crash before this leaves them "sending", which
            # the next pass reads as "unknown": never sent twice.
            done = outcomes[:]
            del outcomes[:]
            if done:
                async with self.engine.transaction() as db:
                    await db.execute(_SET, [{"n": i.nudge_id, "o": i.occurrence, "to": st} for i, st in done])

        queue = iter(sends)

        async def worker() -> None:  # a few workers take the batch in turn: no task per nudge
            for item in queue:
                status = await self._send(item, pacer, result, marker)
                if status is not None:
                    outcomes.append((item, status))
                    if len(outcomes) >= 50:
                        await flush()

        try:
            await asyncio.gather(*(worker() for _ in range(min(self.in_flight, len(sends)))))
        finally:
            await flush()

    async def _send(self, item: _Send, pacer: Pacer, result: Pass, marker: _Marker) -> str | None:
        """Send one nudge, marked "sending" first (in its own small transaction); its final status."""
        replies: list[Reply] = []
        key = {"n": item.nudge_id, "o": item.occurrence}

        async def compose(ctx: Ctx) -> None:  # appraisal and CPD nudges read the user's data
            claimed = await ctx.db.execute(
                _MARK, {"n": item.nudge_id, "o": item.occurrence, "was": was, "to": "sending"}
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                return  # sent (or being sent) by someone else: say nothing
            body = await nudge_text(ctx, item.kind)
            if body is None:
                await ctx.db.execute(_SET, {**key, "to": "on-track"})
                return
            ctx.say(body, nudge_buttons(item.kind, item.seq, ctx.now, ZoneInfo(item.zone)))

        was = "queued"
        for attempt in range(5):
            await pacer.wait()  # before marking it: a crash never finds one marked long before it was sent
            if item.kind == "reflection":  # the weekly nudge needs nothing more: no user transaction
                if not replies:
                    if not await marker.mark(item):
                        result.skip("not-sent")
                        return None
                    buttons = nudge_buttons(item.kind, item.seq, self.engine.clock(), ZoneInfo(item.zone))
                    replies = [Reply(reflection_text(item.recent), buttons)]
                    self.engine.sign(replies, item.user_id)
                await pacer.admit()
                outcome = await self.sender.send(item.who, replies)
            else:
                await pacer.admit()
                outcome = await self.engine.push(item.who, compose, self.sender)
                was = "sending"  # a retry sends what this attempt marked
            if outcome.status is SendStatus.RETRY and attempt < 4:
                pacer.hold(outcome.retry_after or 1.0)
                continue
            break
        if outcome.status is SendStatus.SENT:
            result.sent += 1
            return "sent"
        if outcome.status is SendStatus.BLOCKED:
            result.blocked += 1
            if replies:  # (push marks the user itself)
                await self.engine.mark_blocked(item.who)
            return "blocked"
        if outcome.status is SendStatus.SKIPPED:
            result.skip("not-sent")  # unknown or blocked user, or nothing to say: left as it is
            return None
        result.failed += 1
        return "failed"


async def due(engine: Engine, at: datetime) -> list[dict[str, str]]:
    """What is due at ``at``, on every channel (for ``leadcoach nudges due``), before any is decided."""
    async with engine.sessionmaker() as db:
        rows = (await db.execute(due_query(at, 100_000))).all()
    return [
        {"user": f"{u.channel}:{u.external_id}", "kind": n.kind, "due_utc": aware(n.due_at or at).isoformat()}
        for n, u in rows
    ]


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
