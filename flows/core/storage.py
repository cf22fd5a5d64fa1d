"""The flow engine's transactions and its own statements (``flows/core/engine.py``).

Per event the engine claims the inbox row, reads the user and their conversation and writes the
conversation back. It does that with plain statements built once, not through the ORM: the unit of
work, and SQLAlchemy's work per statement, cost more than SQLite did. Each statement is compiled once
per dialect and run straight on the driver's connection: on SQLite (whose driver answers inline,
``bot/sqlite_inline.py``) in the transaction SQLAlchemy began; on PostgreSQL (asyncpg) in the
transaction SQLAlchemy's asyncpg adapter keeps for the connection, begun on the driver with the first
statement as the adapter begins it (``Direct``), so a handler's ORM statements join it and SQLAlchemy
commits it. A driver's error is handed to SQLAlchemy as its own statements' are (the same exceptions, the
same handling of a dropped connection, the same logging without values), and listeners of
``before_cursor_execute`` still see each statement. Any other driver runs the SQL through
SQLAlchemy's connection (``exec_driver_sql``). Handlers still
get an ORM session (``ctx.db``) and the user as an ORM object (``ctx.user``): the session is opened on
the transaction's connection only when a handler asks for it, and the user's object joins it then.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Protocol, TypeVar, cast, runtime_checkable

from sqlalchemy import Table, bindparam, exists, func, insert, inspect, literal_column, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import manager_of_class, set_committed_value
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.orm.util import identity_key
from sqlalchemy.sql import Select
from sqlalchemy.util.concurrency import greenlet_spawn

from flows.core.flush import updates
from flows.core.prepared import Prepared as Prepared  # (where the flows import it from)
from flows.core.prepared import Processor, bound
from flows.store.models import ConversationSession, InboxUpdate, User


@dataclass
class Stored:
    """The user's stored conversation (their ``sessions`` row), as the engine reads it."""

    version: int
    undelivered: bool
    flow: str
    step: str
    data_enc: bytes
    expires_at: datetime
    parked_flow: str
    parked_data_enc: bytes | None
    parked_until: datetime | None


@runtime_checkable
class InlineDriver(Protocol):
    """A DBAPI connection that runs statements at once (``bot/sqlite_inline.Connection``)."""

    @property
    def in_transaction(self) -> bool: ...

    async def begin(self, immediate: bool) -> None: ...

    def execute_now(self, sql: str, parameters: Sequence[Any] = ()) -> Any: ...

    async def commit(self) -> None: ...

    def rollback_now(self) -> None: ...


