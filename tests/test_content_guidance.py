"""Guidance from Developing People – Improving Care: our words, the source named, its words checked."""

from __future__ import annotations

import pytest

from frameworks.catalogue import Catalogue
from frameworks.lookup import LookupIndex
from tests.seeds import read_seed
from tests.test_frameworks_data import _norm


@pytest.fixture(scope="module")
def developing_people() -> str:
    return _norm(read_seed("004_87d940e826e74414.txt"))


def test_three_guidance_entries_naming_their_source(catalogue: Catalogue) -> None:
    entries = catalogue.of_kind("guidance", "guidance")
    codes = ["70-20-10", "time-to-reflect", "appraisal-conversations"]
    assert [e.id for e in entries] == [f"guidance.{c}" for c in codes]
    for e in entries:
        assert e.text.endswith(
            "Source: Developing People – Improving Care (National Improvement and Leadership Development Board)."
        )
    assert catalogue.framework("guidance").short_title == "Guidance"
    assert catalogue.counts("guidance") == {"entries": 3}


def test_quotes_are_the_sources_words_and_the_text_is_ours(catalogue: Catalogue, developing_people: str) -> None:
    for g in catalogue.guidance.entries:
        for quote in g.source.quotes:
            assert _norm(quote) in developing_people, (g.code, quote)
        # our wording, not a copy: no sentence of ours is lifted whole from the source
        for sentence in g.text.split(". "):
            assert _norm(sentence.rstrip(".")) not in developing_people, (g.code, sentence)


def test_seventy_twenty_ten_mix(catalogue: Catalogue) -> None:
    g = next(g for g in catalogue.guidance.entries if g.code == "70-20-10")
    assert [s.share for s in g.mix] == [70, 20, 10]
    assert "programmes.coaching-register" in g.mix[1].related
    assert all(ref in catalogue.by_id for s in g.mix for ref in s.related)


def test_guidance_can_be_looked_up(index: LookupIndex) -> None:
    def top(query: str) -> list[str]:
        return [h.entry.id for h in index.search(query, limit=3)]

    assert "guidance.time-to-reflect" in top("time to reflect")
    assert "guidance.appraisal-conversations" in top("appraisal conversations")
    assert any(h.entry.id == "guidance.70-20-10" for h in index.search("mentors coaches courses", limit=10))
