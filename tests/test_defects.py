"""Regression tests for the defects of issue 13, one or more per defect, named by its number."""

from __future__ import annotations

import io

import pytest

from bot.runtime import Runtime
from bot.terminal import Terminal
from flows.texts import FORGED_BUTTON
from tests.client import FakeClient
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
