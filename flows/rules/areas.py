"""The areas a framework is counted in: MLF standards, LF domains (what "every area covered" counts)."""

from __future__ import annotations

from frameworks.catalogue import Catalogue

UNIT = {"mlf2025": "standard", "lf2011": "domain"}  # what "every standard/domain covered" counts
UNIT_NAMES = {"standard": "standards", "domain": "domains"}


def unit_of(cat: Catalogue, item_id: str) -> str | None:
    """The standard (MLF) or domain (LF) an item belongs to."""
    entry = cat.by_id.get(item_id)
    while entry is not None and entry.kind not in UNIT.values():
        entry = cat.by_id.get(entry.parent) if entry.parent else None
    return entry.id if entry is not None else None


def units(cat: Catalogue, framework: str) -> list[str]:
    return [e.id for e in cat.of_kind(framework, UNIT.get(framework, "standard"))]
