"""The flow engine: load the user's session, run the flow, save the new state in one transaction."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flows.crypto import Cipher
from flows.models import ConversationSession, InboxUpdate, User
from flows.replies import (
    Attachment,
    Button,
    ClickEvent,
    CommandEvent,
    Event,
    Identity,
    Outcome,
    Reply,
    TextEvent,
)
from flows.texts import FORGED_BUTTON, STALE_BUTTON, unknown_command
from frameworks.catalogue import Catalogue
from frameworks.lookup import LookupIndex

log = logging.getLogger(__name__)

MAX_CALLBACK_BYTES = 64
_SEEN_RESOLUTION = timedelta(minutes=10)


class FlowError(Exception):
    """A problem the user should hear about, in their words."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class State:
    flow: str | None = None
    step: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Ctx:
    """Everything a flow handler needs for one event."""

    db: AsyncSession
    user: User
    state: State
    catalogue: Catalogue
    index: LookupIndex
    cipher: Cipher
    now: datetime
    replies: list[Reply] = field(default_factory=list)
    notice: str | None = None
    erased: bool = False
    ttl_days: int = 14

    def say(self, text: str, buttons: list[list[Button]] | None = None, attachment: Attachment | None = None) -> None:
        self.replies.append(Reply(text, buttons or [], attachment))

    def goto(self, flow: str, step: str, **data: Any) -> None:
        if flow != self.state.flow:
            self.state = State(flow, step, {})
        self.state.step = step
        self.state.data.update(data)

    def finish(self) -> None:
        self.state = State()


TextHandler = Callable[[Ctx, str], Awaitable[None]]
ClickHandler = Callable[[Ctx, str, str], Awaitable[None]]
CommandHandler = Callable[[Ctx, str], Awaitable[None]]


