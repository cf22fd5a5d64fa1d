"""Telegram's limit per chat: a short burst, then about a message a second. A reply of a few messages
goes at once, a fast tapper's further replies a second apart, and a nudge waits for the chat's burst to
be whole again (replies first); a fake that enforces the limit answers none of it 429."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from telegram.error import RetryAfter

from bot import budget
from bot.botapi import BotApi
from bot.budget import CHAT_BURST, MESSAGES, Budget, Chats
from bot.pacing import Pacer
from tests.fakebot import FakeTelegram
from tests.test_e2e import ALICE, Bot, make_settings, onboard, start_app, stop_app
from tests.test_nudges_e2e import due_at

KEYBOARD = {"inline_keyboard": [[{"text": "Yes", "callback_data": "y"}]]}


@pytest.fixture(autouse=True)
def _telegrams_chat_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """The production limit per chat (tests elsewhere lift it: their scripted users write in milliseconds)."""
    monkeypatch.setattr(budget, "CHAT_RATE", 1.0)
    monkeypatch.delenv("LEADCOACH_TELEGRAM_CHAT_RATE")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_goes_at_once_then_a_message_a_second() -> None:
    clock = Clock()
    chats = Chats(burst=3, rate=1.0, clock=clock)
    for _ in range(3):  # a reply of three messages: none waits
        assert chats.wait("7") == 0
        chats.flying["7"] = chats.flying.get("7", 0) + 1
    assert chats.wait("7") is None  # three in flight: a fourth waits for an answer
    for _ in range(3):
        chats.done("7")
    assert chats.wait("7") == pytest.approx(1.0)  # answered just now: the next in a second
    assert chats.wait("8") == 0  # another chat is not held back
    clock.now += 1.0
    assert chats.wait("7") == 0
    clock.now += 2.0
    assert chats.wait("7", need=3) == 0  # three seconds later the burst is whole again


def test_a_nudge_needs_the_whole_burst_a_reply_one_place() -> None:
    clock = Clock()
    chats = Chats(burst=3, rate=1.0, clock=clock)
    chats.flying["7"] = 1
    chats.done("7")  # a reply just answered
    assert chats.wait("7", need=1) == 0  # a reply goes at once
    assert chats.wait("7", need=3) == pytest.approx(1.0)  # a nudge waits for the burst to be whole
    chats.flying["7"] = 1  # a reply in flight
    clock.now += 5.0
    assert chats.wait("7", need=3) is None  # ... until it is answered
    assert chats.wait("7", need=2) == 0


async def test_a_nudge_waits_its_patience_at_most() -> None:
    chats = Chats(burst=3, rate=1.0, patience=0.2)
    chats.flying["7"] = 1  # a reply in flight all along: the whole burst never comes back
    await asyncio.wait_for(chats.take("7", reply=False), 5)
    assert chats.flying["7"] == 2


async def test_a_place_not_used_is_given_back_and_idle_chats_forgotten() -> None:
    clock = Clock()
    chats = Chats(burst=3, rate=1.0, clock=clock)
    await chats.take("7")
    chats.done("7", sent=False)  # never went: nothing counted
    assert chats.wait("7", need=3) == 0 and "7" not in chats.flying
    for chat in range(300):
        await chats.take(str(chat))
        chats.done(str(chat))
    clock.now += 10.0
    for _ in range(256):
        await chats.take("x")
        chats.done("x")
        clock.now += 1.0
    assert set(chats.full_at) == {"x"}


async def test_the_fake_takes_a_burst_then_a_message_a_second_per_chat() -> None:
    fake = FakeTelegram(chat_limit_per_second=1, chat_burst=3)
    await fake.start()
    api = BotApi(f"{fake.api_url}{fake.token}", retries=0)
    try:
        for _ in range(3):
            await api.call("sendMessage", {"chat_id": 5, "text": "hi"})
        with pytest.raises(RetryAfter):
            await api.call("sendMessage", {"chat_id": 5, "text": "one too many"})
        await api.call("sendMessage", {"chat_id": 6, "text": "another chat"})
        await asyncio.sleep(1.05)
        await api.call("sendMessage", {"chat_id": 5, "text": "a second later"})
    finally:
        await api.close()
        await fake.stop()
    assert len([r for r in fake.rejected if r[1] == 429]) == 1


async def test_replies_and_nudges_to_one_chat_at_once_stay_within_its_limit_replies_first() -> None:
    """Three replies (a summary, a chart, a prompt) on their way to a user as three nudges for them come
    due, through the one send path and the nudge pacer: no 429 from a fake that takes a burst of 3
    and then one a second per chat; the replies go at once, the nudges after them, a second apart."""
    fake = FakeTelegram(rate_limit_per_second=30, chat_limit_per_second=1, chat_burst=CHAT_BURST)
    await fake.start()
    shared = Budget()
    api = BotApi(f"{fake.api_url}{fake.token}", shared)
    pacer = Pacer(20, budget=shared)

    async def reply(n: int) -> None:
        await api.call("sendMessage", {"chat_id": 42, "text": f"reply {n}"})

    async def nudge(n: int) -> None:
        await pacer.wait()
        await pacer.admit(42)
        try:
            await api.call("sendMessage", {"chat_id": 42, "text": f"nudge {n}"}, paced=True, kind="nudge")
        finally:
            pacer.answered(42)

    try:
        await asyncio.wait_for(asyncio.gather(*(reply(n) for n in range(3)), *(nudge(n) for n in range(3))), 30)
    finally:
        await api.close()
        await fake.stop()
    assert [r for r in fake.rejected if r[1] == 429] == []
    texts = [s.text for s in fake.to(42)]
    assert sorted(texts[:3]) == ["reply 0", "reply 1", "reply 2"] and len(texts) == 6
    times = [t for t, chat in fake.accepted if chat == 42]
    assert times[2] - times[0] < 1.0  # the replies were not spaced out


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # Telegram's side: any database will do
async def test_a_fast_tapper_gets_every_reply_and_no_429(fake: FakeTelegram, database_url: str, tmp_path: Path) -> None:
    """Eight messages from one user at once: the first three replies go together, the rest a second
    apart, none refused by a fake enforcing Telegram's per-chat limit, and none later than it needs."""
    service = await start_app(make_settings(fake, database_url, tmp_path))
    try:
        await onboard(Bot(fake, service.settings, service))
        await asyncio.sleep(CHAT_BURST)  # the chat's burst whole again after onboarding
        fake.chat_limit_per_second, fake.chat_burst, fake.rate_limit_per_second = 1, CHAT_BURST, 30
        start = len(fake.accepted)
        await fake.push_batch([{"message": fake._message(ALICE, "/help")} for _ in range(8)])
        await fake.wait_for(ALICE, 8, timeout=30)
    finally:
        await stop_app(service)
    assert [r for r in fake.rejected if r[1] == 429] == []
    times = [t for t, chat in fake.accepted[start:] if chat == ALICE]
    assert len(times) == 8
    for i, t in enumerate(times):  # a burst of three, then one a second: no later than that (and slack)
        assert t - times[0] <= max(0, i - CHAT_BURST + 1) + 1.5, [round(x - times[0], 2) for x in times]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_due_nudge_and_a_burst_of_replies_to_one_user_get_no_429(
    fake: FakeTelegram, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dispatcher of a running service sends a user's nudge while the user is writing fast: the
    nudge and every reply arrive, none refused by a fake enforcing the per-chat limit."""
    settings = make_settings(fake, database_url, tmp_path).model_copy(update={"nudge_interval": 0})
    service = await start_app(settings)
    try:
        await onboard(Bot(fake, settings, service))
        assert service.scheduler is not None
        when = await due_at(settings)
        fake.chat_limit_per_second, fake.chat_burst, fake.rate_limit_per_second = 1, CHAT_BURST, 30
        await fake.push_batch([{"message": fake._message(ALICE, "/help")} for _ in range(4)])
        result = await service.scheduler.dispatcher.run_once(at=when + timedelta(minutes=1))
        await fake.wait_for(ALICE, 5, timeout=30)
    finally:
        await stop_app(service)
    assert result.sent == 1
    assert [r for r in fake.rejected if r[1] == 429] == []


async def test_an_edit_takes_a_place_in_the_chat_a_button_answer_does_not(fake: FakeTelegram) -> None:
    """An edit is a message to the chat for Telegram's limits (the bot-wide budget counts it too); an
    answer to a button press is shown in no chat, and is never held back for one."""
    assert "answerCallbackQuery" not in MESSAGES and {"editMessageText", "editMessageReplyMarkup"} <= MESSAGES
    shared = Budget()
    api = BotApi(f"{fake.api_url}{fake.token}", shared)
    try:
        sent = await api.call("sendMessage", {"chat_id": 42, "text": "a question", "reply_markup": KEYBOARD})
        counted = shared.chats.full_at["42"]
        await api.call("answerCallbackQuery", {"callback_query_id": "1"})
        assert shared.chats.full_at["42"] == counted and not shared.chats.flying
        await api.call("editMessageReplyMarkup", {"chat_id": 42, "message_id": sent["message_id"]})
        assert shared.chats.full_at["42"] >= counted + 1.0
    finally:
        await api.close()
