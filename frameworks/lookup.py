"""Typo-tolerant lookup over the catalogue: framework, stage and code hints plus topic words.

The index maps word stems to entries (title words weigh more than body words); each query
word is matched exactly, or to its nearest vocabulary words with rapidfuzz, so "managment"
and "conflcit" still find their targets.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from frameworks.catalogue import DEFAULT_FRAMEWORK, Catalogue, Entry

_WORD = re.compile(r"[a-z0-9]+")
_CODE = re.compile(r"(?<![\d.])([1-9])\.([1-9])(?:\.(\d{1,2}))?(?![\d.])")
_STOP = frozenset(
    [
        "a",
        "about",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "can",
        "could",
        "do",
        "does",
        "doing",
        "for",
        "from",
        "give",
        "how",
        "i",
        "in",
        "is",
        "it",
        "its",
        "like",
        "look",
        "looks",
        "me",
        "mean",
        "means",
        "my",
        "of",
        "on",
        "or",
        "please",
        "say",
        "says",
        "show",
        "tell",
        "that",
        "the",
        "their",
        "them",
        "this",
        "to",
        "what",
        "whats",
        "when",
        "where",
        "which",
        "who",
        "with",
        "would",
        "you",
        "your",
        "level",
        "stage",
        "stages",
        "framework",
        "new",
        "old",
        "draft",
        "model",
    ]
)
_NUMBER_WORDS = {
    "one": "1",
    "two": "2",
    "to": "2",
    "too": "2",
    "three": "3",
    "four": "4",
    "for": "4",
    "1": "1",
    "2": "2",
    "3": "3",
    "4": "4",
    "fundamental": "fundamental",
    "0": "fundamental",
    "zero": "fundamental",
}
_STAGE_PHRASES: list[tuple[re.Pattern[str], str, str | None]] = [
    # (pattern, stage, framework it implies or None)
    (re.compile(r"\bfundamentals?\b|\bfundemental\b|\bfundamentl\b"), "fundamental", "mlf2025"),
    (re.compile(r"\bfirst[ -]?line\b|\bnew (?:and first[ -]line )?managers?\b"), "1", "mlf2025"),
    (re.compile(r"\bmid[ -]?level\b|\bmiddle manag\w*"), "2", "mlf2025"),
    (re.compile(r"\bexecutives?\b|\bboard members?\b"), "4", "mlf2025"),
    (re.compile(r"\bsenior managers?\b|\bsenior leaders?\b|\bsenior\b"), "3", "mlf2025"),
    (re.compile(r"\bown practice\b|\bimmediate team\b"), "1", "lf2011"),
    (re.compile(r"\bwhole service\b|\bacross teams\b"), "2", "lf2011"),
    (re.compile(r"\bacross services\b|\bwider organi[sz]ation\b"), "3", "lf2011"),
    (re.compile(r"\bwhole organi[sz]ation\b|\b(?:wider )?healthcare system\b"), "4", "lf2011"),
]
_FRAMEWORK_HINTS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\bgmts\b|\bgraduate\b|\btrainees?\b|\bgrad scheme\b"), "gmts-gm"),
    (re.compile(r"\bhlm\b|\bhealthcare leadership model\b|\bdimensions?\b"), "hlm"),
    (re.compile(r"\blf\b|\b2011\b|\bold framework\b|\bleadership framework\b|\bdomains?\b"), "lf2011"),
    (
        re.compile(r"\bmlf\b|\b2025\b|\bnew framework\b|\bdraft framework\b|\bmanagement (?:and|&) leadership\b"),
        "mlf2025",
    ),
    (re.compile(r"\bprogrammes?\b|\bprograms?\b|\bcourses?\b|\btraining\b|\bmentor\w*|\bcoach\w*"), "programmes"),
]
_SYNONYMS = {
    "budget": ("budget", "financial", "money", "finance", "resources"),
    "budgets": ("budget", "financial", "money", "finance", "resources"),
    "money": ("money", "financial", "budget"),
    "finance": ("financial", "budget", "money"),
    "finances": ("financial", "budget", "money"),
    "cpd": ("continuing", "professional", "development"),
    "wellbeing": ("wellbeing", "well"),
    "stress": ("wellbeing", "stress"),
    "safety": ("safety", "safe"),
    "argument": ("conflict",),
    "disagreement": ("conflict",),
}
_KIND_WEIGHT = {
    "statement": 1.0,
    "competency": 1.15,
    "standard": 0.9,
    "stage": 1.0,
    "value": 0.9,
    "area": 0.7,
    "element": 1.15,
    "indicator": 1.0,
    "descriptor": 0.85,
    "domain": 0.9,
    "not_yet": 0.6,
    "dimension": 1.0,
    "programme": 0.9,
}


def _stem(word: str) -> str:
    for suffix in ("ments", "ment", "ings", "ing", "ies", "ed", "es", "s", "e"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


@dataclass(frozen=True, slots=True)
class Query:
    text: str
    framework: str | None  # hinted in the text
    stage: str | None
    code: str | None
    words: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Hit:
    entry: Entry
    score: float

    def as_dict(self) -> dict[str, object]:
        e = self.entry
        return {
            "framework": e.framework,
            "id": e.id,
            "kind": e.kind,
            "code": e.code,
            "title": e.title,
            "stage": e.stage,
            "text": e.text,
            "score": round(self.score, 3),
        }


def parse(text: str) -> Query:
    """Pull the framework, stage and code hints out of a question; keep the topic words."""
    low = " " + text.lower().replace("’", "'") + " "
    framework = next((fw for rx, fw in _FRAMEWORK_HINTS if rx.search(low)), None)
    stage = None
    m = re.search(r"\b(?:stage|stg|level|lvl)\s*([a-z]+|\d)\b(?!\.\d)", low)
    if m and m.group(1) in _NUMBER_WORDS:
        stage = _NUMBER_WORDS[m.group(1)]
        low = low[: m.start()] + " " + low[m.end() :]
    for rx, st, implied in _STAGE_PHRASES:
        found = rx.search(low)
        if found:
            stage = stage or st
            framework = framework or implied
            low = low[: found.start()] + " " + low[found.end() :]
            break
    code = None
    cm = _CODE.search(low)
    if cm:
        code = ".".join(g for g in cm.groups() if g)
        low = low[: cm.start()] + " " + low[cm.end() :]
    for rx, _ in _FRAMEWORK_HINTS[:4]:
        low = rx.sub(" ", low)
    words = tuple(w for w in _words(low) if w not in _STOP and not w.isdigit())
    return Query(text, framework, stage, code, words)


class LookupIndex:
    """An inverted index over the catalogue's entries."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        self._postings: dict[str, dict[int, float]] = defaultdict(dict)
        self._entries = catalogue.entries
        for i, e in enumerate(self._entries):
            weights: dict[str, float] = {}
            for field_text, weight in ((e.context, 0.35), (e.text, 1.0), (e.title, 2.5)):
                for w in _words(field_text):
                    if w in _STOP:
                        continue
                    s = _stem(w)
                    weights[s] = max(weights.get(s, 0.0), weight)
            for s, weight in weights.items():
                self._postings[s][i] = weight
        n = len(self._entries)
        self._idf = {s: math.log(1 + n / len(p)) for s, p in self._postings.items()}
        self._vocab = sorted(
            {
                w
                for e in self._entries
                for w in _words(f"{e.title} {e.text} {e.context}")
                if w not in _STOP and len(w) > 2
            }
        )
        self._vocab_set = frozenset(self._vocab)
        self._by_code: dict[str, list[int]] = defaultdict(list)
        for i, e in enumerate(self._entries):
            if e.code:
                self._by_code[e.code].append(i)

    def _expand(self, word: str) -> list[tuple[str, float]]:
        """Stems a query word stands for, with how sure we are of each."""
        if word in _SYNONYMS:
            return [(_stem(w), 1.0 if j == 0 else 0.6) for j, w in enumerate(_SYNONYMS[word])]
        if word in self._vocab_set or _stem(word) in self._postings:
            return [(_stem(word), 1.0)]
        if len(word) < 4:
            return []
        matches = process.extract(word, self._vocab, scorer=fuzz.ratio, limit=3, score_cutoff=78)
        out: dict[str, float] = {}
        for match, score, _ in matches:
            s = _stem(match)
            out[s] = max(out.get(s, 0.0), (score / 100) ** 2)
        return list(out.items())

    def search(self, text: str, framework: str | None = None, limit: int = 5) -> list[Hit]:
        q = parse(text)
        fw = framework or q.framework
        scores: dict[int, float] = defaultdict(float)
        for word in q.words:
            best: dict[int, float] = {}
            for stem, sure in self._expand(word):
                idf = self._idf.get(stem, 0.0)
                for i, weight in self._postings.get(stem, {}).items():
                    best[i] = max(best.get(i, 0.0), idf * weight * sure)
            for i, v in best.items():
                scores[i] += v
        if q.code:
            self._score_code(q, fw, scores)
        if not q.words and not q.code and q.stage:
            target = fw if fw in ("mlf2025", "lf2011") else DEFAULT_FRAMEWORK
            entry = self.catalogue.stage_entry(target, q.stage)
            if entry is not None:
                scores[self._entries.index(entry)] += 100.0
        ranked = [
            (self._adjust(self._entries[i], s, q, fw), i)
            for i, s in scores.items()
            if s > 0 and (framework is None or self._entries[i].framework == framework)
        ]
        ranked.sort(key=lambda t: (-t[0], t[1]))
        return [Hit(self._entries[i], s) for s, i in ranked[:limit] if s > 0]

    def _score_code(self, q: Query, fw: str | None, scores: dict[int, float]) -> None:
        assert q.code is not None
        three_part = q.code.count(".") == 2
        for i in self._by_code.get(q.code, []):
            e = self._entries[i]
            bonus = 50.0
            if fw is None and three_part and e.framework == "gmts-gm":
                bonus += 10
            scores[i] += bonus

    @staticmethod
    def _adjust(e: Entry, score: float, q: Query, fw: str | None) -> float:
        score *= _KIND_WEIGHT.get(e.kind, 1.0)
        if fw is not None and e.framework != fw:
            score *= 0.15 if fw != "programmes" else 0.5
        elif fw is None and e.framework != DEFAULT_FRAMEWORK:
            three_part = q.code is not None and q.code.count(".") == 2
            score *= 1.0 if (three_part and e.framework == "gmts-gm") else 0.55
        if q.stage is not None:
            if e.stage == q.stage:
                score *= 1.8
            elif e.stage is not None:
                score *= 0.25
            else:
                score *= 0.6
        elif e.kind in ("statement", "indicator"):
            score *= 0.7
        return score
