"""The one HTTP stack to the Bot API: its JSON over one aiohttp session. Every message goes through the
shared rate budget (bot/budget.py). Replies, button answers, edits, files (multipart), nudges and the
long poll (getUpdates, deleteWebhook) all go this way.

Chosen by measurement: PTB's httpx transport cost about 3.5 ms of CPU a message against 0.3 ms for
plain JSON over aiohttp (bench/RESULTS.md), and a getUpdates through it about 12% of the CPU of an
update. PTB keeps what it does once at start (getMe, setMyCommands, setWebhook), a few rare answers
(to a group, an edited message, a sticker) and files pushed to a user (nudges carry none), and makes
them on this session too (bot/transport.py).
Errors are PTB's exceptions (Forbidden for a 403, BadRequest, RetryAfter, Conflict for a 409,
InvalidToken for a 401, NetworkError for a fault or a 5xx), so the code that handles them is the
same whichever way a call went."""

from __future__ import annotations

import json
import logging
from typing import Any

import aiohttp
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError

from bot.budget import MESSAGES, Budget
from bot.metrics import RETRIES, SENT

log = logging.getLogger(__name__)


class BotApi:
    def __init__(self, base_url: str, budget: Budget | None = None, *, retries: int = 3) -> None:
        self.base_url = base_url.rstrip("/")
        self.budget = budget
        self.retries = retries
        self._http: aiohttp.ClientSession | None = None

    async def call(
        self,
        method: str,
        data: dict[str, Any],
        *,
        paced: bool = False,
        kind: str = "reply",
        files: dict[str, tuple[str, bytes]] | None = None,
    ) -> Any:
        """Call ``method``; a message takes its place in the budget, and in its chat's limit, first (unless
        ``paced``: the nudge pacer took both). A 429 holds the budget for as long as Telegram says, then tries again.
        ``files``: field -> (file name, content), sent as multipart form data (sendDocument, sendPhoto)."""
        counted = self.budget is not None and method in MESSAGES and not paced
        chat = data.get("chat_id")  # a message to one chat: its place in that chat's limit too
        for attempt in range(self.retries + 1):
            if counted and self.budget is not None:
                await self.budget.take(reply=True, chat=chat)
            try:
                answer = await self._post(method, data, files=files)
            finally:
                if counted and self.budget is not None:
                    self.budget.done(chat)
            if answer.get("ok"):
                if method in MESSAGES:
                    SENT.labels(kind).inc()
                return answer.get("result")
            error = _error(answer)
            if not isinstance(error, RetryAfter) or attempt == self.retries or paced:
                raise error
            RETRIES.labels("429").inc()
            if self.budget is not None:
                self.budget.hold(float(answer.get("parameters", {}).get("retry_after", 1)))
        raise AssertionError("unreachable")

    async def request(self, method: str, data: dict[str, Any], *, timeout: float | None = None) -> Any:
        """Call a method that is not a message (getUpdates, deleteWebhook): its result, or its error
        raised as PTB's; ``timeout``: seconds for the whole call (a long poll's is longer)."""
        answer = await self._post(method, data, timeout)
        if answer.get("ok"):
            return answer.get("result")
        raise _error(answer)

    async def _post(
        self,
        method: str,
        data: dict[str, Any],
        timeout: float | None = None,
        files: dict[str, tuple[str, bytes]] | None = None,
    ) -> dict[str, Any]:
        extra: dict[str, Any] = {} if timeout is None else {"timeout": aiohttp.ClientTimeout(total=timeout)}
        if files is None:
            extra["json"] = data
        else:
            extra["data"] = _form(data, files)
        try:
            async with self.session().post(f"{self.base_url}/{method}", **extra) as response:
                answer: dict[str, Any] = await response.json(content_type=None)
                return answer if isinstance(answer, dict) else {}
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise NetworkError(f"{method}: {exc.__class__.__name__}") from None

    def session(self) -> aiohttp.ClientSession:
        """The one session, opened on first use: this class's calls and PTB's own (bot/transport.py)."""
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None


def _form(data: dict[str, Any], files: dict[str, tuple[str, bytes]]) -> aiohttp.FormData:
    """The call as multipart form data: each parameter a field (objects as JSON), each file a part."""
    form = aiohttp.FormData()
    for key, value in data.items():
        form.add_field(key, value if isinstance(value, str) else json.dumps(value))
    for key, (filename, content) in files.items():
        form.add_field(key, content, filename=filename, content_type="application/octet-stream")
    return form


def _error(answer: dict[str, Any]) -> TelegramError:
    code, text = answer.get("error_code"), str(answer.get("description", ""))[:200]
    if code == 429:
        return RetryAfter(int(answer.get("parameters", {}).get("retry_after", 1)))
    if code == 403:
        return Forbidden(text or "Forbidden")
    if code == 400:
        return BadRequest(text or "Bad Request")
    if code == 401:
        return InvalidToken(text or "Unauthorized")
    if code == 409:
        return Conflict(text or "Conflict")
    if isinstance(code, int) and code < 500:
        return TelegramError(f"{code} {text}")
    return NetworkError(f"Bot API answered {code or 'something that is not JSON'}")
