"""Faults over the real stack: failed sends, crashes with a batch in hand, two instances, odd chats.

The real PTB Application (in process, or the real `leadcoach run` process) against the fake Bot API."""

from __future__ import annotations

import asyncio
import io
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from bot.db import create_engine, sessionmaker
from bot.runtime import open_runtime
from bot.settings import Settings
from bot.telegram import TelegramSender
from bot.terminal import Terminal
from flows.core import texts
from flows.core.crypto import Cipher
from flows.core.flow import Ctx
from flows.core.push import SendStatus
from flows.core.replies import Identity
from flows.store.models import ConversationSession, InboxUpdate, Reflection, User
from flows.talks.reflection import begin
from tests.client import FakeClient
from tests.conftest import TEST_KEY
from tests.fakebot import FakeTelegram
from tests.test_e2e import ALICE, ROOT, Bot, make_settings, onboard, process_env, spawn
from tests.test_flows import onboard as onboard_client

ANSWERS = [
    "On the late shift I had to move a nurse to another ward and the team pushed back hard.",
    "It showed me that I explain decisions after the event instead of involving people early.",
    "Next month I will bring staffing pressures to the safety huddle before I decide anything.",
]


def extras_shown(fake: FakeTelegram) -> bool:
    """Is the "also evidences" step showing? (Only items linked to other frameworks have it.)"""
    return fake.shown(ALICE)[-1].text.startswith("Does it also count")


async def rows(settings: Any, model: type) -> list[Any]:
    engine = create_engine(settings.effective_database_url)
    try:
        async with sessionmaker(engine)() as db:
            return list((await db.execute(select(model))).scalars())
    finally:
        await engine.dispose()


async def test_bug8_a_failed_send_is_retried_then_re_asked(bot: Bot) -> None:
    await onboard(bot)
    await bot.say(ALICE, "/reflect")
    await bot.tap(ALICE, "Suggested", replies=2)
    bot.fake.fail_next["sendMessage"] = 1  # one 502: retried, the user sees nothing odd
    assert "2/3" in (await bot.say(ALICE, ANSWERS[0]))[0].text
    bot.fake.fail_next["sendMessage"] = 3  # the prompt for 3/3 never arrives
    await bot.fake.send_text(ALICE, ANSWERS[1])
    await bot.fake.settle(0.5)
    again = await bot.say(ALICE, "Hello? Did you get that?", replies=2)
    assert "may not have reached you" in again[0].text and "3/3" in again[1].text
    await bot.say(ALICE, ANSWERS[2])
    await bot.tap(ALICE, "Skip")
    await bot.tap(ALICE, "Skip")
    if extras_shown(bot.fake):
        await bot.tap(ALICE, "Done")
    await bot.tap(ALICE, "Save")
    saved = await rows(bot.settings, Reflection)
    answers = [a["answer"] for a in Cipher(TEST_KEY).decrypt_json(saved[0].answers_enc)]
    assert answers == ANSWERS  # "Hello? Did you get that?" was not taken as the answer to 3/3


async def test_an_older_button_and_a_double_tap(bot: Bot) -> None:
    await onboard(bot)
    await bot.say(ALICE, "/reflect")
    await bot.tap(ALICE, "Suggested", replies=2)
    first_prompt = bot.fake.shown(ALICE)[-1]
    for answer in ANSWERS:
        await bot.say(ALICE, answer)
    await bot.tap(ALICE, "Later", on=first_prompt, replies=0)  # a button two questions back
    stale = await bot.fake.wait_for(ALICE, 1)
    assert "rate yourself" in stale[0].text
    assert bot.fake.callback_answers[-1]["text"].startswith("That button is from an earlier step")
    await bot.tap(ALICE, "Skip")
    await bot.tap(ALICE, "Skip")
    if extras_shown(bot.fake):
        await bot.tap(ALICE, "Done")
    message, data = bot.button(ALICE, "Save")
    await bot.fake.click(ALICE, data, message)
    await bot.fake.click(ALICE, data, message)
    await bot.fake.wait_for(ALICE, 1)
    await bot.fake.settle(0.3)
    assert len(await rows(bot.settings, Reflection)) == 1
    assert any((a.get("text") or "").startswith("That button") for a in bot.fake.callback_answers[-2:])


