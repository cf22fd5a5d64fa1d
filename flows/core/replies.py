"""What flows return: replies with buttons and attachments, rendered by an adapter."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Button:
    label: str
    action: str
    arg: str = ""
    scoped: bool = True  # bound to the conversation step it was shown at
    data: str = ""  # filled in by the engine: the signed callback data (<= 64 bytes)
    url: str = ""  # a link button (e.g. Telegram's share page): opens the URL, sends nothing back, not signed


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    kind: str = "document"  # or "photo"
    caption: str = ""
    render: Callable[[], bytes] | None = None  # made when sent, off the event loop (e.g. a chart)

    async def data(self) -> bytes:
        if self.content or self.render is None:
            return self.content
        return await asyncio.to_thread(self.render)


@dataclass
class Reply:
    text: str  # Telegram-safe HTML: user text is escaped by the templates
    buttons: list[list[Button]] = field(default_factory=list)
    attachment: Attachment | None = None


@dataclass(frozen=True)
class Identity:
    channel: str  # "telegram" or "terminal"
    external_id: str
    first_name: str | None = None


@dataclass(frozen=True)
class TextEvent:
    text: str


@dataclass(frozen=True)
class CommandEvent:
    name: str
    args: str = ""


@dataclass(frozen=True)
class ClickEvent:
    data: str


Event = TextEvent | CommandEvent | ClickEvent


@dataclass
class Outcome:
    replies: list[Reply] = field(default_factory=list)
    notice: str | None = None  # a short answer to a button press (Telegram's answerCallbackQuery)
    duplicate: bool = False
    # Not handled (nothing done, nothing to send): an earlier update of the user's, this one, is still
    # unhandled in the inbox (another instance stored it); it goes first, then this one again.
    behind: int | None = None
    pressed: str = ""  # for a button: "replace" its message with the first reply, or "clear" its buttons
