"""All framework content as one catalogue of typed objects and flat, searchable entries."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TypeVar

from frameworks.entries import Entry as Entry  # (where most code imports it from)
from frameworks.entries import flatten
from frameworks.loader import FrameworkDataError, load_files
from frameworks.schema import (
    CrosswalkFile,
    FileHeader,
    GmtsCompetency,
    GmtsFile,
    GuidanceFile,
    HlmFile,
    LfFile,
    MlfFile,
    ProgrammesFile,
)
from frameworks.vocabulary import VocabularyFile

_F = TypeVar("_F", bound=FileHeader)
DEFAULT_FRAMEWORK = "mlf2025"
STAGE_KEYS = ("fundamental", "1", "2", "3", "4")


@dataclass(frozen=True, slots=True)
class Link:
    target: str
    rationale: str


@dataclass
class Catalogue:
    mlf: MlfFile
    lf: LfFile
    gmts: GmtsFile
    hlm: HlmFile
    programmes: ProgrammesFile
    crosswalk: CrosswalkFile
    guidance: GuidanceFile
    vocabulary: VocabularyFile | None = None  # how NHS staff talk (for the lookup)
    entries: list[Entry] = field(default_factory=list)
    by_id: dict[str, Entry] = field(default_factory=dict)
    by_key: dict[str, Entry] = field(default_factory=dict)
    _links: dict[str, list[Link]] = field(default_factory=dict)
    _by_kind: dict[tuple[str, str], list[Entry]] = field(default_factory=dict)
    _gmts_by_id: dict[str, GmtsCompetency] = field(default_factory=dict)

    @property
    def files(self) -> list[FileHeader]:
        return [self.mlf, self.lf, self.gmts, self.hlm, self.programmes, self.guidance]

    def get(self, entry_id: str) -> Entry:
        try:
            return self.by_id[entry_id]
        except KeyError:
            raise KeyError(f"no framework item {entry_id!r}") from None

    def resolve(self, ref: str | None, fallback: str | None = None) -> Entry | None:
        """An item by its stable key (what is stored), else by its id (items without a key; old rows)."""
        return self.by_key.get(ref or "") or self.by_id.get(ref or "") or self.by_id.get(fallback or "")

    @staticmethod
    def ref(entry: Entry) -> str:
        """What to store for an item: its stable key if it has one, else its id."""
        return entry.key or entry.id

    def framework(self, framework_id: str) -> FileHeader:
        for f in [*self.files, self.crosswalk]:
            if f.id == framework_id:
                return f
        raise KeyError(f"no framework {framework_id!r}")

    def of_kind(self, framework: str, kind: str) -> list[Entry]:
        return list(self._by_kind.get((framework, kind), []))

    def stage_entry(self, framework: str, stage: str) -> Entry | None:
        return self.by_id.get(f"{framework}.stage.{stage}")

    def statement(self, item_id: str, stage: str) -> Entry | None:
        """The MLF statement or LF indicator of an item at a stage."""
        return self.by_id.get(f"{item_id}@{stage}")

    def counts(self, framework_id: str) -> dict[str, int]:
        def n(kind: str) -> int:
            return len(self.of_kind(framework_id, kind))

        if framework_id == "mlf2025":
            return {
                "values": n("value"),
                "areas": n("area"),
                "standards": n("standard"),
                "competencies": n("competency"),
                "stage_statements": n("statement"),
            }
        if framework_id == "lf2011":
            return {
                "domains": n("domain"),
                "elements": n("element"),
                "descriptors": n("descriptor"),
                "stage_indicators": n("indicator"),
            }
        if framework_id == "gmts-gm":
            comps = self.gmts.competencies
            return {
                "competencies": len(comps),
                "core": sum(c.type == "core" for c in comps),
                "specialist": sum(c.type == "specialist" for c in comps),
            }
        if framework_id == "hlm":
            return {"dimensions": n("dimension")}
        if framework_id == "programmes":
            return {"entries": n("programme")}
        if framework_id == "guidance":
            return {"entries": n("guidance")}
        raise KeyError(f"no framework {framework_id!r}")

    def gmts_competency(self, item_id: str) -> GmtsCompetency | None:
        """The typed GMTS competency behind an id such as ``gmts-gm.4.4.3-specialist`` (target level,
        examples, section...), or None if the id is not a GMTS competency."""
        return self._gmts_by_id.get(item_id)

    def related(self, item_id: str) -> list[Link]:
        """Crosswalk links of an item (or of its standard/domain), so evidence counts twice."""
        seen: set[str] = set()
        out: list[Link] = []
        for key in _crosswalk_keys(self, item_id):
            for link in self._links.get(key, []):
                if link.target not in seen and link.target != item_id:
                    seen.add(link.target)
                    out.append(link)
        return out


def _crosswalk_keys(cat: Catalogue, item_id: str) -> list[str]:
    base = item_id.split("@", 1)[0]
    fw, _, code = base.partition(".")
    keys = [base]
    if fw in ("mlf2025", "lf2011") and code and code[0].isdigit():
        keys.append(f"{fw}.{code.split('.')[0]}")
    comp = cat.gmts_competency(base) if fw == "gmts-gm" else None
    if comp is not None:
        keys += [comp.lf_element, comp.lf_element.rsplit(".", 1)[0], *comp.hlm]
    return keys


def _one(by_kind: dict[str, FileHeader], kind: str, model: type[_F]) -> _F:
    found = by_kind.get(kind)
    if not isinstance(found, model):
        raise FrameworkDataError(f"data: no file of kind {kind!r}")
    return found


def build(files: Iterable[FileHeader]) -> Catalogue:
    by_kind: dict[str, FileHeader] = {}
    for f in files:
        if f.kind in by_kind:
            raise FrameworkDataError(f"{f.id}: kind {f.kind!r} is defined twice")
        by_kind[f.kind] = f
    cat = Catalogue(
        mlf=_one(by_kind, "mlf", MlfFile),
        lf=_one(by_kind, "lf", LfFile),
        gmts=_one(by_kind, "gmts", GmtsFile),
        hlm=_one(by_kind, "hlm", HlmFile),
        programmes=_one(by_kind, "programmes", ProgrammesFile),
        crosswalk=_one(by_kind, "crosswalk", CrosswalkFile),
        guidance=_one(by_kind, "guidance", GuidanceFile),
        vocabulary=_one(by_kind, "vocabulary", VocabularyFile) if "vocabulary" in by_kind else None,
    )
    cat._gmts_by_id = {f"{cat.gmts.id}.{c.key}": c for c in cat.gmts.competencies}
    entries = flatten(cat.mlf, cat.lf, cat.gmts, cat.hlm, cat.programmes, cat.guidance)
    for e in entries:
        if e.id in cat.by_id:
            raise FrameworkDataError(f"{e.framework}: duplicate id {e.id!r}")
        cat.by_id[e.id] = e
        if e.key is not None:
            if e.key in cat.by_key:
                raise FrameworkDataError(f"{e.framework}: duplicate key {e.key!r} ({cat.by_key[e.key].id}, {e.id})")
            cat.by_key[e.key] = e
        cat._by_kind.setdefault((e.framework, e.kind), []).append(e)
    cat.entries = entries
    _check_references(cat)
    for link in cat.crosswalk.links:
        cat._links.setdefault(link.from_, []).append(Link(link.to, link.rationale))
        cat._links.setdefault(link.to, []).append(Link(link.from_, link.rationale))
    return cat


def _check_references(cat: Catalogue) -> None:  # noqa: C901 - one flat check per kind of reference, read top to bottom
    def need(ref: str, where: str) -> None:
        if ref not in cat.by_id:
            raise FrameworkDataError(f"{where}: unknown reference {ref!r}")

    for i, c in enumerate(cat.gmts.competencies):
        need(c.lf_element, f"gmts-gm.yaml: competencies[{i}].lf_element")
        for j, h in enumerate(c.hlm):
            need(h, f"gmts-gm.yaml: competencies[{i}].hlm[{j}]")
    for i, p in enumerate(cat.programmes.entries):
        for j, ref in enumerate(p.develops):
            need(ref, f"programmes.yaml: entries[{i}].develops[{j}]")
    for i, g in enumerate(cat.guidance.entries):
        for j, ref in enumerate(g.related):
            need(ref, f"guidance.yaml: entries[{i}].related[{j}]")
        for j, share in enumerate(g.mix):
            for k, ref in enumerate(share.related):
                need(ref, f"guidance.yaml: entries[{i}].mix[{j}].related[{k}]")
    for i, link in enumerate(cat.crosswalk.links):
        need(link.from_, f"crosswalk.yaml: links[{i}].from")
        need(link.to, f"crosswalk.yaml: links[{i}].to")
    for d in cat.lf.domains:
        expected = {"1", "2", "3", "4"} if d.core else {"4"}
        for el in d.elements:
            if set(el.indicators) != expected:
                raise FrameworkDataError(
                    f"lf2011.yaml: element {el.code}.indicators: expected stages {sorted(expected)}"
                )


def load_catalogue(data_dir: Path | None = None) -> Catalogue:
    """Load and validate every data file (uncached: use :func:`default_catalogue` to share one)."""
    return build(f for _, f in load_files(data_dir))


@cache
def default_catalogue() -> Catalogue:
    """The packaged content, loaded once per process."""
    return load_catalogue()
