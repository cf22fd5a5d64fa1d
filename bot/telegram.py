"""The Telegram adapter: updates in, replies out. The only module (with app.py) that imports telegram."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import re
import warnings
from collections.abc import Awaitable, Callable
from datetime import timedelta
from functools import partial
from typing import Any

from telegram import Bot, LinkPreviewOptions, Message, Update
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import ContextTypes, ExtBot
from telegram.warnings import PTBUserWarning

from bot.botapi import BotApi
from bot.faults import transient
from bot.metrics import RETRIES
from bot.runtime import Runtime, parse_input
from flows.core import texts
from flows.core.push import SendResult, SendStatus
from flows.core.replies import Attachment, Button, ClickEvent, Event, Identity, Outcome, Reply

log = logging.getLogger(__name__)
# The inbox reads getUpdates' JSON as sent, through Bot.do_api_request on purpose; PTB would warn.
warnings.filterwarnings("ignore", message=r"Please use 'Bot\.getUpdates'", category=PTBUserWarning)
MAX_MESSAGE = 4096
RETRY_PAUSES = (0.2, 0.5, 1.0)
Context = ContextTypes.DEFAULT_TYPE
# Set when the engine handled (and so marked done in the inbox) the update being processed.
consumed: contextvars.ContextVar[bool] = contextvars.ContextVar("consumed", default=False)
# Set when the engine did not handle the update because an earlier update of the user's (this id) is still
# unhandled in the inbox (another instance stored it): the inbox handles that one first, then this one.
behind: contextvars.ContextVar[int | None] = contextvars.ContextVar("behind", default=None)
# Set by the error handler when handling failed for a reason that passes (the database is down): the
# inbox keeps the update and tries it again, rather than setting it aside.
failure: contextvars.ContextVar[BaseException | None] = contextvars.ContextVar("failure", default=None)
# Replies go out through the one send path (bot/botapi.py). Without it (a benchmark that fakes the
# network inside the process) they go as the same JSON through the bot with ``do_api_request``: PTB's
# request objects, and parsing each answer into a Message nobody reads, cost more than the rest of
# sending. PTB would rather we used its methods.
warnings.filterwarnings(
    "ignore",
    message=r"Please use 'Bot\.(sendMessage|editMessageText|editMessageReplyMarkup|answerCallbackQuery)'",
    category=PTBUserWarning,
)


def api_of(context: Context) -> BotApi | None:
    """The one send path, if the service set one up (bot/service.py)."""
    api: BotApi | None = context.bot_data.get("api")
    return api


def runtime_of(context: Context) -> Runtime:
    runtime: Runtime = context.application.bot_data["runtime"]
    return runtime


def identity(update: Update) -> Identity | None:
    user = update.effective_user
    if user is None or user.is_bot:
        return None
    return Identity("telegram", str(user.id), user.first_name)


_TAG = re.compile(r"<(/?)([a-z-]+)[^>]*>")


def _open_tags(html: str) -> list[str]:
    stack: list[str] = []
    for closing, name in _TAG.findall(html):
        if closing and stack and stack[-1] == name:
            stack.pop()
        elif not closing:
            stack.append(name)
    return stack


def _boundary(text: str, window: int) -> int:
    """Where to cut: the last paragraph, line or word break in the second half of the window,
    never inside a tag or an entity."""
    cut = window
    for sep in ("\n\n", "\n", " "):
        pos = text.rfind(sep, window // 2, window)
        if pos > 0:
            cut = pos
            break
    if text.rfind("<", 0, cut) > text.rfind(">", 0, cut):
        cut = text.rfind("<", 0, cut)
    if text.rfind("&", 0, cut) > text.rfind(";", 0, cut):
        cut = text.rfind("&", 0, cut)
    return cut


def split_text(text: str, limit: int = MAX_MESSAGE) -> list[str]:
    """Split a long HTML message into parts Telegram accepts, each with balanced tags."""
    parts: list[str] = []
    while len(text) > limit:
        cut = _boundary(text, limit - 64)  # room to close and reopen formatting
        chunk, text = text[:cut].rstrip(), text[cut:].lstrip()
        still_open = _open_tags(chunk)
        parts.append(chunk + "".join(f"</{t}>" for t in reversed(still_open)))
        text = "".join(f"<{t}>" for t in still_open) + text
    parts.append(text)
    return [p for p in parts if p.strip()]


def _markup(reply: Reply) -> dict[str, Any] | None:
    """The reply's buttons as an inline keyboard, in the Bot API's JSON."""
    if not reply.buttons:
        return None
    return keyboard(reply.buttons)


def keyboard(rows: list[list[Button]]) -> dict[str, Any]:
    """Buttons as the Bot API's inline keyboard: a link button opens its URL, any other sends its data."""
    return {
        "inline_keyboard": [
            [{"text": b.label, "url": b.url} if b.url else {"text": b.label, "callback_data": b.data} for b in row]
            for row in rows
        ]
    }


