"""/cpd declared: typed answers at every number step work as the buttons do (a preset's label, a number,
junk), the end date, yes/no, targets removed and finished, Back leaving nothing half-entered, and pace
said in words ("1 reflection behind", never "reflection(s)")."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import update

from bot.runtime import Runtime
from flows.core.engine import Engine
from flows.store.models import User
from flows.talks.cpd import FLOW
from flows.talks.cpd_state import C
from flows.talks.cpd_state import to as _to
from tests.client import FakeClient
from tests.sqlite_only import sqlite_only  # noqa: F401  (conversation-level checks: SQLite alone)
from tests.test_flows import onboard

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
Path = tuple[tuple[str, str], ...]  # ("tap", label) or ("type", text)

LOG: Path = (("tap", "Log an activity"), ("type", "Budget workshop"))
HOURS: Path = (("tap", "Set a target"), ("tap", "Hours over a period"))


@pytest.fixture
def coach(runtime: Runtime) -> Engine:
    runtime.coach.clock = lambda: NOW
    return runtime.coach


async def walk(c: FakeClient, path: Path) -> None:
    for how, what in path:
        await (c.click(what) if how == "tap" else c.send(what))


async def at_step(coach: Engine, name: str, path: Path) -> FakeClient:
    c = FakeClient(coach, name)
    await onboard(c)
    await c.send("/cpd")
    await walk(c, path)
    return c


# Each number step: how to get there, what finishes the entry, and for each answer (tapped or typed)
# what the summary then says. Typing a preset's label or the start of it ("2" for "2 h") is tapping it;
# at a step that takes numbers a typed number is the number, never the number of a button.
NUMBER_STEPS = {
    C.MINUTES: (
        LOG,
        (("tap", "Today"), ("tap", "No — on my own"), ("tap", "Save")),
        [
            (("tap", "2 h"), "Budget workshop — 2 h"),
            (("type", "2 h"), "Budget workshop — 2 h"),
            (("type", "2"), "Budget workshop — 2 h"),
            (("type", "a day"), "Budget workshop — 7 h"),
            (("type", "90"), "Budget workshop — 1.5 h"),
            (("type", "about 45 minutes"), "Budget workshop — 0.8 h"),
            (("type", "6.5 hours"), "Budget workshop — 6.5 h"),  # was 6 minutes
            (("type", "1h30"), "Budget workshop — 1.5 h"),
            (("type", "90 min"), "Budget workshop — 1.5 h"),
            (("type", "2 hrs"), "Budget workshop — 2 h"),
        ],
        "I couldn't read that. Type how long it took, e.g. <i>45 min</i>, <i>1h30</i> or <i>6.5 hours</i>.",
    ),
    C.GOAL: (
        HOURS,
        (("tap", "None"), ("tap", "In 1 year")),
        [
            (("tap", "35 hours"), "0 of 35 hours by 20 March 2027"),
            (("type", "35 hours"), "0 of 35 hours by 20 March 2027"),
            (("type", "35"), "0 of 35 hours by 20 March 2027"),
            (("type", "2"), "0 of 2 hours by 20 March 2027"),
        ],
        "Please give the hours as a number from 1 to 1000.",
    ),
    C.PART_GOAL: (
        (*HOURS, ("tap", "35 hours")),
        (("tap", "In 1 year"),),
        [
            (("tap", "20 hours"), "0 of 35 hours by 20 March 2027 (0 of 20 participatory)"),
            (("type", "20 hours"), "0 of 35 hours by 20 March 2027 (0 of 20 participatory)"),
            (("type", "12"), "0 of 35 hours by 20 March 2027 (0 of 12 participatory)"),
            (("tap", "None"), "0 of 35 hours by 20 March 2027 — "),
            (("type", "none"), "0 of 35 hours by 20 March 2027 — "),
            (("type", "0"), "0 of 35 hours by 20 March 2027 — "),
        ],
        "Please give the participatory hours as a number from 0 to 35.",
    ),
    C.COUNT: (
        (("tap", "Set a target"), ("tap", "Reflections a month")),
        (),
        [
            (("tap", "2"), "0 of 2 reflections this month"),
            (("type", "2"), "0 of 2 reflections this month"),
            (("type", "3"), "0 of 3 reflections this month"),  # not the third button (4)
            (("type", "4 a month"), "0 of 4 reflections this month"),
        ],
        "Please give the reflections a month as a number from 1 to 31.",
    ),
}


@pytest.mark.parametrize("step", list(NUMBER_STEPS))
async def test_typing_at_a_number_step_works_as_the_buttons_do(coach: Engine, step: C) -> None:
    path, finish, answers, refusal = NUMBER_STEPS[step]
    for n, (answer, summary) in enumerate(answers):
        c = await at_step(coach, f"{step}{n}", path)
        await walk(c, (answer, *finish))
        assert summary in c.text, (answer, c.text)
    # Junk, or a number out of range, is refused with the range, and the step still answers.
    c = await at_step(coach, f"{step}junk", path)
    for junk in ("lots", "5000"):
        await c.send(junk)
        assert c.text == refusal or (step == C.MINUTES and "more than a day" in c.text)
    await c.send("1")
    assert c.text != refusal
    # "back" typed is the Back button: the question before (logging an activity), else the summary.
    c = await at_step(coach, f"{step}back", path)
    await c.send("back")
    assert ("What did you do?" if step == C.MINUTES else "<b>Your CPD</b>") in c.text


def test_every_step_is_named_and_declared() -> None:
    assert set(FLOW.steps) == {str(s) for s in C}
    assert all(FLOW.steps[s].numeric for s in (C.MINUTES, C.GOAL, C.PART_GOAL, C.COUNT))
    with pytest.raises(TypeError, match="no fields"):  # a mistyped field in a transition fails at import
        _to(C.LINK, participating=True)


async def test_yes_or_no_typed_and_the_areas_by_number(coach: Engine) -> None:
    c = await at_step(coach, "yn", (*LOG, ("tap", "30 min"), ("tap", "Today")))
    await c.send("no")
    assert "Which areas" in c.text
    await c.send("2")  # the second area ticked
    assert c.labels[1].startswith("✓ ")
    await c.send("save")
    assert "Logged: Budget workshop — 0.5 h, self-directed, today." in c.text
    c = await at_step(coach, "yn2", (*LOG, ("tap", "30 min"), ("type", "yesterday")))
    await c.send("Yes")
    await c.send("save")
    assert "participatory, yesterday." in c.text


async def test_the_end_date_tapped_typed_or_refused(coach: Engine) -> None:
    path: Path = (*HOURS, ("tap", "35 hours"), ("tap", "None"))
    for n, (answer, end) in enumerate(
        [
            (("tap", "In 6 months"), "20 September 2026"),
            (("type", "in 3 years"), "20 March 2029"),
            (("type", "1 year"), "20 March 2027"),
            (("type", "31/03/2027"), "31 March 2027"),
        ]
    ):
        c = await at_step(coach, f"end{n}", path)
        await walk(c, (answer,))
        assert f"0 of 35 hours by {end}" in c.text
    c = await at_step(coach, "endbad", path)
    await c.send("soon")
    assert c.text == "I couldn't read that date. Try 31/03/2027."
    await c.send("01/01/2026")
    assert c.text == "Please give a date in the future."


async def test_a_programme_target_finished_then_removed(coach: Engine) -> None:
    c = await at_step(coach, "prog", (("tap", "Set a target"), ("tap", "Finish a programme by a date")))
    await c.click("Mary Seacole programme")
    await c.click("In 1 year")
    assert "Mary Seacole programme: finish by 20 March 2027 (365 days)" in c.text
    await c.click("Change, finish or remove a target")
    assert c.labels == ["Mary Seacole programme: finish by 20 March 2027 (365 days)", "Back"]
    await c.click("Mary Seacole programme: finish")
    assert c.labels == ["New date", "Mark finished", "Remove it", "Back to the targets"]  # no hours to a programme
    await c.click("New date")  # a target's date can be changed
    await c.send("31/12/2027")
    assert "New date set: 31 December 2027." in c.text and "finish by 31 December 2027" in c.text
    await c.click("Change, finish or remove a target")
    await c.send("1")  # the first target
    await c.send("2")  # the second button
    assert "marked finished" in c.text and "Mary Seacole programme: finished ✓" in c.text
    await c.click("Change, finish or remove a target")
    await c.click("Mary Seacole programme: finished")
    assert "Reopen it" in c.labels and "Mark finished" not in c.labels
    await c.click("Remove it")
    assert "Target removed." in c.text and "No targets yet" in c.text
    assert "Change, finish or remove a target" not in c.labels


async def test_an_hours_target_changed_finished_and_reopened(coach: Engine) -> None:
    c = await at_step(coach, "hrs", (*HOURS, ("tap", "35 hours"), ("tap", "20 hours"), ("tap", "In 1 year")))
    assert "0 of 35 hours by 20 March 2027 (0 of 20 participatory) — on pace" in c.text
    await c.click("Change, finish or remove a target")
    await c.click("0 of 35 hours")
    assert c.labels == ["New date", "New hours", "Mark finished", "Remove it", "Back to the targets"]
    await c.click("New hours")
    assert "How many hours in all should the target be now?" in c.text
    await c.click("Back")  # changes nothing, back to the target
    assert "What would you like to do with this target?" in c.text
    await c.click("New hours")
    await c.send("40 hours")
    await c.send("25")
    assert "Target changed: 40 hours (25 participatory)." in c.text
    assert "0 of 40 hours by 20 March 2027 (0 of 25 participatory) — on pace" in c.text  # the date kept
    await c.click("Change, finish or remove a target")
    await c.click("0 of 40 hours")
    await c.click("Mark finished")
    assert "0 of 40 hours by 20 March 2027 (0 of 25 participatory) — marked finished 20 March 2026 ✓" in c.text
    await c.click("Change, finish or remove a target")
    await c.click("0 of 40 hours")
    await c.click("Reopen it")
    assert "Reopened" in c.text and "0 of 40 hours by 20 March 2027 (0 of 25 participatory) — on pace" in c.text


async def test_a_reflections_target_gets_a_new_number(coach: Engine) -> None:
    c = await at_step(coach, "refl", (("tap", "Set a target"), ("tap", "Reflections a month"), ("tap", "2")))
    await c.click("Change, finish or remove a target")
    await c.click("0 of 2 reflections")
    assert c.labels == ["New number a month", "Mark finished", "Remove it", "Back to the targets"]
    await c.click("New number a month")
    await c.send("3")
    assert "Target changed: 3 reflections a month." in c.text and "0 of 3 reflections this month" in c.text


async def test_back_goes_one_question_back_and_only_discard_drops_the_entry(coach: Engine) -> None:
    c = await at_step(coach, "back", (*LOG, ("tap", "1 h"), ("tap", "Today"), ("tap", "Yes — with others")))
    await c.click("Back")
    assert "participatory" in c.text
    await c.click("Back")
    assert "When was it?" in c.text
    await c.click("Back")
    assert "How long did it take?" in c.text
    await c.click("Back")
    assert "What did you do?" in c.text and c.labels == ["Keep what I wrote", "Discard this entry"]
    await c.click("Keep what I wrote")
    assert "How long did it take?" in c.text
    await c.click("Back")
    await c.click("Discard this entry")
    assert "<b>Your CPD</b>" in c.text
    await c.send("/reflect")  # no "unfinished CPD entry" to decide about
    assert "What would you like to reflect on" in c.text


async def test_pace_lines_say_one_and_many(coach: Engine) -> None:
    # 20 March: two reflections a month expects one by now, four expect two; none done.
    c = await at_step(coach, "pace1", (("tap", "Set a target"), ("tap", "Reflections a month"), ("tap", "2")))
    assert "0 of 2 reflections this month — 1 reflection behind pace for this month" in c.text
    c = await at_step(coach, "pace2", (("tap", "Set a target"), ("tap", "Reflections a month"), ("tap", "4")))
    assert "0 of 4 reflections this month — 2 reflections behind pace for this month" in c.text
    async with coach.transaction() as db:  # the appraisal in 8 days: 9 standards, 1 week
        await db.execute(update(User).where(User.external_id == "pace2").values(appraisal_date=date(2026, 3, 28)))
    await c.click("Set a target")
    await c.click("Cover every area before my appraisal")
    assert "9 standards still to cover and 1 week to go" in c.text
    assert "(s)" not in c.text


async def test_half_a_day_is_asked_about_and_the_day_can_be_typed(coach: Engine) -> None:
    c = await at_step(coach, "half", LOG)
    await c.send("half a day")
    assert c.text == "How many hours is half a day for you? Type them, e.g. <i>3.5 hours</i>."
    await c.send("3.5 hours")
    assert "When was it?" in c.text
    for bad, said in (("soon", "I couldn't read that day"), ("tomorrow", "already happened")):
        await c.send(bad)
        assert said in c.text
    await c.send("18 Mar")
    await c.click("No — on my own")
    await c.click("Save")
    assert "Logged: Budget workshop — 3.5 h, self-directed, 18 March 2026." in c.text


async def test_logged_activities_listed_corrected_and_deleted(coach: Engine) -> None:
    c = await at_step(coach, "log", (*LOG, ("type", "6 min"), ("tap", "Today"), ("tap", "No — on my own")))
    await c.click("Save")
    await c.click("My activities")
    assert "<b>Your logged activities</b> (1, newest first)" in c.text
    assert "today: Budget workshop — 0.1 h, self-directed" in c.text
    await c.click("today: Budget workshop")
    await c.click("How long")
    await c.send("6.5 hours")
    assert "Changed." in c.text and "today: Budget workshop — 6.5 h" in c.text
    await c.click("When")
    await c.click("Yesterday")
    assert "yesterday: Budget workshop — 6.5 h" in c.text
    await c.click("What it was")
    await c.click("Back")  # nothing changed
    assert "yesterday: Budget workshop" in c.text and "What would you like to change?" in c.text
    await c.click("What it was")
    await c.send("Finance workshop")
    assert "yesterday: Finance workshop — 6.5 h" in c.text
    await c.click("Delete it")
    await c.click("Keep it")
    assert "What would you like to change?" in c.text
    await c.click("Delete it")
    await c.click("Delete it")
    assert "Deleted." in c.text and "Nothing logged yet." in c.text
    await c.click("Back")
    assert "<b>Your CPD</b>" in c.text and "0 hours logged" in c.text


async def test_a_programme_target_from_the_catalogue_length(coach: Engine) -> None:
    c = await at_step(coach, "length", (("tap", "Set a target"), ("tap", "Finish a programme by a date")))
    programme = next(p for p in coach.catalogue.programmes.entries if p.duration == "Six months")
    await c.click(programme.title[:30])
    assert "It runs for about 6 months." in c.text
    await c.click("By 20 September 2026 (its length)")
    assert "finish by 20 September 2026" in c.text
