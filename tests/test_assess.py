"""Self-assessment and development ideas: in process (SQLite and PostgreSQL) and end to end."""

from __future__ import annotations

import struct
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, select

from bot.runtime import Runtime
from flows.core.replies import Attachment
from flows.rules.areas import unit_of
from flows.rules.scoring import current_id, profile, weakest
from flows.store.models import Assessment, CpdTarget
from flows.talks.assess import _ASSESSMENT, items_for
from flows.talks.common import statement_for
from flows.talks.develop import recommend
from frameworks.catalogue import Catalogue
from tests.client import FakeClient
from tests.fakebot import FakeTelegram
from tests.test_e2e import ALICE, Bot, make_settings, onboard, start_app, stop_app
from tests.test_flows import onboard as onboard_client

START = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG, after checking it decodes (signature, IHDR, and the image data inflates)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    chunks, pos = [], 8
    while pos < len(data):
        length = struct.unpack(">I", data[pos : pos + 4])[0]
        kind = data[pos + 4 : pos + 8]
        if kind == b"IDAT":
            chunks.append(data[pos + 8 : pos + 8 + length])
        pos += 12 + length
    assert len(zlib.decompress(b"".join(chunks))) > width * height  # every row is there
    return width, height


def ratings_for(cat: Catalogue, framework: str, low: set[str]) -> list[int]:
    """A rating per item: 2 in the given standards or domains, 4 elsewhere."""
    return [2 if unit_of(cat, current_id(cat, item)) in low else 4 for item in items_for(cat, framework)]


async def run_assessment(client: FakeClient, ratings: list[int]) -> None:
    await client.send("/assess")
    if any(b.label == "Carry on" for r in client.last for row in r.buttons for b in row):
        await client.click("Start again")
    else:
        await client.click("Start")
    for rating in ratings:
        await client.click(f"{rating} " if rating else "Not sure / skip")


def chart(client: FakeClient) -> Attachment:
    found = [r.attachment for r in client.last if r.attachment is not None]
    assert len(found) == 1 and found[0].kind == "photo"
    return found[0]


async def test_an_mlf_assessment_gives_scores_a_chart_and_priorities(runtime: Runtime, catalogue: Catalogue) -> None:
    client = FakeClient(runtime.coach)
    runtime.coach.clock = lambda: START
    await onboard_client(client)
    ratings = ratings_for(catalogue, "mlf2025", {"mlf2025.5", "mlf2025.8"})
    ratings[0] = 0  # "not sure" on the first: left out of the averages
    await run_assessment(client, ratings)
    text = client.text
    assert "25 of 27 items rated" not in text and "26 of 27 items rated" in text
    five, eight = catalogue.by_id["mlf2025.5"].title, catalogue.by_id["mlf2025.8"].title
    assert f"Development priorities:</b> {five}; {eight}" in text
    async with runtime.coach.sessionmaker() as db:
        row = (await db.execute(select(Assessment))).scalar_one()
    p = profile(catalogue, row)
    assert p.scores["mlf2025.5"] == 2 and p.scores["mlf2025.8"] == 2 and p.scores["mlf2025.2"] == 4
    assert weakest(p) == ["mlf2025.5", "mlf2025.8"]
    png = await chart(client).data()
    width, height = png_size(png)
    assert (width, height) == (640, 640) and 10_000 < len(png) < 500_000


async def test_a_second_assessment_overlays_the_first_and_shows_the_change(
    runtime: Runtime, catalogue: Catalogue
) -> None:
    client = FakeClient(runtime.coach)
    now = START
    runtime.coach.clock = lambda: now
    await onboard_client(client)
    await run_assessment(client, ratings_for(catalogue, "mlf2025", {"mlf2025.1"}))
    first = chart(client)
    now = START + timedelta(days=90)
    await run_assessment(client, ratings_for(catalogue, "mlf2025", set()))
    second = chart(client)
    assert "(+2.0)" in client.text and "Compared with 1 June 2026" in client.text
    assert "last time" in second.caption and "last time" not in first.caption
    assert len(await second.data()) > 10_000


async def test_it_can_be_stopped_and_carried_on_another_day(runtime: Runtime) -> None:
    client = FakeClient(runtime.coach)
    now = START
    runtime.coach.clock = lambda: now
    await onboard_client(client)
    await client.send("/assess")
    await client.click("Start")
    for _ in range(5):
        await client.click("3 Proficient")
    older = client.history[-1]
    await client.click("Stop for now")
    assert "5 ratings are kept" in client.text
    now = START + timedelta(days=20)  # beyond the 14-day conversation TTL: the table keeps it
    await client.send("/assess")
    assert "5 of 27 rated" in client.text
    await client.click("Carry on")
    assert client.text.startswith("<b>6 of 27</b>")
    await client.click("1 Insufficient", on=older)  # a button from an earlier item
    assert "earlier step" in (client.outcome.notice or "")
    async with runtime.coach.sessionmaker() as db:
        row = (await db.execute(select(Assessment))).scalar_one()
    assert row.position == 5 and len(row.ratings) == 5


