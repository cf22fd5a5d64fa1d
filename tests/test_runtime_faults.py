"""The runtime never stops: polling survives a database outage (real PostgreSQL, behind a proxy that is
taken down), a table briefly missing, and updates it cannot parse or store (kept aside, encrypted, and
confirmed); a 403 mid-flow leaves the step unshown."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, make_url, select, text

from bot.db import create_engine, sessionmaker
from flows.core.crypto import Cipher
from flows.store.models import DeadLetter, InboxUpdate
from tests.conftest import TEST_KEY
from tests.fakebot import FakeTelegram
from tests.tcpproxy import Proxy
from tests.test_e2e import ALICE, Bot, make_settings, onboard, start_app, stop_app
from tests.test_e2e_faults import ANSWERS, rows


async def _count(url: str, model: type) -> int:
    engine = create_engine(url)
    try:
        async with sessionmaker(engine)() as db:
            return int(await db.scalar(select(func.count()).select_from(model)) or 0)
    finally:
        await engine.dispose()


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_polling_rides_out_a_postgres_outage(
    fake: FakeTelegram, database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    real = make_url(database_url)
    proxy = Proxy(real.port or 5432)
    await proxy.up()
    url = real.set(port=proxy.port).render_as_string(hide_password=False)
    service = await start_app(make_settings(fake, url, tmp_path))
    bot = Bot(fake, make_settings(fake, database_url, tmp_path), service)
    try:
        await bot.say(ALICE, "/help")
        await proxy.down()
        await fake.send_text(ALICE, "/privacy")  # arrives while the database is unreachable
        await asyncio.sleep(4)
        assert fake.to(ALICE)[-1:] and "What I store" not in fake.to(ALICE)[-1].text
        await proxy.up()
        answer = await fake.wait_for(ALICE, 1, timeout=30)
        assert "store" in answer[0].text.lower()
        assert "What I can do" not in answer[0].text  # the update held during the outage, once
        await bot.say(ALICE, "/help")  # and polling carries on
        assert any(r.levelno >= logging.WARNING and "failed" in r.getMessage() for r in caplog.records)
    finally:
        await stop_app(service)
        await proxy.down()


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_polling_rides_out_a_table_briefly_missing(fake: FakeTelegram, database_url: str, tmp_path: Path) -> None:
    settings = make_settings(fake, database_url, tmp_path)
    service = await start_app(settings)
    bot = Bot(fake, settings, service)
    admin = create_engine(database_url)
    try:
        await bot.say(ALICE, "/help")
        async with admin.begin() as conn:
            await conn.execute(text("ALTER TABLE inbox RENAME TO inbox_away"))
        await fake.send_text(ALICE, "/privacy")
        await asyncio.sleep(3)
        async with admin.begin() as conn:
            await conn.execute(text("ALTER TABLE inbox_away RENAME TO inbox"))
        await fake.wait_for(ALICE, 1, timeout=30)
        await bot.say(ALICE, "/help")
    finally:
        await stop_app(service)
        await admin.dispose()


async def test_updates_that_cannot_be_parsed_or_stored_are_kept_aside(bot: Bot) -> None:
    fake = bot.fake
    await fake.push({"poll": {"id": "p1"}})  # a poll without its question or options
    await fake.push({"message": "a string, not a message"})
    await bot.say(ALICE, "/help")  # the queue is not blocked behind them
    await fake.push({"message": fake._message(ALICE, "/privacy")}, update_id=2**63 + 5)  # beyond a BIGINT
    for _ in range(100):
        if await _count(bot.settings.effective_database_url, DeadLetter) == 3 and not fake.updates:
            break
        await asyncio.sleep(0.1)
    letters = await rows(bot.settings, DeadLetter)
    assert len(letters) == 3 and not fake.updates  # kept aside, and confirmed to Telegram
    assert b"a string" not in letters[1].payload_enc  # encrypted
    assert "a string" in Cipher(TEST_KEY).decrypt_text(letters[1].payload_enc)
    assert len(await rows(bot.settings, InboxUpdate)) == 1


async def test_a_403_mid_flow_leaves_the_step_unshown(bot: Bot) -> None:
    await onboard(bot)
    await bot.say(ALICE, "/reflect")
    await bot.tap(ALICE, "Suggested", replies=2)
    assert "2/3" in (await bot.say(ALICE, ANSWERS[0]))[0].text
    bot.fake.blocked.add(ALICE)  # they block the bot: the prompt for 3/3 is refused (403)
    await bot.fake.send_text(ALICE, ANSWERS[1])
    await bot.fake.settle(0.5)
    bot.fake.blocked.discard(ALICE)  # and unblock it, and write
    again = await bot.say(ALICE, "Sorry, where were we?", replies=2)
    assert "3/3" in again[-1].text
    await bot.say(ALICE, ANSWERS[2])
    assert "rate yourself" in bot.fake.to(ALICE)[-1].text.lower()


async def test_a_database_error_never_carries_its_parameters(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text("INSERT INTO users (channel, external_id, first_name) VALUES ('telegram', :id, :name)"),
                {"id": "77123456", "name": "Zebedee"},  # no created_at: refused
            )
    except Exception as exc:
        logging.getLogger("leadcoach").error("error while handling an update", exc_info=exc)
    finally:
        await engine.dispose()
    logged = caplog.text
    assert "error while handling" in logged and "IntegrityError" in logged
    assert "Zebedee" not in logged and "77123456" not in logged


async def test_a_button_press_is_answered_while_its_reply_goes_out(bot: Bot) -> None:
    await bot.say(ALICE, "/start")
    bot.fake.slow["answerCallbackQuery"] = 0.3
    await bot.tap(ALICE, "Use the defaults")
    await bot.fake.settle(0.4)
    timeline = bot.fake.timeline
    start = max(i for i, step in enumerate(timeline) if step == ("answerCallbackQuery", "start"))
    end = timeline.index(("answerCallbackQuery", "end"), start)
    meanwhile = {method for method, at in timeline[start:end] if at == "start"}
    assert meanwhile & {"sendMessage", "editMessageText", "editMessageReplyMarkup"}, timeline[start:]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_polling_rides_out_an_outside_sqlite_lock(
    bot: Bot, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Another process holding SQLite's write lock past the busy timeout: storing fails with
    "database is locked" (here, three times running); polling waits and stores the batch after."""
    import sqlite3

    from bot.inbox import Pump

    store, failures = Pump.store, [3]

    async def locked(self: Pump, batch: Any) -> Any:
        if failures[0] > 0:
            failures[0] -= 1
            raise sqlite3.OperationalError("database is locked")
        return await store(self, batch)

    await bot.say(ALICE, "/help")
    monkeypatch.setattr(Pump, "store", locked)
    answer = await bot.say(ALICE, "/privacy")
    assert "store" in answer[0].text.lower() and failures == [0]
    assert sum(1 for r in caplog.records if r.levelno >= logging.WARNING and "getUpdates" in r.getMessage()) == 3


