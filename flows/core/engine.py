"""The flow engine: for one event, lock the user, load their conversation, run the declared flow,
save the new state and sign the buttons, all in one transaction. Adapters only render."""

from __future__ import annotations

import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from flows.core import interrupt, typed
from flows.core.crypto import Cipher
from flows.core.flow import Command, Ctx, Flow, FlowError, Handler, Kind, Step
from flows.core.push import Sender, SendResult, SendStatus
from flows.core.replies import Button, ClickEvent, CommandEvent, Event, Identity, Outcome, Reply, TextEvent
from flows.core.sessions import SessionStore, Where
from flows.core.signing import ButtonSigner
from flows.core.storage import Stored
from flows.core.texts import (
    ALREADY_ERASED,
    FORGED_BUTTON,
    PIECE_ADDED,
    RESENT,
    STALE_BUTTON,
    USE_BUTTONS,
    unknown_command,
)
from flows.core.transactions import Transactions
from flows.rules.schedule import Round
from flows.store.models import ConversationSession, InboxUpdate, User
from frameworks.catalogue import Catalogue
from frameworks.lookup import LookupIndex

log = logging.getLogger(__name__)

PIECE_CHARS = range(4000, 4097)  # how long the first part of a message Telegram split in two is
PIECE_WINDOW = timedelta(seconds=3)


