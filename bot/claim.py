"""The dispatcher's claim: lock a batch of due nudges, decide each, record the deliveries to make and
move each row on, in a bounded number of statements whatever the batch holds (Core rows and
executemany, no statement per row). Whether a user is behind on CPD is decided when their nudge is
composed (``flows.talks.nudges.nudge_text``): a nudge on pace is then not sent, and its row is put back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, Table, bindparam, func, insert, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.pacing import DELIVERY, Send
from flows.core.engine import Engine
from flows.core.replies import Identity
from flows.rules.schedule import aware, same_time_next_day, week_start
from flows.store.models import CpdTarget, Nudge, NudgeDelivery, Reflection, User
from flows.talks.nudges import ENABLED, GRACE, _quiet, _zone, next_due


@dataclass
class Pass:
    """What one dispatch pass did."""

    sent: int = 0
    skipped: dict[str, int] = field(default_factory=dict)  # why: stale, done, on-track, blocked...
    deferred: int = 0  # one a day: moved to tomorrow
    blocked: int = 0
    failed: int = 0
    held: bool = True  # this instance held the sending lease

    def skip(self, why: str) -> None:
        self.skipped[why] = self.skipped.get(why, 0) + 1


_CLAIMED = (
    Nudge.id,
    Nudge.kind,
    Nudge.due_at,
    Nudge.occurrence,
    Nudge.snoozed,
    Nudge.seq,
    Nudge.sent_at,
    Nudge.sent_virtual,
    User.id.label("user_id"),
    User.channel,
    User.external_id,
    User.blocked,
    User.onboarded,
    User.timezone,
    User.quiet_start,
    User.quiet_end,
    User.reflect_day,
    User.reflect_time,
    User.paused_until,
    User.appraisal_date,
    User.nudge_reflection,
    User.nudge_appraisal,
    User.nudge_cpd,
)
_NUDGES: Table = Nudge.__table__  # type: ignore[assignment]
_MOVE_ON = (
    update(_NUDGES)
    .where(_NUDGES.c.id == bindparam("i"))
    .values(
        due_at=bindparam("due"),
        occurrence=bindparam("occ"),
        seq=bindparam("seq"),
        sent_at=bindparam("sat"),
        sent_virtual=bindparam("virt"),
        snoozed=bindparam("snz"),
        updated_at=bindparam("upd"),
    )
)


def claim_query(now: datetime, limit: int, channel: str, postgres: bool) -> Select[*tuple[Any, ...]]:
    """The due rows of a channel, oldest first, with what deciding needs; on PostgreSQL locked, skipping
    rows another transaction holds (FOR UPDATE SKIP LOCKED)."""
    query = (
        select(*_CLAIMED)
        .join(User, User.id == Nudge.user_id)
        .where(Nudge.due_at <= now, User.channel == channel)
        .order_by(Nudge.due_at)
        .limit(limit)
    )
    return query.with_for_update(of=Nudge, skip_locked=True) if postgres else query


def due_query(now: datetime, limit: int, channel: str | None = None) -> Select[Nudge, User]:
    query = select(Nudge, User).join(User, User.id == Nudge.user_id).where(Nudge.due_at <= now)
    if channel is not None:
        query = query.where(User.channel == channel)
    return query.order_by(Nudge.due_at).limit(limit)


PUT_BACK = (
    update(_NUDGES)
    .where(_NUDGES.c.id == bindparam("i"))
    .values(seq=bindparam("seq"), sent_at=bindparam("sat"), sent_virtual=bindparam("virt"))
)


def decide(r: Any, now: datetime, last: datetime | None, nudged_today: bool) -> str:
    """What to do with a claimed row ``r`` (a nudge and its user's settings)."""
    due = aware(r.due_at or now)
    if r.blocked:
        return "blocked"
    if now - due > GRACE.get(r.kind, timedelta(hours=3)):
        return "stale"  # after downtime: too late to be useful, so not sent
    if r.paused_until is not None and aware(r.paused_until) > now:
        return "paused"
    if not getattr(r, ENABLED[r.kind], False) or not r.onboarded:
        return "off"
    reflected = last is not None and aware(last) >= week_start(due, _zone(r))
    if r.kind == "reflection" and not r.snoozed and reflected:
        return "done"  # they have reflected this week already
    if not r.snoozed and nudged_today:
        return "wait"  # one a day
    return "send"


@dataclass
class _Batch:
    """What a claim decided: the sends, the delivery rows to insert, each nudge row's move."""

    sends: list[Send] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)
    moves: list[dict[str, Any]] = field(default_factory=list)


