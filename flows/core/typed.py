"""Typed answers that name a button: its label, its number, the start of its label or a word only it has.
The engine uses this for every step, from the buttons the step declares, so typing works everywhere."""

from __future__ import annotations

import re

from flows.core.replies import Button

_MARKS = re.compile(r"[✅✓☑️⚠️•]")
_EDGES = " .,!?;:'\"()"
CONTROLS = ("back", "skip", "later", "done", "save", "discard", "continue", "stop", "cancel")


def plain(label: str) -> str:
    """A label or typed answer as compared: lower case, without ticks, edge punctuation or extra spaces."""
    return " ".join(_MARKS.sub(" ", label).lower().split()).strip(_EDGES)


def match(buttons: list[Button], text: str, *, free: bool = False, numeric: bool = False) -> Button | None:
    """The one button ``text`` names, or None.

    At every step: the button's whole label, the first word of a label when it is the only one starting
    so ("4" for "4 Strong"), or a control word ("skip", "later", "back"...) that starts or ends one label.
    Where the step takes free text (``free``), nothing else, so an answer is never taken for a button.
    Otherwise also: the button's number in reading order ("2"; not where the step takes numbers itself),
    the start of one label ("continue" for "Continue it"), or a word that only one label has."""
    low = plain(text)
    if not low:
        return None
    labels = [plain(b.label) for b in buttons]
    exact = [b for b, label in zip(buttons, labels, strict=True) if label == low]
    if exact:
        return exact[0]
    starts = _one(buttons, [label.startswith(low + " ") for label in labels])
    if starts is not None and (not free or low.isdigit() or low in CONTROLS):
        return starts
    if low in CONTROLS:
        return _one(buttons, [label.endswith(" " + low) for label in labels])
    if free:
        return None
    if low.isdigit():
        return buttons[int(low) - 1] if not numeric and 1 <= int(low) <= len(buttons) else None
    if len(low) < 3:
        return None
    words = [low in label.split() or any(w.startswith(low) for w in label.split()) for label in labels]
    return _one(buttons, words)


def first_number(text: str) -> int | None:
    """The first whole number in a typed answer ("20", "about 45 minutes")."""
    m = re.search(r"\d+", text)
    return int(m.group(0)) if m else None


def _one(buttons: list[Button], hits: list[bool]) -> Button | None:
    chosen = [b for b, hit in zip(buttons, hits, strict=True) if hit]
    return chosen[0] if len(chosen) == 1 else None
