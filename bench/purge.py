"""How long ``leadcoach purge`` takes on a large backlog of old rows, on SQLite and on PostgreSQL.

    .venv/bin/python bench/purge.py [--rows 1000000] [--batch 50000] [--only sqlite|postgres]

Fills ``inbox`` with ``--rows`` old rows (30 days old, done; written by the database itself: a recursive
CTE on SQLite, generate_series on PostgreSQL) in a new SQLite file and in a scratch PostgreSQL database
of its own (dropped after), then times the purge (``flows.core.retention.purge``: ranges of the indexed
``received_at``). Target (issue 14): 1,000,000 old rows in < 5 s."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory

from sqlalchemy import delete, event, func, select, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scratch import scratch_postgres  # bench/scratch.py (the script's folder is on the path)

from bot.runtime import open_runtime
from bot.settings import Settings
from flows.core.crypto import Cipher
from flows.core.retention import BATCH, INBOX_DAYS, purge
from flows.store.models import InboxUpdate

FILL = {
    "postgresql": (
        "INSERT INTO inbox (channel, update_id, user_key, payload_enc, received_at, done_at) "
        "SELECT 'telegram', g, (g % 5000)::text, '\\x00'::bytea, "
        "now() - interval '30 days' + (g % 86400) * interval '1 second', now() "
        "FROM generate_series(1, :n) g"
    ),
    "sqlite": (
        "WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < :n) "
        "INSERT INTO inbox (channel, update_id, user_key, payload_enc, received_at, done_at) "
        "SELECT 'telegram', i, CAST(i % 5000 AS TEXT), x'00', "
        "strftime('%Y-%m-%d %H:%M:%S', 'now', '-30 days', '+' || (i % 86400) || ' seconds') || '.000000', "
        "strftime('%Y-%m-%d %H:%M:%S', 'now') || '.000000' FROM g"
    ),
}


async def one(url: str | None, rows: int, batch: int, baseline: bool = False) -> tuple[int, float, int, float]:
    """(rows purged, seconds, rows left, longest transaction in seconds) on a new database at ``url`` (None:
    a new SQLite file); with ``baseline``, one DELETE statement instead of the purge (the floor for the
    database and its indexes). The longest transaction is how long the bot beside it could wait."""
    with TemporaryDirectory() as tmp:
        settings = Settings(_env_file=None, database_url=url, data_dir=Path(tmp), encryption_key=Cipher.generate_key())
        runtime = await open_runtime(settings)
        try:
            async with runtime.db.begin() as conn:
                await conn.execute(text(FILL[conn.dialect.name]), {"n": rows})
                await conn.execute(text("ANALYZE inbox" if conn.dialect.name == "postgresql" else "ANALYZE"))
            spans: list[float] = [0.0]
            opened: dict[int, float] = {}
            sync = runtime.db.sync_engine
            event.listen(sync, "begin", lambda conn: opened.__setitem__(id(conn), time.perf_counter()))
            for end in ("commit", "rollback"):
                event.listen(sync, end, lambda conn: spans.append(time.perf_counter() - opened.pop(id(conn), 1e18)))
            start = time.perf_counter()
            if baseline:
                async with runtime.db.begin() as conn:
                    cutoff = datetime.now(UTC) - timedelta(days=INBOX_DAYS)
                    purged = (await conn.execute(delete(InboxUpdate).where(InboxUpdate.received_at < cutoff))).rowcount
            else:
                purged = (await purge(runtime.coach, datetime.now(UTC), batch=batch)).updates
            took = time.perf_counter() - start
            async with runtime.db.connect() as conn:
                left = int((await conn.execute(select(func.count()).select_from(InboxUpdate))).scalar_one())
        finally:
            await runtime.close()
    return purged, took, left, max(s for s in spans if s >= 0)


async def main(rows: int, batch: int, only: str | None) -> None:
    print(f"purge of {rows:,} old inbox rows (batch {batch:,}); target < 5 s")
    for store in ("SQLite", "PostgreSQL"):
        if only not in (None, store.lower().replace("postgresql", "postgres")):
            continue
        for baseline in (False, True):
            if store == "PostgreSQL":
                async with scratch_postgres("purge") as url:
                    done, took, left, longest = await one(url, rows, batch, baseline)
            else:
                done, took, left, longest = await one(None, rows, batch, baseline)
            how = "one DELETE (baseline)" if baseline else "leadcoach purge"
            print(
                f"  {store + ',':<12}{how:<22} {done:,} rows in {took:.2f} s ({done / took:,.0f} rows/s), {left} left; "
                f"longest transaction {longest:.2f} s"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=BATCH)  # the purge's own
    parser.add_argument("--only", choices=["sqlite", "postgres"])
    args = parser.parse_args()
    asyncio.run(main(args.rows, args.batch, args.only))
