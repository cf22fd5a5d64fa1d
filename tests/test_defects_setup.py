"""Regression tests for issue 13's set-up and erasure defects (6, 7, and typed answers in /start and
/settings), each failing before its fix; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select, update

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


# --- typed answers through the declared buttons ---------------------------------------------------


async def test_typed_labels_numbers_and_skip_work_in_onboarding(client: FakeClient, runtime: Runtime) -> None:
    await client.send("/start")
    await client.send("set up")
    await client.send("2")  # the second framework button
    assert "Which stage" in client.text
    await client.send("default")  # the word only "Skip (keep default)" has
    await client.send("1")  # Monday, as the buttons and the terminal number them
    await client.send("skip")
    await client.send("skip")
    await client.send("skip")
    assert "You're all set" in client.text
    u = await user(runtime)
    assert (u.framework, u.stage, u.reflect_day, u.reflect_time) == ("lf2011", "1", 0, "17:30")


async def test_typed_labels_and_back_work_in_settings(client: FakeClient, runtime: Runtime) -> None:
    await onboard(client)
    await client.send("/settings")
    await client.send("prompts")
    await client.send("Gibbs reflective")  # the start of one button's label
    assert "Saved" in client.text and "Gibbs reflective cycle" in client.text
    await client.send("time zone")
    await client.send("back")
    assert "Your settings" in client.text
    await client.send("nudges")
    await client.send("1")  # the first toggle
    assert "✗ Weekly reflection reminder" in client.labels
    await client.send("back")
    await client.send("done")
    assert "Settings saved" in client.text
    u = await user(runtime)
    assert (u.prompt_model, u.nudge_reflection) == ("gibbs", False)


async def test_resume_nudges_is_a_toggle_of_the_nudges_step(client: FakeClient, runtime: Runtime) -> None:
    await onboard(client)
    async with runtime.coach.transaction() as db:
        await db.execute(update(User).values(paused_until=datetime(2099, 1, 1, tzinfo=UTC)))
    await client.send("/settings")
    await client.click("Nudges")
    await client.send("resume")  # a word only "Resume nudges now" has
    assert "Nudges resumed" in client.text and "Resume nudges now" not in client.labels
    assert (await user(runtime)).paused_until is None
