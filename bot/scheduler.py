"""The in-process scheduler (APScheduler): a dispatch pass for due nudges every ``nudge_interval``
seconds and the retention purge once a day. The due nudges live in the database, not in APScheduler's
job store, so any instance can send them and a restart loses nothing."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.budget import Budget
from bot.dispatcher import Dispatcher
from bot.runtime import Runtime
from flows.core.push import Sender
from flows.core.retention import purge
from flows.talks.nudges import seed

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(
        self,
        runtime: Runtime,
        sender: Sender,
        *,
        channel: str = "telegram",
        busy: Callable[[], bool] | None = None,
        budget: Budget | None = None,
    ) -> None:
        self.runtime = runtime
        self.sender = sender
        settings = runtime.settings
        self.dispatcher = Dispatcher(
            runtime.coach, sender, channel=channel, rate=settings.nudge_rate, busy=busy, budget=budget
        )
        self.interval = settings.nudge_interval
        self._scheduler = AsyncIOScheduler(timezone=UTC)
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        made = await seed(self.runtime.coach, datetime.now(UTC))
        if made:
            log.info("scheduled nudges for %d existing users", made)
        if self.interval > 0:
            self._scheduler.add_job(
                self._spawn,
                "interval",
                args=[self.tick],
                seconds=self.interval,
                next_run_time=datetime.now(UTC),
                max_instances=1,
                coalesce=True,
                id="nudges",
            )
        self._scheduler.add_job(self._spawn, "cron", args=[self.purge], hour=3, minute=17, coalesce=True, id="purge")
        self._scheduler.start()

    async def _spawn(self, job: Callable[[], Coroutine[None, None, None]]) -> None:
        # A coroutine job runs on the event loop; the work is a task we own, so stop() can wait for a
        # pass in progress instead of cutting it.
        task = asyncio.get_running_loop().create_task(job())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def tick(self) -> None:
        try:
            result = await self.dispatcher.run_once()
        except Exception:
            log.exception("a nudge dispatch pass failed; the next pass tries again")
            return
        if result.sent or result.failed or result.blocked:
            log.info(
                "nudges: %d sent, %d blocked, %d failed, skipped %s",
                result.sent,
                result.blocked,
                result.failed,
                result.skipped,
            )

    async def purge(self) -> None:
        try:
            done = await purge(self.runtime.coach, datetime.now(UTC))
            log.info("retention purge: %s", done)
        except Exception:
            log.exception("the retention purge failed; it runs again tomorrow")

    async def stop(self, grace: float = 10.0) -> None:
        """No new passes; the pass in progress takes no more nudges and finishes those it is sending
        (what it marked but could not send goes back in the queue); after ``grace``, it is cancelled."""
        if self._scheduler.running:  # stopping twice is harmless
            self._scheduler.shutdown(wait=False)
        self.dispatcher.stop()
        if self._tasks:
            tasks = list(self._tasks)
            _, late = await asyncio.wait(tasks, timeout=grace)
            for task in late:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        close = getattr(self.sender, "close", None)
        if close is not None:
            await close()
