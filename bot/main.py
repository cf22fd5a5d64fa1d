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
        runtime = await open_runtime(settings)
        try:
            await Terminal(runtime, user).run()
        finally:
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