# The user and their conversation: one query on SQLite, whose transactions already hold the database
# (BEGIN IMMEDIATE). On PostgreSQL the user's row is locked first and the conversation read after.
USERS = cast(Table, User.__table__)
SESSIONS = cast(Table, ConversationSession.__table__)
INBOX = cast(Table, InboxUpdate.__table__)
USER_KEYS = [c.key for c in USERS.c]
_STORED_COLUMNS = [SESSIONS.c.user_id, *(SESSIONS.c[f.name] for f in fields(Stored))]
_MINE = (USERS.c.channel == bindparam("channel")) & (USERS.c.external_id == bindparam("external_id"))
LOCK_USER = Prepared(select(*USERS.c).where(_MINE).with_for_update())
STORED = Prepared(select(*_STORED_COLUMNS).where(SESSIONS.c.user_id == bindparam("b_user_id")))
USER_AND_SESSION = Prepared(
    select(*USERS.c, *_STORED_COLUMNS).outerjoin_from(USERS, SESSIONS, SESSIONS.c.user_id == USERS.c.id).where(_MINE)
)
_UPDATE = (INBOX.c.channel == bindparam("b_channel")) & (INBOX.c.update_id == bindparam("b_update_id"))
CLAIM = Prepared(update(INBOX).where(_UPDATE, INBOX.c.done_at.is_(None)).values(done_at=bindparam("b_now")))
SEEN = Prepared(select(INBOX.c.update_id).where(_UPDATE))
# PostgreSQL, once the user's row is locked: the update claimed and their conversation read in one
# statement (one round trip less an event). Read after the lock, so it sees what a transaction that
# held the lock before committed. The claim takes the update only if none of the user's earlier ones is
# unhandled in the inbox (whichever instance stored it): updates are handled in update order per user
# however the instances sharing the database received them. One row: how many rows the claim took (0 or
# 1), the user's earliest unhandled update before this one (NULL if none), whether this one is stored
# and unhandled (NULL: not stored), then the conversation (NULLs if there is none).
_EARLIER = (
    (INBOX.c.user_key == bindparam("b_key"))
    & INBOX.c.done_at.is_(None)
    & (INBOX.c.update_id < bindparam("b_update_id"))
    & (INBOX.c.channel == bindparam("b_channel"))
)
_CLAIMED = (
    CLAIM.statement.where(~exists().where(_EARLIER))  # type: ignore[union-attr]
    .returning(INBOX.c.update_id)
    .cte("claimed")
)
_FIRST = select(func.min(INBOX.c.update_id)).where(_EARLIER).scalar_subquery()
_PENDING = select(INBOX.c.done_at.is_(None)).where(_UPDATE).scalar_subquery()
_ONE = select(literal_column("1").label("one")).subquery("one")
CLAIM_AND_STORED = Prepared(
    select(
        select(func.count()).select_from(_CLAIMED).scalar_subquery().label("claimed"),
        _FIRST.label("earlier"),
        _PENDING.label("pending"),
        *_STORED_COLUMNS,
    )
    .select_from(_ONE)
    .outerjoin(SESSIONS, SESSIONS.c.user_id == bindparam("b_user_id"))
)
INSERT_DONE = Prepared(insert(INBOX), ["channel", "update_id", "user_key", "payload_enc", "received_at", "done_at"])
_STATE = ["flow", "step", "undelivered", "version", "data_enc", "updated_at", "expires_at"]
_PARKED = ["parked_flow", "parked_data_enc", "parked_until"]
_SAVE = update(SESSIONS).where(SESSIONS.c.user_id == bindparam("b_user_id"))
SAVE_STATE = Prepared(_SAVE, _STATE)
SAVE_STATE_AND_PARKED = Prepared(_SAVE, _STATE + _PARKED)
INSERT_SESSION = Prepared(insert(SESSIONS), ["user_id", *_STATE, *_PARKED])
# A user's first event: their row, unless a concurrent first event made it (then it is read).
# A new user's INSERT names the columns the engine sets; nullable ones and those with a server default
# (the nudge settings) are left to the database.
_NEW_USER = [c.key for c in USERS.c if c.key != "id" and not c.nullable and c.server_default is None] + ["first_name"]
_IDENTITY = ["channel", "external_id"]
INSERT_USER = {
    "postgresql": Prepared(pg_insert(USERS).on_conflict_do_nothing(index_elements=_IDENTITY), _NEW_USER),
    "sqlite": Prepared(sqlite_insert(USERS).on_conflict_do_nothing(index_elements=_IDENTITY), _NEW_USER),
}


