"""Inline mode benchmark: server time of ``@bot <question>`` answers (issue 15: well under 100 ms).

The real Service (PTB Application, inbox, SQLite) long-polls a local fake Bot API in this process.
Server time is from getUpdates handing an inline query over to answerInlineQuery arriving: the inbox
write, the asker's row read, the lookup and the HTTP answer. Queries go one at a time, half from a
user who has been through /start (answers at their stage, read from the database), half from one
who has not. Run with ``python bench/inline.py``.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.service import Service
from bot.settings import Settings
from flows.core.crypto import Cipher
from tests.fakebot import FakeTelegram

QUESTIONS = [
    "stage 2 conflict",
    "band 7 budget",
    "PDSA cycles",
    "matron wellbeing",
    "exec on civility",
    "mary seacole",
    "what does stage 3 look like for patient safety",
    "is there a programme for BAME staff",
    "17 times 23",
    "stakeholder engagement",
]
ROUNDS = 20
KNOWN, STRANGER = 1001, 1002


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def main() -> None:
    fake = FakeTelegram()
    await fake.start()
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(
            _env_file=None,
            telegram_token=fake.token,
            telegram_api_url=fake.api_url,
            telegram_file_url=fake.file_url,
            database_url=f"sqlite+aiosqlite:///{folder}/bench.sqlite3",
            data_dir=Path(folder),
            encryption_key=Cipher.generate_key(),
        )
        service = Service(settings)
        await service.start(poll_timeout=1)
        try:
            await fake.send_text(KNOWN, "/start")
            await fake.wait_for(KNOWN, 1)
            for round_ in range(ROUNDS):
                for q in QUESTIONS:
                    who = KNOWN if round_ % 2 else STRANGER
                    await fake.wait_inline(await fake.send_inline(who, q))
        finally:
            await service.stop()
            await fake.stop()
    times = [t * 1000 for t in fake.inline_times.values()]
    print(f"inline queries answered: {len(times)} (one at a time, {ROUNDS} rounds of {len(QUESTIONS)})")
    print(f"server time p50:         {statistics.median(times):7.2f} ms")
    print(f"server time p90:         {_pct(times, 90):7.2f} ms")
    print(f"server time p99:         {_pct(times, 99):7.2f} ms   (target: well under 100 ms)")
    print(f"server time max:         {max(times):7.2f} ms")


if __name__ == "__main__":
    started = time.perf_counter()
    asyncio.run(main())
    print(f"wall time:               {time.perf_counter() - started:7.1f} s")
