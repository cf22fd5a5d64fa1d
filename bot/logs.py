"""Logging: one format to stderr; never the bot token, never what users type.

python-telegram-bot logs updates (with their text) and httpx logs request URLs (with the token) at
levels below WARNING, so those loggers stay at WARNING whatever LEADCOACH_LOG_LEVEL says, and a
filter on the handler redacts anything that looks like a bot token from every record."""

from __future__ import annotations

import logging
import re
import sys

_TOKEN = re.compile(r"\d{5,}:[A-Za-z0-9_-]{20,}")
QUIET = ("telegram", "httpx", "httpcore", "apscheduler", "aiosqlite", "alembic.runtime.migration", "aiohttp.access")


class Redact(logging.Filter):
    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = _TOKEN.sub("<token>", message)
        for secret in self.secrets:
            clean = clean.replace(secret, "<secret>")
        if clean != message:
            record.msg, record.args = clean, None
        return True


def setup(level: int, secrets: list[str]) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(Redact(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in QUIET:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
