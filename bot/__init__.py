"""The runtime: settings, database, Telegram and terminal adapters, CLI."""

import os

# python-telegram-bot 22.2+ warns on every RetryAfter unless the timedelta behaviour is opted in;
# we handle both, so opt in before telegram is used anywhere in this package.
os.environ.setdefault("PTB_TIMEDELTA", "1")
