"""Entry points: ``leadcoach run`` (Telegram), ``leadcoach chat`` (terminal), ``leadcoach start`` (either)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys

from bot.runtime import open_runtime
from bot.settings import Settings
from bot.terminal import Terminal

log = logging.getLogger("leadcoach")


def _logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(), stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for noisy in ("httpx", "httpcore", "apscheduler", "aiosqlite", "alembic.runtime.migration"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


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
    from bot.app import ALLOWED_UPDATES, build_application

    application = build_application(settings)
    if settings.webhook_url:
        secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
        path = settings.webhook_url.rstrip("/").rsplit("/", 1)[-1]
        application.run_webhook(
            listen=settings.webhook_listen,
            port=settings.webhook_port,
            url_path=path,
            webhook_url=settings.webhook_url,
            secret_token=secret,
            allowed_updates=ALLOWED_UPDATES,
        )
    else:
        application.run_polling(allowed_updates=ALLOWED_UPDATES)
    return 0
