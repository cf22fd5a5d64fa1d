"""The inbox's indexes (migration 0013, issue 14): every query on ``inbox`` still finds its rows through an
index, on SQLite and PostgreSQL; unhandled updates have a partial index of their own, so the handled rows
the purge deletes are in the table's key, ``received_at`` and ``ix_inbox_user`` only; and the migration
goes back down to the indexes it replaced."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, func, insert, inspect, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.expression import ClauseElement

from bot.db import create_engine, downgrade, migrate
from bot.runtime import Runtime
from flows.store.models import InboxUpdate as Inbox

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
CUTOFF = NOW - timedelta(days=7)
# Each query on inbox as the code writes it (its WHERE, which a partial index must match literally).
QUERIES: dict[str, tuple[ClauseElement, str]] = {
    "a user's next update (bot/inbox_store.py earliest)": (
        select(Inbox.update_id, Inbox.received_at)
        .where(Inbox.user_key == "7", Inbox.done_at.is_(None))
        .order_by(Inbox.update_id)
        .limit(1),
        "ix_inbox_pending",
    ),
    "recovery (bot/inbox.py recover)": (
        select(Inbox.user_key, Inbox.update_id, Inbox.payload_enc, Inbox.received_at)
        .where(Inbox.done_at.is_(None))
        .order_by(Inbox.update_id),
        "ix_inbox_pending",
    ),
    "the inbox depth (bot/metrics.py)": (
        select(func.count()).select_from(Inbox).where(Inbox.done_at.is_(None)),
        "ix_inbox_pending",
    ),
    "a payload (bot/inbox_store.py payload)": (
        select(Inbox.payload_enc).where(Inbox.channel == "telegram", Inbox.update_id == 5, Inbox.done_at.is_(None)),
        "",  # the primary key: sqlite_autoindex_inbox_1 / inbox_pkey
    ),
    "a claim (flows/core/storage.py CLAIM, bot/inbox_store.py mark_done)": (
        update(Inbox)
        .where(Inbox.channel == "telegram", Inbox.update_id == 5, Inbox.done_at.is_(None))
        .values(done_at=NOW),
        "",
    ),
    "an erasure (flows/talks/account.py)": (
        delete(Inbox).where(
            Inbox.channel == "telegram", Inbox.user_key == "7", Inbox.done_at.is_not(None), Inbox.update_id != 5
        ),
        "ix_inbox_user",
    ),
    "the purge's range (flows/core/retention.py)": (
        delete(Inbox).where(Inbox.received_at >= CUTOFF - timedelta(days=1), Inbox.received_at < CUTOFF),
        "ix_inbox_received_at",
    ),
}


async def plan(conn: AsyncConnection, query: ClauseElement) -> str:
    sql = str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    if conn.dialect.name == "sqlite":
        return " | ".join(row[3] for row in await conn.execute(text("EXPLAIN QUERY PLAN " + sql)))
    return " | ".join(row[0] for row in await conn.execute(text("EXPLAIN " + sql)))


@pytest.mark.parametrize("name", list(QUERIES))
async def test_each_query_on_the_inbox_uses_an_index(runtime: Runtime, name: str) -> None:
    query, index = QUERIES[name]
    rows = [
        {
            "channel": "telegram",
            "update_id": i,
            "user_key": str(i % 50),
            "payload_enc": b"x",
            "received_at": NOW - timedelta(days=10, seconds=-i),
            "done_at": None if i % 100 == 0 else NOW,
        }
        for i in range(2000)
    ]
    async with runtime.db.begin() as conn:
        await conn.execute(insert(Inbox), rows)
        await conn.execute(text("ANALYZE"))
        if conn.dialect.name == "postgresql":
            await conn.execute(text("SET LOCAL enable_seqscan = off"))  # could it, not would it on 2,000 rows
        found = await plan(conn, query)
        await conn.rollback()
    assert "Seq Scan" not in found and "SCAN inbox" not in found.replace("SCAN inbox USING", ""), found
    assert index in found if index else ("autoindex" in found or "inbox_pkey" in found), found


async def test_the_pending_index_is_partial_and_done_at_has_none(runtime: Runtime) -> None:
    """What the purge deletes (handled rows) is in two indexes besides the key, not four: the index of
    pending updates holds only those whose done_at IS NULL."""
    async with runtime.db.connect() as conn:
        indexes = await conn.run_sync(lambda c: {i["name"]: i for i in inspect(c).get_indexes("inbox")})
    assert set(indexes) == {"ix_inbox_pending", "ix_inbox_received_at", "ix_inbox_user"}
    async with runtime.db.connect() as conn:
        if conn.dialect.name == "sqlite":
            sql = "SELECT sql FROM sqlite_master WHERE name = 'ix_inbox_pending'"
        else:
            sql = "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_inbox_pending'"
        made = str(await conn.scalar(text(sql)))
    assert made.replace("(", "").replace(")", "").endswith("WHERE done_at IS NULL"), made


async def test_the_migration_goes_back_to_the_indexes_it_replaced(blank_database_url: str, tmp_path: Path) -> None:
    engine = create_engine(blank_database_url)

    async def names() -> set[str]:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda c: {str(i["name"]) for i in inspect(c).get_indexes("inbox")}))

    try:
        await migrate(engine)
        assert await names() == {"ix_inbox_pending", "ix_inbox_received_at", "ix_inbox_user"}
        await downgrade(engine, "0012")
        assert await names() == {"ix_inbox_done_at", "ix_inbox_received_at", "ix_inbox_user_pending"}
        await migrate(engine)
        assert await names() == {"ix_inbox_pending", "ix_inbox_received_at", "ix_inbox_user"}
    finally:
        await engine.dispose()
