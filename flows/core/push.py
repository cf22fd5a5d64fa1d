"""The push seam: how bot-initiated messages (nudges, invitations, reminders) leave the engine.

Each adapter implements ``Sender``; ``Engine.push`` composes the message in the user's transaction
(signed buttons, maybe a flow started) and then hands the replies to the sender."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from flows.core.replies import Identity, Reply


class SendStatus(Enum):
    SENT = "sent"
    SKIPPED = "skipped"  # unknown or blocked user: nothing was composed or sent
    BLOCKED = "blocked"  # the user has blocked the bot (Telegram 403): they are marked and not messaged again
    RETRY = "retry"  # rate-limited: try again after ``retry_after`` seconds
    FAILED = "failed"  # a lasting error; nothing more to do for this message


@dataclass(frozen=True)
class SendResult:
    status: SendStatus
    retry_after: float | None = None


class Sender(Protocol):
    async def send(self, who: Identity, replies: list[Reply]) -> SendResult: ...
