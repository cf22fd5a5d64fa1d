"""Retention: what is erased when. Run by ``leadcoach purge`` (and the scheduler, daily): received
updates after 7 days, conversation state and parked drafts once they expire, and the record of
which nudges were sent after 400 days (by then no occurrence they guard can come round again), and an
appraisal pack's share link with its openings 30 days after it expired or was revoked. In batches, so a
large backlog never holds locks for long."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.elements import ColumnElement

from flows.engine import Engine
from flows.models import ConversationSession, InboxUpdate, NudgeDelivery, PackShare

INBOX_DAYS = 7
DELIVERY_DAYS = 400
SHARE_KEEP_DAYS = 30  # after a share link ends
_Step = Callable[[AsyncSession, datetime, int], Awaitable[int]]


@dataclass
class Purged:
    updates: int = 0
    sessions: int = 0
    drafts: int = 0
    deliveries: int = 0
    shares: int = 0


async def purge(engine: Engine, now: datetime, *, batch: int = 1000) -> Purged:
    done = Purged()
    while n := await _batch(engine, now, batch, _old_updates):
        done.updates += n
    while n := await _batch(engine, now, batch, _expired_sessions):
        done.sessions += n
    while n := await _batch(engine, now, batch, _expired_drafts):
        done.drafts += n
    while n := await _batch(engine, now, batch, _old_deliveries):
        done.deliveries += n
    while n := await _batch(engine, now, batch, _ended_shares):
        done.shares += n
    return done


async def _batch(engine: Engine, now: datetime, size: int, step: _Step) -> int:
    async with engine.transaction() as db:
        return await step(db, now, size)


async def _old_updates(db: AsyncSession, now: datetime, size: int) -> int:
    key = (InboxUpdate.channel, InboxUpdate.update_id)
    return await _delete_older(db, key, InboxUpdate.received_at < now - timedelta(days=INBOX_DAYS), size)


async def _old_deliveries(db: AsyncSession, now: datetime, size: int) -> int:
    key = (NudgeDelivery.nudge_id, NudgeDelivery.occurrence)
    return await _delete_older(db, key, NudgeDelivery.created_at < now - timedelta(days=DELIVERY_DAYS), size)


async def _ended_shares(db: AsyncSession, now: datetime, size: int) -> int:
    """Share links (and the times they were opened) 30 days after they expired or were revoked."""
    cutoff = now - timedelta(days=SHARE_KEEP_DAYS)
    ended = or_(PackShare.expires_at < cutoff, PackShare.revoked_at < cutoff)
    ids = (await db.execute(select(PackShare.id).where(ended).limit(size))).scalars().all()
    if ids:
        await db.execute(delete(PackShare).where(PackShare.id.in_(ids)))
    return len(ids)


async def _delete_older(
    db: AsyncSession, key: tuple[InstrumentedAttribute[Any], ...], old: ColumnElement[bool], size: int
) -> int:
    """Delete up to ``size`` rows matching ``old``, by their (two-column) primary key."""
    keys = [tuple(row) for row in (await db.execute(select(*key).where(old).limit(size))).all()]
    if keys:
        table = key[0].class_
        await db.execute(delete(table).where(tuple_(*key).in_(keys)))
    return len(keys)


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
