"""Every declared step and button walked by machine (see tests/explorer.py), on SQLite, in process."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import make_url, select

from bot.runtime import Runtime, parse_input
from flows.assess import items_for
from flows.models import Assessment, User
from flows.replies import Identity
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


async def seed(explorer: Explorer, who: Identity, runtime: Runtime) -> None:
    """A user with something everywhere: a saved reflection, a draft put aside, a CPD target and activity, a
    finished MLF self-assessment (so the pack has priorities to edit), a pack made and shared, a GMTS
    assessment stopped part way, so every step (history's editing, offers to carry on) can be reached."""
    script = [
        "/start", "Use the defaults",
        "/reflect", "Suggested", ANSWER, ANSWER, ANSWER + " I will try it by next week.", "4", "15 min", "Done", "Save",
        "/cpd", "Set a target", "Reflections a month", "2",
        "Log an activity", "Budget workshop", "1h30", "Yesterday", "No — on my own", "Save",
        "/assess gmts", "Start", *["3"] * 14, "/cancel",  # past the personal qualities, which have no target
        "/reflect", "Browse", "1", "1", ANSWER, "Later",
    ]  # fmt: skip
    for line in script:
        await explorer.run(who, parse_input(line), [])
    await finished_assessment(runtime, who)
    for line in ["/pack", "Make the PDF", "/share", "Make a new link", "Done"]:
        await explorer.run(who, parse_input(line), [])


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


async def test_every_step_button_and_typed_answer(runtime: Runtime) -> None:
    explorer = Explorer(runtime.coach, database(runtime))
    await explorer.explore(NEW, ["/start"])
    await seed(explorer, KNOWN, runtime)
    await explorer.explore(KNOWN, COMMANDS)
    declared = {(f.name, str(s)) for f in runtime.coach.flows.values() for s in f.steps}
    missed = declared - explorer.tally.steps
    t = explorer.tally
    print(
        f"\nexplorer: {len(t.steps)} of {len(declared)} declared steps reached, {t.nodes} screens, "
        f"{t.buttons} buttons, {t.events} events; not reached: {sorted(missed)}"
    )
    assert not explorer.violations, "\n".join(explorer.violations[:20])
    assert not missed, f"steps no path reached: {sorted(missed)}"


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_a_random_walk_of_several_users(runtime: Runtime, seed: int) -> None:
    explorer = Explorer(runtime.coach, database(runtime))
    users = [Identity("terminal", f"user{i}", f"User{i}") for i in range(4)]
    await explorer.walk(users, 1000, seed)
    t = explorer.tally
    print(f"\nrandom walk (seed {seed}): {t.events} events, {len(t.steps)} steps reached, {dict(t.kinds)}")
    assert not explorer.violations, "\n".join(explorer.violations[:20])
    assert t.events == 1000
