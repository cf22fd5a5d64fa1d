"""Updates over real HTTP: the real ``leadcoach run`` process (long polling) against the fake Bot API
on loopback TCP, beside a bare python-telegram-bot bot (bench/bare_bot.py) over the same HTTP.

    .venv/bin/python bench/over_http.py [--users 30] [--postgres]

Simulated managers each onboard (a command and a button), open /reflect, look things up, and open
/develop, /cpd, /history, /appraisal, /export (a document), /assess, /privacy, /help and /menu; the
bare bot gets as many texts. (The reflection's typed answers are left out: a step is known to be done
only by the chat going quiet, which a loaded machine makes unreliable for multi-message steps.)
A step is done when its replies have come and the chat has been quiet for 100 ms. Reported per process:
updates/s, CPU per update (the bot process's own, from /proc), the ratio
of CPU per update to the bare bot's, start to first getUpdates, and resident memory at the end."""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import socket
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flows.core.crypto import Cipher
from tests.fakebot import FakeTelegram

ROOT = Path(__file__).resolve().parents[1]
TICK = os.sysconf("SC_CLK_TCK")
SECRET = "bench-webhook-secret-" + "x" * 20
COACH = [
    ("say", "/start"),
    ("tap", "Use the defaults"),
    ("say", "/reflect"),
    ("say", "/lookup stage 3 budget"),
    ("say", "what does stage 2 look like for managing conflict"),
    ("say", "/develop"),
    ("say", "/cpd"),
    ("say", "/history"),
    ("say", "/appraisal"),
    ("say", "/export"),
    ("say", "/assess"),
    ("say", "/privacy"),
    ("say", "/help"),
    ("say", "/menu"),
]


@dataclass
class Run:
    name: str
    updates: int
    seconds: float
    cpu: float
    start: float
    rss_mb: float

    def line(self, bare: Run | None) -> str:
        per = self.cpu / self.updates * 1000
        ratio = f"{per / (bare.cpu / bare.updates * 1000):.2f}" if bare else "-"
        return (
            f"{self.name:<34}{self.updates / self.seconds:>10.0f}{per:>12.2f}{ratio:>8}"
            f"{self.start:>10.2f}{self.rss_mb:>9.0f}"
        )


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def quiet(fake: FakeTelegram, user: int, before: int, timeout: float = 30.0) -> None:
    """Until the chat has something new and has then been quiet for 100 ms."""
    deadline = time.monotonic() + timeout
    while len(fake.to(user)) <= before:
        if time.monotonic() > deadline:
            raise AssertionError(f"no reply for {user}")
        await asyncio.sleep(0.005)
    while True:
        seen = len(fake.to(user))
        await asyncio.sleep(0.1)
        if len(fake.to(user)) == seen:
            return


def button(fake: FakeTelegram, user: int, label: str) -> tuple[Any, str] | None:
    """A button on the newest message that has any."""
    for sent in reversed(fake.shown(user)):
        current = fake.messages.get((sent.chat_id, sent.message_id), sent)
        if current.buttons:
            exact = [b["callback_data"] for b in current.buttons if b["text"] == label]
            found = exact or [b["callback_data"] for b in current.buttons if b["text"].startswith(label)]
            return (current, found[0]) if found else None
    return None


Deliver = Callable[[dict[str, Any]], Awaitable[object]]


def webhook_poster(http: aiohttp.ClientSession, fake: FakeTelegram, port: int) -> Deliver:
    """Deliver an update as Telegram's webhook does: POSTed, with the secret header, numbered one after
    another (the fake's own counter also numbers callback queries, which would leave gaps)."""
    ids = itertools.count(1)

    async def post(update: dict[str, Any]) -> None:
        body = {"update_id": next(ids), **update}
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        async with http.post(f"http://127.0.0.1:{port}/hook", json=body, headers=headers) as answer:
            assert answer.status == 200, answer.status

    return post


async def manager(fake: FakeTelegram, user: int, script: list[tuple[str, str]], deliver: Deliver) -> int:
    done = 0
    for kind, arg in script:
        before = len(fake.to(user))
        if kind == "say":
            await deliver({"message": fake._message(user, arg)})
        else:
            found = button(fake, user, arg)
            if found is None:
                if kind == "tap?":
                    continue
                last = [(s.text[:50], [b["text"] for b in s.buttons]) for s in fake.shown(user)[-3:]]
                raise AssertionError(f"{user}: no button {arg!r} in {last}")
            await deliver(fake._callback(user, found[1], found[0]))
        await quiet(fake, user, before)
        done += 1
    return done


