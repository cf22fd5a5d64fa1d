"""Another process's write lock on the embedded SQLite (the README's cron ``leadcoach purge``, a second
``leadcoach chat``) never stalls the event loop (issue 13, defect 12). Statements run inline on the loop
(``bot/sqlite_inline.py``); one that finds the database locked used to wait inside SQLite, loop and all,
for up to the 30 s busy timeout."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import make_url, text

from bot import sqlite_inline
from bot.db import create_engine
from tests.test_e2e import ALICE, BOB, Bot

HOLD = 3.0  # seconds the other process holds the write lock
STALL = 0.1  # the longest the loop may go without running a ready task meanwhile

# The other process: takes the write lock, says so, holds it, lets go.
HOLDER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("COMMIT")
"""


class LoopProbe:
    """Asks to be woken every few milliseconds and notes how late the loop wakes it: its worst stall."""

    def __init__(self, every: float = 0.005) -> None:
        self.every = every
        self.worst = 0.0
        self.rounds = 0
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> LoopProbe:
        """Probing from now on (once the probe has run: a stall from here on is seen)."""
        self._task = asyncio.create_task(self._run())
        while self.rounds == 0:
            await asyncio.sleep(0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        """Stop, once the round under way has been measured (a stall just before now counts too)."""
        assert self._task is not None
        rounds = self.rounds
        while self.rounds == rounds:
            await asyncio.sleep(0)
        self._task.cancel()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            start = loop.time()
            self.rounds += 1
            await asyncio.sleep(self.every)
            self.worst = max(self.worst, loop.time() - start - self.every)


async def hold_write_lock(path: str, seconds: float) -> asyncio.subprocess.Process:
    """Another process holding the database's write lock for ``seconds`` (returns once it holds it)."""
    holder = await asyncio.create_subprocess_exec(
        sys.executable, "-c", HOLDER, path, str(seconds), stdout=asyncio.subprocess.PIPE
    )
    assert holder.stdout is not None
    assert await holder.stdout.readline() == b"locked\n"
    return holder


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_loop_keeps_answering_while_another_process_holds_the_write_lock(bot: Bot) -> None:
    await bot.say(BOB, "/help")  # the bot is up, its connection open
    path = make_url(bot.settings.effective_database_url).database
    assert path is not None
    holder = await hold_write_lock(path, HOLD)
    locked = time.monotonic()
    try:
        async with LoopProbe() as probe:
            await bot.fake.send_text(ALICE, "/help")  # stored and handled only once the lock is free
            reply = await bot.fake.wait_for(ALICE, 1, timeout=HOLD + 10)
            answered = time.monotonic() - locked
        assert await holder.wait() == 0
    finally:
        if holder.returncode is None:
            holder.kill()
            await holder.wait()
    print(
        f"\nanother process held the write lock {HOLD:.1f} s: the loop's worst stall {probe.worst * 1000:.1f} ms;"
        f" the waiting /help answered {answered:.2f} s after the lock was taken"
    )
    assert "What I can do" in reply[0].text
    assert probe.worst < STALL
    assert answered < HOLD + 1.0  # handled promptly once the lock is let go


async def test_a_lock_held_past_the_timeout_still_fails_as_locked(tmp_path: Path) -> None:
    """The driver waits (loop free) for as long as its timeout, then says so as SQLite would."""
    path = str(tmp_path / "x.sqlite3")
    sqlite3.connect(path).close()
    conn = sqlite_inline.Connection(path, timeout=0.3)
    holder = await hold_write_lock(path, 2.0)
    try:
        async with LoopProbe() as probe:
            started = time.monotonic()
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                await conn.begin(True)
            waited = time.monotonic() - started
    finally:
        holder.kill()
        await holder.wait()
        await conn.close()
    assert 0.3 <= waited < 1.5
    assert probe.worst < STALL


@pytest.mark.parametrize("immediate", [True, False], ids=["begin-immediate", "first-write"])
async def test_statements_through_sqlalchemy_wait_with_the_loop_free(tmp_path: Path, immediate: bool) -> None:
    """Outside the flow engine (migrations, scripts): a transaction that takes the write lock when it
    begins, or at its first write (here several rows at once), waits for it with the loop free."""
    path = str(tmp_path / "x.sqlite3")
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (x INTEGER)"))
        holder = await hold_write_lock(path, 0.5)
        try:
            async with LoopProbe() as probe:
                started = time.monotonic()
                async with engine.connect() as conn:
                    if immediate:
                        await conn.execution_options(immediate=True)
                    async with conn.begin():
                        await conn.execute(text("INSERT INTO t VALUES (:x)"), [{"x": 1}, {"x": 2}, {"x": 3}])
                waited = time.monotonic() - started
            assert await holder.wait() == 0
        finally:
            if holder.returncode is None:
                holder.kill()
                await holder.wait()
        async with engine.connect() as conn:
            assert await conn.scalar(text("SELECT count(*) FROM t")) == 3
    finally:
        await engine.dispose()
    assert waited >= 0.3  # it did wait for the other process
    assert probe.worst < STALL
