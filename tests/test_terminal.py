"""The terminal adapter: `leadcoach chat` with piped input, buttons as numbered choices."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bot.terminal import plain

ROOT = Path(__file__).resolve().parents[1]


def test_plain_strips_our_tags_and_unescapes() -> None:
    assert plain("<b>5.3 A &amp; B</b> <i>x</i> &lt;tag&gt;") == "5.3 A & B x <tag>"


def test_chat_reads_piped_lines_and_presses_numbered_buttons(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADCOACH_")}
    env["LEADCOACH_DATA_DIR"] = str(tmp_path)
    lines = "/start\n2\n1\n/cancel\nwhat does stage 2 look like\n/frobnicate\n"
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "chat", "--user", "sam"],
        input=lines,
        text=True,
        capture_output=True,
        cwd=ROOT,
        env=env,
        timeout=120,
        check=True,
    )
    out = result.stdout
    assert "Hello sam, I'm LeadCoach" in out and "  [2] Use the defaults" in out
    assert "You're all set" in out  # "2" pressed the second button
    assert "What would you like to reflect on this week?" in out  # "1" pressed "Reflect now"
    assert "Stage 2: Mid-Level Managers and Leaders" in out
    assert "I don't know /frobnicate" in out
    assert "<b>" not in out
    assert (tmp_path / "leadcoach.sqlite3").exists()
