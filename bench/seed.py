"""Users with a weekly reflection nudge due, written straight into a migrated database, for the benchmarks
that dispatch nudges (bench/nudges.py, bench/instances.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import insert, text

from bot.runtime import Runtime
from flows.store.models import Nudge, User

CHUNK = 5000  # rows an INSERT


async def users_with_nudges_due(
    runtime: Runtime,
    count: int,
    due: datetime,
    *,
    first_id: int,
    timezone: str = "Europe/London",
    reflect_day: int = 0,
    reflect_time: str = "09:00",
    occurrence: str = "w2027-01",
) -> None:
    """``count`` onboarded Telegram users (ids from ``first_id``), each with a reflection nudge due at ``due``."""
    now = datetime.now(UTC)
    async with runtime.coach.transaction() as db:
        users = [
            {
                "channel": "telegram",
                "external_id": str(first_id + i),
                "created_at": now,
                "last_seen_at": now,
                "onboarded": True,
                "framework": "mlf2025",
                "stage": "1",
                "reflect_day": reflect_day,
                "reflect_time": reflect_time,
                "timezone": timezone,
                "prompt_model": "rolfe",
                "blocked": False,
            }
            for i in range(count)
        ]
        for start in range(0, count, CHUNK):
            await db.execute(insert(User), users[start : start + CHUNK])
        ids: list[int] = list((await db.execute(text("SELECT id FROM users ORDER BY id"))).scalars())
        nudges = [
            {
                "user_id": uid,
                "kind": "reflection",
                "due_at": due,
                "occurrence": occurrence,
                "snoozed": False,
                "seq": 0,
                "sent_virtual": False,
                "updated_at": now,
            }
            for uid in ids
        ]
        for start in range(0, count, CHUNK):
            await db.execute(insert(Nudge), nudges[start : start + CHUNK])
