"""Retention: people who never finished setting up are erased after 30 quiet days; old rows go by
ranges of their indexed time, whatever the batch size, and recent ones stay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event, func, insert, select

from bot.runtime import Runtime
from flows.core.replies import CommandEvent, Identity
from flows.core.retention import purge
from flows.store.models import ConversationSession, InboxUpdate, User
from tests.client import FakeClient
from tests.test_flows import onboard

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


async def test_people_who_never_finished_setting_up_are_erased_after_30_quiet_days(runtime: Runtime) -> None:
    clock = {"now": NOW - timedelta(days=31)}
    runtime.coach.clock = lambda: clock["now"]
    await runtime.coach.handle(Identity("telegram", "71", "Quentin"), CommandEvent("start"))  # never finished
    await onboard(FakeClient(runtime.coach, "72", channel="telegram"))  # finished, then quiet for a year
    clock["now"] = NOW - timedelta(days=5)
    await runtime.coach.handle(Identity("telegram", "73", "Rosa"), CommandEvent("start"))  # started lately
    async with runtime.coach.sessionmaker() as db:
        quentin = await db.scalar(select(User.id).where(User.external_id == "71"))
    done = await purge(runtime.coach, NOW)
    async with runtime.coach.sessionmaker() as db:
        left = set((await db.execute(select(User.external_id))).scalars())
        theirs = select(func.count()).select_from(ConversationSession).where(ConversationSession.user_id == quentin)
        sessions = await db.scalar(theirs)
    assert done.users == 1 and left == {"72", "73"}
    assert sessions == 0  # their conversation (and first name) went with them


async def test_old_updates_go_by_time_ranges_and_recent_ones_stay(runtime: Runtime) -> None:
    old = [
        {
            "channel": "telegram",
            "update_id": i,
            "user_key": "1",
            "payload_enc": b"x",
            "received_at": NOW - timedelta(days=30, seconds=i % 7),
            "done_at": NOW,
        }
        for i in range(2500)
    ]
    new = [{**row, "update_id": 10_000 + i, "received_at": NOW - timedelta(days=1)} for i, row in enumerate(old[:10])]
    async with runtime.coach.transaction() as db:
        await db.execute(insert(InboxUpdate), old + new)
    seen: list[str] = []

    def note(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "inbox" in statement:
            seen.append(statement)

    event.listen(runtime.db.sync_engine, "before_cursor_execute", note)
    done = await purge(runtime.coach, NOW, batch=1000)
    assert done.updates == 2500
    assert len(seen) <= 2 * 4  # a boundary read and a ranged delete for each 1000, no more
    assert all("LIMIT" not in s.upper() or "OFFSET" in s.upper() for s in seen)  # no "next 1000 old rows"
    async with runtime.coach.sessionmaker() as db:
        assert await db.scalar(select(func.count()).select_from(InboxUpdate)) == 10
