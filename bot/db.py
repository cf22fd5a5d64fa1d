"""Database engine, SQLite pragmas, and Alembic migrations applied at start-up."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, make_url, text
from sqlalchemy.engine import Connection, ExceptionContext
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from bot import sqlite_inline
from bot.revisions import quick_head

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
_ADVISORY_LOCK_ID = 7_164_322_101  # any constant shared by every instance of LeadCoach


def create_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        database = make_url(url).database or ":memory:"
        engine = create_async_engine(
            url, async_creator=lambda: sqlite_inline.Connection(database, timeout=30), hide_parameters=True
        )

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            # No busy timeout: a statement that needs another process's lock waits in the driver, with the
            # event loop free, up to the 30 s given above (bot/sqlite_inline.py), not inside SQLite.
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()
            dbapi_conn.isolation_level = None  # we say BEGIN ourselves, below

        @event.listens_for(engine.sync_engine, "begin")
        def _begin(conn: Connection) -> None:
            # A writing transaction (``immediate``, see Engine.transaction) takes the write lock when it
            # starts, not at its first write: one that read an older snapshot could otherwise fail, or
            # (two processes) lose an update. Reads begin deferred and never wait for writers (WAL).
            immediate = conn.get_execution_options().get("immediate", False)
            driver = conn.connection.driver_connection
            assert isinstance(driver, sqlite_inline.Connection)
            if driver.in_transaction:  # the flow engine began it on the driver (flows/storage.py): join it
                return
            if immediate:  # may wait for another process: through the DBAPI adapter, which awaits the driver
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            else:  # takes no lock, so never waits: straight to SQLite (through SQLAlchemy costs more)
                driver.execute_now("BEGIN")

        return engine
    # hide_parameters: an error names its statement, never its values (a user's name or Telegram id).
    # No ping before each checkout (it cost a round trip per transaction): a connection the server
    # dropped fails its statement once, the pool throws away every connection as old as it, and the
    # caller's retry (bot/faults.py) gets a fresh one. Connections are renewed every 30 minutes.
    # Twenty kept: with ten, a burst of users past ten at once opened overflow connections and closed
    # them again at once, each time a connect (and an SSL attempt) and every statement prepared anew.
    # Last in, first out: the connections in use are the few most recently used, whose prepared
    # statements are ready (first in, first out spread the work over all twenty, each preparing them).
    engine = create_async_engine(
        url,
        pool_size=20,
        max_overflow=10,
        pool_use_lifo=True,
        pool_recycle=1800,
        connect_args={"timeout": 10},
        hide_parameters=True,
    )
    event.listen(engine.sync_engine, "handle_error", _without_values)
    return engine


_DETAIL = re.compile(r"\nDETAIL:.*", re.S)


def _without_values(context: ExceptionContext) -> None:
    """PostgreSQL's DETAIL repeats the values of a refused row ("Failing row contains (..., Alice, ...)"):
    drop it from the error and its cause, so a log line never shows what a user typed or who they are."""
    error: BaseException | None = context.original_exception
    while error is not None:
        if getattr(error, "detail", None):
            error.detail = None  # type: ignore[attr-defined]  # asyncpg's errors build str() from it
        error.args = tuple(_DETAIL.sub("", a) if isinstance(a, str) else a for a in error.args)
        error = error.__cause__


def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def _alembic_config(connection: Connection | None, scripts: Path) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(scripts))
    cfg.attributes["connection"] = connection
    return cfg


def _upgrade(connection: Connection, revision: str, scripts: Path) -> None:
    from alembic import command

    command.upgrade(_alembic_config(connection, scripts), revision)


def _downgrade(connection: Connection, revision: str, scripts: Path) -> None:
    from alembic import command

    command.downgrade(_alembic_config(connection, scripts), revision)


def head_revision(scripts: Path = MIGRATIONS) -> str:
    """The newest migration, however a script quotes or annotates its revision (``make migration``
    writes ``revision = 'ab12...'``): read with ``ast`` (bot/revisions.py, no Alembic at a start that
    has nothing to migrate), else as Alembic itself reads the scripts."""
    if (quick := quick_head(scripts)) is not None:
        return quick
    from alembic.script import ScriptDirectory

    heads = ScriptDirectory.from_config(_alembic_config(None, scripts)).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"expected one head migration, found {sorted(heads)}")
    return heads[0]


async def _current(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        try:
            version = await conn.scalar(text("SELECT version_num FROM alembic_version"))
        except DBAPIError:
            return None  # a new database: no alembic_version table yet
        return str(version) if version is not None else None


async def migrate(engine: AsyncEngine, revision: str = "head", *, scripts: Path = MIGRATIONS) -> None:
    """Bring the schema up to date. On PostgreSQL, one instance at a time (advisory lock). ``scripts``:
    the migrations directory (the tests migrate with a copy that has one more)."""
    if revision == "head" and await _current(engine) == head_revision(scripts):
        log.debug("database schema is up to date")
        return
    async with engine.connect() as conn:
        postgres = conn.dialect.name == "postgresql"
        if postgres:
            await conn.execute(text("SELECT pg_advisory_lock(:id)"), {"id": _ADVISORY_LOCK_ID})
            await conn.commit()
        try:
            await conn.run_sync(_upgrade, revision, scripts)
            await conn.commit()
        finally:
            if postgres:
                await conn.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": _ADVISORY_LOCK_ID})
                await conn.commit()
    log.debug("database schema is up to date")


async def downgrade(engine: AsyncEngine, revision: str = "base", *, scripts: Path = MIGRATIONS) -> None:
    async with engine.connect() as conn:
        await conn.run_sync(_downgrade, revision, scripts)
        await conn.commit()
