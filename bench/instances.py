"""Two instances under the production limits: two real ``leadcoach run`` processes (webhook mode, as
behind the reverse proxy of deploy/) sharing one PostgreSQL, against the fake Bot API enforcing
Telegram's limits (429 with retry_after 1 beyond 30 messages a second for the bot, or beyond 1 a second
to one chat; edits count), with enough load to saturate them: many due nudges and many users chatting.

    .venv/bin/python bench/instances.py [--users 200] [--nudges 2000] [--seconds 40]

Nothing lifts the production limits (no ``LEADCOACH_TELEGRAM_RATE``, ``LEADCOACH_NUDGE_RATE`` at its
default); ``LEADCOACH_NUDGE_INTERVAL`` is 5 s rather than 30 s so the first passes come early in the run.
The users each send /help (one reply), wait for the reply, wait a second (no chat is sent to faster than
Telegram allows by the users' doing) and go again, their updates POSTed to the two instances in turn with
ids one after another. Before the instances start, ``--nudges`` users with a weekly reflection nudge due a
minute ago are written to the database (their local time is midday: no quiet hours).

Reported: messages a second accepted by the fake, over the run after its first 5 s and over the whole
run; the busiest one-second window (any start, from the first instance's start on); 429s, each with
which limit it was over (the bot's or the chat's); nudges and replies sent. Targets (issue 14): >= 27
and never more than 30 messages a second in total, 0 429s. A scratch database of its own, dropped after."""

from __future__ import annotations

import argparse
import asyncio
import bisect
import itertools
import os
import socket
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scratch import scratch_postgres
from seed import users_with_nudges_due  # bench/seed.py  # bench/scratch.py (the script's folder is on the path)

from bot.runtime import open_runtime
from bot.settings import Settings
from flows.core.crypto import Cipher
from tests.fakebot import ApiError, FakeTelegram, Sent

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-webhook-secret-" + "y" * 20
NUDGED = 500_000  # chat ids of the users with a nudge due; the chatting users are 700_000 + i
CHATTING = 700_000
REFUSED: dict[int, int] = {}  # webhook answers other than 200, by status (each delivered again)


class Fake(FakeTelegram):
    """The enforcing fake, waking a chat's waiter when it receives a message."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.received: dict[int, int] = {}
        self.waiters: dict[int, asyncio.Future[None]] = {}
        self.refused: list[tuple[float, int, str]] = []  # (when, chat, "chat" or "bot") of each 429

    def _check_rate(self, chat_id: int = 0) -> None:
        now = time.monotonic()
        chat_full = not self.chat_allows(chat_id, now)
        try:
            super()._check_rate(chat_id)
        except ApiError:
            self.refused.append((now, chat_id, "chat" if chat_full else "bot"))
            raise

    async def _record(self, s: Sent) -> None:
        await super()._record(s)
        self.received[s.chat_id] = self.received.get(s.chat_id, 0) + 1
        waiter = self.waiters.pop(s.chat_id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


async def populate(url: str, key: str, data_dir: Path, count: int) -> None:
    """Migrate the database and write ``count`` onboarded users with a weekly nudge due a minute ago."""
    settings = Settings(_env_file=None, database_url=url, data_dir=data_dir, encryption_key=key)
    runtime = await open_runtime(settings)
    now = datetime.now(UTC)
    week = now.isocalendar()
    try:  # midday in Karachi (UTC+5 all year) while the bench runs: no quiet hours
        await users_with_nudges_due(
            runtime,
            count,
            now - timedelta(minutes=1),
            first_id=NUDGED,
            timezone="Asia/Karachi",
            reflect_day=now.weekday(),
            reflect_time="12:00",
            occurrence=f"w{week.year}-{week.week:02d}",
        )
    finally:
        await runtime.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def chatter(
    fake: Fake, http: aiohttp.ClientSession, user: int, ports: list[int], ids: Iterator[int], until: float
) -> int:
    """/help, its reply, a second's pause; again until ``until``. Returns the replies received."""
    got = 0
    while time.monotonic() < until:
        uid = next(ids)
        body = {"update_id": uid, "message": fake._message(user, "/help")}
        waiter = fake.waiters[user] = asyncio.get_running_loop().create_future()
        port = ports[uid % len(ports)]
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        for _ in range(20):  # as Telegram does: an update not answered 200 is delivered again, later
            async with http.post(f"http://127.0.0.1:{port}/hook", json=body, headers=headers) as answer:
                if answer.status == 200:
                    break
                REFUSED[answer.status] = REFUSED.get(answer.status, 0) + 1
            await asyncio.sleep(0.5)
        try:
            await asyncio.wait_for(waiter, max(0.1, until - time.monotonic() + 5))
        except TimeoutError:
            break
        got += 1
        await asyncio.sleep(1.0)
    return got


def busiest(times: list[float]) -> int:
    """The most messages in any one-second window."""
    return max((bisect.bisect_left(times, t + 1.0) - i for i, t in enumerate(times)), default=0)


