"""Transactions and the per-user order of events. On PostgreSQL each transaction takes a pooled
connection; on SQLite (one writer) transactions take turns in this process on one connection kept for
them, begun with BEGIN IMMEDIATE (see ``bot/db.py``), so sending still overlaps."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from flows.core.replies import Identity
from flows.core.storage import Direct, InlineDriver, Tx, direct, inline_driver

# PostgreSQL: events handled at once in this process, each on a connection of its own. More only queue for
# this process's CPU, and each connection opened (about 2 ms of CPU) prepares every statement again (about
# 0.1 ms each): 20 users at once opened 19 connections and prepared 312 statements under
# bench/over_http.py, 6 at once 6 and 182 (4: 4 and 124). Six keep about 250 events a second in flight even
# at 5 ms a round trip to a distant server.
EVENTS_AT_ONCE = 6


class Transactions:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], *, single_writer: bool) -> None:
        self.sessionmaker = sessionmaker
        bind = sessionmaker.kw.get("bind")
        assert isinstance(bind, AsyncEngine), "the sessionmaker must be bound to an AsyncEngine"
        self.database = bind
        self.single_writer = single_writer
        self._locks: dict[tuple[str, str], tuple[asyncio.Lock, int]] = {}
        self._write_lock = asyncio.Lock() if single_writer else None
        self._events = asyncio.Semaphore(EVENTS_AT_ONCE) if not single_writer else None
        self._conn: AsyncConnection | None = None
        self._driver: InlineDriver | None = None  # the kept connection's, if it runs statements inline

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A database transaction; on SQLite one at a time in this process."""
        async with self.begin() as tx:
            yield tx.db()

    @contextlib.asynccontextmanager
    async def begin(self) -> AsyncIterator[Tx]:
        """A transaction: on PostgreSQL on a pooled connection; on SQLite one at a time in this process, on
        the connection kept for them, which begins them with BEGIN IMMEDIATE (see ``bot/db.py``)."""
        if self._write_lock is None:
            async with self.database.connect() as conn, self._transact(conn, None, await direct(conn)) as tx:
                yield tx
            return
        async with self._write_lock:
            if self._conn is None:
                self._conn = await self.database.connect()
                await self._conn.execution_options(immediate=True)
                self._driver = inline_driver((await self._conn.get_raw_connection()).driver_connection)
            async with self._transact(self._conn, self._driver) as tx:
                yield tx

    @contextlib.asynccontextmanager
    async def _transact(
        self, conn: AsyncConnection, driver: InlineDriver | None = None, fast: Direct | None = None
    ) -> AsyncIterator[Tx]:
        tx = Tx(conn, self.sessionmaker, driver, fast)
        await tx.begin()
        try:
            yield tx
            await tx.commit()
        except BaseException:
            try:
                await tx.rollback()
            except Exception:
                if conn is self._conn:  # a broken connection: the next transaction opens another
                    self._conn = None
                    with contextlib.suppress(Exception):
                        await conn.close()
                raise
            raise
        finally:
            if tx.session is not None:
                await tx.session.close()

    @contextlib.asynccontextmanager
    async def event(self) -> AsyncIterator[None]:
        """A turn for an event's transaction (PostgreSQL: at most ``EVENTS_AT_ONCE`` at once)."""
        if self._events is None:
            yield
            return
        async with self._events:
            yield

    @contextlib.asynccontextmanager
    async def user_lock(self, who: Identity) -> AsyncIterator[None]:
        key = (who.channel, who.external_id)
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    async def close(self) -> None:
        """Close the connection kept for SQLite's transactions (the database engine is the runtime's)."""
        async with self._write_lock or contextlib.nullcontext():
            conn, self._conn = self._conn, None
            if conn is not None:
                await conn.close()
