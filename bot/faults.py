"""Which errors pass (a database or network outage: wait and try again) and bounded back-off."""

from __future__ import annotations

import asyncio
import logging
import random
import sqlite3
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.exc import DataError, DBAPIError, IntegrityError

T = TypeVar("T")
log = logging.getLogger(__name__)


def transient(exc: BaseException) -> bool:
    """A fault of the database or the network that passes when it comes back (not one of the data)."""
    if isinstance(exc, DataError | IntegrityError):
        return False
    return isinstance(exc, DBAPIError | OSError | TimeoutError | sqlite3.OperationalError | ConnectionError)


def describe(exc: BaseException) -> str:
    """An error in a few words, for a log line: its class and its driver's class, never its SQL or values."""
    inner = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else None
    return exc.__class__.__name__ + (f" ({inner.__class__.__name__})" if inner is not None else "")


class Backoff:
    """Waits that double from ``first`` up to ``most`` seconds (with a little jitter), reset on success."""

    def __init__(self, first: float = 0.25, most: float = 15.0) -> None:
        self.first, self.most = first, most
        self.failures = 0

    def next(self) -> float:
        self.failures += 1
        wait: float = min(self.most, self.first * 2.0 ** (self.failures - 1))
        return wait * random.uniform(0.8, 1.0)

    def reset(self) -> None:
        self.failures = 0

    def level(self) -> int:
        """WARNING for the first few failures in a row, ERROR once it has lasted."""
        return logging.ERROR if self.failures > 3 else logging.WARNING


async def retrying(call: Callable[[], Awaitable[T]], what: str, backoff: Backoff | None = None) -> T:
    """Run ``call`` until it succeeds or fails for a reason that will not pass (which is raised).
    Each transient failure is logged (WARNING, then ERROR) and waited out with bounded back-off."""
    backoff = backoff or Backoff()
    while True:
        try:
            return await call()
        except Exception as exc:
            if not transient(exc):
                raise
            delay = backoff.next()
            log.log(backoff.level(), "%s failed (%s); trying again in %.1f s", what, describe(exc), delay)
            await asyncio.sleep(delay)
