"""What every adapter needs: the database (migrated), the cipher, the catalogue and the flow engine."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db import create_engine, migrate, sessionmaker
from bot.keys import check_canary, check_key_exists, load_cipher
from bot.settings import Settings
from bot.startup import StartupError, check_database_url, check_timezone, database_error, private_dir, private_file
from flows import register_all
from flows.core.engine import Engine
from flows.core.replies import ClickEvent, CommandEvent, Event, TextEvent
from frameworks.catalogue import default_catalogue
from frameworks.lookup import default_index

WARM_AFTER = 0.02  # seconds after the bot starts receiving: its first getUpdates has gone


@dataclass
class Runtime:
    settings: Settings
    db: AsyncEngine
    coach: Engine

    def warm(self, after: float = WARM_AFTER) -> None:
        """Build what the first update did not need (the lookup index, about 0.1 s of CPU) just after the
        first getUpdates has gone, so the first lookup finds it made (one before then builds it itself).
        On the event loop, not in a worker thread: on a busy machine a thread holding the interpreter
        lock stalled the loop for longer than the build takes, and later, when updates come."""
        asyncio.get_running_loop().call_later(after, lambda: self.coach.index)

    async def close(self) -> None:
        await self.coach.close()
        await self.db.dispose()


async def open_runtime(settings: Settings) -> Runtime:
    """Check the configuration, open and migrate the database, check the key: each failure is one line."""
    check_timezone(settings.default_timezone)
    private_dir(settings.data_dir)
    url = settings.effective_database_url
    check_database_url(url)
    if settings.is_sqlite and (path := make_url(url).database) and path != ":memory:":
        private_file(Path(path))
    if settings.encryption_key is not None:
        load_cipher(settings)  # a malformed key is said before anything else is touched
    db = create_engine(url)
    try:
        await migrate(db)
        await check_key_exists(settings, db)  # no key, but data encrypted with one: nothing new is written
    except (OSError, DBAPIError, TimeoutError) as exc:
        await db.dispose()
        raise database_error(url, exc) from None
    except BaseException as exc:
        await db.dispose()
        if exc.__class__.__module__.startswith("alembic"):  # e.g. a revision from a newer LeadCoach
            raise StartupError(f"cannot migrate the database: {_first_line(exc)}; {NEWER}") from None
        raise
    cipher = load_cipher(settings)  # only now, with the database reachable, a new key file may be made
    catalogue = default_catalogue()
    coach = Engine(
        sessionmaker(db),
        catalogue,
        default_index,  # built at the first lookup, or by warm() once the bot is receiving
        cipher,
        session_ttl=timedelta(days=settings.session_ttl_days),
        default_timezone=settings.default_timezone,
        single_writer=settings.is_sqlite,
        appraisal_round=settings.round,
        feedback_min_raters=settings.feedback_min_raters,
    )
    register_all(coach)
    try:
        await check_canary(coach)
    except BaseException:
        await coach.close()
        await db.dispose()
        raise
    return Runtime(settings, db, coach)


NEWER = "was it migrated by a newer version of LeadCoach? Run that version, or restore a backup"


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else exc.__class__.__name__


def parse_input(text: str, bot_username: str | None = None) -> Event:
    """A typed line: ``/cmd@Bot args`` is a command, anything else is text."""
    if text.startswith("/") and len(text) > 1:
        head, _, args = text[1:].partition(" ")
        name, _, target = head.partition("@")
        if not target or bot_username is None or target.lower() == bot_username.lower():
            return CommandEvent(name.lower(), args)
    return TextEvent(text)


__all__ = ["ClickEvent", "Runtime", "open_runtime", "parse_input"]
