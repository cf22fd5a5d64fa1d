"""The machine that walks every path: from each step it presses every button and types the variants a
person would (each label, its number, junk, nothing, 5,000 characters, an identifier, a command), and it
walks thousands of seeded random events over several users, checking after every event that:

- nothing raised and nothing said "something went wrong";
- the stored state validates (``Engine.where``);
- no draft was lost unless the user chose to discard or erase it, or it was saved;
- every message fits Telegram once split, every keyboard row has buttons, callback data fits 64 bytes;
- /start, /help and /cancel always answer;
- typing a step's button label does what pressing it does.

The database (SQLite) is snapshotted and restored between branches, so each button of a step is tried
from the same place, and a branch that erases everything takes nothing from the next."""

from __future__ import annotations

import random
import sqlite3
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select

from bot.runtime import parse_input
from bot.telegram import MAX_MESSAGE, split_text
from flows.core.engine import Engine
from flows.core.replies import Button, ClickEvent, Event, Identity, Outcome, Reply, TextEvent
from flows.core.sessions import Where
from flows.core.signing import MAX_CALLBACK_BYTES
from flows.store.models import Assessment, CpdActivity, CpdTarget, FeedbackResponse, Reflection, User

LONG = ("I spent the afternoon with the team working through the rota. " * 90)[:5000]
IDENTIFIER = "The patient, NHS number 943 476 5919, was seen by the team."
JUNK = "purple monkey dishwasher"
ANSWER = "I talked to the team about the rota and listened before I suggested a way forward for us all."
ALWAYS_ANSWER = ("start", "help", "cancel")
DISCARDING = ("discard", "erase", "start again", "start a new one")
COMMANDS = (
    "/start",
    "/help",
    "/menu",
    "/cancel",
    "/reflect",
    "/reflect conflict",
    "/lookup stage 2 conflict",
    "/lookup",
    "/history",
    "/assess",
    "/assess gmts",
    "/develop",
    "/cpd",
    "/appraisal",
    "/feedback",
    "/pack",
    "/share",
    "/actions",
    "/start pack_notatoken",
    "/settings",
    "/privacy",
    "/export",
    "/delete",
    "/frobnicate",
)
SAVED = (Reflection, CpdActivity, CpdTarget, Assessment)


class Violation(AssertionError):
    pass


@dataclass
class Node:
    """A place in a conversation: where the user is, the stored session to return to, what was shown."""

    key: tuple[str | None, str | None, str]
    snapshot: sqlite3.Connection
    shown: list[Reply]


@dataclass
class Tally:
    events: int = 0
    buttons: int = 0
    steps: set[tuple[str, str]] = field(default_factory=set)
    nodes: int = 0
    kinds: Counter[str] = field(default_factory=Counter)