class Direct:
    """PostgreSQL through asyncpg: statements straight on the driver's connection (its own prepared
    statement cache), skipping SQLAlchemy's cursor, execution context and result objects (about 50 µs a
    statement, more than asyncpg's own work). They run in the transaction SQLAlchemy's asyncpg adapter keeps:
    begun with the first statement exactly as the adapter begins it (so the ORM's statements later in the
    same transaction join it), committed or rolled back by SQLAlchemy. Errors go through SQLAlchemy's
    handling (``_failed``)."""

    __slots__ = ("_adapter", "_autocommit", "_conn", "_driver")

    def __init__(self, conn: AsyncConnection, adapter: Any, driver: Any, autocommit: bool = False) -> None:
        self._conn = conn
        self._adapter = adapter  # SQLAlchemy's AsyncAdapt_asyncpg_connection
        self._driver = driver  # the asyncpg connection
        self._autocommit = autocommit  # each statement its own transaction (no BEGIN)

    async def first(self, statement: Prepared, params: dict[str, Any]) -> Sequence[Any] | None:
        """The first row of a query compiled once (``Prepared``), with SQLAlchemy's result conversions."""
        sql, binds, results = statement.compiled(self._conn.dialect)
        row = await self.fetchrow(sql, bound(binds, params))
        if row is None:
            return None
        return [value if p is None or value is None else p(value) for p, value in zip(results, row, strict=True)]

    async def run_many(self, statement: Prepared, rows: list[dict[str, Any]]) -> None:
        """An INSERT for each of ``rows``, in one round trip; in autocommit, atomic (asyncpg's
        ``executemany`` runs them in one implicit transaction)."""
        sql, binds, _ = statement.compiled(self._conn.dialect)
        values = [bound(binds, row) for row in rows]
        await self._call(sql, values[0] if values else [], lambda: self._driver.executemany(sql, values))

    async def fetchrow(self, sql: str, values: list[Any]) -> Sequence[Any] | None:
        row = await self._call(sql, values, lambda: self._driver.fetchrow(sql, *values))
        return None if row is None else tuple(row)

    async def execute(self, sql: str, values: list[Any]) -> int:
        """Run an INSERT or UPDATE; how many rows it changed."""
        status = await self._call(sql, values, lambda: self._driver.execute(sql, *values))
        return int(status.rsplit(" ", 1)[-1]) if status and status[-1].isdigit() else 0

    async def _call(self, sql: str, shown: list[Any], call: Callable[[], Awaitable[Any]]) -> Any:
        """One driver call, as SQLAlchemy makes its own: listeners told, the transaction begun, errors
        translated (``shown``: the parameters they see)."""
        self._seen(sql, shown)
        try:
            await self._begun()
            return await call()
        except Exception as exc:
            raise await self._failed(exc, sql, shown) from exc

    async def _begun(self) -> None:
        if (
            not self._autocommit and self._adapter._transaction is None
        ):  # as the adapter does before its own first statement
            await self._adapter._start_transaction()

    def _seen(self, sql: str, values: list[Any]) -> None:
        """Tell ``before_cursor_execute`` listeners (statement counts in tests), as SQLAlchemy would."""
        sync = self._conn.sync_connection
        if sync is not None and sync.dispatch.before_cursor_execute:
            for listener in sync.dispatch.before_cursor_execute:
                listener(sync, None, sql, tuple(values), None, False)

    async def _failed(self, exc: Exception, sql: str, values: list[Any]) -> BaseException:
        """The error SQLAlchemy raises for a statement of its own that fails so: the driver's error
        translated (IntegrityError, OperationalError...), a dropped connection invalidated with the pool's
        older connections, ``handle_error`` listeners run, parameters hidden as the engine says."""
        sync = self._conn.sync_connection
        assert sync is not None

        def handle() -> None:
            try:
                self._adapter._handle_exception(exc)  # raises the DBAPI error the driver's error maps to
            except Exception as dbapi_error:
                sync._handle_dbapi_exception(dbapi_error, sql, tuple(values), None, None)

        try:
            await greenlet_spawn(handle)
        except BaseException as raised:
            return raised
        return exc  # (not reached: SQLAlchemy always raises)