@pytest.mark.parametrize(
    ("framework", "stage", "low"),
    [
        ("mlf2025", "1", {"mlf2025.5", "mlf2025.8"}),
        ("mlf2025", "3", {"mlf2025.9"}),
        ("mlf2025", "fundamental", {"mlf2025.2", "mlf2025.4", "mlf2025.7"}),
        ("lf2011", "2", {"lf2011.3"}),
        ("lf2011", "4", {"lf2011.5", "lf2011.6"}),
    ],
)
def test_recommendations_fit_the_weak_areas_and_the_stage(
    catalogue: Catalogue, framework: str, stage: str, low: set[str]
) -> None:
    items = items_for(catalogue, framework)
    row = Assessment(
        framework=framework,
        stage=stage,
        items=items,
        ratings=dict(zip(items, ratings_for(catalogue, framework, low), strict=True)),
    )
    recs = recommend(catalogue, row, stage)
    assert {r.unit for r in recs} == low
    earlier: set[str] = set()  # offered for a weaker area already, so not offered again
    for r in recs:
        assert catalogue.by_id[r.unit].title in r.reason and "2.0 of 5" in r.reason
        assert unit_of(catalogue, r.item) == r.unit and r.on_the_job.startswith(catalogue.by_id[r.item].title)
        # an action, not the statement again: an improvement method for the area, else a GMTS example activity
        statement = statement_for(catalogue, r.item, stage)
        assert statement is None or statement.text not in r.on_the_job or "GMTS" in r.on_the_job
        for p in (r.from_others, r.formal):
            if p is not None and p.code != "coaching-register":
                assert r.unit in p.develops and stage in p.stages
        if r.formal is not None and r.formal.positive_action:
            # offered only with who it is for, after any open to all
            assert not any(
                x.kind in ("programme", "course", "elearning")
                and r.unit in x.develops
                and stage in x.stages
                and not x.positive_action
                and x.code not in earlier
                for x in catalogue.programmes.entries
            )
        earlier.update(p.code for p in (r.from_others, r.formal) if p is not None)
    assert recommend(catalogue, row, stage) == recs  # deterministic
    offered = [p.code for r in recs for p in (r.from_others, r.formal) if p is not None]
    offered += [m.code for r in recs for m in catalogue.programmes.entries if f"try {m.title} " in r.on_the_job]
    assert len(offered) == len(set(offered))  # no programme offered for two priorities


async def test_develop_shows_eligibility_and_saves_a_cpd_target(runtime: Runtime, catalogue: Catalogue) -> None:
    client = FakeClient(runtime.coach)
    runtime.coach.clock = lambda: START
    await onboard_client(client)
    await client.send("/develop")
    assert "/assess takes about ten minutes" in client.text
    await run_assessment(client, ratings_for(catalogue, "mlf2025", {"mlf2025.5"}))
    await client.send("/develop")
    assert "Which best describes your profession?" in client.text  # asked once
    await client.click("Manager (not clinical)")
    text = client.text
    assert catalogue.by_id["mlf2025.5"].title in text and "because your lowest" in text
    assert "At work:" in text and "From others:" in text and "Formal:" in text
    label = next(b.label for r in client.last for row in r.buttons for b in row if b.label.startswith("Make "))
    button = client.button(label)
    await client.press(button)
    assert "Added to /cpd" in client.text and "marks it finished or removes it" in client.text
    await client.press(button)  # a double tap: one target, and said so
    assert "Already in /cpd" in client.text
    async with runtime.coach.sessionmaker() as db:
        target = (await db.execute(select(CpdTarget))).scalar_one()
    assert target.kind == "programme" and target.ends_on is not None
    await client.send("/reflect")  # the suggested focus is in the weakest area
    suggested = next(b.label for r in client.last for row in r.buttons for b in row if b.label.startswith("Suggested"))
    titles = [e.title for e in catalogue.of_kind("mlf2025", "competency") if e.id.startswith("mlf2025.5.")]
    assert any(suggested.removeprefix("Suggested: ").rstrip("…") in t for t in titles)


async def test_export_and_delete_include_assessments(runtime: Runtime, catalogue: Catalogue) -> None:
    import json

    client = FakeClient(runtime.coach)
    await onboard_client(client)
    await run_assessment(client, ratings_for(catalogue, "mlf2025", {"mlf2025.3"}))
    await client.send("/export")
    attachment = next(r.attachment for r in client.last if r.attachment is not None)
    doc = json.loads(attachment.content)
    key = catalogue.by_id["mlf2025.3.1"].key
    assert key == "mlf2025:take-accountability-for-my-actions"  # stored by its stable key
    assert doc["self_assessments"][0]["ratings"][key] == 2
    await client.send("/delete")
    await client.click("Yes, erase everything")
    async with runtime.coach.sessionmaker() as db:
        assert (await db.execute(select(Assessment))).first() is None


