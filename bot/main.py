"""Entry points: ``leadcoach run`` (Telegram), ``leadcoach chat`` (terminal), ``leadcoach start`` (either)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bot import logs
from bot.settings import Settings
from bot.startup import check_log_level

# Imported where used: `leadcoach run` asks for its first updates before python-telegram-bot, SQLAlchemy
# and the flows are imported (bot/early.py).
if TYPE_CHECKING:
    from telegram import Bot

    from bot.botapi import BotApi
    from bot.budget import Heartbeat
    from bot.dispatcher import Pass
    from bot.runtime import Runtime
    from bot.service import Service

log = logging.getLogger("leadcoach")


def _logging(settings: Settings) -> None:
    secrets = [s.get_secret_value() for s in (settings.telegram_token, settings.webhook_secret) if s is not None]
    logs.setup(check_log_level(settings.log_level), secrets)


def chat(user: str = "me", settings: Settings | None = None) -> int:
    settings = settings or Settings()
    _logging(settings)

    async def main() -> None:
        from bot.runtime import open_runtime
        from bot.scheduler import Scheduler
        from bot.terminal import Terminal

        runtime = await open_runtime(settings)
        terminal = Terminal(runtime, user)
        scheduler = Scheduler(runtime, terminal, channel="terminal")  # nudges print here while it runs
        try:
            await scheduler.start()
            await terminal.run()
        finally:
            await scheduler.stop()
            await runtime.close()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
    return 0


def _job(
    settings: Settings | None,
    job: Callable[[Runtime], Awaitable[Any]],
    show: Callable[[Any], None] = lambda result: print(json.dumps(result)),
) -> int:
    """Open the runtime, run one job, print its result (JSON unless ``show`` says), and exit."""
    settings = settings or Settings()
    _logging(settings)

    async def main() -> None:
        from bot.runtime import open_runtime

        runtime = await open_runtime(settings)
        try:
            show(await job(runtime))
        finally:
            await runtime.close()

    asyncio.run(main())
    return 0


def purge(settings: Settings | None = None) -> int:
    """Erase what is past its retention and print what went."""
    from flows.core.retention import purge as run_purge

    async def job(runtime: Runtime) -> object:
        return asdict(await run_purge(runtime.coach, datetime.now(UTC)))

    return _job(settings, job)


def rotate_key(settings: Settings | None = None) -> int:
    """Re-encrypt every stored text with the first key, so the older keys can then be dropped."""
    from bot.rotation import rotate

    async def job(runtime: Runtime) -> object:
        return await rotate(runtime.coach)

    return _job(settings, job)


def nudges_due(at: datetime | None, as_json: bool, settings: Settings | None = None) -> int:
    """Print the nudges due at ``at`` (default now), before any is decided or sent."""
    from bot.dispatcher import due

    moment = at or datetime.now(UTC)

    async def job(runtime: Runtime) -> dict[str, Any]:
        return {"at": moment.isoformat(), "due": await due(runtime.coach, moment)}

    def text(found: dict[str, Any]) -> None:
        print(f"{len(found['due'])} nudge(s) due at {found['at']}")
        for row in found["due"]:
            print(f"  {row['due_utc']}  {row['kind']:<10}  {row['user']}")

    return _job(settings, job) if as_json else _job(settings, job, text)


@contextlib.asynccontextmanager
async def telegram_client(settings: Settings) -> AsyncIterator[tuple[Bot, BotApi]]:
    """The bot for the configured token and the one HTTP stack it calls through (with the rate budget),
    checked with getMe (one line if Telegram refuses or can't be reached); both closed after."""
    from telegram import Bot
    from telegram.error import InvalidToken, NetworkError

    from bot.botapi import BotApi
    from bot.budget import Budget
    from bot.startup import StartupError
    from bot.transport import SessionRequest

    api = BotApi(settings.bot_url, Budget(*settings.budget))
    bot = Bot(
        settings.token,
        base_url=settings.telegram_api_url,
        base_file_url=settings.telegram_file_url,
        request=SessionRequest(api),
        get_updates_request=SessionRequest(api),
    )
    try:
        try:
            await bot.initialize()
        except InvalidToken:
            raise StartupError("Telegram refused LEADCOACH_TELEGRAM_TOKEN (401 Unauthorized)") from None
        except NetworkError as exc:  # (TimedOut is one)
            raise StartupError(f"cannot reach the Telegram Bot API at {settings.telegram_api_url} ({exc})") from None
        yield bot, api
    finally:
        await bot.shutdown()
        await api.close()


async def dispatch_once(
    runtime: Runtime, at: datetime | None = None, rate: float | None = None, telegram: tuple[Bot, BotApi] | None = None
) -> Pass:
    """One dispatch pass over Telegram with the runtime's settings (``leadcoach nudges send-due``). It
    takes part in the bot's rate budget like a running instance: a heartbeat with its demand while it
    sends (so together with the running instances it stays within Telegram's limit), gone when it ends."""
    from bot.budget import Heartbeat
    from bot.dispatcher import Dispatcher
    from bot.telegram import TelegramSender

    if telegram is None:
        async with telegram_client(runtime.settings) as made:
            return await dispatch_once(runtime, at, rate, made)
    bot, api = telegram
    budget = api.budget
    assert budget is not None  # (telegram_client gives it one)
    heartbeat = Heartbeat(runtime.coach, budget)
    sender = TelegramSender(bot, api)
    try:
        await heartbeat.beat()
        async with _beating(heartbeat):
            dispatcher = Dispatcher(runtime.coach, sender, rate=rate or runtime.settings.nudge_rate, budget=budget)
            return await dispatcher.run_once(at)
    finally:
        with contextlib.suppress(Exception):
            await heartbeat.leave()


@contextlib.asynccontextmanager
async def _beating(heartbeat: Heartbeat) -> AsyncIterator[None]:
    task = asyncio.create_task(heartbeat.run(), name="heartbeat")
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def nudges_send_due(at: datetime | None, settings: Settings | None = None) -> int:
    """One dispatch pass over Telegram, then exit (for deployments that run it from cron). Telegram is
    reached first, so an unreachable Bot API writes nothing."""
    settings = settings or Settings()
    if settings.telegram_token is None:
        print("leadcoach: LEADCOACH_TELEGRAM_TOKEN is not set; nudges are sent over Telegram", file=sys.stderr)
        return 2
    _logging(settings)

    async def main() -> None:
        from bot.runtime import open_runtime

        async with telegram_client(settings) as telegram:
            runtime = await open_runtime(settings)
            try:
                print(json.dumps(asdict(await dispatch_once(runtime, at, telegram=telegram))))
            finally:
                await runtime.close()

    asyncio.run(main())
    return 0


def run(terminal: bool | None = False, settings: Settings | None = None) -> int:
    """Run on Telegram; with ``terminal=None``, fall back to the terminal when there is no token."""
    settings = settings or Settings()
    if settings.telegram_token is None:
        if terminal is None:
            print(
                "No LEADCOACH_TELEGRAM_TOKEN is set, so LeadCoach is starting in this terminal.\n"
                "To connect Telegram: create a bot with @BotFather, then run\n"
                "  LEADCOACH_TELEGRAM_TOKEN=123:abc make run\n",
                file=sys.stderr,
            )
            return chat(settings=settings)
        print(
            "LEADCOACH_TELEGRAM_TOKEN is not set. Create a bot with @BotFather and set it, "
            "or use `leadcoach chat` for the terminal.",
            file=sys.stderr,
        )
        return 2
    _logging(settings)
    asyncio.run(_serve(settings))
    return 0


async def _serve(settings: Settings) -> None:
    from bot.early import FirstPoll

    first = None
    if not settings.webhook_url:  # long polling: the first batch is asked for now, while the rest loads
        first = FirstPoll(settings.bot_url)
        await first.sending.wait()
    try:
        # In a thread, so the event loop carries that getUpdates meanwhile.
        service = (await asyncio.to_thread(_service_class))(settings)
        await service.start(first=first)
        await _until_stopped(service, settings)
    finally:
        if first is not None:
            await first.cancel()


def _service_class() -> type[Service]:
    from bot.service import Service

    return Service


async def _until_stopped(service: Service, settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info("LeadCoach is running on Telegram (%s)", "webhook" if settings.webhook_url else "long polling")
    try:
        await stop.wait()
    finally:
        await service.stop()