async def test_a_private_chat_that_is_not_the_senders_is_ignored(bot: Bot) -> None:
    message = bot.fake._message(ALICE, "/start")
    message["chat"] = {"id": 5555, "type": "private"}
    await bot.fake.push({"message": message})
    await bot.fake.send_text(ALICE, "/help")
    await bot.fake.wait_for(ALICE, 1)
    await bot.fake.settle(0.2)
    assert bot.fake.to(5555) == [] and len(await rows(bot.settings, User)) == 1


# --- kill -9 with a batch of 60 updates in hand -------------------------------------------


async def test_kill_9_with_a_batch_in_hand_loses_and_repeats_nothing(
    fake: FakeTelegram, database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(fake, database_url, tmp_path)
    users = [2000 + i for i in range(20)]
    runtime = await open_runtime(settings)  # set up 20 reflections in progress, quickly, in process
    try:
        for user in users:
            client = FakeClient(runtime.coach, str(user), channel="telegram")
            await onboard_client(client)
            await client.send("/reflect")
            await client.click("Suggested")
    finally:
        await runtime.close()
    proc = await spawn(fake, settings)
    try:
        before = len(fake.sent)
        async with fake._new:  # 60 updates, all in the next getUpdates batch
            for answer in ANSWERS:
                for user in users:
                    fake.updates.append({"update_id": next(fake._ids), "message": fake._message(user, answer)})
            fake._new.notify_all()
        async with fake._output:  # killed once the first few are handled
            await fake._output.wait_for(lambda: len(fake.sent) >= before + 3)
    finally:
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
    pending = [i for i in await rows(settings, InboxUpdate) if i.done_at is None]
    assert 0 < len(pending) < 60  # part of the batch was stored but not handled when it died
    proc = await spawn(fake, settings)
    engine = create_engine(settings.effective_database_url)
    try:
        for _ in range(400):
            async with sessionmaker(engine)() as db:
                steps = (await db.execute(select(ConversationSession.step))).scalars().all()
            if steps and all(step == "rating" for step in steps):
                break
            await asyncio.sleep(0.05)
        assert len(steps) == 20 and set(steps) == {"rating"}  # each user's three answers, once each
        assert all(i.done_at is not None for i in await rows(settings, InboxUpdate))
        for user in users:
            prompts = [s.text for s in fake.to(user)]
            assert len(prompts) == len(set(prompts)), prompts  # nothing sent twice
    finally:
        await engine.dispose()
        proc.terminate()
        await proc.wait()


# --- two `leadcoach run` processes on one PostgreSQL, updates split between them ----------

SECRET = "s" * 40


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def spawn_webhook(fake: FakeTelegram, settings: Any, port: int, **extra: str) -> asyncio.subprocess.Process:
    env = process_env(
        fake,
        settings,
        LEADCOACH_WEBHOOK_URL=f"http://127.0.0.1:{port}/hook",
        LEADCOACH_WEBHOOK_SECRET=SECRET,
        LEADCOACH_WEBHOOK_LISTEN="127.0.0.1",
        LEADCOACH_WEBHOOK_PORT=str(port),
        **extra,
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run", cwd=ROOT, env=env, stderr=asyncio.subprocess.PIPE
    )
    async with aiohttp.ClientSession() as http:
        for _ in range(600):
            try:
                async with http.get(f"http://127.0.0.1:{port}/readyz") as r:
                    if r.status == 200:
                        return proc
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError("the webhook server never became ready")


class Webhooks:
    """Posts updates to several instances in turn, as a load balancer in front of them would."""

    def __init__(self, fake: FakeTelegram, ports: list[int]) -> None:
        self.fake, self.ports, self.turn = fake, ports, 0
        self.http = aiohttp.ClientSession()

    async def post(self, update: dict[str, Any], port: int | None = None) -> None:
        port = port or self.ports[self.turn % len(self.ports)]
        self.turn += 1
        body = {"update_id": next(self.fake._ids), **update}
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        async with self.http.post(f"http://127.0.0.1:{port}/hook", json=body, headers=headers) as r:
            assert r.status == 200

    async def say(self, user: int, text: str, replies: int = 1) -> None:
        await self.post({"message": self.fake._message(user, text)})
        await self.fake.wait_for(user, replies)

    async def tap(self, bot: Bot, user: int, label: str, replies: int = 1) -> None:
        message, data = bot.button(user, label)
        await self.post(self.fake._callback(user, data, message))
        await self.fake.wait_for(user, replies)


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_two_processes_on_postgres_store_answers_in_order_and_one_reflection(
    fake: FakeTelegram, database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(fake, database_url, tmp_path)
    bot = Bot(fake, settings)
    ports = [free_port(), free_port()]
    procs = [await spawn_webhook(fake, settings, port) for port in ports]
    hooks = Webhooks(fake, ports)
    try:
        await hooks.say(ALICE, "/start")
        await hooks.tap(bot, ALICE, "Use the defaults")
        await hooks.say(ALICE, "/settings")
        await hooks.tap(bot, ALICE, "Reflection prompts")
        await hooks.tap(bot, ALICE, "Gibbs reflective cycle", replies=2)
        await hooks.tap(bot, ALICE, "Done")
        await hooks.say(ALICE, "/reflect")
        await hooks.tap(bot, ALICE, "Suggested", replies=2)
        burst = [f"Answer {i}: " + ANSWERS[i % 3] for i in range(6)] + ["3", "20"]
        for text in burst:  # all at once, split across the two instances
            await hooks.post({"message": fake._message(ALICE, text)})
        await fake.wait_for(ALICE, len(burst))
        if extras_shown(fake):
            await hooks.tap(bot, ALICE, "Done")
        message, data = bot.button(ALICE, "Save")
        double = fake._callback(ALICE, data, message)
        await asyncio.gather(hooks.post(double, ports[0]), hooks.post(double, ports[1]))
        await fake.wait_for(ALICE, 1)
        await fake.settle(0.5)
        saved = await rows(settings, Reflection)
        assert len(saved) == 1
        answers = [a["answer"] for a in Cipher(TEST_KEY).decrypt_json(saved[0].answers_enc)]
        assert answers == burst[:6] and saved[0].rating == 3 and saved[0].minutes == 20
    finally:
        await hooks.http.close()
        for proc in procs:
            proc.terminate()
            await proc.wait()


# --- the push seam over Telegram, and in the terminal -------------------------------------


async def nudge(ctx: Ctx) -> None:
    ctx.say("It's time for this week's five-minute reflection.")
    await begin(ctx, "")


async def test_a_pushed_message_arrives_and_its_buttons_work(bot: Bot) -> None:
    await onboard(bot)
    assert bot.service is not None and bot.service.pump is not None
    coach = bot.service.pump.runtime.coach
    sender = TelegramSender(bot.service.app.bot)
    who = Identity("telegram", str(ALICE), None)
    assert (await coach.push(who, nudge, sender)).status is SendStatus.SENT
    pushed = await bot.fake.wait_for(ALICE, 2)
    assert "this week's five-minute reflection" in pushed[0].text
    started = await bot.tap(ALICE, "Suggested", replies=2)
    assert "1/3" in started[1].text
    bot.fake.blocked.add(ALICE)
    assert (await coach.push(who, nudge, sender)).status is SendStatus.BLOCKED
    assert (await coach.push(who, nudge, sender)).status is SendStatus.SKIPPED  # not retried
    assert [u.blocked for u in await rows(bot.settings, User)] == [True]
    await sender.close()


async def test_the_terminal_prints_a_pushed_message(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path, encryption_key=TEST_KEY, telegram_token=None)
    runtime = await open_runtime(settings)
    try:
        out = io.StringIO()
        terminal = Terminal(runtime, "sam", out=out)
        await terminal.handle_line("/start")
        await terminal.handle_line("Use the defaults")
        result = await runtime.coach.push(terminal.who, nudge, terminal)
        assert result.status is SendStatus.SENT and "five-minute reflection" in out.getvalue()
        await terminal.handle_line("1")  # the pushed message's first button: the suggested focus
        assert "1/3" in out.getvalue()
    finally:
        await runtime.close()


async def test_a_fault_while_showing_a_taps_replies_reaches_the_error_handler(
    bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The answer to a tap and its replies go out together; a fault in the replies' path (here: noting them
    undelivered) is not lost with them: the user is told, as after a typed answer."""
    await onboard(bot)
    await bot.say(ALICE, "/reflect")
    assert bot.service is not None and bot.service.pump is not None

    async def broken(who: Identity) -> None:
        raise RuntimeError("noting the replies undelivered failed")

    monkeypatch.setattr(bot.service.pump.runtime.coach, "mark_undelivered", broken)
    bot.fake.fail_next["sendMessage"] = 3  # the tap's replies never arrive; noting that fails
    await bot.tap(ALICE, "Suggested", replies=0)
    await bot.fake.settle(1.0)
    assert bot.fake.shown(ALICE)[-1].text == texts.SOMETHING_WRONG
