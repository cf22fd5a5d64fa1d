"""What the lookup shows besides catalogue entries: an overview of each framework (its structure,
stages, values) and a programme's facts."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import BaseModel

from frameworks.catalogue import Catalogue, Entry
from frameworks.schema import Programme


def programme_facts(p: Programme) -> list[tuple[str, str]]:
    """Label and value of each fact the data has. Fields are read by name, so a field the data does not
    have yet (or any more) is left out rather than failing."""
    facts: list[tuple[str, str]] = []
    for label, name in (
        ("Who it is for", "audience"),
        ("Eligibility", "eligibility"),
        ("Format", "format"),
        ("Duration", "duration"),
        ("Cost", "cost"),
        ("Link", "url"),
    ):
        value = _plain(getattr(p, name, None))
        if value:
            facts.append((label, value))
        if (
            name == "eligibility"
            and getattr(p, "positive_action", False) is True
            and "positive action" not in (value.lower())
        ):
            facts.append(("Positive action", "yes: a programme for under-represented groups"))
    return facts


def _plain(value: object) -> str:
    """A data value as one line of text, whatever its shape (text, list, mapping or model)."""
    if value is None or value is False:
        return ""
    if value is True:
        return "yes"
    if isinstance(value, BaseModel):
        value = value.model_dump(exclude_none=True)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_plain(v)}" for k, v in value.items() if _plain(v))
    if isinstance(value, list | tuple):
        return "; ".join(p for p in (_plain(v) for v in value) if p)
    return str(value).strip()


def overviews(cat: Catalogue) -> Iterator[tuple[Entry, list[str]]]:
    """One entry per framework (and for the MLF values and each framework's stages) with its parts."""
    mlf, lf, gmts, hlm = cat.mlf, cat.lf, cat.gmts, cat.hlm
    standards = [s for a in mlf.areas for s in a.standards]
    lines = [
        f"{len(mlf.areas)} areas, {len(standards)} standards and "
        f"{sum(len(s.competencies) for s in standards)} competencies, each described at five stages."
    ]
    for a in mlf.areas:
        lines += [f"Area {a.code}: {a.title}", *(f"  {s.code}. {s.title}" for s in a.standards)]
    yield (
        Entry(mlf.id, f"{mlf.id}.overview", "overview", f"{mlf.title}: areas and standards", "\n".join(lines)),
        [f"{mlf.id}.{s.code}" for s in standards],
    )
    text = "The values of the code of practice:\n" + "\n".join(f"• {v.title}: {v.statement}" for v in mlf.values)
    yield (
        Entry(mlf.id, f"{mlf.id}.values", "overview", f"{mlf.title}: values", text),
        [f"{mlf.id}.value.{v.code}" for v in mlf.values],
    )
    for f in (mlf, lf):
        stages = [cat.get(f"{f.id}.stage.{s.key}") for s in f.stages]
        text = "\n".join(f"• {e.title}" for e in stages)
        yield Entry(f.id, f"{f.id}.stages", "overview", f"{f.title}: stages", text), [e.id for e in stages]
    lines = [f"{len(lf.domains)} domains of four elements each. {lf.core_domains_note}"]
    for d in lf.domains:
        lines += [f"{d.code}. {d.title}", *(f"  {el.code} {el.title}" for el in d.elements)]
    yield (
        Entry(lf.id, f"{lf.id}.overview", "overview", f"{lf.title}: domains and elements", "\n".join(lines)),
        [f"{lf.id}.{d.code}" for d in lf.domains],
    )
    counts = cat.counts(gmts.id)
    lines = [
        f"{counts['competencies']} competencies ({counts['core']} core, {counts['specialist']} specialist) "
        f"in {len(gmts.domains)} domains, each rated 1–5 against a target level. {gmts.thresholds.text}",
        *(f"{d.code}. {d.title}" for d in gmts.domains),
    ]
    yield Entry(gmts.id, f"{gmts.id}.overview", "overview", f"{gmts.short_title}: competencies", "\n".join(lines)), []
    text = "The nine dimensions:\n" + "\n".join(f"{d.code}. {d.title}" for d in hlm.dimensions)
    yield (
        Entry(hlm.id, f"{hlm.id}.overview", "overview", f"{hlm.title}: dimensions", text),
        [f"hlm.{d.code}" for d in hlm.dimensions],
    )
    text = "Programmes and resources:\n" + "\n".join(f"• {p.title}" for p in cat.programmes.entries)
    yield Entry(cat.programmes.id, f"{cat.programmes.id}.overview", "overview", cat.programmes.title, text), []
