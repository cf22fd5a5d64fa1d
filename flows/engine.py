"""The flow engine: for one event, lock the user, load their conversation, run the declared flow,
save the new state and sign the buttons, all in one transaction. Adapters only render."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import inspect
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from flows import interrupt, typed
from flows.crypto import Cipher, DecryptionError
from flows.flow import Command, Ctx, Flow, FlowError, FlowState, Handler, Kind, Step
from flows.models import ConversationSession, InboxUpdate, User
from flows.push import Sender, SendResult, SendStatus
from flows.replies import Button, ClickEvent, CommandEvent, Event, Identity, Outcome, Reply
from flows.schedule import Round, aware
from flows.storage import (
    CLAIM,
    INSERT_DONE,
    INSERT_SESSION,
    INSERT_USER,
    LOCK_USER,
    SAVE_STATE,
    SAVE_STATE_AND_PARKED,
    SEEN,
    STORED,
    USER_AND_SESSION,
    USER_KEYS,
    InlineDriver,
    Stored,
    Tx,
    inline_driver,
    stored,
    user_object,
)
from flows.texts import ALREADY_ERASED, FORGED_BUTTON, RESENT, STALE_BUTTON, STATE_DROPPED, USE_BUTTONS, unknown_command
from frameworks.catalogue import Catalogue
from frameworks.lookup import LookupIndex

log = logging.getLogger(__name__)

MAX_CALLBACK_BYTES = 64
MAC_CHARS = 11  # 66 bits of HMAC-SHA256, base64url
_SEEN_RESOLUTION = timedelta(minutes=10)


class _BadState(Exception):
    """Stored state that can't be used: unknown flow or step, another schema version, invalid or undecryptable."""


@dataclass
class _Snapshot:
    """What was stored before the event, to decide what to write and whether the step changed."""

    blob: str = ""
    screen: str = ""
    parked: str = ""


@dataclass(frozen=True)
class Where:
    """Where a user is: see ``Engine.where``."""

    flow: str | None
    step: str | None
    screen: str
    progress: str | None  # how far they got in the current flow, None if nothing to lose
    parked: str | None  # the flow of the draft put aside
    parked_progress: str | None


