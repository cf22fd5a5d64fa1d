"""A fake chat client that drives the flow engine offline and keeps the message history:
``send("text")``, ``click("label")`` on the newest message showing it, or ``click("label", on=reply)``
on an older message, as a person scrolling up would."""

from __future__ import annotations

from bot.runtime import parse_input
from flows.core.engine import Engine
from flows.core.replies import ClickEvent, Identity, Outcome, Reply


class FakeClient:
    def __init__(self, engine: Engine, user: str = "alice", channel: str = "terminal") -> None:
        self.engine = engine
        self.who = Identity(channel, user, user.capitalize())
        self.history: list[Reply] = []
        self.outcome = Outcome()

    @property
    def last(self) -> list[Reply]:
        """The replies to the latest event that said anything."""
        return self.outcome.replies or self.history[-1:]

    async def send(self, text: str) -> list[Reply]:
        return self._keep(await self.engine.handle(self.who, parse_input(text)))

    def button(self, label: str, on: Reply | None = None) -> str:
        """A button's data: exact label first, then a label starting with it; newest message first."""
        messages = [on] if on is not None else list(reversed(self.history))
        for exact in (True, False):
            for reply in messages:
                for row in reply.buttons:
                    for b in row:
                        if b.label == label or (not exact and b.label.startswith(label)):
                            return b.data
        labels = [b.label for r in messages for row in r.buttons for b in row]
        raise AssertionError(f"no button {label!r} in {labels}")

    def message_with(self, label: str) -> Reply:
        """The newest message that shows a button with this exact label."""
        for reply in reversed(self.history):
            if any(b.label == label for row in reply.buttons for b in row):
                return reply
        raise AssertionError(f"no message shows {label!r}")

    async def click(self, label: str, on: Reply | None = None) -> list[Reply]:
        return await self.press(self.button(label, on))

    async def press(self, data: str) -> list[Reply]:
        return self._keep(await self.engine.handle(self.who, ClickEvent(data)))

    def _keep(self, outcome: Outcome) -> list[Reply]:
        self.outcome = outcome
        self.history.extend(outcome.replies)
        return outcome.replies

    @property
    def labels(self) -> list[str]:
        """The labels of the buttons the latest replies show."""
        return [b.label for r in self.outcome.replies for row in r.buttons for b in row]

    @property
    def text(self) -> str:
        return "\n".join(r.text for r in self.outcome.replies)
