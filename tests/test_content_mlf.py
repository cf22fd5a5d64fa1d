"""MLF content: stable keys beside our code-based ids, the value statements' stem, the vision,
mission and adoption facts from the draft, and the note that the numbering is ours."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from frameworks.catalogue import Catalogue, load_catalogue
from frameworks.loader import DATA_DIR, FrameworkDataError
from tests.seeds import read_seed
from tests.test_frameworks_data import _norm


@pytest.fixture(scope="module")
def draft() -> str:
    return _norm(read_seed("002_0006bb3a2d29f9ef.txt"))


def test_every_area_standard_and_competency_has_a_stable_key(catalogue: Catalogue) -> None:
    items = [e for kind in ("area", "standard", "competency") for e in catalogue.of_kind("mlf2025", kind)]
    assert len(items) == 3 + 9 + 27
    keys = [e.key for e in items]
    assert all(k is not None and re.fullmatch(r"mlf2025:[a-z0-9]+(-[a-z0-9]+)*", k) for k in keys)
    assert len(set(keys)) == len(keys)
    for e in items:
        assert e.key is not None and catalogue.by_key[e.key] is e


def test_keys_are_slugs_of_titles_and_ids_keep_our_codes(catalogue: Catalogue) -> None:
    comp = catalogue.by_key["mlf2025:manage-conflict-and-sensitive-conversations"]
    assert comp.id == "mlf2025.5.3" and comp.code == "5.3"
    assert catalogue.get("mlf2025.5").key == "mlf2025:improving-performance-and-operational-delivery"
    assert catalogue.get("mlf2025.area.1").key == "mlf2025:self-effectiveness"
    statement = catalogue.statement("mlf2025.5.3", "2")
    assert statement is not None and statement.key == "mlf2025:manage-conflict-and-sensitive-conversations@2"
    # other frameworks keep their code-based ids only
    assert catalogue.get("lf2011.3.2").key is None


def test_loader_refuses_a_duplicate_key(tmp_path: Path) -> None:
    for p in DATA_DIR.glob("*.yaml"):
        (tmp_path / p.name).write_text(p.read_text(encoding="utf-8"), encoding="utf-8")
    path = tmp_path / "mlf2025.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace("key: keep-safe-and-develop-wellbeing-strategies", "key: prioritise-for-productivity"),
        encoding="utf-8",
    )
    with pytest.raises(FrameworkDataError, match=r"duplicate key 'mlf2025:prioritise-for-productivity'"):
        load_catalogue(tmp_path)


def test_value_statements_keep_their_stem(catalogue: Catalogue, draft: str) -> None:
    stem = catalogue.mlf.value_stem
    assert stem == "Managers and leaders must:"
    assert draft.count(_norm(stem)) == len(catalogue.mlf.values) == 6
    for v in catalogue.of_kind("mlf2025", "value"):
        assert v.text.startswith("Managers and leaders must: ")
        assert _norm(v.text) in draft  # the stem and the statement, in that order


def test_vision_mission_and_adoption_are_verbatim(catalogue: Catalogue, draft: str) -> None:
    m = catalogue.mlf
    for text in (m.vision, m.mission, *m.adoption.statements):
        assert _norm(text) in draft
    assert catalogue.get("mlf2025.vision").text == m.vision
    assert catalogue.get("mlf2025.mission").text == m.mission
    adoption = catalogue.get("mlf2025.adoption")
    assert adoption.kind == "about"
    assert m.adoption.final_by == "September 2025" and "finalised by September 2025" in adoption.text
    assert m.adoption.self_assessment_from == "early 2026"
    assert "from early 2026, in time for the next appraisal round" in adoption.text
    assert "360 feedback tool" in adoption.text
    assert "free, self-directed online learning" in adoption.text


def test_numbering_note_says_the_codes_are_ours(catalogue: Catalogue, draft: str) -> None:
    note = catalogue.mlf.numbering_note
    assert "LeadCoach" in note and "1.1–9.3" in note and "does not number" in note
    # indeed the draft numbers none of its competencies
    titles = [c.title for a in catalogue.mlf.areas for s in a.standards for c in s.competencies]
    assert not any(re.search(rf"\d\.\d\s+{re.escape(_norm(t))}", draft) for t in titles)