class Engine:
    """Turns events into replies. Adapters (Telegram, terminal) own only rendering."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        catalogue: Catalogue,
        index: LookupIndex,
        cipher: Cipher,
        *,
        session_ttl: timedelta = timedelta(days=14),
        clock: Callable[[], datetime] | None = None,
        default_timezone: str = "Europe/London",
        single_writer: bool = False,
        appraisal_round: Round | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        bind = sessionmaker.kw.get("bind")
        assert isinstance(bind, AsyncEngine), "the sessionmaker must be bound to an AsyncEngine"
        self.database = bind
        self.catalogue = catalogue
        self.index = index
        self.cipher = cipher
        self.session_ttl = session_ttl
        self.clock = clock or (lambda: datetime.now(UTC))
        self.default_timezone = default_timezone
        self.appraisal_round = appraisal_round  # the operator's default, for users who set no date
        self.bot_username = ""  # the Telegram adapter sets it (share links are t.me deep links)
        self.flows: dict[str, Flow[Any]] = {}
        self.commands: dict[str, Command] = {}
        self.global_clicks: dict[str, Command] = {}
        self.idle_text: Handler | None = None
        self._locks: dict[tuple[str, str], tuple[asyncio.Lock, int]] = {}
        self.single_writer = single_writer
        # SQLite has one writer: transactions take turns in process (sending still overlaps), on one
        # connection kept open for them.
        self._write_lock = asyncio.Lock() if single_writer else None
        self._conn: AsyncConnection | None = None
        self._driver: InlineDriver | None = None  # the kept connection's, if it runs statements inline
        from flows import register_all

        register_all(self)

    # --- registration -------------------------------------------------------------------

    def flow(self, flow: Flow[Any]) -> None:
        self.flows[flow.name] = flow

    def command(self, name: str, handler: Handler, kind: Kind = Kind.SWITCH) -> None:
        self.commands[name] = Command(name, handler, kind)

    def click(self, action: str, handler: Handler, kind: Kind = Kind.OVERLAY) -> None:
        self.global_clicks[action] = Command(action, handler, kind)

    # --- entry points -------------------------------------------------------------------

    async def handle(self, who: Identity, event: Event, *, update_id: int | None = None) -> Outcome:
        """Handle one event from a user, strictly after their earlier ones."""
        async with self._user_lock(who):
            try:
                return await self._handle(who, event, update_id)
            except IntegrityError:
                if update_id is not None:  # another instance recorded this update first
                    return Outcome(duplicate=True)
                raise

    async def push(self, who: Identity, compose: Callable[[Ctx], Awaitable[None]], sender: Sender) -> SendResult:
        """Send a bot-initiated message (a nudge, an invitation): ``compose`` runs like a handler, in the
        user's transaction (it may start a flow), then the replies go out through ``sender``."""
        async with self._user_lock(who):
            async with self._begin() as tx:
                found = await self._load(tx, who, create=False)
                if found is None or found[0].blocked:
                    return SendResult(SendStatus.SKIPPED)
                user, row = found
                ctx, before = self._context(tx, user, row)
                await compose(ctx)
                await self._finish(tx, ctx, row, before)
            if not ctx.replies:
                return SendResult(SendStatus.SKIPPED)
            result = await sender.send(who, ctx.replies)
        if result.status is SendStatus.BLOCKED:
            await self.mark_blocked(who)
        return result

    async def where(self, who: Identity) -> Where:
        """Where the user is, read from the database: the flow and step, how far they got, and the draft
        put aside. Stored state that does not validate raises ``ValueError`` (the explorer's check)."""
        async with self._begin() as tx:
            found = await self._load(tx, who, create=False)
        if found is None:
            return Where(None, None, "", None, None, None)
        user, row = found
        if row is None:
            return Where(None, None, "", None, None, None)
        ctx = Ctx(tx.db, user, self, self.clock())
        try:
            parked = self._decode(row.parked_flow, row.parked_data_enc or b"") if row.parked_flow else None
            current = self._decode(row.flow, row.data_enc) if row.flow else None
        except _BadState as exc:
            raise ValueError(f"stored state of user {user.id} does not validate: {exc}") from exc
        if current is not None and row.step not in current[0].steps and row.step != interrupt.STEP:
            raise ValueError(f"stored step {row.step!r} is not a step of {row.flow}")
        if current is not None:
            ctx.flow, ctx.step, ctx.state, ctx.pending = row.flow, row.step, current[1], current[2]
        return Where(
            ctx.flow,
            ctx.step,
            self._screen(ctx),
            self.work(ctx),
            parked[0].name if parked else None,
            parked[0].progress(parked[1]) if parked else None,
        )

    async def mark_blocked(self, who: Identity) -> None:
        """The user blocked us: stop messaging them until they write again."""
        async with self._begin() as tx:
            await tx.conn.execute(
                update(User)
                .where(User.channel == who.channel, User.external_id == who.external_id)
                .values(blocked=True)
            )

    async def mark_undelivered(self, who: Identity) -> None:
        """The replies to the user's last event could not be delivered: their next text re-asks the step."""
        async with self._begin() as tx:
            user_id = select(User.id).where(User.channel == who.channel, User.external_id == who.external_id)
            await tx.conn.execute(
                update(ConversationSession).where(ConversationSession.user_id.in_(user_id)).values(undelivered=True)
            )

    async def close(self) -> None:
        """Close the connection kept for SQLite's transactions (the database engine is the runtime's)."""
        async with self._write_lock or contextlib.nullcontext():
            conn, self._conn = self._conn, None
            if conn is not None:
                await conn.close()

    # --- one event ----------------------------------------------------------------------

    async def _handle(self, who: Identity, event: Event, update_id: int | None) -> Outcome:
        async with self._begin() as tx:
            if update_id is not None and not await self._claim(tx, who, update_id):
                return Outcome(duplicate=True)
            # A button pressed by no one we know (its user erased): stored again neither they nor the update.
            found = await self._load(tx, who, create=True, new=not isinstance(event, ClickEvent))
            if found is None:
                mine = (InboxUpdate.channel == who.channel) & (InboxUpdate.update_id == (update_id or -1))
                await tx.conn.execute(update(InboxUpdate).where(mine).values(payload_enc=b""))
                return Outcome(notice=ALREADY_ERASED)
            user, row = found
            ctx, before = self._context(tx, user, row)
            ctx.update_id = update_id
            keep = await self._dispatch(ctx, event, row)
            await self._finish(tx, ctx, row, before)
            pressed = "" if keep is None or ctx.notice else ("clear" if keep else "replace")
            return Outcome(ctx.replies, ctx.notice, pressed=pressed)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A database transaction; on SQLite one at a time in this process."""
        async with self._begin() as tx:
            yield tx.db()

    @contextlib.asynccontextmanager
    async def _begin(self) -> AsyncIterator[Tx]:
        """A transaction: on PostgreSQL on a pooled connection; on SQLite one at a time in this process, on
        the connection kept for them, which begins them with BEGIN IMMEDIATE (see ``bot/db.py``)."""
        if self._write_lock is None:
            async with self.database.connect() as conn, self._transact(conn) as tx:
                yield tx
            return
        async with self._write_lock:
            if self._conn is None:
                self._conn = await self.database.connect()
                await self._conn.execution_options(immediate=True)
                self._driver = inline_driver((await self._conn.get_raw_connection()).driver_connection)
            async with self._transact(self._conn, self._driver) as tx:
                yield tx

    @contextlib.asynccontextmanager
    async def _transact(self, conn: AsyncConnection, driver: InlineDriver | None = None) -> AsyncIterator[Tx]:
        tx = Tx(conn, self.sessionmaker, driver)
        await tx.begin()
        try:
            yield tx
            await tx.commit()
        except BaseException:
            try:
                await tx.rollback()
            except Exception:
                if conn is self._conn:  # a broken connection: the next transaction opens another
                    self._conn = None
                    with contextlib.suppress(Exception):
                        await conn.close()
                raise
            raise
        finally:
            if tx.session is not None:
                await tx.session.close()

    @contextlib.asynccontextmanager
    async def _user_lock(self, who: Identity) -> AsyncIterator[None]:
        key = (who.channel, who.external_id)
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    async def _claim(self, tx: Tx, who: Identity, update_id: int) -> bool:
        """Mark the update handled in this transaction; False if it was handled already."""
        now = self.clock()
        key = {"b_channel": who.channel, "b_update_id": update_id}
        if await tx.run(CLAIM, {**key, "b_now": now}) == 1:
            return True
        if await tx.first(SEEN, key) is not None:
            return False
        # Not stored (handled without the inbox): recorded as done. A concurrent claim fails here
        # (IntegrityError): a duplicate.
        await tx.run(
            INSERT_DONE,
            {
                "channel": who.channel,
                "update_id": update_id,
                "user_key": who.external_id,
                "payload_enc": b"",
                "received_at": now,
                "done_at": now,
            },
        )
        return True

    async def _load(
        self, tx: Tx, who: Identity, *, create: bool, new: bool = True
    ) -> tuple[User, Stored | None] | None:
        """The user, locked before anything of theirs is read, and their session row. On PostgreSQL the
        session is read by a statement of its own after the lock, so a second instance that waited reads
        what the first one committed; SQLite's transactions already hold the database (BEGIN IMMEDIATE),
        so one query does. ``create``: the user wrote to us (and so is not blocked); ``new``: store them if
        they aren't yet (not for a button press: a user we don't know pressed a button of an erased one)."""
        found = await self._find(tx, who)
        now = self.clock()
        if found is None:
            if not create or not new:
                return None
            dialect = "postgresql" if tx.conn.dialect.name == "postgresql" else "sqlite"
            await tx.run(INSERT_USER[dialect], self._new_user(who, now))
            found = await self._find(tx, who)
            assert found is not None
        user, row = found
        tx.user = user
        if self._write_lock is None:
            row = stored(await tx.first(STORED, {"b_user_id": user.id}))
        if create:
            if user.blocked or aware(user.last_seen_at) < now - _SEEN_RESOLUTION:
                user.last_seen_at, user.blocked = now, False
            if who.first_name and who.first_name != user.first_name:
                user.first_name = who.first_name
        return user, row

    async def _find(self, tx: Tx, who: Identity) -> tuple[User, Stored | None] | None:
        mine = {"channel": who.channel, "external_id": who.external_id}
        if self._write_lock is None:  # PostgreSQL: lock the user row only
            found = await tx.first(LOCK_USER, mine)
            return (user_object(found), None) if found is not None else None
        found = await tx.first(USER_AND_SESSION, mine)
        if found is None:
            return None
        n = len(USER_KEYS)
        return user_object(found[:n]), stored(found[n:])

    def _new_user(self, who: Identity, now: datetime) -> dict[str, Any]:
        return dict(
            channel=who.channel,
            external_id=who.external_id,
            first_name=who.first_name,
            created_at=now,
            last_seen_at=now,
            onboarded=False,
            framework="mlf2025",
            stage="1",
            reflect_day=4,
            reflect_time="17:30",
            timezone=self.default_timezone,
            prompt_model="rolfe",
            blocked=False,
        )

    def _context(self, tx: Tx, user: User, row: Stored | None) -> tuple[Ctx, _Snapshot]:
        ctx = Ctx(tx.db, user, self, self.clock())
        return ctx, self._restore(ctx, row)

    # --- stored state -------------------------------------------------------------------

    def _restore(self, ctx: Ctx, row: Stored | None) -> _Snapshot:
        """The stored state into ``ctx``. The snapshot keeps the stored JSON text, to tell what changed."""
        snap = _Snapshot()
        if row is None:
            return snap
        if row.parked_flow and row.parked_data_enc and row.parked_until and aware(row.parked_until) > ctx.now:
            try:
                flow, state, where, text = self._decode(row.parked_flow, row.parked_data_enc)
                step = (where or {}).get("step", "")
                if step not in flow.steps:
                    raise _BadState(f"no step {step!r}")
                ctx.parked = (flow.name, step, state)
                snap.parked = text
            except _BadState as exc:
                log.warning("dropped a parked %s draft of user %s: %s", row.parked_flow, ctx.user.id, exc)
        if not row.flow or aware(row.expires_at) <= ctx.now:
            return snap
        try:
            flow, state, pending, text = self._decode(row.flow, row.data_enc)
        except _BadState as exc:
            log.warning("dropped the %s conversation of user %s: %s", row.flow, ctx.user.id, exc)
            ctx.say(STATE_DROPPED)
            return snap
        if row.step not in flow.steps and row.step != interrupt.STEP:
            log.warning("dropped the %s conversation of user %s: no step %r", row.flow, ctx.user.id, row.step)
            ctx.say(STATE_DROPPED)
            return snap
        ctx.flow, ctx.step, ctx.state, ctx.pending = flow.name, row.step, state, pending
        snap.blob, snap.screen = text, self._screen(ctx)
        return snap

    def _decode(self, name: str, blob: bytes) -> tuple[Flow[Any], FlowState, dict[str, str] | None, str]:
        """A stored state: its flow, the state, what was pending, and the JSON text as stored."""
        flow = self.flows.get(name)
        if flow is None:
            raise _BadState(f"unknown flow {name!r}")
        try:
            text = self.cipher.decrypt_text(blob)
            envelope = json.loads(text)
        except (DecryptionError, ValueError) as exc:
            raise _BadState("undecryptable") from exc
        if not isinstance(envelope, dict) or envelope.get("v") != flow.state.schema_version:
            raise _BadState("another schema version")
        try:
            state = flow.state.model_validate(envelope.get("data"))
        except ValidationError as exc:
            raise _BadState(f"invalid ({exc.error_count()} errors)") from exc
        pending = envelope.get("pending")
        return flow, state, pending if isinstance(pending, dict) else None, text

    @staticmethod
    def _encode(flow: Flow[Any], state: FlowState, pending: dict[str, str] | None) -> str:
        envelope = {"v": flow.state.schema_version, "data": state.model_dump(mode="json"), "pending": pending}
        return json.dumps(envelope, sort_keys=True, ensure_ascii=False)

    def _encrypt(self, blob: str) -> bytes:
        return self.cipher.encrypt_text(blob)

    def _screen(self, ctx: Ctx) -> str:
        """Which prompt the user is looking at; buttons stay valid until it changes."""
        if ctx.flow is None or ctx.state is None:
            return ""
        if ctx.step == interrupt.STEP:
            return f"{ctx.flow}/{interrupt.STEP}/{(ctx.pending or {}).get('confirm', '')}"
        step = self.flows[ctx.flow].steps[ctx.step or ""]
        return f"{ctx.flow}/{ctx.step}/{step.screen(ctx.state)}"

    async def _finish(self, tx: Tx, ctx: Ctx, row: Stored | None, before: _Snapshot) -> None:
        """Save what changed (nothing, if nothing did) and sign the buttons with the step's version."""
        if ctx.erased:
            self._sign(ctx.replies, 0, 0)
            return
        flow = self.flows[ctx.flow] if ctx.flow else None
        blob = self._encode(flow, ctx.state, ctx.pending) if flow and ctx.state else ""
        parked = ""
        if ctx.parked is not None:
            parked = self._encode(self.flows[ctx.parked[0]], ctx.parked[2], {"step": ctx.parked[1]})
        screen = self._screen(ctx)
        unchanged = blob == before.blob and parked == before.parked and screen == before.screen
        if row is None and not blob and not parked:
            self._sign(ctx.replies, ctx.user.id, 0)
            return
        if row is not None and unchanged and not row.undelivered:
            self._sign(ctx.replies, ctx.user.id, row.version)
            return
        version = (row.version if row is not None else 0) + (screen != before.screen)
        values: dict[str, Any] = {
            "flow": ctx.flow or "",
            "step": ctx.step or "",
            "undelivered": False,
            "version": version,
            "data_enc": self._encrypt(blob) if blob else b"",
            "updated_at": ctx.now,
            "expires_at": ctx.now + self.session_ttl,
        }
        if row is None or parked != before.parked:
            values["parked_flow"] = ctx.parked[0] if ctx.parked else ""
            values["parked_data_enc"] = self._encrypt(parked) if parked else None
            values["parked_until"] = ctx.now + self.session_ttl if parked else None
        if row is None:
            await tx.run(INSERT_SESSION, {"user_id": ctx.user.id, **values})
        else:
            await tx.run(
                SAVE_STATE_AND_PARKED if "parked_flow" in values else SAVE_STATE, {"b_user_id": ctx.user.id, **values}
            )
        self._sign(ctx.replies, ctx.user.id, version)

    # --- dispatch -----------------------------------------------------------------------

    async def _dispatch(self, ctx: Ctx, event: Event, row: Stored | None) -> bool | None:
        """Run the event; for a button of the current step, return whether its message is kept."""
        try:
            if isinstance(event, CommandEvent):
                await self.run_command(ctx, event.name.lower(), event.args.strip())
            elif isinstance(event, ClickEvent):
                return await self._click(ctx, event.data, row)
            else:
                await self._text(ctx, event.text.strip(), row)
        except FlowError as exc:
            ctx.say(exc.message)
        return None

    async def run_command(self, ctx: Ctx, name: str, args: str = "") -> None:
        command = self.commands.get(name)
        if command is None:
            ctx.say(unknown_command(name))
            await self.carry_on(ctx)
            return
        await self._run(ctx, command, args, {"kind": "command", "name": name, "args": args})

    async def _run(self, ctx: Ctx, command: Command, arg: str, pending: dict[str, str]) -> None:
        """Run a command or global button, minding a flow in progress."""
        if command.kind is Kind.SWITCH:
            if self.work(ctx) is not None:
                interrupt.hold(ctx, pending)
                await self.ask(ctx)
                return
            ctx.finish()
            await command.handler(ctx, arg)
            return
        where = (ctx.flow, ctx.step)
        await command.handler(ctx, arg)
        if command.kind is Kind.OVERLAY and (ctx.flow, ctx.step) == where:
            await self.carry_on(ctx)

    async def resume_pending(self, ctx: Ctx, pending: dict[str, str]) -> None:
        """Run what was asked for before the user chose what to do with their unfinished flow."""
        if pending.get("kind") == "click":
            command = self.global_clicks.get(pending.get("action", ""))
            if command is not None:
                await command.handler(ctx, pending.get("arg", ""))
            return
        await self.run_command(ctx, pending.get("name", "menu"), pending.get("args", ""))

    def work(self, ctx: Ctx) -> str | None:
        """How far the user got in the current flow ("2/3"), or None if there is nothing to lose."""
        if ctx.flow is None or ctx.state is None:
            return None
        return self.flows[ctx.flow].progress(ctx.state)

    async def ask(self, ctx: Ctx) -> None:
        """Say the current step's prompt, with its buttons."""
        if ctx.flow is None or ctx.state is None:
            return
        if ctx.step == interrupt.STEP:
            ctx.say(interrupt.prompt(ctx), interrupt.buttons(ctx))
            return
        step = self._step(ctx)
        made = step.prompt if isinstance(step.prompt, str) else step.prompt(ctx, ctx.state)
        ctx.say(await made if inspect.isawaitable(made) else made, step.buttons(ctx, ctx.state))

    def buttons(self, ctx: Ctx) -> list[Button]:
        """The buttons the current step shows, from its state alone: nothing is run or said."""
        if ctx.flow is None or ctx.state is None:
            return []
        rows = interrupt.buttons(ctx) if ctx.step == interrupt.STEP else self._step(ctx).buttons(ctx, ctx.state)
        return [b for row in rows for b in row]

    async def carry_on(self, ctx: Ctx) -> None:
        """After something run on top of a flow, ask its step again (its buttons are still valid)."""
        if ctx.flow is not None:
            await self.ask(ctx)

    def _step(self, ctx: Ctx) -> Step[Any]:
        return self.flows[ctx.flow or ""].steps[ctx.step or ""]

    async def _click(self, ctx: Ctx, data: str, row: Stored | None) -> bool | None:
        parsed = self._verify(data, ctx.user.id)
        if parsed is None:
            log.info("ignored a button with a bad signature for user %s", ctx.user.id)
            ctx.notice = FORGED_BUTTON
            ctx.say(FORGED_BUTTON)
            await self.run_command(ctx, "menu")
            return None
        version, action, arg = parsed
        if version == 0:
            command = self.global_clicks.get(action)
            if command is None:
                ctx.notice = STALE_BUTTON
                return None
            await self._run(ctx, command, arg, {"kind": "click", "action": action, "arg": arg})
            return None
        if ctx.flow is None or ctx.state is None or row is None or version != row.version:
            ctx.notice = STALE_BUTTON
            await self.carry_on(ctx)
            return None
        if ctx.step == interrupt.STEP:
            await interrupt.choose(ctx, action)
            return False
        step = self._step(ctx)
        handler = step.actions.get(action)
        if handler is None:
            ctx.notice = STALE_BUTTON
            await self.carry_on(ctx)
            return None
        await handler(ctx, ctx.state, arg)
        return step.keep

    async def _text(self, ctx: Ctx, text: str, row: Stored | None) -> None:
        if not text:
            return
        if ctx.flow is None or ctx.state is None:
            if self.idle_text is not None:
                await self.idle_text(ctx, text)
            return
        if row is not None and row.undelivered:
            ctx.say(RESENT)  # never take text as the answer to a question the user wasn't shown
            await self.ask(ctx)
            return
        button = self._typed_button(ctx, text, row.version if row else 0)
        if button is not None:
            await self._click(ctx, button.data, row)
            return
        if typed.plain(text) in ("stop", "cancel"):  # a word for /cancel, where no button is called that
            await self.run_command(ctx, "cancel")
            return
        step = None if ctx.step == interrupt.STEP else self._step(ctx)
        if step is None or step.text is None:
            ctx.say(USE_BUTTONS)
            await self.ask(ctx)
            return
        await step.text(ctx, ctx.state, text)

    def _typed_button(self, ctx: Ctx, text: str, version: int) -> Button | None:
        """A typed answer that names one of the current step's buttons ("Continue", "3", "later", "skip")
        presses it. A step that takes free text only gives way to a button's whole label or a word like
        "skip"; a step that takes numbers keeps typed numbers as its answers."""
        if len(text) > 60:
            return None
        step = None if ctx.step == interrupt.STEP else self._step(ctx)
        buttons = [self._signed(b, ctx.user.id, version) for b in self.buttons(ctx)]
        return typed.match(
            buttons, text, free=step is not None and step.free, numeric=step is not None and step.numeric
        )

    # --- button data --------------------------------------------------------------------

    def _mac(self, user_id: int, version: int, action: str, arg: str) -> str:
        return self.cipher.sign(json.dumps([user_id, version, action, arg]), length=MAC_CHARS)

    def _verify(self, data: str, user_id: int) -> tuple[int, str, str] | None:
        parts = data.split("|")
        if len(parts) != 4 or not parts[0].isdigit():
            return None
        version, action, arg, mac = int(parts[0]), parts[1], parts[2], parts[3]
        if not hmac.compare_digest(self._mac(user_id, version, action, arg).encode(), mac.encode()):
            return None
        return version, action, arg

    def sign(self, replies: list[Reply], user_id: int) -> None:
        """Sign a bot-initiated message's buttons outside a transaction: only global (unscoped) ones,
        which don't depend on where the user is in a conversation."""
        if any(b.scoped for r in replies for row in r.buttons for b in row):
            raise ValueError("a message signed outside a conversation can only have global buttons")
        self._sign(replies, user_id, 0)

    def _sign(self, replies: list[Reply], user_id: int, version: int) -> None:
        """Give each button its signed data, on a copy: a Button a flow keeps as a constant is shared by every
        user's replies, so signing it in place let one user's signature overwrite another's."""
        for reply in replies:
            reply.buttons = [[self._signed(b, user_id, version) for b in row] for row in reply.buttons]

    def _signed(self, b: Button, user_id: int, version: int) -> Button:
        if "|" in b.action or "|" in b.arg:
            raise ValueError(f"'|' in a button's action or argument: {b.action!r} {b.arg!r}")
        v = version if b.scoped else 0
        data = f"{v}|{b.action}|{b.arg}|{self._mac(user_id, v, b.action, b.arg)}"
        if len(data.encode()) > MAX_CALLBACK_BYTES:
            raise ValueError(f"callback data over {MAX_CALLBACK_BYTES} bytes: {data!r}")
        return replace(b, data=data)