async def measure(
    name: str, argv: list[str], env: dict[str, str], script: list[tuple[str, str]], users: int, webhook: bool = False
) -> Run:
    """Start once to migrate the database (not measured), then again: time to first getUpdates (or to
    setWebhook), then the run."""
    port = free_port() if webhook else 0
    if webhook:
        env = {
            **env,
            "LEADCOACH_WEBHOOK_URL": f"http://127.0.0.1:{port}/hook",
            "LEADCOACH_WEBHOOK_SECRET": SECRET,
            "LEADCOACH_WEBHOOK_LISTEN": "127.0.0.1",
            "LEADCOACH_WEBHOOK_PORT": str(port),
            "BARE_WEBHOOK_PORT": str(port),
        }
    ready = "setWebhook" if webhook else "getUpdates"
    fake = FakeTelegram()
    await fake.start()
    first = await asyncio.create_subprocess_exec(
        *argv, cwd=ROOT, env=_with(env, fake), stderr=asyncio.subprocess.DEVNULL
    )
    while ready not in fake.calls:
        await asyncio.sleep(0.005)
    first.terminate()
    await first.wait()
    await fake.stop()
    fake = FakeTelegram()
    await fake.start()
    env = _with(env, fake)
    began = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(*argv, cwd=ROOT, env=env, stderr=asyncio.subprocess.DEVNULL)
    http = aiohttp.ClientSession()
    deliver: Deliver = webhook_poster(http, fake, port) if webhook else fake.push
    try:
        while ready not in fake.calls:
            await asyncio.sleep(0.005)
        start = time.perf_counter() - began
        await asyncio.sleep(0.2 if webhook else 0)  # (the server answers once setWebhook has gone)
        cpu, wall = cpu_seconds(proc.pid), time.perf_counter()
        counts = await asyncio.gather(*(manager(fake, 20_000 + u, script, deliver) for u in range(users)))
        seconds, cpu = time.perf_counter() - wall, cpu_seconds(proc.pid) - cpu
        memory = rss_mb(proc.pid)
    finally:
        await http.close()
        proc.terminate()
        await proc.wait()
        await fake.stop()
    return Run(name, sum(counts), seconds, cpu, start, memory)


def _with(env: dict[str, str], fake: FakeTelegram) -> dict[str, str]:
    return {
        **env,
        "LEADCOACH_TELEGRAM_TOKEN": fake.token,
        "LEADCOACH_TELEGRAM_API_URL": fake.api_url,
        "LEADCOACH_TELEGRAM_FILE_URL": fake.file_url,
    }


async def scratch_postgres() -> str:
    """An empty database ``bench_updates`` on the local server."""
    from sqlalchemy import make_url, text
    from sqlalchemy.ext.asyncio import create_async_engine

    server = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    admin = create_async_engine(server, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text('DROP DATABASE IF EXISTS "bench_updates" WITH (FORCE)'))
        await conn.execute(text('CREATE DATABASE "bench_updates"'))
    await admin.dispose()
    return make_url(server).set(database="bench_updates").render_as_string(hide_password=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def main(users: int, postgres: bool, webhook: bool) -> None:
    runs: list[Run] = []
    bare_script = [("say", f"hello {i}") for i in range(len(COACH))]
    bare_argv = [sys.executable, str(ROOT / "bench" / "bare_bot.py")]
    coach_argv = [sys.executable, "-m", "bot.cli", "run"]
    base = {k: v for k, v in os.environ.items() if not k.startswith("LEADCOACH_")}
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **base,
            "LEADCOACH_DATA_DIR": tmp,
            "LEADCOACH_ENCRYPTION_KEY": Cipher.generate_key(),
            "LEADCOACH_NUDGE_INTERVAL": "0",
            "LEADCOACH_TELEGRAM_RATE": "100000",  # the fake has no limit: neither has the bare bot
            "LEADCOACH_LOG_LEVEL": "WARNING",
        }
        mode = "webhook" if webhook else "polling"
        bare = await measure(f"bare PTB bot, {mode} (reference)", bare_argv, base, bare_script, users, webhook)
        runs.append(await measure(f"LeadCoach, SQLite, {mode}", coach_argv, env, COACH, users, webhook))
        if postgres:
            pg = {**env, "LEADCOACH_DATABASE_URL": await scratch_postgres()}
            runs.append(await measure(f"LeadCoach, PostgreSQL, {mode}", coach_argv, pg, COACH, users, webhook))
    print(f"{users} simulated users at once; real HTTP on 127.0.0.1; CPU = the bot process's own")
    print(f"{'':<34}{'updates/s':>10}{'CPU ms/upd':>12}{'ratio':>8}{'start s':>10}{'RSS MB':>9}")
    print(bare.line(None))
    for run in runs:
        print(run.line(bare))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=30)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--webhook", action="store_true", help="updates POSTed to the webhook instead of polled")
    args = parser.parse_args()
    asyncio.run(main(args.users, args.postgres, args.webhook))
