"""The inbox's rows: received updates parsed and stored (or kept aside in ``dead_letters``, encrypted),
read back after a restart, and marked done when no handler did. The queue and its workers are
bot/inbox.py's; the long poll is bot/polling.py's.

On PostgreSQL a batch of good updates is stored by one statement in autocommit (one round trip, and
atomic: a statement is its own transaction); with anything to keep aside, all of it in one transaction."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, bindparam, insert, select
from sqlalchemy import update as sql_update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DataError, IntegrityError
from telegram import Bot, Update

from bot.faults import describe
from flows.core.crypto import Cipher
from flows.core.engine import Engine
from flows.core.storage import Prepared, direct
from flows.store.models import DeadLetter, InboxUpdate

log = logging.getLogger(__name__)
CHANNEL = "telegram"
MAX_UPDATE_ID = 2**63 - 1  # a BIGINT
Row = dict[str, Any]


def user_key(update: Update) -> str:
    user = update.effective_user
    if user is not None:
        return str(user.id)
    chat = update.effective_chat
    return f"chat:{chat.id}" if chat is not None else "none"


@dataclass
class Batch:
    """A received batch: rows to store in the inbox (with their parsed updates), and rows to keep aside."""

    good: list[tuple[Update, Row]] = field(default_factory=list)
    bad: list[Row] = field(default_factory=list)


def sort(raw: Sequence[object], now: datetime, bot: Bot, cipher: Cipher) -> Batch:
    """Parse what Telegram sent: each update parsed and encrypted for the inbox, or kept aside."""
    batch = Batch()
    for data in raw:
        try:
            update, row = _parse(data, now, bot, cipher)
        except Exception as exc:
            ident = str(data.get("update_id"))[:40] if isinstance(data, dict) else "?"
            payload = cipher.encrypt_text(json.dumps(data, ensure_ascii=True, default=repr))
            reason = f"{exc.__class__.__name__}: {str(exc)[:150]}"
            batch.bad.append(
                {"channel": CHANNEL, "update_id": ident, "reason": reason, "payload_enc": payload, "received_at": now}
            )
            log.error("update %s cannot be parsed (%s); kept aside in dead_letters", ident, exc.__class__.__name__)
            continue
        batch.good.append((update, row))
    return batch


def _parse(data: object, now: datetime, bot: Bot, cipher: Cipher) -> tuple[Update, Row]:
    if not isinstance(data, dict):
        raise TypeError("an update is not a JSON object")
    update_id = data.get("update_id")
    if not isinstance(update_id, int) or isinstance(update_id, bool) or not 0 <= update_id <= MAX_UPDATE_ID:
        raise ValueError("update_id is not a number from 0 to 2**63-1")
    update = Update.de_json(data, bot)
    key = user_key(update)
    if len(key) > 64:
        raise ValueError("the sender's id is too long")
    row = {
        "channel": CHANNEL,
        "update_id": update_id,
        "user_key": key,
        "payload_enc": cipher.encrypt_json(data),
        "received_at": now,
    }
    return update, row


_COLUMNS = ["channel", "update_id", "user_key", "payload_enc", "received_at"]
_SQLITE_INSERT = Prepared(sqlite_insert(InboxUpdate).on_conflict_do_nothing(), _COLUMNS)
_PG_INSERT = Prepared(pg_insert(InboxUpdate).on_conflict_do_nothing(), _COLUMNS)
_EARLIEST = Prepared(
    select(InboxUpdate.update_id, InboxUpdate.received_at)
    .where(InboxUpdate.user_key == bindparam("b_key"), InboxUpdate.done_at.is_(None))
    .order_by(InboxUpdate.update_id)
    .limit(bindparam("b_one"))
)


async def _write(coach: Engine, good: list[Row], bad: list[Row]) -> None:
    if good and not bad and not coach.single_writer:  # PostgreSQL: one round trip, in autocommit
        async with coach.database.connect() as conn:
            fast = await direct(conn, autocommit=True)  # asyncpg: on the driver, compiled once
            if fast is not None:
                await fast.run_many(_PG_INSERT, good)
                return
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(pg_insert(InboxUpdate).on_conflict_do_nothing(), good)
        return
    if good and not bad:  # SQLite: straight to the driver, in the engine's transaction (no ORM session)
        async with coach.tx.begin() as tx:
            for row in good:
                await tx.run(_SQLITE_INSERT, row)
        return
    async with coach.transaction() as db:
        if good:
            insert_ = pg_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert
            await db.execute(insert_(InboxUpdate).on_conflict_do_nothing(), good)
        if bad:
            await db.execute(insert(DeadLetter), bad)


async def store(coach: Engine, batch: Batch) -> list[tuple[Update, Row]]:
    """Write a batch to the inbox (a repeat is ignored) and its bad updates aside, at once. If the
    database refuses one row's data, each is tried alone and the refused ones are kept aside. Returns
    what was stored. An outage is raised (nothing is confirmed)."""
    rows = [row for _, row in batch.good]
    try:
        await _write(coach, rows, batch.bad)
        return batch.good
    except (DataError, IntegrityError):
        log.warning("the database refused an update in a batch; storing them one at a time")
    stored, bad = [], list(batch.bad)
    for update, row in batch.good:
        try:
            await _write(coach, [row], [])
            stored.append((update, row))
        except (DataError, IntegrityError) as exc:
            log.error("update %s cannot be stored (%s); kept aside in dead_letters", row["update_id"], describe(exc))
            reason = f"not storable: {describe(exc)}"
            bad.append({**row, "update_id": str(row["update_id"]), "reason": reason, "user_key": None})
    if bad:
        await _write(coach, [], [{k: v for k, v in b.items() if k != "user_key"} for b in bad])
    return stored


async def readable(coach: Engine, bot: Bot, update_id: int, payload: bytes) -> Update | None:
    """A stored update read back, or None: one that can't be read (a key changed without rotation, a
    damaged row) is moved to dead_letters as it is, so it never blocks its user's queue."""
    try:
        data: dict[str, Any] = coach.cipher.decrypt_json(payload)
        return Update.de_json(data, bot)
    except Exception as exc:
        log.error("stored update %s cannot be read (%s); kept aside in dead_letters", update_id, describe(exc))
    now = datetime.now(UTC)
    aside = {"update_id": str(update_id), "reason": "unreadable in the inbox", "payload_enc": payload}
    async with coach.transaction() as db:
        await db.execute(insert(DeadLetter), [{"channel": CHANNEL, "received_at": now, **aside}])
        await db.execute(
            sql_update(InboxUpdate)
            .where(InboxUpdate.channel == CHANNEL, InboxUpdate.update_id == update_id)
            .values(done_at=now)
        )
    return None


