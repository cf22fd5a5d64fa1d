"""Each user's stored conversation: the user row locked and read with their session, the update claimed,
the flow's state restored (validated, decrypted; bad or old state dropped politely) and, after the
event, saved if it changed, with the buttons signed for the step's version. ``where`` reads it back
for tests and tools."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from flows.core import interrupt
from flows.core.crypto import DecryptionError
from flows.core.flow import Ctx, Flow, FlowState
from flows.core.replies import Identity
from flows.core.storage import (
    CLAIM,
    CLAIM_AND_STORED,
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
    Stored,
    Tx,
    stored,
    user_object,
)
from flows.core.texts import STATE_DROPPED
from flows.rules.schedule import aware
from flows.store.models import User

if TYPE_CHECKING:
    from flows.core.engine import Engine

log = logging.getLogger(__name__)

_SEEN_RESOLUTION = timedelta(minutes=10)


class BadState(Exception):
    """Stored state that can't be used: unknown flow or step, another schema version, invalid or undecryptable."""


@dataclass
class Snapshot:
    """What was stored before the event, to decide what to write and whether the step changed."""

    blob: str = ""
    screen: str = ""
    parked: str = ""


@dataclass(frozen=True)
class Where:
    """Where a user is: see ``SessionStore.where``."""

    flow: str | None
    step: str | None
    screen: str
    progress: str | None  # how far they got in the current flow, None if nothing to lose
    parked: str | None  # the flow of the draft put aside
    parked_progress: str | None


@dataclass(frozen=True)
class Begun:
    """How an event began (``SessionStore.begin_event``)."""

    duplicate: bool = False  # its update was handled already
    behind: int | None = None  # not handled: the user's earlier update (this one) is unhandled in the inbox
    found: tuple[User, Stored | None] | None = None  # the user and their conversation (None: no such user)


class SessionStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def begin_event(self, tx: Tx, who: Identity, update_id: int | None, *, new: bool) -> Begun:
        """The start of an event: whether its update was handled already (a duplicate), else the user
        (locked, stored if ``new``; see ``load``) and their conversation, with the update claimed. On
        PostgreSQL the user's row is locked first, then one statement claims the update and reads the
        conversation; it claims a stored update only if none of the user's earlier ones is unhandled in the
        inbox, and if one is, the event is not handled (``Begun.behind``: that one goes first). On SQLite
        (one process, whose inbox hands each user's updates over in order) the claim comes first."""
        if update_id is None or self.engine.tx.single_writer:
            if update_id is not None and not await self.claim(tx, who, update_id):
                return Begun(duplicate=True)
            return Begun(found=await self.load(tx, who, create=True, new=new))
        found = await self.load(tx, who, create=True, new=new, session=False)
        if found is None:
            return Begun(duplicate=not await self.claim(tx, who, update_id))
        user = found[0]
        key = {"b_channel": who.channel, "b_update_id": update_id, "b_key": who.external_id}
        got = await tx.first(CLAIM_AND_STORED, {**key, "b_now": self.engine.clock(), "b_user_id": user.id})
        assert got is not None  # one row, whatever there is
        claimed, earlier, pending = got[:3]
        if claimed == 0 and earlier is not None and pending:
            return Begun(behind=int(earlier))
        if claimed == 0 and not await self._unstored(tx, who, update_id):
            return Begun(duplicate=True)
        return Begun(found=(user, stored(got[3:])))

    async def claim(self, tx: Tx, who: Identity, update_id: int) -> bool:
        """Mark the update handled in this transaction; False if it was handled already."""
        now = self.engine.clock()
        key = {"b_channel": who.channel, "b_update_id": update_id}
        if await tx.run(CLAIM, {**key, "b_now": now}) == 1:
            return True
        return await self._unstored(tx, who, update_id)

    async def _unstored(self, tx: Tx, who: Identity, update_id: int) -> bool:
        """An update the claim did not take: False if it was handled already; True if it was never stored
        (handled without the inbox), recorded as done now. A concurrent claim fails here
        (IntegrityError): a duplicate."""
        now = self.engine.clock()
        key = {"b_channel": who.channel, "b_update_id": update_id}
        if await tx.first(SEEN, key) is not None:
            return False
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

    async def load(
        self, tx: Tx, who: Identity, *, create: bool, new: bool = True, session: bool = True
    ) -> tuple[User, Stored | None] | None:
        """The user, locked before anything of theirs is read, and their session row. On PostgreSQL the
        session is read by a statement of its own after the lock, so a second instance that waited reads
        what the first one committed; SQLite's transactions already hold the database (BEGIN IMMEDIATE),
        so one query does. ``create``: the user wrote to us (and so is not blocked); ``new``: store them if
        they aren't yet (not for a button press: a user we don't know pressed a button of an erased one);
        ``session``: read the session row on PostgreSQL (``begin_event`` reads it with the claim)."""
        found = await self._find(tx, who)
        now = self.engine.clock()
        if found is None:
            if not create or not new:
                return None
            dialect = "postgresql" if tx.conn.dialect.name == "postgresql" else "sqlite"
            await tx.run(INSERT_USER[dialect], self._new_user(who, now))
            found = await self._find(tx, who)
            assert found is not None
        user, row = found
        tx.user = user
        if session and not self.engine.tx.single_writer:
            row = stored(await tx.first(STORED, {"b_user_id": user.id}))
        if create:
            if user.blocked or aware(user.last_seen_at) < now - _SEEN_RESOLUTION:
                user.last_seen_at, user.blocked = now, False
            if who.first_name and who.first_name != user.first_name:
                user.first_name = who.first_name
        return user, row

    async def _find(self, tx: Tx, who: Identity) -> tuple[User, Stored | None] | None:
        mine = {"channel": who.channel, "external_id": who.external_id}
        if not self.engine.tx.single_writer:  # PostgreSQL: lock the user row only
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
            timezone=self.engine.default_timezone,
            prompt_model="rolfe",
            profession="",
            blocked=False,
        )

    def context(self, tx: Tx, user: User, row: Stored | None) -> tuple[Ctx, Snapshot]:
        ctx = Ctx(tx.db, user, self.engine, self.engine.clock())
        return ctx, self.restore(ctx, row)

    def restore(self, ctx: Ctx, row: Stored | None) -> Snapshot:
        """The stored state into ``ctx``. The snapshot keeps the stored JSON text, to tell what changed."""
        snap = Snapshot()
        if row is None:
            return snap
        if row.parked_flow and row.parked_data_enc and row.parked_until and aware(row.parked_until) > ctx.now:
            try:
                flow, state, notes, text = self.decode(row.parked_flow, row.parked_data_enc)
                step = notes.get("pending", {}).get("step", "")
                if step not in flow.steps:
                    raise BadState(f"no step {step!r}")
                ctx.parked = (flow.name, step, state)
                snap.parked = text
            except BadState as exc:
                log.warning("dropped a parked %s draft of user %s: %s", row.parked_flow, ctx.user.id, exc)
        if not row.flow or aware(row.expires_at) <= ctx.now:
            return snap
        try:
            flow, state, notes, text = self.decode(row.flow, row.data_enc)
        except BadState as exc:
            log.warning("dropped the %s conversation of user %s: %s", row.flow, ctx.user.id, exc)
            ctx.say(STATE_DROPPED)
            return snap
        if row.step not in flow.steps and row.step != interrupt.STEP:
            log.warning("dropped the %s conversation of user %s: no step %r", row.flow, ctx.user.id, row.step)
            ctx.say(STATE_DROPPED)
            return snap
        ctx.flow, ctx.step, ctx.state = flow.name, row.step, state
        ctx.pending, ctx.piece = notes.get("pending"), notes.get("piece")
        snap.blob, snap.screen = text, self.screen(ctx)
        return snap

    def decode(self, name: str, blob: bytes) -> tuple[Flow[Any], FlowState, dict[str, Any], str]:
        """A stored state: its flow, the state, the engine's own notes beside it (what was asked for while
        the flow had work, the last long piece of text) and the JSON text as stored."""
        flow = self.engine.flows.get(name)
        if flow is None:
            raise BadState(f"unknown flow {name!r}")
        try:
            text = self.engine.cipher.decrypt_text(blob)
            envelope = json.loads(text)
        except (DecryptionError, ValueError) as exc:
            raise BadState("undecryptable") from exc
        if not isinstance(envelope, dict) or envelope.get("v") != flow.state.schema_version:
            raise BadState("another schema version")
        try:
            state = flow.state.model_validate(envelope.get("data"))
        except ValidationError as exc:
            raise BadState(f"invalid ({exc.error_count()} errors)") from exc
        notes = {k: v for k in ("pending", "piece") if isinstance(v := envelope.get(k), dict)}
        return flow, state, notes, text

    @staticmethod
    def _encode(flow: Flow[Any], state: FlowState, **notes: dict[str, str] | None) -> str:
        envelope = {"v": flow.state.schema_version, "data": state.model_dump(mode="json"), **notes}
        return json.dumps(envelope, sort_keys=True, ensure_ascii=False)

    def _encrypt(self, blob: str) -> bytes:
        return self.engine.cipher.encrypt_text(blob)

    def screen(self, ctx: Ctx) -> str:
        """Which prompt the user is looking at; buttons stay valid until it changes."""
        if ctx.flow is None or ctx.state is None:
            return ""
        if ctx.step == interrupt.STEP:
            return f"{ctx.flow}/{interrupt.STEP}/{(ctx.pending or {}).get('confirm', '')}"
        step = self.engine.flows[ctx.flow].steps[ctx.step or ""]
        return f"{ctx.flow}/{ctx.step}/{step.screen(ctx.state)}"

    async def finish(self, tx: Tx, ctx: Ctx, row: Stored | None, before: Snapshot) -> None:
        """Save what changed (nothing, if nothing did) and sign the buttons with the step's version."""
        if ctx.erased:
            self.engine.signer.sign(ctx.replies, 0, 0)
            return
        flow = self.engine.flows[ctx.flow] if ctx.flow else None
        blob = self._encode(flow, ctx.state, pending=ctx.pending, piece=ctx.piece) if flow and ctx.state else ""
        parked = ""
        if ctx.parked is not None:
            parked = self._encode(self.engine.flows[ctx.parked[0]], ctx.parked[2], pending={"step": ctx.parked[1]})
        screen = self.screen(ctx)
        unchanged = blob == before.blob and parked == before.parked and screen == before.screen
        if row is None and not blob and not parked:
            self.engine.signer.sign(ctx.replies, ctx.user.id, 0)
            return
        if row is not None and unchanged and not row.undelivered:
            self.engine.signer.sign(ctx.replies, ctx.user.id, row.version)
            return
        version = (row.version if row is not None else 0) + (screen != before.screen)
        values: dict[str, Any] = {
            "flow": ctx.flow or "",
            "step": ctx.step or "",
            "undelivered": False,
            "version": version,
            "data_enc": self._encrypt(blob) if blob else b"",
            "updated_at": ctx.now,
            "expires_at": ctx.now + self.engine.session_ttl,
        }
        if row is None or parked != before.parked:
            values["parked_flow"] = ctx.parked[0] if ctx.parked else ""
            values["parked_data_enc"] = self._encrypt(parked) if parked else None
            values["parked_until"] = ctx.now + self.engine.session_ttl if parked else None
        if row is None:
            await tx.run(INSERT_SESSION, {"user_id": ctx.user.id, **values})
        else:
            await tx.run(
                SAVE_STATE_AND_PARKED if "parked_flow" in values else SAVE_STATE, {"b_user_id": ctx.user.id, **values}
            )
        self.engine.signer.sign(ctx.replies, ctx.user.id, version)

    async def where(self, who: Identity) -> Where:
        """Where the user is, read from the database: the flow and step, how far they got, and the draft
        put aside. Stored state that does not validate raises ``ValueError`` (the explorer's check)."""
        async with self.engine.tx.begin() as tx:
            found = await self.load(tx, who, create=False)
        if found is None:
            return Where(None, None, "", None, None, None)
        user, row = found
        if row is None:
            return Where(None, None, "", None, None, None)
        ctx = Ctx(tx.db, user, self.engine, self.engine.clock())
        try:
            parked = self.decode(row.parked_flow, row.parked_data_enc or b"") if row.parked_flow else None
            current = self.decode(row.flow, row.data_enc) if row.flow else None
        except BadState as exc:
            raise ValueError(f"stored state of user {user.id} does not validate: {exc}") from exc
        if current is not None and row.step not in current[0].steps and row.step != interrupt.STEP:
            raise ValueError(f"stored step {row.step!r} is not a step of {row.flow}")
        if current is not None:
            ctx.flow, ctx.step, ctx.state, ctx.pending = row.flow, row.step, current[1], current[2].get("pending")
        return Where(
            ctx.flow,
            ctx.step,
            self.screen(ctx),
            self.engine.work(ctx),
            parked[0].name if parked else None,
            parked[0].progress(parked[1]) if parked else None,
        )
