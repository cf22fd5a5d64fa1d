"""Erasing everything over Telegram, end to end (issue 13, defect 13): a message that arrived in the same
getUpdates batch as the "Yes, erase everything" tap, stored in the inbox but not yet handled, is still
answered. (On PostgreSQL every worker takes a user's next update from the inbox, and the erase used to
delete the user's unhandled rows with the handled ones.)"""

from __future__ import annotations

from sqlalchemy import func, select

from bot.db import create_engine, sessionmaker
from flows.store.models import InboxUpdate
from tests.test_e2e import ALICE, Bot, onboard


async def unhandled(bot: Bot) -> int:
    engine = create_engine(bot.settings.effective_database_url)
    try:
        async with sessionmaker(engine)() as db:
            query = select(func.count()).select_from(InboxUpdate).where(InboxUpdate.done_at.is_(None))
            return int(await db.scalar(query) or 0)
    finally:
        await engine.dispose()


async def test_a_message_in_the_same_batch_as_the_erase_is_answered(bot: Bot) -> None:
    await onboard(bot)
    await bot.say(ALICE, "/delete")
    message, data = bot.button(ALICE, "Yes, erase everything")
    await bot.fake.push_batch(
        [bot.fake._callback(ALICE, data, message), {"message": bot.fake._message(ALICE, "/start")}]
    )
    erased, welcome = await bot.fake.wait_for(ALICE, 2)
    assert "erased everything" in erased.text
    assert "patient-identifiable" in welcome.text  # /start, after the erase: a new beginning
    assert await unhandled(bot) == 0
