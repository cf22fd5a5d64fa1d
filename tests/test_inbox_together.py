"""The inbox's writes: batches received side by side (webhook requests at once) are stored together, one
statement for all of them, and each request is answered with its own rows; a refused row is kept aside
for its own request only, and an outage fails every request whose batch was in hand (each answers 503)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError

from bot import inbox_store
from bot.inbox import Pump
from bot.inbox_store import Batch
from bot.runtime import Runtime
from flows.store.models import DeadLetter, InboxUpdate


def batch(update_id: int, key: str | None) -> Batch:
    row = {
        "channel": "telegram",
        "update_id": update_id,
        "user_key": key,
        "payload_enc": b"x",
        "received_at": datetime.now(UTC),
    }
    return Batch(good=[(cast(Any, f"update {update_id}"), row)])


def ids(stored: list[Any]) -> list[int]:
    return [row["update_id"] for _, row in stored]


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_batches_received_side_by_side_are_stored_by_one_statement(runtime: Runtime) -> None:
    pump = Pump(cast(Any, None), runtime)
    inserts: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.startswith("INSERT INTO inbox"):
            inserts.append(statement)

    event.listen(runtime.db.sync_engine, "before_cursor_execute", seen)
    try:
        got = await asyncio.gather(*(pump.store(batch(n, str(n))) for n in range(1, 6)))
        later = await pump.store(batch(6, "6"))
    finally:
        event.remove(runtime.db.sync_engine, "before_cursor_execute", seen)
    assert [ids(g) for g in got] == [[1], [2], [3], [4], [5]] and ids(later) == [6]
    assert len(inserts) == 2, inserts  # the five together, then the sixth (was one each)
    async with runtime.coach.sessionmaker() as db:
        assert await db.scalar(select(func.count()).select_from(InboxUpdate)) == 6


async def test_a_refused_row_is_kept_aside_for_its_own_request(runtime: Runtime) -> None:
    pump = Pump(cast(Any, None), runtime)
    got = await asyncio.gather(pump.store(batch(1, "1")), pump.store(batch(2, None)), pump.store(batch(3, "3")))
    assert [ids(g) for g in got] == [[1], [], [3]]
    async with runtime.coach.sessionmaker() as db:
        assert list((await db.execute(select(DeadLetter.update_id))).scalars()) == ["2"]
        stored = select(InboxUpdate.update_id).order_by(InboxUpdate.update_id)
        assert list((await db.execute(stored)).scalars()) == [1, 3]


async def test_an_outage_fails_every_request_in_hand_and_the_next_write_is_tried_afresh(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    pump = Pump(cast(Any, None), runtime)
    write = inbox_store.store

    async def down(coach: Any, together: Batch) -> Any:
        raise OperationalError("INSERT", {}, ConnectionError("the database is down"))

    monkeypatch.setattr(inbox_store, "store", down)
    got = await asyncio.gather(*(pump.store(batch(n, str(n))) for n in (1, 2)), return_exceptions=True)
    assert all(isinstance(g, OperationalError) for g in got), got
    monkeypatch.setattr(inbox_store, "store", write)
    assert ids(await pump.store(batch(1, "1"))) == [1]


async def test_a_stop_while_a_write_is_in_hand_cancels_the_requests_waiting(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    pump = Pump(cast(Any, None), runtime)
    started = asyncio.Event()

    async def slow(coach: Any, together: Batch) -> Any:
        started.set()
        await asyncio.sleep(60)

    monkeypatch.setattr(inbox_store, "store", slow)
    first = asyncio.create_task(pump.store(batch(1, "1")))
    await started.wait()
    second = asyncio.create_task(pump.store(batch(2, "2")))  # waits for the write in hand
    await asyncio.sleep(0)
    assert pump._storing is not None
    pump._storing.cancel()
    got = await asyncio.gather(first, second, return_exceptions=True)
    assert all(isinstance(g, asyncio.CancelledError) for g in got), got
