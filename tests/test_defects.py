"""Regression tests for the defects of issue 13, one or more per defect, named by its number."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest

from bot.runtime import Runtime
from bot.terminal import Terminal
from flows.core.texts import FORGED_BUTTON
from tests.client import FakeClient
from tests.sqlite_only import sqlite_only  # noqa: F401  (conversation-level checks: SQLite alone)
from tests.test_flows import onboard

SOMETHING_WRONG = "something went wrong"


async def test_defect1_typing_a_topic_searches(client: FakeClient) -> None:
    await onboard(client)
    await client.send("/reflect conflict")
    assert SOMETHING_WRONG not in client.text
    assert "Which one?" in client.text
    await client.send("/cancel")
    await client.send("/reflect")
    await client.click("Search")
    await client.send("budget")
    assert "Which one?" in client.text
    await client.send("/cancel")
    await client.send("/reflect")
    await client.send("difficult conversation")  # typed at the focus step
    assert "Which one?" in client.text


async def test_defect2_a_draft_kept_at_the_interrupt_is_offered_again(client: FakeClient) -> None:
    await onboard(client)
    await client.send("/reflect")
    await client.click("Suggested")
    await client.send("I chaired a tense rota meeting where two leads disagreed about weekend cover.")
    await client.send("/cpd")
    assert "Keep it for later" in client.labels
    await client.send("/cancel")
    assert "kept your unfinished reflection" in client.text
    await client.send("/reflect")
    assert "unfinished reflection" in client.text
    await client.click("Continue it")
    assert "2/3" in client.text  # the next question, not a new topic


async def test_defect14_non_ascii_button_data_is_refused_politely(client: FakeClient) -> None:
    await onboard(client)
    await client.press("0|ü|ö|ä")
    assert client.outcome.notice == FORGED_BUTTON
    assert "can't use that button" in client.text


async def test_defect1_a_fault_never_ends_the_terminal_coach(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    terminal = Terminal(runtime, "sam", out)

    async def broken(*args: object, **kwargs: object) -> None:
        raise TypeError("a bug")

    monkeypatch.setattr(runtime.coach, "handle", broken)
    await terminal.run(io.StringIO("/reflect conflict\n/help\n"))
    assert out.getvalue().count("something went wrong") == 2  # both lines answered, no traceback out


async def test_a_second_command_at_the_unfinished_question_still_keeps_the_draft(client: FakeClient) -> None:
    """Found by the explorer's random walk: /start while already asked about the draft forgot its step."""
    await onboard(client)
    await client.send("/reflect conflict")
    await client.click("5.3 Manage conflict and sensitive conversations")
    await client.send("Two of my band 5s fell out over the Christmas rota and I had to step in.")
    await client.send("/cpd")
    await client.send("/settings")  # asked again, about another command
    await client.click("Keep it for later")
    await client.send("/reflect")
    assert "unfinished reflection on <b>5.3" in client.text


async def test_signed_buttons_are_copies_so_users_never_share_a_signature(client: FakeClient) -> None:
    """Found by the explorer: a Button kept as a constant was signed in place for every user who saw it."""
    await onboard(client)
    await client.send("/reflect")
    await client.click("Suggested")
    later_for_alice = client.button("Later")
    other = FakeClient(client.engine, "bob")
    await onboard(other)
    await other.send("/reflect")
    await other.click("Suggested")
    assert other.button("Later") != later_for_alice
    await client.press(later_for_alice)
    assert "kept your place" in client.text


async def test_defect8_a_long_answer_in_two_parts_is_one_answer(client: FakeClient, runtime: Runtime) -> None:
    engine = runtime.coach
    start = engine.clock()
    engine.clock = lambda: start
    await onboard(client)
    await client.send("/reflect")
    await client.click("Suggested")
    first = ("We ran the winter escalation meeting and I let the quiet voices speak first. " * 60)[:4096]
    await client.send(first)
    assert "2/3" in client.text
    engine.clock = lambda: start + timedelta(seconds=1)  # the rest, a second later: the same answer
    await client.send("And then the bed manager agreed the plan.")
    assert "added it to your last answer" in client.text and "2/3" in client.text
    await client.send("It tells me that I need to make room for the quieter people in the meetings I chair.")
    assert "3/3" in client.text
    engine.clock = lambda: start + timedelta(minutes=1)
    await client.send(first)  # a long last answer, and a minute later a message: not a part of it
    engine.clock = lambda: start + timedelta(minutes=2)
    await client.send("4")
    assert "Log this as CPD?" in client.text
    await client.click("Skip")
    if "Done" in client.labels:
        await client.click("Done")
    summary = client.text
    assert "And then the bed manager agreed the plan." in summary
    assert summary.count("We ran the winter escalation meeting") >= 2


@pytest.mark.parametrize("typed", ["continue", "Continue it", "1"])
async def test_defect3_typing_a_label_its_start_or_number_presses_it(client: FakeClient, typed: str) -> None:
    await onboard(client)
    await client.send("/reflect")
    await client.click("Suggested")
    await client.send("I chaired a tense rota meeting where two leads disagreed about weekend cover.")
    await client.click("Later")
    await client.send("/reflect")
    assert "Carry on with it?" in client.text
    await client.send(typed)
    assert "Please tap one of the buttons" not in client.text
    assert "2/3" in client.text


async def test_defect4_start_again_asks_first_and_can_keep_the_draft(client: FakeClient) -> None:
    await onboard(client)
    await client.send("/reflect")
    await client.click("Suggested")
    await client.send("I chaired a tense rota meeting where two leads disagreed about weekend cover.")
    await client.send("/reflect")
    await client.click("Start again")
    assert "will be deleted" in client.text and "Keep it for later" in client.labels
    await client.click("Keep it for later")
    await client.send("/reflect")
    assert "unfinished reflection" in client.text and "1 of 3 answered" in client.text


def test_defect11_each_test_run_has_databases_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    import tests.conftest as conftest

    url = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")
    mine = conftest.worker_database(url)
    monkeypatch.setattr(conftest, "_RUN", "anotherrun")
    theirs = conftest.worker_database(url)
    assert mine != theirs and mine.endswith("_gw0") and "/test_" in mine
