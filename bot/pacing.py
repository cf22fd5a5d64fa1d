"""Pacing and recording for the nudge dispatcher: the pacer (rate, 429 holds, room for replies), and
the statements that mark deliveries "sending" and record their outcomes, batched over a few
milliseconds (one statement for the nudges whose turn comes together, not one each)."""

from __future__ import annotations

import asyncio
import logging
import time as clock
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, bindparam, tuple_, update

from bot.budget import Budget
from flows.core.engine import Engine
from flows.core.push import Sender, SendResult
from flows.core.replies import Identity, Reply
from flows.store.models import NudgeDelivery

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Send:
    """A nudge to send: its delivery key, to whom, and what its buttons need."""

    nudge_id: int
    occurrence: str
    kind: str
    who: Identity
    user_id: int = 0
    seq: int = 0
    zone: str = "Europe/London"
    recent: int = 0  # reflections in the last four weeks
    before: dict[str, Any] | None = None  # the nudge row before the claim moved it (put back if not sent)

    @property
    def key(self) -> dict[str, Any]:
        return {"n": self.nudge_id, "o": self.occurrence}


DELIVERY: Table = NudgeDelivery.__table__  # type: ignore[assignment]
_ITEM = (DELIVERY.c.nudge_id == bindparam("n")) & (DELIVERY.c.occurrence == bindparam("o"))
MARK = update(DELIVERY).where(_ITEM, DELIVERY.c.status == bindparam("was")).values(status=bindparam("to"))
SET = update(DELIVERY).where(_ITEM).values(status=bindparam("to"))
_MARK_MANY = (
    update(DELIVERY)
    .where(
        tuple_(DELIVERY.c.nudge_id, DELIVERY.c.occurrence).in_(bindparam("keys", expanding=True)),
        DELIVERY.c.status == "queued",
    )
    .values(status="sending")
    .returning(DELIVERY.c.nudge_id, DELIVERY.c.occurrence)
)
WINDOW = 0.003  # seconds: what comes within it goes in one statement


class Marker:
    """Marks nudges "sending" just before they go, the ones whose turn comes in the same few
    milliseconds together in one statement (at 500 a second that is a handful; at 20, one)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.waiting: list[tuple[Send, asyncio.Future[bool]]] = []
        self.flushing: asyncio.Task[None] | None = None

    async def mark(self, item: Send) -> bool:
        """True if this call marked it (it was queued); False if something else had it already."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.waiting.append((item, future))
        if self.flushing is None:
            self.flushing = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        await asyncio.sleep(WINDOW)
        batch, self.waiting, self.flushing = self.waiting, [], None
        try:
            keys = [(item.nudge_id, item.occurrence) for item, _ in batch]
            async with self.engine.transaction() as db:
                marked = set((await db.execute(_MARK_MANY, {"keys": keys})).all())
        except Exception as exc:
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        dropped = []  # asked for, then cancelled (a stop): not sent, so back in the queue
        for item, future in batch:
            if future.done():
                dropped.append({**item.key, "was": "sending", "to": "queued"})
            else:
                future.set_result((item.nudge_id, item.occurrence) in marked)
        if dropped:
            async with self.engine.transaction() as db:
                await db.execute(MARK, dropped)


class Recorder:
    """Writes what became of each nudge within a few milliseconds of Telegram's answer (those that
    come together in one statement), so a kill leaves "sending" (read later as "unknown": not sent
    again) only what was in flight."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.waiting: list[dict[str, Any]] = []
        self.flushing: asyncio.Task[None] | None = None

    def note(self, item: Send, status: str, was: str | None = None) -> None:
        self.waiting.append({**item.key, "to": status, "was": was or "sending"})
        if self.flushing is None:
            self.flushing = asyncio.create_task(self._flush())

    async def _flush(self) -> None:
        await asyncio.sleep(WINDOW)
        batch, self.waiting, self.flushing = self.waiting, [], None
        try:
            async with self.engine.transaction() as db:
                await db.execute(MARK, batch)
        except Exception:
            log.warning("could not record the outcome of %d nudges; they count as sent", len(batch), exc_info=True)

    async def close(self) -> None:
        while self.flushing is not None:
            await asyncio.shield(self.flushing)


class Pacer:
    """Spaces sends to at most ``rate`` a second across the pass (bursts of at most one), pauses
    everything when Telegram says to wait (429 ``retry_after``), and stands back while ``busy()``
    says the bot's replies need the room."""

    def __init__(self, rate: float, busy: Callable[[], bool] | None = None, budget: Budget | None = None) -> None:
        self.budget = budget  # the bot's budget, shared with replies and the other instances
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
        if self.budget is not None:
            self.budget.hold(seconds)  # a 429 holds replies too

    async def admit(self, chat: object = None) -> None:
        """Just before a send: never more than ``rate`` in any second, even when sends whose turns came
        during a stall (a slow transaction, a busy machine) would otherwise go out together; and, with
        the bot's budget, a place in it and in ``chat``'s limit (a nudge waits for the chat's whole
        burst: the replies it has just had, and those it may get next, go first)."""
        while len(self.sent) >= self.per_second:
            wait = self.sent[0] + 1.0 - clock.monotonic()
            if wait <= 0:
                self.sent.popleft()
                continue
            await asyncio.sleep(wait)
        self.sent.append(clock.monotonic())
        if self.budget is not None:
            await self.budget.take(reply=False, chat=chat)

    def answered(self, chat: object = None) -> None:
        """The send ``admit`` let through has had Telegram's answer."""
        if self.budget is not None:
            self.budget.done(chat)


class PacedSender:
    """A sender whose every push waits for its turn in ``pacer`` (its rate and the bot's budget): for
    what a pass sends besides the nudges themselves (the 360° reminders)."""

    def __init__(self, sender: Sender, pacer: Pacer) -> None:
        self.sender, self.pacer = sender, pacer

    async def send(self, who: Identity, replies: list[Reply]) -> SendResult:
        await self.pacer.wait()
        await self.pacer.admit(who.external_id)
        try:
            return await self.sender.send(who, replies)
        finally:
            self.pacer.answered(who.external_id)
