"""Nudge dispatch: 20,000 due nudges through the real dispatcher and PTB's Bot over HTTP to the fake Bot
API (in its own process) enforcing an overall rate; then, on PostgreSQL, claiming a batch of 500 due
rows among 1,000,000.

Targets (issue 8): achieved rate >= 90% of the limit with zero 429s, zero duplicates, zero missed;
claiming 500 due rows among 1,000,000 in < 50 ms.

    python bench/nudges.py [--nudges 20000] [--limit 500] [--rows 1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import socket
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from seed import users_with_nudges_due  # bench/seed.py (the script's folder is on the path)
from sqlalchemy import text
from telegram import Bot
from telegram.request import HTTPXRequest

from bot.dispatcher import Dispatcher, claim_query
from bot.runtime import open_runtime
from bot.settings import Settings
from bot.telegram import TelegramSender
from flows.core.crypto import Cipher
from tests.fakebot import FakeTelegram

POSTGRES = os.environ.get("LEADCOACH_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test_bench")
AT = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)  # the pretend "now" of the pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve_fake(port: int, limit: float, pipe: Connection) -> None:
    """The fake Bot API in a process of its own (as Telegram is), answering until told to stop."""

    async def main() -> None:
        fake = FakeTelegram(rate_limit_per_second=limit, port=port)
        await fake.start()
        pipe.send("ready")
        await asyncio.get_running_loop().run_in_executor(None, pipe.recv)
        sends = [s.chat_id for s in fake.sent if s.method == "sendMessage"]
        too_many = sum(1 for r in fake.rejected if r[1] == 429)
        pipe.send({"sends": sends, "times": fake.send_times, "429": too_many})
        await fake.stop()

    asyncio.run(main())


async def database(url: str) -> str:
    """A fresh schema: PostgreSQL's test_bench database emptied, or a new SQLite file."""
    if url.startswith("sqlite"):
        return url
    from tests.conftest import create_database, reset_postgres

    await create_database(url)
    await reset_postgres(url)
    return url


