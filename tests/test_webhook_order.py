"""Webhook deliveries that arrive side by side, or out of order (at one instance or two sharing
PostgreSQL), are still handled in update order per user; setWebhook asks for a few connections."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr
from sqlalchemy import event, select
from telegram.error import NetworkError

from bot import inbox_store
from bot.db import create_engine
from bot.service import Service
from bot.settings import Settings
from flows.core.crypto import Cipher
from flows.store.models import InboxUpdate, Instance, Reflection
from tests.conftest import TEST_KEY
from tests.fakebot import FakeTelegram
from tests.test_e2e import ALICE, Bot, make_settings
from tests.test_e2e_faults import ANSWERS, SECRET, extras_shown, free_port, rows


def webhook_settings(fake: FakeTelegram, database_url: str, tmp_path: Path) -> tuple[Settings, int]:
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
    return settings, port


async def webhook_service(fake: FakeTelegram, database_url: str, tmp_path: Path) -> tuple[Service, int]:
    settings, port = webhook_settings(fake, database_url, tmp_path)
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
async def test_a_webhook_update_stored_here_is_claimed_in_turn_without_reading_the_inbox_first(
    fake: FakeTelegram, database_url: str, tmp_path: Path
) -> None:
    """Shared inbox (webhook on PostgreSQL): each update stored here is handled with one statement on the
    inbox besides its INSERT, the claim, which checks that none of the user's earlier updates is unhandled
    (was: a read of the user's earliest unhandled update before each one as well)."""
    service, port = await webhook_service(fake, database_url, tmp_path)
    for task in service._tasks:
        if task.get_name() == "inbox-rescan":  # (its look every 5 s for updates left behind reads the inbox)
            task.cancel()
    inbox: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "inbox" in statement:
            inbox.append(" ".join(statement.split()))

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
    kinds = sorted(" ".join(s.split(" ")[:3]) for s in inbox)
    assert kinds == ["INSERT INTO inbox"] * 3 + ["WITH claimed AS"] * 3, inbox


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_a_users_earlier_update_another_instance_stored_is_handled_first(
    fake: FakeTelegram, database_url: str, tmp_path: Path
) -> None:
    """An update stored here whose user has an earlier one unhandled in the shared inbox, stored by another
    instance that has not handled it: the claim refuses the later one, so this instance reads the earlier
    one, handles it, then the later one; each is handled once."""
    service, port = await webhook_service(fake, database_url, tmp_path)
    runtime = service.app.bot_data["runtime"]
    http = aiohttp.ClientSession()
    try:
        await post(http, port, {"update_id": 1, "message": fake._message(ALICE, "/start")})
        await fake.wait_for(ALICE, 1)
        other = {"update_id": 2, "message": fake._message(ALICE, "/privacy")}  # another instance stored it
        batch = inbox_store.sort([other], datetime.now(UTC), service.app.bot, runtime.coach.cipher)
        assert len(await inbox_store.store(runtime.coach, batch)) == 1
        await post(http, port, {"update_id": 3, "message": fake._message(ALICE, "/help")})
        assert service.pump is not None
        await service.pump.idle()
        await fake.settle(0.3)
        async with runtime.coach.sessionmaker() as db:
            unhandled = (await db.execute(select(InboxUpdate.update_id).where(InboxUpdate.done_at.is_(None)))).all()
    finally:
        await http.close()
        await service.stop()
    assert unhandled == []
    shown = [s.text[:30] for s in fake.to(ALICE)]
    privacy = [i for i, text in enumerate(shown) if text.startswith("<b>What I store about you")]
    help_ = [i for i, text in enumerate(shown) if text.startswith("<b>What I can do")]
    assert len(privacy) == len(help_) == 1 and privacy[0] < help_[0], shown


async def test_a_start_that_fails_at_its_last_step_stops_what_it_had_started(
    fake: FakeTelegram, database_url: str, tmp_path: Path
) -> None:
    """setWebhook refused, after the heartbeat, the inbox rescan and the scheduler had started: all of them
    stop, and the instance gives back its share of the budget as at a clean stop."""
    fake.fail_next["setWebhook"] = 1
    service = Service(webhook_settings(fake, database_url, tmp_path)[0])
    with pytest.raises(NetworkError):
        await service.start()
    assert service._tasks and all(task.done() for task in service._tasks)
    assert service.scheduler is not None and not service.scheduler._scheduler.running
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            held = (await conn.execute(select(Instance.share, Instance.seen_at))).all()
    finally:
        await engine.dispose()
    assert [(share, seen.year) for share, seen in held] == [(0, 2000)]  # (gone, as at a clean stop)
