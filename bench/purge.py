"""How long ``leadcoach purge`` takes on a large backlog of old rows (PostgreSQL, 127.0.0.1).

    .venv/bin/python bench/purge.py --rows 1000000

Fills ``inbox`` with old rows (server-side, generate_series) in a scratch database ``bench_purge``,
then times the purge (ranges of the indexed ``received_at``)."""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory

from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from bot.runtime import open_runtime
from bot.settings import Settings
from flows.core.crypto import Cipher
from flows.core.retention import purge

SERVER = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


async def scratch(name: str) -> str:
    admin = create_async_engine(SERVER, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    return make_url(SERVER).set(database=name).render_as_string(hide_password=False)


async def main(rows: int, batch: int) -> None:
    url = await scratch("bench_purge")
    with TemporaryDirectory() as tmp:
        settings = Settings(_env_file=None, database_url=url, data_dir=Path(tmp), encryption_key=Cipher.generate_key())
        runtime = await open_runtime(settings)
        async with runtime.db.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO inbox (channel, update_id, user_key, payload_enc, received_at, done_at) "
                    "SELECT 'telegram', g, (g % 5000)::text, '\\x00'::bytea, "
                    "now() - interval '30 days' + (g % 86400) * interval '1 second', now() "
                    "FROM generate_series(1, :n) g"
                ),
                {"n": rows},
            )
            await conn.execute(text("ANALYZE inbox"))
        start = time.perf_counter()
        done = await purge(runtime.coach, datetime.now(UTC), batch=batch)
        took = time.perf_counter() - start
        await runtime.close()
    print(f"purge of {done.updates:,} old inbox rows: {took:.2f} s ({done.updates / took:,.0f} rows/s)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=20_000)
    args = parser.parse_args()
    asyncio.run(main(args.rows, args.batch))
