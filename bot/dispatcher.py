"""The nudge dispatcher: claims due nudges (``bot/claim.py``; ``flows/nudges.py`` says when each is due
and what it says), sends them through the push seam, paced (``bot/pacing.py``), and records each outcome.
A 429 is waited out however long it lasts (waiting out Telegram is not failure). A graceful stop takes
no more, finishes what is being sent, and puts back in the queue what it had marked but not sent."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select, text, update

from bot.budget import Budget
from bot.claim import PUT_BACK, Pass, claim, claim_query, due_query
from bot.pacing import MARK, SET, Marker, PacedSender, Pacer, Recorder, Send
from flows.core.engine import Engine
from flows.core.flow import Ctx
from flows.core.push import Sender, SendResult, SendStatus
from flows.core.replies import Identity, Reply
from flows.rules.schedule import aware
from flows.store.models import Nudge, NudgeDelivery, User
from flows.talks.feedback_nudges import remind as remind_feedback
from flows.talks.nudges import LEASE_KEY, nudge_buttons, nudge_text, reflection_text

log = logging.getLogger(__name__)
__all__ = ["Dispatcher", "Pacer", "Pass", "claim_query", "due"]


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
        budget: Budget | None = None,
    ) -> None:
        self.engine = engine
        self.busy = busy
        self.budget = budget
        self.channel = channel
        self.sender = sender
        self.rate = rate
        self.batch = batch
        self.in_flight = in_flight
        self._postgres = not engine.single_writer
        self._running = asyncio.Lock()
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        """Take no more nudges: those being sent finish, the rest wait (queued) for the next pass."""
        self._stopping.set()

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
        pacer = Pacer(self.rate, self.busy, self.budget)

        def claim_next() -> asyncio.Task[tuple[list[Send], bool]]:
            now = at or self.engine.clock()
            return asyncio.create_task(self._claim(now, virtual=at is not None, result=result))

        sends, more = await claim_next()
        while True:
            # The next batch is claimed while this one is sent, so sending never stops for a claim.
            following = claim_next() if more and not self._stopping.is_set() else None
            try:
                await self._send_all(sends, pacer, result)
            finally:
                if following is not None and not following.done():
                    await asyncio.wait([following])
            if following is None:
                if not self._stopping.is_set():  # 360° reminders: rows of their own, sent after the nudges
                    paced = PacedSender(self.sender, pacer)  # within the rate and the budget, like the nudges
                    await remind_feedback(self.engine, paced, at or self.engine.clock(), self.channel)
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
        sends = [Send(n, o, k, Identity(c, e), uid, seq, zone) for n, o, k, c, e, uid, zone, seq in queued]
        if sends:
            log.info("resuming %d queued nudges", len(sends))
            await self._send_all(sends, Pacer(self.rate, self.busy, self.budget), result)

    async def _claim(self, now: datetime, *, virtual: bool, result: Pass) -> tuple[list[Send], bool]:
        async with self.engine.transaction() as db:
            conn = await db.connection()  # Core statements: the ORM's result set-up cost more than the rest
            return await claim(
                conn,
                self.engine,
                now,
                limit=self.batch,
                channel=self.channel,
                postgres=self._postgres,
                virtual=virtual,
                result=result,
            )

    async def _send_all(self, sends: list[Send], pacer: Pacer, result: Pass) -> None:
        marker, recorder = Marker(self.engine), Recorder(self.engine)
        queue = iter(sends)

        async def worker() -> None:  # a few workers take the batch in turn: no task per nudge
            for item in queue:
                if self._stopping.is_set():
                    return  # the rest stay queued for the next pass
                status = await self._send(item, pacer, result, marker)
                if status is not None:
                    recorder.note(item, status)

        try:
            await asyncio.gather(*(worker() for _ in range(min(self.in_flight, len(sends)))))
        finally:
            await recorder.close()

    async def _send(  # noqa: C901 - every Bot API outcome of one nudge in one place
        self, item: Send, pacer: Pacer, result: Pass, marker: Marker
    ) -> str | None:
        """Send one nudge, marked "sending" first; its final status (None: left as it is)."""
        replies: list[Reply] = []
        said: dict[str, bool] = {}
        was = "queued"

        async def compose(ctx: Ctx) -> None:  # appraisal and CPD nudges read the user's data
            claimed = await ctx.db.execute(MARK, {**item.key, "was": was, "to": "sending"})
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                return  # sent (or being sent) by someone else: say nothing
            body = await nudge_text(ctx, item.kind)
            if body is None:  # on pace after all: nothing to say, and the nudge row as it was
                await ctx.db.execute(SET, {**item.key, "to": "on-track"})
                if item.before is not None:
                    await ctx.db.execute(PUT_BACK, item.before)
                said["on-track"] = True
                return
            ctx.say(body, nudge_buttons(item.kind, item.seq, ctx.now, ZoneInfo(item.zone)))

        while True:
            await pacer.wait()  # before marking it: a crash never finds one marked long before it was sent
            if item.kind == "reflection":  # the weekly nudge needs nothing more: no user transaction
                if not replies:
                    if not await marker.mark(item):
                        result.skip("not-sent")
                        return None
                    replies = self._weekly(item)
                await pacer.admit(item.who.external_id)  # after the replies the user's chat has had
                try:
                    outcome = await self.sender.send(item.who, replies)
                finally:
                    pacer.answered(item.who.external_id)
            else:
                await pacer.admit(item.who.external_id)
                try:
                    outcome = await self.engine.push(item.who, compose, self.sender)
                finally:
                    pacer.answered(item.who.external_id)
                was = "sending"  # a retry sends what this attempt marked
            if outcome.status is not SendStatus.RETRY:
                return await self._outcome(item, outcome, result, bool(replies), said)
            if self._stopping.is_set() and (replies or was == "sending"):
                async with self.engine.transaction() as db:  # not sent: back in the queue
                    await db.execute(MARK, {**item.key, "was": "sending", "to": "queued"})
                return None
            pacer.hold(outcome.retry_after or 1.0)  # Telegram says wait: however long, it is not failure

    def _weekly(self, item: Send) -> list[Reply]:
        buttons = nudge_buttons(item.kind, item.seq, self.engine.clock(), ZoneInfo(item.zone))
        replies = [Reply(reflection_text(item.recent), buttons)]
        self.engine.sign(replies, item.user_id)
        return replies

    async def _outcome(
        self, item: Send, outcome: SendResult, result: Pass, direct: bool, said: dict[str, bool]
    ) -> str | None:
        if outcome.status is SendStatus.SENT:
            result.sent += 1
            return "sent"
        if outcome.status is SendStatus.BLOCKED:
            result.blocked += 1
            if direct:  # (push marks the user itself)
                await self.engine.mark_blocked(item.who)
            return "blocked"
        if outcome.status is SendStatus.SKIPPED:
            # on pace (CPD), or an unknown or blocked user: left as it is
            result.skip("on-track" if said.get("on-track") else "not-sent")
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
