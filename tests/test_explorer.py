"""Every declared step and button walked by machine (see tests/explorer.py), on SQLite, in process."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import make_url, select

from bot.runtime import Runtime, parse_input
from flows.core.replies import Identity
from flows.store.models import Assessment, User
from flows.talks.assess import items_for
from tests.explorer import ANSWER, COMMANDS, Explorer

pytestmark = [
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

NEW = Identity("terminal", "newcomer", "Nia")
KNOWN = Identity("terminal", "manager", "Sam")


def database(runtime: Runtime) -> Path:
    path = make_url(runtime.settings.effective_database_url).database
    assert path is not None
    return Path(path)


def new_round(who: Identity, *areas: str) -> list[str]:
    """/feedback to a round on all standards, or (``areas``: typed labels) on the ones ticked."""
    chosen = [*areas, "Done"] if areas else ["All standards"]
    return ["/feedback", "Start a round", *chosen, f"Use {who.first_name}", "14 days", "No note"]


async def feedback_round(explorer: Explorer, who: Identity, *areas: str) -> str:
    """A 360° round started by ``who``: the invitation (``/start fb_...``) another user types."""
    for line in ["/start", "Use the defaults", *new_round(who, *areas)]:
        await explorer.run(who, parse_input(line), [])
    shown = await explorer.run(who, parse_input("Start the round"), [])
    found = re.search(r"/start (fb_[A-Za-z0-9_-]+)", " ".join(r.text for r in shown.replies))
    assert found, shown.replies
    return f"/start {found.group(1)}"


async def seed(explorer: Explorer, who: Identity, runtime: Runtime) -> list[str]:
    """A user with something everywhere: a saved reflection, a draft put aside, a CPD target and activity, a
    GMTS assessment stopped part way, a finished MLF self-assessment (so the pack has priorities to edit), a
    pack made and shared, an open 360° round, an answer given to a colleague's round and a colleague's round
    not yet answered, so every step (history's editing, offers to carry on, withdrawing) can be reached.
    Returns the invitations to the colleagues' rounds."""
    answered = await feedback_round(explorer, Identity("terminal", "colleague1", "Priya"))
    unanswered = await feedback_round(explorer, Identity("terminal", "colleague2", "Tom"), "1", "2", "3")  # three areas
    script = [
        "/start", "Use the defaults",
        "/reflect", "Suggested", ANSWER, ANSWER, ANSWER + " I will try it by next week.", "4", "15 min", "Done", "Save",
        "/cpd", "Set a target", "Reflections a month", "2",
        "Log an activity", "Budget workshop", "1h30", "Yesterday", "No — on my own", "Save",
        "/assess gmts", "Start", *["3"] * 14, "/cancel",  # past the personal qualities, which have no target
        *new_round(who), "Start the round",
        answered, "Start", "Peer", *["3"] * 9, "skip", "skip", "Send",
        "/reflect", "Browse", "1", "1", ANSWER, "Later",
    ]  # fmt: skip
    for line in script:
        await explorer.run(who, parse_input(line), [])
    await finished_assessment(runtime, who)
    for line in ["/pack", "Make the PDF", "/share", "Make a new link", "Done"]:
        await explorer.run(who, parse_input(line), [])
    return [answered, unanswered]


async def finished_assessment(runtime: Runtime, who: Identity) -> None:
    cat, now = runtime.coach.catalogue, runtime.coach.clock()
    items = items_for(cat, "mlf2025")
    async with runtime.coach.transaction() as db:
        user = await db.scalar(select(User).where(User.external_id == who.external_id))
        assert user is not None
        ratings = {i: 2 if n % 3 else 4 for n, i in enumerate(items)}
        db.add(
            Assessment(
                user_id=user.id, framework="mlf2025", stage=user.stage, items=items, ratings=ratings,
                position=len(items), started_at=now, updated_at=now, finished_at=now,
            )
        )  # fmt: skip


async def test_every_step_button_and_typed_answer(
    runtime: Runtime, record_property: Callable[[str, object], None]
) -> None:
    explorer = Explorer(runtime.coach, database(runtime))
    await explorer.explore(NEW, ["/start", "/feedback"])
    invitations = await seed(explorer, KNOWN, runtime)
    await explorer.explore(KNOWN, [*COMMANDS, *invitations])
    declared = {(f.name, str(s)) for f in runtime.coach.flows.values() for s in f.steps}
    missed = declared - explorer.tally.steps
    t = explorer.tally
    record_property(
        "explorer",
        f"{len(t.steps)} of {len(declared)} declared steps reached, {t.nodes} screens, "
        f"{t.buttons} buttons pressed and typed, {t.events} events",
    )
    assert not explorer.violations, "\n".join(explorer.violations[:20])
    assert not missed, f"steps no path reached: {sorted(missed)}"


@pytest.mark.parametrize("seed", [1, 2])
async def test_a_random_walk_of_several_users(
    runtime: Runtime, seed: int, record_property: Callable[[str, object], None]
) -> None:
    explorer = Explorer(runtime.coach, database(runtime))
    users = [Identity("terminal", f"user{i}", f"User{i}") for i in range(4)]
    await explorer.walk(users, 1000, seed)
    t = explorer.tally
    record_property("explorer", f"random walk (seed {seed}): {t.events} events over 4 users, {len(t.steps)} steps")
    assert not explorer.violations, "\n".join(explorer.violations[:20])
    assert t.events == 1000
