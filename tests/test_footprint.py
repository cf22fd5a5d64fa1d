"""Start-up and footprint (issue 14): nothing is imported at start that the first update does not need.
The charts (matplotlib), the PDF (fpdf2), Alembic (the database is already at the head migration) and the
lookup index come when first used (the index, or a second after the bot starts receiving); `leadcoach
lookup` and `leadcoach frameworks` never open a database. What is checked is what a real `leadcoach run`
process has imported when it first asks Telegram for updates, not a time."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

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


async def _modules_at_first_poll(fake: FakeTelegram, database_url: str, data: Path) -> set[str]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("LEADCOACH_")},
        "LEADCOACH_TELEGRAM_TOKEN": fake.token,
        "LEADCOACH_TELEGRAM_API_URL": fake.api_url,
        "LEADCOACH_TELEGRAM_FILE_URL": fake.file_url,
        "LEADCOACH_DATABASE_URL": database_url,
        "LEADCOACH_DATA_DIR": str(data),
        "LEADCOACH_ENCRYPTION_KEY": TEST_KEY,
        "LEADCOACH_NUDGE_INTERVAL": "0",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", AT_FIRST_POLL, cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, out
    return set(json.loads(out.decode().strip().splitlines()[-1]))


async def test_run_imports_nothing_the_first_update_does_not_need(
    fake: FakeTelegram, database_url: str, tmp_path: Path
) -> None:
    loaded = await _modules_at_first_poll(fake, database_url, tmp_path)  # (the database is migrated)
    assert {"telegram", "sqlalchemy", "flows", "bot"} <= loaded  # it did start
    assert loaded & (NOT_AT_START | {INDEXED}) == set()
    assert "getMe" in fake.calls


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