class Explorer:
    def __init__(self, engine: Engine, database: Path) -> None:
        self.engine = engine
        self.file = sqlite3.connect(database, isolation_level=None)  # snapshots are taken between events
        self.file.execute("PRAGMA synchronous = OFF")  # a test database: restoring need not wait for the disk
        self.tally = Tally()
        self.violations: list[str] = []  # every failure found, each with the path that led to it
        self.where = Where(None, None, "", None, None, None)  # where the last event left the user
        self.reached: tuple[str | None, str | None, str] = (None, None, "")

    def _fail(self, message: str) -> None:
        self.violations.append(message)

    # --- one event, checked ---------------------------------------------------------------

    async def run(self, who: Identity, event: Event, trail: Sequence[str], label: str = "") -> Outcome:
        """Handle ``event`` for ``who`` and check every invariant; a failure names the trail that led here."""
        before = await self.engine.where(who)
        kept = await self._saved(who) if _drafts(before) else 0
        path = " → ".join([*trail, describe(event, label)])
        try:
            outcome = await self.engine.handle(who, event)
        except Exception as exc:
            self._fail(f"{path}: raised {exc!r}")
            return Outcome()
        try:
            after = self.where = await self.engine.where(who)
        except ValueError as exc:
            self._fail(f"{path}: {exc}")
            return outcome
        self.tally.events += 1
        self.tally.kinds[type(event).__name__] += 1
        if after.flow and after.step:
            self.tally.steps.add((after.flow, after.step))
        try:
            self._check_replies(path, outcome)
            if _command(event) in ALWAYS_ANSWER and not outcome.replies:
                raise Violation(f"{path}: /{_command(event)} did not answer")
            await self._check_drafts(path, who, before, after, kept, event, label)
        except Violation as exc:
            self._fail(str(exc))
        return outcome

    def _check_replies(self, path: str, outcome: Outcome) -> None:
        for reply in outcome.replies:
            if "something went wrong" in reply.text.lower():
                raise Violation(f"{path}: said {reply.text!r}")
            if not reply.text.strip() and reply.attachment is None:
                raise Violation(f"{path}: an empty message")
            if any(len(part) > MAX_MESSAGE for part in split_text(reply.text)):
                raise Violation(f"{path}: a message part over {MAX_MESSAGE} characters")
            for row in reply.buttons:
                if not row:
                    raise Violation(f"{path}: an empty keyboard row in {reply.text[:60]!r}")
                for b in row:
                    if b.url and b.label.strip() and b.url.startswith("https://") and not b.data:
                        continue  # a link button: Telegram opens it, nothing comes back
                    if not b.label.strip() or not b.data or len(b.data.encode()) > MAX_CALLBACK_BYTES:
                        raise Violation(f"{path}: a bad button {b!r}")

    async def _check_drafts(
        self, path: str, who: Identity, before: Where, after: Where, kept: int, event: Event, label: str
    ) -> None:
        lost = _drafts(before) - _drafts(after)
        if not lost:
            return
        chose = label.lower() + " " + (_command(event) or "")
        if any(word in chose for word in DISCARDING) or _command(event) == "delete":
            return
        stopped = _command(event) == "cancel" or label.lower() in ("stop", "cancel")
        if stopped and not any(self.engine.flows[f].parkable for f in lost):  # told "Stopped. Nothing was saved"
            return
        if await self._saved(who) > kept:  # saved, not lost
            return
        raise Violation(f"{path}: the unfinished {', '.join(sorted(lost))} was lost ({before} → {after})")

    async def _saved(self, who: Identity) -> int:
        """How many things the user has saved (reflections, CPD, targets, assessments, feedback sent to a
        colleague), in one statement."""
        user = select(User.id).where(User.channel == who.channel, User.external_id == who.external_id)
        counts = [select(func.count()).select_from(m).where(m.user_id.in_(user)).scalar_subquery() for m in SAVED]
        sent = FeedbackResponse.rater_id.in_(user) & FeedbackResponse.finished_at.is_not(None)
        counts.append(select(func.count()).select_from(FeedbackResponse).where(sent).scalar_subquery())
        async with self.engine.transaction() as db:
            return sum(int(n) for n in (await db.execute(select(*counts))).one())

    # --- snapshots of the database --------------------------------------------------------

    def snapshot(self) -> sqlite3.Connection:
        """The whole database as it is now (SQLite's online backup, into memory)."""
        copy = sqlite3.connect(":memory:")
        self.file.backup(copy)
        return copy

    def restore(self, snap: sqlite3.Connection) -> None:
        """Back to a snapshot: every row of every table, so a branch that erased or saved leaves no trace."""
        snap.backup(self.file)

    # --- breadth first, every button and typed variant of every step -----------------------

    async def explore(self, who: Identity, starts: Sequence[str], *, per_step: int = 3, limit: int = 400) -> None:
        """From each start (a command), every button and typed variant of every step reached; each
        (flow, step) explored from at most ``per_step`` different screens (outside flows, four times as many:
        lists, menus and answers)."""
        self._cap, self._queued = per_step, Counter[tuple[str | None, str | None]]()
        self._keys: set[tuple[str | None, str | None, str]] = set()
        self._varied: set[tuple[str | None, ...]] = set()
        base = self.snapshot()
        queue: list[tuple[Node, list[str]]] = []
        for start in starts:
            self.restore(base)
            queue += await self._visit(who, parse_input(start), [], start)
        while queue and self.tally.nodes < limit:
            node, trail = queue.pop(0)
            self.tally.nodes += 1
            queue += await self._branches(who, node, trail)

    async def _visit(self, who: Identity, event: Event, trail: list[str], label: str) -> list[tuple[Node, list[str]]]:
        """Run the event; if it leads somewhere not yet queued (and under the cap), the place to explore."""
        outcome = await self.run(who, event, trail, label)
        where, shown = self.where, outcome.replies
        # Outside a flow, what the buttons do tells places apart (the /history list, the menu, an answer).
        screen = where.screen or ",".join(
            sorted({f"{b.action}:{b.arg}" for r in shown for row in r.buttons for b in row})
        )
        key = (where.flow, where.step, screen)
        self.reached = key
        cap = self._cap if key[0] is not None else 4 * self._cap
        if key in self._keys or self._queued[key[:2]] >= cap:
            return []
        self._keys.add(key)
        self._queued[key[:2]] += 1
        return [(Node(key, self.snapshot(), shown), [*trail, describe(event, label)])]

    async def _branches(self, who: Identity, node: Node, trail: list[str]) -> list[tuple[Node, list[str]]]:
        out = []
        buttons = [b for r in node.shown for row in r.buttons for b in row if not b.url]
        self.tally.buttons += len(buttons)
        for b in buttons:
            self.restore(node.snapshot)
            out += await self._visit(who, ClickEvent(b.data), trail, b.label)
            pressed = self.reached
            if b.scoped and node.key[0] is not None:
                self.restore(node.snapshot)
                await self._visit(who, TextEvent(b.label), trail, b.label)
                if self.reached != pressed:
                    self._fail(
                        f"{' → '.join(trail)}: typing {b.label!r} went to {self.reached}, pressing it to {pressed}"
                    )
        if node.key[:2] in self._varied:  # the typed variants once per step (per place outside flows)
            return out
        self._varied.add(node.key[:2] if node.key[0] is not None else node.key)
        variants = [(str(i), b.label) for i, b in enumerate(buttons[:4], 1)]  # a number may name a button
        variants += [(t, t) for t in (JUNK, "", LONG, IDENTIFIER, ANSWER, "back", "skip", "later", "stop")]
        variants += [(t, "") for t in ("/help", "/frobnicate")]
        for typed_text, label in variants:
            self.restore(node.snapshot)
            out += await self._visit(who, parse_input(typed_text) if typed_text else TextEvent(""), trail, label)
        return out

    # --- a seeded random walk over several users --------------------------------------------

    async def walk(self, users: Sequence[Identity], events: int, seed: int) -> None:
        rng = random.Random(seed)
        history: dict[Identity, list[Reply]] = {u: [] for u in users}
        trails: dict[Identity, list[str]] = {u: [] for u in users}
        for _ in range(events):
            who = rng.choice(users)
            event, label = _random_event(rng, history[who])
            outcome = await self.run(who, event, trails[who][-12:], label)
            history[who] = (history[who] + outcome.replies)[-30:]
            trails[who].append(describe(event, label))


