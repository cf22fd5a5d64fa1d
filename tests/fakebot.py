"""A local fake of the Telegram Bot API, for end-to-end tests and benchmarks.

It behaves like Telegram where it matters: long-polling getUpdates with offsets (409 while a webhook
is set), 400 for text
over 4096 characters, callback data over 64 bytes and bad HTML entities, 429 with retry_after
above a configurable rate (per bot, and per chat if asked: a burst, then a rate; edits counted too if
asked), and 403 for a user who blocked the bot.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import time
from dataclasses import dataclass, field
from functools import partial
from html.parser import HTMLParser
from typing import Any

from aiohttp import web

BOT = {
    "id": 999000,
    "is_bot": True,
    "first_name": "LeadCoach",
    "username": "LeadCoachTestBot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": True,
}
_ALLOWED_TAGS = {
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "span",
    "tg-spoiler",
    "a",
    "code",
    "pre",
    "blockquote",
    "tg-emoji",
}
_BAD_AMP = re.compile(r"&(?!(?:lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);)")


class _EntityChecker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.stack: list[str] = []
        self.error: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _ALLOWED_TAGS:
            self.error = self.error or f'Unsupported start tag "{tag}"'
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.error = self.error or f'Unmatched end tag "{tag}"'
        else:
            self.stack.pop()


def html_error(text: str) -> str | None:
    if "<" in text and re.search(r"<(?![a-zA-Z/])", text):
        return "Unsupported start tag"
    if _BAD_AMP.search(text):
        return "Can't find end of the entity"
    checker = _EntityChecker()
    checker.feed(text)
    checker.close()
    if checker.error is None and checker.stack:
        checker.error = f'Can\'t find end tag corresponding to start tag "{checker.stack[-1]}"'
    return checker.error


class ApiError(Exception):
    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code, self.description, self.retry_after = code, description, retry_after


@dataclass
class Sent:
    method: str
    chat_id: int
    message_id: int
    text: str = ""
    reply_markup: dict[str, Any] | None = None
    document: bytes | None = None
    filename: str | None = None
    parse_mode: str | None = None

    @property
    def buttons(self) -> list[dict[str, str]]:
        if not self.reply_markup:
            return []
        return [b for row in self.reply_markup.get("inline_keyboard", []) for b in row]


@dataclass
class FakeTelegram:
    token: str = "123456:TEST-TOKEN"
    rate_limit_per_second: float | None = None  # total sends per second before 429
    chat_limit_per_second: float | None = None  # sends to one chat per second before 429 (Telegram: about 1)
    chat_burst: int = 1  # sends one chat takes at once before its rate applies (a token bucket; Telegram: a few)
    limit_edits: bool = False  # edits count against both limits too (as Telegram counts them)
    accepted: list[tuple[float, int]] = field(default_factory=list)  # (time.monotonic(), chat) of each counted send
    blocked: set[int] = field(default_factory=set)
    updates: list[dict[str, Any]] = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    callback_answers: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[tuple[str, int, str]] = field(default_factory=list)
    commands: list[dict[str, Any]] = field(default_factory=list)
    fail_next: dict[str, int] = field(default_factory=dict)  # method -> how many calls answer 502
    messages: dict[tuple[int, int], Sent] = field(default_factory=dict)  # what each chat shows now
    webhook: dict[str, Any] = field(default_factory=dict)
    edits: list[int] = field(default_factory=list)  # messages whose keyboard was changed
    hang_after: int | None = None  # sendMessage: after this many, take the next one and never answer it
    send_times: list[float] = field(default_factory=list)  # when each sendMessage was accepted
    inline_answers: dict[str, dict[str, Any]] = field(default_factory=dict)  # inline query id -> answer
    inline_times: dict[str, float] = field(default_factory=dict)  # query id -> seconds from delivery to answer
    slow: dict[str, float] = field(default_factory=dict)  # method -> seconds it takes to answer
    timeline: list[tuple[str, str]] = field(default_factory=list)  # (method, "start" or "end"), in order
    throttled_until: float = 0.0  # time.monotonic() until which every send is answered 429 (retry_after 1)
    agents: dict[str, set[str]] = field(default_factory=dict)  # method -> User-Agent headers it came with
    conflict_next: int = 0  # getUpdates: how many calls answer 409 (another process is polling)
    port: int = 0

    def __post_init__(self) -> None:
        self._ids = itertools.count(1)
        self._message_ids = itertools.count(100)
        self._new = asyncio.Condition()
        self._send_times: list[float] = []
        self._chat_full_at: dict[int, float] = {}  # chat -> when its bucket is whole again
        self._runner: web.AppRunner | None = None
        self._closing = False
        self._output = asyncio.Condition()
        self._seen: dict[int, int] = {}
        self._hung = asyncio.Event()  # set at stop: lets hung requests end
        self._delivered: dict[str, float] = {}  # inline query id -> when getUpdates handed it over

    # --- server -------------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    async def start(self) -> None:
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        server: Any = site._server
        self.port = server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop at once: long polls still open are answered (empty) rather than waited out."""
        self._closing = True
        self._hung.set()
        async with self._new:
            self._new.notify_all()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        self.calls.append(method)
        self.agents.setdefault(method, set()).add(request.headers.get("User-Agent", ""))
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        params = await self._params(request)
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)
        if self.fail_next.get(method, 0) > 0:
            self.fail_next[method] -= 1
            self.rejected.append((method, 502, "Bad Gateway"))
            return web.Response(status=502, text="Bad Gateway")
        self.timeline.append((method, "start"))
        try:
            if method in self.slow:
                await asyncio.sleep(self.slow[method])
            result = await handler(params)
        except ApiError as exc:
            body: dict[str, Any] = {"ok": False, "error_code": exc.code, "description": exc.description}
            if exc.retry_after is not None:
                body["parameters"] = {"retry_after": exc.retry_after}
            self.rejected.append((method, exc.code, exc.description))
            return web.json_response(body, status=exc.code)
        finally:
            self.timeline.append((method, "end"))
        return web.json_response({"ok": True, "result": result})

    @staticmethod
    async def _params(request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            data: dict[str, Any] = await request.json()
            return data
        form = await request.post()
        out: dict[str, Any] = {}
        for key, value in form.items():
            out[key] = value.file.read() if hasattr(value, "file") else value
            if hasattr(value, "filename"):
                out[f"{key}__filename"] = value.filename
        return out

    # --- what tests do ------------------------------------------------------------------

    async def push(self, update: dict[str, Any], update_id: int | None = None) -> int:
        uid = update_id if update_id is not None else next(self._ids)
        async with self._new:
            self.updates.append({"update_id": uid, **update})
            self._new.notify_all()
        return uid

    async def push_batch(self, updates: list[dict[str, Any]]) -> list[int]:
        """Several updates at once: the bot's next getUpdates returns them together, in this order."""
        async with self._new:
            ids = [next(self._ids) for _ in updates]
            self.updates.extend({"update_id": uid, **update} for uid, update in zip(ids, updates, strict=True))
            self._new.notify_all()
        return ids

    @staticmethod
    def _user(user_id: int) -> dict[str, Any]:
        return {"id": user_id, "is_bot": False, "first_name": f"User{user_id}", "language_code": "en"}

    def _message(self, user_id: int, text: str | None, chat_type: str = "private", **extra: Any) -> dict[str, Any]:
        chat_id = user_id if chat_type == "private" else -1000 - user_id
        chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
        if chat_type != "private":
            chat["title"] = "Ward team"
        msg = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": chat,
            "from": self._user(user_id),
            **extra,
        }
        if text is not None:
            msg["text"] = text
            if text.startswith("/"):
                msg["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        return msg

    async def send_text(self, user_id: int, text: str, chat_type: str = "private") -> int:
        return await self.push({"message": self._message(user_id, text, chat_type)})

    async def send_sticker(self, user_id: int) -> int:
        sticker = {
            "file_id": "CAAC",
            "file_unique_id": "U1",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
        }
        return await self.push({"message": self._message(user_id, None, sticker=sticker)})

    async def edit_text(self, user_id: int, text: str) -> int:
        msg = self._message(user_id, text, edit_date=int(time.time()))
        return await self.push({"edited_message": msg})

    async def click(self, user_id: int, data: str, message: Sent | None = None) -> int:
        return await self.push(self._callback(user_id, data, message))

    def _callback(self, user_id: int, data: str, message: Sent | None = None) -> dict[str, Any]:
        """A callback_query update: the user pressed a button (``data``) on ``message``."""
        msg = {
            "message_id": message.message_id if message else 1,
            "date": int(time.time()),
            "chat": {"id": user_id, "type": "private"},
            "from": BOT,
            "text": message.text if message else "x",
        }
        if message is not None and message.reply_markup:
            msg["reply_markup"] = message.reply_markup
        query = {
            "id": str(next(self._ids) + 10_000),
            "from": self._user(user_id),
            "chat_instance": "ci",
            "data": data,
            "message": msg,
        }
        return {"callback_query": query}

    async def send_inline(self, user_id: int, query: str, chat_type: str = "group") -> str:
        """An inline_query update: the user typed ``@bot <query>`` in a chat; returns the query's id."""
        query_id = str(next(self._ids) + 20_000)
        inline = {"id": query_id, "from": self._user(user_id), "query": query, "offset": "", "chat_type": chat_type}
        await self.push({"inline_query": inline})
        return query_id

    async def wait_inline(self, query_id: str, timeout: float = 10.0) -> dict[str, Any]:
        """The bot's answerInlineQuery for a query, once it comes (results, cache_time, is_personal...)."""
        deadline = time.monotonic() + timeout
        while query_id not in self.inline_answers:
            if time.monotonic() > deadline:
                raise AssertionError(f"inline query {query_id}: no answer")
            await asyncio.sleep(0.005)
        return self.inline_answers[query_id]

    def to(self, chat_id: int) -> list[Sent]:
        """What the chat received, in order: new messages and edits of earlier ones."""
        return [s for s in self.sent if s.chat_id == chat_id]

    def shown(self, chat_id: int) -> list[Sent]:
        """The chat's messages as they look now (edits applied), oldest first."""
        return [m for (chat, _), m in sorted(self.messages.items(), key=lambda kv: kv[0][1]) if chat == chat_id]

    async def wait_for(self, chat_id: int, count: int, timeout: float = 10.0) -> list[Sent]:
        """Wait until the chat has received ``count`` more messages or edits than it had; return them."""
        start = self._seen.get(chat_id, 0)

        def enough() -> bool:
            return len(self.to(chat_id)) >= start + count

        async with self._output:
            try:
                await asyncio.wait_for(self._output.wait_for(enough), timeout)
            except TimeoutError:
                got = [s.text[:60] for s in self.to(chat_id)[start:]]
                raise AssertionError(f"chat {chat_id}: wanted {count} new messages, got {got}") from None
        new = self.to(chat_id)[start : start + count]
        self._seen[chat_id] = start + count
        return new

    async def settle(self, quiet: float = 0.3) -> None:
        """Wait until nothing has been sent for ``quiet`` seconds."""
        while True:
            before = len(self.sent)
            async with self._output:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._output.wait_for(partial(self._grown, before)), quiet)
            if len(self.sent) == before:
                return

    def _grown(self, before: int) -> bool:
        return len(self.sent) > before

    async def _record(self, s: Sent) -> None:
        async with self._output:
            self.sent.append(s)
            self.messages[(s.chat_id, s.message_id)] = s
            self._output.notify_all()

    # --- Bot API methods ----------------------------------------------------------------

    async def _api_getMe(self, p: dict[str, Any]) -> dict[str, Any]:
        return BOT

    async def _api_deleteWebhook(self, p: dict[str, Any]) -> bool:
        self.webhook = {}
        return True

    async def _api_setMyCommands(self, p: dict[str, Any]) -> bool:
        cmds = p.get("commands", "[]")
        self.commands = json.loads(cmds) if isinstance(cmds, str) else cmds
        return True

    async def _api_getUpdates(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        if self.conflict_next > 0:
            self.conflict_next -= 1
            raise ApiError(409, "Conflict: terminated by other getUpdates request")
        if self.webhook.get("url"):
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active")
        offset = int(p.get("offset") or 0)
        timeout = float(p.get("timeout") or 0)
        limit = int(p.get("limit") or 100)
        async with self._new:
            self.updates = [u for u in self.updates if u["update_id"] >= offset] if offset else self.updates
            if not self.updates and timeout and not self._closing:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._new.wait(), timeout)
            batch = list(self.updates[:limit])
        now = time.perf_counter()
        for u in batch:
            if "inline_query" in u:
                self._delivered.setdefault(u["inline_query"]["id"], now)
        return batch

    def _check_rate(self, chat_id: int = 0) -> None:
        if time.monotonic() < self.throttled_until:
            raise ApiError(429, "Too Many Requests: retry after 1", retry_after=1)
        if self.rate_limit_per_second is None and self.chat_limit_per_second is None:
            return
        now = time.monotonic()
        if self.rate_limit_per_second is not None:
            self._send_times = [t for t in self._send_times if now - t < 1.0]
            if len(self._send_times) >= self.rate_limit_per_second:
                raise ApiError(429, "Too Many Requests: retry after 1", retry_after=1)
        if self.chat_limit_per_second is not None:
            if not self.chat_allows(chat_id, now):
                raise ApiError(429, "Too Many Requests: retry after 1", retry_after=1)
            gap = 1.0 / self.chat_limit_per_second
            self._chat_full_at[chat_id] = max(self._chat_full_at.get(chat_id, now), now) + gap
        self._send_times.append(now)
        self.accepted.append((now, chat_id))

    def chat_allows(self, chat_id: int, now: float) -> bool:
        """Whether the chat's bucket (``chat_burst`` at once, refilled at ``chat_limit_per_second``) has a
        place: what it received still counts for a gap each after it (with a burst of 1 and a rate of 1,
        a message a second at most)."""
        if self.chat_limit_per_second is None:
            return True
        gap = 1.0 / self.chat_limit_per_second
        return self._chat_full_at.get(chat_id, now) - now <= (self.chat_burst - 1) * gap + 1e-9

    def _check_chat(self, chat_id: int) -> None:
        if chat_id in self.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")

    @staticmethod
    def _markup(p: dict[str, Any]) -> dict[str, Any] | None:
        raw = p.get("reply_markup")
        markup: dict[str, Any] | None = json.loads(raw) if isinstance(raw, str) else raw
        for row in (markup or {}).get("inline_keyboard", []):
            for b in row:
                if len(b.get("callback_data", "").encode()) > 64:
                    raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
        return markup

    def _check_text(self, text: str, parse_mode: str | None) -> None:
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            raise ApiError(400, "Bad Request: message is too long")
        if parse_mode == "HTML":
            error = html_error(text)
            if error:
                raise ApiError(400, f"Bad Request: can't parse entities: {error}")

    def _result(self, s: Sent) -> dict[str, Any]:
        msg: dict[str, Any] = {
            "message_id": s.message_id,
            "date": int(time.time()),
            "chat": {"id": s.chat_id, "type": "private"},
            "from": BOT,
        }
        if s.text:
            msg["text"] = s.text
        if s.reply_markup:
            msg["reply_markup"] = s.reply_markup
        if s.document is not None and s.method == "sendDocument":
            msg["document"] = {"file_id": "DOC", "file_unique_id": "D1", "file_name": s.filename or "file"}
        return msg

    async def _api_sendMessage(self, p: dict[str, Any]) -> dict[str, Any]:
        chat_id = int(p["chat_id"])
        self._check_chat(chat_id)
        self._check_rate(chat_id)
        text, mode = str(p.get("text", "")), p.get("parse_mode")
        self._check_text(text, mode)
        s = Sent("sendMessage", chat_id, next(self._message_ids), text, self._markup(p), parse_mode=mode)
        await self._record(s)
        self.send_times.append(time.monotonic())
        if self.hang_after is not None and self.calls.count("sendMessage") == self.hang_after + 1:
            await self._hung.wait()  # the message is delivered, but the sender never hears so
        return self._result(s)

    async def _send_file(self, p: dict[str, Any], method: str, field: str) -> Sent:
        chat_id = int(p["chat_id"])
        self._check_chat(chat_id)
        self._check_rate(chat_id)
        content = p.get(field)
        s = Sent(
            method,
            chat_id,
            next(self._message_ids),
            str(p.get("caption", "")),
            document=content if isinstance(content, bytes) else str(content).encode(),
            filename=p.get(f"{field}__filename"),
        )
        await self._record(s)
        return s

    async def _api_sendDocument(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._result(await self._send_file(p, "sendDocument", "document"))

    async def _api_sendPhoto(self, p: dict[str, Any]) -> dict[str, Any]:
        result = self._result(await self._send_file(p, "sendPhoto", "photo"))
        result["photo"] = [{"file_id": "PH", "file_unique_id": "P1", "width": 800, "height": 800}]
        return result

    def _existing(self, p: dict[str, Any]) -> Sent:
        found = self.messages.get((int(p["chat_id"]), int(p["message_id"])))
        if found is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        return found

    async def _api_editMessageText(self, p: dict[str, Any]) -> dict[str, Any]:
        old = self._existing(p)
        if self.limit_edits:
            self._check_rate(old.chat_id)
        text, mode, markup = str(p.get("text", "")), p.get("parse_mode"), self._markup(p)
        self._check_text(text, mode)
        if text == old.text and markup == old.reply_markup:
            raise ApiError(400, "Bad Request: message is not modified")
        s = Sent("editMessageText", old.chat_id, old.message_id, text, markup, parse_mode=mode)
        await self._record(s)
        return self._result(s)

    async def _api_editMessageReplyMarkup(self, p: dict[str, Any]) -> dict[str, Any]:
        old = self._existing(p)
        if self.limit_edits:
            self._check_rate(old.chat_id)
        old.reply_markup = self._markup(p)
        self.edits.append(old.message_id)
        return self._result(old)

    async def _api_setWebhook(self, p: dict[str, Any]) -> bool:
        self.webhook = dict(p)
        return True

    async def _api_answerInlineQuery(self, p: dict[str, Any]) -> bool:
        """Checked as Telegram checks it: at most 50 results, ids unique and at most 64 bytes, each
        article's message valid HTML of at most 4096 characters."""
        decoded = ("results", "button", "is_personal", "cache_time")  # form fields are JSON text
        answer = {k: json.loads(v) if k in decoded and isinstance(v, str) else v for k, v in p.items()}
        results: list[dict[str, Any]] = answer.get("results", [])
        ids = [r["id"] for r in results]
        if len(results) > 50 or len(set(ids)) != len(ids) or any(len(i.encode()) > 64 for i in ids):
            raise ApiError(400, "Bad Request: RESULT_ID_INVALID")
        for r in results:
            content = r["input_message_content"]
            self._check_text(content["message_text"], content.get("parse_mode"))
        query_id = str(p["inline_query_id"])
        if query_id in self._delivered:
            self.inline_times[query_id] = time.perf_counter() - self._delivered[query_id]
        self.inline_answers[query_id] = answer
        return True

    async def _api_answerCallbackQuery(self, p: dict[str, Any]) -> bool:
        self.callback_answers.append(dict(p))
        return True
