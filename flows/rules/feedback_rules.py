"""360° feedback rules as pure functions: tokens, the anonymity threshold, grouping by relationship,
averages, and the gaps between self and others. No database, no Telegram."""

from __future__ import annotations

import hashlib
import random
import secrets
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

MIN_RATERS = 3  # never fewer: below this nothing is shown, for the whole round or for any group
CLOSE_DAYS = 14
MAX_OPEN_ROUNDS = 1  # a subject has one open round at a time
MAX_RESPONSES = 30  # answers (started or finished) one round takes
GAP = 0.5  # a difference between self and others this big is worth talking about
TOKEN_PREFIX = "fb_"
RELATIONSHIPS = {
    "manager": ("Line manager", "Line managers"),
    "peer": ("Peer", "Peers"),
    "report": ("Direct report", "Direct reports"),
    "other": ("Other", "Others"),
}
OTHERS = "Everyone else"  # the groups too small to show on their own, folded together


def threshold(setting: int) -> int:
    """The number of answers needed before anything is shown: the setting, never below three."""
    return max(MIN_RATERS, setting)


def new_token() -> str:
    """An unguessable invitation token (128 bits), safe in a /start deep link."""
    return secrets.token_urlsafe(16)


def token_hash(token: str) -> str:
    """What is stored of a token: its SHA-256, so the database alone can't make a working link."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Answer:
    """One rater's finished answer: relationship, area -> 1-5 (0: not observed), comments."""

    relationship: str
    ratings: dict[str, int]
    keep: str = ""
    change: str = ""


@dataclass(frozen=True)
class Group:
    name: str
    count: int
    scores: dict[str, float]  # only areas at least ``minimum`` of the group observed


@dataclass(frozen=True)
class Results:
    raters: int
    others: dict[str, float]  # area -> average of those who observed it (at least ``minimum`` of them)
    groups: list[Group]  # empty when the answers can't be split without singling anyone out
    keep: list[str] = field(default_factory=list)  # comments, in random order
    change: list[str] = field(default_factory=list)


def _scores(answers: Sequence[Answer], areas: Sequence[str], minimum: int) -> dict[str, float]:
    out = {}
    for area in areas:
        seen = [a.ratings[area] for a in answers if a.ratings.get(area, 0) > 0]
        if len(seen) >= minimum:
            out[area] = statistics.fmean(seen)
    return out


def groups(answers: Sequence[Answer], areas: Sequence[str], minimum: int) -> list[Group]:
    """Relationship groups of ``minimum`` or more on their own, the rest folded into "Everyone else".
    When everyone else would be fewer than ``minimum`` (so subtracting could single them out), the smallest
    groups are folded in too; when no split is left that is safe, there is none (only the overall view)."""
    by: dict[str, list[Answer]] = {}
    for a in answers:
        by.setdefault(a.relationship if a.relationship in RELATIONSHIPS else "other", []).append(a)
    shown = sorted((k for k, v in by.items() if len(v) >= minimum and k != "other"), key=lambda k: -len(by[k]))
    rest = [a for k, v in by.items() if k not in shown for a in v]
    while shown and 0 < len(rest) < minimum:
        rest += by[shown.pop()]
    if not shown or (len(shown) == 1 and not rest):
        return []  # one group of everyone says nothing the overall view doesn't
    out = [Group(RELATIONSHIPS[k][1], len(by[k]), _scores(by[k], areas, minimum)) for k in shown]
    if rest:
        out.append(Group(OTHERS, len(rest), _scores(rest, areas, minimum)))
    return out


def aggregate(
    answers: Sequence[Answer], areas: Sequence[str], minimum: int, rng: random.Random | None = None
) -> Results | None:
    """The round's results, or None while fewer than ``minimum`` (at least three) have answered."""
    minimum = threshold(minimum)
    if len(answers) < minimum:
        return None
    shuffle = (rng or random.SystemRandom()).shuffle
    keep = [a.keep for a in answers if a.keep.strip()]
    change = [a.change for a in answers if a.change.strip()]
    shuffle(keep)
    shuffle(change)
    return Results(len(answers), _scores(answers, areas, minimum), groups(answers, areas, minimum), keep, change)


def blind_spots(me: dict[str, float], others: dict[str, float], count: int = 3) -> list[str]:
    """Areas I rate myself higher than others do, by at least ``GAP``, biggest gap first."""
    gaps = sorted((others[a] - me[a], a) for a in others if a in me and me[a] - others[a] >= GAP)
    return [a for _, a in gaps[:count]]


def hidden_strengths(me: dict[str, float], others: dict[str, float], count: int = 3) -> list[str]:
    """Areas others rate higher than I do, by at least ``GAP``, biggest gap first."""
    gaps = sorted((me[a] - others[a], a) for a in others if a in me and others[a] - me[a] >= GAP)
    return [a for _, a in gaps[:count]]


def lowest(others: dict[str, float], areas: Sequence[str], count: int = 2) -> list[str]:
    """The areas others rate lowest (below 4), lowest first; ties in framework order."""
    ranked = sorted((score, areas.index(a), a) for a, score in others.items() if score < 4 and a in areas)
    return [a for _, _, a in ranked[:count]]
