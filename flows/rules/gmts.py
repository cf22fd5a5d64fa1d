"""The GMTS competency framework's rules (v2.1, "Assessment"): a competency's status from the level it is
signed off at against its target level, and the share achieved against the scheme's 40% (end of year
one) and 90% (end of the scheme) marks. Personal-qualities competencies (section 1) have no scale: they
are achieved or not achieved."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

NOT_ACHIEVED, PARTIALLY, ACHIEVED, ACHIEVED_PLUS = "not achieved", "partially achieved", "achieved", "achieved +"
YEAR_ONE, END_OF_SCHEME = 0.40, 0.90
PERSONAL_PREFIX = "gmts-gm.1."  # section 1, Developing Personal Qualities


def personal(competency_id: str) -> bool:
    return competency_id.startswith(PERSONAL_PREFIX)


def status(level: int, target: int | None, is_personal: bool = False) -> str | None:
    """Level 0 is "no work done"; below the target, partially; at it, achieved; above it, achieved +.
    Personal qualities: any level > 0 means signed off (achieved). None: the target isn't known."""
    if level <= 0:
        return NOT_ACHIEVED
    if is_personal:
        return ACHIEVED
    if target is None or target <= 0:
        return None
    if level < target:
        return PARTIALLY
    return ACHIEVED if level == target else ACHIEVED_PLUS


@dataclass(frozen=True)
class Summary:
    counts: dict[str, int]  # competencies per status
    unknown: int  # rated, but the target level isn't known
    unrated: int
    total: int

    @property
    def achieved(self) -> int:
        return self.counts.get(ACHIEVED, 0) + self.counts.get(ACHIEVED_PLUS, 0)

    @property
    def share(self) -> float:
        """Achieved (or achieved +) out of every competency in the framework."""
        return self.achieved / self.total if self.total else 0.0


def summarise(items: list[str], levels: Mapping[str, int], targets: Mapping[str, int | None]) -> Summary:
    """``levels``: the level given per competency (absent: not rated); ``targets``: target levels known."""
    counts: dict[str, int] = {}
    unknown = unrated = 0
    for item in items:
        if item not in levels:
            unrated += 1
            continue
        found = status(levels[item], targets.get(item), personal(item))
        if found is None:
            unknown += 1
        else:
            counts[found] = counts.get(found, 0) + 1
    return Summary(counts, unknown, unrated, len(items))