async def dispatch(url: str, count: int, limit: float) -> dict[str, Any]:
    port = free_port()
    ours, theirs = mp.Pipe()
    server = mp.Process(target=serve_fake, args=(port, limit, theirs), daemon=True)
    server.start()
    assert ours.recv() == "ready"
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            _env_file=None,
            database_url=await database(url) if not url.startswith("sqlite") else f"sqlite+aiosqlite:///{tmp}/b.db",
            data_dir=Path(tmp),
            encryption_key=Cipher.generate_key(),
        )
        runtime = await open_runtime(settings)
        try:
            await users_with_nudges_due(runtime, count, AT - timedelta(minutes=1), first_id=100_000)
            bot = Bot(
                "123456:TEST-TOKEN",
                base_url=f"http://127.0.0.1:{port}/bot",
                request=HTTPXRequest(connection_pool_size=64),
            )
            await bot.initialize()
            # The dispatcher paces itself a little under the limit, as it would under Telegram's.
            sender = TelegramSender(bot)
            dispatcher = Dispatcher(runtime.coach, sender, rate=limit * 0.95, in_flight=32)
            start, cpu = time.perf_counter(), time.process_time()
            result = await dispatcher.run_once(at=AT)
            elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
            await sender.close()
            await bot.shutdown()
        finally:
            await runtime.close()
    ours.send("stop")
    stats: dict[str, Any] = ours.recv()
    server.join(5)
    sends = Counter(stats["sends"])
    times = sorted(stats["times"])
    steady = times[len(times) // 10 : -len(times) // 10 or None]  # the middle 80%: no start-up or tail
    return {
        "sent": result.sent,
        "failed": result.failed,
        "elapsed": elapsed,
        "cpu_ms": cpu / count * 1000,
        "rate": count / elapsed,
        "steady": (len(steady) - 1) / (steady[-1] - steady[0]) if len(steady) > 1 else 0.0,
        "duplicates": sum(n - 1 for n in sends.values() if n > 1),
        "missed": count - len(sends),
        "429": stats["429"],
    }


async def claim(url: str, rows: int, due_share: float = 0.1, batch: int = 500) -> dict[str, float]:
    """Claim 500 due rows among ``rows`` nudges (a tenth of them due) on PostgreSQL."""
    batch = min(batch, int(rows * due_share) // 6)  # enough due rows for every timed claim
    await database(url)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(_env_file=None, database_url=url, data_dir=Path(tmp), encryption_key=Cipher.generate_key())
        runtime = await open_runtime(settings)
        try:
            async with runtime.coach.transaction() as db:
                await db.execute(
                    text(
                        "INSERT INTO users (channel, external_id, created_at, last_seen_at, onboarded, framework, "
                        "stage, reflect_day, reflect_time, timezone, prompt_model, blocked) "
                        "SELECT 'telegram', (1000000 + g)::text, now(), now(), true, 'mlf2025', '1', g % 7, '09:00', "
                        "'Europe/London', 'rolfe', false FROM generate_series(1, :n) AS g"
                    ),
                    {"n": rows},
                )
                await db.execute(
                    text(
                        "INSERT INTO nudges (user_id, kind, due_at, occurrence, snoozed, seq, sent_virtual, "
                        "updated_at) SELECT id, 'reflection', CASE WHEN id % :every = 0 "
                        "THEN CAST(:at AS timestamptz) - interval '1 minute' * (id % 120) "
                        "ELSE CAST(:at AS timestamptz) + interval '1 minute' * (id % 10080) END, "
                        "'w2027-01', false, 0, false, now() FROM users"
                    ),
                    {"every": round(1 / due_share), "at": AT},
                )
            async with runtime.db.connect() as conn:
                await conn.execute(text("ANALYZE nudges"))
                await conn.execute(text("ANALYZE users"))
                await conn.commit()
            select_ms: list[float] = []
            for _ in range(20):  # the claim statement alone: lock 500 due rows, skipping locked ones
                async with runtime.coach.transaction() as db:
                    start = time.perf_counter()
                    conn = await db.connection()
                    found = (await conn.execute(claim_query(AT, batch, "telegram", postgres=True))).all()
                    select_ms.append((time.perf_counter() - start) * 1000)
                    assert len(found) == batch
                    await db.rollback()
            dispatcher = Dispatcher(runtime.coach, _Nowhere(), rate=1000, batch=batch)
            whole_ms: list[float] = []
            from bot.dispatcher import Pass

            for i in range(5):  # the whole claim: lock, decide each, record 500 deliveries, move each row on
                start = time.perf_counter()
                sends, _ = await dispatcher._claim(AT + timedelta(seconds=i), virtual=True, result=Pass())
                whole_ms.append((time.perf_counter() - start) * 1000)
                assert len(sends) == batch
        finally:
            await runtime.close()
    return {
        "select_p50": statistics.median(select_ms),
        "select_max": max(select_ms),
        "whole_p50": statistics.median(whole_ms),
        "whole_max": max(whole_ms),
    }


class _Nowhere:
    async def send(self, who: Any, replies: Any) -> Any:
        raise AssertionError("the claim benchmark sends nothing")


async def postgres_ready() -> bool:
    try:
        await database(POSTGRES)
    except Exception:
        return False
    return True


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nudges", type=int, default=20_000)
    parser.add_argument("--limit", type=float, default=500.0)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    pg = await postgres_ready()
    url = POSTGRES if pg else "sqlite"
    where = "PostgreSQL" if pg else "SQLite"
    print(f"1. {args.nudges} due nudges -> fake Bot API limited to {args.limit:.0f} messages/s ({where})")
    r = await dispatch(url, args.nudges, args.limit)
    print(
        f"   sent {r['sent']} in {r['elapsed']:.1f} s: {r['rate']:.0f}/s overall, {r['steady']:.0f}/s steady "
        f"({r['rate'] / args.limit:.0%} / {r['steady'] / args.limit:.0%} of the limit)"
    )
    print(f"   429s: {r['429']}, duplicates: {r['duplicates']}, missed: {r['missed']}, failed: {r['failed']}")
    print(f"   dispatcher CPU per nudge: {r['cpu_ms']:.2f} ms (this process; the fake Bot API runs in another)")
    if pg:
        print(f"2. claiming 500 due rows among {args.rows:,} nudges on PostgreSQL")
        c = await claim(POSTGRES, args.rows)
        for label, key in (("claim statement (SELECT ... FOR UPDATE SKIP LOCKED)", "select"), ("whole claim", "whole")):
            print(f"   {label}: p50 {c[key + '_p50']:.1f} ms, max {c[key + '_max']:.1f} ms")
    else:
        print("2. PostgreSQL not reachable: skipped")
    print("targets: (1) >= 90% of the limit, 0 429s, 0 duplicates, 0 missed; (2) claim < 50 ms")


if __name__ == "__main__":
    asyncio.run(main())
