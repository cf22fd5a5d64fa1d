"""Alembic environment. LeadCoach passes its own connection in (bot/db.py); from the command line
(`make migration m="..."`) it connects with the configured LEADCOACH_DATABASE_URL."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from flows.store.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


async def _from_settings() -> None:
    from bot.db import create_engine
    from bot.settings import Settings

    engine = create_engine(Settings().effective_database_url)
    async with engine.connect() as conn:
        await conn.run_sync(_run)
        await conn.commit()
    await engine.dispose()


connection = config.attributes.get("connection")
if connection is None:
    asyncio.run(_from_settings())
else:
    _run(connection)
