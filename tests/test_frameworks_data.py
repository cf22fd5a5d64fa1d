"""The framework data: exact counts, validation, and word-for-word fidelity to the sources."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from frameworks.catalogue import Catalogue, load_catalogue
from frameworks.loader import DATA_DIR, FrameworkDataError

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"


def test_counts(catalogue: Catalogue) -> None:
    assert catalogue.counts("mlf2025") == {
        "values": 6,
        "areas": 3,
        "standards": 9,
        "competencies": 27,
        "stage_statements": 135,
    }
    assert catalogue.counts("lf2011") == {"domains": 7, "elements": 28, "descriptors": 112, "stage_indicators": 88}
    assert catalogue.counts("gmts-gm") == {"competencies": 106, "core": 63, "specialist": 43}
    assert catalogue.counts("hlm") == {"dimensions": 9}
    assert catalogue.counts("programmes")["entries"] >= 14


def test_ids_are_stable_and_readable(catalogue: Catalogue) -> None:
    assert catalogue.get("mlf2025.4.2").title == "Support people to feel safe in the workplace"
    assert catalogue.get("lf2011.3.2").title == "Managing resources"
    assert catalogue.get("hlm.5").title == "Sharing the vision"
    core, spec = catalogue.get("gmts-gm.2.4.4"), catalogue.get("gmts-gm.2.4.4-specialist")
    assert core.code == spec.code == "2.4.4" and core.text != spec.text
    assert catalogue.get("gmts-gm.4.4.3").code == catalogue.get("gmts-gm.4.4.3-specialist").code


def test_mlf_is_marked_draft_and_every_competency_has_five_stages(catalogue: Catalogue) -> None:
    assert catalogue.mlf.draft is True
    for comp in catalogue.of_kind("mlf2025", "competency"):
        assert [catalogue.statement(comp.id, s) is not None for s in ("fundamental", "1", "2", "3", "4")] == [True] * 5
    assert [v.title for v in catalogue.mlf.values] == [
        "Accountability",
        "Collaboration",
        "Compassion",
        "Curiosity",
        "Inclusion",
        "Integrity",
    ]


def test_lf_core_and_senior_domains(catalogue: Catalogue) -> None:
    assert [d.core for d in catalogue.lf.domains] == [True] * 5 + [False] * 2
    assert all(len(d.not_yet_demonstrating) >= 4 for d in catalogue.lf.domains)


def test_hlm_order(catalogue: Catalogue) -> None:
    assert [d.title for d in catalogue.hlm.dimensions][:3] == [
        "Inspiring shared purpose",
        "Leading with care",
        "Evaluating information",
    ]


def test_gmts_rules(catalogue: Catalogue) -> None:
    g = catalogue.gmts
    assert (g.thresholds.end_of_year_one, g.thresholds.end_of_scheme) == (0.40, 0.90)
    assert (g.personal_qualities.words, g.personal_qualities.tolerance) == (2000, 0.10)
    assert [s.label for s in g.statuses] == ["Not Achieved", "Partially Achieved", "Achieved", "Achieved +"]
    # Only six target levels survive in the text (as colour markup): see tests/test_content_gmts.py.
    assert sum(c.target_level is not None for c in g.competencies) == 6
    assert catalogue.get("gmts-gm.3.3.2").parent == "lf2011.3.3"
    assert next(c for c in g.competencies if c.code == "3.3.2").hlm == ["hlm.6", "hlm.7"]


def test_programmes_have_eligibility_and_positive_action(catalogue: Catalogue) -> None:
    progs = {p.code: p for p in catalogue.programmes.entries}
    assert progs["stepping-up"].positive_action and progs["ready-now"].positive_action
    assert not progs["mary-seacole"].positive_action
    for name in (
        "edward-jenner",
        "elizabeth-garrett-anderson",
        "local-leadership-academies",
        "coaching-register",
        "faculty-leadership-management",
        "clinical-leaders-network",
        "fmlm",
        "rcn-leadership",
        "kings-fund-courses",
        "lead-elearning",
        "model-for-improvement",
    ):
        assert name in progs


def test_crosswalk_relates_frameworks(catalogue: Catalogue) -> None:
    targets = {link.target for link in catalogue.related("mlf2025.5.3@2")}
    assert {"lf2011.3.4", "lf2011.2.3"} <= targets
    assert "hlm.7" not in targets  # removed: nothing in MLF 5.3 speaks of holding to account


def test_every_file_states_its_source(catalogue: Catalogue) -> None:
    for f in [*catalogue.files, catalogue.crosswalk]:
        assert f.source.publisher and f.source.notice and (f.source.year is None or f.source.year > 1990)


# --- the loader refuses bad files -------------------------------------------------------


def _copy_data(tmp_path: Path) -> Path:
    for p in DATA_DIR.glob("*.yaml"):
        (tmp_path / p.name).write_text(p.read_text(encoding="utf-8"), encoding="utf-8")
    return tmp_path


def test_loader_refuses_a_file_without_notice(tmp_path: Path) -> None:
    folder = _copy_data(tmp_path)
    path = folder / "hlm.yaml"
    path.write_text(re.sub(r"  notice: >-\n(    .*\n)+", "", path.read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(FrameworkDataError, match=r"hlm\.yaml: source\.notice"):
        load_catalogue(folder)


def test_loader_names_file_and_path_of_a_missing_stage(tmp_path: Path) -> None:
    folder = _copy_data(tmp_path)
    path = folder / "mlf2025.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("        '3': >-", "        '9': >-", 1), encoding="utf-8")
    with pytest.raises(
        FrameworkDataError, match=r"mlf2025\.yaml: areas\[0\]\.standards\[0\]\.competencies\[0\]\.stages"
    ):
        load_catalogue(folder)


def test_loader_refuses_a_dangling_reference(tmp_path: Path) -> None:
    folder = _copy_data(tmp_path)
    path = folder / "crosswalk.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("to: hlm.8", "to: hlm.99", 1), encoding="utf-8")
    with pytest.raises(FrameworkDataError, match=r"crosswalk\.yaml: links\[1\]\.to: unknown reference 'hlm\.99'"):
        load_catalogue(folder)


# --- fidelity to the source documents ---------------------------------------------------


def _norm(text: str) -> str:
    text = re.sub(r"<[^>]+>", " ", text)
    text = text.replace("**", "").replace("•", " ").replace("’", "'").replace("‘", "'")
    text = re.sub(r"^#+\s*", "", text, flags=re.M)
    return re.sub(r"\s+", " ", text).strip().lower()


@pytest.fixture(scope="module")
def seeds() -> dict[str, str]:
    if not SEEDS.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"source documents not found at {SEEDS}")
        pytest.skip("shared/seeds not beside the checkout")
    return {p.name[:3]: _norm(p.read_text(encoding="utf-8")) for p in SEEDS.glob("*.txt")}


def _assert_verbatim(texts: list[str], source: str, minimum: int = 30) -> None:
    assert len(texts) >= minimum
    missing = [t for t in texts if _norm(t) not in source]
    assert not missing, f"{len(missing)} not found word for word, e.g. {missing[0]!r}"


def test_mlf_statements_are_verbatim(catalogue: Catalogue, seeds: dict[str, str]) -> None:
    texts = [e.text for e in catalogue.of_kind("mlf2025", "statement")]
    texts += [v.statement for v in catalogue.mlf.values]
    texts += [" ".join(s.definition) for s in catalogue.mlf.stages]
    texts += [p for a in catalogue.mlf.areas for p in a.introduction]
    _assert_verbatim(texts, seeds["002"])


def test_lf_descriptors_and_indicators_are_verbatim(catalogue: Catalogue, seeds: dict[str, str]) -> None:
    texts = [e.text for e in catalogue.of_kind("lf2011", "indicator")]
    texts += [e.text for e in catalogue.of_kind("lf2011", "descriptor")]
    texts += [b for d in catalogue.lf.domains for b in d.not_yet_demonstrating]
    texts += [e.summary for d in catalogue.lf.domains for e in d.elements]
    texts += [" ".join(s.definition) for s in catalogue.lf.stages]
    _assert_verbatim(texts, seeds["000"])


def test_gmts_competencies_are_verbatim(catalogue: Catalogue, seeds: dict[str, str]) -> None:
    # Three rows are split across lines in the extraction and joined in our data: check both halves.
    joined = {"2.4.1": " and its role", "4.2.3": " service changes", "3.4.6": " to ensure sustainability"}
    texts: list[str] = []
    for c in catalogue.gmts.competencies:
        if c.key in joined:
            head, tail = c.text.split(joined[c.key], 1)
            texts += [head, joined[c.key] + tail]
        else:
            texts.append(c.text)
    texts += [lv.description for lv in catalogue.gmts.levels]
    texts += [catalogue.gmts.personal_qualities.rule, catalogue.gmts.thresholds.text]
    _assert_verbatim(texts, seeds["001"])


def test_hlm_and_programme_names_are_in_the_source(catalogue: Catalogue, seeds: dict[str, str]) -> None:
    blueprint = seeds["003"]
    assert all(_norm(d.title) in blueprint for d in catalogue.hlm.dimensions)
    names = [
        "Mary Seacole programme",
        "Edward Jenner Programme",
        "Stepping Up programme",
        "Ready Now Programme",
        "Local Leadership Academies",
        "Faculty for Leadership and Management",
        "NHS Clinical Leaders Network",
        "Faculty of Medical Leadership and Management",
        "Royal College of Nursing (RCN) Leadership Programmes",
        "The King's Fund",
        "LeAD",
        "Coaching and mentoring",
    ]
    # as printed: where the source gives an address without its scheme, the data adds https://
    urls = [p.url.split("://", 1)[1] for p in catalogue.programmes.entries if p.url and p.seed.startswith("003")]
    _assert_verbatim(names + urls + [d.title for d in catalogue.hlm.dimensions] * 2, blueprint, minimum=30)
