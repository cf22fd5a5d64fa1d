"""Each source file's content as flat, quotable entries: what the lookup searches and flows quote."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from frameworks.schema import GmtsFile, GuidanceFile, HlmFile, LfFile, MlfFile, ProgrammesFile


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


def flatten(
    mlf: MlfFile, lf: LfFile, gmts: GmtsFile, hlm: HlmFile, programmes: ProgrammesFile, guidance: GuidanceFile
) -> list[Entry]:
    """Every entry of the frameworks, in the catalogue's order."""
    entries: list[Entry] = [*_mlf_entries(mlf), *_lf_entries(lf), *_gmts_entries(gmts)]
    entries += [Entry("hlm", f"hlm.{d.code}", "dimension", d.title, d.title, code=d.code) for d in hlm.dimensions]
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
        for p in programmes.entries
    ]
    entries += list(_guidance_entries(guidance))
    return entries


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
