"""Updates over real HTTP: the real ``leadcoach run`` process against the fake Bot API (tests/fakebot.py)
on loopback TCP, beside a bare python-telegram-bot bot (bench/bare_bot.py) over the same HTTP, by long
polling and by webhook, on SQLite and (``--postgres``) on the local PostgreSQL.

    .venv/bin/python bench/updates.py [--users 20] [--rounds 1] [--postgres] [--mode polling|webhook|both]

Each simulated manager, all of them at once: /start and "Use the defaults"; a lookup by command and
one in words; a typed reflection (/reflect, the suggested item, What? So what? Now what? typed as three
messages, a rating, CPD minutes, the other frameworks it evidences, Save); /assess (Start, 27 ratings,
then the summary and the radar chart as a photo); /develop (the profession asked once, then the ideas);
/cpd, logging an activity (title typed, length, date, participatory, an area, Save, Done); /export (a
document); /history; a lookup with a typo. The bare bot gets the same sequence of texts and button
presses (one reply a text; an answer and an edit a press).

A step is done when the chat has received what that step sends: how many messages and edits, and
what the last one is (its method and the start of its text), learnt once per script from one manager
on the first process started with it, before any measured run (nothing else happening then: a step's
replies are over when what it expects has come and 0.6 s has passed without another), and checked on
every step of every measured run. The script also names
what it expects from some steps (a button, a text, a photo): the learnt replies must agree.

Reported per process: updates/s; CPU per update (the bot process's own, from /proc/<pid>/stat, all its
threads, so the harness and the fake are not counted); the ratio of that to the bare bot's in the same
round; start to first getUpdates (or, by webhook, to setWebhook) on a database an earlier start has
migrated, and, by polling, start to the reply to a message sent while the process was down (LeadCoach
asks for updates before it has finished starting: bot/early.py); resident memory at the end. The
measured window opens once that reply has come, so it holds no start-up work. The harness's own CPU
per update is printed too (it shares the two cores: when it is as busy as the bot, updates/s is the
harness's figure, CPU per update the bot's).
Replies are not rate limited here (``LEADCOACH_TELEGRAM_RATE`` and ``_CHAT_RATE`` lifted: scripted users
answer in milliseconds), as the bare bot has no limiter;
bench/instances.py measures the production limits."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import re
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scratch import scratch_postgres  # bench/scratch.py (the script's folder is on the path)

from flows.core.crypto import Cipher
from tests.fakebot import FakeTelegram, Sent

ROOT = Path(__file__).resolve().parents[1]
TICK = os.sysconf("SC_CLK_TCK")
SECRET = "bench-webhook-secret-" + "x" * 20

# (what the user does, its argument, what the step must end with or None). "say" types a message; "tap"
# presses the button whose label is, or else starts with, the argument, on the newest message showing one.
# An expectation is a button label ("[Save]"), the start of the last reply's text, or "@sendPhoto" etc.
Step = tuple[str, str, str | None]
RATINGS = ["3 Proficient", "2 Essential", "4 Strong", "3 Proficient", "5 Exemplary", "1 Insufficient"]
COACH: list[Step] = [
    ("say", "/start", "[Use the defaults]"),
    ("tap", "Use the defaults", "You're all set"),
    ("say", "/lookup stage 3 budget", None),
    ("say", "what does stage 2 look like for managing conflict", None),
    ("say", "/reflect", "[Suggested]"),
    ("tap", "Suggested", None),
    ("say", "I had to tell the team about a rota change that nobody wanted, and I explained it at the huddle.", None),
    ("say", "It showed me I explain the decision but not the reasons for it, so people felt it was imposed.", None),
    ("say", "Next time I will share the reasons first and take questions before the detail, by next Friday.", None),
    ("tap", "3 Proficient", "[15 min]"),
    ("tap", "15 min", "[Done]"),
    ("tap", "Done", "[Save]"),
    ("tap", "Save", "Saved."),
    ("say", "/assess", "[Start]"),
    ("tap", "Start", "1 of 27"),
    *[("tap", RATINGS[i % len(RATINGS)], None) for i in range(26)],
    ("tap", RATINGS[26 % len(RATINGS)], "@sendPhoto"),
    ("say", "/develop", "[Manager (not clinical)]"),
    ("tap", "Manager (not clinical)", "Development ideas"),
    ("say", "/cpd", "[Log an activity]"),
    ("tap", "Log an activity", "What did you do?"),
    ("say", "Finance for non-finance managers workshop", "How long"),
    ("tap", "1½ h", "When was it?"),
    ("tap", "Today", "Was it participatory"),
    ("tap", "Yes — with others", "Which areas"),
    ("tap", "Balancing safety", "[Save]"),
    ("tap", "Save", "[Done]"),
    ("tap", "Done", None),
    ("say", "/export", "@sendDocument"),
    ("say", "/history", None),
    ("say", "what does conflcit look like at stage 3", None),
]


def bare_script(script: list[Step]) -> list[Step]:
    """As many texts and button presses, in the same order, for the bare bot."""
    return [
        ("say", f"hello {i}", "You said") if kind == "say" else ("tap", "Next", "You pressed")
        for i, (kind, _, _) in enumerate(script)
    ]


@dataclass
class Chat:
    """What one chat has received, and whoever waits for more of it."""

    records: list[Sent] = field(default_factory=list)
    showing: dict[int, Sent] = field(default_factory=dict)  # message id -> as it looks now
    waiter: tuple[int, asyncio.Future[None]] | None = None


class Fake(FakeTelegram):
    """The fake Bot API, telling each chat's waiter when it has received what it waits for (one chat
    woken per message: no scan of every chat's history on every message)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.chats: dict[int, Chat] = {}

    def chat(self, chat_id: int) -> Chat:
        return self.chats.setdefault(chat_id, Chat())

    async def _record(self, s: Sent) -> None:
        await super()._record(s)
        chat = self.chat(s.chat_id)
        chat.records.append(s)
        chat.showing[s.message_id] = s
        if chat.waiter is not None and len(chat.records) >= chat.waiter[0] and not chat.waiter[1].done():
            chat.waiter[1].set_result(None)

    async def until(self, chat_id: int, count: int, timeout: float) -> None:
        chat = self.chat(chat_id)
        if len(chat.records) >= count:
            return
        future = asyncio.get_running_loop().create_future()
        chat.waiter = (count, future)
        try:
            await asyncio.wait_for(future, timeout)
        finally:
            chat.waiter = None

    def button(self, chat_id: int, label: str) -> tuple[Sent, str] | None:
        """The button ``label`` (exactly, else the first that starts with it) on the newest message with any."""
        for _, message in sorted(self.chat(chat_id).showing.items(), reverse=True):
            if message.buttons:
                exact = [b["callback_data"] for b in message.buttons if b["text"] == label]
                found = exact or [b["callback_data"] for b in message.buttons if b["text"].startswith(label)]
                return (message, found[0]) if found else None
        return None


