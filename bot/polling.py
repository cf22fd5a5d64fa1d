"""Long polling: getUpdates over the one HTTP stack (bot/botapi.py); each batch is handed to ``receive``
(which stores it) before the next call confirms it. Any failure (the Bot API, the database, a bug) is
logged and waited out with bounded back-off: polling never stops."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from telegram.error import Conflict

from bot.botapi import BotApi
from bot.early import LONG_POLL, FirstPoll, params
from bot.faults import Backoff, describe, retrying, transient

log = logging.getLogger(__name__)
CONFLICT_WAIT = 5.0  # seconds: another process is polling with this token
Receive = Callable[[Sequence[object]], Awaitable[None]]


async def updates(api: BotApi, offset: int | None, timeout: int) -> Any:
    """The next batch, as Telegram sent it (JSON, not parsed)."""
    return await api.request("getUpdates", params(offset, timeout), timeout=timeout + 10)


async def poll(api: BotApi, receive: Receive, *, timeout: int = LONG_POLL, first: FirstPoll | None = None) -> None:
    """Long-poll for ever: a batch is received (stored) before the next getUpdates confirms it. ``first``:
    the getUpdates sent as the process started (bot/early.py); its batch is the first one received."""
    await retrying(lambda: api.request("deleteWebhook", {}), "deleteWebhook")
    offset: int | None = None
    backoff = Backoff(most=30.0)
    while True:
        try:
            if first is not None:  # (if it or storing its batch fails, the next getUpdates asks again)
                pending, first = first, None
                raw = await pending.batch()
            else:
                raw = await updates(api, offset, timeout)
            if isinstance(raw, list) and raw:
                await receive(raw)
                offset = next_offset(raw, offset)
            backoff.reset()
        except Conflict:
            log.error("another process is polling with this token; retrying in %.0f s", CONFLICT_WAIT)
            await asyncio.sleep(CONFLICT_WAIT)
        except Exception as exc:
            delay = backoff.next()
            level = max(backoff.level(), logging.ERROR if not transient(exc) else logging.WARNING)
            log.log(level, "getUpdates or storing its batch failed (%s); again in %.1f s", describe(exc), delay)
            await asyncio.sleep(delay)


def next_offset(raw: Sequence[object], offset: int | None) -> int | None:
    """The offset that confirms a batch: past its highest update_id (that is a number)."""
    ids = [d["update_id"] for d in raw if isinstance(d, dict) and isinstance(d.get("update_id"), int)]
    return max(ids) + 1 if ids else offset
