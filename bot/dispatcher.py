"""The nudge dispatcher: claims due nudges (``flows/nudges.py`` says when each is due and what it says),
decides each (send, skip: done already, stale after downtime, paused; or wait: one a day), records each
delivery under its (nudge, occurrence) key before sending, and sends through the push seam, paced.
A 429 is waited out however long it lasts (it is not a failure); each outcome is written within a few
milliseconds of the answer, so a kill leaves only what was in flight as "unknown"."""

from __future__ import annotations

import asyncio
import logging
import time as clock
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, Table, bindparam, func, insert, select, text, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from flows.cpd import behind
from flows.engine import Engine
from flows.flow import Ctx
from flows.models import Nudge, NudgeDelivery, Reflection, User
from flows.nudges import (
    ENABLED,
    GRACE,
    LEASE_KEY,
    _has_targets,
    _quiet,
    _zone,
    next_due,
    nudge_buttons,
    nudge_text,
    reflection_text,
)
from flows.push import Sender, SendStatus
from flows.replies import Identity, Reply
from flows.schedule import aware, same_time_next_day, week_start

log = logging.getLogger(__name__)


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