def signature(s: Sent) -> str:
    """A reply's method and the start of its text (tags left out, digits as #: names and counts vary)."""
    return f"{s.method}: {re.sub(r'[0-9]', '#', re.sub(r'<[^>]+>', '', s.text))[:10]!r}"


def matches(s: Sent, expect: str) -> bool:
    """Whether a reply is what a step expects; a button or text must be the step's last reply."""
    if expect.startswith("@"):  # a photo or document among the step's replies
        return s.method == expect[1:]
    if expect.startswith("["):
        return any(b["text"].startswith(expect[1:-1]) for b in s.buttons)
    return re.sub(r"<[^>]+>", "", s.text).startswith(expect)


Deliver = Callable[[dict[str, Any]], Awaitable[object]]


def poller(fake: FakeTelegram, ids: Iterator[int]) -> Deliver:
    """Deliver an update for the bot's next getUpdates."""

    async def push(update: dict[str, Any]) -> None:
        await fake.push(update, next(ids))

    return push


def webhook_poster(http: aiohttp.ClientSession, port: int, ids: Iterator[int]) -> Deliver:
    """Deliver an update as Telegram's webhook does: POSTed with the secret header."""

    async def post(update: dict[str, Any]) -> None:
        body = {"update_id": next(ids), **update}
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        async with http.post(f"http://127.0.0.1:{port}/hook", json=body, headers=headers) as answer:
            assert answer.status == 200, answer.status

    return post


