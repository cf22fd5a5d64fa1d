"""What every adapter needs: the database (migrated), the cipher, the catalogue and the flow engine."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db import create_engine, migrate, sessionmaker
from bot.keys import load_cipher
from bot.settings import Settings
from flows.engine import Engine
from flows.replies import ClickEvent, CommandEvent, Event, TextEvent
from frameworks.catalogue import default_catalogue
from frameworks.lookup import LookupIndex


@dataclass
class Runtime:
    settings: Settings
    db: AsyncEngine
    coach: Engine

    async def close(self) -> None:
        await self.db.dispose()


async def open_runtime(settings: Settings) -> Runtime:
    db = create_engine(settings.effective_database_url)
    await migrate(db)
    catalogue = default_catalogue()
    coach = Engine(
        sessionmaker(db),
        catalogue,
        LookupIndex(catalogue),
        load_cipher(settings),
        session_ttl=timedelta(days=settings.session_ttl_days),
        default_timezone=settings.default_timezone,
    )
    return Runtime(settings, db, coach)


def parse_input(text: str, bot_username: str | None = None) -> Event:
    """A typed line: ``/cmd@Bot args`` is a command, anything else is text."""
    if text.startswith("/") and len(text) > 1:
        head, _, args = text[1:].partition(" ")
        name, _, target = head.partition("@")
        if not target or bot_username is None or target.lower() == bot_username.lower():
            return CommandEvent(name.lower(), args)
    return TextEvent(text)


__all__ = ["ClickEvent", "Runtime", "open_runtime", "parse_input"]
