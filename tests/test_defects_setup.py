"""Regression tests for issue 13's set-up and erasure defects (6, 7, and typed answers in /start and
/settings), each failing before its fix; on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

from sqlalchemy import func, select, update

from bot.runtime import Runtime
from flows.core.replies import ClickEvent, CommandEvent, Identity
from flows.rules.schedule import Quiet, hhmm, make_room
from flows.store.models import ConversationSession, InboxUpdate, User
from tests.client import FakeClient
from tests.sqlite_only import sqlite_only  # noqa: F401  (conversation-level checks: SQLite alone)
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


# --- defect 7: a reminder time inside quiet hours ------------------------------------------------


async def test_defect7_a_reminder_time_in_quiet_hours_is_named_and_moves_them(
    client: FakeClient, runtime: Runtime
) -> None:
    await onboard(client)  # quiet hours 21:00-08:00
    await client.send("/settings")
    await client.click("Reminder time")
    await client.send("07:45")
    assert "quiet hours" in client.text and "21:00–08:00" in client.text and "08:00" in client.text
    assert "Saved" not in client.text
    assert (await user(runtime)).reflect_time == "17:30"  # nothing changed until they choose
    await client.click("Keep 07:45")
    u = await user(runtime)
    assert (u.reflect_time, u.quiet_start, u.quiet_end) == ("07:45", "21:00", "07:45")
    assert "Saved" in client.text and "Your settings" in client.text


async def test_defect7_or_the_reminder_goes_to_the_end_of_quiet_hours_or_another_time(
    client: FakeClient, runtime: Runtime
) -> None:
    await onboard(client)
    await client.send("/settings")
    await client.click("Reminder time")
    await client.send("22:30")
    assert "quiet hours" in client.text
    await client.click("Choose another time")
    assert "What time?" in client.text
    u = await user(runtime)
    assert (u.reflect_time, u.quiet_start, u.quiet_end) == ("17:30", "21:00", "08:00")
    await client.send("07:00")
    await client.click("Remind me at 08:00")
    u = await user(runtime)
    assert (u.reflect_time, u.quiet_start, u.quiet_end) == ("08:00", "21:00", "08:00")


async def test_defect7_quiet_hours_that_swallow_the_reminder_say_so(client: FakeClient, runtime: Runtime) -> None:
    await onboard(client)  # reminder Friday 17:30
    await client.send("/settings")
    await client.click("Quiet hours")
    await client.send("17:00-09:00")
    assert "17:30" in client.text and "17:00–09:00" in client.text and "09:00" in client.text
    assert (await user(runtime)).quiet_start == "21:00"
    await client.click("Remind me at 09:00")
    u = await user(runtime)
    assert (u.reflect_time, u.quiet_start, u.quiet_end) == ("09:00", "17:00", "09:00")
    await client.click("Quiet hours")
    await client.send("08:30-10:00")
    await client.click("Keep 09:00")  # the reminder stays; the quiet hours make room for it
    u = await user(runtime)
    assert (u.reflect_time, u.quiet_start, u.quiet_end) == ("09:00", "09:15", "10:00")


async def test_defect7_during_onboarding_the_choice_leads_on_to_the_time_zone(
    client: FakeClient, runtime: Runtime
) -> None:
    await client.send("/start")
    await client.click("Set up")
    for _ in range(3):  # framework, stage, day
        await client.click("Skip")
    await client.send("6am")
    assert "quiet hours" in client.text
    await client.click("Remind me at 08:00")
    assert "time zone" in client.text
    assert (await user(runtime)).reflect_time == "08:00"


def test_defect7_making_room_leaves_the_time_out_of_the_quiet_hours() -> None:
    def hm(minutes: int) -> str:
        return f"{minutes // 60:02d}:{minutes % 60:02d}"

    assert make_room("21:00", "08:00", "07:45") == ("21:00", "07:45")  # the larger part kept
    assert make_room("21:00", "08:00", "22:30") == ("22:45", "08:00")
    assert make_room("09:00", "09:14", "09:01") == ("09:14", "09:14")  # nothing left: off
    for start, end, time in itertools.product(range(0, 1440, 37), range(0, 1440, 41), range(0, 1440, 29)):
        quiet = Quiet(hhmm(hm(start)), hhmm(hm(end)))
        if quiet.contains(hhmm(hm(time))):
            room = make_room(hm(start), hm(end), hm(time))
            assert not Quiet(hhmm(room[0]), hhmm(room[1])).contains(hhmm(hm(time))), (start, end, time)


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