def _random_event(rng: random.Random, history: list[Reply]) -> tuple[Event, str]:
    buttons = [b for r in history for row in r.buttons for b in row if not b.url]
    latest = [b for r in history[-2:] for row in r.buttons for b in row if not b.url]
    roll = rng.random()
    if buttons and roll < 0.45:
        b = rng.choice(latest) if latest and rng.random() < 0.7 else rng.choice(buttons)  # older messages too
        return ClickEvent(b.data), b.label
    if latest and roll < 0.55:
        # a typed number names a button of the latest message with buttons, so the label is that one's
        last = next(([b for row in r.buttons for b in row] for r in reversed(history) if r.buttons), latest)
        n = rng.randint(1, len(last))
        b = last[n - 1]
        return TextEvent(b.label if rng.random() < 0.7 else str(n)), b.label
    if roll < 0.72:
        return parse_input(rng.choice(COMMANDS)), ""
    words = [ANSWER, "20", "conflict", "yes", "back", "skip", "later", "stop"] if roll < 0.9 else [JUNK, "", LONG]
    typed = rng.choice([*words, IDENTIFIER, "🙂", "0", "99999"] if roll >= 0.9 else words)
    return TextEvent(typed), typed


def _drafts(where: Where) -> set[str]:
    drafts = set()
    if where.flow and where.progress:
        drafts.add(where.flow)
    if where.parked and where.parked_progress:
        drafts.add(where.parked)
    return drafts


def _command(event: Event) -> str | None:
    return getattr(event, "name", None)


def describe(event: Event, label: str = "") -> str:
    if isinstance(event, ClickEvent):
        return f"[{label}]"
    if isinstance(event, TextEvent):
        shown = event.text if len(event.text) < 40 else event.text[:30] + f"…({len(event.text)})"
        return repr(shown)
    return f"/{event.name} {event.args}".strip()


def labels(buttons: list[list[Button]]) -> list[str]:
    return [b.label for row in buttons for b in row]