async def act(fake: Fake, user: int, step: Step, deliver: Deliver) -> None:
    kind, arg, _ = step
    if kind == "say":
        await deliver({"message": fake._message(user, arg)})
        return
    found = fake.button(user, arg)
    if found is None:
        shown = [(s.text[:50], [b["text"] for b in s.buttons]) for s in list(fake.chat(user).showing.values())[-3:]]
        raise AssertionError(f"{user}: no button {arg!r} in {shown}")
    await deliver(fake._callback(user, found[1], found[0]))


async def learn(fake: Fake, user: int, script: list[Step], deliver: Deliver) -> list[tuple[int, str]]:
    """Each step's replies (how many, and the last one's signature) for one user with nothing else
    going on: a step's replies are over when what it expects has come and 0.6 s has passed without
    another (a photo or document, drawn after the step's transaction, may come a while after its text)."""
    learnt: list[tuple[int, str]] = []
    chat = fake.chat(user)
    for step in script:
        before, expect = len(chat.records), step[2]
        await act(fake, user, step, deliver)
        await fake.until(user, before + 1, 30.0)
        deadline = time.monotonic() + 30.0
        while True:
            seen = len(chat.records)
            await asyncio.sleep(0.6)
            replies = chat.records[before:] if expect and expect.startswith("@") else chat.records[-1:]
            met = expect is None or any(matches(s, expect) for s in replies)
            if len(chat.records) == seen and (met or time.monotonic() > deadline):
                break
        if not met:
            got = [signature(s) for s in chat.records[before:]]
            raise AssertionError(f"step {step[:2]}: expected {expect!r}, the step sent {got}")
        learnt.append((len(chat.records) - before, signature(chat.records[-1])))
        if os.environ.get("BENCH_SHOW_STEPS"):
            print(f"    {step[:2]} -> {[signature(s) for s in chat.records[before:]]}", flush=True)
    return learnt


async def manager(fake: Fake, user: int, script: list[Step], learnt: list[tuple[int, str]], deliver: Deliver) -> int:
    chat = fake.chat(user)
    for step, (count, last) in zip(script, learnt, strict=True):
        before = len(chat.records)
        await act(fake, user, step, deliver)
        try:
            await fake.until(user, before + count, 60.0)
        except TimeoutError:
            got = [signature(s) for s in chat.records[before:]]
            raise AssertionError(f"{user} {step[:2]}: wanted {count} replies ending {last}, got {got}") from None
        if signature(chat.records[before + count - 1]) != last:
            got = [signature(s) for s in chat.records[before:]]
            raise AssertionError(f"{user} {step[:2]}: the replies ended {got}, not {last}")
    return len(script)


@dataclass
class Run:
    name: str
    updates: int
    seconds: float
    cpu: float
    harness_cpu: float
    start: float
    reply: float | None  # start to the reply to a message waiting at start (polling)
    rss_mb: float

    @property
    def rate(self) -> float:
        return self.updates / self.seconds

    @property
    def per_update(self) -> float:
        return self.cpu / self.updates * 1000


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _with(env: dict[str, str], fake: FakeTelegram) -> dict[str, str]:
    return {
        **env,
        "LEADCOACH_TELEGRAM_TOKEN": fake.token,
        "LEADCOACH_TELEGRAM_API_URL": fake.api_url,
        "LEADCOACH_TELEGRAM_FILE_URL": fake.file_url,
    }


