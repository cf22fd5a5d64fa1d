"""A fake chat client that drives the flow engine offline: ``send("text")`` and ``click("label")``."""

from __future__ import annotations

from bot.runtime import parse_input
from flows.engine import Engine
from flows.replies import ClickEvent, Identity, Outcome, Reply


class FakeClient:
    def __init__(self, engine: Engine, user: str = "alice", channel: str = "terminal") -> None:
        self.engine = engine
        self.who = Identity(channel, user, user.capitalize())
        self.last: list[Reply] = []
        self.outcome = Outcome()

    async def send(self, text: str) -> list[Reply]:
        self.outcome = await self.engine.handle(self.who, parse_input(text))
        self.last = self.outcome.replies or self.last
        return self.outcome.replies

    def button(self, label: str) -> str:
        for reply in reversed(self.last):
            for row in reply.buttons:
                for b in row:
                    if b.label == label or b.label.startswith(label):
                        return b.data
        labels = [b.label for r in self.last for row in r.buttons for b in row]
        raise AssertionError(f"no button {label!r} in {labels}")

    async def click(self, label: str) -> list[Reply]:
        return await self.press(self.button(label))

    async def press(self, data: str) -> list[Reply]:
        self.outcome = await self.engine.handle(self.who, ClickEvent(data))
        self.last = self.outcome.replies or self.last
        return self.outcome.replies

    @property
    def text(self) -> str:
        return "\n".join(r.text for r in self.outcome.replies)
