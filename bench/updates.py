"""Update throughput: a mixed stream through the real PTB Application, network faked, on SQLite.

Simulated managers onboard, reflect (prompts, button presses), look things up and open their
history, interleaved. Beside it, in the same run, a bare python-telegram-bot echo bot handles
the same number of text updates over the same fake network: the ratio is what our coach costs
over PTB itself. Targets (issue 3): >= 200 updates/s, p99 < 50 ms.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from telegram import Update
from telegram.ext import Application, ContextTypes, MessageHandler, filters
from telegram.request import BaseRequest, RequestData

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.app import build_application
from bot.settings import Settings
from flows.crypto import Cipher

USERS = 60
BOT = {"id": 1, "is_bot": True, "first_name": "LeadCoach", "username": "LeadCoachBenchBot"}


class LocalRequest(BaseRequest):
    """Answers Bot API calls in-process, like Telegram would, and remembers the last keyboard per chat."""

    def __init__(self) -> None:
        self.ids = itertools.count(1)
        self.keyboards: dict[int, list[dict[str, str]]] = {}

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    @property
    def read_timeout(self) -> float | None:
        return 1.0

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        name = url.rsplit("/", 1)[-1]
        params: dict[str, Any] = dict(request_data.parameters) if request_data else {}
        result: Any = True
        if name == "getMe":
            result = BOT
        elif name == "getUpdates":
            result = []
        elif name in ("sendMessage", "sendDocument", "editMessageReplyMarkup"):
            chat = int(params.get("chat_id", 0))
            markup: dict[str, Any] = params.get("reply_markup") or {}
            if name == "sendMessage":
                self.keyboards[chat] = [b for row in markup.get("inline_keyboard", []) for b in row]
            result = {
                "message_id": next(self.ids),
                "date": 0,
                "chat": {"id": chat, "type": "private"},
                "text": str(params.get("text", ""))[:10],
            }
        return 200, json.dumps({"ok": True, "result": result}).encode()


def message(uid: int, user: int, text: str) -> dict[str, Any]:
    msg: dict[str, Any] = {
        "message_id": uid,
        "date": 0,
        "chat": {"id": user, "type": "private"},
        "from": {"id": user, "is_bot": False, "first_name": "M"},
        "text": text,
    }
    if text.startswith("/"):
        msg["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    return {"update_id": uid, "message": msg}


def click(uid: int, user: int, data: str) -> dict[str, Any]:
    return {
        "update_id": uid,
        "callback_query": {
            "id": str(uid),
            "chat_instance": "c",
            "data": data,
            "from": {"id": user, "is_bot": False, "first_name": "M"},
            "message": {"message_id": 1, "date": 0, "chat": {"id": user, "type": "private"}, "text": "x"},
        },
    }


SCRIPT: list[tuple[str, str]] = [
    ("say", "/start"),
    ("tap", "Use the defaults"),
    ("say", "what does stage 2 look like"),
    ("say", "/reflect"),
    ("tap", "Suggested"),
    ("say", "I had to tell the team about a rota change that nobody wanted this week."),
    ("say", "It showed me I explain the decision but not the reasons behind it clearly enough."),
    ("say", "Next time I will share the reasons first and take questions before the detail."),
    ("tap", "3 Proficient"),
    ("tap", "15 min"),
    ("tap", "Done"),
    ("tap", "Save"),
    ("say", "stage 3 budget"),
    ("say", "/history"),
    ("say", "conflcit"),
]


async def run(app: Application, updates: Any) -> list[float]:  # type: ignore[type-arg]
    latencies = []
    for payload in updates:
        update = Update.de_json(payload() if callable(payload) else payload, app.bot)
        start = time.perf_counter()
        await app.process_update(update)
        latencies.append((time.perf_counter() - start) * 1000)
    return latencies


async def coach(data_dir: Path) -> tuple[list[float], float]:
    request = LocalRequest()
    settings = Settings(
        _env_file=None, telegram_token="1:BENCH", data_dir=data_dir, encryption_key=Cipher.generate_key()
    )
    app = build_application(settings, rate_limit=False, request=request)
    await app.initialize()
    assert app.post_init is not None
    await app.post_init(app)
    ids = itertools.count(1)

    def step(user: int, kind: str, arg: str) -> Any:
        def make() -> dict[str, Any]:
            if kind == "say":
                return message(next(ids), user, arg)
            data = next(b["callback_data"] for b in request.keyboards[user] if b["text"].startswith(arg))
            return click(next(ids), user, data)

        return make

    stream = [step(1000 + u, kind, arg) for kind, arg in SCRIPT for u in range(USERS)]
    start = time.perf_counter()
    latencies = await run(app, stream)
    elapsed = time.perf_counter() - start
    assert app.post_shutdown is not None
    await app.post_shutdown(app)
    await app.shutdown()
    return latencies, elapsed


async def echo(count: int) -> tuple[list[float], float]:
    async def reply(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(update.effective_message.text or "")

    app = Application.builder().token("1:ECHO").request(LocalRequest()).get_updates_request(LocalRequest()).build()
    app.add_handler(MessageHandler(filters.TEXT, reply))
    await app.initialize()
    stream = [message(i, 2000 + i % USERS, "hello there, this is an echo") for i in range(1, count + 1)]
    start = time.perf_counter()
    latencies = await run(app, stream)
    elapsed = time.perf_counter() - start
    await app.shutdown()
    return latencies, elapsed


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ours, ours_s = await coach(Path(tmp))
    base, base_s = await echo(len(ours))
    print(f"updates: {len(ours)} ({USERS} simulated managers, {len(SCRIPT)} steps each), SQLite, network faked")
    print(f"{'':<22}{'updates/s':>10}{'p50 ms':>9}{'p99 ms':>9}")
    print(f"{'LeadCoach':<22}{len(ours) / ours_s:>10.0f}{statistics.median(ours):>9.2f}{pct(ours, 99):>9.2f}")
    print(f"{'bare PTB echo bot':<22}{len(base) / base_s:>10.0f}{statistics.median(base):>9.2f}{pct(base, 99):>9.2f}")
    print(f"throughput ratio LeadCoach / echo: {(len(ours) / ours_s) / (len(base) / base_s):.2f}")
    print("targets: >= 200 updates/s, p99 < 50 ms")


if __name__ == "__main__":
    asyncio.run(main())
