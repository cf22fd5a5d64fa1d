"""The fake Bot API refuses what Telegram refuses, so the end-to-end tests mean something."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, Forbidden, RetryAfter

from bot.telegram import split_text
from tests.fakebot import FakeTelegram, html_error


@pytest.fixture
async def pair() -> AsyncIterator[tuple[FakeTelegram, Bot]]:
    fake = FakeTelegram()
    await fake.start()
    bot = Bot(fake.token, base_url=fake.api_url)
    async with bot:
        yield fake, bot
    await fake.stop()


async def test_refuses_what_telegram_refuses(pair: tuple[FakeTelegram, Bot]) -> None:
    fake, bot = pair
    assert (await bot.get_me()).username == "LeadCoachTestBot"
    await bot.send_message(1, "<b>fine</b> &amp; dandy", parse_mode="HTML")
    with pytest.raises(BadRequest, match="too long"):
        await bot.send_message(1, "x" * 4097)
    with pytest.raises(BadRequest, match="parse entities"):
        await bot.send_message(1, "<b>unclosed", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
        markup = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="y" * 65)]])
        await bot.send_message(1, "hi", reply_markup=markup)
    fake.blocked.add(2)
    with pytest.raises(Forbidden):
        await bot.send_message(2, "hi")
    fake.rate_limit_per_second = 1
    with pytest.raises(RetryAfter):
        for _ in range(3):
            await bot.send_message(1, "hi")


def test_html_checker() -> None:
    assert html_error("<b>ok</b> <i>fine</i> &lt;3 &amp;") is None
    assert html_error("a < b") is not None
    assert html_error("fish & chips") is not None
    assert html_error("<script>x</script>") is not None
    assert html_error("<b>open") is not None


def test_split_text_keeps_every_character_in_order() -> None:
    text = "\n\n".join(f"Paragraph {i}. " + "word " * 300 for i in range(6))
    parts = split_text(text)
    assert len(parts) > 1 and all(len(p) <= 4096 for p in parts)
    assert "".join(parts).replace(" ", "").replace("\n", "") == text.replace(" ", "").replace("\n", "")
    assert split_text("short") == ["short"]


def test_split_text_keeps_formatting_balanced() -> None:
    text = "<b>" + "bold &amp; long " * 400 + "</b>\n\n<i>" + "x" * 5000 + "</i>"
    parts = split_text(text)
    assert len(parts) >= 3
    assert all(len(p) <= 4096 and html_error(p) is None for p in parts)
