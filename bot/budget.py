"""One rate budget for every message to Telegram, replies and nudges, across all instances together.

Telegram allows about 30 messages a second per bot. Each instance notes itself in ``instances`` every
second (a heartbeat) with its recent demand: the reply and nudge messages it asked for a second over the
last ``WINDOW`` seconds, plus those waiting now. The live instances split the budget by demand
(``split``): a floor each, so a burst of replies anywhere starts at once, then replies by demand, then
nudges by demand, then what nobody wants, evenly.

Never more than the total together, even while demand moves: heartbeats take turns (a lock); each takes
at most what the others hold no claim to, and writes down what it holds (what it sent in the last second
included). One whose share shrinks uses less at once; the others take what it gave back at their next
heartbeat. An instance that stops cleanly gives its share back at once; one that dies is no longer
counted after ``LIVE``, and one whose heartbeats fail or hang that long stops sending before then (a
share is good for ``LIVE`` less two beats from the heartbeat that gave it). Within an
instance, one sliding window counts every message sent in the last second: replies may use all of the
instance's share, nudges leave a little room for replies.

Per chat (``Chats``), Telegram takes a short burst and then about one message a second: a reply of two
or three messages goes at once, a fast tapper's further replies a second apart, and a nudge waits for
the chat's burst to be whole again (replies first). That part is per process: one user's updates are
handled one at a time under a lock on their row, and a nudge is sent by the one instance holding the
dispatch lease, so two instances rarely write to one chat in the same second (see README)."""

from __future__ import annotations

import asyncio
import logging
import math
import time
import uuid
from collections import deque
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, text, update
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
FLOOR = 3  # messages a second each live instance holds however idle it is, so its next burst starts at once
BEAT = 1.0  # seconds between heartbeats
WINDOW = 2.0  # seconds of demand a heartbeat reports
LIVE = timedelta(seconds=5)  # an instance not heard from for this long no longer counts
LOCK = 7_164_322_102  # PostgreSQL advisory lock: one heartbeat at a time, across instances
MESSAGES = {"sendMessage", "editMessageText", "editMessageReplyMarkup", "sendPhoto", "sendDocument"}
CHAT_BURST = 3  # messages one chat may get at once: a reply of a few messages, or an edit and its replies
CHAT_RATE = 1.0  # messages a second to one chat once its burst is spent (Telegram: about 1)
PATIENCE = 10.0  # seconds a nudge waits for the chat's whole burst; then one free place will do


@dataclass(frozen=True)
class Demand:
    """Messages an instance wanted a second lately: replies (and edits, photos, documents) and nudges."""

    replies: float = 0.0
    nudges: float = 0.0


def _fill(pool: float, needs: Mapping[str, float]) -> tuple[dict[str, float], float]:
    """Each its need from ``pool``, or in proportion to the needs when the pool is short; and what is left."""
    wanted = sum(needs.values())
    if wanted <= pool:
        return dict(needs), pool - wanted
    return {k: pool * need / wanted for k, need in needs.items()}, 0.0


def _whole(total: int, shares: Mapping[str, float]) -> dict[str, int]:
    """Whole messages a second that add up to no more than ``total``: each rounded down, then the units
    left to the largest remainders (ties by id, so every instance computes the same)."""
    whole = {k: max(0, math.floor(v)) for k, v in shares.items()}
    left = max(0, total - sum(whole.values()))
    for k in sorted(shares, key=lambda k: (whole[k] - shares[k], k))[:left]:
        whole[k] += 1
    return whole


def split(total: int, demands: Mapping[str, Demand], floor: int = FLOOR) -> dict[str, int]:
    """The budget of ``total`` messages a second split among the live instances by their ``demands``: a
    floor each (less if there are too many instances for it), then replies by demand, then nudges by
    demand, then the rest evenly. Whole numbers that never add up to more than ``total``."""
    if not demands:
        return {}
    base = min(float(floor), total / len(demands))
    pool = total - base * len(demands)
    replies, pool = _fill(pool, {k: max(0.0, d.replies - base) for k, d in demands.items()})
    nudges, pool = _fill(pool, {k: max(0.0, d.replies + d.nudges - base - replies[k]) for k, d in demands.items()})
    even = pool / len(demands)
    return _whole(total, {k: base + replies[k] + nudges[k] + even for k in demands})


