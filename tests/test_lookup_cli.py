"""``leadcoach lookup``: the command-line contract, and the chat's look-up end to end."""

from __future__ import annotations

import json

import pytest

from bot.cli import main
from tests.client import FakeClient

KEYS = {"framework", "id", "kind", "code", "title", "stage", "text", "score"}


def lookup_json(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, object]]:
    assert main(["lookup", *args, "--json"]) == 0
    results: list[dict[str, object]] = json.loads(capsys.readouterr().out)["results"]
    return results


def test_off_topic_returns_no_results(capsys: pytest.CaptureFixture[str]) -> None:
    assert lookup_json(capsys, "what is the capital of France") == []
    assert lookup_json(capsys, "cheap flights to spain", "--framework", "gmts-gm") == []
    assert main(["lookup", "what is the capital of France"]) == 1
    assert "Nothing good found" in capsys.readouterr().out


def test_results_keep_their_keys_limit_and_framework(capsys: pytest.CaptureFixture[str]) -> None:
    results = lookup_json(capsys, "stage 2 budget", "--framework", "lf2011", "--limit", "2")
    assert len(results) == 2 and all(set(r) == KEYS for r in results)
    assert {r["framework"] for r in results} == {"lf2011"}
    assert results[0]["id"] == "lf2011.3.2@2" and results[0]["stage"] == "2"
    overview = lookup_json(capsys, "hlm")
    assert [r["id"] for r in overview] == ["hlm.overview"] and overview[0]["kind"] == "overview"


def test_codes_give_way_to_the_words_around_them(capsys: pytest.CaptureFixture[str]) -> None:
    assert lookup_json(capsys, "element 3.2 managing resources")[0]["id"] == "lf2011.3.2"
    assert lookup_json(capsys, "3.2")[0]["id"] == "mlf2025.3.2"


def test_text_output_labels_fundamental_and_prints_gmts_once(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lookup", "managing conflict", "--limit", "1"]) == 0
    assert "[MLF 2025 (draft) · Fundamental Stage]" in capsys.readouterr().out
    assert main(["lookup", "gmts 3.2.3", "--limit", "1"]) == 0
    out = capsys.readouterr().out
    assert out.count("Knowledge of budget setting and financial performance information") == 1
    assert "[GMTS General Management v2.1 · specialist]" in out
    assert main(["lookup", "2.4.1", "--limit", "1"]) == 0
    assert "[GMTS General Management v2.1 · core]" in capsys.readouterr().out
    assert main(["lookup", "mary seacole", "--limit", "1"]) == 0
    out = capsys.readouterr().out
    assert "Eligibility" not in out and "Duration: Six months" in out  # the source says nothing of who
    assert main(["lookup", "edward jenner", "--limit", "1"]) == 0
    assert "Eligibility: Open to all staff" in capsys.readouterr().out


async def onboard_lf_stage_3(c: FakeClient) -> None:
    await c.send("/start")
    await c.click("Set up (1 minute)")
    await c.click("Leadership Framework 2011")
    await c.click("Stage 3")
    for _ in range(4):
        await c.click("Skip (keep default)")
    assert "You're all set" in c.text


async def test_chat_answers_from_the_users_framework_at_their_stage(client: FakeClient) -> None:
    await onboard_lf_stage_3(client)
    await client.send("3.2")
    assert "<b>3.2 Managing resources</b>" in client.text
    assert "LF 2011 · Stage 3: Across services/wider organisation" in client.text
    assert "Shown at your stage" in client.text
    await client.send("what is the capital of France")
    assert "couldn't find anything good" in client.text and "4.4.6" not in client.text
    await client.click("LF domains")
    assert "Leadership Framework: domains and elements" in client.text
    await client.click("3 Managing Services")
    assert "<b>3 Managing Services</b>" in client.text
    await client.click("3.4 Managing performance")
    assert "Stage 3: Across services/wider organisation" in client.text and "Establishes rigorous" in client.text


async def test_chat_overview_and_programme(client: FakeClient) -> None:
    await client.send("/lookup hlm")
    assert "Healthcare Leadership Model: dimensions" in client.text
    await client.click("7 Holding to account")
    assert "<b>7 Holding to account</b>" in client.text
    await client.send("/lookup edward jenner")
    assert "<b>Cost:</b> Free" in client.text and "<b>Eligibility:</b> Open to all staff" in client.text