def _html(bot: Bot, text: str, markup: dict[str, Any] | None, **target: int) -> dict[str, Any]:
    """A sendMessage or editMessageText call, with the bot's defaults (link previews) as its methods add them."""
    data: dict[str, Any] = {**target, "text": text, "parse_mode": ParseMode.HTML.value}
    if markup is not None:
        data["reply_markup"] = markup
    defaults = bot.defaults if isinstance(bot, ExtBot) else None
    if defaults is not None and defaults.link_preview_options is not None:
        data["link_preview_options"] = _options(defaults.link_preview_options)
    return data


@functools.lru_cache(maxsize=4)
def _options(options: LinkPreviewOptions) -> dict[str, Any]:
    """The options as the Bot API's JSON object (what PTB would send for them), made once."""
    return options.to_dict()


async def _with_retries(call: Callable[[], Awaitable[object]]) -> None:
    """A Bot API call, tried again on a passing network fault or a 5xx (RetryAfter is the limiter's)."""
    for attempt, pause in enumerate(RETRY_PAUSES):
        try:
            await call()
            return
        except (TimedOut, NetworkError) as exc:
            if isinstance(exc, BadRequest | Forbidden | RetryAfter) or attempt == len(RETRY_PAUSES) - 1:
                raise
            log.info("a Bot API call failed (%s); trying again", exc.__class__.__name__)
            RETRIES.labels("network").inc()
            await asyncio.sleep(pause)


def _caller(bot: Bot, api: BotApi | None, method: str, data: dict[str, Any]) -> Callable[[], Awaitable[object]]:
    """One Bot API call: through the one send path (``api``), or through the bot if there is none."""
    if api is not None:
        return partial(api.call, method, data)
    return partial(bot.do_api_request, method, api_kwargs=data)


async def send_replies(
    bot: Bot, chat_id: int, replies: list[Reply], edit: Message | None = None, api: BotApi | None = None
) -> None:
    """Send the replies; with ``edit``, the first one replaces that message (the one whose button was pressed)."""
    for reply in replies:
        chunks = split_text(reply.text) if reply.text else []
        for i, chunk in enumerate(chunks):
            markup = _markup(reply) if i == len(chunks) - 1 else None
            replaced = edit is not None and len(chunks) == 1 and reply.attachment is None
            if not (replaced and edit is not None and await _edit(bot, edit, chunk, markup, api)):
                data = _html(bot, chunk, markup, chat_id=chat_id)
                await _with_retries(_caller(bot, api, "sendMessage", data))
            edit = None
        if reply.attachment is not None:
            await _with_retries(partial(_send_file, bot, chat_id, reply.attachment, api))
        edit = None


async def _edit(bot: Bot, message: Message, text: str, markup: dict[str, Any] | None, api: BotApi | None) -> bool:
    """Replace a message in place; False if Telegram won't (then the reply is sent as a new message)."""
    data = _html(bot, text, markup, chat_id=message.chat_id, message_id=message.message_id)
    try:
        await _with_retries(_caller(bot, api, "editMessageText", data))
    except BadRequest as exc:
        if "not modified" in str(exc).lower():
            return True
        log.debug("could not edit the pressed message: %s", exc)
        return False
    return True


