"""All framework content as one catalogue of typed objects and flat, searchable entries."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TypeVar

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
class Entry:
    """One quotable piece of framework content."""

    framework: str
    id: str
    kind: str
    title: str
    text: str
    code: str | None = None
    stage: str | None = None
    parent: str | None = None
    context: str = ""  # extra words the lookup may match (e.g. the competency's statements)
    key: str | None = None  # a stable key that survives renumbering (MLF: ``mlf2025:<title-slug>``)


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


def _mlf_entries(f: MlfFile) -> Iterator[Entry]:
    fw = f.id
    yield Entry(fw, f"{fw}.vision", "about", "Vision statement", f.vision)
    yield Entry(fw, f"{fw}.mission", "about", "Mission statement", f.mission)
    yield Entry(
        fw,
        f"{fw}.adoption",
        "about",
        "When and how the framework will be adopted",
        "\n\n".join(f.adoption.statements),
        context="timeline finalised self-assessment 360 feedback appraisal free online learning",
    )
    for st in f.stages:
        yield Entry(
            fw,
            f"{fw}.stage.{st.key}",
            "stage",
            f"{st.label}: {st.title}" if st.key != "fundamental" else st.title,
            " ".join(st.definition),
            stage=st.key,
        )
    for v in f.values:
        yield Entry(fw, f"{fw}.value.{v.code}", "value", v.title, f"{f.value_stem} {v.statement}")
    for area in f.areas:
        area_id = f"{fw}.area.{area.code}"
        yield Entry(
            fw,
            area_id,
            "area",
            area.title,
            " ".join(area.introduction),
            code=f"area {area.code}",
            key=f"{fw}:{area.key}",
        )
        for std in area.standards:
            std_id = f"{fw}.{std.code}"
            titles = "; ".join(c.title for c in std.competencies)
            yield Entry(fw, std_id, "standard", std.title, titles, code=std.code, parent=area_id, key=f"{fw}:{std.key}")
            for comp in std.competencies:
                comp_id = f"{fw}.{comp.code}"
                comp_key = f"{fw}:{comp.key}"
                statements = " ".join(t for _, t in comp.stages.items())
                yield Entry(
                    fw,
                    comp_id,
                    "competency",
                    comp.title,
                    comp.stages.fundamental,
                    code=comp.code,
                    parent=std_id,
                    context=f"{std.title} {statements}",
                    key=comp_key,
                )
                for key, text in comp.stages.items():
                    yield Entry(
                        fw,
                        f"{comp_id}@{key}",
                        "statement",
                        comp.title,
                        text,
                        code=comp.code,
                        stage=key,
                        parent=comp_id,
                        context=std.title,
                        key=f"{comp_key}@{key}",
                    )


def _lf_entries(f: LfFile) -> Iterator[Entry]:
    fw = f.id
    for st in f.stages:
        yield Entry(
            fw, f"{fw}.stage.{st.key}", "stage", f"{st.label}: {st.title}", " ".join(st.definition), stage=st.key
        )
    yield Entry(fw, f"{fw}.core-domains", "about", "The five core domains", f.core_domains_note)
    for df in f.definitions:
        yield Entry(
            fw,
            f"{fw}.definition.{df.term}",
            "definition",
            f"The word ‘{df.term}’",
            df.text,
            context="definition meaning",
        )
    for d in f.domains:
        dom_id = f"{fw}.{d.code}"
        yield Entry(fw, dom_id, "domain", d.title, d.full_text, code=d.code)
        yield Entry(
            fw,
            f"{dom_id}.not-yet",
            "not_yet",
            f"{d.title}: not yet demonstrating",
            "; ".join(d.not_yet_demonstrating),
            code=d.code,
            parent=dom_id,
        )
        for el in d.elements:
            el_id = f"{fw}.{el.code}"
            yield Entry(
                fw,
                el_id,
                "element",
                el.title,
                el.summary,
                code=el.code,
                parent=dom_id,
                context=f"{d.title} " + " ".join(el.descriptors),
            )
            for n, desc in enumerate(el.descriptors, 1):
                yield Entry(fw, f"{el_id}.d{n}", "descriptor", el.title, desc, code=f"{el.code}.{n}", parent=el_id)
            for stage, text in el.indicators.items():
                yield Entry(
                    fw,
                    f"{el_id}@{stage}",
                    "indicator",
                    el.title,
                    text,
                    code=el.code,
                    stage=stage,
                    parent=el_id,
                    context=d.title,
                )


def _gmts_entries(f: GmtsFile) -> Iterator[Entry]:
    fw = f.id
    for lv in f.levels:
        yield Entry(fw, f"{fw}.level.{lv.level}", "level", f"Level {lv.level}: {lv.label}", lv.description)
    for st in f.statuses:
        yield Entry(fw, f"{fw}.status.{st.key.replace('_', '-')}", "status", st.label, f"{st.label}: {st.description}")
    pq = f.personal_qualities
    yield Entry(
        fw,
        f"{fw}.rule.reflective-piece",
        "rule",
        "Personal qualities: the reflective piece",
        "\n\n".join([pq.text, pq.sign_off, pq.rule]),
        context="personal qualities reflective piece 2000 words achieved not achieved sign off",
    )
    yield Entry(
        fw,
        f"{fw}.rule.reflective-piece-criteria",
        "rule",
        "Personal qualities: criteria for the reflective piece",
        "\n\n".join(f"{c.heading}\n" + "\n".join(f"• {i}" for i in c.items) for c in pq.criteria),
        context="personal qualities reflective piece evidence criteria",
    )
    yield Entry(
        fw,
        f"{fw}.rule.thresholds",
        "rule",
        "How many competencies to achieve",
        f.thresholds.text,
        context="percentage achieved graduate graduation end of year one scheme",
    )
    domains = {d.code: d.title for d in f.domains}
    sections = {s.code: s.title for d in f.domains for s in d.sections}
    for d in f.domains:
        for s in d.sections:
            comps = [c for c in f.competencies if c.section == s.code]
            titles = [s.title] + ([s.specialist_title] if s.specialist_title else [])
            yield Entry(
                fw,
                f"{fw}.section.{s.code}",
                "section",
                s.title,
                "; ".join(f"{c.code} {c.text}" for c in comps),
                code=s.code,
                context=" ".join([d.title, *titles]),
            )
    for c in f.competencies:
        yield Entry(
            f.id,
            f"{f.id}.{c.key}",
            "competency",
            c.text,
            c.text,
            code=c.code,
            parent=c.lf_element,
            context=f"{domains[c.code[0]]} {sections[c.section]} {c.type} " + " ".join(c.examples),
        )


def _guidance_entries(f: GuidanceFile) -> Iterator[Entry]:
    """Each point in our words, then our suggestion, then the source it comes from."""
    dated = f", {f.source.year}" if f.source.year else ""
    source = f"Source: {f.source.document.split(':', 1)[0].strip()} ({f.source.publisher}{dated})."
    for g in f.entries:
        parts = [g.text, f"LeadCoach suggests: {g.tip}" if g.tip else "", source]
        yield Entry(
            f.id,
            f"{f.id}.{g.code}",
            "guidance",
            g.title,
            "\n\n".join(p for p in parts if p),
            context=" ".join([*g.keywords, *(s.label for s in g.mix)]),
        )


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
    entries: list[Entry] = [*_mlf_entries(cat.mlf), *_lf_entries(cat.lf), *_gmts_entries(cat.gmts)]
    entries += [Entry("hlm", f"hlm.{d.code}", "dimension", d.title, d.title, code=d.code) for d in cat.hlm.dimensions]
    entries += [
        Entry(
            "programmes",
            f"programmes.{p.code}",
            "programme",
            p.title,
            p.description,
            context=" ".join(
                [p.provider, p.audience, p.eligibility or "", p.kind, p.cost or "", p.format or "", *p.courses]
            ),
        )
        for p in cat.programmes.entries
    ]
    entries += list(_guidance_entries(cat.guidance))
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
