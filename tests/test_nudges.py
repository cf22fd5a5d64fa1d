"""The nudge dispatcher against a real database (SQLite and PostgreSQL): only-if-not-done, one a day,
quiet hours, snooze, pause, a changed schedule, downtime, 403 and 429; and CPD and /appraisal."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, update

from bot.dispatcher import Dispatcher, Pass
from bot.runtime import Runtime
from flows.core.push import SendResult, SendStatus
from flows.core.replies import Identity, Reply
from flows.store.models import Nudge, NudgeDelivery, Reflection, User
from tests.client import FakeClient
from tests.test_flows import onboard, reflect

FRIDAY = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)  # default reminder: Friday 17:30 Europe/London
DUE = datetime(2026, 3, 20, 17, 30, tzinfo=UTC)


@dataclass
class Outbox:
    """A Sender that keeps what it was given; ``script`` says how the next sends go."""

    sent: list[tuple[Identity, list[Reply]]] = field(default_factory=list)
    script: list[SendStatus] = field(default_factory=list)

    async def send(self, who: Identity, replies: list[Reply]) -> SendResult:
        status = self.script.pop(0) if self.script else SendStatus.SENT
        if status is SendStatus.RETRY:
            return SendResult(status, retry_after=0.05)
        if status is SendStatus.SENT:
            self.sent.append((who, replies))
        return SendResult(status)

    def to(self, name: str) -> list[list[Reply]]:
        return [r for who, r in self.sent if who.external_id == name]

    def text(self, name: str) -> str:
        return "\n".join(r.text for replies in self.to(name) for r in replies)


class Setup:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.outbox = Outbox()
        self.dispatcher = Dispatcher(runtime.coach, self.outbox, channel="terminal", rate=1000)
        self.now = FRIDAY
        runtime.coach.clock = lambda: self.now

    async def user(self, name: str = "alice") -> FakeClient:
        client = FakeClient(self.runtime.coach, name)
        await onboard(client)
        return client

    async def run(self, at: datetime) -> Pass:
        self.now = at
        return await self.dispatcher.run_once()

    async def nudge(self, name: str, kind: str = "reflection") -> Nudge:
        async with self.runtime.coach.sessionmaker() as db:
            row = (
                await db.execute(
                    select(Nudge)
                    .join(User, User.id == Nudge.user_id)
                    .where(User.external_id == name, Nudge.kind == kind)
                )
            ).scalar_one()
            return row

    async def edit_user(self, name: str, **values: object) -> None:
        async with self.runtime.coach.transaction() as db:
            await db.execute(update(User).where(User.external_id == name).values(**values))


@pytest.fixture
def setup(runtime: Runtime) -> Setup:
    return Setup(runtime)


async def tap(client: FakeClient, outbox: Outbox, label: str, which: int = -1) -> list[Reply]:
    """Tap a button on a nudge the user was sent (the newest, or ``which``)."""
    return await client.click(label, on=outbox.to(client.who.external_id)[which][0])


async def test_the_weekly_nudge_comes_at_the_users_time_once(setup: Setup) -> None:
    await setup.user()
    assert (await setup.nudge("alice")).due_at is not None
    assert (await setup.run(DUE - timedelta(minutes=1))).sent == 0
    result = await setup.run(DUE)
    assert result.sent == 1
    assert "weekly reflection" in setup.outbox.text("alice")
    assert (await setup.run(DUE + timedelta(minutes=1))).sent == 0  # nothing twice
    nxt = await setup.nudge("alice")
    assert nxt.due_at is not None and nxt.due_at.replace(tzinfo=UTC) == DUE + timedelta(days=7)


async def test_only_if_not_done_that_week(setup: Setup) -> None:
    client = await setup.user()
    setup.now = datetime(2026, 3, 17, 9, 0, tzinfo=UTC)  # Tuesday of that week
    await reflect(client)
    await client.click("Save")
    result = await setup.run(DUE)
    assert result.sent == 0 and result.skipped == {"done": 1}
    assert (await setup.run(DUE + timedelta(days=7))).sent == 1  # the next week they hadn't


async def test_one_nudge_a_day_the_other_waits_until_tomorrow(setup: Setup) -> None:
    client = await setup.user()
    # The appraisal is six weeks away on the same Friday: two nudges fall due at 17:30.
    await client.send("/settings")
    await client.click("Appraisal date")
    await client.send("01/05/2026")
    first = await setup.run(DUE)
    assert first.sent == 1 and first.deferred == 1
    assert (await setup.run(DUE + timedelta(hours=2))).sent == 0
    second = await setup.run(DUE + timedelta(days=1))
    assert second.sent == 1
    assert "Your appraisal" in setup.outbox.text("alice") and "weekly reflection" in setup.outbox.text("alice")


async def test_quiet_hours_hold_a_late_reminder_until_morning(setup: Setup) -> None:
    client = await setup.user()
    # /settings now asks before taking a time in the quiet hours (issue 13, defect 7), but a reminder time
    # stored before it did is still held until they end.
    await setup.edit_user("alice", reflect_time="22:30")
    await client.send("/settings")
    await client.click("Reminder day")
    await client.click("Fri")  # any change reschedules
    nudge = await setup.nudge("alice")
    assert nudge.due_at is not None
    assert nudge.due_at.replace(tzinfo=UTC) == datetime(2026, 3, 21, 8, 0, tzinfo=UTC)  # Saturday 08:00 GMT
    assert (await setup.run(datetime(2026, 3, 20, 22, 30, tzinfo=UTC))).sent == 0
    assert (await setup.run(datetime(2026, 3, 21, 8, 0, tzinfo=UTC))).sent == 1


async def test_a_changed_schedule_takes_effect_at_once(setup: Setup) -> None:
    client = await setup.user()
    await client.send("/settings")
    await client.click("Reminder day")
    await client.click("Mon")
    await client.click("Reminder time")
    await client.send("08:30")
    await client.click("Time zone")
    await client.send("America/New_York")
    nudge = await setup.nudge("alice")
    assert nudge.due_at is not None
    assert nudge.due_at.replace(tzinfo=UTC) == datetime(2026, 3, 23, 12, 30, tzinfo=UTC)  # 08:30 EDT
    assert (await setup.run(DUE)).sent == 0  # the old Friday slot is gone


async def test_start_now_opens_the_reflection(setup: Setup) -> None:
    client = await setup.user()
    await setup.run(DUE)
    replies = await tap(client, setup.outbox, "Start now")
    assert replies and "Suggested" in str([b.label for r in client.last for row in r.buttons for b in row])


async def test_snooze_delivers_again_later_and_once(setup: Setup) -> None:
    client = await setup.user()
    await setup.run(DUE)
    await tap(client, setup.outbox, "In 1 hour")
    assert "18:30" in client.text
    assert (await setup.run(DUE + timedelta(minutes=59))).sent == 0
    assert (await setup.run(DUE + timedelta(hours=1))).sent == 1
    assert (await setup.run(DUE + timedelta(hours=1, minutes=1))).sent == 0
    assert len(setup.outbox.to("alice")) == 2
    # The first message's snooze is from an older nudge now: it changes nothing.
    await tap(client, setup.outbox, "Tomorrow", which=0)
    assert "replaced by a newer one" in client.text


async def test_snooze_tomorrow_and_this_evening(setup: Setup) -> None:
    client = await setup.user()
    await client.send("/settings")
    await client.click("Reminder time")
    await client.send("09:00")
    morning = datetime(2026, 3, 27, 9, 0, tzinfo=UTC)  # the next Friday at 09:00
    assert (await setup.run(morning)).sent == 1
    await tap(client, setup.outbox, "This evening")
    assert "today at 18:30" in client.text
    assert (await setup.run(datetime(2026, 3, 27, 18, 30, tzinfo=UTC))).sent == 1
    await tap(client, setup.outbox, "Tomorrow")
    assert "Saturday at 18:30" in client.text


async def test_pause_for_annual_leave(setup: Setup) -> None:
    client = await setup.user()
    await setup.run(DUE)
    await tap(client, setup.outbox, "Pause nudges")
    await client.click("2 weeks")
    assert "no nudges until Friday 3 April 2026" in client.text
    assert (await setup.run(DUE + timedelta(days=7))).sent == 0
    assert (await setup.run(DUE + timedelta(days=14))).sent == 0  # the pause ends at this very moment
    nudge = await setup.nudge("alice")
    assert nudge.due_at is not None and nudge.due_at.replace(tzinfo=UTC) > DUE + timedelta(days=14)
    assert (await setup.run(nudge.due_at.replace(tzinfo=UTC))).sent == 1


async def test_after_downtime_a_late_weekly_nudge_is_skipped_not_sent(setup: Setup) -> None:
    await setup.user()
    result = await setup.run(DUE + timedelta(hours=5))
    assert result.sent == 0 and result.skipped == {"stale": 1}
    assert (await setup.run(DUE + timedelta(days=7))).sent == 1


async def test_a_blocked_user_is_not_retried_until_they_write(setup: Setup) -> None:
    client = await setup.user()
    setup.outbox.script = [SendStatus.BLOCKED]
    assert (await setup.run(DUE)).blocked == 1
    async with setup.runtime.coach.sessionmaker() as db:
        assert (await db.execute(select(User.blocked))).scalar_one() is True
    sends = len(setup.outbox.sent)
    assert (await setup.run(DUE + timedelta(days=7))).skipped == {"blocked": 1}
    assert len(setup.outbox.sent) == sends
    await client.send("/menu")  # they came back
    assert (await setup.run(DUE + timedelta(days=14))).sent == 1


async def test_429_is_waited_out_and_sent_once(setup: Setup) -> None:
    await setup.user()
    setup.outbox.script = [SendStatus.RETRY, SendStatus.RETRY]
    result = await setup.run(DUE)
    assert result.sent == 1 and len(setup.outbox.sent) == 1
    async with setup.runtime.coach.sessionmaker() as db:
        assert (await db.execute(select(NudgeDelivery.status))).scalars().all() == ["sent"]


async def test_a_pass_run_at_a_pretend_time_snoozes_from_that_time(setup: Setup) -> None:
    client = await setup.user()
    setup.now = datetime(2026, 3, 25, 10, 0, tzinfo=UTC)  # the button is pressed days later, for real
    await setup.dispatcher.run_once(at=DUE)
    await tap(client, setup.outbox, "In 1 hour")
    nudge = await setup.nudge("alice")
    assert nudge.due_at is not None and nudge.due_at.replace(tzinfo=UTC) == DUE + timedelta(hours=1)


async def test_nudges_can_be_turned_off_per_kind(setup: Setup) -> None:
    client = await setup.user()
    await client.send("/settings")
    await client.click("Nudges")
    assert "only if you haven't reflected that week" in client.text
    await client.click("✓ Weekly reflection reminder")
    assert "✗ Weekly reflection reminder" in str([b.label for r in client.last for row in r.buttons for b in row])
    assert (await setup.nudge("alice")).due_at is None
    assert (await setup.run(DUE)).sent == 0


async def test_cpd_pace_nudge_only_when_behind(setup: Setup) -> None:
    client = await setup.user()
    await client.send("/cpd")
    assert "No targets yet" in client.text
    await client.click("Set a target")
    await client.click("Hours over a period")
    await client.click("35 hours")
    await client.click("20 hours")
    await client.send("20/03/2027")
    assert "0 of 35 hours by 20 March 2027" in client.text
    await client.click("Log an activity")
    await client.send("Finance for non-finance managers workshop")
    await client.click("2 h")
    await client.click("Today")
    await client.click("Yes — with others")
    await client.click("Save")
    assert "2 of 35 hours" in client.text and "2 of 20 participatory" in client.text
    nudge = await setup.nudge("alice", "cpd_pace")
    assert nudge.due_at is not None
    # Three months in, 2 of 35 hours is behind pace: the monthly check says so, once.
    await setup.edit_user("alice", nudge_reflection=False)
    late = datetime(2026, 7, 3, 16, 30, tzinfo=UTC)  # first Friday of July, 17:30 BST
    async with setup.runtime.coach.transaction() as db:
        await db.execute(update(Nudge).where(Nudge.kind == "cpd_pace").values(due_at=late, occurrence="c2026-07"))
    assert (await setup.run(late)).sent == 1
    text = setup.outbox.text("alice")
    assert "hours behind pace for 20 March 2027" in text
    assert "/cpd → <b>Change, finish or remove a target</b>" in text  # where the nudge says
    await client.send("/cpd")
    await client.click("Change, finish or remove a target")
    await client.click("2 of 35 hours")
    await client.click("Mark finished")
    assert "marked finished 3 July 2026 ✓" in client.text
    assert (await setup.nudge("alice", "cpd_pace")).due_at is None  # finished: no longer outstanding


async def test_appraisal_shows_countdown_and_gaps(setup: Setup) -> None:
    client = await setup.user()
    await setup.edit_user("alice", appraisal_date=date(2026, 5, 1))
    await reflect(client)
    await client.click("Save")
    await client.send("/appraisal")
    assert "1 May 2026, in 42 days" in client.text
    assert "1 of 9 standards" in client.text and "Not yet:" in client.text


async def test_export_and_delete_include_cpd(setup: Setup) -> None:
    import json

    client = await setup.user()
    await client.send("/cpd")
    await client.click("Log an activity")
    await client.send("Read The King's Fund piece on compassionate leadership")
    await client.click("30 min")
    await client.click("Today")
    await client.click("No — on my own")
    await client.click("Save")
    await client.send("/export")
    attachment = next(r.attachment for r in client.last if r.attachment is not None)
    doc = json.loads(attachment.content)
    assert doc["cpd_activities"][0]["what"].startswith("Read The King's Fund")
    assert doc["user"]["nudges"]["quiet_hours"] == ["21:00", "08:00"]
    await client.send("/delete")
    await client.click("Yes, erase everything")
    async with setup.runtime.coach.sessionmaker() as db:
        assert (await db.execute(select(Nudge))).first() is None
        assert (await db.execute(select(Reflection))).first() is None


async def test_the_record_of_sent_nudges_is_purged_after_400_days(setup: Setup) -> None:
    from flows.core.retention import purge

    await setup.user()
    assert (await setup.run(DUE)).sent == 1
    assert (await purge(setup.runtime.coach, DUE + timedelta(days=399))).deliveries == 0
    assert (await purge(setup.runtime.coach, DUE + timedelta(days=401))).deliveries == 1
    async with setup.runtime.coach.sessionmaker() as db:
        assert (await db.execute(select(NudgeDelivery))).first() is None


async def test_nudges_due_on_the_command_line(
    setup: Setup, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio
    import json

    from bot.cli import main

    await setup.user()
    settings = setup.runtime.settings
    monkeypatch.setenv("LEADCOACH_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("LEADCOACH_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("LEADCOACH_ENCRYPTION_KEY", settings.encryption_key.get_secret_value())  # type: ignore[union-attr]
    code = await asyncio.to_thread(main, ["nudges", "due", "--at", "2026-03-20T17:30:00Z", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out == {
        "at": "2026-03-20T17:30:00+00:00",
        "due": [{"user": "terminal:alice", "kind": "reflection", "due_utc": "2026-03-20T17:30:00+00:00"}],
    }
    assert await asyncio.to_thread(main, ["nudges", "due", "--at", "2026-03-20T17:29:00"]) == 0
    assert "0 nudge(s) due at 2026-03-20T17:29:00+00:00" in capsys.readouterr().out
