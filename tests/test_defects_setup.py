"""Regression tests for issue 13's set-up and erasure defects (6, 7, and typed answers in /start and
/settings), each failing before its fix; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from bot.runtime import Runtime
from flows.models import ConversationSession, InboxUpdate, User
from flows.replies import ClickEvent, CommandEvent, Identity
from tests.client import FakeClient
from tests.test_flows import onboard


async def count(runtime: Runtime, model: type) -> int:
    async with runtime.coach.sessionmaker() as db:
        return int(await db.scalar(select(func.count()).select_from(model)) or 0)


async def user(runtime: Runtime) -> User:
    async with runtime.coach.sessionmaker() as db:
        return (await db.execute(select(User))).scalar_one()


# --- defect 6: a second tap on "Yes, erase everything" --------------------------------------------


async def test_defect6_a_second_erase_tap_is_answered_politely_and_stores_nothing(
    client: FakeClient, runtime: Runtime
) -> None:
    await onboard(client)
    await client.send("/delete")
    yes = client.button("Yes, erase everything")
    await client.press(yes)
    assert "erased everything" in client.text
    await client.press(yes)  # the double tap
    assert client.outcome.notice is not None and "Already erased" in client.outcome.notice
    assert "can't use that button" not in client.text + client.outcome.notice
    assert await count(runtime, User) == 0 and await count(runtime, ConversationSession) == 0


async def test_defect6_the_second_taps_update_keeps_no_payload(runtime: Runtime) -> None:
    """Over Telegram each tap is an update stored in the inbox first: the second one's payload (it names
    the user) is emptied too, and its row kept only so a repeat of it is recognised."""
    who = Identity("telegram", "4242", "Sam")
    coach, now = runtime.coach, datetime.now(UTC)
    outcome = await coach.handle(who, CommandEvent("delete"), update_id=1)
    yes = next(b.data for r in outcome.replies for row in r.buttons for b in row if b.label.startswith("Yes"))
    for update_id in (3, 4):  # each tap stored in the inbox before it is handled, as the service does
        async with coach.transaction() as db:
            db.add(
                InboxUpdate(
                    channel="telegram", update_id=update_id, user_key="4242", payload_enc=b"{}", received_at=now
                )
            )
        last = await coach.handle(who, ClickEvent(yes), update_id=update_id)
    assert last.notice is not None and "Already erased" in last.notice and not last.duplicate
    assert await count(runtime, User) == 0
    async with coach.sessionmaker() as db:
        rows = (await db.execute(select(InboxUpdate).order_by(InboxUpdate.update_id))).scalars().all()
    assert [(r.update_id, r.payload_enc) for r in rows] == [(3, b""), (4, b"")]
    assert (await coach.handle(who, ClickEvent(yes), update_id=4)).duplicate  # a repeat is still recognised