async def _rows(coach: Engine, query: Select[*tuple[Any, ...]]) -> list[Any]:
    """A read: on PostgreSQL one statement in autocommit (no BEGIN, no ORM session)."""
    if coach.single_writer:
        async with coach.sessionmaker() as db:
            return list((await db.execute(query)).all())
    async with coach.database.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        return list((await conn.execute(query)).all())


async def earliest(coach: Engine, key: str) -> tuple[int, datetime] | None:
    """The user's earliest unhandled update in the inbox (its id and when it was received), or None."""
    if not coach.single_writer:  # PostgreSQL through asyncpg: one autocommit statement on the driver
        async with coach.database.connect() as conn:
            fast = await direct(conn, autocommit=True)
            if fast is not None:
                row = await fast.first(_EARLIEST, {"b_key": key, "b_one": 1})
                return (row[0], row[1]) if row is not None else None
    query = (
        select(InboxUpdate.update_id, InboxUpdate.received_at)
        .where(InboxUpdate.user_key == key, InboxUpdate.done_at.is_(None))
        .order_by(InboxUpdate.update_id)
        .limit(1)
    )
    found = await _rows(coach, query)
    return (found[0][0], found[0][1]) if found else None


async def payload(coach: Engine, update_id: int) -> bytes | None:
    """A stored update's payload, if it is still unhandled."""
    query = select(InboxUpdate.payload_enc).where(
        InboxUpdate.channel == CHANNEL, InboxUpdate.update_id == update_id, InboxUpdate.done_at.is_(None)
    )
    found = await _rows(coach, query)
    return bytes(found[0][0]) if found else None


_DONE = sql_update(InboxUpdate).where(InboxUpdate.channel == CHANNEL, InboxUpdate.done_at.is_(None))


async def mark_done(coach: Engine, update_id: int) -> None:
    """An update no handler took (an inline query, a group message): done. One statement."""
    done = _DONE.where(InboxUpdate.update_id == update_id).values(done_at=datetime.now(UTC))
    if coach.single_writer:
        async with coach.transaction() as db:
            await db.execute(done)
        return
    async with coach.database.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(done)
