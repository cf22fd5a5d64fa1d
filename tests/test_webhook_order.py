"""Webhook deliveries that arrive side by side, or out of order (at one instance or two sharing
PostgreSQL), are still handled in update order per user; setWebhook asks for a few connections."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr
from sqlalchemy import event

from bot.service import Service
from flows.core.crypto import Cipher
from flows.store.models import Reflection
from tests.conftest import TEST_KEY
from tests.fakebot import FakeTelegram
from tests.test_e2e import ALICE, Bot, make_settings
from tests.test_e2e_faults import ANSWERS, SECRET, extras_shown, free_port, rows


async def webhook_service(fake: FakeTelegram, database_url: str, tmp_path: Path) -> tuple[Service, int]:
    port = free_port()
    settings = make_settings(fake, database_url, tmp_path).model_copy(
        update={
            "webhook_url": f"http://127.0.0.1:{port}/hook",
            "webhook_secret": SecretStr(SECRET),
            "webhook_listen": "127.0.0.1",
            "webhook_port": port,
            "nudge_interval": 0,
        }
    )
    service = Service(settings)
    await service.start()
    return service, port


async def post(http: aiohttp.ClientSession, port: int, body: dict[str, Any]) -> None:
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    async with http.post(f"http://127.0.0.1:{port}/hook", json=body, headers=headers) as r:
        assert r.status == 200


@pytest.mark.parametrize("instances", [1, 2])
async def test_answers_delivered_out_of_order_are_stored_in_order(
    fake: FakeTelegram, database_url: str, tmp_path: Path, instances: int
) -> None:
    if instances == 2 and "sqlite" in database_url:
        pytest.skip("two instances share PostgreSQL")
    services = [await webhook_service(fake, database_url, tmp_path) for _ in range(instances)]
    ports = [port for _, port in services]
    bot = Bot(fake, services[0][0].settings)
    http = aiohttp.ClientSession()
    ids = iter(range(1, 10_000))

    async def say(text: str, port: int, replies: int = 1) -> None:
        await post(http, port, {"update_id": next(ids), "message": fake._message(ALICE, text)})
        await fake.wait_for(ALICE, replies)

    async def tap(label: str, replies: int = 1) -> None:
        message, data = bot.button(ALICE, label)
        await post(http, ports[0], {"update_id": next(ids), **fake._callback(ALICE, data, message)})
        await fake.wait_for(ALICE, replies)

    try:
        assert int(fake.webhook["max_connections"]) == 8
        await say("/start", ports[0])
        await tap("Use the defaults")
        await say("/reflect", ports[0])
        await tap("Suggested", replies=2)
        first, second = next(ids), next(ids)
        # The second answer arrives first (at the other instance, if there are two), the first 20 ms later.
        later = {"update_id": second, "message": fake._message(ALICE, ANSWERS[1])}
        sooner = {"update_id": first, "message": fake._message(ALICE, ANSWERS[0])}
        await post(http, ports[-1], later)
        await asyncio.sleep(0.02)
        await post(http, ports[0], sooner)
        await fake.wait_for(ALICE, 2)
        await say(ANSWERS[2], ports[0])
        await tap("Skip")
        await tap("Skip")
        if extras_shown(fake):
            await tap("Done")
        await tap("Save")
        saved = await rows(bot.settings, Reflection)
        assert [a["answer"] for a in Cipher(TEST_KEY).decrypt_json(saved[0].answers_enc)] == ANSWERS
    finally:
        await http.close()
        for service, _ in services:
            await service.stop()


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_a_webhook_update_stored_here_asks_the_shared_inbox_once(
    fake: FakeTelegram, database_url: str, tmp_path: Path
) -> None:
    """Shared inbox (webhook on PostgreSQL): before handling, the worker asks which is the user's earliest
    unhandled update (another instance may have stored one); once its queue is empty it stops without
    asking again (was: once more an update)."""
    service, port = await webhook_service(fake, database_url, tmp_path)
    for task in service._tasks:
        if task.get_name() == "inbox-rescan":  # (its look every 5 s for updates left behind asks too)
            task.cancel()
    asked: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "FROM inbox" in statement and "inbox.user_key" in statement:
            asked.append(statement)

    runtime = service.app.bot_data["runtime"]
    http = aiohttp.ClientSession()
    try:
        await post(http, port, {"update_id": 1, "message": fake._message(ALICE, "/start")})
        await fake.wait_for(ALICE, 1)
        event.listen(runtime.db.sync_engine, "before_cursor_execute", seen)
        for n, text in enumerate(["/help", "/privacy", "/menu"], start=2):
            await post(http, port, {"update_id": n, "message": fake._message(ALICE, text)})
            await fake.wait_for(ALICE, 1)
        assert service.pump is not None
        await service.pump.idle()
    finally:
        event.remove(runtime.db.sync_engine, "before_cursor_execute", seen)
        await http.close()
        await service.stop()
    assert len(asked) == 3, asked
