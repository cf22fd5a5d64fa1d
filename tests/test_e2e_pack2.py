"""End to end over the fake Bot API, the rest of the appraisal pack (issue 16): a CPD target's hours changed
and the target marked finished where /cpd says (progress and the pack's PDF show both); a course chosen in
/develop puts its area first in the pack's plan, the programme named; the PDF is kept only when the user
asks, then sent again as it was (to them and through a share link) and erased by /delete; editing a
reflection's "now what" in /history moves its action's follow-up nudge."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.db import create_engine, sessionmaker
from flows.core.crypto import Cipher
from flows.store.models import Action, CpdTarget, Nudge, PackCopy
from flows.talks.pack_copy import pdf_of
from frameworks.catalogue import Catalogue
from tests.conftest import TEST_KEY
from tests.fakebot import Sent
from tests.test_assess import ratings_for
from tests.test_e2e import ALICE, BOB, Bot, onboard
from tests.test_e2e_pack import LABELS, documents, pdf_text


def today() -> date:
    return datetime.now(ZoneInfo("Europe/London")).date()


async def assess(bot: Bot, catalogue: Catalogue, low: set[str]) -> None:
    await bot.say(ALICE, "/assess")
    await bot.tap(ALICE, "Start")
    ratings = ratings_for(catalogue, "mlf2025", low)
    for rating in ratings[:-1]:
        await bot.tap(ALICE, LABELS[rating])
    await bot.tap(ALICE, LABELS[ratings[-1]], replies=3)


async def make_pdf(bot: Bot, replies: int = 7) -> tuple[str, Sent, list[Sent]]:
    await bot.say(ALICE, "/pack")
    made = await bot.tap(ALICE, "Make the PDF", replies=replies)
    pdf = next(s for name, s in documents(made).items() if name.endswith(".pdf"))
    return pdf_text(pdf), pdf, made


async def rows(bot: Bot, model: type) -> list:  # type: ignore[type-arg]
    engine = create_engine(bot.settings.effective_database_url)
    try:
        async with sessionmaker(engine)() as db:
            return list((await db.execute(select(model))).scalars())
    finally:
        await engine.dispose()


async def test_a_targets_hours_changed_then_marked_finished_in_cpd_and_the_pack(bot: Bot) -> None:
    await onboard(bot)
    await bot.say(ALICE, "/cpd")
    await bot.tap(ALICE, "Set a target")
    await bot.tap(ALICE, "Hours over a period")
    await bot.tap(ALICE, "35 hours")
    await bot.tap(ALICE, "None")
    await bot.tap(ALICE, "In 1 year", replies=2)
    await bot.tap(ALICE, "Log an activity")
    await bot.say(ALICE, "Finance for non-finance managers workshop")
    await bot.say(ALICE, "6.5 hours")
    await bot.tap(ALICE, "Today")  # in the target's period, which starts today
    await bot.tap(ALICE, "Yes — with others")
    summary = await bot.tap(ALICE, "Save", replies=2)
    assert "6.5 of 35 hours by" in summary[-1].text

    listing = await bot.tap(ALICE, "Change, finish or remove a target")
    assert listing[0].buttons[0]["text"].startswith("6.5 of 35 hours by")
    opened = await bot.tap(ALICE, "6.5 of 35 hours")
    assert [b["text"] for b in opened[0].buttons] == [
        "New date",
        "New hours",
        "Mark finished",
        "Remove it",
        "Back to the targets",
    ]
    await bot.tap(ALICE, "New hours")
    await bot.say(ALICE, "40 hours")
    changed = await bot.say(ALICE, "10", replies=2)
    assert "Target changed: 40 hours (10 participatory)." in changed[0].text
    assert "6.5 of 40 hours by" in changed[1].text and "(6.5 of 10 participatory)" in changed[1].text
    text, _, _ = await make_pdf(bot)
    assert "Target: 6.5 of 40 hours by" in text and "35 hours" not in text

    await bot.say(ALICE, "/cpd")
    await bot.tap(ALICE, "Change, finish or remove a target")
    await bot.tap(ALICE, "6.5 of 40 hours")
    finished = await bot.tap(ALICE, "Mark finished", replies=2)
    assert "marked finished" in finished[0].text
    assert f"— marked finished {today().day} {today():%B %Y} ✓" in finished[1].text
    assert "behind pace" not in finished[1].text
    targets = await rows(bot, CpdTarget)
    assert len(targets) == 1 and targets[0].done_on == today() and targets[0].minutes == 40 * 60
    text, _, _ = await make_pdf(bot)
    assert f"Target: 6.5 of 40 hours by {today().day}" in text and "marked finished" in text

    await bot.say(ALICE, "/cpd")
    await bot.tap(ALICE, "Change, finish or remove a target")
    reopen = await bot.tap(ALICE, "6.5 of 40 hours")
    assert "Reopen it" in [b["text"] for b in reopen[0].buttons]
    reopened = await bot.tap(ALICE, "Reopen it", replies=2)
    assert "Reopened" in reopened[0].text and "marked finished" not in reopened[1].text
    assert (await rows(bot, CpdTarget))[0].done_on is None


async def test_a_course_chosen_in_develop_leads_the_packs_plan(bot: Bot, catalogue: Catalogue) -> None:
    await onboard(bot)
    await assess(bot, catalogue, {"mlf2025.1", "mlf2025.5"})  # a formal course offered for each
    await bot.say(ALICE, "/develop")
    ideas = await bot.tap(ALICE, "Manager (not clinical)")
    areas = re.findall(r"<b>([^<]+)</b> — because", ideas[0].text)
    courses = [b["text"] for b in ideas[0].buttons if b["text"].startswith("Make ")]
    assert len(areas) >= 2 and len(courses) >= 2
    before = (await bot.say(ALICE, "/pack"))[0].text  # before: the self-assessment's order
    assert f"1. <b>{areas[0]}</b>:" in before and "your /develop choice" not in before
    await bot.tap(ALICE, "Done")

    await bot.tap(ALICE, courses[1], on=ideas[0])  # the course for the second area
    target = (await rows(bot, CpdTarget))[0]
    programme = catalogue.by_id[target.programme or ""].title
    assert target.area is not None and catalogue.by_id[target.area].title == areas[1]
    home = await bot.say(ALICE, "/pack")
    assert f"1. <b>{areas[1]}</b> (your /develop choice: {programme}):" in home[0].text
    assert f"2. <b>{areas[0]}</b>:" in home[0].text
    text, _, _ = await make_pdf(bot)
    plan = text[text.index("Personal development plan") :]
    assert plan.index(f"1. {areas[1]}") < plan.index(f"Development programme chosen for this area: {programme}")
    assert plan.index(f"Development programme chosen for this area: {programme}") < plan.index(f"2. {areas[0]}")
    assert f"complete the {programme} by" in plan or f"complete {programme} by" in plan


async def test_the_pdf_is_kept_only_when_asked_sent_again_as_it_was_and_erased(bot: Bot) -> None:
    await onboard(bot)
    _, first, made = await make_pdf(bot)
    assert "The PDF isn't kept" in made[-1].text
    assert await rows(bot, PackCopy) == []  # not kept unless asked

    await bot.say(ALICE, "/pack")
    on = await bot.tap(ALICE, "Keep a copy", replies=2)
    assert "From now on I keep a copy" in on[0].text and "Stop keeping a copy" in [b["text"] for b in on[1].buttons]
    _, sent, made = await make_pdf(bot)
    assert "A copy is kept (encrypted, made " in made[-1].text
    (copy,) = await rows(bot, PackCopy)
    assert sent.document is not None and pdf_of(Cipher(TEST_KEY), copy) == sent.document  # the very PDF sent
    assert sent.document not in copy.pdf_enc  # stored encrypted

    await bot.say(ALICE, "/cpd")  # the data changes after the copy was made
    await bot.tap(ALICE, "Log an activity")
    await bot.say(ALICE, "Shadowed the finance director for a morning")
    await bot.say(ALICE, "3 hours")
    await bot.tap(ALICE, "Today")
    await bot.tap(ALICE, "No — on my own")
    await bot.tap(ALICE, "Save", replies=2)
    await bot.say(ALICE, "/pack")
    again = await bot.tap(ALICE, "Send my kept copy", replies=3)
    resent = [s for s in again if s.method == "sendDocument"]
    assert len(resent) == 1 and resent[0].document == sent.document  # not made again

    await bot.say(ALICE, "/share")
    shared = await bot.tap(ALICE, "Make a new link")
    token = next(w for w in shared[0].text.split() if w.startswith("https://t.me/")).split("start=", 1)[1]
    opened = await bot.say(BOB, f"/start {token}", replies=2)
    got = [s for s in opened if s.method == "sendDocument"]
    assert len(got) == 1 and got[0].document == sent.document  # the kept copy, not a rebuilt pack
    assert "Shadowed the finance director" not in pdf_text(got[0])

    exported = await bot.say(ALICE, "/export", replies=5)  # on top of /share, which is asked again after
    files = documents(exported)
    assert files[copy.filename].document == sent.document
    doc = json.loads(files["leadcoach-export.json"].document or b"{}")
    assert doc["appraisal_pack"]["keep"] is True and doc["appraisal_pack"]["kept_copy"]["filename"] == copy.filename

    await bot.say(ALICE, "/delete")
    await bot.tap(ALICE, "Yes, erase everything")
    assert await rows(bot, PackCopy) == []
    assert first.document is not None


async def test_stopping_keeping_deletes_the_copy_and_links_make_the_pack_afresh(bot: Bot) -> None:
    await onboard(bot)
    await bot.say(ALICE, "/pack")
    await bot.tap(ALICE, "Keep a copy", replies=2)
    await make_pdf(bot)
    assert len(await rows(bot, PackCopy)) == 1
    await bot.say(ALICE, "/pack")
    off = await bot.tap(ALICE, "Stop keeping a copy", replies=2)
    assert "The copy I kept is deleted." in off[0].text and "Send my kept copy" not in str(off[1].buttons)
    assert await rows(bot, PackCopy) == []
    await bot.say(ALICE, "/share")
    shared = await bot.tap(ALICE, "Make a new link")
    token = next(w for w in shared[0].text.split() if w.startswith("https://t.me/")).split("start=", 1)[1]
    opened = await bot.say(BOB, f"/start {token}", replies=7)  # made afresh: the PDF, Markdown and CSV
    assert len(documents(opened)) == 3


async def test_editing_the_now_what_in_history_moves_the_action_and_its_nudge(bot: Bot) -> None:
    await onboard(bot)
    first, second = today() + timedelta(days=16), today() + timedelta(days=23)
    await bot.say(ALICE, "/reflect conflict")
    await bot.say(ALICE, "1", replies=2)
    await bot.say(ALICE, "Two nurses argued about the rota; I mediated.")
    await bot.say(ALICE, "It showed me that I need to agree the ground rules before the meeting gets heated.")
    await bot.say(ALICE, f"I will hold a team huddle on the rota rules by {first.day} {first:%b}.")
    await bot.tap(ALICE, "4 Strong")
    await bot.tap(ALICE, "15 min")
    await bot.tap(ALICE, "Done")
    saved = await bot.tap(ALICE, "Save")
    assert f"I'll ask how your action went on {first.day} {first:%B %Y}" in saved[0].text
    nudges = [n for n in await rows(bot, Nudge) if n.kind == "action"]
    assert [n.occurrence for n in nudges] == [f"f{first.isoformat()}"]

    listing = await bot.say(ALICE, "/history")
    await bot.tap(ALICE, listing[0].buttons[0]["text"])
    await bot.tap(ALICE, "Edit an answer")
    await bot.tap(ALICE, "Now what?")
    edited = await bot.say(
        ALICE, f"I will hold the huddle by {second.day} {second:%b}: the team asked for later.", replies=2
    )
    assert f"Its action moves to {second.day} {second:%B %Y}" in edited[0].text
    assert [a.due_on for a in await rows(bot, Action)] == [second]  # moved, not doubled
    nudges = [n for n in await rows(bot, Nudge) if n.kind == "action"]
    assert [n.occurrence for n in nudges] == [f"f{second.isoformat()}"]  # one nudge, on the new day
    shown = (await bot.say(ALICE, "/actions"))[0].text
    assert f"{second.day} {second:%B %Y}: I will hold the huddle" in shown and f"{first.day} {first:%B}" not in shown
