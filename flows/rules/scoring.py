"""Self-assessment scoring as pure functions: averages by area, the weakest and strongest areas, GMTS
statuses against target levels. They take the catalogue and an assessment's data, nothing else."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Protocol

from flows.rules.areas import unit_of, units
from flows.rules.gmts import personal, status
from frameworks.catalogue import Catalogue


class Rated(Protocol):
    """What scoring reads of an assessment (the stored row has these)."""

    framework: str
    items: list[str]
    ratings: dict[str, int]
    targets: dict[str, int]


def current_id(cat: Catalogue, ref: str) -> str:
    """The item's id in today's catalogue (a stored key survives renumbering)."""
    entry = cat.resolve(ref)
    return entry.id if entry is not None else ref


@dataclass(frozen=True)
class Profile:
    units: list[str]  # standard or domain ids, in framework order
    scores: dict[str, float]  # average rating per unit (units with nothing rated are missing)
    items: dict[str, int]  # rating per item id (skipped items left out)


def profile(cat: Catalogue, row: Rated) -> Profile:
    by_unit: dict[str, list[int]] = {}
    ratings = {current_id(cat, ref): rating for ref, rating in row.ratings.items()}
    for item, rating in ratings.items():
        unit = unit_of(cat, item)
        if rating and unit is not None:
            by_unit.setdefault(unit, []).append(rating)
    order = units(cat, row.framework)
    return Profile(
        order,
        {u: statistics.fmean(by_unit[u]) for u in order if u in by_unit},
        {i: r for i, r in ratings.items() if r},
    )


def weakest(p: Profile, count: int = 3) -> list[str]:
    """The lowest-scored areas (below 4), lowest first; ties in framework order."""
    ranked = sorted((score, p.units.index(u), u) for u, score in p.scores.items() if score < 4)
    return [u for _, _, u in ranked[:count]]


def strongest(p: Profile, count: int = 2) -> list[str]:
    ranked = sorted((-score, p.units.index(u), u) for u, score in p.scores.items() if score >= 3)
    return [u for _, _, u in ranked[:count]]


def gmts_statuses(cat: Catalogue, row: Rated) -> tuple[list[str], dict[str, int], dict[str, int]]:
    """(competency ids asked, level per rated competency, known target per competency)."""
    ids = [current_id(cat, ref) for ref in row.items]
    levels = {current_id(cat, ref): level for ref, level in row.ratings.items()}
    targets = {}
    for ref, item in zip(row.items, ids, strict=True):
        target = target_level(cat, row, item, ref)
        if target:
            targets[item] = target
    return ids, levels, targets


def achieved_by_domain(cat: Catalogue, row: Rated) -> dict[str, tuple[int, int]]:
    """(achieved, competencies) per LF domain."""
    ids, levels, targets = gmts_statuses(cat, row)
    out: dict[str, tuple[int, int]] = {}
    for item in ids:
        domain = unit_of(cat, item) or ""
        found = status(levels[item], targets.get(item), personal(item)) if item in levels else None
        done, total = out.get(domain, (0, 0))
        out[domain] = (done + (found in ("achieved", "achieved +")), total + 1)
    return out


def target_level(cat: Catalogue, row: Rated, item_id: str, ref: str) -> int | None:
    """The competency's target level: the framework's where our copy has it, else the one the user gave."""
    comp = cat.gmts_competency(item_id)
    if comp is not None and comp.target_level:
        return int(comp.target_level)
    given = row.targets.get(ref)
    return given if given else None
