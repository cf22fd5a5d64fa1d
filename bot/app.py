"""The one place that builds the python-telegram-bot Application."""

from __future__ import annotations

from telegram import BotCommand, LinkPreviewOptions
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    Defaults,
    InlineQueryHandler,
    MessageHandler,
    filters,
)

from bot import inline
from bot import telegram as tg
from bot.botapi import BotApi
from bot.budget import Budget, SharedLimiter
from bot.runtime import open_runtime
from bot.settings import Settings
from bot.transport import SessionRequest

COMMANDS = [
    ("reflect", "Five-minute weekly reflection"),
    ("lookup", "What a competency or stage looks like"),
    ("history", "Your reflections"),
    ("assess", "Self-assessment with a profile chart"),
    ("develop", "Development ideas for your weakest areas"),
    ("cpd", "CPD log, targets and pace"),
    ("feedback", "360° feedback from colleagues"),
    ("appraisal", "Countdown to your appraisal"),
    ("pack", "Your appraisal pack as a PDF"),
    ("share", "Share your pack with your appraiser"),
    ("actions", "Your dated actions and how they went"),
    ("settings", "Framework, stage, nudges, appraisal date"),
    ("menu", "Main menu"),
    ("help", "What I can do"),
    ("privacy", "What I store"),
    ("export", "Download all your data"),
    ("delete", "Erase all your data"),
    ("cancel", "Stop what we're doing"),
    ("start", "Start again"),
]


def build_application(
    settings: Settings, api: BotApi, *, rate_limit: bool = True, budget: Budget | None = None
) -> Application:  # type: ignore[type-arg]
    """The Application for ``settings``; its bot's own calls go over ``api``'s session."""
    if settings.telegram_token is None:
        raise ValueError("LEADCOACH_TELEGRAM_TOKEN is not set")

    async def post_init(app: Application) -> None:  # type: ignore[type-arg]
        runtime = app.bot_data["runtime"] = await open_runtime(settings)
        try:  # from getMe (initialize): 360° invitation and pack share links name the bot
            runtime.coach.bot_username = app.bot.username
        except RuntimeError:  # not initialised (a benchmark's fake network): no links, said so
            runtime.coach.bot_username = None
        await app.bot.set_my_commands([BotCommand(c, d) for c, d in COMMANDS])

    async def post_shutdown(app: Application) -> None:  # type: ignore[type-arg]
        runtime = app.bot_data.pop("runtime", None)
        if runtime is not None:
            await runtime.close()

    builder = (
        Application.builder()
        .token(settings.telegram_token.get_secret_value())
        .base_url(settings.telegram_api_url)
        .base_file_url(settings.telegram_file_url)
        .defaults(Defaults(link_preview_options=LinkPreviewOptions(is_disabled=True)))
        .post_init(post_init)
        .post_shutdown(post_shutdown)
        .request(SessionRequest(api))
        .get_updates_request(SessionRequest(api))
    )
    if rate_limit:  # one budget for replies and nudges, shared with the other instances (bot/budget.py)
        builder = builder.rate_limiter(SharedLimiter(budget or Budget()))
    app = builder.build()
    private = filters.ChatType.PRIVATE
    app.add_handler(CallbackQueryHandler(tg.on_callback))
    app.add_handler(InlineQueryHandler(inline.on_inline_query))
    app.add_handler(MessageHandler(filters.UpdateType.EDITED, tg.on_edited))
    app.add_handler(MessageHandler(filters.ChatType.GROUPS, tg.on_group))
    app.add_handler(MessageHandler(private & (filters.TEXT | filters.COMMAND), tg.on_text))
    app.add_handler(MessageHandler(private, tg.on_other))
    app.add_error_handler(tg.on_error)
    return app
