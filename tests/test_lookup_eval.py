"""The lookup's evaluation set (tests/data/lookup_eval.yaml): top-1 and top-3 over questions as NHS
staff type them, and nothing at all for the off-topic ones. ``python -m tests.test_lookup_eval``
prints the figures and every miss (bench/RESULTS.md records them)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from frameworks.lookup import LookupIndex, default_index

EVAL = Path(__file__).parent / "data" / "lookup_eval.yaml"


@dataclass(frozen=True)
class Case:
    q: str
    asker: str | None
    expect: tuple[str, ...] | None  # None: nothing should be found
    tag: str

    @property
    def chat(self) -> str | None:
        return self.expect[0].removeprefix("chat:") if self.expect and self.expect[0].startswith("chat:") else None


@cache
def cases() -> tuple[Case, ...]:
    raw: list[dict[str, Any]] = yaml.safe_load(EVAL.read_text(encoding="utf-8"))["cases"]
    out = []
    for c in raw:
        e = c["expect"]
        expect = None if e is None else (tuple(e) if isinstance(e, list) else (str(e),))
        out.append(Case(str(c["q"]), c["as"], expect, str(c["tag"])))
    return tuple(out)


def matches(got: str, expected: str) -> bool:
    """An item id also accepts its statement at any stage; an id with a stage must be that stage."""
    return got == expected or ("@" not in expected and got.startswith(expected + "@"))


def rank(index: LookupIndex, case: Case) -> int | None:
    """1-based rank of the first right answer in the top three; 0 when it is right to find nothing
    (or the chat kind is right); None when wrong."""
    if case.chat is not None:
        return 0 if index.chat_kind(case.q) == case.chat else None
    hits = index.search(case.q, prefer=case.asker, limit=3)
    if case.expect is None:
        return 0 if not hits else None
    for i, h in enumerate(hits, 1):
        if any(matches(h.entry.id, e) for e in case.expect):
            return i
    return None


def figures(index: LookupIndex) -> tuple[float, float, list[tuple[Case, list[str]]]]:
    """Top-1 and top-3 shares, and the misses with what came back."""
    top1 = top3 = 0
    misses: list[tuple[Case, list[str]]] = []
    for case in cases():
        r = rank(index, case)
        top1 += r is not None and r <= 1
        top3 += r is not None
        if r is None or r > 1:
            got = [h.entry.id for h in index.search(case.q, prefer=case.asker, limit=3)]
            misses.append((case, got))
    n = len(cases())
    return top1 / n, top3 / n, misses


def test_the_set_is_big_and_mixed() -> None:
    tags = [c.tag for c in cases()]
    assert len(tags) >= 200
    for tag, least in (("role", 30), ("abbreviation", 15), ("typo", 15), ("compare", 8), ("off-topic", 20)):
        assert tags.count(tag) >= least, tag


def test_top_one_and_top_three() -> None:
    top1, top3, misses = figures(default_index())
    report = "\n".join(f"  {c.q!r} ({c.asker}) -> {got}, expected {c.expect}" for c, got in misses)
    assert top1 >= 0.90, f"top-1 {top1:.1%}\n{report}"
    assert top3 >= 0.97, f"top-3 {top3:.1%}\n{report}"


def test_off_topic_finds_nothing() -> None:
    index = default_index()
    wrong = [c.q for c in cases() if c.expect is None and index.search(c.q, prefer=c.asker)]
    assert wrong == []


if __name__ == "__main__":
    one, three, missed = figures(default_index())
    print(f"{len(cases())} questions: top-1 {one:.1%}, top-3 {three:.1%}")
    for c, got in missed:
        print(f"  [{c.tag}] {c.q!r} ({c.asker}) -> {got}, expected {list(c.expect or [])}")