@dataclass
class Target:
    """One process to measure: how to start it, with what, and its script (learnt at the first round)."""

    name: str
    argv: list[str]
    env: dict[str, str]
    script: list[Step]
    webhook: bool
    learnt: list[tuple[int, str]] | None = None
    # update ids one after another across the target's starts, as Telegram numbers them (an id seen before
    # is a repeat the bot drops; a gap makes a webhook update wait for the one before it)
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    runs: int = 0  # each run's managers are new users (ids 20,000 + 10,000 a run on)


WAITING = 5  # the chat whose message waits at Telegram while the bot starts (polling)


async def start(
    target: Target, fake: Fake
) -> tuple[asyncio.subprocess.Process, float, float | None, Deliver, aiohttp.ClientSession]:
    """Start the process; how long to its first getUpdates (webhook: setWebhook) and, by polling, to its
    reply to a message sent before it started. Once it has replied it has finished starting."""
    port = free_port() if target.webhook else 0
    env = _with(target.env, fake)
    if target.webhook:
        env |= {
            "LEADCOACH_WEBHOOK_URL": f"http://127.0.0.1:{port}/hook",
            "LEADCOACH_WEBHOOK_SECRET": SECRET,
            "LEADCOACH_WEBHOOK_LISTEN": "127.0.0.1",
            "LEADCOACH_WEBHOOK_PORT": str(port),
            "BARE_WEBHOOK_PORT": str(port),
        }
    ready = "setWebhook" if target.webhook else "getUpdates"
    http = aiohttp.ClientSession()
    deliver = webhook_poster(http, port, target.ids) if target.webhook else poller(fake, target.ids)
    if not target.webhook:
        await deliver({"message": fake._message(WAITING, "/help")})
    began = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(*target.argv, cwd=ROOT, env=env, stderr=asyncio.subprocess.DEVNULL)
    while ready not in fake.calls:
        if proc.returncode is not None:
            raise AssertionError(f"{target.name}: exited with {proc.returncode} before {ready}")
        await asyncio.sleep(0.002)
    took = time.perf_counter() - began
    replied = None
    if target.webhook:
        await asyncio.sleep(0.2)  # the server answers once setWebhook has gone
    else:
        await fake.until(WAITING, 1, 60)
        replied = time.perf_counter() - began
    return proc, took, replied, deliver, http


async def stop(proc: asyncio.subprocess.Process, http: aiohttp.ClientSession, fake: Fake) -> None:
    await http.close()
    if proc.returncode is None:
        proc.terminate()
    try:
        await asyncio.wait_for(proc.wait(), 15)
    except TimeoutError:
        proc.kill()
        await proc.wait()
    await fake.stop()


LEARNT: dict[int, list[tuple[int, str]]] = {}  # id(script) -> each step's replies


async def measure(target: Target, users: int) -> Run:
    if target.learnt is None:  # a first start migrates the database (and shows what each step sends)
        fake = Fake()
        await fake.start()
        proc, _, _, deliver, http = await start(target, fake)
        try:
            if id(target.script) not in LEARNT:
                LEARNT[id(target.script)] = await learn(fake, 10, target.script, deliver)
        finally:
            await stop(proc, http, fake)
        target.learnt = LEARNT[id(target.script)]
    fake = Fake()
    await fake.start()
    proc, took, replied, deliver, http = await start(target, fake)
    try:
        first, target.runs = 20_000 + 10_000 * target.runs, target.runs + 1
        cpu, harness, wall = cpu_seconds(proc.pid), time.process_time(), time.perf_counter()
        counts = await asyncio.gather(
            *(manager(fake, first + u, target.script, target.learnt, deliver) for u in range(users))
        )
        seconds, cpu = time.perf_counter() - wall, cpu_seconds(proc.pid) - cpu
        harness = time.process_time() - harness
        memory = rss_mb(proc.pid)
    finally:
        await stop(proc, http, fake)
    return Run(target.name, sum(counts), seconds, cpu, harness, took, replied, memory)


def spread(values: list[float], digits: int) -> str:
    """min / median / max, or the one value."""
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return "/".join(f"{v:.{digits}f}" for v in (min(values), statistics.median(values), max(values)))


