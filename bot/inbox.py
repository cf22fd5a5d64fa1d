"""The inbox's queue: updates are stored before they are acknowledged (bot/inbox_store.py), then
handled one user at a time (users in parallel) through the python-telegram-bot Application.

Polling (bot/polling.py): an update batch is written to the inbox before the next getUpdates confirms
it, so a crash at any moment loses nothing; handling marks each row done in the same transaction as
its effects, so nothing is handled twice. An update that cannot be parsed or stored is kept aside
(``dead_letters``, encrypted) and confirmed, so it never blocks the ones behind it; a database outage
is waited out with bounded back-off, the batch unconfirmed until it is stored. An update this process
stored is handed to its worker as it was parsed (not read back). Several instances can share one
PostgreSQL: any of them handles any stored update, in update order per user (the engine locks the
user row)."""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial

from sqlalchemy import select
from telegram import Update
from telegram.ext import Application

from bot import inbox_store, polling
from bot.early import ALLOWED_UPDATES, LONG_POLL, FirstPoll
from bot.faults import describe, retrying, transient
from bot.inbox_store import CHANNEL, Batch, Row, user_key
from bot.metrics import LATENCY, UPDATES
from bot.runtime import Runtime
from bot.telegram import behind, consumed, failure
from flows.store.models import DeadLetter, InboxUpdate

log = logging.getLogger(__name__)
__all__ = ["ALLOWED_UPDATES", "CHANNEL", "Pump", "user_key"]


@dataclass(order=True)
class _Held:
    """An update waiting for its user's worker, earliest update first."""

    update_id: int
    received: float = field(compare=False)  # epoch seconds
    update: Update = field(compare=False)


