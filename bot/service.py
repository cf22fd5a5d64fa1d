"""Running the coach on Telegram: the Application (for the bot and its handlers), the inbox (bot/inbox.py),
and either long polling or the webhook server."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from collections.abc import Callable

from aiohttp import web
from telegram.error import InvalidToken, NetworkError, TimedOut

from bot.app import build_application
from bot.botapi import BotApi
from bot.budget import Budget, Heartbeat
from bot.early import ALLOWED_UPDATES, LONG_POLL, FirstPoll
from bot.faults import describe, transient
from bot.inbox import Pump
from bot.metrics import add_routes
from bot.scheduler import Scheduler
from bot.settings import Settings
from bot.startup import StartupError
from bot.telegram import TelegramSender

log = logging.getLogger(__name__)
SETTLE = 0.5  # webhook: at most how long an update waits for the one before it (still in flight)
__all__ = ["Pump", "Service", "webhook_app"]


def webhook_app(pump: Callable[[], Pump | None], path: str, secret: str) -> web.Application:
    """The webhook endpoint: check Telegram's secret header, store the update (or keep it aside if it
    cannot be parsed), then answer 200; 503 while starting or if the database is down (Telegram retries)."""

    async def receive(request: web.Request) -> web.Response:
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not hmac.compare_digest(given.encode(), secret.encode()):
            return web.Response(status=403)
        try:
            data = await request.json()
        except ValueError:
            return web.Response(status=400)
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            return web.Response(status=400)
        inbox = pump()
        if inbox is None:
            return web.Response(status=503)
        try:
            await inbox.receive([data])
        except Exception as exc:
            level = logging.WARNING if transient(exc) else logging.ERROR
            log.log(level, "could not store an update (%s); Telegram will send it again", describe(exc))
            return web.Response(status=503)
        return web.Response(status=200)

    app = web.Application(client_max_size=1024 * 1024)
    app.router.add_post(f"/{path.strip('/')}", receive)
    add_routes(app, lambda: inbox.runtime if (inbox := pump()) is not None else None)
    return app


class Service:
    """The coach on Telegram: the Application (for the bot and its handlers), the inbox pump, and either
    long polling or the webhook server. ``leadcoach run`` and the end-to-end tests both use it."""

    def __init__(self, settings: Settings, *, rate_limit: bool = True) -> None:
        self.settings = settings
        self.budget = Budget(*settings.budget)
        # The one send path for replies, button answers, edits, nudges and getUpdates; PTB's own calls go
        # over its session too.
        self.api = BotApi(settings.bot_url, self.budget if rate_limit else None)
        self.app = build_application(settings, self.api, rate_limit=rate_limit, budget=self.budget)
        self.app.bot_data["api"] = self.api
        self.heartbeat: Heartbeat | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._web: web.AppRunner | None = None
        self.pump: Pump | None = None
        self.scheduler: Scheduler | None = None

    async def start(self, *, poll_timeout: int = LONG_POLL, first: FirstPoll | None = None) -> None:
        """Listen (webhook), reach Telegram, open the database, then receive. Each failure at start is a
        StartupError; the webhook port is taken first, so a port in use writes nothing. ``first``: polling's
        first getUpdates, sent as the process started (bot/early.py): its batch is received first."""
        try:
            await self._start(poll_timeout, first)
        except BaseException:
            await self._abandon()
            raise

    async def _abandon(self) -> None:
        """A start that failed: close what it opened (its tasks first: they use the runtime and the session)."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.heartbeat is not None:
            with contextlib.suppress(Exception):
                await self.heartbeat.leave()
        if self.scheduler is not None:
            with contextlib.suppress(Exception):
                await self.scheduler.stop(0)
        if self._web is not None:
            await self._web.cleanup()
            self._web = None
        if self.app.post_shutdown is not None:
            await self.app.post_shutdown(self.app)
        with contextlib.suppress(Exception):
            await self.app.shutdown()
        await self.api.close()

    async def _start(self, poll_timeout: int, first: FirstPoll | None) -> None:
        s = self.settings
        if s.webhook_url:
            await self._listen()
        elif s.health_port:
            await self._health()
        await self._initialize()
        app = self.app
        if app.post_init is not None:
            await app.post_init(app)
        webhook = bool(s.webhook_url)
        runtime = app.bot_data["runtime"]
        shared = webhook and not s.is_sqlite  # several instances may receive
        # Replies and nudges of every instance share Telegram's budget (the live instances split it by
        # demand, known by their heartbeats); nudges leave room for replies. Its share is known before
        # anything is sent, recovered updates' replies included.
        self.heartbeat = Heartbeat(runtime.coach, self.budget)
        await self.heartbeat.beat()
        self._tasks.append(asyncio.create_task(self.heartbeat.run(), name="heartbeat"))
        self.pump = pump = Pump(app, runtime, settle=SETTLE if webhook else 0.0, shared=shared)
        await pump.recover()
        self.scheduler = Scheduler(runtime, TelegramSender(app.bot, self.api), budget=self.budget)
        await self.scheduler.start()
        self._tasks.append(asyncio.create_task(pump.rescan_forever(), name="inbox-rescan"))
        if s.webhook_url:
            secret = s.webhook_secret.get_secret_value() if s.webhook_secret else ""
            await app.bot.set_webhook(
                s.webhook_url,
                secret_token=secret,
                allowed_updates=ALLOWED_UPDATES,
                max_connections=s.webhook_max_connections,
            )
        else:
            self._tasks.append(asyncio.create_task(pump.poll(timeout=poll_timeout, first=first), name="getUpdates"))
        runtime.warm()  # what the first update did not need, now that it can arrive

    async def _initialize(self) -> None:
        try:
            await self.app.initialize()  # getMe: a wrong token is refused here
        except InvalidToken:
            raise StartupError(
                "Telegram refused LEADCOACH_TELEGRAM_TOKEN (401 Unauthorized); check it with @BotFather"
            ) from None
        except (NetworkError, TimedOut) as exc:
            raise StartupError(
                f"cannot reach the Telegram Bot API at {self.settings.telegram_api_url} ({exc})"
            ) from None

    async def _health(self) -> None:
        """Polling mode: a small server for /healthz, /readyz and /metrics."""
        app = web.Application()
        add_routes(app, lambda: self.pump.runtime if self.pump is not None else None)
        await self._serve(app, self.settings.health_listen, self.settings.health_port, "the health server")

    async def _listen(self) -> None:
        s = self.settings
        secret = s.webhook_secret.get_secret_value() if s.webhook_secret else ""
        path = (s.webhook_url or "").rstrip("/").rsplit("/", 1)[-1]
        await self._serve(webhook_app(lambda: self.pump, path, secret), s.webhook_listen, s.webhook_port, "the webhook")

    async def _serve(self, app: web.Application, host: str, port: int, what: str) -> None:
        self._web = web.AppRunner(app, access_log=None)
        await self._web.setup()
        try:
            await web.TCPSite(self._web, host, port).start()
        except OSError as exc:
            await self._web.cleanup()
            self._web = None
            raise StartupError(f"cannot listen for {what} on {host}:{port} ({exc.strerror or exc})") from None

    async def stop(self, grace: float = 10.0) -> None:
        """Stop receiving, let updates in hand finish, then close. Unhandled stored updates wait in the inbox."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.scheduler is not None:
            await self.scheduler.stop(grace)
        if self._web is not None:
            await self._web.cleanup()
        if self.pump is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.pump.idle(), grace)
            await self.pump.cancel()
        if self.heartbeat is not None:
            with contextlib.suppress(Exception):
                await self.heartbeat.leave()
        await self.api.close()
        if self.app.post_shutdown is not None:
            await self.app.post_shutdown(self.app)
        await self.app.shutdown()
