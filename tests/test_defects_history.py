"""Regression tests for the issue-13 defects in /history and /assess (5, 9), and their keyboards."""

from __future__ import annotations

import re

from bot.runtime import Runtime
from flows.talks.assess import items_for
from frameworks.catalogue import Catalogue
from tests.client import FakeClient
from tests.sqlite_only import sqlite_only  # noqa: F401  (conversation-level checks: SQLite alone)
from tests.test_flows import onboard, reflect


async def _stop_gmts_after_two(client: FakeClient) -> None:
    await onboard(client)  # an MLF user
    await client.send("/assess gmts")
    await client.click("Start")
    await client.click("Achieved")
    await client.click("Not achieved")
    await client.click("Stop for now")


async def test_defect5_plain_assess_offers_the_unfinished_gmts_one(client: FakeClient, catalogue: Catalogue) -> None:
    await _stop_gmts_after_two(client)
    await client.send("/assess")
    assert "You also have a GMTS competency assessment under way (2 of" in client.text
    await client.click("Carry on my GMTS competency assessment")
    assert client.text.startswith(f"<b>3 of {len(items_for(catalogue, 'gmts-gm'))}</b>")
    assert "Personal quality" in client.text  # GMTS, not the MLF assessment


async def test_defect5_the_stop_message_names_a_command_that_carries_on(
    client: FakeClient, catalogue: Catalogue
) -> None:
    await _stop_gmts_after_two(client)
    found = re.search(r"(/assess[a-z ]*?) carries on", client.text)
    assert found is not None, client.text
    await client.send(found.group(1))
    assert "2 of" in client.text and "rated" in client.text
    await client.click("Carry on")
    assert client.text.startswith(f"<b>3 of {len(items_for(catalogue, 'gmts-gm'))}</b>")
    assert "Personal quality" in client.text


async def test_defect9_the_history_keyboard_has_no_empty_row(client: FakeClient) -> None:
    await onboard(client)
    await reflect(client)
    await client.send("/history")
    assert client.last[0].buttons and all(client.last[0].buttons)


async def test_defect9_one_rating_kept_is_singular(client: FakeClient) -> None:
    await onboard(client)
    await client.send("/assess")
    await client.click("Start")
    await client.click("3 Proficient")
    await client.click("Stop for now")
    assert "Your 1 rating is kept" in client.text and "(s)" not in client.text


async def test_every_history_and_assess_keyboard_has_no_empty_row(runtime: Runtime, catalogue: Catalogue) -> None:
    client = FakeClient(runtime.coach)
    await onboard(client)
    await reflect(client)
    await client.send("/history")
    await client.click(client.last[0].buttons[0][0].label)
    for button in ("Edit an answer", "Rating", "Minutes", "Also evidences", "Delete"):
        await client.click(button)
        await client.click("Back" if button != "Delete" else "No")
    await client.send("/assess gmts")
    await client.click("Start")
    for _ in [i for i in items_for(catalogue, "gmts-gm") if i.startswith("gmts-gm.1.")]:
        await client.click("Achieved")
    await client.click("3 Practical application")  # asks for the target level
    await client.send("/assess")
    await client.click("Start")
    await client.click("4 Strong")
    await client.click("Back")
    await client.send("/assess")
    for reply in client.history:
        assert all(reply.buttons), reply.text


async def test_typed_answers_work_at_every_history_and_assess_step(client: FakeClient) -> None:
    await onboard(client)
    await reflect(client)
    await client.send("/history")
    await client.click(client.last[0].buttons[0][0].label)
    await client.send("rating")
    await client.send("2")  # a number: the rating itself
    assert "Updated." in client.text and "2 Essential" in client.text
    await client.send("edit")
    await client.send("3")  # the third answer's button
    assert "Now what?" in client.text and "Type the new answer" in client.text
    await client.send("back")
    await client.send("minutes")
    await client.send("none")
    assert "Minutes: not logged" in client.text
    await client.send("/assess")
    await client.send("start")
    await client.send("4")
    assert client.text.startswith("<b>2 of")
    await client.send("skip")
    assert client.text.startswith("<b>3 of")


async def test_a_finished_assessment_is_not_carried_on_again(client: FakeClient, catalogue: Catalogue) -> None:
    await onboard(client)
    await client.send("/assess")
    await client.click("Start")
    carry = client.button("Back")  # an item's buttons, pressed again after the assessment is finished
    for _ in items_for(catalogue, "mlf2025"):
        await client.click("4 Strong")
    assert "Your self-assessment" in client.text
    await client.press(carry)
    await client.send("/assess")
    assert "under way" not in client.text and "See my last results" in client.labels