class Tx:
    """One transaction of the engine's, on one connection. With an inline driver the transaction is begun
    (BEGIN IMMEDIATE) and ended on the driver; if anything goes through SQLAlchemy meanwhile (the ORM
    session, a handler's statement), SQLAlchemy joins it (``bot/db.py``) and ends it. With ``direct``
    (PostgreSQL) SQLAlchemy begins and ends it, and the engine's statements run on the driver."""

    __slots__ = ("_direct", "_driver", "_maker", "conn", "session", "user")

    def __init__(
        self,
        conn: AsyncConnection,
        maker: async_sessionmaker[AsyncSession],
        driver: InlineDriver | None = None,
        direct: Direct | None = None,
    ) -> None:
        self.conn = conn
        self._maker = maker
        self._driver = driver  # an InlineDriver (see ``inline_driver``), or None
        self._direct = direct  # PostgreSQL through asyncpg (see ``direct``), or None
        self.session: AsyncSession | None = None
        self.user: User | None = None  # the user whose event this is, once loaded

    async def begin(self) -> None:
        if self._driver is None:
            await self.conn.begin()
        else:
            await self._driver.begin(True)  # waits, the loop free, while another process holds the lock

    async def commit(self) -> None:
        await self.flush()
        if self._driver is None or self.conn.in_transaction():
            await self.conn.commit()
        else:
            await self._driver.commit()

    async def rollback(self) -> None:
        if self._driver is None or self.conn.in_transaction():
            await self.conn.rollback()
        else:
            self._driver.rollback_now()

    def db(self) -> AsyncSession:
        """The ORM session, on this transaction's connection (opened when first asked for)."""
        if self.session is None:
            self.session = self._maker(bind=self.conn)
            if self.user is not None:
                self.session.add(self.user)
        return self.session

    async def first(self, statement: Prepared, params: dict[str, Any]) -> Sequence[Any] | None:
        """The first row the query returns, or None."""
        if self._direct is not None:
            sql, binds, results = statement.compiled(self.conn.dialect)
            row = await self._direct.fetchrow(sql, bound(binds, params))
        elif self._driver is None:
            results = statement.compiled(self.conn.dialect)[2]
            row = (await self._through(statement, params)).first()
        else:
            cursor, results = self._now(self._driver, statement, params)
            row = cursor.fetchone()
        if row is None:
            return None
        return [value if p is None or value is None else p(value) for p, value in zip(results, row, strict=True)]

    async def run(self, statement: Prepared, params: dict[str, Any]) -> int:
        """Run an INSERT or UPDATE; how many rows it changed."""
        if self._direct is not None:
            sql, binds, _ = statement.compiled(self.conn.dialect)
            return await self._direct.execute(sql, bound(binds, params))
        if self._driver is None:
            return int((await self._through(statement, params)).rowcount)
        cursor, _ = self._now(self._driver, statement, params)
        return int(cursor.rowcount)

    async def _through(self, statement: Prepared, params: dict[str, Any]) -> CursorResult[Any]:
        """Through SQLAlchemy, as the SQL compiled once for this dialect: no cache key made, no compiled
        cache looked up, per statement (errors, the pool's handling of a dropped connection, and the
        logging without values are SQLAlchemy's as for any statement)."""
        sql, binds, _ = statement.compiled(self.conn.dialect)
        return await self.conn.exec_driver_sql(sql, tuple(bound(binds, params)))

    def _now(self, driver: InlineDriver, statement: Prepared, params: dict[str, Any]) -> tuple[Any, list[Processor]]:
        """Run on the driver; its errors raised as SQLAlchemy raises them (IntegrityError, OperationalError...)."""
        dialect = self.conn.dialect
        sql, binds, results = statement.compiled(dialect)
        values = bound(binds, params)
        try:
            return driver.execute_now(sql, values), results
        except dialect.loaded_dbapi.Error as exc:
            raise DBAPIError.instance(sql, values, exc, dialect.loaded_dbapi.Error, dialect=dialect) from exc

    async def flush(self) -> None:
        """Before the commit: what handlers changed in the session, or in the user's object. Changes to
        loaded rows' columns only (a rating, the user's last visit) are written by UPDATEs compiled once,
        as the engine's own statements are (``updates``); anything else by the session's flush. (The
        session began SQLAlchemy's side of the transaction if it was used; it is ended by ``commit``.)"""
        if self.session is not None:
            sync = self.session.sync_session
            events = sync.dispatch.before_flush or sync.dispatch.after_flush
            writes = None if sync.new or sync.deleted or events else updates(sync.dirty)
            if writes is None:
                await self.session.flush()
                return
        else:
            writes = updates([self.user] if self.user is not None else [])
            assert writes is not None  # (a user row has no events, versions or relationships)
        for obj, statement, params in writes:
            if await self.run(statement, params) != 1:
                raise StaleDataError(f"UPDATE of {statement.columns} on a row the database no longer has")
            state = inspect(obj)
            for key in list(state.committed_state):
                set_committed_value(obj, key, state.dict[key])  # written: nothing left for the session