def report(fake: Fake, spawned: float, began: float, ended: float, replies: int) -> None:
    """What the fake accepted and refused, from the first instance's start (``spawned``) and from the
    users' (``began``) to their end."""
    everything = sorted(t for t, _ in fake.accepted)  # from the first instance's start
    times = [t for t in everything if began <= t <= ended]
    steady = [t for t in times if t >= began + 5.0]
    nudged = sum(1 for _, chat in fake.accepted if NUDGED <= chat < CHATTING)
    too_many = sum(1 for r in fake.rejected if r[1] == 429)
    other: dict[str, int] = {}
    for method, code, _ in fake.rejected:
        if code != 429:
            other[f"{method} {code}"] = other.get(f"{method} {code}", 0) + 1
    print(f"  messages/s after the first 5 s: {len(steady) / max(ended - began - 5.0, 1e-9):.1f}")
    print(f"  messages/s over the whole run:  {len(times) / (ended - began):.1f}")
    print(f"  busiest one-second window:      {busiest(everything)} (from the start); {busiest(steady)} after 5 s")
    print(
        f"  (the instances started {began - spawned:.2f} s before the users; messages then: "
        f"{len([t for t in everything if t < began])})"
    )
    print(f"  429s:                           {too_many}")
    for when, chat, kind in fake.refused:
        who = "a nudged user" if NUDGED <= chat < CHATTING else "a chatting user"
        sent = sorted(t - when for t, c in fake.accepted if c == chat and abs(t - when) < 2.0)
        print(f"    at {when - began:6.2f} s from the users' start, over the {kind} limit, to {who}", end="")
        print(f"; its sends within 2 s: {sent}")
    print(f"  sent: {len(fake.accepted)} messages ({nudged} nudges, {len(fake.accepted) - nudged} replies)")
    print(f"  replies received by the chatting users: {replies}; other errors: {other or 'none'}")
    print(f"  webhook answers other than 200 (delivered again): {REFUSED or 'none'}")
    print("targets: >= 27 and never more than 30 messages/s in total, 0 429s")


async def main(users: int, nudges: int, seconds: float) -> None:
    async with scratch_postgres("instances") as url:
        await run(url, users, nudges, seconds)


async def run(url: str, users: int, nudges: int, seconds: float) -> None:
    key = Cipher.generate_key()
    procs: list[asyncio.subprocess.Process] = []
    fake = Fake(rate_limit_per_second=30, chat_limit_per_second=1, limit_edits=True)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            await populate(url, key, Path(tmp), nudges)
            await fake.start()
            base = {k: v for k, v in os.environ.items() if not k.startswith("LEADCOACH_")}
            ports = [free_port(), free_port()]
            spawned = time.monotonic()
            for i, port in enumerate(ports):
                data = Path(tmp) / f"instance{i}"
                data.mkdir()
                env = {
                    **base,
                    "LEADCOACH_TELEGRAM_TOKEN": fake.token,
                    "LEADCOACH_TELEGRAM_API_URL": fake.api_url,
                    "LEADCOACH_TELEGRAM_FILE_URL": fake.file_url,
                    "LEADCOACH_DATABASE_URL": url,
                    "LEADCOACH_ENCRYPTION_KEY": key,
                    "LEADCOACH_DATA_DIR": str(data),
                    "LEADCOACH_WEBHOOK_URL": f"http://127.0.0.1:{port}/hook",
                    "LEADCOACH_WEBHOOK_SECRET": SECRET,
                    "LEADCOACH_WEBHOOK_LISTEN": "127.0.0.1",
                    "LEADCOACH_WEBHOOK_PORT": str(port),
                    "LEADCOACH_NUDGE_INTERVAL": "5",
                    "LEADCOACH_LOG_LEVEL": "WARNING",
                }
                procs.append(
                    await asyncio.create_subprocess_exec(
                        sys.executable, "-m", "bot.cli", "run", cwd=ROOT, env=env, stderr=asyncio.subprocess.DEVNULL
                    )
                )
            while fake.calls.count("setWebhook") < 2:
                for proc in procs:
                    if proc.returncode is not None:
                        raise AssertionError(f"an instance exited with {proc.returncode}")
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.3)
            began = time.monotonic()
            ids = itertools.count(1)
            async with aiohttp.ClientSession() as http:
                replies = await asyncio.gather(
                    *(chatter(fake, http, CHATTING + u, ports, ids, began + seconds) for u in range(users))
                )
                await asyncio.sleep(max(0.0, began + seconds - time.monotonic()))
            ended = time.monotonic()
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.terminate()
        for proc in procs:
            await proc.wait()
        await fake.stop()
    print(f"two instances, PostgreSQL, production limits; {users} users chatting, {nudges} nudges due; {seconds:.0f} s")
    report(fake, spawned, began, ended, sum(replies))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--nudges", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=40.0)
    args = parser.parse_args()
    asyncio.run(main(args.users, args.nudges, args.seconds))
