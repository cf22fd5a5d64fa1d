"""The NHS vocabulary file: validated, each entry with its reason, and role stages resting on the
frameworks' own stage definitions (quoted in the reasons, checked against the data here)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from frameworks.catalogue import Catalogue, load_catalogue
from frameworks.loader import DATA_DIR, FrameworkDataError
from frameworks.lookup import LookupIndex


def _norm(text: str) -> str:
    return " ".join(text.replace("’", "'").split()).lower()


def test_every_entry_says_why(catalogue: Catalogue) -> None:
    v = catalogue.vocabulary
    assert v is not None
    whys = [e.why for e in v.roles] + [e.why for e in v.abbreviations] + [e.why for e in v.synonyms]
    whys += [e.why for e in v.generic] + [e.why for e in v.chat.off_topic]
    assert len(whys) > 50 and all(len(why) > 20 for why in whys)


def test_role_stages_quote_the_stage_definitions(catalogue: Catalogue) -> None:
    """Each quoted phrase in the reason of a role with stages is in the frameworks' stage definitions."""
    v = catalogue.vocabulary
    assert v is not None
    stages = [s for f in (catalogue.mlf, catalogue.lf) for s in f.stages]
    definitions = _norm(" ".join(" ".join(s.definition) + " " + s.title for s in stages))
    quoted = 0
    for role in v.roles:
        if not role.stages:
            continue
        for quote in re.findall(r'"([^"]+)"', role.why):
            assert _norm(quote) in definitions, quote
            quoted += 1
    assert quoted >= 8


def test_stage_words_set_the_stage_in_each_framework(index: LookupIndex) -> None:
    q = index.parse("band 7 ward sister conflict")
    assert dict(q.role_stages) == {"mlf2025": "1", "lf2011": "1"} and q.words == ("conflict",)
    assert index.parse("NED governance").stage_in("mlf2025") == "4"
    assert index.parse("stage 2 matron").stage_in("mlf2025") == "2"  # a stage typed out wins
    assert index.parse("head of service planning").stage_in("lf2011") == "3"


def test_abbreviations_are_spelt_out(index: LookupIndex) -> None:
    q = index.parse("PDSA cycles")
    assert {"plan", "study", "act", "cycles"} <= set(q.words) and q.framework == "programmes"
    assert index.search("PDSA cycles")[0].entry.id == "programmes.model-for-improvement"


def test_the_loader_refuses_a_pattern_that_does_not_compile(tmp_path: Path) -> None:
    for p in DATA_DIR.glob("*.yaml"):
        (tmp_path / p.name).write_text(p.read_text(encoding="utf-8"), encoding="utf-8")
    path = tmp_path / "vocabulary.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("  - pattern: '", "  - pattern: '(", 1), encoding="utf-8")
    with pytest.raises(FrameworkDataError, match=r"vocabulary\.yaml: chat\.off_topic\[0\]\.pattern"):
        load_catalogue(tmp_path)
