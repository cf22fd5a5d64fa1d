"""The first getUpdates, asked for as the process starts: long polling's first batch is on its way while
the rest of LeadCoach (python-telegram-bot, SQLAlchemy, the flows and the catalogue: about half a second)
is imported and the database opened. Nothing is confirmed by it: a batch is confirmed by the next
getUpdates's offset, which is only asked for once the batch is stored (bot/polling.py). If the process
stops first, Telegram keeps the updates and sends them again.

Only aiohttp is imported here (this module is imported before anything heavy). Any failure (a webhook
still set, a wrong token, the Bot API unreachable) is left to the ordinary poll, which says it."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp

log = logging.getLogger(__name__)
# What the bot asks Telegram for (getUpdates and setWebhook): the Update fields of the same names.
ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "inline_query"]
LONG_POLL = 30  # seconds a getUpdates waits for an update


def params(offset: int | None, timeout: int) -> dict[str, Any]:
    """getUpdates's parameters: a long poll of ``timeout`` seconds, confirming what is before ``offset``."""
    data: dict[str, Any] = {"timeout": timeout, "allowed_updates": ALLOWED_UPDATES}
    if offset is not None:
        data["offset"] = offset
    return data


class FirstPoll:
    """One getUpdates (a long poll of ``timeout`` seconds) with no offset, sent straight away."""

    def __init__(self, base_url: str, timeout: int = LONG_POLL) -> None:
        self.url = f"{base_url.rstrip('/')}/getUpdates"
        self.timeout = timeout
        self.sending = asyncio.Event()  # set as the request is made (imports after it don't delay it)
        self._task = asyncio.create_task(self._fetch(), name="first-getUpdates")

    async def batch(self) -> list[Any] | None:
        """The batch Telegram sent (as JSON), or None if the call failed."""
        return await self._task

    async def _fetch(self) -> list[Any] | None:
        payload = params(None, self.timeout)
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout + 10)) as http:
                self.sending.set()
                async with http.post(self.url, json=payload) as response:
                    answer = await response.json(content_type=None)
        except Exception as exc:  # (aiohttp's errors, a timeout, a body that is not JSON, ...)
            log.debug("the first getUpdates failed (%s); polling asks again", exc.__class__.__name__)
            return None
        finally:
            self.sending.set()
        # (not ok: e.g. 409 while a webhook is set; polling deletes it, then asks again)
        result = answer.get("result") if isinstance(answer, dict) and answer.get("ok") else None
        return result if isinstance(result, list) else None

    async def cancel(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
