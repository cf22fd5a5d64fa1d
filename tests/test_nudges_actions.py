"""The follow-up of a dated action: on the day the reflection's "now what" named, at the user's reflection
time, a nudge asks how it went; answered, the next one is planned; nothing once all are answered; never
twice for one day; the one-a-day and quiet-hours rules hold as for the other kinds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.runtime import Runtime
from flows.core.replies import Reply
from flows.store.models import Action
from tests.client import FakeClient
from tests.test_nudges import FRIDAY, Setup

SLOT = datetime(2026, 3, 27, 17, 30, tzinfo=UTC)  # Friday 27 March, 17:30 London (GMT until the 29th)


async def reflect_with(c: FakeClient, now_what: str) -> None:
    await c.send("/reflect")
    await c.click("Suggested")
    await c.send("I chaired a tense rota meeting on the ward this week and kept it calm.")
    await c.send("It showed me I need to set ground rules before a meeting gets heated, not after.")
    await c.send(now_what)
    await c.click("Skip")
    await c.click("Skip")
    await c.click("Done")
    await c.click("Save")


@pytest.fixture
def setup(runtime: Runtime) -> Setup:
    return Setup(runtime)


def buttons(replies: list[Reply]) -> list[str]:
    return [b.label for r in replies for row in r.buttons for b in row]


async def test_a_dated_action_is_followed_up_on_its_day(setup: Setup) -> None:
    c = await setup.user("alice")
    await reflect_with(c, "I will agree the ground rules with the team at the start of the meeting by 27 Mar.")
    assert "I'll ask how your action went on 27 March 2026" in c.text
    nudge = await setup.nudge("alice", "action")
    assert nudge.due_at is not None and nudge.occurrence == "f2026-03-27"
    await setup.run(SLOT - timedelta(minutes=1))
    assert not setup.outbox.to("alice")
    done = await setup.run(SLOT + timedelta(minutes=1))
    assert done.sent == 1
    sent = setup.outbox.to("alice")[-1]
    assert "<b>How did it go?</b>" in sent[0].text and "by 27 March 2026" in sent[0].text
    assert "agree the ground rules" in sent[0].text
    assert buttons(sent)[0] == "Tell me how it went"
    await setup.run(SLOT + timedelta(minutes=5))
    assert len(setup.outbox.to("alice")) == 1  # never twice for one day
    await c.press(next(b.data for r in sent for row in r.buttons for b in row if b.label == "Tell me how it went"))
    assert "<b>Your actions</b>" in c.text
    await c.click("27 March 2026")
    await c.click("Done")
    await c.click("No note")
    assert "27 March 2026: I will agree the ground rules" in c.text and "— Done" in c.text
    assert (await setup.nudge("alice", "action")).due_at is None  # nothing left to ask about


async def test_answered_early_it_is_not_asked_and_the_next_is_planned(setup: Setup) -> None:
    c = await setup.user("bob")
    await reflect_with(c, "I will ask two of the team for feedback on my chairing by 27 Mar.")
    await reflect_with(c, "I will write up the rota rules and share them with the ward by 10 Apr.")
    assert (await setup.nudge("bob", "action")).occurrence == "f2026-03-27"
    await c.send("/actions")
    await c.click("27 March 2026")
    await c.click("Partly")
    await c.send("One of them; the other is on leave.")
    assert (await setup.nudge("bob", "action")).occurrence == "f2026-04-10"
    await setup.run(SLOT + timedelta(minutes=1))
    assert not setup.outbox.to("bob")


async def test_quiet_hours_hold(setup: Setup) -> None:
    c = await setup.user("cara")
    await setup.edit_user("cara", reflect_time="22:00")  # inside the quiet hours: it waits for 08:00
    await reflect_with(c, "I will hold a short huddle about the rota by 27 Mar.")
    nudge = await setup.nudge("cara", "action")
    assert nudge.due_at is not None and nudge.due_at.replace(tzinfo=UTC) == datetime(2026, 3, 28, 8, 0, tzinfo=UTC)
    assert FRIDAY < SLOT


async def test_the_appraisal_countdown_offers_the_pack(setup: Setup) -> None:
    c = await setup.user("dan")
    await c.send("/settings")
    await c.click("Appraisal date")
    await c.send("01/05/2026")  # six weeks from Friday 20 March: the countdown falls due at 17:30
    await setup.run(datetime(2026, 3, 20, 17, 31, tzinfo=UTC))
    await setup.run(datetime(2026, 3, 21, 17, 31, tzinfo=UTC))  # one a day: the other waited
    countdown = next(r for r in setup.outbox.to("dan") if "Your appraisal" in r[0].text)
    assert buttons(countdown)[:2] == ["Reflect now", "Make my appraisal pack"]
    await c.press(next(b.data for r in countdown for row in r.buttons for b in row if b.label.startswith("Make my")))
    assert "<b>Your appraisal pack</b>" in c.text


async def _edit_now_what(c: FakeClient, text: str) -> None:
    await c.send("/history")
    await c.click("Fri 20 Mar 2026")
    await c.click("Edit an answer")
    await c.click("Now what?")
    await c.send(text)


async def _actions(setup: Setup) -> list[tuple[str, str]]:
    async with setup.runtime.coach.sessionmaker() as db:
        rows = await db.execute(select(Action.due_on, Action.outcome).order_by(Action.id))
        return [(d.isoformat(), o) for d, o in rows.all()]


async def test_editing_the_now_what_moves_its_action_and_nudge(setup: Setup) -> None:
    c = await setup.user("erin")
    await reflect_with(c, "I will agree the ground rules with the team at the start of the meeting by 27 Mar.")
    assert (await setup.nudge("erin", "action")).occurrence == "f2026-03-27"
    await _edit_now_what(c, "I will agree the ground rules with the team by 10 Apr instead.")
    assert "Updated. Its action moves to 10 April 2026: I'll ask how it went then." in c.text
    assert await _actions(setup) == [("2026-04-10", "")]  # moved, not doubled
    nudge = await setup.nudge("erin", "action")
    assert nudge.occurrence == "f2026-04-10"
    await setup.run(SLOT + timedelta(minutes=1))  # the old day: nothing
    assert not setup.outbox.to("erin")
    await setup.run(datetime(2026, 4, 10, 16, 31, tzinfo=UTC))  # 17:31 London (BST)
    await setup.run(datetime(2026, 4, 10, 16, 40, tzinfo=UTC))
    sent = setup.outbox.to("erin")
    assert len(sent) == 1 and "by 10 April 2026" in sent[0][0].text and "by 10 Apr instead" in sent[0][0].text
    await _edit_now_what(c, "I will keep the ground rules on the agenda from now on.")
    assert "Its action names no day now, so I won't ask how it went." in c.text
    assert await _actions(setup) == []
    assert (await setup.nudge("erin", "action")).due_at is None


async def test_a_date_added_in_history_is_followed_up_and_deleting_drops_it(setup: Setup) -> None:
    c = await setup.user("finn")
    await reflect_with(c, "I will keep the ground rules on the agenda.")
    assert await _actions(setup) == []
    await _edit_now_what(c, "I will keep the ground rules on the agenda and review them by 3 Apr.")
    assert "I'll ask how your action went on 3 April 2026" in c.text
    assert (await setup.nudge("finn", "action")).occurrence == "f2026-04-03"
    await c.click("Delete")
    await c.click("Yes, delete it")
    assert await _actions(setup) == []
    assert (await setup.nudge("finn", "action")).due_at is None
