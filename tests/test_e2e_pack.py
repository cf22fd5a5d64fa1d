"""End to end over the fake Bot API: a user with reflections (one with a dated action), a self-assessment
and CPD gets the appraisal pack as documents, the PDF's text holding them grouped by standard; the
appraiser's t.me link delivers the pack once per opening and refuses after it is revoked."""

from __future__ import annotations

import io

from pypdf import PdfReader

from frameworks.catalogue import Catalogue
from tests.fakebot import Sent
from tests.test_assess import ratings_for
from tests.test_e2e import ALICE, BOB, Bot, onboard

LABELS = {2: "2 Essential", 4: "4 Strong"}


async def reflect(bot: Bot, topic: str, what: str, now_what: str) -> None:
    await bot.say(ALICE, f"/reflect {topic}")
    await bot.say(ALICE, "1", replies=2)  # the first item found: its statement and the first question
    await bot.say(ALICE, what)
    await bot.say(ALICE, "It showed me that I need to agree the ground rules before the meeting gets heated.")
    await bot.say(ALICE, now_what)
    await bot.tap(ALICE, "4 Strong")
    await bot.tap(ALICE, "15 min")
    await bot.tap(ALICE, "Done")


def pdf_text(sent: Sent) -> str:
    assert sent.document is not None
    reader = PdfReader(io.BytesIO(sent.document))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def documents(sent: list[Sent]) -> dict[str, Sent]:
    return {s.filename or "": s for s in sent if s.method == "sendDocument"}


async def test_the_pack_end_to_end_and_the_appraisers_link(bot: Bot, catalogue: Catalogue) -> None:
    await onboard(bot)
    huddle = "I will hold a team huddle on the rota rules by 18 Dec."
    await reflect(bot, "conflict", "Two nurses argued about the rota; I mediated.", huddle)
    saved = await bot.tap(ALICE, "Save")
    assert "I'll ask how your action went on 18 December" in saved[0].text
    learn = "I will keep learning how the budget lines are set each quarter."
    await reflect(bot, "budget", "I went through the ward budget with finance.", learn)
    await bot.tap(ALICE, "Save")
    await bot.say(ALICE, "/assess")
    await bot.tap(ALICE, "Start")
    ratings = ratings_for(catalogue, "mlf2025", {"mlf2025.6"})
    for rating in ratings[:-1]:
        await bot.tap(ALICE, LABELS[rating])
    await bot.tap(ALICE, LABELS[ratings[-1]], replies=3)
    await bot.say(ALICE, "/cpd")
    await bot.tap(ALICE, "Log an activity")
    await bot.say(ALICE, "Finance for non-finance managers workshop")
    await bot.say(ALICE, "6.5 hours")
    await bot.tap(ALICE, "Yesterday")
    await bot.tap(ALICE, "Yes — with others")
    logged = await bot.tap(ALICE, "Save", replies=2)  # logged, and the summary again
    assert "6.5 h, participatory, yesterday" in logged[0].text

    await bot.say(ALICE, "/pack")
    made = await bot.tap(ALICE, "Make the PDF", replies=7)  # three documents, each with its message, then a word
    docs = documents(made)
    pdf = next(s for name, s in docs.items() if name.endswith(".pdf"))
    assert {name.rsplit(".", 1)[1] for name in docs} == {"pdf", "md", "csv"}
    assert pdf.document is not None and pdf.document.startswith(b"%PDF") and len(pdf.document) < 1_000_000
    text = pdf_text(pdf)
    start = text.index("Reflections by standard")
    people = text.index(f"{catalogue.by_id['mlf2025.5'].title} (1)", start)
    money = text.index(f"{catalogue.by_id['mlf2025.6'].title} (1)", start)
    assert people < text.index("Two nurses argued about the rota") < money < text.index("the ward budget")
    assert "Self-assessment of" in text and "Finance for non-finance managers" in text
    assert "Personal development plan" in text and huddle in text
    assert "Review date 18 December" in text and "not reviewed yet" in text

    await bot.say(ALICE, "/share")
    shared = await bot.tap(ALICE, "Make a new link")
    link = next(w for w in shared[0].text.split() if w.startswith("https://t.me/"))
    assert link.startswith("https://t.me/LeadCoachTestBot?start=pack_")
    token = link.split("start=", 1)[1]

    opened = await bot.say(BOB, f"/start {token}", replies=7)  # a note, then the three documents
    assert "shared with you" in opened[0].text
    got = documents(opened)
    assert len(got) == 3
    assert "Two nurses argued about the rota" in pdf_text(next(s for n, s in got.items() if n.endswith(".pdf")))
    await bot.fake.settle(0.2)
    assert len(documents(bot.fake.to(BOB))) == 3  # delivered once

    listing = await bot.say(ALICE, "/share")
    assert "opened 1 time" in listing[0].text
    revoked = await bot.tap(ALICE, "Revoke the link", replies=2)
    assert "Revoked" in revoked[0].text
    refused = await bot.say(BOB, f"/start {token}")
    assert "withdrawn" in refused[0].text
    await bot.fake.settle(0.2)
    assert len(documents(bot.fake.to(BOB))) == 3  # nothing more
