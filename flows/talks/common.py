"""Helpers shared by the flows: stages, prompts, identifiers in text, dates."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flows.core.flow import Ctx
from flows.core.replies import Button
from frameworks.catalogue import Catalogue, Entry

DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
FRAMEWORKS = {"mlf2025": "MLF 2025 (new, draft)", "lf2011": "Leadership Framework 2011"}

PROMPTS: dict[str, list[tuple[str, bool]]] = {
    # (prompt, whether a very short answer gets the "so what" follow-up)
    "rolfe": [
        ("What? What happened, and what was your part in it?", False),
        ("So what? What does it tell you about your practice against this statement?", True),
        ("Now what? What will you do differently, and by when?", True),
    ],
    "gibbs": [
        ("Description: what happened?", False),
        ("Feelings: what were you thinking and feeling?", False),
        ("Evaluation: what was good and bad about it?", True),
        ("Analysis: what sense can you make of it?", True),
        ("Conclusion: what else could you have done?", True),
        ("Action plan: what will you do next time?", True),
    ],
    "kolb": [
        ("Concrete experience: what happened?", False),
        ("Reflective observation: what did you notice, looking back?", True),
        ("Abstract conceptualisation: what have you learned or concluded?", True),
        ("Active experimentation: what will you try next?", True),
    ],
}
PROMPT_NAMES = {
    "rolfe": "Rolfe (What? So what? Now what?)",
    "gibbs": "Gibbs reflective cycle",
    "kolb": "Kolb learning cycle",
}
FOLLOW_UP = "So what does this mean for your practice?"
SHORT_ANSWER_WORDS = 8


def plural(count: int, noun: str, nouns: str = "") -> str:
    """ "1 reflection", "3 reflections" (never "reflection(s)")."""
    return f"{count} {noun if count == 1 else nouns or noun + 's'}"


def stage_label(cat: Catalogue, framework: str, stage: str) -> str:
    entry = cat.stage_entry(framework, stage)
    return entry.title if entry else f"Stage {stage}"


def valid_stage(framework: str, stage: str) -> str:
    """A stage that exists in the framework (LF has no Fundamental stage)."""
    if framework == "lf2011" and stage == "fundamental":
        return "1"
    return stage


def statement_for(cat: Catalogue, item_id: str, stage: str) -> Entry | None:
    """The item's text at a stage; for LF domains 6-7 (stage 4 only) the nearest there is."""
    entry = cat.statement(item_id, stage)
    if entry is None and item_id.startswith("lf2011."):
        entry = cat.statement(item_id, "4")
    return entry


def parse_time(text: str) -> str | None:
    m = re.fullmatch(r"\s*(\d{1,2})(?:[:.](\d{2}))?\s*(am|pm)?\s*", text.lower())
    if not m:
        return None
    hour, minute = int(m.group(1)), int(m.group(2) or 0)
    if m.group(3) == "pm" and hour < 12:
        hour += 12
    if m.group(3) == "am" and hour == 12:
        hour = 0
    if hour > 23 or minute > 59:
        return None
    return f"{hour:02d}:{minute:02d}"


def parse_date(text: str) -> date | None:
    for fmt in ("%d/%m/%Y", "%d-%m-%Y", "%Y-%m-%d", "%d %B %Y", "%d %b %Y", "%d/%m/%y"):
        try:
            return datetime.strptime(text.strip(), fmt).date()
        except ValueError:
            continue
    return None


def valid_timezone(name: str) -> str | None:
    """The IANA name typed, if it is one. Anything else (a sentence, 5,000 characters) is None, not an
    OSError from the file system ZoneInfo looks it up in."""
    if not 0 < len(name.strip()) <= 64:
        return None
    try:
        ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None
    return name.strip()


def menu_buttons() -> list[list[Button]]:
    def b(label: str, cmd: str) -> Button:
        return Button(label, "m", cmd, scoped=False)

    return [
        [b("Reflect now", "reflect"), b("Look something up", "lookup")],
        [b("Self-assessment", "assess"), b("My CPD", "cpd")],
        [b("My reflections", "history"), b("Settings", "settings")],
        [b("Help", "help"), b("Privacy", "privacy")],
    ]


def ends(text: str) -> Callable[[Ctx, Any, str], Awaitable[None]]:
    """A "Done" button's action: the conversation ends with ``text`` and the menu."""

    async def done(ctx: Ctx, s: Any, arg: str) -> None:
        ctx.finish()
        ctx.say(text, menu_buttons())

    return done


def chunks(buttons: list[Button], width: int = 1) -> list[list[Button]]:
    return [buttons[i : i + width] for i in range(0, len(buttons), width)]


def short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
