"""Running the coach on Telegram: updates are stored in the inbox before they are acknowledged, then
handled one user at a time (users in parallel) through the python-telegram-bot Application.

Polling: an update batch is written to the inbox in one transaction before the next getUpdates
confirms it, so a crash at any moment loses nothing; handling marks each row done in the same
transaction as its effects, so nothing is handled twice. Webhook: the update is stored before the
HTTP 200. Several instances can share one PostgreSQL: any of them handles any stored update, in
update order per user (the engine locks the user row)."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from collections import deque
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from telegram import Update
from telegram.error import Conflict, InvalidToken, NetworkError, TimedOut
from telegram.ext import Application
from telegram.request import BaseRequest

from bot.app import build_application
from bot.runtime import Runtime
from bot.scheduler import Scheduler
from bot.settings import Settings
from bot.startup import StartupError
from bot.telegram import TELEGRAM_LIMIT, TelegramSender, consumed, meter
from flows.store.models import InboxUpdate

log = logging.getLogger(__name__)
CHANNEL = "telegram"
# The poller asks for getUpdates' JSON as Telegram sent it (that is what the inbox stores, without
# re-serialising each update); PTB would rather we used its parsing method.
ALLOWED_UPDATES = [Update.MESSAGE, Update.EDITED_MESSAGE, Update.CALLBACK_QUERY, Update.INLINE_QUERY]


def user_key(update: Update) -> str:
    user = update.effective_user
    if user is not None:
        return str(user.id)
    chat = update.effective_chat
    return f"chat:{chat.id}" if chat is not None else "none"


class Pump:
    """The inbox: store updates durably, then handle each user's in order."""

    def __init__(self, app: Application, runtime: Runtime, *, parallel: int = 64) -> None:  # type: ignore[type-arg]
        self.app = app
        self.runtime = runtime
        # SQLite is one process's database: updates this process stored are handed to its workers in
        # memory. On PostgreSQL several instances share the inbox, so each worker takes the user's
        # earliest unhandled update from the database, whoever stored it.
        self.local = runtime.settings.is_sqlite
        self._queues: dict[str, deque[Update]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._again: set[str] = set()
        self._slots = asyncio.Semaphore(parallel)
        self._idle = asyncio.Event()
        self._idle.set()

    # --- storing ------------------------------------------------------------------------

    async def store(self, updates: Sequence[tuple[Update, dict[str, Any]]]) -> list[str]:
        """Write updates (parsed, and as received) to the inbox in one transaction; a repeat is ignored.
        Returns their users."""
        if not updates:
            return []
        now = datetime.now(UTC)
        cipher = self.runtime.coach.cipher
        rows = [
            {
                "channel": CHANNEL,
                "update_id": update.update_id,
                "user_key": user_key(update),
                "payload_enc": cipher.encrypt_json(raw),
                "received_at": now,
            }
            for update, raw in updates
        ]
        async with self.runtime.coach.transaction() as db:
            insert = pg_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert
            await db.execute(insert(InboxUpdate).on_conflict_do_nothing(), rows)
        return list(dict.fromkeys(str(r["user_key"]) for r in rows))

    # --- handling -----------------------------------------------------------------------

    def wake(self, key: str) -> None:
        if key in self._workers:
            self._again.add(key)
            return
        self._idle.clear()
        self._workers[key] = asyncio.create_task(self._work(key), name=f"inbox:{key}")

    async def recover(self) -> int:
        """Schedule every user with stored, unhandled updates (after a crash, or another instance's)."""
        async with self.runtime.coach.sessionmaker() as db:
            query = select(InboxUpdate.user_key, InboxUpdate.payload_enc).where(InboxUpdate.done_at.is_(None))
            rows = (await db.execute(query.order_by(InboxUpdate.update_id))).all()
        keys = list(dict.fromkeys(key for key, _ in rows))
        for key, payload in rows:
            if self.local and key not in self._workers and key not in self._queues:
                self._queues.setdefault(key, deque()).append(self._decode(payload))
        for key in keys:
            self.wake(key)
        return len(keys)

    def _decode(self, payload: bytes) -> Update:
        data: dict[str, Any] = self.runtime.coach.cipher.decrypt_json(payload)
        return Update.de_json(data, self.app.bot)

    async def _next(self, key: str) -> Update | None:
        if self.local:
            queue = self._queues.get(key)
            if not queue:
                self._queues.pop(key, None)
                return None
            return queue.popleft()
        async with self.runtime.coach.sessionmaker() as db:
            payload = (
                await db.execute(
                    select(InboxUpdate.payload_enc)
                    .where(InboxUpdate.user_key == key, InboxUpdate.done_at.is_(None))
                    .order_by(InboxUpdate.update_id)
                    .limit(1)
                )
            ).scalar_one_or_none()
        return self._decode(payload) if payload is not None else None

    async def _work(self, key: str) -> None:
        try:
            while True:
                self._again.discard(key)
                update = await self._next(key)
                if update is None:
                    if key in self._again:
                        continue
                    return
                async with self._slots:
                    await self._process(update)
        except Exception:
            log.exception("the inbox worker stopped; unhandled updates are picked up again shortly")
        finally:
            del self._workers[key]
            if not self._workers:
                self._idle.set()

    async def _process(self, update: Update) -> None:
        token = consumed.set(False)
        try:
            await self.app.process_update(update)
        except Exception:
            log.exception("update %s could not be handled; it is set aside", update.update_id)
        finally:
            handled = consumed.get()
            consumed.reset(token)
        if not handled:
            await self._done(update.update_id)

    async def _done(self, update_id: int) -> None:
        async with self.runtime.coach.transaction() as db:
            await db.execute(
                update(InboxUpdate)
                .where(
                    InboxUpdate.channel == CHANNEL,
                    InboxUpdate.update_id == update_id,
                    InboxUpdate.done_at.is_(None),
                )
                .values(done_at=datetime.now(UTC))
            )

    async def idle(self) -> None:
        """Wait until every woken worker has finished."""
        await self._idle.wait()

    # --- receiving ----------------------------------------------------------------------

    async def receive(self, raw: Sequence[dict[str, Any]]) -> None:
        """Updates as Telegram sent them: stored first, then handed to the users' workers."""
        updates = [(Update.de_json(data, self.app.bot), data) for data in raw]
        keys = await self.store(updates)
        if self.local:
            for update, _ in updates:
                self._queues.setdefault(user_key(update), deque()).append(update)
        for key in keys:
            self.wake(key)

    async def poll(self, *, timeout: int = 30) -> None:
        """Long-poll getUpdates; each batch is stored before the next call confirms it."""
        bot = self.app.bot
        await bot.delete_webhook()
        offset: int | None = None
        while True:
            try:
                raw = await bot.do_api_request(
                    "getUpdates",
                    api_kwargs={"offset": offset, "timeout": timeout, "allowed_updates": ALLOWED_UPDATES},
                    read_timeout=timeout + 10,
                )
            except Conflict:
                log.error("another process is polling with this token; retrying in 5 s")
                await asyncio.sleep(5)
                continue
            except (TimedOut, NetworkError) as exc:
                log.warning("getUpdates failed (%s); retrying", exc.__class__.__name__)
                await asyncio.sleep(1)
                continue
            if isinstance(raw, list) and raw:
                await self.receive(raw)
                offset = int(raw[-1]["update_id"]) + 1

    async def rescan_forever(self, every: float = 5.0) -> None:
        """Pick up stored updates nobody is handling (another instance's, or after a failure)."""
        while True:
            await asyncio.sleep(every)
            with contextlib.suppress(Exception):
                await self.recover()


def webhook_app(pump: Pump, path: str, secret: str) -> web.Application:
    """The webhook endpoint: check Telegram's secret header, store the update, then answer 200."""

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
        try:
            await pump.receive([data])
        except Exception:
            log.exception("could not store an update; Telegram will send it again")
            return web.Response(status=503)
        return web.Response(status=200)

    app = web.Application(client_max_size=1024 * 1024)
    app.router.add_post(f"/{path.strip('/')}", receive)
    return app


class Service:
    """The coach on Telegram: the Application (for the bot and its handlers), the inbox pump, and either
    long polling or the webhook server. ``leadcoach run`` and the end-to-end tests both use it."""

    def __init__(self, settings: Settings, *, request: BaseRequest | None = None, rate_limit: bool = True) -> None:
        self.settings = settings
        self.app = build_application(settings, rate_limit=rate_limit, request=request)
        self._tasks: list[asyncio.Task[None]] = []
        self._web: web.AppRunner | None = None
        self.pump: Pump | None = None
        self.scheduler: Scheduler | None = None

    async def start(self, *, poll_timeout: int = 30) -> None:
        app = self.app
        try:
            await app.initialize()  # getMe: a wrong token is refused here
        except InvalidToken:
            raise StartupError(
                "Telegram refused LEADCOACH_TELEGRAM_TOKEN (401 Unauthorized); check it with @BotFather"
            ) from None
        if app.post_init is not None:
            await app.post_init(app)
        self.pump = pump = Pump(app, app.bot_data["runtime"])
        await pump.recover()
        # Nudges stand back while this process's messages in the last second (replies included) come
        # near Telegram's 30 a second: interactive replies go first.
        room = TELEGRAM_LIMIT - 2
        self.scheduler = Scheduler(
            app.bot_data["runtime"], TelegramSender(app.bot), busy=lambda: meter.per_second() >= room
        )
        await self.scheduler.start()
        self._tasks.append(asyncio.create_task(pump.rescan_forever(), name="inbox-rescan"))
        s = self.settings
        if s.webhook_url:
            secret = s.webhook_secret.get_secret_value() if s.webhook_secret else ""
            path = s.webhook_url.rstrip("/").rsplit("/", 1)[-1]
            self._web = web.AppRunner(webhook_app(pump, path, secret), access_log=None)
            await self._web.setup()
            await web.TCPSite(self._web, s.webhook_listen, s.webhook_port).start()
            await app.bot.set_webhook(s.webhook_url, secret_token=secret, allowed_updates=ALLOWED_UPDATES)
        else:
            self._tasks.append(asyncio.create_task(pump.poll(timeout=poll_timeout), name="getUpdates"))

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
        if self.app.post_shutdown is not None:
            await self.app.post_shutdown(self.app)
        await self.app.shutdown()
