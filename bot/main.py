"""Entry points: ``leadcoach run`` (Telegram), ``leadcoach chat`` (terminal), ``leadcoach start`` (either)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import UTC, datetime

from bot import logs
from bot.runtime import Runtime, open_runtime
from bot.settings import Settings
from bot.startup import check_log_level
from bot.terminal import Terminal

log = logging.getLogger("leadcoach")


def _logging(settings: Settings) -> None:
    secrets = [s.get_secret_value() for s in (settings.telegram_token, settings.webhook_secret) if s is not None]
    logs.setup(check_log_level(settings.log_level), secrets)


def chat(user: str = "me", settings: Settings | None = None) -> int:
    settings = settings or Settings()
    _logging(settings)

    async def main() -> None:
        from bot.scheduler import Scheduler

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


def _job(settings: Settings | None, job: Callable[[Runtime], Awaitable[object]]) -> int:
    """Open the runtime, run one job, print its result as JSON, and exit (for cron and operators)."""
    settings = settings or Settings()
    _logging(settings)

    async def main() -> None:
        runtime = await open_runtime(settings)
        try:
            print(json.dumps(await job(runtime)))
        finally:
            await runtime.close()

    asyncio.run(main())
    return 0


def purge(settings: Settings | None = None) -> int:
    """Erase what is past its retention and print what went."""
    from flows.retention import purge as run_purge

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
    from flows.nudges import Dispatcher
    from flows.push import SendResult, SendStatus

    class _Nobody:
        async def send(self, who: object, replies: object) -> SendResult:
            return SendResult(SendStatus.SKIPPED)

    moment = at or datetime.now(UTC)

    async def job(runtime: Runtime) -> object:
        due = await Dispatcher(runtime.coach, _Nobody()).due(moment)
        return {"at": moment.isoformat(), "due": due}

    if as_json:
        return _job(settings, job)
    settings = settings or Settings()

    async def show() -> None:
        runtime = await open_runtime(settings)
        try:
            found = await job(runtime)
        finally:
            await runtime.close()
        rows = found["due"]  # type: ignore[index]
        print(f"{len(rows)} nudge(s) due at {moment.isoformat()}")
        for row in rows:
            print(f"  {row['due_utc']}  {row['kind']:<10}  {row['user']}")

    _logging(settings)
    asyncio.run(show())
    return 0


def nudges_send_due(at: datetime | None, settings: Settings | None = None) -> int:
    """One dispatch pass over Telegram, then exit (for deployments that run it from cron)."""
    settings = settings or Settings()
    if settings.telegram_token is None:
        print("leadcoach: LEADCOACH_TELEGRAM_TOKEN is not set; nudges are sent over Telegram", file=sys.stderr)
        return 2

    async def job(runtime: Runtime) -> object:
        from telegram import Bot
        from telegram.error import InvalidToken

        from bot.startup import StartupError
        from bot.telegram import TelegramSender
        from flows.nudges import Dispatcher

        token = settings.telegram_token.get_secret_value()  # type: ignore[union-attr]
        bot = Bot(token, base_url=settings.telegram_api_url, base_file_url=settings.telegram_file_url)
        try:
            await bot.initialize()
        except InvalidToken:
            raise StartupError("Telegram refused LEADCOACH_TELEGRAM_TOKEN (401 Unauthorized)") from None
        sender = TelegramSender(bot)
        try:
            result = await Dispatcher(runtime.coach, sender, rate=settings.nudge_rate).run_once(at)
        finally:
            await sender.close()
            await bot.shutdown()
        return asdict(result)

    return _job(settings, job)


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
    from bot.service import Service

    service = Service(settings)
    await service.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info("LeadCoach is running on Telegram (%s)", "webhook" if settings.webhook_url else "long polling")
    try:
        await stop.wait()
    finally:
        await service.stop()
