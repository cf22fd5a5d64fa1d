"""The CPD-pace claim: how many SQL statements the dispatcher issues to claim 500 due CPD-pace nudges,
and for the whole pass that sends them, on SQLite and on PostgreSQL (counted with a SQLAlchemy
``before_cursor_execute`` listener on the runtime's engine).

    .venv/bin/python bench/claim.py [--nudges 500] [--only sqlite|postgres]

500 set-up users, each with an hours target begun six months ago and nothing logged (behind pace, so
each nudge is sent) and a CPD-pace nudge due now. (1) ``Dispatcher._claim`` alone: lock the due rows,
decide each, record the deliveries, move the rows on (what issue 14 measured at 3,004 statements);
(2) the whole pass (``Dispatcher.run_once``) to a sender that keeps what it is given: the claim, then
composing each nudge (its pace judged then), marking and recording. Target (issue 14): the claim of 500
in <= 20 statements. A scratch PostgreSQL database of its own, dropped after."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from sqlalchemy import event, insert, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scratch import scratch_postgres  # bench/scratch.py (the script's folder is on the path)

from bot.dispatcher import Dispatcher, Pass
from bot.runtime import Runtime, open_runtime
from bot.settings import Settings
from flows.core.crypto import Cipher
from flows.store.models import CpdTarget, Nudge, User
from tests.test_nudges import Outbox

NOW = datetime(2026, 7, 3, 12, 30, tzinfo=UTC)  # a Friday, 13:30 in London: no quiet hours


async def users_due(runtime: Runtime, count: int) -> None:
    rows = [
        {
            "channel": "terminal",
            "external_id": f"u{i}",
            "created_at": NOW - timedelta(days=200),
            "last_seen_at": NOW,
            "onboarded": True,
        }
        for i in range(count)
    ]
    async with runtime.coach.transaction() as db:
        await db.execute(insert(User), rows)
        ids = list((await db.execute(select(User.id))).scalars())
        await db.execute(
            insert(Nudge),
            [
                {
                    "user_id": uid,
                    "kind": "cpd_pace",
                    "due_at": NOW,
                    "occurrence": "cpd_pace-1",
                    "seq": 0,
                    "snoozed": False,
                    "sent_virtual": False,
                    "updated_at": NOW,
                }
                for uid in ids
            ],
        )
        await db.execute(
            insert(CpdTarget),
            [
                {
                    "user_id": uid,
                    "kind": "hours",
                    "minutes": 600,
                    "starts_on": (NOW - timedelta(days=180)).date(),
                    "ends_on": date(2027, 1, 1),
                    "created_at": NOW - timedelta(days=180),
                }
                for uid in ids
            ],
        )


def counting(runtime: Runtime) -> list[str]:
    seen: list[str] = []

    def note(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(runtime.db.sync_engine, "before_cursor_execute", note)
    return seen


def kinds(statements: list[str]) -> str:
    counted = Counter(s.split(None, 1)[0].upper() for s in statements if s.strip())
    return ", ".join(f"{k} {n}" for k, n in counted.most_common())


async def one(url: str | None, count: int, whole: bool) -> None:
    """The claim alone, or (``whole``) the whole pass, on a new database at ``url`` (None: SQLite)."""
    with TemporaryDirectory() as tmp:
        settings = Settings(_env_file=None, database_url=url, data_dir=Path(tmp), encryption_key=Cipher.generate_key())
        runtime = await open_runtime(settings)
        try:
            await users_due(runtime, count)
            outbox = Outbox()
            dispatcher = Dispatcher(runtime.coach, outbox, channel="terminal", rate=100_000)
            seen = counting(runtime)
            start = time.perf_counter()
            if whole:
                result = await dispatcher.run_once(at=NOW)
                took = time.perf_counter() - start
                print(
                    f"    whole pass: {len(seen)} statements ({kinds(seen)}), {took * 1000:.0f} ms; "
                    f"{result.sent} sent, skipped {dict(result.skipped) or 'none'}"
                )
                for statement, n in Counter(" ".join(s.split())[:100] for s in seen).most_common(8):
                    print(f"      {n:>5} x {statement}")
            else:
                sends, _ = await dispatcher._claim(NOW, virtual=False, result=Pass())
                took = time.perf_counter() - start
                print(
                    f"    claim:      {len(seen)} statements ({kinds(seen)}), {took * 1000:.0f} ms, "
                    f"{len(sends)} to send"
                )
        finally:
            await runtime.close()


async def main(count: int, only: str | None) -> None:
    print(f"claiming {count} due CPD-pace nudges (users behind pace); target: the claim in <= 20 statements")
    if only in (None, "sqlite"):
        print("  SQLite")
        for whole in (False, True):
            await one(None, count, whole)
    if only in (None, "postgres"):
        print("  PostgreSQL")
        for whole in (False, True):
            async with scratch_postgres("claim") as url:
                await one(url, count, whole)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--nudges", type=int, default=500)
    parser.add_argument("--only", choices=["sqlite", "postgres"])
    args = parser.parse_args()
    asyncio.run(main(args.nudges, args.only))
