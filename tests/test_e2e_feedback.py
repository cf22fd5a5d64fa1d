"""360° feedback end to end (issue 17): four simulated Telegram users over the fake Bot API. The subject starts
a round, three colleagues answer through the link, results appear only at three, the chart is a sendPhoto
with two series, and nothing the subject receives names a rater, their id or when they answered."""

from __future__ import annotations

import asyncio
import io
import re
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlparse

from PIL import Image
from sqlalchemy import select

from bot.db import create_engine, sessionmaker
from flows.rules.areas import unit_of
from flows.rules.scoring import current_id
from flows.store.models import Assessment, FeedbackResponse, User
from flows.talks.assess import items_for
from frameworks.catalogue import default_catalogue
from tests.test_e2e import ALICE, Bot, onboard

RATERS = (2001, 2002, 2003)


async def seed_self_assessment(bot: Bot, user: int) -> None:
    """A finished self-assessment for the subject: 4 everywhere, 2 in standard 2 (so others differ)."""
    cat = default_catalogue()
    items = items_for(cat, "mlf2025")
    ratings = {i: 2 if unit_of(cat, current_id(cat, i)) == "mlf2025.2" else 4 for i in items}
    engine = create_engine(bot.settings.effective_database_url)
    try:
        async with sessionmaker(engine)() as db, db.begin():
            uid = await db.scalar(select(User.id).where(User.external_id == str(user)))
            assert uid is not None
            now = datetime.now(UTC)
            db.add(
                Assessment(
                    user_id=uid,
                    framework="mlf2025",
                    stage="1",
                    items=items,
                    ratings=ratings,
                    targets={},
                    position=len(items),
                    started_at=now,
                    updated_at=now,
                    finished_at=now,
                )
            )
    finally:
        await engine.dispose()


async def answer(bot: Bot, rater: int, start: str, relationship: str, score: int) -> None:
    intro = await bot.say(rater, start)
    assert "User1001" in intro[0].text and "anonymous" in intro[0].text.lower()
    await bot.tap(rater, "Start")
    await bot.tap(rater, relationship)
    for _ in range(9):
        await bot.tap(rater, f"{score} ")
    await bot.say(rater, "Listens before deciding.")  # what to keep doing
    await bot.tap(rater, "Skip")  # what to do differently
    sent = await bot.tap(rater, "Send")
    assert "Sent" in sent[-1].text


async def test_four_users_results_at_three_anonymous(bot: Bot) -> None:
    await onboard(bot, ALICE)
    await seed_self_assessment(bot, ALICE)
    await bot.say(ALICE, "/feedback")
    await bot.tap(ALICE, "Start a round")
    await bot.tap(ALICE, "All standards")
    await bot.tap(ALICE, "Use User1001")
    await bot.tap(ALICE, "14 days")
    await bot.tap(ALICE, "No note")
    shown = await bot.tap(ALICE, "Start the round")
    link = re.search(r"https://t\.me/LeadCoachTestBot\?start=(fb_[A-Za-z0-9_-]+)", shown[-1].text)
    assert link, shown[-1].text
    share = [b for b in shown[-1].buttons if "url" in b]
    assert share and parse_qs(urlparse(share[0]["url"]).query)["url"] == [link.group(0)]
    start = f"/start {link.group(1)}"
    since = len(bot.fake.to(ALICE))

    for rater, relationship in zip(RATERS[:2], ("Peer", "Direct report"), strict=True):
        await answer(bot, rater, start, relationship, 3)
    home = await bot.say(ALICE, "/feedback")
    assert "Fewer than 3" in home[0].text and not any(b["text"].startswith("Close it and") for b in home[0].buttons)

    await answer(bot, RATERS[2], start, "Line manager", 3)
    await bot.say(ALICE, "/feedback")
    await bot.tap(ALICE, "Close it and see the results")
    results = await bot.tap(ALICE, "Yes, close it", replies=4)
    text = "\n".join(s.text for s in results)
    assert "3 colleagues answered" in text and "Blind spots" in text and "Hidden strengths" in text
    assert "Listens before deciding" in text and "Where to develop" in text
    photos = [s for s in results if s.method == "sendPhoto"]
    assert len(photos) == 1 and photos[0].document is not None
    assert Image.open(io.BytesIO(photos[0].document)).text["Series"] == "You; Others"  # type: ignore[attr-defined]

    # Nothing the subject received names a rater, gives their id, or says when they answered.
    received = bot.fake.to(ALICE)[since:]
    for s in received:
        blob = s.text + str(s.reply_markup or "") + (s.document or b"").decode("latin-1")
        for rater in RATERS:
            assert f"User{rater}" not in blob and str(rater) not in blob
        assert not re.search(r"\b\d{1,2}:\d{2}\b", s.text), s.text  # no clock times
    assert not any("Line manager" in s.text for s in received)  # a group of one is never shown apart
    assert await bot.count(FeedbackResponse) == 3


async def test_a_blocked_rater_is_skipped(bot: Bot) -> None:
    await onboard(bot, ALICE)
    await bot.say(ALICE, "/feedback")
    await bot.tap(ALICE, "Start a round")
    await bot.tap(ALICE, "All standards")
    await bot.tap(ALICE, "Use User1001")
    await bot.tap(ALICE, "14 days")
    await bot.tap(ALICE, "No note")
    shown = await bot.tap(ALICE, "Start the round")
    token = re.search(r"start=(fb_[A-Za-z0-9_-]+)", shown[-1].text)
    assert token
    bot.fake.blocked.add(RATERS[0])
    await bot.fake.send_text(RATERS[0], f"/start {token.group(1)}")
    async with asyncio.timeout(15):  # (nothing reaches the chat: there is no reply to wait for)
        while await bot.count(User, blocked=True) != 1:
            await asyncio.sleep(0.05)
    await bot.fake.settle(0.3)
    assert await bot.count(User, blocked=True) == 1
