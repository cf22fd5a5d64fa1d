"""One rate budget for every message to Telegram, replies and nudges, across all instances together.

Telegram allows about 30 messages a second per bot. Each instance notes itself in ``instances`` every
few seconds (a heartbeat); the live ones split the budget evenly. Within an instance, one sliding
window counts every message sent in the last second: replies may use all of the instance's share,
nudges leave a little room for replies (replies first)."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from bot.faults import describe
from flows.core.engine import Engine
from flows.store.models import Instance

log = logging.getLogger(__name__)
TOTAL = 30.0  # messages a second for the whole bot (Telegram: about 30; see Budget: never more)
REPLY_ROOM = 2  # of an instance's share, kept for replies: nudges stand back before it is full
BEAT = 2.0  # seconds between heartbeats
LIVE = timedelta(seconds=7)  # an instance not heard from for this long no longer counts
MESSAGES = {"sendMessage", "editMessageText", "editMessageReplyMarkup", "sendPhoto", "sendDocument"}


class Budget:
    """This instance's share of the messages a second. A message holds its place from when it is
    taken until a second after Telegram answered it: Telegram counts it somewhere in between, so
    however requests bunch on the way, no second of Telegram's sees more than the share."""

    def __init__(self, total: float = TOTAL) -> None:
        self.total = total
        self.live = 1
        self.in_flight = 0
        self.done_at: deque[float] = deque()  # when each message of the last second was answered
        self.paused_until = 0.0

    @property
    def per_second(self) -> int:
        return max(1, int(self.total / max(1, self.live)))

    async def take(self, *, reply: bool = True) -> None:
        """Wait for room for one message (a nudge leaves ``REPLY_ROOM`` of the share to replies);
        call ``done()`` once Telegram has answered it."""
        while True:
            now = time.monotonic()
            while self.done_at and self.done_at[0] <= now - 1.0:
                self.done_at.popleft()
            room = self.per_second - (0 if reply else min(REPLY_ROOM, self.per_second - 1))
            wait = max(self.paused_until - now, 0.0)
            if not wait and self.in_flight + len(self.done_at) < room:
                self.in_flight += 1
                return
            await asyncio.sleep(wait or (self.done_at[0] + 1.0 - now if self.done_at else 0.005))

    def done(self) -> None:
        self.in_flight = max(0, self.in_flight - 1)
        self.done_at.append(time.monotonic())

    def hold(self, seconds: float) -> None:
        """Telegram said 429: nothing more from this instance for ``seconds``."""
        self.paused_until = max(self.paused_until, time.monotonic() + seconds)


class Heartbeat:
    """Notes this instance in ``instances`` every ``BEAT`` seconds and counts the live ones."""

    def __init__(self, engine: Engine, budget: Budget) -> None:
        self.engine, self.budget = engine, budget
        self.id = uuid.uuid4().hex

    async def beat(self) -> int:
        now = datetime.now(UTC)
        async with self.engine.transaction() as db:
            postgres = db.get_bind().dialect.name == "postgresql"
            insert = (pg_insert if postgres else sqlite_insert)(Instance).values(id=self.id, seen_at=now)
            await db.execute(insert.on_conflict_do_update(index_elements=["id"], set_={"seen_at": now}))
            await db.execute(delete(Instance).where(Instance.seen_at < now - 10 * LIVE))
            live = await db.scalar(select(func.count()).select_from(Instance).where(Instance.seen_at >= now - LIVE))
        self.budget.live = max(1, int(live or 1))
        return self.budget.live

    async def run(self) -> None:
        while True:
            try:
                await self.beat()
            except Exception as exc:  # the budget stays as it was; the database is said elsewhere
                log.warning("heartbeat failed (%s)", describe(exc))
            await asyncio.sleep(BEAT)

    async def leave(self) -> None:
        """At a clean stop: the others take over this instance's share at once."""
        async with self.engine.transaction() as db:
            await db.execute(
                update(Instance).where(Instance.id == self.id).values(seen_at=datetime(2000, 1, 1, tzinfo=UTC))
            )


class SharedLimiter(BaseRateLimiter[None]):
    """PTB's rate limiter for replies: each message takes from the shared budget; a 429 holds the
    budget (nudges too) for as long as Telegram says and tries again, up to ``retries`` times."""

    def __init__(self, budget: Budget, retries: int = 3) -> None:
        self.budget, self.retries = budget, retries

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        for attempt in range(self.retries + 1):
            counted = endpoint in MESSAGES
            if counted:
                await self.budget.take(reply=True)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                if attempt == self.retries:
                    raise
                wait = exc.retry_after.total_seconds() if isinstance(exc.retry_after, timedelta) else exc.retry_after
                self.budget.hold(float(wait))
            finally:
                if counted:
                    self.budget.done()
        raise AssertionError("unreachable")