def inline_driver(driver: Any) -> InlineDriver | None:
    """The connection's driver connection if it runs statements inline (checked once per connection)."""
    return driver if isinstance(driver, InlineDriver) else None


async def direct(conn: AsyncConnection, *, autocommit: bool = False) -> Direct | None:
    """Statements straight on the driver, for PostgreSQL through asyncpg (else None). ``autocommit``: each
    its own transaction (the connection must not be in one)."""
    if conn.dialect.driver != "asyncpg":
        return None
    raw = await conn.get_raw_connection()
    return Direct(conn, raw.dbapi_connection, raw.driver_connection, autocommit)


async def first_on(conn: AsyncConnection, statement: Prepared, params: dict[str, Any]) -> Sequence[Any] | None:
    """The first row of a query compiled once (``Prepared``: no statement built, no cache key made per
    call), on a connection in use, in its transaction (a handler's: ``await ctx.db.connection()``). On
    asyncpg straight on the driver (see ``Direct``); elsewhere through ``exec_driver_sql``."""
    fast = await direct(conn)
    if fast is not None:
        return await fast.first(statement, params)
    sql, binds, results = statement.compiled(conn.dialect)
    row = (await conn.exec_driver_sql(sql, tuple(bound(binds, params)))).first()
    if row is None:
        return None
    return [value if p is None or value is None else p(value) for p, value in zip(results, row, strict=True)]


def user_object(values: Sequence[Any]) -> User:
    """The user's row as an ORM object, not in any session yet (see ``Tx.db``): made as the ORM makes the
    objects it loads (no constructor, no attribute events), then given its identity."""
    return _loaded(User, USER_KEYS, values)


_T = TypeVar("_T")


def _loaded(cls: type[_T], keys: Sequence[str], values: Sequence[Any]) -> _T:
    made: _T = manager_of_class(cls).new_instance()
    made.__dict__.update(zip(keys, values, strict=True))
    make_transient_to_detached(made)
    return made


async def get_by_id(db: AsyncSession, cls: type[_T], read: Prepared, key: int) -> _T | None:
    """``db.get(cls, key)`` for a row read often (an assessment rated item by item): the object in the
    session if it is there, else the row read by ``read`` (all the table's columns, bound ``id``;
    compiled once, on the driver on asyncpg, see ``first_on``) and added to the session as it would have
    loaded it, so that changes to it are flushed as for any object the session loaded. No autoflush before
    the read (``get`` would): an object of ``cls`` with that key changed in the session is found in it."""
    found: _T | None = db.sync_session.identity_map.get(identity_key(cls, key))
    if found is not None:
        return found
    values = await first_on(await db.connection(), read, {"id": key})
    if values is None:
        return None
    assert isinstance(read.statement, Select)
    made = _loaded(cls, [str(c.key) for c in read.statement.selected_columns], values)
    db.add(made)
    return made


def stored(values: Sequence[Any] | None) -> Stored | None:
    """The conversation from a row of ``_STORED_COLUMNS`` (None: the user has none)."""
    return Stored(*values[1:]) if values is not None and values[0] is not None else None
