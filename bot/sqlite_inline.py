"""SQLite for SQLAlchemy's asyncio engine without a thread hop per call.

aiosqlite runs every call (cursor, execute, fetch, close, commit) in a helper thread and wakes the
event loop for each result; a transaction of six statements costs some twenty wake-ups, and that,
not SQLite, was most of the time an update took. A local SQLite file answers a statement in tens of
microseconds, so this driver runs each call inline on the event loop instead. It plugs into
SQLAlchemy's own aiosqlite dialect through ``async_creator`` and offers the small part of aiosqlite's
interface that dialect uses. LeadCoach's transactions on SQLite already take turns in process
(``Engine.transaction``), so a call waits on the database only when another process holds it.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Generator, Iterable, Sequence
from typing import Any


class Cursor:
    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> Cursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    async def execute(self, sql: str, parameters: Any = ()) -> Cursor:
        self._cursor.execute(sql, parameters)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> Cursor:
        self._cursor.executemany(sql, parameters)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()


class _Inline:
    """Stands in for aiosqlite's request queue, which the dialect uses to set the isolation level."""

    def put_nowait(self, item: tuple[asyncio.Future[Any], Callable[[], Any]]) -> None:
        future, function = item
        future.set_result(function())


class Connection:
    def __init__(self, database: str, **kwargs: Any) -> None:
        self._conn: sqlite3.Connection | None = sqlite3.connect(database, check_same_thread=False, **kwargs)
        self._tx = _Inline()

    @property
    def _connection(self) -> sqlite3.Connection | None:
        return self._conn

    def __await__(self) -> Generator[Any, None, Connection]:
        async def ready() -> Connection:
            return self

        return ready().__await__()

    @property
    def isolation_level(self) -> str | None:
        assert self._conn is not None
        return self._conn.isolation_level

    def cursor(self) -> Cursor:
        assert self._conn is not None
        return Cursor(self._conn.cursor())

    # Called at once, not awaited: SQLAlchemy's ``begin`` event (``bot/db.py``), and the flow engine's
    # transactions and statements (``flows/storage.py``).

    @property
    def in_transaction(self) -> bool:
        return self._conn is not None and self._conn.in_transaction

    def begin(self, immediate: bool) -> None:
        assert self._conn is not None
        self._conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")

    def execute_now(self, sql: str, parameters: Sequence[Any] = ()) -> sqlite3.Cursor:
        assert self._conn is not None
        return self._conn.execute(sql, parameters)

    def commit_now(self) -> None:
        assert self._conn is not None
        self._conn.commit()

    def rollback_now(self) -> None:
        assert self._conn is not None
        self._conn.rollback()

    async def commit(self) -> None:
        assert self._conn is not None
        self._conn.commit()

    async def rollback(self) -> None:
        assert self._conn is not None
        self._conn.rollback()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        assert self._conn is not None
        self._conn.create_function(*args, **kwargs)

    async def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def stop(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
