"""End to end: the real python-telegram-bot Application over HTTP against a fake Bot API server."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

from bot.db import create_engine, sessionmaker
from bot.service import Service
from bot.settings import Settings
from flows.core.texts import ALREADY_ERASED
from flows.store.models import ConversationSession, InboxUpdate, Reflection, User
from tests.conftest import TEST_KEY
from tests.fakebot import FakeTelegram, Sent

ALICE, BOB = 1001, 1002
ROOT = Path(__file__).resolve().parents[1]


def make_settings(fake: FakeTelegram, database_url: str, data_dir: Path) -> Settings:
    return Settings(
        _env_file=None,
        telegram_token=fake.token,
        telegram_api_url=fake.api_url,
        telegram_file_url=fake.file_url,
        database_url=database_url,
        data_dir=data_dir,
        encryption_key=TEST_KEY,
    )


async def start_app(settings: Settings) -> Service:
    service = Service(settings)
    await service.start(poll_timeout=1)
    return service


async def stop_app(service: Service) -> None:
    await service.stop()


@dataclass
class Bot:
    fake: FakeTelegram
    settings: Settings
    service: Service | None = None

    async def say(self, user: int, text: str, replies: int = 1) -> list[Sent]:
        await self.fake.send_text(user, text)
        return await self.fake.wait_for(user, replies)

    async def tap(self, user: int, label: str, replies: int = 1, *, on: Sent | None = None) -> list[Sent]:
        """Tap a button by its label: on the newest message showing it, or on the given message."""
        message, data = self.button(user, label, on=on)
        await self.fake.click(user, data, message)
        return await self.fake.wait_for(user, replies) if replies else []

    def button(self, user: int, label: str, *, on: Sent | None = None) -> tuple[Sent, str]:
        """A button as the chat shows it now: exact label first, else the first label starting with it."""
        messages = [on] if on is not None else list(reversed(self.fake.shown(user)))
        for exact in (True, False):
            for s in messages:
                current = self.fake.messages.get((s.chat_id, s.message_id), s)
                for b in current.buttons:
                    if b["text"] == label or (not exact and b["text"].startswith(label)):
                        return current, b["callback_data"]
        raise AssertionError(f"no button {label!r}")

    async def count(self, model: type, **where: object) -> int:
        engine = create_engine(self.settings.effective_database_url)
        try:
            async with sessionmaker(engine)() as db:
                stmt = select(func.count()).select_from(model)
                for key, value in where.items():
                    stmt = stmt.where(getattr(model, key) == value)
                return int(await db.scalar(stmt) or 0)
        finally:
            await engine.dispose()


async def onboard(bot: Bot, user: int = ALICE) -> None:
    await bot.say(user, "/start")
    await bot.tap(user, "Use the defaults")


async def reflect(
    bot: Bot, user: int = ALICE, first: str = "I chaired a tense rota meeting on the ward this week."
) -> None:
    await bot.say(user, "/reflect")
    await bot.tap(user, "Suggested", replies=2)
    await bot.say(user, first)
    await bot.say(user, "It showed me I need to set ground rules before a meeting gets heated, not after.")
    await bot.say(user, "At the next meeting I will agree the agenda and ground rules at the start.")
    await bot.tap(user, "3 Proficient")
    await bot.tap(user, "10 min")
    await bot.tap(user, "Done")


async def test_onboarding_with_all_defaults(bot: Bot) -> None:
    welcome = await bot.say(ALICE, "/start")
    assert "patient-identifiable" in welcome[0].text and welcome[0].parse_mode == "HTML"
    done = await bot.tap(ALICE, "Use the defaults")
    assert "You're all set" in done[0].text and "Friday at 17:30 (Europe/London)" in done[0].text
    assert {"getMe", "deleteWebhook", "setMyCommands"} <= set(bot.fake.calls)
    assert {c["command"] for c in bot.fake.commands} >= {"reflect", "lookup", "history", "delete", "export"}
    await bot.fake.settle(0.1)
    assert "editMessageReplyMarkup" in bot.fake.calls  # the used keyboard is taken away


async def test_full_reflection_shows_in_history(bot: Bot) -> None:
    await onboard(bot)
    await reflect(bot)
    saved = await bot.tap(ALICE, "Save")
    assert "Saved. That's 1 reflection" in saved[0].text
    listing = await bot.say(ALICE, "/history")
    assert "Your reflections (1–1 of 1)" in listing[0].text
    opened = await bot.tap(ALICE, listing[0].buttons[0]["text"])
    assert "I chaired a tense rota meeting" in opened[0].text


async def test_stage_question_gets_the_mlf_definition(bot: Bot) -> None:
    answer = await bot.say(BOB, "what does stage 2 look like")
    assert "Stage 2: Mid-Level Managers and Leaders" in answer[0].text
    assert "bridge between senior leadership and frontline delivery" in answer[0].text
    assert "MLF 2025" in answer[0].text


async def test_stale_and_forged_buttons(bot: Bot) -> None:
    await onboard(bot)
    await bot.say(ALICE, "/reflect")
    old_message, old = bot.button(ALICE, "Browse")
    await bot.tap(ALICE, "Suggested", replies=2)
    await bot.fake.click(ALICE, old, old_message)
    resumed = await bot.fake.wait_for(ALICE, 1)
    assert "1/3" in resumed[0].text
    assert bot.fake.callback_answers[-1]["text"] == "That button is from an earlier step, so I've left it alone."
    await bot.fake.click(ALICE, "0|s|mlf2025.stage.2|forged")
    refused = await bot.fake.wait_for(ALICE, 2)
    assert "can't use that button" in refused[0].text
    answered = len(bot.fake.callback_answers)
    await bot.fake.click(BOB, old, old_message)  # someone else's button, pressed by someone we don't know
    for _ in range(200):
        if len(bot.fake.callback_answers) > answered:
            break
        await asyncio.sleep(0.05)
    assert bot.fake.callback_answers[-1]["text"] == ALREADY_ERASED  # only a notice, and no one stored
    assert await bot.count(User) == 1 and bot.fake.to(BOB) == []
    await bot.say(BOB, "/help")
    await bot.fake.click(BOB, old, old_message)  # and by someone we know
    other = await bot.fake.wait_for(BOB, 2)
    assert "can't use that button" in other[0].text
    assert await bot.count(Reflection) == 0


async def test_a_5000_character_answer_is_kept_whole(bot: Bot) -> None:
    await onboard(bot)
    long_answer = ("On the ward this week " + "we talked through the rota and the gaps it leaves; " * 120)[:5000]
    await reflect(bot, first=long_answer)
    await bot.fake.wait_for(ALICE, 1)  # the summary is over 4096 characters: its second part
    summary = [s for s in bot.fake.to(ALICE) if s.method == "sendMessage"][-2:]
    assert all(len(s.text) <= 4096 for s in summary) and len(summary) == 2  # split, not truncated or refused
    await bot.tap(ALICE, "Save")
    export = await bot.say(ALICE, "/export", replies=2)
    doc = json.loads(export[-1].document or b"{}")
    assert doc["reflections"][0]["answers"][0]["answer"] == long_answer.strip()


async def test_sticker_edited_message_and_unknown_command(bot: Bot) -> None:
    await bot.fake.send_sticker(ALICE)
    assert "I can only read text" in (await bot.fake.wait_for(ALICE, 1))[0].text
    await bot.fake.edit_text(ALICE, "edited words")
    assert "edited a message" in (await bot.fake.wait_for(ALICE, 1))[0].text
    assert "I don't know /frobnicate" in (await bot.say(ALICE, "/frobnicate"))[0].text


async def test_group_chat_asks_for_a_private_chat(bot: Bot) -> None:
    await bot.fake.send_text(ALICE, "/start@LeadCoachTestBot", chat_type="supergroup")
    group = -1000 - ALICE
    reply = await bot.fake.wait_for(group, 1)
    assert "private chat" in reply[0].text
    assert await bot.count(User) == 0


async def test_export_contains_the_reflection_and_delete_leaves_nothing(bot: Bot) -> None:
    await onboard(bot)
    await reflect(bot)
    await bot.tap(ALICE, "Save")
    export = await bot.say(ALICE, "/export", replies=2)
    assert export[-1].method == "sendDocument" and export[-1].filename == "leadcoach-export.json"
    doc = json.loads(export[-1].document or b"{}")
    assert doc["reflections"][0]["answers"][0]["answer"].startswith("I chaired a tense rota meeting")
    await bot.say(ALICE, "/delete")
    await bot.tap(ALICE, "Yes, erase everything")
    for model in (User, Reflection, ConversationSession):
        assert await bot.count(model) == 0
    assert await bot.count(InboxUpdate) == 1  # only the erase itself, emptied, so a repeat is recognised
    assert await bot.count(InboxUpdate, payload_enc=b"") == 1


async def test_the_same_update_twice_is_processed_once(bot: Bot) -> None:
    message = bot.fake._message(ALICE, "/start")
    await bot.fake.push({"message": message}, update_id=500)
    await bot.fake.push({"message": message}, update_id=500)
    await bot.fake.wait_for(ALICE, 1)
    await bot.fake.settle(0.3)
    assert len(bot.fake.to(ALICE)) == 1


async def test_rate_limited_replies_are_retried(bot: Bot) -> None:
    bot.fake.rate_limit_per_second = 2
    for _ in range(4):
        await bot.fake.send_text(ALICE, "/help")
    await bot.fake.wait_for(ALICE, 4, timeout=20)
    assert any(code == 429 for _, code, _ in bot.fake.rejected)


async def test_a_user_who_blocked_the_bot_is_marked(bot: Bot) -> None:
    await onboard(bot)
    bot.fake.blocked.add(ALICE)
    await bot.fake.send_text(ALICE, "/help")
    for _ in range(100):
        if await bot.count(User, blocked=True) == 1:
            break
        await asyncio.sleep(0.05)
    assert await bot.count(User, blocked=True) == 1


# --- the real `leadcoach run` process, killed mid-reflection and restarted -------------------


def process_env(fake: FakeTelegram, settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of a real `leadcoach run` process talking to the fake Bot API."""
    return {
        **os.environ,
        "LEADCOACH_TELEGRAM_TOKEN": fake.token,
        "LEADCOACH_TELEGRAM_API_URL": fake.api_url,
        "LEADCOACH_TELEGRAM_FILE_URL": fake.file_url,
        "LEADCOACH_DATABASE_URL": settings.effective_database_url,
        "LEADCOACH_DATA_DIR": str(settings.data_dir),
        "LEADCOACH_ENCRYPTION_KEY": TEST_KEY,
        **extra,
    }


async def spawn(fake: FakeTelegram, settings: Settings) -> asyncio.subprocess.Process:
    """A real `leadcoach run` process, polling the fake Bot API."""
    before = fake.calls.count("getUpdates")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "run",
        cwd=ROOT,
        env=process_env(fake, settings),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    for _ in range(600):
        if fake.calls.count("getUpdates") > before:
            return proc
        if proc.returncode is not None:
            raise AssertionError((await proc.stderr.read()).decode() if proc.stderr else "bot exited")
        await asyncio.sleep(0.05)
    raise AssertionError("the bot never started polling")
