"""The terminal adapter: the same coach, with buttons shown as numbered choices."""

from __future__ import annotations

import asyncio
import dataclasses
import html
import logging
import os
import re
import sys
from typing import TextIO

from bot.runtime import Runtime, parse_input
from flows.core.push import SendResult, SendStatus
from flows.core.replies import Button, ClickEvent, Event, Identity, Reply, TextEvent
from flows.core.texts import SOMETHING_WRONG

log = logging.getLogger(__name__)

_TAGS = re.compile(r"</?(?:b|i|u|s|code|pre|a)(?: [^>]*)?>")


def plain(text: str) -> str:
    """Telegram HTML to terminal text."""
    return html.unescape(_TAGS.sub("", text))


class Terminal:
    def __init__(self, runtime: Runtime, user: str, out: TextIO = sys.stdout) -> None:
        self.runtime = runtime
        self.who = Identity("terminal", user, None if user == "me" else user)
        self.out = out
        self.choices: list[Button] = []
        self.exports = runtime.settings.data_dir / "exports"

    async def show(self, replies: list[Reply]) -> None:
        """Print the replies; a chart or file is made (off the event loop) and saved first."""
        for reply in replies:
            if reply.attachment is not None and not reply.attachment.content:
                content = await reply.attachment.data()
                reply.attachment = dataclasses.replace(reply.attachment, content=content, render=None)
        self.render(replies)

    def render(self, replies: list[Reply]) -> None:
        choices: list[Button] = []
        for reply in replies:
            print(plain(reply.text), file=self.out)
            for row in reply.buttons:
                for b in row:
                    if b.url:  # a link (e.g. Telegram's share page): shown, not a choice
                        print(f"  ({plain(b.label)}: {b.url})", file=self.out)
                        continue
                    choices.append(b)
                    print(f"  [{len(choices)}] {plain(b.label)}", file=self.out)
            if reply.attachment is not None:
                self.exports.mkdir(mode=0o700, parents=True, exist_ok=True)
                path = self.exports / reply.attachment.filename
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # only you can read it
                with os.fdopen(fd, "wb") as f:
                    f.write(reply.attachment.content)
                path.chmod(0o600)
                print(f"  (saved {reply.attachment.filename} to {path})", file=self.out)
            print(file=self.out)
        if choices:
            self.choices = choices

    def event_for(self, line: str) -> Event:
        text = line.strip()
        if text.isdigit() and 1 <= int(text) <= len(self.choices):
            return ClickEvent(self.choices[int(text) - 1].data)
        for b in self.choices:
            if text and plain(b.label).lower() == text.lower():
                return ClickEvent(b.data)
        return parse_input(text) if text else TextEvent("")

    async def handle_line(self, line: str) -> None:
        """One typed line. A fault in the coach is logged and apologised for: the session carries on."""
        try:
            outcome = await self.runtime.coach.handle(self.who, self.event_for(line))
        except Exception:
            log.exception("the coach failed on a terminal line")
            print(SOMETHING_WRONG, file=self.out)
            return
        if outcome.notice and not outcome.replies:
            print(outcome.notice, file=self.out)
        await self.show(outcome.replies)

    async def send(self, who: Identity, replies: list[Reply]) -> SendResult:
        """The push seam's terminal side: a message the coach starts (a nudge) is printed like any other."""
        await self.show(replies)
        return SendResult(SendStatus.SENT)

    async def run(self, stdin: TextIO = sys.stdin) -> None:
        interactive = stdin.isatty()
        if interactive:
            print(
                "LeadCoach in your terminal. Type /start to begin, /help for commands, Ctrl-D to quit.\n", file=self.out
            )
        while True:
            if interactive:
                print("> ", end="", file=self.out, flush=True)
            line = await asyncio.to_thread(stdin.readline)
            if not line:
                break
            if line.strip():
                if not interactive:
                    print(f"> {line.rstrip()}", file=self.out)
                await self.handle_line(line)