async def claim(
    conn: AsyncConnection,
    engine: Engine,
    now: datetime,
    *,
    limit: int,
    channel: str,
    postgres: bool,
    virtual: bool,
    result: Pass,
) -> tuple[list[Send], bool]:
    """Lock and decide a batch (at most ``limit`` rows); returns the sends and whether there may be more."""
    rows = (await conn.execute(claim_query(now, limit, channel, postgres))).all()
    if not rows:
        return [], False
    user_ids = list({r.user_id for r in rows})
    reflected = await _reflected(conn, user_ids, now - timedelta(weeks=4))
    nudged = await _nudged(conn, user_ids)
    targets = await _with_targets(conn, [r.user_id for r in rows if r.kind == "cpd_pace"])
    batch = _Batch()
    # CPD pace last: a user due two kinds at once gets the other (which needs no more reading) first.
    for r in sorted(rows, key=lambda r: r.kind == "cpd_pace"):
        _decide_row(batch, r, engine, now, virtual, reflected, nudged, r.user_id in targets, result)
    await _record(conn, batch, result)
    await conn.execute(_MOVE_ON, batch.moves)
    return batch.sends, len(rows) == limit


def _decide_row(
    batch: _Batch,
    r: Any,
    engine: Engine,
    now: datetime,
    virtual: bool,
    reflected: dict[int, tuple[Any, int]],
    nudged: dict[int, datetime | None],
    has_targets: bool,
    result: Pass,
) -> None:
    zone = _zone(r)
    sent = nudged.get(r.user_id)
    today = sent is not None and aware(sent).astimezone(zone).date() == now.astimezone(zone).date()
    latest, recent = reflected.get(r.user_id, (None, 0))
    why = decide(r, now, latest, today)
    move = {"i": r.id, "seq": r.seq, "sat": r.sent_at, "virt": r.sent_virtual, "snz": False, "upd": now}
    if why == "wait":
        result.deferred += 1
        due_tomorrow = _quiet(r).defer(same_time_next_day(now, zone), zone)
        batch.moves.append({**move, "due": due_tomorrow, "occ": r.occurrence, "snz": r.snoozed})
        return
    due = aware(r.due_at or now)
    if why == "send":
        seq = r.seq + 1
        batch.records.append(
            {
                "nudge_id": r.id,
                "occurrence": r.occurrence,
                "user_id": r.user_id,
                "kind": r.kind,
                "status": "queued",
                "due_at": due,
                "created_at": now,
            }
        )
        before = {"i": r.id, "seq": r.seq, "sat": r.sent_at, "virt": r.sent_virtual}
        who = Identity(r.channel, r.external_id)
        batch.sends.append(Send(r.id, r.occurrence, r.kind, who, r.user_id, seq, r.timezone, recent, before))
        move.update(seq=seq, sat=now, virt=virtual)
        nudged[r.user_id] = now
    else:
        result.skip(why)
    nxt = next_due(r, r.kind, max(now, due), engine, has_targets)
    batch.moves.append({**move, "due": nxt[0] if nxt else None, "occ": nxt[1] if nxt else ""})


async def _reflected(conn: AsyncConnection, user_ids: Sequence[int], since: datetime) -> dict[int, tuple[Any, int]]:
    """Each user's latest reflection, and how many in the last four weeks."""
    query = (
        select(Reflection.user_id, func.max(Reflection.created_at), func.count().filter(Reflection.created_at >= since))
        .where(Reflection.user_id.in_(user_ids))
        .group_by(Reflection.user_id)
    )
    return {uid: (latest, recent) for uid, latest, recent in (await conn.execute(query)).all()}


async def _nudged(conn: AsyncConnection, user_ids: Sequence[int]) -> dict[int, datetime | None]:
    """One a day: when each user was last sent a nudge of any kind (read, not locked: users and their
    other rows are left to the interactive transactions, so the two never deadlock)."""
    query = select(Nudge.user_id, func.max(Nudge.sent_at)).where(Nudge.user_id.in_(user_ids)).group_by(Nudge.user_id)
    return {uid: sent for uid, sent in (await conn.execute(query)).all()}


async def _with_targets(conn: AsyncConnection, user_ids: Sequence[int]) -> set[int]:
    """Of these users, those with an unfinished CPD target (one statement for the batch)."""
    if not user_ids:
        return set()
    query = select(CpdTarget.user_id).where(CpdTarget.user_id.in_(set(user_ids)), CpdTarget.done_on.is_(None))
    return set((await conn.execute(query.distinct())).scalars())


async def _record(conn: AsyncConnection, batch: _Batch, result: Pass) -> None:
    """Insert the deliveries to make, leaving out any made before (a retry or another instance)."""
    if not batch.records:
        return
    keys = [(rec["nudge_id"], rec["occurrence"]) for rec in batch.records]
    query = select(NudgeDelivery.nudge_id, NudgeDelivery.occurrence).where(
        tuple_(NudgeDelivery.nudge_id, NudgeDelivery.occurrence).in_(keys)
    )
    sent_before = set((await conn.execute(query)).all())
    if sent_before:
        result.skip("already-sent")
        batch.records = [rec for rec in batch.records if (rec["nudge_id"], rec["occurrence"]) not in sent_before]
        batch.sends = [x for x in batch.sends if (x.nudge_id, x.occurrence) not in sent_before]
    if batch.records:
        await conn.execute(insert(DELIVERY), batch.records)


__all__ = ["PUT_BACK", "Pass", "claim", "claim_query", "decide", "due_query"]
