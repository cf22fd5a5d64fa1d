"""python-telegram-bot's own calls over the one HTTP stack: a ``BaseRequest`` on the aiohttp session that
replies, button answers, nudges and getUpdates use (bot/botapi.py). PTB makes few calls of its own (getMe,
setMyCommands and setWebhook at start; an answer to a group, an edited message or a sticker; a file in a
nudge), but without this it kept two httpx clients (about 65 ms to build at start) and a second
connection pool to Telegram. Its messages still take their place in the shared budget: the Application's
rate limiter is the budget's (bot/budget.py)."""

from __future__ import annotations

from typing import Any

import aiohttp
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

from bot.botapi import BotApi

CONNECT, READ, WRITE, MEDIA_WRITE = 5.0, 5.0, 5.0, 20.0  # seconds: HTTPXRequest's defaults


class SessionRequest(BaseRequest):
    """Each call PTB makes, sent on ``api``'s session (opened on first use, closed by ``api``)."""

    def __init__(self, api: BotApi) -> None:
        self.api = api

    @property
    def read_timeout(self) -> float:
        return READ

    async def initialize(self) -> None:
        """Nothing to open: the session is the BotApi's."""

    async def shutdown(self) -> None:
        """Nothing to close: the BotApi closes its session."""

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        files = request_data.multipart_data if request_data is not None else {}
        read = _given(read_timeout, READ)
        write = _given(write_timeout, MEDIA_WRITE if files else WRITE)
        # aiohttp has no write timeout of its own: the whole call may take as long as writing and reading
        timeout = aiohttp.ClientTimeout(
            total=None if read is None or write is None else read + write,
            sock_connect=_given(connect_timeout, CONNECT),
            sock_read=read,
        )
        try:
            async with self.api.session().request(
                method, url, data=_body(request_data, files), timeout=timeout
            ) as response:
                return response.status, await response.read()
        except TimeoutError as exc:
            raise TimedOut from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{exc.__class__.__name__}: {exc}") from exc


def _given(value: Any, default: float) -> float | None:
    return default if isinstance(value, type(BaseRequest.DEFAULT_NONE)) else value


def _body(request_data: RequestData | None, files: dict[str, Any]) -> aiohttp.FormData | dict[str, str] | None:
    """The parameters as a form (PTB encodes each as JSON), with any files as multipart parts."""
    if request_data is None:
        return None
    if not files:
        return request_data.json_parameters
    form = aiohttp.FormData()
    for name, value in request_data.json_parameters.items():
        form.add_field(name, value)
    for name, (filename, content, mimetype) in files.items():
        form.add_field(name, content, filename=filename, content_type=mimetype)
    return form