async def _send_file(bot: Bot, chat_id: int, a: Attachment, api: BotApi | None = None) -> None:
    """A photo or a document: through the one send path if there is one, else through PTB."""
    content = await a.data()
    if api is not None:
        field = "photo" if a.kind == "photo" else "document"
        data: dict[str, Any] = {"chat_id": chat_id}
        if a.caption:
            data["caption"] = a.caption
        filename = a.filename or field
        await api.call("sendPhoto" if field == "photo" else "sendDocument", data, files={field: (filename, content)})
        return
    if a.kind == "photo":
        await bot.send_photo(chat_id, content, caption=a.caption or None)
    else:
        await bot.send_document(chat_id, content, filename=a.filename, caption=a.caption or None)


class TelegramSender:
    """The push seam's Telegram side: bot-initiated messages (nudges) leave through the one send path
    (``BotApi``), paced by the dispatcher. Files and over-long texts (rare in a push) go through PTB."""

    def __init__(self, bot: Bot, api: BotApi | None = None) -> None:
        self.bot = bot
        self.own = api is None
        self.api = api or BotApi(bot.base_url)

    async def send(self, who: Identity, replies: list[Reply]) -> SendResult:
        chat_id = int(who.external_id)
        if any(r.attachment is not None or len(r.text) > MAX_MESSAGE for r in replies):
            return await self._through_ptb(chat_id, replies)
        for reply in replies:
            result = await self._post(chat_id, reply)
            if result.status is not SendStatus.SENT:
                return result
        return SendResult(SendStatus.SENT)

    async def _post(self, chat_id: int, reply: Reply) -> SendResult:
        body: dict[str, Any] = {"chat_id": chat_id, "text": reply.text, "parse_mode": "HTML"}
        if (markup := _markup(reply)) is not None:
            body["reply_markup"] = markup
        try:
            await _with_retries(partial(self.api.call, "sendMessage", body, paced=True, kind="nudge"))
        except Forbidden:
            return SendResult(SendStatus.BLOCKED)
        except RetryAfter as exc:
            RETRIES.labels("429").inc()
            return SendResult(SendStatus.RETRY, _seconds(exc.retry_after))
        except TelegramError as exc:
            log.warning("a pushed message was refused: %s", str(exc)[:80])
            return SendResult(SendStatus.FAILED)
        return SendResult(SendStatus.SENT)

    async def _through_ptb(self, chat_id: int, replies: list[Reply]) -> SendResult:
        try:
            await send_replies(self.bot, chat_id, replies)
        except Forbidden:
            return SendResult(SendStatus.BLOCKED)
        except RetryAfter as exc:
            return SendResult(SendStatus.RETRY, _seconds(exc.retry_after))
        except TelegramError as exc:
            log.warning("a pushed message could not be sent: %s", exc.__class__.__name__)
            return SendResult(SendStatus.FAILED)
        return SendResult(SendStatus.SENT)

    async def close(self) -> None:
        if self.own:
            await self.api.close()


def _seconds(value: object) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)  # type: ignore[arg-type]


def _private(update: Update) -> bool:
    """A private chat with the sender themselves (a chat id that isn't the sender's is ignored)."""
    chat, user = update.effective_chat, update.effective_user
    return chat is not None and user is not None and chat.type == ChatType.PRIVATE and chat.id == user.id


async def _handle(update: Update, context: Context, event: Event) -> Outcome | None:
    who = identity(update)
    if who is None or not _private(update):
        return None
    outcome = await runtime_of(context).coach.handle(who, event, update_id=update.update_id)
    if outcome.behind is not None:
        behind.set(outcome.behind)
        return outcome
    consumed.set(True)
    if outcome.duplicate:
        log.info("update %s was already handled; ignored", update.update_id)
    return outcome


