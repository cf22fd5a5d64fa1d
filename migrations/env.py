"""Alembic environment: LeadCoach passes its own connection in (see bot/db.py)."""

from __future__ import annotations

from alembic import context

from flows.models import Base

config = context.config
target_metadata = Base.metadata
connection = config.attributes.get("connection")

if connection is None:
    # `make migration` / `alembic` from the command line: use the configured URL synchronously.
    from sqlalchemy import create_engine

    from bot.settings import Settings

    url = Settings().effective_database_url.replace("+aiosqlite", "").replace("+asyncpg", "+psycopg")
    with create_engine(url).connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
