"""Inline mode: ``@LeadCoachBot stage 2 conflict`` in any chat answers with the lookup's top results.

Registered by :mod:`bot.app`. The answers are composed by :mod:`flows.talks.inline`; this module only turns
them into Telegram's inline results. A known user's answers are at their stage, so they are marked
personal (Telegram then caches them for that user only).
"""

from __future__ import annotations

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InlineQueryResultsButton,
    InputTextMessageContent,
    Update,
)
from telegram.constants import ParseMode

from bot.telegram import Context, identity, runtime_of
from flows.talks.inline import InlineItem, asker_of, inline_items

CACHE_SECONDS = 300  # the frameworks change with a release, not by the minute
START_PARAMETER = "inline"  # /start inline: someone came from an inline answer
_BUTTON_TEXT = "Open LeadCoach: reflect, assess, plan"


def _article(item: InlineItem, bot_username: str) -> InlineQueryResultArticle:
    back = InlineKeyboardButton("Look it up in LeadCoach", url=f"https://t.me/{bot_username}?start={START_PARAMETER}")
    return InlineQueryResultArticle(
        id=item.id,
        title=item.title,
        description=item.description,
        input_message_content=InputTextMessageContent(item.text, parse_mode=ParseMode.HTML),
        reply_markup=InlineKeyboardMarkup([[back]]),
    )


async def on_inline_query(update: Update, context: Context) -> None:
    query = update.inline_query
    who = identity(update)
    if query is None or who is None:
        return
    runtime = runtime_of(context)
    asker = await asker_of(runtime.coach.sessionmaker, who)
    items = inline_items(runtime.coach.index, query.query, asker)
    username = context.bot.username
    await query.answer(
        [_article(item, username) for item in items],
        cache_time=CACHE_SECONDS,
        is_personal=asker is not None,
        button=InlineQueryResultsButton(_BUTTON_TEXT, start_parameter=START_PARAMETER),
    )
