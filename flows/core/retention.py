"""Retention: what is erased when. Run by ``leadcoach purge`` (and the scheduler, daily): received
updates and updates kept aside after 7 days, conversation state and parked drafts once they expire,
people who started but never finished setting up after 30 days without a word (their name and anything
else of theirs), and the record of which nudges were sent after 400 days (by then no occurrence they
guard can come round again), 360° answers started and never sent once their round has closed, and
an appraisal pack's share link with its openings 30 days after it expired or was revoked, and a kept copy
of the pack's PDF (kept only when the user asked) a year after it was made.

In short transactions, so a large backlog never holds locks for long; old rows go by ranges of their
indexed time, each range found by reading forward from where the last one ended, so the cost is linear
in what is deleted (deleting "the next 1000 old rows" instead rescans what earlier batches left behind
in the index, and grows with the square of the backlog). A deleted row leaves every index that holds it:
the inbox's handled rows are in its key, ``received_at`` and ``ix_inbox_user`` only (the index of unhandled
ones is partial). On SQLite a range is 50,000 rows (~0.1–0.2 s of the write lock, which the bot waits for)
and the purge's connection gets a larger page cache while it runs: each commit writes every index page
its range touched, and the user index's pages are touched in no order, so fewer, larger ranges write
far less (bench/purge.py, bench/RESULTS.md)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.elements import ColumnElement

from flows.core.engine import Engine
from flows.store.models import (
    ConversationSession,
    DeadLetter,
    FeedbackResponse,
    FeedbackRound,
    InboxUpdate,
    NudgeDelivery,
    PackCopy,
    PackShare,
    User,
)

INBOX_DAYS = 7
DELIVERY_DAYS = 400
NEVER_ONBOARDED_DAYS = 30
SHARE_KEEP_DAYS = 30  # after a share link ends
PACK_COPY_DAYS = 365  # a kept copy of the appraisal pack PDF, after it was made (flows/talks/pack_copy.py)
BATCH = 50_000
PURGE_CACHE_KIB = 65_536  # SQLite's page cache while the purge runs (its default is 2,000 KiB)


@dataclass
class Purged:
    updates: int = 0
    sessions: int = 0
    drafts: int = 0
    deliveries: int = 0
    dead_letters: int = 0
    users: int = 0  # never finished setting up
    unsent_feedback: int = 0  # 360° answers started and never sent, once their round has closed
    shares: int = 0  # appraisal pack share links, 30 days after they ended
    pack_copies: int = 0  # kept copies of the appraisal pack PDF, a year after they were made


async def purge(engine: Engine, now: datetime, *, batch: int = BATCH) -> Purged:
    async with _roomy_cache(engine):
        return await _purge(engine, now, batch)


@contextlib.asynccontextmanager
async def _roomy_cache(engine: Engine) -> AsyncIterator[None]:
    """On SQLite, a larger page cache for the connection the purge writes on, while it runs (it is the one
    connection kept for this process's transactions: its setting is put back after)."""
    async with engine.transaction() as db:
        sqlite = db.get_bind().dialect.name == "sqlite"
        if sqlite:
            before = int((await db.execute(text("PRAGMA cache_size"))).scalar_one())
            await db.execute(text(f"PRAGMA cache_size = -{PURGE_CACHE_KIB}"))
    try:
        yield
    finally:
        if sqlite:
            async with engine.transaction() as db:
                await db.execute(text(f"PRAGMA cache_size = {before}"))


async def _purge(engine: Engine, now: datetime, batch: int) -> Purged:
    inbox = now - timedelta(days=INBOX_DAYS)
    done = Purged(
        updates=await _delete_before(engine, InboxUpdate.received_at, inbox, batch),
        dead_letters=await _delete_before(engine, DeadLetter.received_at, inbox, batch),
        deliveries=await _delete_before(engine, NudgeDelivery.created_at, now - timedelta(days=DELIVERY_DAYS), batch),
    )
    while n := await _in_transaction(engine, _expired_sessions, now, batch):
        done.sessions += n
    while n := await _in_transaction(engine, _expired_drafts, now, batch):
        done.drafts += n
    while n := await _in_transaction(engine, _never_onboarded, now, batch):
        done.users += n
    while n := await _in_transaction(engine, _unsent_feedback, now, batch):
        done.unsent_feedback += n
    while n := await _in_transaction(engine, _ended_shares, now, batch):
        done.shares += n
    done.pack_copies = await _delete_before(engine, PackCopy.made_at, now - timedelta(days=PACK_COPY_DAYS), batch)
    return done


async def _delete_before(engine: Engine, when: InstrumentedAttribute[datetime], cutoff: datetime, size: int) -> int:
    """Delete the rows whose ``when`` (an indexed time) is before ``cutoff``, range by range: each range
    is the next ``size`` index entries from where the last one ended."""
    table = when.class_
    deleted, low = 0, None
    after: list[ColumnElement[bool]] = []
    while True:
        async with engine.transaction() as db:
            after = [when >= low] if low is not None else []
            upper = (
                await db.execute(select(when).where(*after, when < cutoff).order_by(when).offset(size).limit(1))
            ).scalar_one_or_none()
            high = upper if upper is not None else cutoff
            result = await db.execute(delete(table).where(and_(*after, when < high)))
            deleted += int(getattr(result, "rowcount", 0) or 0)
        if upper is None:
            return deleted
        low = upper


async def _in_transaction(engine: Engine, step: Any, now: datetime, size: int) -> int:
    async with engine.transaction() as db:
        count: int = await step(db, now, size)
        return count


async def _unsent_feedback(db: AsyncSession, now: datetime, size: int) -> int:
    """A rater's 360° answer started and never sent, once its round has closed: nothing is kept of them."""
    closed = select(FeedbackRound.id).where(or_(FeedbackRound.closes_at < now, FeedbackRound.closed_at.is_not(None)))
    unsent = FeedbackResponse.finished_at.is_(None) & FeedbackResponse.round_id.in_(closed)
    ids = (await db.execute(select(FeedbackResponse.id).where(unsent).limit(size))).scalars().all()
    if ids:
        await db.execute(delete(FeedbackResponse).where(FeedbackResponse.id.in_(ids)))
    return len(ids)


async def _ended_shares(db: AsyncSession, now: datetime, size: int) -> int:
    """Share links (and the times they were opened) 30 days after they expired or were revoked."""
    cutoff = now - timedelta(days=SHARE_KEEP_DAYS)
    ended = or_(PackShare.expires_at < cutoff, PackShare.revoked_at < cutoff)
    ids = (await db.execute(select(PackShare.id).where(ended).limit(size))).scalars().all()
    if ids:
        await db.execute(delete(PackShare).where(PackShare.id.in_(ids)))
    return len(ids)


async def _expired_sessions(db: AsyncSession, now: datetime, size: int) -> int:
    """Conversations nobody came back to: their (encrypted) data goes; the row keeps its version."""
    expired = (ConversationSession.expires_at < now) & (ConversationSession.data_enc != b"")
    return await _clear(db, expired, size, flow="", step="", data_enc=b"")


async def _expired_drafts(db: AsyncSession, now: datetime, size: int) -> int:
    held = or_(ConversationSession.parked_data_enc.is_not(None), ConversationSession.parked_flow != "")
    expired = (ConversationSession.parked_until < now) & held
    return await _clear(db, expired, size, parked_flow="", parked_data_enc=None, parked_until=None)


async def _clear(db: AsyncSession, where: ColumnElement[bool], size: int, **values: object) -> int:
    ids = (await db.execute(select(ConversationSession.user_id).where(where).limit(size))).scalars().all()
    if ids:
        await db.execute(update(ConversationSession).where(ConversationSession.user_id.in_(ids)).values(**values))
    return len(ids)


async def _never_onboarded(db: AsyncSession, now: datetime, size: int) -> int:
    """People who started but never finished setting up, silent for 30 days: everything of theirs goes
    (their rows in other tables with them, by the foreign keys' ON DELETE CASCADE)."""
    quiet = now - timedelta(days=NEVER_ONBOARDED_DAYS)
    ids = (
        (await db.execute(select(User.id).where(User.onboarded.is_(False), User.last_seen_at < quiet).limit(size)))
        .scalars()
        .all()
    )
    if ids:
        await db.execute(delete(User).where(User.id.in_(ids)))
    return len(ids)
