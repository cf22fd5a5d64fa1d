"""Before an event's commit, rows handlers loaded and changed (a rating, the user's last visit) are written
by UPDATEs compiled once, without the ORM's flush (flows/core/storage.py ``updates``); anything else (a new
row, a deleted one, a session with flush events) is still the ORM's flush. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import JSON, delete, event, select
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from bot.runtime import Runtime
from flows.core.flush import updates
from flows.core.prepared import bound
from flows.store.models import Assessment, User
from tests.client import FakeClient
from tests.test_flows import onboard


@pytest.fixture
def flushes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many objects each of the ORM's flushes had to write."""
    counted: list[int] = []
    flush = Session._flush

    def counting(self: Session, objects: Any = None) -> None:
        counted.append(len(self.dirty) + len(self.new) + len(self.deleted))
        flush(self, objects)

    monkeypatch.setattr(Session, "_flush", counting)
    return counted


async def assessment(runtime: Runtime) -> Assessment:
    async with runtime.coach.sessionmaker() as db:
        return (await db.execute(select(Assessment))).scalar_one()


async def test_a_rating_is_written_without_the_orms_flush(
    client: FakeClient, runtime: Runtime, flushes: list[int]
) -> None:
    await onboard(client)
    await client.send("/assess")
    await client.click("Start")
    before = await assessment(runtime)
    flushes.clear()
    await client.click("3 Proficient")
    await client.click("5 Exemplary")
    assert flushes == []  # (was one a rating)
    after = await assessment(runtime)
    assert after.position == before.position + 2
    assert list(after.ratings.values()) == [3, 5] and after.updated_at > before.updated_at
    await client.click("Back")
    assert (await assessment(runtime)).position == before.position + 1
    assert "2 of" in client.text


async def test_new_or_deleted_rows_are_still_the_orms_flush(
    client: FakeClient, runtime: Runtime, flushes: list[int]
) -> None:
    await onboard(client)
    await client.send("/assess")
    await client.click("Start")  # a new assessment: added, then flushed by the ORM for its id
    assert flushes
    await client.click("3 Proficient")
    flushes.clear()
    await client.send("/assess")
    await client.click("Start again")  # the unfinished one deleted, a new one added
    assert any(flushes)
    rows = await assessment(runtime)
    assert rows.position == 0


async def test_a_row_that_is_gone_fails_the_write_and_nothing_else_is_kept(runtime: Runtime) -> None:
    coach, now = runtime.coach, datetime.now(UTC)
    async with coach.tx.begin() as tx:
        user = User(
            channel="t", external_id="1", first_name="Ann", created_at=now, last_seen_at=now, timezone="Europe/London"
        )
        tx.db().add(user)
    with pytest.raises(StaleDataError):
        async with coach.tx.begin() as tx:
            db = tx.db()
            mine = (await db.execute(select(User))).scalar_one()
            mine.first_name = "Bea"
            await tx.conn.execute(delete(User))
    async with coach.sessionmaker() as db:
        assert (await db.execute(select(User.first_name))).scalars().all() == ["Ann"]


async def test_what_the_flush_would_not_write_is_left_alone(runtime: Runtime) -> None:
    """An attribute set to the value it had is not written (as the flush decides); a session with flush
    events, or an object with a relationship or key changed, goes to the ORM."""
    now = datetime.now(UTC)
    async with runtime.coach.tx.begin() as tx:
        db = tx.db()
        db.add(User(channel="t", external_id="2", first_name="Ann", created_at=now, last_seen_at=now, timezone="UTC"))
    async with runtime.coach.tx.begin() as tx:
        db = tx.db()
        user = (await db.execute(select(User))).scalar_one()
        user.first_name = "Ann"
        assert updates([user]) == []
        user.first_name = "Bea"
        written = updates([user])
        assert written is not None and [params for _, _, params in written] == [{"first_name": "Bea", "b_key": user.id}]
        user.id = 99
        assert updates([user]) is None
        user.id = written[0][2]["b_key"]
        seen: list[int] = []
        event.listen(db.sync_session, "before_flush", lambda *args: seen.append(1))
    assert seen == [1]
    async with runtime.coach.sessionmaker() as db:
        assert (await db.execute(select(User.first_name))).scalars().all() == ["Bea"]


def test_a_none_is_converted_by_its_column_type_as_sqlalchemys_own_statements_convert_it() -> None:
    """A JSON column set to None is JSON's null, as the ORM's flush writes it, not SQL's NULL (which a NOT
    NULL column refuses)."""
    dialect = sqlite.dialect()
    as_json = JSON().dialect_impl(dialect).bind_processor(dialect)
    assert bound([("a", as_json), ("b", None), ("c", as_json)], {"a": None, "b": None, "c": [1]}) == [
        "null",
        None,
        "[1]",
    ]
