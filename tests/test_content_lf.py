"""LF 2011 content: each domain's text includes the list it introduces, the core-domains note is a
whole sentence, and the definitions of 'patient' and 'other' are kept."""

from __future__ import annotations

import re

import pytest

from frameworks.catalogue import Catalogue
from tests.seeds import read_seed
from tests.test_frameworks_data import _norm


@pytest.fixture(scope="module")
def summary() -> str:
    return read_seed("000_e5785cc625d81daf.txt")


def test_domain_text_lists_what_it_introduces(catalogue: Catalogue, summary: str) -> None:
    source = _norm(re.sub(r"^- ", "", summary, flags=re.M))  # without the list marks
    for d in catalogue.lf.domains:
        entry = catalogue.get(f"lf2011.{d.code}")
        assert entry.text.rstrip().endswith(d.elements[-1].summary)
        lines = entry.text.split("\n")
        assert lines[0] == d.introduction and lines[0].endswith("in:")
        assert lines[1:] == [f"• {el.summary}" for el in d.elements]
        # the introduction and its list follow each other in the source
        assert _norm(entry.text) in source


def test_domain_lists_are_the_source_bullets(catalogue: Catalogue, summary: str) -> None:
    bullets = [_norm(m) for m in re.findall(r"^- (\*\*.+)$", summary, flags=re.M)]
    ours = [_norm(el.summary) for d in catalogue.lf.domains for el in d.elements]
    assert ours == bullets


def test_core_domains_note_is_a_whole_sentence(catalogue: Catalogue, summary: str) -> None:
    note = catalogue.lf.core_domains_note
    assert note.startswith("To improve the quality and safety of health and care services")
    assert _norm(note) in _norm(summary)
    assert catalogue.get("lf2011.core-domains").text == note


def test_definitions_of_patient_and_other(catalogue: Catalogue, summary: str) -> None:
    defs = {d.term: d.text for d in catalogue.lf.definitions}
    assert set(defs) == {"patient", "other"}
    assert "patients, service users, and all those who receive healthcare" in defs["patient"]
    assert "all colleagues from any discipline and organisation" in defs["other"]
    for text in defs.values():
        assert _norm(text) in _norm(summary)
    entry = catalogue.get("lf2011.definition.patient")
    assert entry.kind == "definition" and entry.text == defs["patient"]
