"""GMTS content against its source: every example activity kept whole and under its own competency,
the target levels the colour markup preserves, the section sub-headings and the personal-qualities
criteria. The seed (a messy table extraction) is parsed here, independently of the data file."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from frameworks.catalogue import Catalogue
from tests.seeds import read_seed

SEED = Path(__file__).resolve().parents[2] / "shared" / "seeds" / "001_acb8cbbf43909fe5.txt"

_CODE_CELL = re.compile(r"^(?:<p>)?\s*([1-7]\.[1-4]\.\d{1,2})(?=\s|<|$)")
_HEADING_CELL = re.compile(r"^(?:<p>)?([1-7]\.[1-4]) ([A-Z][^\t<]*?)\s*(?:</p>)?$")
_TAG = re.compile(r"<[^>]+>")
_TARGET = re.compile(r"#f4a460[^>]*>\s*([1-5])\s*<")
_NOISE = re.compile(r"^[\s1-5|-]*$")  # rating columns ("1 2 3 4 5", "12345") and table rules
_HLM = {
    "inspiring shared purpose",
    "leading with care",
    "evaluating information",
    "connecting our service",
    "connecting to our service",
    "sharing the vision",
    "engaging the team",
    "holding to account",
    "developing capability",
    "influencing for results",
}
# Rows the extraction split put the rest of a competency's *own* text on a line of its own.
_TEXT_CONTINUATIONS = ("and its role and value", "to ensure sustainability", "service changes and the need")


@dataclass
class SeedCompetency:
    key: str
    specialist: bool
    bullets: list[str] = field(default_factory=list)
    target_level: int | None = None


@dataclass
class SeedGmts:
    competencies: dict[str, SeedCompetency]
    headings: list[tuple[str, str, bool]]  # (code, title, in a specialist table)


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", _TAG.sub(" ", text)).strip()


def _is_hlm(cell: str) -> bool:
    words = _clean(cell).lower()
    for name in sorted(_HLM, key=len, reverse=True):
        words = words.replace(name, "")
    return not words.strip()


def _ul_bullets(cell: str) -> list[str]:
    """The items of a ``<ul>`` cell: split at the bullet marks when the extraction kept them."""
    body = _clean(cell.split(">", 1)[1] if cell.startswith("<ul") else cell)
    return [b.strip() for b in body.split("•") if b.strip()]


def parse_seed(text: str) -> SeedGmts:  # noqa: C901 - one pass over the extracted seed, a branch per kind of line
    lines = text.splitlines()
    start = lines.index("Section 1. Personal Qualities")
    comps: dict[str, SeedCompetency] = {}
    headings: list[tuple[str, str, bool]] = []
    current: SeedCompetency | None = None
    specialist = False

    def carry_on(fragment: str) -> None:
        """Text that continues the previous competency's last example."""
        if fragment:
            assert current is not None and current.bullets, fragment
            current.bullets[-1] = f"{current.bullets[-1]} {fragment}"

    for raw in lines[start:]:
        line = raw.strip()
        if not line:
            continue
        if line.startswith(("Core Leadership Domain", "Section ")):
            specialist = False
            continue
        if line.split("\t")[0] == "Specialist":
            specialist = True
            continue
        if line.startswith("- "):
            assert current is not None
            current.bullets.append(_clean(line[2:]))
            continue
        cells = [c.strip() for c in raw.split("\t")]
        for c in cells:
            heading = _HEADING_CELL.match(c)
            if heading:
                headings.append((heading.group(1), heading.group(2).strip(), specialist))
        code_at = next((i for i, c in enumerate(cells) if _CODE_CELL.match(c)), None)
        rest = cells if code_at is None else cells[code_at + 1 :]
        if code_at is not None:
            code = _CODE_CELL.match(cells[code_at]).group(1)  # type: ignore[union-attr]
            key = f"{code}-specialist" if code in comps else code
            target = _TARGET.search(raw)
            new = SeedCompetency(key, specialist, target_level=int(target.group(1)) if target else None)
            comps[key] = new
        else:
            new = None
        for c in rest:
            if not c or _NOISE.match(_clean(c)) or _HEADING_CELL.match(c) or _is_hlm(c):
                continue
            if "<ul" in c:
                before, after = c.split("<ul", 1)
                carry_on(_clean(before))
                current = new or current
                assert current is not None
                current.bullets += _ul_bullets("<ul" + after)
            elif new is None and not _clean(c).startswith(_TEXT_CONTINUATIONS):
                carry_on(_clean(c))
            # else: the competency's own text (after its code), not an example
        current = new or current
    return SeedGmts(comps, headings)


@pytest.fixture(scope="module")
def seed() -> SeedGmts:
    return parse_seed(read_seed(SEED.name))