class Engine:
    """Turns events into replies. Adapters (Telegram, terminal) own only rendering."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        catalogue: Catalogue,
        index: LookupIndex | Callable[[], LookupIndex],
        cipher: Cipher,
        *,
        session_ttl: timedelta = timedelta(days=14),
        clock: Callable[[], datetime] | None = None,
        default_timezone: str = "Europe/London",
        single_writer: bool = False,
        appraisal_round: Round | None = None,
        feedback_min_raters: int = 3,
    ) -> None:
        self.tx = Transactions(sessionmaker, single_writer=single_writer)
        self.store = SessionStore(self)
        self.signer = ButtonSigner(cipher)
        self.catalogue = catalogue
        self._index = index  # or what builds it, at the first lookup (a start does without it)
        self.cipher = cipher
        self.session_ttl = session_ttl
        self.clock = clock or (lambda: datetime.now(UTC))
        self.default_timezone = default_timezone
        self.appraisal_round = appraisal_round  # the operator's default, for users who set no date
        self.feedback_min_raters = max(3, feedback_min_raters)  # 360° results need this many answers, never < 3
        self.bot_username: str | None = None  # from getMe, set by the Telegram runtime (the terminal has none)
        self.flows: dict[str, Flow[Any]] = {}
        self.commands: dict[str, Command] = {}
        self.global_clicks: dict[str, Command] = {}
        self.idle_text: Handler | None = None

    @property
    def index(self) -> LookupIndex:
        if not isinstance(self._index, LookupIndex):
            self._index = self._index()
        return self._index

    @property
    def sessionmaker(self) -> async_sessionmaker[AsyncSession]:
        return self.tx.sessionmaker

    @property
    def database(self) -> AsyncEngine:
        return self.tx.database

    @property
    def single_writer(self) -> bool:
        return self.tx.single_writer

    def transaction(self) -> contextlib.AbstractAsyncContextManager[AsyncSession]:
        """A database transaction; on SQLite one at a time in this process."""
        return self.tx.transaction()

    async def close(self) -> None:
        """Close the connection kept for SQLite's transactions (the database engine is the runtime's)."""
        await self.tx.close()

    async def where(self, who: Identity) -> Where:
        """Where the user is (for tests and tools): see ``SessionStore.where``."""
        return await self.store.where(who)

    def sign(self, replies: list[Reply], user_id: int) -> None:
        """Sign a bot-initiated message's buttons outside a transaction: only global (unscoped) ones,
        which don't depend on where the user is in a conversation."""
        if any(b.scoped for r in replies for row in r.buttons for b in row):
            raise ValueError("a message signed outside a conversation can only have global buttons")
        self.signer.sign(replies, user_id, 0)

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
        async with self.tx.user_lock(who), self.tx.event():
            try:
                return await self._handle(who, event, update_id)
            except IntegrityError:
                if update_id is not None:  # another instance recorded this update first
                    return Outcome(duplicate=True)
                raise

    async def push(self, who: Identity, compose: Callable[[Ctx], Awaitable[None]], sender: Sender) -> SendResult:
        """Send a bot-initiated message (a nudge, an invitation): ``compose`` runs like a handler, in the
        user's transaction (it may start a flow), then the replies go out through ``sender``."""
        async with self.tx.user_lock(who):
            async with self.tx.event(), self.tx.begin() as tx:
                found = await self.store.load(tx, who, create=False)
                if found is None or found[0].blocked:
                    return SendResult(SendStatus.SKIPPED)
                user, row = found
                ctx, before = self.store.context(tx, user, row)
                await compose(ctx)
                await self.store.finish(tx, ctx, row, before)
            if not ctx.replies:
                return SendResult(SendStatus.SKIPPED)
            result = await sender.send(who, ctx.replies)
        if result.status is SendStatus.BLOCKED:
            await self.mark_blocked(who)
        return result

    async def mark_blocked(self, who: Identity) -> None:
        """The user blocked us: stop messaging them until they write again."""
        async with self.tx.begin() as tx:
            await tx.conn.execute(
                update(User)
                .where(User.channel == who.channel, User.external_id == who.external_id)
                .values(blocked=True)
            )

    async def mark_undelivered(self, who: Identity) -> None:
        """The replies to the user's last event could not be delivered: their next text re-asks the step."""
        async with self.tx.begin() as tx:
            user_id = select(User.id).where(User.channel == who.channel, User.external_id == who.external_id)
            await tx.conn.execute(
                update(ConversationSession).where(ConversationSession.user_id.in_(user_id)).values(undelivered=True)
            )

    # --- one event ----------------------------------------------------------------------

    async def _handle(self, who: Identity, event: Event, update_id: int | None) -> Outcome:
        async with self.tx.begin() as tx:
            # A button pressed by no one we know (its user erased): stored again neither they nor the update.
            new = not isinstance(event, ClickEvent)
            begun = await self.store.begin_event(tx, who, update_id, new=new)
            if begun.duplicate:
                return Outcome(duplicate=True)
            if begun.behind is not None:
                return Outcome(behind=begun.behind)
            found = begun.found
            if found is None:
                mine = (InboxUpdate.channel == who.channel) & (InboxUpdate.update_id == (update_id or -1))
                await tx.conn.execute(update(InboxUpdate).where(mine).values(payload_enc=b""))
                return Outcome(notice=ALREADY_ERASED)
            user, row = found
            ctx, before = self.store.context(tx, user, row)
            ctx.update_id = update_id
            keep = await self._dispatch(ctx, event, row)
            await self.store.finish(tx, ctx, row, before)
            pressed = "" if keep is None or ctx.notice else ("clear" if keep else "replace")
            return Outcome(ctx.replies, ctx.notice, pressed=pressed)

    # --- dispatch -----------------------------------------------------------------------

    async def _dispatch(self, ctx: Ctx, event: Event, row: Stored | None) -> bool | None:
        """Run the event; for a button of the current step, return whether its message is kept."""
        piece, ctx.piece = ctx.piece, None  # only the very next text can continue a long one
        try:
            if isinstance(event, TextEvent) and await self._continued(ctx, event.text.strip(), piece):
                return None
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
        parsed = self.signer.verify(data, ctx.user.id)
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
        where = ctx.step
        await step.text(ctx, ctx.state, text)
        if step.append is not None and len(text) in PIECE_CHARS:  # Telegram may send the rest in a moment
            ctx.piece = {"step": where or "", "at": ctx.now.isoformat()}

    async def _continued(self, ctx: Ctx, text: str, piece: dict[str, str] | None) -> bool:
        """Text that follows a long one within seconds is the rest of it (Telegram splits a message over
        4,096 characters in two): added to that answer, not taken as the answer to the next question."""
        if piece is None or ctx.flow is None or ctx.state is None or not text:
            return False
        step = self.flows[ctx.flow].steps.get(piece.get("step", ""))
        if step is None or step.append is None:
            return False
        try:
            if ctx.now - datetime.fromisoformat(piece.get("at", "")) > PIECE_WINDOW:
                return False
        except (TypeError, ValueError):  # a note that isn't a time: not a piece
            return False
        ctx.say(PIECE_ADDED)
        await step.append(ctx, ctx.state, text)
        return True

    def _typed_button(self, ctx: Ctx, text: str, version: int) -> Button | None:
        """A typed answer that names one of the current step's buttons ("Continue", "3", "later", "skip")
        presses it. A step that takes free text only gives way to a button's whole label or a word like
        "skip"; a step that takes numbers keeps typed numbers as its answers."""
        if len(text) > 60:
            return None
        step = None if ctx.step == interrupt.STEP else self._step(ctx)
        buttons = [self.signer.signed(b, ctx.user.id, version) for b in self.buttons(ctx) if not b.url]
        return typed.match(
            buttons, text, free=step is not None and step.free, numeric=step is not None and step.numeric
        )
