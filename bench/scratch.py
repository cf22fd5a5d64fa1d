"""A scratch PostgreSQL database for a benchmark: made with a unique name, dropped after, so two checkouts
can bench at once. The server is ``LEADCOACH_BENCH_POSTGRES_SERVER`` (the machine's PostgreSQL by default).

    async with scratch_postgres("purge") as url:
        ...
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

SERVER = os.environ.get("LEADCOACH_BENCH_POSTGRES_SERVER", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")


async def _admin(statement: str) -> None:
    admin = create_async_engine(SERVER, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await admin.dispose()


@asynccontextmanager
async def scratch_postgres(purpose: str) -> AsyncIterator[str]:
    """The URL of a new, empty database named for ``purpose``; dropped when the block ends."""
    name = f"bench_{purpose}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    await _admin(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(SERVER).set(database=name).render_as_string(hide_password=False)
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