async def main(users: int, rounds: int, postgres: bool, modes: list[str]) -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith("LEADCOACH_")}
    bare_argv = [sys.executable, str(ROOT / "bench" / "bare_bot.py")]
    coach_argv = [sys.executable, "-m", "bot.cli", "run"]
    databases = contextlib.AsyncExitStack()
    bare_steps = bare_script(COACH)
    results: dict[str, list[tuple[Run, float]]] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            targets: list[list[Target]] = []  # per mode: the bare bot first
            for mode in modes:
                webhook = mode == "webhook"
                group = [Target(f"bare PTB bot, {mode}", bare_argv, base, bare_steps, webhook)]
                stores: list[tuple[str, str | None]] = [("SQLite", None)]
                if postgres:
                    pg_url = await databases.enter_async_context(scratch_postgres("updates"))
                    stores.append(("PostgreSQL", pg_url))
                for store, url in stores:
                    env = {
                        **base,
                        "LEADCOACH_DATA_DIR": tempfile.mkdtemp(dir=tmp),
                        "LEADCOACH_ENCRYPTION_KEY": Cipher.generate_key(),
                        "LEADCOACH_NUDGE_INTERVAL": "0",
                        "LEADCOACH_TELEGRAM_RATE": "100000",  # the bare bot has no limiter either
                        "LEADCOACH_TELEGRAM_CHAT_RATE": "100000",
                        "LEADCOACH_LOG_LEVEL": "WARNING",
                    }
                    if url:
                        env["LEADCOACH_DATABASE_URL"] = url
                    group.append(Target(f"LeadCoach, {store}, {mode}", coach_argv, env, COACH, webhook))
                targets.append(group)
            for r in range(rounds):
                for group in targets:
                    bare: Run | None = None
                    for target in group:
                        run = await measure(target, users)
                        bare = bare or run
                        results.setdefault(target.name, []).append((run, run.per_update / bare.per_update))
                        print(
                            f"  round {r + 1}: {run.name}: {run.rate:.0f} updates/s, {run.per_update:.2f} ms CPU "
                            f"an update, harness {run.harness_cpu / run.updates * 1000:.2f} ms",
                            flush=True,
                        )
    finally:
        await databases.aclose()
    print()
    print(
        f"{users} simulated users at once, {len(COACH)} updates each; real HTTP on 127.0.0.1; CPU = the bot "
        f"process's own; {rounds} round(s): min/median/max"
    )
    print(
        f"{'':<32}{'updates/s':>14}{'CPU ms/upd':>17}{'ratio':>17}{'start s':>17}{'reply s':>17}{'RSS MB':>14}"
        f"{'harness ms':>12}"
    )
    for name, runs in results.items():
        rs = [r for r, _ in runs]
        print(
            f"{name:<32}{spread([r.rate for r in rs], 0):>14}{spread([r.per_update for r in rs], 2):>18}"
            f"{spread([q for _, q in runs], 2) if not name.startswith('bare') else '-':>17}"
            f"{spread([r.start for r in rs], 2):>17}"
            f"{spread([r.reply for r in rs if r.reply is not None], 2) if rs[0].reply is not None else '-':>17}"
            f"{spread([r.rss_mb for r in rs], 0):>14}"
            f"{statistics.median(r.harness_cpu / r.updates * 1000 for r in rs):>12.2f}"
        )
    print(
        "targets: SQLite polling >= 400 updates/s (quiet machine) and CPU ratio to bare <= 2; webhook >= 300/s; "
        "PostgreSQL >= 300/s; start <= 2x bare"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=1, help="alternate the processes this many times")
    parser.add_argument("--postgres", action="store_true", help="also on a scratch PostgreSQL database")
    parser.add_argument("--mode", choices=["polling", "webhook", "both"], default="both")
    args = parser.parse_args()
    chosen = ["polling", "webhook"] if args.mode == "both" else [args.mode]
    asyncio.run(main(args.users, args.rounds, args.postgres, chosen))
