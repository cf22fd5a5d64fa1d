"""One HTTP stack: the long poll (getUpdates, deleteWebhook) and files leave through the aiohttp session
replies use, with the Bot API's errors raised as PTB's, and polling still never stops."""

from __future__ import annotations

import asyncio
import logging
from typing import cast

import pytest
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter

from bot import polling
from bot.botapi import BotApi, _error
from bot.early import FirstPoll
from tests.test_e2e import ALICE, Bot


def _agents(bot: Bot, method: str) -> set[str]:
    return bot.fake.agents.get(method, set())


async def test_get_updates_goes_over_the_session_replies_use(bot: Bot) -> None:
    await bot.say(ALICE, "/help")
    polled, sent = _agents(bot, "getUpdates"), _agents(bot, "sendMessage")
    assert polled and sent
    assert all("aiohttp" in agent for agent in polled | sent), (polled, sent)
    assert polled == sent
    assert all("aiohttp" in agent for agent in _agents(bot, "deleteWebhook"))


async def test_files_go_over_the_session_replies_use(bot: Bot) -> None:
    export = await bot.say(ALICE, "/export", replies=2)
    assert export[-1].method == "sendDocument" and export[-1].filename == "leadcoach-export.json"
    assert export[-1].document
    assert _agents(bot, "sendDocument") == _agents(bot, "sendMessage")
    assert all("aiohttp" in agent for agent in _agents(bot, "sendDocument"))


async def test_ptbs_own_calls_go_over_the_session_replies_use(bot: Bot) -> None:
    """getMe and setMyCommands at start, and a reply PTB sends itself (to a sticker), take the same session
    as replies (bot/transport.py): one HTTP stack, no httpx client."""
    await bot.say(ALICE, "/help")
    await bot.fake.send_sticker(ALICE)
    await bot.fake.wait_for(ALICE, 1)
    sent = _agents(bot, "sendMessage")
    assert len(sent) == 1 and "aiohttp" in next(iter(sent)), sent
    assert _agents(bot, "getMe") == _agents(bot, "setMyCommands") == sent


async def test_ptbs_uploads_and_errors_over_the_session(bot: Bot) -> None:
    """A file PTB uploads itself is multipart on the session; a refusal and a bad gateway are PTB's errors,
    as before."""
    assert bot.service is not None
    ptb = bot.service.app.bot
    await ptb.send_document(ALICE, document=b'{"a": 1}', filename="a.json", caption="<b>x</b>", parse_mode="HTML")
    document = bot.fake.to(ALICE)[-1]
    assert (document.method, document.filename, document.document) == ("sendDocument", "a.json", b'{"a": 1}')
    assert "aiohttp" in next(iter(_agents(bot, "sendDocument")))
    bot.fake.blocked.add(ALICE)
    with pytest.raises(Forbidden):
        await ptb.send_message(ALICE, "hello")
    bot.fake.blocked.discard(ALICE)
    bot.fake.fail_next["sendMessage"] = 1
    with pytest.raises(NetworkError):
        await ptb.send_message(ALICE, "hello")


async def test_polling_rides_out_a_conflict_and_bad_gateways(
    bot: Bot, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(polling, "CONFLICT_WAIT", 0.05)
    bot.fake.conflict_next = 2  # the next getUpdates calls after the one in flight: two 502s, two 409s
    bot.fake.fail_next["getUpdates"] = 2
    await bot.say(ALICE, "/help")
    answer = await bot.say(ALICE, "/privacy")
    assert "store" in answer[0].text.lower()
    messages = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert sum("another process is polling" in m for m in messages) == 2
    assert sum("getUpdates" in m and "NetworkError" in m for m in messages) == 2


def test_bot_api_errors_are_ptbs() -> None:
    def error(code: int, **extra: object) -> object:
        return _error({"ok": False, "error_code": code, "description": "x", **extra})

    assert isinstance(error(409), Conflict)
    assert isinstance(error(401), InvalidToken)
    assert isinstance(error(403), Forbidden)
    assert isinstance(error(400), BadRequest)
    assert isinstance(error(429, parameters={"retry_after": 3}), RetryAfter)
    assert isinstance(error(502), NetworkError)


async def test_polling_goes_on_when_the_first_getupdates_fails_in_any_way() -> None:
    """The getUpdates sent at start (bot/early.py) failing with anything at all: polling asks again."""

    class Broken:
        async def batch(self) -> list[object]:
            raise RuntimeError("not an error aiohttp raises")

    class Api:
        def __init__(self) -> None:
            self.calls: list[str] = []
            self.asked = asyncio.Event()

        async def request(self, method: str, data: dict[str, object], *, timeout: float | None = None) -> object:
            self.calls.append(method)
            if method == "getUpdates":
                self.asked.set()
            await asyncio.sleep(0.01)  # (a long poll with nothing to say)
            return []

    async def receive(raw: object) -> None:
        raise AssertionError("nothing to receive")

    api = Api()
    task = asyncio.create_task(polling.poll(cast(BotApi, api), receive, timeout=0, first=cast(FirstPoll, Broken())))
    try:
        await asyncio.wait_for(api.asked.wait(), 5)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert api.calls[:2] == ["deleteWebhook", "getUpdates"]
