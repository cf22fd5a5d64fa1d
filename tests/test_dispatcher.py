"""The dispatcher at scale and at a stop: a CPD-pace claim of 500 in a bounded number of statements (the
pace itself is judged when the nudge is composed); a graceful stop finishes or puts back what it had
marked "sending", even in the middle of a run of 429s."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import event, insert, select

from bot.dispatcher import Dispatcher, Pass
from bot.runtime import Runtime
from flows.core.push import SendResult, SendStatus
from flows.core.replies import Identity, Reply
from flows.store.models import CpdTarget, Nudge, NudgeDelivery, User
from tests.test_nudges import Outbox

NOW = datetime(2026, 7, 3, 16, 30, tzinfo=UTC)  # first Friday of July, 17:30 BST


async def users_due(runtime: Runtime, count: int, kind: str, *, target: bool = False) -> None:
    """``count`` set-up users with a nudge of ``kind`` due at NOW (and an hours target begun today)."""
    rows = [
        {
            "channel": "terminal",
            "external_id": f"u{i}",
            "first_name": None,
            "created_at": NOW,
            "last_seen_at": NOW,
            "onboarded": True,
        }
        for i in range(count)
    ]
    async with runtime.coach.transaction() as db:
        await db.execute(insert(User), rows)
        ids = list((await db.execute(select(User.id))).scalars())
        nudges = [
            {
                "user_id": uid,
                "kind": kind,
                "due_at": NOW,
                "occurrence": f"{kind}-1",
                "seq": 0,
                "snoozed": False,
                "sent_virtual": False,
                "updated_at": NOW,
            }
            for uid in ids
        ]
        await db.execute(insert(Nudge), nudges)
        if target:
            targets = [
                {
                    "user_id": uid,
                    "kind": "hours",
                    "minutes": 600,
                    "starts_on": NOW.date(),
                    "ends_on": date(2027, 7, 1),
                    "created_at": NOW,
                }
                for uid in ids
            ]
            await db.execute(insert(CpdTarget), targets)


def count_statements(runtime: Runtime) -> list[str]:
    seen: list[str] = []

    def note(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(runtime.db.sync_engine, "before_cursor_execute", note)
    return seen


async def test_a_cpd_pace_claim_of_500_takes_a_bounded_number_of_statements(runtime: Runtime) -> None:
    await users_due(runtime, 500, "cpd_pace", target=True)
    dispatcher = Dispatcher(runtime.coach, Outbox(), channel="terminal", rate=1000)
    seen = count_statements(runtime)
    sends, _ = await dispatcher._claim(NOW, virtual=False, result=Pass())
    assert len(sends) == 500
    assert len(seen) <= 20, len(seen)


async def test_a_cpd_nudge_on_pace_is_not_sent_and_leaves_the_day_free(runtime: Runtime) -> None:
    await users_due(runtime, 20, "cpd_pace", target=True)  # a target begun today: on pace
    outbox = Outbox()
    runtime.coach.clock = lambda: NOW
    result = await Dispatcher(runtime.coach, outbox, channel="terminal", rate=1000).run_once()
    assert outbox.sent == [] and result.skipped.get("on-track") == 20, result
    async with runtime.coach.sessionmaker() as db:
        assert set((await db.execute(select(Nudge.sent_at))).scalars()) == {None}  # not counted as today's nudge
        assert set((await db.execute(select(NudgeDelivery.status))).scalars()) == {"on-track"}


class Slow:
    """A sender that takes ``pause`` seconds a message, or answers 429 while ``throttled``."""

    def __init__(self, pause: float = 0.05, throttled: bool = False) -> None:
        self.pause, self.throttled = pause, throttled
        self.sent: list[Identity] = []

    async def send(self, who: Identity, replies: list[Reply]) -> SendResult:
        await asyncio.sleep(self.pause)
        if self.throttled:
            return SendResult(SendStatus.RETRY, retry_after=0.2)
        self.sent.append(who)
        return SendResult(SendStatus.SENT)


async def statuses(runtime: Runtime) -> list[str]:
    async with runtime.coach.sessionmaker() as db:
        return sorted((await db.execute(select(NudgeDelivery.status))).scalars())


@pytest.mark.parametrize("throttled", [False, True])
async def test_a_graceful_stop_leaves_nothing_sending(
    runtime: Runtime, throttled: bool, caplog: pytest.LogCaptureFixture
) -> None:
    await users_due(runtime, 40, "reflection")
    runtime.coach.clock = lambda: NOW
    sender = Slow(throttled=throttled)
    dispatcher = Dispatcher(runtime.coach, sender, channel="terminal", rate=50)
    running = asyncio.create_task(dispatcher.run_once())
    await asyncio.sleep(0.4)
    dispatcher.stop()
    await asyncio.wait_for(running, 5)
    found = await statuses(runtime)
    assert "sending" not in found and found.count("queued") >= 10, found
    assert found.count("sent") == len(sender.sent)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    after = Slow()  # the next pass (or another instance) sends the rest, and nothing twice
    await Dispatcher(runtime.coach, after, channel="terminal", rate=1000).run_once()
    assert sorted(w.external_id for w in sender.sent + after.sent) == sorted(f"u{i}" for i in range(40))
    assert set(await statuses(runtime)) == {"sent"}
