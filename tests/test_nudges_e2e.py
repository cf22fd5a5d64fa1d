"""Nudges over the real stack: the PTB Application and `leadcoach` processes against the fake Bot API.
A nudge arrives and its buttons work; a dispatcher killed mid-batch; two instances on PostgreSQL; 429."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

from bot.dispatcher import Pass
from bot.main import dispatch_once
from bot.runtime import open_runtime
from bot.settings import Settings
from flows.store.models import Nudge, NudgeDelivery
from tests.client import FakeClient
from tests.fakebot import FakeTelegram
from tests.test_e2e import ALICE, ROOT, Bot, make_settings, onboard, process_env, start_app, stop_app
from tests.test_e2e_faults import free_port, rows, spawn_webhook
from tests.test_flows import onboard as onboard_client


async def due_at(settings: Settings, kind: str = "reflection") -> datetime:
    found: list[Nudge] = [n for n in await rows(settings, Nudge) if n.kind == kind]
    assert found and found[0].due_at is not None
    return found[0].due_at.replace(tzinfo=UTC)


async def make_due(settings: Settings, when: datetime) -> None:
    """Every reflection nudge due at ``when`` (as if their time had come)."""
    runtime = await open_runtime(settings)
    try:
        async with runtime.coach.transaction() as db:
            await db.execute(update(Nudge).where(Nudge.kind == "reflection").values(due_at=when))
    finally:
        await runtime.close()


async def set_up_users(settings: Settings, users: list[int]) -> None:
    runtime = await open_runtime(settings)  # quickly, in process
    try:
        for user in users:
            await onboard_client(FakeClient(runtime.coach, str(user), channel="telegram"))
    finally:
        await runtime.close()


async def send_due_in_process(settings: Settings, at: datetime, rate: float | None = None) -> Pass:
    """One dispatch pass, as `leadcoach nudges send-due --at` runs it, in this process."""
    runtime = await open_runtime(settings)
    try:
        return await dispatch_once(runtime, at, rate)
    finally:
        await runtime.close()


async def test_a_nudge_arrives_start_now_opens_the_reflection_snooze_comes_back_once(
    fake: FakeTelegram, database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(fake, database_url, tmp_path).model_copy(update={"nudge_interval": 0})
    service = await start_app(settings)
    bot = Bot(fake, settings, service)
    try:
        await onboard(bot)
        assert service.scheduler is not None
        dispatcher = service.scheduler.dispatcher
        when = await due_at(settings)
        assert when.astimezone(ZoneInfo("Europe/London")).strftime("%a %H:%M") == "Fri 17:30"
        before = len(fake.to(ALICE))
        assert (await dispatcher.run_once(at=when - timedelta(minutes=1))).sent == 0
        assert (await dispatcher.run_once(at=when)).sent == 1
        nudge = (await fake.wait_for(ALICE, 1))[0]
        assert len(fake.to(ALICE)) == before + 1
        assert "weekly reflection" in nudge.text and nudge.parse_mode == "HTML"
        assert {b["text"] for b in nudge.buttons} >= {"Start now", "In 1 hour", "Tomorrow", "Pause nudges"}
        opened = await bot.tap(ALICE, "Start now", on=nudge)
        assert any(b["text"].startswith("Suggested") for b in opened[-1].buttons)
        await bot.tap(ALICE, "In 1 hour", on=nudge)
        assert (await dispatcher.run_once(at=when + timedelta(minutes=30))).sent == 0
        assert (await dispatcher.run_once(at=when + timedelta(hours=1))).sent == 1
        await fake.wait_for(ALICE, 1)
        assert (await dispatcher.run_once(at=when + timedelta(hours=1))).sent == 0
        await fake.settle(0.2)
        nudges = [s for s in fake.to(ALICE) if "Your weekly reflection" in s.text]
        assert len(nudges) == 2  # the nudge and its snooze, nothing twice
    finally:
        await stop_app(service)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # Telegram's side: any database will do
async def test_429_from_telegram_is_waited_out(fake: FakeTelegram, database_url: str, tmp_path: Path) -> None:
    settings = make_settings(fake, database_url, tmp_path)
    users = [4000 + i for i in range(7)]
    await set_up_users(settings, users)
    when = datetime(2027, 1, 1, 12, tzinfo=UTC)
    await make_due(settings, when)
    fake.rate_limit_per_second = 5  # the dispatcher is set faster than Telegram allows
    result = await send_due_in_process(settings, when, rate=1000)
    statuses = [d.status for d in await rows(settings, NudgeDelivery)]
    assert result.sent == 7, (result, statuses, fake.rejected)
    assert any(code == 429 for _, code, _ in fake.rejected)  # it was told to wait, and did
    assert sorted(s.chat_id for s in fake.sent) == users  # each once


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_long_run_of_429s_is_waited_out_not_failed(
    fake: FakeTelegram, database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(fake, database_url, tmp_path)
    users = [4100 + i for i in range(6)]
    await set_up_users(settings, users)
    when = datetime(2027, 1, 1, 12, tzinfo=UTC)
    await make_due(settings, when)
    fake.throttled_until = time.monotonic() + 7  # Telegram says "retry after 1" for 7 s on end
    result = await send_due_in_process(settings, when, rate=1000)
    statuses = [d.status for d in await rows(settings, NudgeDelivery)]
    assert result.sent == 6 and result.failed == 0, (result, statuses)
    assert statuses == ["sent"] * 6 and sorted(s.chat_id for s in fake.sent) == users


async def send_due(fake: FakeTelegram, settings: Settings, at: datetime, rate: int = 30) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "nudges",
        "send-due",
        "--at",
        at.isoformat(),
        cwd=ROOT,
        env=process_env(fake, settings, LEADCOACH_NUDGE_RATE=str(rate)),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_dispatcher_killed_mid_batch_delivers_each_nudge_exactly_once(
    fake: FakeTelegram, database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(fake, database_url, tmp_path)
    users = [5000 + i for i in range(12)]
    await set_up_users(settings, users)
    when = datetime(2027, 1, 1, 12, tzinfo=UTC)
    await make_due(settings, when)
    fake.hang_after = 4  # the 5th message is delivered but never answered: the process is killed then
    # At 2 a second the next nudge is marked "sending" 500 ms later: the kill comes before it, and the
    # outcome of the one before has had time to be written even on a loaded machine. (A nudge already
    # handed to Telegram when the process dies is not sent again: it may have arrived.)
    proc = await send_due(fake, settings, when, rate=2)
    try:
        async with fake._output:
            await asyncio.wait_for(fake._output.wait_for(lambda: len(fake.sent) >= 5), 60)
    finally:
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
    delivered = len(fake.sent)
    statuses = [d.status for d in await rows(settings, NudgeDelivery)]
    assert 5 <= delivered < 12 and statuses.count("queued") == 12 - delivered  # killed with the rest in hand
    fake.hang_after = None
    # The next pass (in process here; the same code as `leadcoach nudges send-due`) picks up the rest.
    result = await send_due_in_process(settings, when)
    assert result.sent == 12 - delivered  # the rest, and only the rest
    assert sorted(s.chat_id for s in fake.sent) == users  # every user exactly once
    statuses = [d.status for d in await rows(settings, NudgeDelivery)]
    # Each outcome is written as it comes: only the one in flight at the kill is "unknown" (not sent
    # again: it may have arrived), not every one sent since the last batch of outcomes was written.
    assert statuses.count("unknown") == 1 and statuses.count("sent") == 11, statuses


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_two_processes_on_postgres_send_each_nudge_once_within_the_rate(
    fake: FakeTelegram, database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(fake, database_url, tmp_path)
    users = [6000 + i for i in range(20)]
    await set_up_users(settings, users)
    await make_due(settings, datetime.now(UTC) - timedelta(minutes=1))
    fake.rate_limit_per_second = 21  # the configured 20 a second, with one of slack for timing
    extra = {"LEADCOACH_NUDGE_INTERVAL": "1", "LEADCOACH_NUDGE_RATE": "20"}
    procs = []
    for _ in range(2):
        port = free_port()
        procs.append(await spawn_webhook(fake, settings, port, **extra))
    try:
        async with fake._output:
            await asyncio.wait_for(fake._output.wait_for(lambda: len(fake.sent) >= 20), 60)
        await fake.settle(1.2)  # another tick of each: nothing more comes
    finally:
        for proc in procs:
            proc.terminate()
            await proc.wait()
            print("STDERR", (await proc.stderr.read()).decode()[-3000:] if proc.stderr else "")
    assert sorted(s.chat_id for s in fake.sent) == users
    assert [r for r in fake.rejected if r[1] == 429] == []
    times = fake.send_times
    busiest = max(sum(1 for t in times if start <= t < start + 1.0) for start in times)
    assert busiest <= 21
    deliveries = await rows(settings, NudgeDelivery)
    assert len(deliveries) == 20 and {d.status for d in deliveries} == {"sent"}
