"""Key rotation: re-encrypt every encrypted column with the first key, in batches by primary key."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, tuple_, update
from sqlalchemy.orm import InstrumentedAttribute

from flows.core.engine import Engine
from flows.store.models import ConversationSession, FeedbackResponse, FeedbackRound, InboxUpdate, Meta, Reflection

BATCH = 500
# (the column, the primary key columns of its table)
COLUMNS: list[tuple[InstrumentedAttribute[Any], tuple[InstrumentedAttribute[Any], ...]]] = [
    (Reflection.answers_enc, (Reflection.id,)),
    (ConversationSession.data_enc, (ConversationSession.user_id,)),
    (ConversationSession.parked_data_enc, (ConversationSession.user_id,)),
    (InboxUpdate.payload_enc, (InboxUpdate.channel, InboxUpdate.update_id)),
    (Meta.value, (Meta.key,)),
    (FeedbackRound.note_enc, (FeedbackRound.id,)),
    (FeedbackResponse.keep_enc, (FeedbackResponse.id,)),
    (FeedbackResponse.change_enc, (FeedbackResponse.id,)),
]


async def rotate(engine: Engine) -> dict[str, int]:
    """Returns how many values of each column were re-encrypted."""
    done: dict[str, int] = {}
    for column, keys in COLUMNS:
        done[f"{column.class_.__tablename__}.{column.key}"] = await _rotate_column(engine, column, keys)
    return done


async def _rotate_column(
    engine: Engine, column: InstrumentedAttribute[Any], keys: tuple[InstrumentedAttribute[Any], ...]
) -> int:
    count, after = 0, None
    while True:
        async with engine.transaction() as db:
            query = select(*keys, column).where(column.is_not(None), column != b"").order_by(*keys).limit(BATCH)
            if after is not None:
                query = query.where(_after(keys, after))
            rows = (await db.execute(query)).all()
            for row in rows:
                where = [k == v for k, v in zip(keys, row[:-1], strict=True)]
                await db.execute(
                    update(column.class_).where(*where).values({column.key: engine.cipher.rotate(row[-1])})
                )
        if not rows:
            return count
        count, after = count + len(rows), tuple(rows[-1][:-1])


def _after(keys: tuple[InstrumentedAttribute[Any], ...], last: tuple[Any, ...]) -> Any:
    return tuple_(*keys) > tuple_(*last)