async def test_an_mlf_assessment_end_to_end_sends_the_chart_as_a_photo(
    fake: FakeTelegram, database_url: str, tmp_path: object, catalogue: Catalogue
) -> None:
    from pathlib import Path

    settings = make_settings(fake, database_url, Path(str(tmp_path))).model_copy(update={"nudge_interval": 0})
    service = await start_app(settings)
    bot = Bot(fake, settings, service)
    try:
        await onboard(bot)
        await bot.say(ALICE, "/assess")
        await bot.tap(ALICE, "Start")
        ratings = ratings_for(catalogue, "mlf2025", {"mlf2025.6"})
        for rating in ratings[:-1]:
            await bot.tap(ALICE, {2: "2 Essential", 4: "4 Strong"}[rating])
        await bot.tap(ALICE, {2: "2 Essential", 4: "4 Strong"}[ratings[-1]], replies=3)
        photos = [s for s in fake.to(ALICE) if s.method == "sendPhoto"]
        assert len(photos) == 1 and photos[0].document is not None
        assert png_size(photos[0].document) == (640, 640)
        results = next(s.text for s in fake.to(ALICE) if "Your self-assessment" in s.text)
        assert f"Development priorities:</b> {catalogue.by_id['mlf2025.6'].title}" in results
    finally:
        await stop_app(service)


async def test_past_assessments_are_in_history(runtime: Runtime, catalogue: Catalogue) -> None:
    client = FakeClient(runtime.coach)
    runtime.coach.clock = lambda: START
    await onboard_client(client)
    await run_assessment(client, ratings_for(catalogue, "mlf2025", {"mlf2025.4"}))
    await client.send("/history")
    await client.click("Self-assessment · Mon 01 Jun 2026")
    assert "Your self-assessment" in client.text and chart(client).kind == "photo"


def test_at_work_is_an_action_a_method_or_a_gmts_example_not_the_statement(catalogue: Catalogue) -> None:
    from flows.talks.develop import _at_work

    lean = next(p for p in catalogue.programmes.entries if p.code == "lean")
    assert "try Lean on one thing your team does. Our tip: " in _at_work(catalogue, "mlf2025.8.1", "2", lean)
    example = _at_work(catalogue, "mlf2025.1.2", "2", None)  # linked to LF 1.2, whose GMTS 1.2.1 gives examples
    gmts = catalogue.gmts_competency("gmts-gm.1.2.1")
    assert gmts is not None and f"{gmts.examples[0]} (an example activity from the GMTS framework, 1.2.1)" in example
    statement = statement_for(catalogue, "mlf2025.1.2", "2")
    assert statement is not None and statement.text not in example


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # conversation-level: SQLite alone
async def test_develop_asks_the_profession_once_and_offers_bodies_only_where_they_fit(
    runtime: Runtime, catalogue: Catalogue
) -> None:
    fmlm = catalogue.by_id["programmes.fmlm"].title
    for who, profession, offered in (("doc", "Doctor", True), ("mgr", "Manager (not clinical)", False)):
        client = FakeClient(runtime.coach, who)
        await onboard_client(client)
        await run_assessment(client, ratings_for(catalogue, "mlf2025", {"mlf2025.3"}))  # an area FMLM develops
        await client.send("/develop")
        await client.click(profession)
        assert (fmlm in client.text) is offered, client.text
        await client.send("/develop")  # not asked again
        assert "Which best describes your profession?" not in client.text and "Development ideas" in client.text
    await client.send("/develop profession")  # changed on request
    assert "Which best describes your profession?" in client.text


async def test_a_rating_reads_its_assessment_by_a_statement_compiled_once_and_saves_it(runtime: Runtime) -> None:
    """A rating (most of an assessment's events) reads the assessment by the statement built once
    (``_ASSESSMENT``, on the driver on asyncpg: no ORM load built per event), once, and the rating and the
    next position are still saved."""
    client = FakeClient(runtime.coach)
    await onboard_client(client)
    await client.send("/assess")
    await client.click("Start")
    reads: list[tuple[str, object]] = []

    def seen(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        if "FROM assessments" in statement:
            reads.append((statement, context))

    event.listen(runtime.db.sync_engine, "before_cursor_execute", seen)
    try:
        await client.click("4 ")
    finally:
        event.remove(runtime.db.sync_engine, "before_cursor_execute", seen)
    assert "2 of 27" in client.text
    dialect = runtime.db.dialect
    assert [sql for sql, _ in reads] == [_ASSESSMENT.compiled(dialect)[0]]
    if dialect.driver == "asyncpg":
        assert reads[0][1] is None  # straight on the driver (flows/core/storage.Direct)
    async with runtime.coach.sessionmaker() as db:
        row = (await db.execute(select(Assessment))).scalar_one()
    assert row.position == 1 and list(row.ratings.values()) == [4]
