"""The reference for bench/updates.py: a bare python-telegram-bot bot (long polling or webhook, PTB's
defaults) that answers every text with one message showing one button, and every button press with an
answer and an edit: what any PTB bot costs per update over the same HTTP, with no storage and no coaching.

    LEADCOACH_TELEGRAM_TOKEN=... LEADCOACH_TELEGRAM_API_URL=... python bench/bare_bot.py"""

from __future__ import annotations

import os

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, ContextTypes, MessageHandler, filters

NEXT = InlineKeyboardMarkup([[InlineKeyboardButton("Next", callback_data="next")]])


async def text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text(f"You said: {update.effective_message.text}", reply_markup=NEXT)


async def button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer()
    await query.edit_message_text(f"You pressed {query.data} ({update.update_id})", reply_markup=NEXT)


def main() -> None:
    app = (
        Application.builder()
        .token(os.environ["LEADCOACH_TELEGRAM_TOKEN"])
        .base_url(os.environ["LEADCOACH_TELEGRAM_API_URL"])
        .concurrent_updates(True)
        .build()
    )
    app.add_handler(MessageHandler(filters.TEXT, text))
    app.add_handler(CallbackQueryHandler(button))
    port = os.environ.get("BARE_WEBHOOK_PORT")
    if port:  # the same webhook as LeadCoach's: POSTs to /hook with the secret header
        url = f"http://127.0.0.1:{port}/hook"
        secret = os.environ["LEADCOACH_WEBHOOK_SECRET"]
        app.run_webhook(listen="127.0.0.1", port=int(port), url_path="hook", secret_token=secret, webhook_url=url)
    else:
        app.run_polling(poll_interval=0, timeout=30)


if __name__ == "__main__":
    main()
