"""Questions that compare: two stages of one item side by side ("difference between stage 1 and
stage 2 on conflict"), or the same topic in two frameworks ("the 2011 framework vs the new MLF on
patient safety"), found through the crosswalk where it links them.
"""

from __future__ import annotations

from dataclasses import dataclass

from frameworks.catalogue import Catalogue, Entry
from frameworks.lookup import LookupIndex

_STAGED = ("competency", "element", "statement", "indicator")
_COMPARABLE = ("mlf2025", "lf2011", "gmts-gm", "hlm")


@dataclass(frozen=True)
class Side:
    label: str  # the stage, or the framework, this side shows
    framework: str  # the framework's short title, always said
    entry: Entry


@dataclass(frozen=True)
class Comparison:
    title: str
    sides: tuple[Side, ...]
    linked: bool = False  # frameworks compared through a crosswalk link (else each side's own best match)
    rationale: str = ""  # the crosswalk's reason for the link


def compare(index: LookupIndex, question: str, prefer: str | None = None) -> Comparison | None:
    """Two stages or two frameworks side by side, if the question compares and both sides are found."""
    q = index.parse(question)
    if not q.compare or index.chat_kind(question) is not None:
        return None
    stages = tuple(dict.fromkeys(q.stages))
    if len(stages) >= 2:
        return _stages(index, question, stages, prefer)
    frameworks = tuple(dict.fromkeys(f for f in q.frameworks if f in _COMPARABLE))
    if len(frameworks) >= 2:
        return _frameworks(index, question, frameworks[:2])
    return None


def _item(cat: Catalogue, entry: Entry) -> Entry:
    """The whole item a statement or indicator belongs to."""
    return cat.by_id.get(entry.id.split("@", 1)[0], entry)


def _stage_label(cat: Catalogue, framework: str, stage: str) -> str:
    entry = cat.stage_entry(framework, stage)
    return entry.title if entry is not None else f"Stage {stage}"


def _stages(index: LookupIndex, question: str, stages: tuple[str, ...], prefer: str | None) -> Comparison | None:
    cat = index.catalogue
    for hit in index.search(question, prefer=prefer, limit=5):
        if hit.entry.kind not in _STAGED:
            continue
        item = _item(cat, hit.entry)
        found = [(s, cat.statement(item.id, s)) for s in stages[:2]]
        sides = tuple(
            Side(_stage_label(cat, item.framework, s), cat.framework(item.framework).short_title, e)
            for s, e in found
            if e is not None
        )
        if len(sides) == 2:
            return Comparison(f"{item.code} {item.title}".strip(), sides)
    return None


def _frameworks(index: LookupIndex, question: str, frameworks: tuple[str, ...]) -> Comparison | None:
    cat = index.catalogue
    first = index.search(question, framework=frameworks[0], limit=1)
    if not first:
        return None
    a = _item(cat, first[0].entry)
    link = next((lk for lk in cat.related(a.id) if lk.target.startswith(frameworks[1] + ".")), None)
    if link is not None:
        b, rationale = cat.get(link.target), link.rationale
    else:
        second = index.search(question, framework=frameworks[1], limit=1)
        if not second:
            return None
        b, rationale = _item(cat, second[0].entry), ""
    sides = tuple(Side(cat.framework(e.framework).title, cat.framework(e.framework).short_title, e) for e in (a, b))
    return Comparison(a.title, sides, linked=link is not None, rationale=rationale)