@dataclass
class Flow:
    name: str
    on_text: TextHandler
    on_click: ClickHandler
    resume: Callable[[Ctx], Awaitable[None]]  # say again where the user is


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
    ) -> None:
        self.default_timezone = default_timezone
        self.sessionmaker = sessionmaker
        self.catalogue = catalogue
        self.index = index
        self.cipher = cipher
        self.session_ttl = session_ttl
        self.clock = clock or (lambda: datetime.now(UTC))
        self.flows: dict[str, Flow] = {}
        self.commands: dict[str, CommandHandler] = {}
        self.global_clicks: dict[str, ClickHandler] = {}
        self.idle_text: TextHandler | None = None
        from flows import register_all

        register_all(self)

    # --- registration -------------------------------------------------------------------

    def flow(self, flow: Flow) -> None:
        self.flows[flow.name] = flow

    def command(self, name: str, handler: CommandHandler) -> None:
        self.commands[name] = handler

    def click(self, action: str, handler: ClickHandler) -> None:
        self.global_clicks[action] = handler

    # --- handling -----------------------------------------------------------------------

    async def handle(self, who: Identity, event: Event, *, update_id: int | None = None) -> Outcome:
        try:
            return await self._handle_once(who, event, update_id)
        except IntegrityError:
            # Either this update was processed already (here or by another instance), or a first
            # message raced another one creating the same user: then the second try finds the user.
            if update_id is not None and await self._processed(who.channel, update_id):
                return Outcome(duplicate=True)
            return await self._handle_once(who, event, update_id)

    async def _processed(self, channel: str, update_id: int) -> bool:
        async with self.sessionmaker() as db:
            return await db.get(InboxUpdate, (channel, update_id)) is not None

    async def _handle_once(self, who: Identity, event: Event, update_id: int | None) -> Outcome:
        async with self.sessionmaker() as db, db.begin():
            if update_id is not None:
                # Recorded in the same transaction: a repeat (or a second instance) fails on commit.
                now = self.clock()
                db.add(
                    InboxUpdate(
                        channel=who.channel,
                        update_id=update_id,
                        user_key=who.external_id,
                        payload_enc=b"",
                        received_at=now,
                        done_at=now,
                    )
                )
            user, row = await self._user(db, who)
            state = self._state(row, user)
            ctx = Ctx(
                db,
                user,
                state,
                self.catalogue,
                self.index,
                self.cipher,
                self.clock(),
                ttl_days=self.session_ttl.days,
            )
            await self._dispatch(ctx, event, row)
            if not ctx.erased:
                version = self._save_state(
                    db,
                    user,
                    row,
                    ctx.state,
                    changed=not isinstance(event, ClickEvent) or ctx.state.flow is not None,
                )
                self._sign(ctx.replies, user.id, version)
            else:
                self._sign(ctx.replies, 0, 0)
            return Outcome(ctx.replies, ctx.notice)

    async def mark_blocked(self, who: Identity) -> None:
        """The user blocked us: stop messaging them until they write again."""
        async with self.sessionmaker() as db, db.begin():
            user = (
                await db.execute(select(User).where(User.channel == who.channel, User.external_id == who.external_id))
            ).scalar_one_or_none()
            if user is not None:
                user.blocked = True

    async def _user(self, db: AsyncSession, who: Identity) -> tuple[User, ConversationSession | None]:
        """The user and their session row in one query (the user row locked on PostgreSQL)."""
        found = (
            await db.execute(
                select(User, ConversationSession)
                .outerjoin(ConversationSession, ConversationSession.user_id == User.id)
                .where(User.channel == who.channel, User.external_id == who.external_id)
                .with_for_update(of=User)
            )
        ).one_or_none()
        now = self.clock()
        if found is not None:
            user, row = found
            # Touch the row only when something changed, to keep each update to a few statements.
            if user.blocked or _aware(user.last_seen_at) < now - _SEEN_RESOLUTION:
                user.last_seen_at = now
                user.blocked = False
            if who.first_name and who.first_name != user.first_name:
                user.first_name = who.first_name
            return user, row
        user = User(
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
        db.add(user)
        await db.flush()
        return user, None

    def _state(self, row: ConversationSession | None, user: User) -> State:
        if row is None or not row.flow or _aware(row.expires_at) <= self.clock():
            return State()
        data = self.cipher.decrypt_json(row.data_enc)
        if row.flow not in self.flows or not isinstance(data, dict):
            log.warning("discarding a session with unknown flow %r for user %s", row.flow, user.id)
            return State()
        return State(row.flow, row.step, data)

    def _save_state(
        self, db: AsyncSession, user: User, row: ConversationSession | None, state: State, *, changed: bool
    ) -> int:
        now = self.clock()
        if row is None:
            row = ConversationSession(
                user_id=user.id, flow="", step="", version=0, data_enc=b"", updated_at=now, expires_at=now
            )
            db.add(row)
        if changed:
            row.version += 1
        row.flow = state.flow or ""
        row.step = state.step or ""
        row.data_enc = self.cipher.encrypt_json(state.data)
        row.updated_at = now
        row.expires_at = now + self.session_ttl
        return row.version

    async def _dispatch(self, ctx: Ctx, event: Event, row: ConversationSession | None) -> None:
        try:
            if isinstance(event, CommandEvent):
                await self._command(ctx, event)
            elif isinstance(event, ClickEvent):
                await self._click(ctx, event, row)
            else:
                await self._text(ctx, event)
        except FlowError as exc:
            ctx.say(exc.message)

    async def _command(self, ctx: Ctx, event: CommandEvent) -> None:
        handler = self.commands.get(event.name.lower())
        if handler is None:
            ctx.say(unknown_command(event.name))
            return
        await handler(ctx, event.args.strip())

    async def _text(self, ctx: Ctx, event: TextEvent) -> None:
        text = event.text.strip()
        if not text:
            return
        flow = self.flows.get(ctx.state.flow or "")
        if flow is not None:
            await flow.on_text(ctx, text)
        elif self.idle_text is not None:
            await self.idle_text(ctx, text)

    async def _click(self, ctx: Ctx, event: ClickEvent, row: ConversationSession | None) -> None:
        parsed = _parse_data(event.data)
        if parsed is None or not self._valid(parsed, ctx.user.id):
            log.info("ignored a button with a bad signature for user %s", ctx.user.id)
            ctx.notice = FORGED_BUTTON
            ctx.say(FORGED_BUTTON)
            await self.commands["menu"](ctx, "")
            return
        version, action, arg, _ = parsed
        if version == 0:
            handler = self.global_clicks.get(action)
            if handler is not None:
                await handler(ctx, action, arg)
                return
        flow = self.flows.get(ctx.state.flow or "")
        current = row.version if row is not None else 0
        if flow is None or version != current:
            ctx.notice = STALE_BUTTON
            if flow is not None:
                await flow.resume(ctx)
            return
        await flow.on_click(ctx, action, arg)

    # --- button data --------------------------------------------------------------------

    def _valid(self, parsed: tuple[int, str, str, str], user_id: int) -> bool:
        version, action, arg, sig = parsed
        return hmac.compare_digest(self._signature(user_id, version, action, arg), sig)

    def _signature(self, user_id: int, version: int, action: str, arg: str) -> str:
        return self.cipher.sign(f"{user_id}:{version}:{action}:{arg}")

    def _sign(self, replies: list[Reply], user_id: int, version: int) -> None:
        for reply in replies:
            for row in reply.buttons:
                for b in row:
                    v = version if b.scoped else 0
                    data = f"{v}|{b.action}|{b.arg}|{self._signature(user_id, v, b.action, b.arg)}"
                    if len(data.encode()) > MAX_CALLBACK_BYTES:
                        raise ValueError(f"callback data over {MAX_CALLBACK_BYTES} bytes: {data!r}")
                    b.data = data


def _parse_data(data: str) -> tuple[int, str, str, str] | None:
    parts = data.split("|")
    if len(parts) != 4 or not parts[0].isdigit():
        return None
    return int(parts[0]), parts[1], parts[2], parts[3]


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
