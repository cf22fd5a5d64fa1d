"""SQLite for SQLAlchemy's asyncio engine without a thread hop per call.

aiosqlite runs every call (cursor, execute, fetch, close, commit) in a helper thread and wakes the
event loop for each result; a transaction of six statements costs some twenty wake-ups, and that,
not SQLite, was most of the time an update took. A local SQLite file answers a statement in tens of
microseconds, so this driver runs each call inline on the event loop instead. It plugs into
SQLAlchemy's own aiosqlite dialect through ``async_creator`` and offers the small part of aiosqlite's
interface that dialect uses. LeadCoach's transactions on SQLite already take turns in process
(``Engine.transaction``), so a call waits on the database only when another process holds it.

That wait is never spent inside SQLite: the connection has no busy timeout, so a statement that needs a
lock another process holds (the cron ``leadcoach purge``, a second ``leadcoach chat``) fails at once
with SQLITE_BUSY, and is tried again after a pause in which the event loop serves everyone else (the
pauses SQLite's own busy handler would sleep), until ``timeout`` has passed. Only then does the error
reach the caller, as it would have from SQLite. Taking the lock is where that happens in practice:
``BEGIN IMMEDIATE`` (``begin``), or a first write in a deferred transaction.
"""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
import time
from collections.abc import Callable, Generator, Iterable, Sequence
from typing import Any, TypeVar

_T = TypeVar("_T")
# SQLite's default busy handler's sleeps (sqliteDefaultBusyCallback), in seconds; then 0.1 s apart.
PAUSES = (0.001, 0.002, 0.005, 0.01, 0.015, 0.02, 0.025, 0.025, 0.025, 0.05, 0.05, 0.1)


def busy(exc: sqlite3.OperationalError) -> bool:
    """Another connection holds a lock the statement needs, and a later try may succeed. (Not a read
    snapshot gone stale, SQLITE_BUSY_SNAPSHOT, which no wait mends: SQLite does not wait for that either.)"""
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and code & 0xFF == sqlite3.SQLITE_BUSY and code != sqlite3.SQLITE_BUSY_SNAPSHOT


class Cursor:
    def __init__(self, cursor: sqlite3.Cursor, owner: Connection) -> None:
        self._cursor = cursor
        self._owner = owner

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
        try:
            self._cursor.execute(sql, parameters)
        except sqlite3.OperationalError as exc:
            if not busy(exc):
                raise
            # A statement that fails is undone whole (SQLite's statement journal): it can be run again.
            await self._owner.patiently(lambda: self._cursor.execute(sql, parameters), exc)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> Cursor:
        rows = list(parameters)
        changes = self._owner.total_changes
        try:
            self._cursor.executemany(sql, rows)
        except sqlite3.OperationalError as exc:
            # Run again only if no row went in: the rows before the failing one are not undone.
            if not busy(exc) or self._owner.total_changes != changes:
                raise
            await self._owner.patiently(lambda: self._cursor.executemany(sql, rows), exc)
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
    """``timeout``: how long, in seconds, a statement waits (the event loop free) for another process's lock."""

    def __init__(self, database: str, *, timeout: float = 5.0, **kwargs: Any) -> None:
        self.timeout = timeout
        self._conn: sqlite3.Connection | None = sqlite3.connect(database, timeout=0, check_same_thread=False, **kwargs)
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

    @property
    def total_changes(self) -> int:
        assert self._conn is not None
        return self._conn.total_changes

    def cursor(self) -> Cursor:
        assert self._conn is not None
        return Cursor(self._conn.cursor(), self)

    async def patiently(self, attempt: Callable[[], _T], error: sqlite3.OperationalError) -> _T:
        """``attempt`` found the database locked by another connection (``error``): try it again after
        each pause, the loop free meanwhile, until it succeeds or ``timeout`` has passed (then the error)."""
        deadline = time.monotonic() + self.timeout
        pauses = itertools.chain(PAUSES, itertools.repeat(PAUSES[-1]))
        while (left := deadline - time.monotonic()) > 0:
            await asyncio.sleep(min(next(pauses), left))
            try:
                return attempt()
            except sqlite3.OperationalError as exc:
                if not busy(exc):
                    raise
                error = exc
        raise error

    # The flow engine's transactions and statements (``flows/storage.py``). ``begin`` and ``commit`` may
    # wait for another process (see above); the statements run in between, with the lock held, do not.

    @property
    def in_transaction(self) -> bool:
        return self._conn is not None and self._conn.in_transaction

    async def begin(self, immediate: bool) -> None:
        await self.execute_patiently("BEGIN IMMEDIATE" if immediate else "BEGIN")

    async def execute_patiently(self, sql: str) -> None:
        """A statement with no result (BEGIN, COMMIT), run at once unless another process holds the lock."""
        assert self._conn is not None
        try:
            self._conn.execute(sql)
        except sqlite3.OperationalError as exc:
            if not busy(exc):
                raise
            conn = self._conn
            await self.patiently(lambda: conn.execute(sql), exc)

    def execute_now(self, sql: str, parameters: Sequence[Any] = ()) -> sqlite3.Cursor:
        assert self._conn is not None
        return self._conn.execute(sql, parameters)

    def rollback_now(self) -> None:
        assert self._conn is not None
        self._conn.rollback()

    async def commit(self) -> None:
        # In WAL mode the transaction already holds what COMMIT needs; in rollback-journal mode (a file
        # system without WAL) COMMIT waits for readers to finish.
        if self.in_transaction:
            await self.execute_patiently("COMMIT")

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