async def test_a_stored_update_that_cannot_be_read_back_is_kept_aside(
    fake: FakeTelegram, database_url: str, tmp_path: Path
) -> None:
    """A row in the inbox that no key opens (a key changed without rotation): it goes to dead_letters
    at start, and the user's later updates are handled."""
    from datetime import UTC, datetime

    from sqlalchemy import insert

    from bot.runtime import open_runtime

    settings = make_settings(fake, database_url, tmp_path)
    runtime = await open_runtime(settings)
    stranger = Cipher(Cipher.generate_key()).encrypt_json({"update_id": 1000})
    async with runtime.coach.transaction() as db:
        row = {"channel": "telegram", "update_id": 1000, "user_key": str(ALICE), "payload_enc": stranger}
        await db.execute(insert(InboxUpdate), [{**row, "received_at": datetime.now(UTC)}])
    await runtime.close()
    service = await start_app(settings)
    bot = Bot(fake, settings, service)
    try:
        await bot.say(ALICE, "/help")
        await bot.say(ALICE, "/privacy")
    finally:
        await stop_app(service)
    letters = await rows(settings, DeadLetter)
    assert [d.update_id for d in letters] == ["1000"] and letters[0].payload_enc == stranger
    assert all(i.done_at is not None for i in await rows(settings, InboxUpdate))
