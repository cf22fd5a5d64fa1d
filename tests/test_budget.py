"""One rate budget for all instances: they know of each other by heartbeats in the database they
share and split Telegram's ~30 messages a second; replies and nudges draw from the same budget."""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

import aiohttp
import pytest

from bot import budget
from bot.budget import FLOOR, Budget, Demand, Heartbeat, split
from bot.runtime import Runtime, open_runtime
from bot.settings import Settings
from tests.fakebot import FakeTelegram
from tests.test_webhook_order import post, webhook_service


def test_the_split_follows_demand_replies_first() -> None:
    assert split(30, {}) == {}
    assert split(30, {"a": Demand()}) == {"a": 30}
    assert split(30, {"a": Demand(), "b": Demand()}) == {"a": 15, "b": 15}  # nobody wants it: evenly
    assert split(30, {"a": Demand(replies=60), "b": Demand()}) == {"a": 27, "b": FLOOR}  # the idle one: a floor
    assert split(30, {"a": Demand(nudges=60), "b": Demand(replies=60)}) == {"a": FLOOR, "b": 27}  # replies first
    assert split(30, {"a": Demand(replies=10, nudges=60), "b": Demand(replies=2)}) == {"a": 27, "b": FLOOR}
    assert split(30, {"a": Demand(replies=30), "b": Demand(replies=10)}) == {"a": 22, "b": 8}  # by demand
    assert split(30, {"a": Demand(replies=5), "b": Demand(replies=1), "c": Demand()}) == {"a": 12, "b": 9, "c": 9}


def test_the_split_never_gives_more_than_the_total() -> None:
    rng = random.Random(14)
    for _ in range(2000):
        n, total = rng.randint(1, 40), rng.choice([1, 5, 20, 30, 100])
        demands = {
            f"i{k}": Demand(rng.choice([0.0, 0.5, 3.0, rng.uniform(0, 200)]), rng.choice([0.0, rng.uniform(0, 50)]))
            for k in range(n)
        }
        shares = split(total, demands)
        assert set(shares) == set(demands) and sum(shares.values()) == total
        assert min(shares.values()) >= min(FLOOR, total // n)
        asking = [k for k, d in demands.items() if d.replies > FLOOR]
        idle = [k for k, d in demands.items() if d.replies + d.nudges == 0]
        if asking and idle:  # one that wants replies never gets less than one that wants nothing
            assert min(shares[k] for k in asking) >= max(shares[k] for k in idle) - 1


async def test_instances_split_the_budget_by_their_heartbeats(runtime: Runtime) -> None:
    one, two = Budget(), Budget()
    first, second = Heartbeat(runtime.coach, one), Heartbeat(runtime.coach, two)
    assert await first.beat() == 1 and one.per_second == 30
    assert await second.beat() == 2 and two.per_second == 0  # the first holds it all, until its next beat
    assert await first.beat() == 2 and one.per_second == 15
    assert await second.beat() == 2 and two.per_second == 15
    await second.leave()
    assert two.per_second == 0
    assert await first.beat() == 1 and one.per_second == 30


async def test_a_busy_instance_gets_most_of_the_budget_and_never_more_than_the_total_together(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two instances on one real database (each its own engine, as two processes): one answers a burst
    while the other is idle, then the other way round. The busy one gets most of the budget within a few
    heartbeats; at no moment do their shares, or the messages they send in any second, exceed 30."""
    monkeypatch.setattr(budget, "BEAT", 0.2)
    runtimes = [await open_runtime(settings) for _ in range(2)]
    budgets = [Budget(), Budget()]
    beats = [Heartbeat(rt.coach, b) for rt, b in zip(runtimes, budgets, strict=True)]
    sent: list[float] = []
    shares: list[tuple[int, int]] = []

    async def watch() -> None:
        while True:
            shares.append((budgets[0].share, budgets[1].share))
            await asyncio.sleep(0.005)

    async def burst(b: Budget, seconds: float) -> None:  # as many replies as it may send, 40 users at once
        async def user() -> None:
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                await b.take()
                await asyncio.sleep(0.002)  # Telegram answers
                b.done()
                sent.append(time.monotonic())

        await asyncio.gather(*(user() for _ in range(40)))

    for beat in beats:  # as each starts (bot/service.py): a heartbeat before anything is sent
        await beat.beat()
    tasks = [asyncio.create_task(t) for t in (watch(), beats[0].run(), beats[1].run())]
    try:
        await asyncio.sleep(0.6)  # both known to each other: idle, they split it evenly
        assert budgets[0].share == budgets[1].share == 15
        for busy in (0, 1):
            before = len(sent)
            await burst(budgets[busy], 2.5)
            idle = budgets[1 - busy]
            assert budgets[busy].share >= 25 and idle.share == FLOOR, (budgets[0].share, budgets[1].share)
            rate = (len(sent) - before) / 2.5
            assert rate >= 15, rate  # most of the 30, from a floor of 3 a few heartbeats before
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for rt in runtimes:
            await rt.close()
    assert max(a + b for a, b in shares) <= 30
    busiest = max(sum(1 for t in sent if start <= t < start + 1.0) for start in sent)
    assert busiest <= 30, busiest


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_two_instances_together_stay_within_telegrams_limit(
    fake: FakeTelegram, database_url: str, tmp_path: Path
) -> None:
    services = [await webhook_service(fake, database_url, tmp_path) for _ in range(2)]
    fake.rate_limit_per_second = 30  # as Telegram: 429 beyond 30 messages in a second
    users = list(range(7000, 7150))
    http = aiohttp.ClientSession()
    try:
        for service, _ in services:
            assert service.heartbeat is not None
            await service.heartbeat.beat()  # both know of the other now
        before = len(fake.sent)
        bodies = [{"update_id": 100 + i, "message": fake._message(user, "/help")} for i, user in enumerate(users)]
        await asyncio.gather(*(post(http, services[i % 2][1], body) for i, body in enumerate(bodies)))
        async with fake._output:
            await asyncio.wait_for(fake._output.wait_for(lambda: len(fake.sent) >= before + len(users)), 30)
    finally:
        await http.close()
        for service, _ in services:
            await service.stop()
    assert [r for r in fake.rejected if r[1] == 429] == []
    times = fake.send_times[-len(users) :]
    busiest = max(sum(1 for t in times if start <= t < start + 1.0) for start in times)
    rate = (len(times) - 1) / (times[-1] - times[0])
    assert busiest <= 30 and rate >= 15, (busiest, rate)  # (>= 27 on a quiet machine: bench/RESULTS.md)
