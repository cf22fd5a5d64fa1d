"""/pack and /share over the flows: the pack's PDF holds the reflections grouped by standard, the
self-assessment with its change, the CPD log and the plan; objectives and the name are the user's to edit;
a share link delivers the pack, counts its openings, and refuses politely once revoked or expired."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from pypdf import PdfReader

from bot.runtime import Runtime
from flows.core.engine import Engine
from flows.core.replies import Attachment
from frameworks.catalogue import Catalogue
from tests.client import FakeClient
from tests.test_assess import ratings_for, run_assessment
from tests.test_feedback import rate, start_round
from tests.test_flows import onboard

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
NHS_NUMBER = "943 476 5919"


@pytest.fixture
def coach(runtime: Runtime) -> Engine:
    runtime.coach.clock = lambda: NOW
    return runtime.coach


def documents(c: FakeClient) -> dict[str, Attachment]:
    return {r.attachment.filename: r.attachment for r in c.last if r.attachment is not None}


async def pdf_text(a: Attachment) -> str:
    reader = PdfReader(io.BytesIO(await a.data()))
    return "\n".join(page.extract_text() for page in reader.pages)


async def reflect(c: FakeClient, topic: str, what: str) -> None:
    await c.send(f"/reflect {topic}")
    await c.send("1")  # the first item found
    await c.send(what)
    if NHS_NUMBER in what:  # the guard asks; they keep it, and the pack still never prints it
        await c.click("It isn't patient information — keep it")
    await c.click("Skip this one")  # so what: skipped, so left out of the pack
    await c.send("I will hold a listening session with the team by 18 Dec and note what changes.")
    await c.click("4 Strong")
    await c.click("15 min")
    await c.click("Done")
    await c.click("Save")


async def user_with_a_year(coach: Engine, catalogue: Catalogue, name: str) -> FakeClient:
    c = FakeClient(coach, name)
    await onboard(c)
    await reflect(c, "conflict", "Two nurses disagreed about the rota and I mediated between them calmly.")
    assert "I'll ask how your action went on 18 December 2026 (/actions shows it)." in c.text
    await reflect(c, "budget", f"I reviewed the ward budget with finance; patient {NHS_NUMBER} came up.")
    await run_assessment(c, ratings_for(catalogue, "mlf2025", {"mlf2025.6"}))
    await c.send("/cpd")
    for what, how_long in (("Finance for non-finance managers workshop", "6.5 hours"), ("Coaching course", "1h30")):
        await c.click("Log an activity")
        await c.send(what)
        await c.send(how_long)
        await c.click("Yesterday")
        await c.click("Yes — with others")
        await c.click("Save")
    await c.click("Set a target")
    await c.click("Finish a programme by a date")
    await c.click("Mary Seacole programme")
    await c.click("In 1 year")
    await c.click("Done")
    return c


async def test_the_pack_holds_the_year_grouped_and_redacted(coach: Engine, catalogue: Catalogue) -> None:
    c = await user_with_a_year(coach, catalogue, "packer")
    await c.send("/actions")
    assert "18 December 2026: I will hold a listening session" in c.text and "not asked yet" in c.text
    await c.click("18 December 2026")
    assert "You said you would by 18 December 2026:" in c.text and "How did it go?" in c.text
    await c.click("Partly")
    await c.send("Held one; the night team could not come, so a second is booked.")
    assert "Noted" in c.text and "— Partly" in c.text
    await c.click("Done")
    await c.send("/pack")
    assert "<b>Your appraisal pack</b>" in c.text and "Development plan" in c.text
    weak = catalogue.by_id["mlf2025.6"].title
    assert f"1. <b>{weak}</b>: By " in c.text
    await c.click("Edit objective 1")
    await c.send("Run a monthly improvement huddle and show two changes it made by June.")
    assert "Objective changed." in c.text and "monthly improvement huddle" in c.text
    await c.click("Add my name")
    await c.send("Sam Taylor")
    assert "Name on the cover: Sam Taylor." in c.text
    await c.click("Make the PDF")
    docs = documents(c)
    assert sorted(docs) == ["appraisal-pack-2026-12-01.md", "appraisal-pack-2026-12-01.pdf", "cpd-log-2026-12-01.csv"]
    text = await pdf_text(docs["appraisal-pack-2026-12-01.pdf"])
    flat = " ".join(text.split())
    assert "Sam Taylor" in flat and "Appraisal pack" in flat
    assert "Reflections in the period: 2." in flat
    assert "Not yet covered:" in flat
    assert "Two nurses disagreed about the rota" in flat and "Now what?" in flat
    assert "So what?" not in flat  # skipped answers left out
    assert NHS_NUMBER not in flat and "943" not in flat  # identifiers never printed
    assert "Finance for non-finance managers" in flat and "6.5" in flat
    assert "monthly improvement huddle" in flat  # the edited objective
    assert "Programmes I have committed to • Mary Seacole programme: finish by 1 December 2027" in flat
    assert "Review date 18 December 2026: Partly — Held one; the night team could not come" in flat
    assert "Self-assessment of" in flat and "Personal development plan" in flat
    assert "page 1 of" in flat and "Sources of the framework text" in flat
    # grouped: each reflection under its standard's heading, the standards in framework order
    start = flat.index("Reflections by standard")
    people = flat.index(f"{catalogue.by_id['mlf2025.5'].title} (1)", start)
    money = flat.index(f"{catalogue.by_id['mlf2025.6'].title} (1)", start)
    assert start < people < flat.index("Two nurses disagreed") < money < flat.index("I reviewed the ward budget")
    assert "patient [removed] came up" in flat
    csv = (await docs["cpd-log-2026-12-01.csv"].data()).decode()
    assert "Finance for non-finance managers workshop,Participatory,6.5,390,True" in csv
    assert "2026-11-30" in csv
    md = (await docs["appraisal-pack-2026-12-01.md"].data()).decode()
    assert "## Reflections by standard" in md and NHS_NUMBER not in md


async def test_a_share_link_delivers_counts_and_refuses_once_revoked(coach: Engine, catalogue: Catalogue) -> None:
    c = await user_with_a_year(coach, catalogue, "owner")
    await c.send("/share")
    assert "Make your pack first" in c.text
    await c.click("Make a new link")
    assert "Your new link: /start pack_" in c.text  # the terminal's form; Telegram's is a t.me link
    token = c.text.split("pack_", 1)[1].split()[0]
    appraiser = FakeClient(coach, "appraiser")
    await appraiser.send(f"/start pack_{token}")
    assert "isn't ready yet" in appraiser.text
    await c.send("/pack")
    await c.click("Make the PDF")
    await appraiser.send(f"/start pack_{token}")
    assert "shared with you" in appraiser.text
    docs = documents(appraiser)
    assert len(docs) == 3
    assert "Two nurses disagreed" in " ".join((await pdf_text(docs["appraisal-pack-2026-12-01.pdf"])).split())
    await c.send("/share")
    assert "opened 1 time" in c.text
    await c.click("Revoke the link made 1 December 2026")
    assert "Revoked" in c.text
    await appraiser.send(f"/start pack_{token}")
    assert "withdrawn" in appraiser.text and not documents(appraiser)
    await appraiser.send(f"/start pack_{token}x")
    assert "doesn't work" in appraiser.text
    await c.click("Make a new link")
    token = (
        c.text.split("start pack_", 1)[1].split()[0] if "start pack_" in c.text else c.text.split("pack_")[1].split()[0]
    )
    coach.clock = lambda: NOW + timedelta(days=31)
    await appraiser.send(f"/start pack_{token}")
    assert "expired on 31 December 2026" in appraiser.text


async def test_a_share_link_is_erased_30_days_after_it_ends(coach: Engine, catalogue: Catalogue) -> None:
    from flows.core.retention import purge

    c = FakeClient(coach, "ender")
    await onboard(c)
    await c.send("/share")
    await c.click("Make a new link")
    await c.click("Make a new link")
    await c.click("Revoke the link")
    assert (await purge(coach, NOW + timedelta(days=29))).shares == 0
    assert (await purge(coach, NOW + timedelta(days=31))).shares == 1  # revoked today: 30 days on
    assert (await purge(coach, NOW + timedelta(days=59))).shares == 0  # expires in 30 days: 30 days on
    assert (await purge(coach, NOW + timedelta(days=61))).shares == 1


async def test_the_period_tapped_typed_or_refused(coach: Engine) -> None:
    c = FakeClient(coach, "period")
    await onboard(c)
    await c.send("/pack")
    assert "Evidence from 1 December 2025 to today (the last 12 months: set your appraisal date" in c.text
    await c.click("Change the period")
    for bad in ("soon", "tomorrow"):
        await c.send(bad)
        assert c.text == "Please give a day in the past, e.g. <i>1 April 2026</i> or 01/04/2026."
    await c.send("since 1 June 2026")
    assert "Evidence from 1 June 2026 to today." in c.text
    await c.send("/pack")  # kept for next time (and for a share link)
    assert "Evidence from 1 June 2026 to today." in c.text
    await c.click("Change the period")
    await c.click("Since my last appraisal")
    assert "Evidence from 1 December 2025 to today (the last 12 months" in c.text
    await c.click("Done")
    assert "/pack makes your appraisal pack any time" in c.text


async def test_the_pack_carries_the_newest_360_results_and_no_rater(coach: Engine, catalogue: Catalogue) -> None:
    """Issue 16's 360° summary, now that 360° feedback exists: averages beside the self-assessment, gaps."""
    coach.feedback_min_raters = 3
    alice = FakeClient(coach, "alice")
    await run_assessment(alice, ratings_for(catalogue, "mlf2025", {"mlf2025.6"}))
    token = await start_round(alice)
    for i, score in enumerate((4, 4, 5)):
        await rate(FakeClient(coach, f"rater{i}"), token, score=score)
    await alice.send("/pack")
    await alice.click("Make the PDF")
    flat = " ".join((await pdf_text(documents(alice)["appraisal-pack-2026-12-01.pdf"])).split())
    assert "360° feedback" not in flat  # the round is still open: nothing shown yet
    await alice.send("/feedback")
    await alice.click("Close it and see the results")
    await alice.click("Yes, close it")
    await alice.send("/pack")
    await alice.click("Make the PDF")
    docs = documents(alice)
    flat = " ".join((await pdf_text(docs["appraisal-pack-2026-12-01.pdf"])).split())
    assert "360° feedback" in flat and "3 colleagues answered" in flat
    assert f"{catalogue.by_id['mlf2025.6'].title}: others 4.3" in flat
    assert "Hidden strengths" in flat
    for i in range(3):
        assert f"Rater{i}" not in flat
    assert "3 colleagues answered" in (await docs["appraisal-pack-2026-12-01.md"].data()).decode()


async def test_a_kept_copy_is_erased_a_year_after_it_was_made(coach: Engine) -> None:
    from flows.core.retention import purge

    c = FakeClient(coach, "keeper")
    await onboard(c)
    await c.send("/pack")
    await c.click("Make the PDF")
    assert "The PDF isn't kept" in c.text
    assert (await purge(coach, NOW + timedelta(days=400))).pack_copies == 0  # nothing was kept
    await c.send("/pack")
    await c.click("Keep a copy")
    await c.click("Make the PDF")
    assert "A copy is kept (encrypted, made 1 December 2026, kept until 1 December 2027)." in c.text
    assert (await purge(coach, NOW + timedelta(days=364))).pack_copies == 0
    assert (await purge(coach, NOW + timedelta(days=366))).pack_copies == 1
    await c.send("/pack")
    assert "Send my kept copy" not in c.labels and "Stop keeping a copy" in c.labels  # still keeping the next