async def _deliver(update: Update, context: Context, outcome: Outcome, edit: Message | None = None) -> None:
    chat, who = update.effective_chat, identity(update)
    if chat is None or who is None or outcome.duplicate or outcome.behind is not None:
        return
    coach = runtime_of(context).coach
    try:
        await send_replies(context.bot, chat.id, outcome.replies, edit, api_of(context))
    except Forbidden:
        # Not shown either: if they unblock us and write, the step is asked again, not answered.
        log.info("user blocked the bot; they won't be messaged again")
        await coach.mark_blocked(who)
        await coach.mark_undelivered(who)
    except TelegramError as exc:
        # Committed but not shown: the user's next text re-asks the step rather than answering it.
        log.warning("replies could not be delivered (%s); the step will be asked again", exc.__class__.__name__)
        await coach.mark_undelivered(who)


async def on_text(update: Update, context: Context) -> None:
    message = update.effective_message
    if message is None or message.text is None:
        return
    outcome = await _handle(update, context, parse_input(message.text, context.bot.username))
    if outcome is not None:
        await _deliver(update, context, outcome)


async def on_callback(update: Update, context: Context) -> None:
    query = update.callback_query
    if query is None:
        return
    if not _private(update):
        await query.answer(texts.GROUP_CHAT)
        return
    outcome = await _handle(update, context, ClickEvent(query.data or ""))
    if outcome is not None and outcome.behind is not None:  # not handled yet: answered when it is
        return
    if outcome is None or outcome.duplicate:
        await query.answer()
        return
    # The button's spinner is stopped while the reply goes out, not before it: one round trip less a tap.
    answered, shown = await asyncio.gather(
        _answer(update, context, outcome.notice or None), _show(update, context, outcome), return_exceptions=True
    )
    if isinstance(shown, BaseException):
        raise shown  # as for a typed answer: the error handler tells the user, or the inbox tries again
    if isinstance(answered, BaseException):
        if not isinstance(answered, TelegramError):
            raise answered
        log.debug("could not answer the button press: %s", answered)


async def _answer(update: Update, context: Context, notice: str | None) -> None:
    """Stop the pressed button's spinner (with a notice, if there is one)."""
    query = update.callback_query
    assert query is not None
    data: dict[str, Any] = {"callback_query_id": query.id}
    if notice:
        data["text"] = notice
    await _caller(context.bot, api_of(context), "answerCallbackQuery", data)()


async def _show(update: Update, context: Context, outcome: Outcome) -> None:
    """After a button press: take the used keyboard away (or replace the message), then the replies."""
    query = update.callback_query
    pressed = query.message if query is not None and isinstance(query.message, Message) else None
    if pressed is not None and outcome.pressed == "clear" and pressed.reply_markup:
        try:  # the step is done: take its buttons away, keep its text
            target = {"chat_id": pressed.chat_id, "message_id": pressed.message_id}
            await _caller(context.bot, api_of(context), "editMessageReplyMarkup", target)()
        except BadRequest as exc:
            log.debug("could not remove the keyboard: %s", exc)
    await _deliver(update, context, outcome, pressed if outcome.pressed == "replace" else None)


async def on_group(update: Update, context: Context) -> None:
    message = update.effective_message
    if message is None:
        return
    text = message.text or ""
    addressed = text.startswith("/") or (context.bot.username and f"@{context.bot.username}" in text)
    if addressed or (message.new_chat_members and any(m.id == context.bot.id for m in message.new_chat_members)):
        await message.reply_text(texts.GROUP_CHAT)


async def on_edited(update: Update, context: Context) -> None:
    message = update.edited_message
    if message is not None and message.chat.type == ChatType.PRIVATE:
        await message.reply_text(texts.EDITED)


async def on_other(update: Update, context: Context) -> None:
    message = update.effective_message
    if message is not None and message.chat.type == ChatType.PRIVATE:
        await message.reply_text(texts.NOT_TEXT)


async def on_error(update: object, context: Context) -> None:
    if context.error is not None and transient(context.error):
        failure.set(context.error)  # the inbox waits for the database and tries the update again
        return
    log.error("error while handling an update", exc_info=context.error)
    if isinstance(update, Update) and update.effective_chat is not None:
        try:
            await context.bot.send_message(update.effective_chat.id, texts.SOMETHING_WRONG)
        except Exception:
            log.warning("could not tell the user about the error", exc_info=True)