def _ws(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def test_the_parser_finds_every_competency(catalogue: Catalogue, seed: SeedGmts) -> None:
    assert list(seed.competencies) == [c.key for c in catalogue.gmts.competencies]
    assert [s.specialist for s in seed.competencies.values()] == [
        c.type == "specialist" for c in catalogue.gmts.competencies
    ]


def test_every_example_is_kept_whole_under_its_own_competency(catalogue: Catalogue, seed: SeedGmts) -> None:
    wrong = {
        c.key: ([_ws(e) for e in c.examples], seed.competencies[c.key].bullets)
        for c in catalogue.gmts.competencies
        if [_ws(e) for e in c.examples] != seed.competencies[c.key].bullets
    }
    assert not wrong, (
        f"{len(wrong)} competencies differ from the source: {sorted(wrong)}; first: {next(iter(wrong.items()))}"
    )


@pytest.mark.parametrize(
    ("key", "ending"),
    [
        ("1.3.1", "partner organisations to adopt new approaches to work."),
        ("3.2.5", "build a deeper understanding/ benchmarking in one of these areas."),
        ("3.4.3", "reduction in readmission rates, patient bed days saved."),
        ("3.4.6", "continuously improve the quality of services, relationships and performance."),
        ("4.1.7", "e.g. familiar with inquiry reports."),
        ("5.3.4", "new developments with existing services i.e. operate within financial duties."),
    ],
)
def test_examples_cut_short_by_the_extraction_are_complete(catalogue: Catalogue, key: str, ending: str) -> None:
    comp = next(c for c in catalogue.gmts.competencies if c.key == key)
    assert _ws(comp.examples[-1]).endswith(ending)


def test_example_counts_where_the_source_marks_bullets(catalogue: Catalogue) -> None:
    counts = {c.key: len(c.examples) for c in catalogue.gmts.competencies}
    assert counts["3.3.5"] == 5
    assert counts["3.4.6"] == 3
    assert counts["4.2.3"] == 4
    assert counts["4.4.3-specialist"] == 10
    spilled = next(c for c in catalogue.gmts.competencies if c.key == "5.3.5")
    assert spilled.examples[0].startswith("Understanding how to tackle")


def test_target_levels_from_the_colour_markup(catalogue: Catalogue, seed: SeedGmts) -> None:
    expected = {k: s.target_level for k, s in seed.competencies.items() if s.target_level is not None}
    assert expected == {"6.1.1": 1, "6.1.2": 1, "6.1.3": 1, "7.1.1": 1, "7.2.1": 1, "7.2.2": 2}
    assert {c.key: c.target_level for c in catalogue.gmts.competencies if c.target_level is not None} == expected
    note = catalogue.gmts.target_levels_note
    assert all(code in note for code in expected)


def test_section_headings(catalogue: Catalogue, seed: SeedGmts) -> None:
    ours = {s.code: s for d in catalogue.gmts.domains for s in d.sections}
    for code, title, specialist in seed.headings:
        section = ours[code]
        assert title in ({section.specialist_title or section.title} if specialist else {section.title}), (code, title)
    assert sorted(ours) == sorted({code for code, _, _ in seed.headings})
    assert {c.section for c in catalogue.gmts.competencies} <= set(ours)


def test_personal_qualities_criteria(catalogue: Catalogue) -> None:
    source = SEED.read_text(encoding="utf-8") if SEED.is_file() else None
    criteria = catalogue.gmts.personal_qualities.criteria
    assert [c.heading for c in criteria] == [
        "Knowledge and Understanding",
        "Cognitive Skills – Behaviours, Emotional Intelligence and Values",
        "Practical Skills",
    ]
    assert [len(c.items) for c in criteria] == [4, 6, 4]
    if source is not None:
        row = next(line for line in source.splitlines() if "Sources of knowledge are identified" in line)
        cells = [_ul_bullets(c) for c in row.split("\t")]
        assert [[_ws(i) for i in c.items] for c in criteria] == cells


def test_levels_and_rules_are_entries(catalogue: Catalogue) -> None:
    levels = catalogue.of_kind("gmts-gm", "level")
    assert [e.id for e in levels] == [f"gmts-gm.level.{n}" for n in range(1, 6)]
    assert levels[2].title == "Level 3: Practical application"
    assert "defined responsibility for undertaking" in levels[2].text
    statuses = catalogue.of_kind("gmts-gm", "status")
    assert [e.title for e in statuses] == ["Not Achieved", "Partially Achieved", "Achieved", "Achieved +"]
    rules = {e.id: e for e in catalogue.of_kind("gmts-gm", "rule")}
    piece = rules["gmts-gm.rule.reflective-piece"]
    assert "2,000 word (+/- 10%)" in piece.text and "achieved or not achieved" in piece.text
    assert "Evidence of prioritisation" in rules["gmts-gm.rule.reflective-piece-criteria"].text
    assert "40%" in rules["gmts-gm.rule.thresholds"].text
    sections = catalogue.of_kind("gmts-gm", "section")
    assert catalogue.get("gmts-gm.section.3.2").title == "Managing Resources"
    assert len(sections) == len({s.code for d in catalogue.gmts.domains for s in d.sections})


def test_sign_off_and_notes_are_verbatim(catalogue: Catalogue, seed: SeedGmts) -> None:
    source = _ws(SEED.read_text(encoding="utf-8"))
    pq = catalogue.gmts.personal_qualities
    for text in (pq.text, pq.sign_off, pq.rule, catalogue.gmts.thresholds.text):
        assert _ws(text) in source


def test_typed_competency_and_links_for_every_gmts_entry(catalogue: Catalogue) -> None:
    comp = catalogue.gmts_competency("gmts-gm.7.2.2")
    assert comp is not None and comp.target_level == 2 and comp.section == "7.2"
    assert catalogue.gmts_competency("gmts-gm.level.1") is None
    for e in catalogue.entries:
        if e.framework == "gmts-gm":
            catalogue.related(e.id)  # no error for levels, statuses, rules and sections
