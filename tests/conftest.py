from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from bot import budget
from bot.db import create_engine, migrate
from bot.runtime import Runtime, open_runtime
from bot.settings import Settings
from flows.core.crypto import Cipher
from frameworks.catalogue import Catalogue, default_catalogue
from frameworks.lookup import LookupIndex, default_index
from tests.client import FakeClient
from tests.fakebot import FakeTelegram

if TYPE_CHECKING:
    from tests.test_e2e import Bot

POSTGRES_URL = os.environ.get("LEADCOACH_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
TEST_KEY = Cipher.generate_key()
_CREATED: set[str] = set()  # the databases this worker created, to drop at the end


@pytest.fixture(scope="session", autouse=True)
def _main_thread_loop() -> Iterator[None]:
    """Own the main thread's current event loop for the whole session. Before each async test
    pytest-asyncio (1.1) notes the current loop, calling get_event_loop(), which creates one if
    none is set, and puts it back afterwards; asyncio.run() in a later sync test (the CLI tests)
    then drops that loop unclosed, and the 'unclosed event loop' ResourceWarning fails whichever
    test the garbage collector happens to run in."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield
    asyncio.set_event_loop(None)
    loop.close()


@pytest.fixture(autouse=True)
def _scripted_users_write_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    """A scripted user answers in milliseconds, faster than any person, and the fake Bot API has no
    per-chat limit unless a test asks for one: the bot's own (bot/budget.py ``Chats``, a burst then a
    message a second) is lifted here, and set back by the tests of it (tests/test_chat_pace.py)."""
    monkeypatch.setattr(budget, "CHAT_RATE", 1_000_000.0)
    monkeypatch.setenv("LEADCOACH_TELEGRAM_CHAT_RATE", "1000000")  # (Settings made in the tests read it)


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    return default_catalogue()


@pytest.fixture(scope="session")
def index(catalogue: Catalogue) -> LookupIndex:
    return default_index()


# Each test run has databases of its own, so two checkouts can test at once on one server: ``test``
# becomes ``test_<run>_<worker>``, created when first used and dropped when the worker finishes.
_RUN = os.environ.get("PYTEST_XDIST_TESTRUNUID", uuid.uuid4().hex)[:10]


def worker_database(url: str) -> str:
    """This run's (and under pytest-xdist this worker's) own database: ``test`` -> ``test_1a2b3c4d5e_gw0``."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    parsed = make_url(url)
    return parsed.set(database=f"{parsed.database}_{_RUN}_{worker}").render_as_string(hide_password=False)


async def drop_database(url: str) -> None:
    parsed = make_url(url)
    if not (parsed.database or "").startswith("test_"):
        raise RuntimeError(f"refusing to drop {parsed.database!r}: not a test run's database")
    admin = create_async_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    finally:
        await admin.dispose()


@pytest.fixture(scope="session", autouse=True)
def _drop_run_databases(_main_thread_loop: None) -> Iterator[None]:
    yield
    with asyncio.Runner(loop_factory=asyncio.new_event_loop) as runner:  # leaves the main loop alone
        for url in sorted(_CREATED):
            runner.run(drop_database(url))


async def create_database(url: str) -> None:
    parsed = make_url(url)
    admin = create_async_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            exists = await conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": parsed.database})
            if not exists:
                await conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
                _CREATED.add(url)
    finally:
        await admin.dispose()


async def reset_postgres(url: str) -> None:
    """Drop and recreate the public schema: only ever in a database whose name starts with ``test``."""
    name = make_url(url).database or ""
    if not name.startswith("test"):
        raise RuntimeError(
            f"refusing to drop the schema of {name!r}: not a test database (name must start with 'test')"
        )
    if make_url(url).database != make_url(POSTGRES_URL).database:
        await create_database(url)
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    except OSError as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL not reachable at {url}: {exc}")
    finally:
        await engine.dispose()


# Migrating for every test is slow: each worker migrates once (a SQLite template file to copy, and its
# PostgreSQL database), then tests start from a copy or from emptied tables.
_TEMPLATES: dict[str, Path] = {}
_MIGRATED: set[str] = set()
TABLES = "users, sessions, reflections, inbox, meta, dead_letters, instances"


async def sqlite_copy(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    if "sqlite" not in _TEMPLATES:
        template = tmp_path_factory.mktemp("template") / "leadcoach.sqlite3"
        engine = create_engine(f"sqlite+aiosqlite:///{template}")
        await migrate(engine)
        await engine.dispose()
        _TEMPLATES["sqlite"] = template
    target = tmp_path / "leadcoach.sqlite3"
    shutil.copyfile(_TEMPLATES["sqlite"], target)
    return f"sqlite+aiosqlite:///{target}"


async def _postgres_empty(url: str) -> str:
    if url not in _MIGRATED:
        await reset_postgres(url)
        engine = create_engine(url)
        await migrate(engine)
        await engine.dispose()
        _MIGRATED.add(url)
        return url
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
    finally:
        await engine.dispose()
    return url


@pytest.fixture(params=["sqlite", "postgres"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated, empty database."""
    if request.param == "sqlite":
        return await sqlite_copy(tmp_path, tmp_path_factory)
    return await _postgres_empty(worker_database(POSTGRES_URL))


@pytest.fixture(params=["sqlite", "postgres"])
async def blank_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database with no tables at all (for the migration tests)."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'blank.sqlite3'}"
    url = worker_database(POSTGRES_URL)
    _MIGRATED.discard(url)
    await reset_postgres(url)
    return url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,
        database_url=database_url,
        data_dir=tmp_path,
        encryption_key=TEST_KEY,
        telegram_token=None,
    )


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    rt = await open_runtime(settings)
    yield rt
    await rt.close()


@pytest.fixture
def client(runtime: Runtime) -> FakeClient:
    return FakeClient(runtime.coach)


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    server = FakeTelegram()
    await server.start()
    yield server
    await server.stop()
    # Whatever happened, the bot never sent anything Telegram would reject (bar deliberate 429/403/502).
    assert [r for r in server.rejected if r[1] == 400] == []


@pytest.fixture
async def bot(fake: FakeTelegram, database_url: str, tmp_path: Path) -> AsyncIterator[Bot]:
    from tests.test_e2e import Bot, make_settings, start_app, stop_app

    settings = make_settings(fake, database_url, tmp_path)
    service = await start_app(settings)
    yield Bot(fake, settings, service)
    await stop_app(service)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """What the explorer walked (tests/test_explorer.py), said at the end of every run, also under xdist."""
    lines = [
        str(value)
        for report in terminalreporter.stats.get("passed", [])
        if report.when == "call"
        for name, value in report.user_properties
        if name == "explorer"
    ]
    if lines:
        terminalreporter.write_sep("-", "explorer")
        for line in sorted(lines):
            terminalreporter.write_line(line)