class Chats:
    """Telegram's per-chat limit as a token bucket: ``burst`` messages at once, then ``rate`` a second.
    Kept on the safe side of Telegram's count, which falls somewhere between a message's take and its
    answer: a message taken and not yet answered counts as sent now, and an answered one as sent when
    it was answered (a GCRA over the answers: ``full_at`` is when the chat's bucket is whole again).

    A reply needs one place; a nudge needs the whole burst (nothing in flight to the chat and nothing
    answered within the last ``burst / rate`` seconds' worth), so it never spends what the user's next
    replies need, and replies, needing less, always go first. A nudge kept waiting ``patience`` seconds
    (a user writing faster than a message a second all that while) needs one place, like a reply."""

    def __init__(
        self,
        burst: int | None = None,
        rate: float | None = None,
        patience: float = PATIENCE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.burst = CHAT_BURST if burst is None else burst
        self.gap = 1.0 / (CHAT_RATE if rate is None else rate)
        self.patience, self.clock = patience, clock
        self.full_at: dict[str, float] = {}  # chat -> when its answered messages no longer count
        self.flying: dict[str, int] = {}  # chat -> messages taken and not answered yet
        self.answers = 0

    def wait(self, chat: str, need: int = 1) -> float | None:
        """0 if ``need`` places are free in the chat now, else seconds until they are (None: not before
        a message in flight is answered)."""
        flying = self.flying.get(chat, 0)
        if flying + need > self.burst:
            return None
        now = self.clock()
        behind = max(0.0, self.full_at.get(chat, now) - now)  # answered ones still counted, as seconds
        return max(0.0, behind - (self.burst - flying - need) * self.gap)

    async def take(self, chat: str, *, reply: bool = True) -> None:
        """Wait for a place for one message to ``chat``; ``done(chat)`` once Telegram has answered it."""
        since = self.clock()
        while True:
            need = 1 if reply or self.clock() - since >= self.patience else self.burst
            wait = self.wait(chat, need)
            if wait == 0:
                break
            await asyncio.sleep(0.02 if wait is None else min(wait, self.patience))
        self.flying[chat] = self.flying.get(chat, 0) + 1

    def done(self, chat: str, *, sent: bool = True) -> None:
        """The message to ``chat`` was answered (``sent``) or never went (its place given back)."""
        left = self.flying.get(chat, 0) - 1
        if left > 0:
            self.flying[chat] = left
        else:
            self.flying.pop(chat, None)
        if sent:
            now = self.clock()
            self.full_at[chat] = max(self.full_at.get(chat, now), now) + self.gap
            self.answers += 1
            if self.answers % 256 == 0:  # forget the chats whose bucket is whole again
                self.full_at = {c: t for c, t in self.full_at.items() if t > now}


class Budget:
    """This instance's share of the messages a second. A message holds its place from when it is
    taken until a second after Telegram answered it: Telegram counts it somewhere in between, so
    however requests bunch on the way, no second of Telegram's sees more than the share."""

    def __init__(self, total: float = TOTAL, chat_rate: float | None = None) -> None:
        self.total = total
        self.share = max(1, int(total))  # alone until a heartbeat says otherwise
        self.good_until = math.inf  # (time.monotonic()) the share holds until then: set by each heartbeat
        self.live = 1
        self.in_flight = 0
        self.done_at: deque[float] = deque()  # when each message of the last second was answered
        self.paused_until = 0.0
        self.wanted: dict[bool, deque[float]] = {True: deque(), False: deque()}  # reply? -> when asked
        self.waiting: dict[bool, int] = {True: 0, False: 0}
        self.chats = Chats(rate=chat_rate)  # and each chat's own limit

    @property
    def per_second(self) -> int:
        return self.share if time.monotonic() < self.good_until else 0

    def demand(self, now: float | None = None) -> Demand:
        """What this instance wanted a second over the last ``WINDOW`` seconds, plus what waits now."""
        now = time.monotonic() if now is None else now
        rates = [len(self._asked(reply, now)) / WINDOW + self.waiting[reply] for reply in (True, False)]
        return Demand(replies=rates[0], nudges=rates[1])

    def _asked(self, reply: bool, now: float) -> deque[float]:
        """When each message of this kind was asked for over the last ``WINDOW`` seconds."""
        asked = self.wanted[reply]
        while asked and asked[0] <= now - WINDOW:
            asked.popleft()
        return asked

    def in_use(self) -> int:
        """Messages counted against this instance's share now (sent in the last second, or on their way)."""
        now = time.monotonic()
        while self.done_at and self.done_at[0] <= now - 1.0:
            self.done_at.popleft()
        return self.in_flight + len(self.done_at)

    async def take(self, *, reply: bool = True, chat: object = None) -> None:
        """Wait for room for one message (a nudge leaves ``REPLY_ROOM`` of the share to replies), in
        ``chat`` first if it is given (so waiting for a busy chat holds nothing of the share); call
        ``done(chat)`` once Telegram has answered it."""
        if chat is not None:
            await self.chats.take(str(chat), reply=reply)
        try:
            await self._take(reply)
        except BaseException:
            if chat is not None:
                self.chats.done(str(chat), sent=False)
            raise

    async def _take(self, reply: bool) -> None:
        now = time.monotonic()
        self._asked(reply, now).append(now)
        self.waiting[reply] += 1
        try:
            while (wait := self._wait(reply)) > 0:
                await asyncio.sleep(wait)
            self.in_flight += 1
        finally:
            self.waiting[reply] -= 1

    def _wait(self, reply: bool) -> float:
        """0 if a message may go now, else how long to wait before asking again."""
        now = time.monotonic()
        if self.paused_until > now:
            return self.paused_until - now
        if now >= self.good_until:
            return 0.05  # no heartbeat lately: the others may be about to count this one gone
        room = self.share if reply else self.share - min(REPLY_ROOM, max(0, self.share - 1))
        if room <= 0:
            return 0.05  # nothing held yet: the next heartbeat brings a share
        if self.in_use() < room:
            return 0.0
        return self.done_at[0] + 1.0 - now if self.done_at else 0.005

    def done(self, chat: object = None) -> None:
        self.in_flight = max(0, self.in_flight - 1)
        self.done_at.append(time.monotonic())
        if chat is not None:
            self.chats.done(str(chat))

    def hold(self, seconds: float) -> None:
        """Telegram said 429: nothing more from this instance for ``seconds``."""
        self.paused_until = max(self.paused_until, time.monotonic() + seconds)


class Heartbeat:
    """Notes this instance in ``instances`` every ``BEAT`` seconds with its demand, and sets its share."""

    def __init__(self, engine: Engine, budget: Budget) -> None:
        self.engine, self.budget = engine, budget
        self.id = uuid.uuid4().hex
        self.beating = asyncio.Lock()  # one heartbeat of this instance at a time (their shares in order)

    async def beat(self) -> int:
        """One heartbeat: this instance's demand written, its share of the budget taken (at most what the
        others do not hold). The number of live instances."""
        async with self.beating:
            return await self._beat()

    async def _beat(self) -> int:
        total = max(1, int(self.budget.total))
        async with self.engine.transaction() as db:
            postgres = db.get_bind().dialect.name == "postgresql"
            if postgres:  # one heartbeat at a time (SQLite: BEGIN IMMEDIATE already is)
                await db.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK})
            # Once its turn has come (a connection, the lock): the others count it live from ``now``.
            now, started = datetime.now(UTC), time.monotonic()
            demand = self.budget.demand()
            mine = dict(seen_at=now, replies=demand.replies, nudges=demand.nudges)
            insert = (pg_insert if postgres else sqlite_insert)(Instance).values(id=self.id, share=0, **mine)
            await db.execute(insert.on_conflict_do_update(index_elements=["id"], set_=mine))
            await db.execute(delete(Instance).where(Instance.seen_at < now - 10 * LIVE))
            rows = (
                await db.execute(
                    select(Instance.id, Instance.replies, Instance.nudges, Instance.share).where(
                        Instance.seen_at >= now - LIVE
                    )
                )
            ).all()
            shares = split(total, {r.id: Demand(r.replies, r.nudges) for r in rows})
            free = total - sum(r.share for r in rows if r.id != self.id)
            share = max(0, min(shares.get(self.id, 0), free))
            if share < self.budget.share:  # less: from now on, before the others can take it
                self.budget.share = share
            held = max(share, min(self.budget.in_use(), free))  # what it sent this second still counts
            await db.execute(update(Instance).where(Instance.id == self.id).values(share=held))
        self.budget.share, self.budget.live = share, max(1, len(rows))
        # The others count it gone ``LIVE`` after ``now``: it stops a second before that and a second
        # more (a beat), for what its last messages hold (a second after their answers) and answers on
        # their way. A heartbeat that is slow, not only one that fails, so stops it in time.
        self.budget.good_until = started + LIVE.total_seconds() - 2 * BEAT
        return self.budget.live

    async def run(self) -> None:
        while True:
            try:
                await self.beat()
            except Exception as exc:  # the share holds until ``good_until``; the database is said elsewhere
                log.warning("heartbeat failed (%s)", describe(exc))
            # Holding nothing yet (others held it all when it came): ask again soon, they give back at theirs.
            await asyncio.sleep(BEAT if self.budget.share > 0 else BEAT / 4)

    async def leave(self) -> None:
        """At a clean stop: the others take over this instance's share at their next heartbeat."""
        self.budget.share = 0
        async with self.engine.transaction() as db:
            await db.execute(
                update(Instance).where(Instance.id == self.id).values(seen_at=datetime(2000, 1, 1, tzinfo=UTC), share=0)
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
        counted = endpoint in MESSAGES
        chat = data.get("chat_id") if counted else None
        for attempt in range(self.retries + 1):
            if counted:
                await self.budget.take(reply=True, chat=chat)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                if attempt == self.retries:
                    raise
                wait = exc.retry_after.total_seconds() if isinstance(exc.retry_after, timedelta) else exc.retry_after
                self.budget.hold(float(wait))
            finally:
                if counted:
                    self.budget.done(chat)
        raise AssertionError("unreachable")
