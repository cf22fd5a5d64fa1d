"""The Telegram adapter: updates in, replies out. The only module (with app.py) that imports telegram."""

from __future__ import annotations

import logging
import re

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, Forbidden
from telegram.ext import ContextTypes

from bot.runtime import Runtime, parse_input
from flows import texts
from flows.replies import ClickEvent, Event, Identity, Outcome, Reply

log = logging.getLogger(__name__)
MAX_MESSAGE = 4096
Context = ContextTypes.DEFAULT_TYPE


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


def keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
    if not reply.buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.label, callback_data=b.data) for b in row] for row in reply.buttons]
    )


async def send_replies(context: Context, chat_id: int, replies: list[Reply]) -> None:
    for reply in replies:
        chunks = split_text(reply.text) if reply.text else []
        for i, chunk in enumerate(chunks):
            markup = keyboard(reply) if i == len(chunks) - 1 else None
            await context.bot.send_message(chat_id, chunk, parse_mode=ParseMode.HTML, reply_markup=markup)
        if reply.attachment is not None:
            a = reply.attachment
            if a.kind == "photo":
                await context.bot.send_photo(chat_id, a.content, caption=a.caption or None)
            else:
                await context.bot.send_document(chat_id, a.content, filename=a.filename, caption=a.caption or None)


async def _handle(update: Update, context: Context, event: Event) -> Outcome | None:
    who = identity(update)
    if who is None or update.effective_chat is None:
        return None
    outcome = await runtime_of(context).coach.handle(who, event, update_id=update.update_id)
    if outcome.duplicate:
        log.info("update %s was already processed; ignored", update.update_id)
    return outcome


async def _deliver(update: Update, context: Context, outcome: Outcome) -> None:
    chat, who = update.effective_chat, identity(update)
    if chat is None or who is None or outcome.duplicate:
        return
    try:
        await send_replies(context, chat.id, outcome.replies)
    except Forbidden:
        log.info("user blocked the bot; they won't be messaged again")
        await runtime_of(context).coach.mark_blocked(who)


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
    if query.message is not None and query.message.chat.type != ChatType.PRIVATE:
        await query.answer(texts.GROUP_CHAT)
        return
    outcome = await _handle(update, context, ClickEvent(query.data or ""))
    if outcome is None or outcome.duplicate:
        await query.answer()
        return
    await query.answer(outcome.notice or None)
    await _deliver(update, context, outcome)
    if outcome.notice is None and isinstance(query.message, Message) and query.message.reply_markup:
        try:  # the step is done: take its buttons away so a second tap can't land
            await query.edit_message_reply_markup(reply_markup=None)
        except BadRequest as exc:
            log.debug("could not remove the keyboard: %s", exc)


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
    log.error("error while handling an update", exc_info=context.error)
    if isinstance(update, Update) and update.effective_chat is not None:
        try:
            await context.bot.send_message(update.effective_chat.id, texts.SOMETHING_WRONG)
        except Exception:
            log.warning("could not tell the user about the error", exc_info=True)