class Pump:
    """Store updates durably, then hand each user's to one worker in update order."""

    def __init__(
        self,
        app: Application,  # type: ignore[type-arg]
        runtime: Runtime,
        *,
        parallel: int = 64,
        settle: float = 0.0,
        shared: bool = False,
    ) -> None:
        self.app = app
        self.runtime = runtime
        # Updates this process stored are handed to its workers in memory, as they were parsed. When
        # ``shared`` (webhook instances on one PostgreSQL each receive part of a user's updates) the engine's
        # claim, which locks the user, takes an update only if none of the user's earlier ones is unhandled,
        # whoever stored it; if one is, the worker asks the database for the user's earliest unhandled
        # update and handles it first, reading and parsing it only if another instance stored it. (Polling
        # has one receiver; the others pick up what it left, in update order, when they rescan.)
        self.local = not shared
        # Webhook deliveries can arrive side by side or out of order (even at two instances): an update
        # whose predecessor has not arrived waits up to this long, so an earlier one still in flight
        # for the same user goes first.
        self.settle = settle
        self._queues: dict[str, list[_Held]] = {}
        self._held: set[int] = set()
        # Update ids received here lately (stored or kept aside), each with the count of updates received
        # before it: a head read after the one before it was received needs no second read.
        self._recent: dict[int, int] = {}
        self._order: deque[int] = deque()
        self._forgotten = 0
        self._workers: dict[str, asyncio.Task[None]] = {}
        # Shared inbox: users whose worker must ask the database for their earliest unhandled update (woken
        # by ``recover``: updates another instance stored and left; or a claim found an earlier update of
        # theirs unhandled), until it has none. Otherwise a worker takes its queue's head (the claim checks
        # that it is the user's earliest), and one whose queue is empty is done: what another instance
        # stores, its own worker handles, in turn.
        self._look: set[str] = set()
        self._again: set[str] = set()
        self._slots = asyncio.Semaphore(parallel)
        self._idle = asyncio.Event()
        self._idle.set()
        # Batches waiting to be stored while another write is under way (webhook requests side by side),
        # and the task writing them: one statement for all of them (see ``store``).
        self._to_store: list[tuple[Batch, asyncio.Future[list[tuple[Update, Row]]]]] = []
        self._storing: asyncio.Task[None] | None = None

    # --- storing ------------------------------------------------------------------------

    async def store(self, batch: Batch) -> list[tuple[Update, Row]]:
        """Write a batch to the inbox and its bad updates aside (see ``inbox_store.store``); returns what was
        stored, once it is. Batches that arrive while a write is under way (webhook requests side by side)
        are written together when it is done, in one statement (one round trip and one connection, not one
        each), and each is answered with its own rows; an outage fails each of them."""
        future: asyncio.Future[list[tuple[Update, Row]]] = asyncio.get_running_loop().create_future()
        self._to_store.append((batch, future))
        if self._storing is None or self._storing.done():
            self._storing = asyncio.create_task(self._store_waiting(), name="inbox-store")
        return await future

    async def _store_waiting(self) -> None:
        while self._to_store:
            group, self._to_store = self._to_store, []
            together = Batch([g for batch, _ in group for g in batch.good], [b for one, _ in group for b in one.bad])
            try:
                stored = await inbox_store.store(self.runtime.coach, together)
            except Exception as exc:
                for _, future in group:
                    if not future.done():
                        future.set_exception(exc)
                continue
            except BaseException:  # cancelled (a stop): the batches waiting are cancelled with the ones in hand
                for _, future in group + self._to_store:
                    future.cancel()
                self._to_store = []
                raise
            kept = {id(row) for _, row in stored}
            for batch, future in group:
                if not future.done():
                    future.set_result([(update, row) for update, row in batch.good if id(row) in kept])

    # --- receiving ----------------------------------------------------------------------

    async def receive(self, raw: Sequence[object]) -> None:
        """Updates as Telegram sent them: stored first (or kept aside), then handed to the users' workers."""
        now = datetime.now(UTC)
        stored = await self.store(inbox_store.sort(raw, now, self.app.bot, self.runtime.coach.cipher))
        for data in raw:
            if isinstance(data, dict) and isinstance(data.get("update_id"), int):
                self._remember(data["update_id"])
        keys: dict[str, None] = {}
        for update, row in stored:
            key = str(row["user_key"])
            keys[key] = None
            self._hold(key, _Held(update.update_id, now.timestamp(), update))
        for key in keys:
            self.wake(key)

    async def poll(self, *, timeout: int = LONG_POLL, first: FirstPoll | None = None) -> None:
        """Long-poll getUpdates (bot/polling.py) over the one HTTP stack; it never stops. ``first``: the
        getUpdates sent as the process started (bot/early.py)."""
        await polling.poll(self.app.bot_data["api"], self.receive, timeout=timeout, first=first)

    # --- handling -----------------------------------------------------------------------

    def _remember(self, update_id: int) -> None:
        """Note an update received here (stored or kept aside), keeping the last few thousand."""
        self._recent[update_id] = len(self._order) + self._forgotten
        self._order.append(update_id)
        if len(self._order) > 10_000:
            self._recent.pop(self._order.popleft(), None)
            self._forgotten += 1

    def _hold(self, key: str, held: _Held) -> None:
        if held.update_id not in self._held:
            self._held.add(held.update_id)
            heapq.heappush(self._queues.setdefault(key, []), held)

    def wake(self, key: str) -> None:
        if key in self._workers:
            self._again.add(key)
            return
        self._idle.clear()
        self._workers[key] = asyncio.create_task(self._work(key), name=f"inbox:{key}")

    async def recover(self) -> int:
        """Schedule every user with stored, unhandled updates (after a crash, or another instance's)."""
        async with self.runtime.coach.sessionmaker() as db:
            query = select(
                InboxUpdate.user_key, InboxUpdate.update_id, InboxUpdate.payload_enc, InboxUpdate.received_at
            )
            rows = (await db.execute(query.where(InboxUpdate.done_at.is_(None)).order_by(InboxUpdate.update_id))).all()
        for key, update_id, payload, received in rows:
            readable = self.local and update_id not in self._held
            if readable and (update := await self._readable(update_id, payload)) is not None:
                self._hold(key, _Held(update_id, received.timestamp(), update))
        keys = list(dict.fromkeys(key for key, *_ in rows))
        for key in keys:
            if not self.local:
                self._look.add(key)
            self.wake(key)
        return len(keys)

    async def _readable(self, update_id: int, payload: bytes) -> Update | None:
        return await inbox_store.readable(self.runtime.coach, self.app.bot, update_id, payload)

    async def _head(self, key: str) -> _Held | None:
        """The user's earliest waiting update here (not taken yet); for a user in ``_look``, their
        earliest unhandled one, whoever stored it."""
        if key not in self._look:
            queue = self._queues.get(key)
            return queue[0] if queue else None
        coach = self.runtime.coach
        while True:
            queue = self._queues.get(key, [])
            found = await inbox_store.earliest(coach, key)
            while queue and (found is None or queue[0].update_id < found[0]):  # handled by another instance
                self._held.discard(heapq.heappop(queue).update_id)
            if found is None:
                self._look.discard(key)
                return None
            if queue and queue[0].update_id == found[0]:  # stored here: as it was parsed
                return queue[0]
            payload = await inbox_store.payload(coach, found[0])  # another instance's: read it
            if payload is not None and (update := await self._readable(found[0], payload)) is not None:
                return _Held(found[0], found[1].timestamp(), update)

    async def _in_turn(self, key: str, head: _Held, received: int) -> bool:
        """Whether the head may be handled now; if not, after a short wait, the head is read again.
        ``received``: how many updates had been received here when the head was read."""
        hold = await self._hold_back(head)
        if hold > 0:  # an earlier update for this user may still be on its way: let it in first
            await asyncio.sleep(hold)
            return False
        before = self._recent.get(head.update_id - 1)
        if before is not None and before < received:  # stored before the head was read: nothing came since
            return True
        again = await self._head(key)  # the one before it may have been stored since the head was read
        return again is not None and again.update_id == head.update_id

    async def _hold_back(self, head: _Held) -> float:
        """How much longer to hold a webhook update back (0: handle it now). Telegram numbers updates one
        after another, so once the one before it has arrived nothing earlier is still on its way;
        until then it waits, at most ``settle`` seconds after it was stored."""
        left = head.received + self.settle - time.time()
        if left <= 0 or await self._arrived(head.update_id - 1):
            return 0.0
        return min(left, 0.02)

    async def _arrived(self, update_id: int) -> bool:
        if update_id in self._recent:
            return True
        if self.local:
            return False
        async with self.runtime.coach.sessionmaker() as db:
            stored = select(InboxUpdate.update_id).where(
                InboxUpdate.channel == CHANNEL, InboxUpdate.update_id == update_id
            )
            aside = select(DeadLetter.id).where(DeadLetter.channel == CHANNEL, DeadLetter.update_id == str(update_id))
            return (await db.execute(stored.union_all(aside).limit(1))).first() is not None

    async def _work(self, key: str) -> None:
        try:
            while True:
                self._again.discard(key)
                received = len(self._order) + self._forgotten
                head = await retrying(lambda: self._head(key), "reading the inbox")
                if head is None:
                    if key in self._again:
                        continue
                    return
                in_turn = partial(self._in_turn, key, head, received)
                if self.settle > 0 and not await retrying(in_turn, "reading the inbox"):
                    continue
                await self._take(key, head)
        except Exception:
            log.exception("the inbox worker stopped; unhandled updates are picked up again shortly")
        finally:
            if not self._queues.get(key):
                self._queues.pop(key, None)
            del self._workers[key]
            if not self._workers:
                self._idle.set()

    async def _take(self, key: str, head: _Held) -> None:
        """Handle the head. If the engine finds an earlier update of the user's unhandled (another
        instance's), the head waits in the queue again and the user's earliest is asked for (``_look``)."""
        queue = self._queues.get(key, [])
        mine = bool(queue) and queue[0].update_id == head.update_id
        if mine:
            heapq.heappop(queue)
        try:
            async with self._slots:
                handled, earlier = await self._process(head.update)
        finally:
            self._held.discard(head.update_id)
        if earlier is not None:
            self._look.add(key)
            if mine:
                self._hold(key, head)
            return
        UPDATES.labels("handled" if handled else "ignored").inc()
        LATENCY.observe(max(0.0, time.time() - head.received))

    async def _process(self, update: Update) -> tuple[bool, int | None]:
        """Handle one update: whether the engine handled it, and the user's earlier update that must go
        first if the engine would not (it is left unhandled then). A database outage while handling it is
        waited out and it is tried again."""
        handled, earlier = await retrying(lambda: self._attempt(update), f"handling update {update.update_id}")
        if not handled and earlier is None:
            await retrying(lambda: self._done(update.update_id), f"marking update {update.update_id} done")
        return handled, earlier

    async def _attempt(self, update: Update) -> tuple[bool, int | None]:
        """Whether the engine handled (and so marked done) the update, and the earlier update it found
        unhandled instead (see ``bot.telegram.behind``). A passing fault is raised."""
        token, fault, first = consumed.set(False), failure.set(None), behind.set(None)
        try:
            await self.app.process_update(update)
        except Exception:
            log.exception("update %s could not be handled; it is set aside", update.update_id)
        finally:
            handled, error, earlier = consumed.get(), failure.get(), behind.get()
            consumed.reset(token)
            failure.reset(fault)
            behind.reset(first)
        if error is not None and not handled:
            raise error
        return handled, earlier

    async def _done(self, update_id: int) -> None:
        await inbox_store.mark_done(self.runtime.coach, update_id)

    async def idle(self) -> None:
        """Wait until every woken worker has finished."""
        await self._idle.wait()

    async def cancel(self) -> None:
        """Stop the workers still running, and a write in hand (their updates stay in the inbox for the next
        start; a batch being written is not confirmed yet)."""
        tasks = [*self._workers.values(), *([self._storing] if self._storing is not None else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def rescan_forever(self, every: float = 5.0) -> None:
        """Pick up stored updates nobody is handling (another instance's, or after a failure)."""
        while True:
            await asyncio.sleep(every)
            try:
                await self.recover()
            except Exception as exc:
                level = logging.WARNING if transient(exc) else logging.ERROR
                log.log(level, "could not look for waiting updates (%s); again in %.0f s", describe(exc), every)
