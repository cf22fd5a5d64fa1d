"""The PostgreSQL path: no ping before each checkout, so a connection the server dropped is recovered by
the retry of what used it; an event's claim and its conversation are read in one statement after the
user's row is locked; a repeated update is still recognised."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import IntegrityError

from bot import inbox_store
from bot.db import create_engine
from bot.runtime import Runtime
from flows.core.replies import CommandEvent, Identity
from flows.core.storage import INSERT_DONE
from flows.core.transactions import EVENTS_AT_ONCE
from flows.store.models import DeadLetter, InboxUpdate
from tests.test_e2e import ALICE, Bot

pytestmark = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)


async def test_connections_the_server_dropped_are_recovered_without_a_ping(bot: Bot, database_url: str) -> None:
    assert bot.service is not None
    runtime: Runtime = bot.service.app.bot_data["runtime"]
    assert not runtime.db.pool._pre_ping
    await bot.say(ALICE, "/help")
    admin = create_engine(database_url)
    try:
        async with admin.connect() as conn:
            dropped = await conn.scalar(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
        assert dropped  # the coach's pooled connections, all of them
    finally:
        await admin.dispose()
    answer = await bot.say(ALICE, "/privacy")
    assert "store" in answer[0].text.lower()
    again = await bot.say(ALICE, "/help")
    assert "What I can do" in again[0].text
    assert not any("went wrong" in s.text for s in bot.fake.to(ALICE))


async def test_an_event_claims_its_update_and_reads_the_conversation_in_one_statement(runtime: Runtime) -> None:
    coach, who = runtime.coach, Identity("telegram", "4242", "Ann")
    await coach.handle(who, CommandEvent("start"), update_id=1)
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(" ".join(statement.split()))

    event.listen(runtime.db.sync_engine, "before_cursor_execute", seen)
    try:
        outcome = await coach.handle(who, CommandEvent("start"), update_id=2)
        repeat = await coach.handle(who, CommandEvent("start"), update_id=2)
    finally:
        event.remove(runtime.db.sync_engine, "before_cursor_execute", seen)
    assert outcome.replies and not outcome.duplicate
    assert repeat.duplicate
    first = statements[: len(statements) // 2 + 1]
    assert first[0].startswith("SELECT users.") and first[0].endswith("FOR UPDATE")
    assert first[1].startswith("WITH claimed AS (UPDATE inbox") and "FROM sessions" not in first[1].split("claimed")[0]
    assert not any(s.startswith("SELECT sessions.") for s in statements), statements


async def test_the_engines_statements_on_the_driver_share_the_orms_transaction_and_errors(runtime: Runtime) -> None:
    """On asyncpg the engine's statements skip SQLAlchemy's cursor (flows/core/storage.Direct): they run in the
    transaction the ORM's statements join, a rollback undoes both, and a refused row is SQLAlchemy's
    IntegrityError with no values in it, as for any statement."""
    now = datetime.now(UTC)
    row = {"channel": "telegram", "update_id": 77, "user_key": "secret-key-9", "payload_enc": b"", "received_at": now}
    row["done_at"] = now

    class Undo(Exception):
        pass

    with pytest.raises(Undo):
        async with runtime.coach.tx.begin() as tx:
            assert tx._direct is not None
            assert await tx.run(INSERT_DONE, row) == 1
            seen = await tx.db().scalar(select(func.count()).select_from(InboxUpdate))
            assert seen == 1  # the ORM's statement sees the driver's insert: one transaction
            raise Undo
    async with runtime.coach.sessionmaker() as db:
        assert await db.scalar(select(func.count()).select_from(InboxUpdate)) == 0
    with pytest.raises(IntegrityError) as refused:
        async with runtime.coach.tx.begin() as tx:
            await tx.run(INSERT_DONE, row)
            await tx.run(INSERT_DONE, row)
    assert "secret-key-9" not in str(refused.value)
    async with runtime.coach.sessionmaker() as db:
        assert await db.scalar(select(func.count()).select_from(InboxUpdate)) == 0


async def test_a_burst_of_users_takes_a_few_connections_not_one_each(runtime: Runtime) -> None:
    """Each connection opened is a connect and every statement prepared again: twenty users at once are
    handled on at most ``EVENTS_AT_ONCE`` connections (was one each)."""
    out, most = 0, 0

    def checkout(*args: Any) -> None:
        nonlocal out, most
        out += 1
        most = max(most, out)

    def checkin(*args: Any) -> None:
        nonlocal out
        out -= 1

    pool = runtime.db.sync_engine.pool
    event.listen(pool, "checkout", checkout)
    event.listen(pool, "checkin", checkin)
    try:
        users = [Identity("telegram", str(900 + n), "Ann") for n in range(20)]
        outcomes = await asyncio.gather(
            *(runtime.coach.handle(u, CommandEvent("start"), update_id=None) for u in users)
        )
    finally:
        event.remove(pool, "checkout", checkout)
        event.remove(pool, "checkin", checkin)
    assert all(o.replies for o in outcomes)
    assert most <= EVENTS_AT_ONCE


async def test_export_and_assess_read_each_row_once(runtime: Runtime) -> None:
    """Statements an event, every one counted (PostgreSQL shows the engine's too): /assess reads the user's
    assessments once (was three times: the open one of each framework, then the finished ones); /export
    reads the pack's choices and its kept copy once each (was twice), and the CPD summary it shows again
    after it (the user is in /cpd) is one statement (was two)."""
    coach, who = runtime.coach, Identity("telegram", "4343", "Ann")
    await coach.handle(who, CommandEvent("start"))
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(" ".join(statement.split()))

    async def count(name: str) -> list[str]:
        statements.clear()
        event.listen(runtime.db.sync_engine, "before_cursor_execute", seen)
        try:
            outcome = await coach.handle(who, CommandEvent(name))
        finally:
            event.remove(runtime.db.sync_engine, "before_cursor_execute", seen)
        assert outcome.replies
        return list(statements)

    await coach.handle(who, CommandEvent("cpd"))
    export = await count("export")
    assert len(export) <= 15, export  # lock, conversation, 12 reads of the user's data, the CPD summary
    assert sum("FROM pack_choices" in s for s in export) == 1
    assert sum("FROM pack_copies" in s for s in export) == 1
    assessed = await count("assess")
    assert sum("FROM assessments" in s for s in assessed) == 1, assessed
    assert len(assessed) <= 4, assessed  # lock, conversation, the assessments, the conversation saved


async def test_a_batch_the_database_refuses_in_part_is_stored_row_by_row_on_the_driver(runtime: Runtime) -> None:
    """The inbox's batch insert runs on asyncpg in autocommit (bot/inbox_store.py): a row the database
    refuses fails the batch as SQLAlchemy's IntegrityError (nothing stored), then each row is tried alone and the
    refused one is kept aside (here a row with no user key: NOT NULL)."""
    now = datetime.now(UTC)

    def row(update_id: int, key: str | None) -> dict[str, Any]:
        return {"channel": "telegram", "update_id": update_id, "user_key": key, "payload_enc": b"x", "received_at": now}

    good, bad = row(1, "42"), row(2, None)
    batch = inbox_store.Batch(good=[(cast(Any, "u1"), good), (cast(Any, "u2"), bad)])
    stored = await inbox_store.store(runtime.coach, batch)
    assert [r["update_id"] for _, r in stored] == [1]
    assert await inbox_store.earliest(runtime.coach, "42") == (1, now)
    async with runtime.coach.sessionmaker() as db:
        assert await db.scalar(select(func.count()).select_from(InboxUpdate)) == 1
        aside = (await db.execute(select(DeadLetter.update_id, DeadLetter.reason))).all()
    assert [a[0] for a in aside] == ["2"] and "IntegrityError" in aside[0][1]


async def test_an_update_is_not_claimed_while_an_earlier_one_of_the_users_is_unhandled(runtime: Runtime) -> None:
    """Instances sharing the database agree on each user's order in the claim itself (the statement that
    claims the update after the user's row is locked): an update is handled only once none of the user's
    earlier ones is unhandled in the inbox, whoever stored it; else nothing is done and the earlier one is
    named. Another user's earlier update does not hold it back; neither does one already handled."""
    coach, who = runtime.coach, Identity("telegram", "4242", "Ann")
    now = datetime.now(UTC)

    def row(update_id: int, key: str) -> dict[str, Any]:
        return {"channel": "telegram", "update_id": update_id, "user_key": key, "payload_enc": b"x", "received_at": now}

    rows = [row(5, "4242"), row(6, "4242"), row(4, "777")]
    await inbox_store.store(runtime.coach, inbox_store.Batch(good=[(cast(Any, None), r) for r in rows]))

    async def pending() -> list[int]:
        async with coach.sessionmaker() as db:
            found = select(InboxUpdate.update_id).where(InboxUpdate.done_at.is_(None)).order_by(InboxUpdate.update_id)
            return list((await db.execute(found)).scalars())

    later = await coach.handle(who, CommandEvent("start"), update_id=6)
    assert later.behind == 5 and not later.replies and not later.duplicate
    assert await pending() == [4, 5, 6]
    first = await coach.handle(who, CommandEvent("start"), update_id=5)
    assert first.behind is None and first.replies
    then = await coach.handle(who, CommandEvent("help"), update_id=6)
    assert then.behind is None and then.replies
    assert await pending() == [4]  # another user's
    again = await coach.handle(who, CommandEvent("help"), update_id=6)
    assert again.duplicate and again.behind is None
