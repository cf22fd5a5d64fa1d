"""Start-up and footprint (issue 14): nothing is imported at start that the first update does not need.
The charts (matplotlib), the PDF (fpdf2), Alembic (the database is already at the head migration) and the
lookup index come when first used (the index, or a second after the bot starts receiving); `leadcoach
lookup` and `leadcoach frameworks` never open a database. By long polling, the first getUpdates goes
before python-telegram-bot, SQLAlchemy and the flows are imported (bot/early.py), and confirms nothing:
what it fetched is answered once the coach has started, or fetched again if the start fails. What is
checked is what a real `leadcoach run` process has imported at those moments, and what it sent, not a
time."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import TEST_KEY
from tests.fakebot import FakeTelegram
from tests.test_e2e import ROOT

# (packages, not modules: "alembic" is any of alembic.*)
NOT_AT_START = {"matplotlib", "fpdf", "PIL", "numpy", "fontTools", "alembic", "mako", "pygments"}
INDEXED = "(lookup index built)"

# `leadcoach run` in this process, stopped when it first calls getUpdates: what it imported by then.
AT_FIRST_POLL = """
import json, os, sys
from bot.inbox import Pump

async def first_poll(self, *args, **kwargs):
    from frameworks.lookup import _default_index
    indexed = ["(lookup index built)"] if _default_index.cache_info().currsize else []
    print(json.dumps(sorted({m.split(".")[0] for m in sys.modules}) + indexed), flush=True)
    os._exit(0)

Pump.poll = first_poll
from bot.cli import main
sys.exit(main(["run"]))
"""


# `leadcoach run` in this process, stopped as it sends its first getUpdates (the early one, over aiohttp).
AT_FIRST_GETUPDATES = """
import json, os, sys
import aiohttp

real_post = aiohttp.ClientSession.post

def post(self, url, *args, **kwargs):
    if str(url).endswith("/getUpdates"):
        print(json.dumps(sorted(sys.modules)), flush=True)
        os._exit(0)
    return real_post(self, url, *args, **kwargs)

aiohttp.ClientSession.post = post
from bot.cli import main
sys.exit(main(["run"]))
"""


def _run_env(fake: FakeTelegram, database_url: str, data: Path) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("LEADCOACH_")},
        "LEADCOACH_TELEGRAM_TOKEN": fake.token,
        "LEADCOACH_TELEGRAM_API_URL": fake.api_url,
        "LEADCOACH_TELEGRAM_FILE_URL": fake.file_url,
        "LEADCOACH_DATABASE_URL": database_url,
        "LEADCOACH_DATA_DIR": str(data),
        "LEADCOACH_ENCRYPTION_KEY": TEST_KEY,
        "LEADCOACH_NUDGE_INTERVAL": "0",
    }


async def _modules_at(script: str, env: dict[str, str]) -> set[str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, out
    return set(json.loads(out.decode().strip().splitlines()[-1]))


async def test_run_imports_nothing_the_first_update_does_not_need(
    fake: FakeTelegram, database_url: str, tmp_path: Path
) -> None:
    loaded = await _modules_at(AT_FIRST_POLL, _run_env(fake, database_url, tmp_path))  # (database migrated)
    assert {"telegram", "sqlalchemy", "flows", "bot"} <= loaded  # it did start
    assert loaded & (NOT_AT_START | {INDEXED}) == set()
    assert "getMe" in fake.calls


async def test_the_first_getupdates_goes_before_telegram_sqlalchemy_and_the_flows_are_imported(
    fake: FakeTelegram, database_url: str, tmp_path: Path
) -> None:
    loaded = await _modules_at(AT_FIRST_GETUPDATES, _run_env(fake, database_url, tmp_path))
    assert {"aiohttp", "pydantic", "bot.settings", "bot.early"} <= loaded  # it got as far as asking
    heavy = ("telegram", "sqlalchemy", "httpx", "flows.core", "flows.store", "flows.talks", "frameworks")
    assert [m for m in loaded if m.split(".")[0] in NOT_AT_START or m.startswith(heavy)] == []


async def _leadcoach_run(env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run", cwd=ROOT, env=env, stderr=asyncio.subprocess.PIPE
    )


async def _until(check: Any, timeout: float = 30.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.02)


async def test_a_message_that_waited_while_the_bot_was_down_is_answered_once(
    fake: FakeTelegram, database_url: str, tmp_path: Path
) -> None:
    """Fetched by the early getUpdates, before the webhook an earlier deployment left is deleted (Telegram
    answers that getUpdates 409): answered once, and polling goes on."""
    fake.webhook = {"url": "https://old.example.org/hook"}
    await fake.push({"message": fake._message(5, "/help")})
    proc = await _leadcoach_run(_run_env(fake, database_url, tmp_path))
    try:
        await _until(lambda: fake.to(5))
        assert fake.calls.index("getUpdates") < fake.calls.index("getMe")  # asked for before starting up
        assert fake.webhook == {} and "deleteWebhook" in fake.calls
        await fake.push({"message": fake._message(5, "/privacy")})
        await _until(lambda: len(fake.to(5)) >= 2)
        await asyncio.sleep(0.3)
        assert len(fake.to(5)) == 2  # each answered once
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()


@pytest.mark.parametrize("waiting", [True, False], ids=["a message waiting", "none: the long poll is open"])
async def test_a_start_that_fails_confirms_nothing_and_exits_at_once(
    fake: FakeTelegram, database_url: str, tmp_path: Path, waiting: bool
) -> None:
    if waiting:
        await fake.push({"message": fake._message(5, "/help")})
    env = _run_env(fake, database_url, tmp_path) | {"LEADCOACH_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/x"}
    proc = await _leadcoach_run(env)
    _, err = await asyncio.wait_for(proc.communicate(), 20)  # the early long poll (30 s) does not hold it
    lines = err.decode().strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and "cannot reach the database" in lines[0], lines
    assert fake.calls[0] == "getUpdates" and fake.sent == []
    assert len(fake.updates) == (1 if waiting else 0)  # not confirmed: Telegram sends it again


@pytest.mark.parametrize("argv", [["lookup", "stage 3 budget", "--json"], ["frameworks", "--json"]])
def test_lookup_and_frameworks_open_no_database(argv: list[str]) -> None:
    import subprocess

    code = (
        "import json, sys\nfrom bot.cli import main\nstatus = main(sys.argv[1:])\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})), file=sys.stderr)\nsys.exit(status)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, *argv], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    assert json.loads(done.stdout)  # it answered
    loaded = set(json.loads(done.stderr.strip().splitlines()[-1]))
    assert loaded & ({"sqlalchemy", "telegram", "aiohttp", "jinja2"} | NOT_AT_START) == set()
