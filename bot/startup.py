"""Start-up checks: each problem an operator can cause is one clear line and exit status 2."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError

# SQLAlchemy is imported by the checks that open a database, not here: `leadcoach lookup` never needs it.


class StartupError(Exception):
    """Something in the configuration or environment stops LeadCoach from starting; said in one line."""


def settings_error(exc: ValidationError) -> StartupError:
    first = exc.errors()[0]
    if not first["loc"]:  # a check across settings: its message names them
        return StartupError(str(first["msg"]).removeprefix("Value error, "))
    where = "LEADCOACH_" + "_".join(str(p) for p in first["loc"]).upper()
    said = str(first["msg"]).removeprefix("Value error, ")
    return StartupError(f"{where} is {said}" if said.startswith("not ") else f"{where} is not valid: {said}")


def check_timezone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise StartupError(f"LEADCOACH_DEFAULT_TIMEZONE {name!r} is not a time zone (e.g. Europe/London)") from None


def check_log_level(level: str) -> int:
    value = logging.getLevelName(level.upper())
    if not isinstance(value, int):
        raise StartupError(f"LEADCOACH_LOG_LEVEL {level!r} is not one of DEBUG, INFO, WARNING, ERROR")
    return value


def private_dir(path: Path) -> None:
    """Create the data directory (mode 0700), or tighten ours, and check we can write to it."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        if path.stat().st_uid == os.getuid():
            path.chmod(0o700)
        probe = path / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise StartupError(f"cannot write to the data directory {path.resolve()} ({exc.strerror})") from None


def private_file(path: Path) -> None:
    """Create an empty file only we can read (an SQLite database starts from one), or tighten it."""
    try:
        if not path.exists():
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            if p.exists():
                p.chmod(0o600)
    except OSError as exc:
        raise StartupError(f"cannot create the database file {path} ({exc.strerror})") from None


def check_database_url(url: str) -> None:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        parsed = make_url(url)
        parsed.get_dialect()
    except (ArgumentError, NoSuchModuleError, ValueError) as exc:
        raise StartupError(f"LEADCOACH_DATABASE_URL is not a database URL LeadCoach can use ({exc})") from None


def database_error(url: str, exc: BaseException) -> StartupError:
    """An error while first talking to the database, said plainly."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import DBAPIError, OperationalError

    where = make_url(url).render_as_string(hide_password=True)
    reason = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    text = str(reason).strip().splitlines()[0] if str(reason).strip() else reason.__class__.__name__
    if isinstance(exc, OSError | OperationalError):
        return StartupError(f"cannot reach the database at {where} ({text})")
    return StartupError(f"the database at {where} refused LeadCoach ({text})")
