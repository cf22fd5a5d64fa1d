"""Typo-tolerant lookup over the catalogue, with a confidence floor.

How a question is answered:

1. :func:`parse` takes out what the question names: a framework ("LF", "gmts", "element"), a stage
   ("stage 2", "senior"), a code ("3.2"), and keeps the topic words.
2. A question about a framework as a whole ("hlm", "the nine dimensions", "what are the values in
   the code") gets that framework's overview.
3. Otherwise each topic word is matched by its stem ("transformation" finds "transform"), a few
   synonyms, or its nearest spellings (one edit, two in long words). Title words weigh more than
   body words; a title typed out whole ("engaging the team", "mary seacole") wins outright, and a
   code adds to the topic words around it rather than overriding them.
4. Hits are ranked by kind, by framework (the one named, else the asker's own, else MLF) and stage.
5. The floor: a question less than 55% of which is framework vocabulary (weighted by how telling
   each word is) finds nothing, nor does a hit that explains less than 30% of it. "What is the
   capital of France" finds nothing rather than a GMTS competency about capital finance.
"""

from __future__ import annotations

import math
import re
import threading
from collections import defaultdict
from dataclasses import dataclass, field, replace
from functools import cache
from itertools import pairwise

from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from frameworks.catalogue import DEFAULT_FRAMEWORK, Catalogue, Entry, default_catalogue
from frameworks.overviews import overviews, programme_facts
from frameworks.query import SEVENTY_TWENTY_TEN, Query, content_words, parse, stem, tokens
from frameworks.vocabulary import ChatKind, Vocabulary

__all__ = ["Hit", "LookupIndex", "Query", "parse", "programme_facts", "quoted_stage", "stem"]

_KIND_WEIGHT = {
    "statement": 1.0,
    "section": 0.8,
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
# Where a word is found: (ranking weight, how much of the word it counts as for the floor).
_TITLE, _TEXT, _CONTEXT = 2.5, 1.0, 0.35
_FOUND = {_TITLE: 1.0, _TEXT: 0.9, _CONTEXT: 0.6}
_CODE_BONUS = 10.0  # about one telling title word: a code adds to the words, it does not override them
_WHOLE_BONUS = 60.0  # the question is a title, typed out (typos allowed)
_PART_BONUS = 4.0  # per word of a title of two or more words found in order in the question
_ONE_WORD_WHOLE = 12.0  # a one-word title typed alone: a word, not a name ("integrity")
_PAIR_BONUS = 3.0  # two words side by side in the question and in an entry ("time management")
_BROAD = frozenset(("area", "section", "domain", "standard", "stage", "about"))  # no phrase bonus: they
# summarise many items, so two words side by side in them say little about what was asked
_UNCLEAR_COVERAGE = 0.7  # a question some of whose known words name no title must be more of them
_UNKNOWN_WHEN_CLEAR = 0.5  # an unknown word beside words that all name titles tells half as much
_COVERAGE = 0.55  # share of the question that must be framework vocabulary
_FLOOR = 0.3  # share of the question a hit must explain


@dataclass(frozen=True, slots=True)
class Hit:
    entry: Entry
    score: float
    confidence: float = 1.0  # the share of the question this hit explains (1 for a title, code or overview)

    def as_dict(self) -> dict[str, object]:
        e = self.entry
        return {
            "framework": e.framework,
            "id": e.id,
            "kind": e.kind,
            "code": e.code,
            "title": e.title,
            "stage": quoted_stage(e),
            "text": e.text,
            "score": round(self.score, 3),
        }


def quoted_stage(entry: Entry) -> str | None:
    """The stage an entry's text is written for: an MLF competency quotes its Fundamental statement."""
    if entry.kind == "competency" and entry.framework == "mlf2025":
        return "fundamental"
    return entry.stage


def _title_phrases(e: Entry) -> set[tuple[str, ...]]:
    """A title's content words, and its variants: without "(...)", only "(...)", without "programme"."""
    if e.kind in ("stage", "not_yet"):
        return set()
    variants = {e.title, re.sub(r"\([^)]*\)", " ", e.title), *re.findall(r"\(([^)]*)\)", e.title)}
    out: set[tuple[str, ...]] = set()
    for v in variants:
        words = tuple(content_words(v))
        if e.kind == "programme" and len(words) > 1 and words[-1] in ("programme", "programmes"):
            out.add(words[:-1])
        if words:
            out.add(words)
    return out


@dataclass
class _Scores:
    """Ranking score and explained share per entry while a question is scored."""

    rank: dict[int, float] = field(default_factory=lambda: defaultdict(float))
    mass: dict[int, float] = field(default_factory=lambda: defaultdict(float))
    sure: set[int] = field(default_factory=set)  # whole titles, codes alone, stages alone
    total: float = 0.0  # how telling the whole question is
    known: float = 0.0  # how much of that is framework vocabulary
    unknown: float = 0.0  # how telling its words that match nothing are
    unclear: bool = False  # a known word matches no title anywhere


class LookupIndex:
    """An inverted index over the catalogue's entries, plus an overview of each framework."""

    def __init__(self, catalogue: Catalogue) -> None:  # noqa: C901 - one pass over every entry kind builds all indexes
        self.catalogue = catalogue
        self.vocab = Vocabulary.build(catalogue.vocabulary)
        self._entries = catalogue.entries
        extra = list(overviews(catalogue))
        self._extra = {e.id: e for e, _ in extra}
        self._children: dict[str, list[str]] = defaultdict(list, {e.id: kids for e, kids in extra})
        for e in self._entries:
            if e.parent and e.kind in ("standard", "competency", "element") and e.parent.startswith(e.framework):
                self._children[e.parent].append(e.id)
        self._postings: dict[str, list[tuple[int, float, float]]] = defaultdict(list)  # (entry, weight, found)
        self._by_code: dict[str, list[int]] = defaultdict(list)
        self._phrases: dict[str, list[int]] = defaultdict(list)
        self._parts: dict[str, list[tuple[tuple[str, ...], int]]] = defaultdict(list)
        self._pairs: dict[tuple[str, str], set[int]] = defaultdict(set)
        self._titled: set[str] = set()  # stems found in some title
        self._programme_stages = {f"programmes.{p.code}": set(p.stages) for p in catalogue.programmes.entries}
        self._by_level = {f"{e.id.rsplit('.', 1)[1]}": i for i, e in enumerate(self._entries) if e.kind == "level"}
        surface: set[str] = set()
        for i, e in enumerate(self._entries):
            title_weight = _TITLE if e.title != e.text else _TEXT  # GMTS titles are whole sentences
            weights: dict[str, float] = {}
            for field_text, weight in ((e.context, _CONTEXT), (e.text, _TEXT), (e.title, title_weight)):
                words = content_words(field_text)
                surface.update(words)
                stems = [stem(w) for w in words]
                for s in stems:
                    weights[s] = max(weights.get(s, 0.0), weight)
                if e.kind not in _BROAD:
                    for pair in pairwise(stems):
                        self._pairs[pair].add(i)
            for s, weight in weights.items():
                self._postings[s].append((i, weight, _FOUND[weight]))
                if weight == _TITLE or (weight == _TEXT and e.kind in ("programme", "dimension", "value")):
                    self._titled.add(s)
            if e.code:
                self._by_code[e.code].append(i)
            for phrase in _title_phrases(e):
                self._phrases[" ".join(phrase)].append(i)
                if len(phrase) > 1:
                    parts = tuple(stem(w) for w in phrase)
                    self._parts[parts[0]].append((parts, i))
        n = len(self._entries)
        self._idf = {s: math.log(1 + n / len(p)) for s, p in self._postings.items()}
        self._unknown_idf = math.log(1 + n)  # a word we have never seen tells as much as the rarest
        self._phrase_list = list(self._phrases)
        self._vocab = sorted(w for w in surface if len(w) > 2 and not w.isdigit())
        self._vocab_set = frozenset(self._vocab)
        self._near: dict[tuple[int, int], list[str]] = {}

    # --- entries beyond the catalogue -----------------------------------------------

    def entry(self, entry_id: str) -> Entry | None:
        """A catalogue entry or an overview, by id."""
        return self.catalogue.by_id.get(entry_id) or self._extra.get(entry_id)

    def children(self, entry_id: str) -> list[Entry]:
        """The parts of an overview, area, standard or domain, in order."""
        return [self.catalogue.get(i) for i in self._children.get(entry_id, [])]

    def overview(self, framework: str, collection: str = "framework") -> Entry:
        """A framework's overview: ``framework`` (its structure), ``stages`` or, for MLF, ``values``."""
        key = {"framework": "overview", "stages": "stages", "values": "values"}[collection]
        return self._extra[f"{framework}.{key}"]

    def _overview_for(self, q: Query, named: str | None, home: str) -> Entry | None:
        c = q.overview
        if c == "values":
            return self._extra["mlf2025.values"]
        if c == "dimensions":
            return self._extra["hlm.overview"]
        if c == "domains":
            return self._extra["gmts-gm.overview" if named == "gmts-gm" else "lf2011.overview"]
        if c == "standards":
            return self._extra["mlf2025.overview"]
        if c == "competencies":
            return self._extra[f"{home if home in ('mlf2025', 'gmts-gm') else DEFAULT_FRAMEWORK}.overview"]
        if c == "stages":
            return self._extra[f"{home if home in ('mlf2025', 'lf2011') else DEFAULT_FRAMEWORK}.stages"]
        if c == "programmes":
            return self._extra["programmes.overview"]
        if c == "framework":
            return self._extra.get(f"{named or home}.overview")
        return None

    # --- search ----------------------------------------------------------------------

    def chat_kind(self, text: str) -> ChatKind | None:
        """A greeting, thanks, a request for something to reflect on, or a question that is not about
        the frameworks (arithmetic, dates, clinical); None for a question to look up."""
        return self.vocab.chat_kind(SEVENTY_TWENTY_TEN.sub(" seventy twenty ten ", text.lower()))

    def parse(self, text: str) -> Query:
        """A question read with the NHS vocabulary (roles, abbreviations, generic words)."""
        return parse(text, self.vocab)

    def search(  # noqa: C901 - the ranking rules in order; each branch is one documented rule
        self, text: str, framework: str | None = None, limit: int = 5, prefer: str | None = None
    ) -> list[Hit]:
        """The best entries for a question, best first; [] when nothing is good enough.

        ``framework`` keeps only that framework's entries; ``prefer`` (the asker's own framework)
        ranks its entries first when the question does not name a framework.
        """
        if self.chat_kind(text) is not None:  # hello, thanks, arithmetic, dates, clinical
            return []
        q = self.parse(text)
        named = framework or q.framework
        home = named or prefer or q.implied or DEFAULT_FRAMEWORK
        if q.stage is None and q.role_stages:  # "band 7", "matron": the stage of that role here
            q = replace(q, stage=q.stage_in(home))
        if q.overview:
            target = self._overview_for(q, q.framework or named, home)
            if target is not None and framework in (None, target.framework):
                return [Hit(target, 100.0)]
        sc = _Scores()
        self._score_words(q, sc)
        self._score_titles(q, sc)
        self._score_pairs(q, sc)
        if q.level is not None and home == "gmts-gm" and (i := self._by_level.get(q.level)) is not None:
            sc.rank[i] += 100.0  # "level 3": a GMTS assessment level
            sc.sure.add(i)
        if not sc.unclear:  # every known word names a title: an unknown word beside them sinks nothing
            sc.total -= sc.unknown * (1 - _UNKNOWN_WHEN_CLEAR)
        if q.code:
            self._score_code(q, sc)
        if not q.words and not q.code and q.stage:
            target_fw = home if home in ("mlf2025", "lf2011") and q.stage != "fundamental" else DEFAULT_FRAMEWORK
            entry = self.catalogue.stage_entry(target_fw, q.stage)
            if entry is not None:
                i = self._entries.index(entry)
                sc.rank[i] += 100.0
                sc.sure.add(i)
        needed = _UNCLEAR_COVERAGE if sc.unclear else _COVERAGE
        if sc.total and sc.known / sc.total < needed and not sc.sure:
            return []
        three_part = q.code is not None and q.code.count(".") == 2
        ranked: list[tuple[float, int, float]] = []
        for i, s in sc.rank.items():
            e = self._entries[i]
            confidence = 1.0 if i in sc.sure else sc.mass[i] / sc.total if sc.total else 0.0
            if s <= 0 or confidence < _FLOOR or (framework is not None and e.framework != framework):
                continue
            confidence = min(confidence, 1.0)
            score = self._adjust(e, s, q, named, home, three_part) * (0.4 + 0.6 * confidence)
            ranked.append((score, i, confidence))
        ranked.sort(key=lambda t: (-t[0], t[1]))
        hits: list[Hit] = []
        quoted: set[tuple[str, str]] = set()  # an MLF competency quotes its Fundamental statement
        for s, i, c in ranked:
            e = self._entries[i]
            if len(hits) == limit:
                break
            if (key := (e.id.split("@", 1)[0], e.text)) not in quoted:
                quoted.add(key)
                hits.append(Hit(e, s, c))
        return hits

    def _expand(self, word: str) -> list[tuple[str, float]]:
        """Stems a query word stands for, with how sure we are of each."""
        s = stem(word)
        own = word in self._vocab_set or s in self._postings
        if (means := self.vocab.synonyms.get(word)) is not None:  # the word itself first, if we have it
            stems = list(dict.fromkeys([s, *(stem(w) for w in means)] if own else [stem(w) for w in means]))
            return [(t, 1.0 if j == 0 else 0.6) for j, t in enumerate(stems)]
        if own:
            return [(s, 1.0)]
        if len(word) < 5:
            return []
        edits = 1 if len(word) < 8 else 2
        near = self._near.get((len(word), edits))
        if near is None:  # vocabulary words long enough and short enough to be this few edits away
            near = self._near[len(word), edits] = [w for w in self._vocab if abs(len(w) - len(word)) <= edits]
        matches = process.extract(word, near, scorer=OSA.distance, score_cutoff=edits, limit=3)
        out: dict[str, float] = {}
        for match, distance, _ in matches:
            sure = 1.0 - 1.5 * distance / len(word)
            out[stem(match)] = max(out.get(stem(match), 0.0), sure)
        return list(out.items())

    def _score_words(self, q: Query, sc: _Scores) -> None:
        for word in q.words:
            expansions = self._expand(word)
            telling = math.sqrt(max((self._idf.get(s, 0.0) for s, _ in expansions), default=self._unknown_idf))
            sc.total += telling
            sc.known += telling * max((sure for _, sure in expansions), default=0.0)
            if not expansions:
                sc.unknown += telling
            elif not any(s in self._titled for s, _ in expansions):
                sc.unclear = True
            if len(expansions) == 1:  # most words: add straight in
                rank, mass = sc.rank, sc.mass
            else:  # a word standing for several stems counts once per entry, at its best
                rank, mass = defaultdict(float), defaultdict(float)
            for s, sure in expansions:
                by_rank, by_mass = self._idf.get(s, 0.0) * sure, telling * sure
                for i, weight, found in self._postings.get(s, ()):
                    if len(expansions) == 1:
                        rank[i] += by_rank * weight
                        mass[i] += by_mass * found
                    else:
                        rank[i] = max(rank[i], by_rank * weight)
                        mass[i] = max(mass[i], by_mass * found)
            if rank is not sc.rank:
                for i, v in rank.items():
                    sc.rank[i] += v
                    sc.mass[i] += mass[i]

    def _score_titles(self, q: Query, sc: _Scores) -> None:
        if not q.words:
            return
        typed = " ".join(q.words)
        found = self._phrases.get(typed)
        if found is None:
            best = process.extractOne(typed, self._phrase_list, scorer=fuzz.ratio, score_cutoff=90)
            found = self._phrases[best[0]] if best else []
        for i in found:
            sc.rank[i] += _WHOLE_BONUS if len(tokens(self._entries[i].title)) > 1 else _ONE_WORD_WHOLE
            sc.sure.add(i)
        stems = [stem(w) for w in q.words]
        for j, first in enumerate(stems):
            for phrase, i in self._parts.get(first, []):
                if i not in sc.sure and tuple(stems[j : j + len(phrase)]) == phrase:
                    sc.rank[i] += _PART_BONUS * len(phrase)

    def _score_pairs(self, q: Query, sc: _Scores) -> None:
        """Two words side by side in the question and in an entry's title or text count more."""
        stems = [stem(w) for w in q.words]
        for pair in pairwise(stems):
            for i in self._pairs.get(pair, ()):
                sc.rank[i] += _PAIR_BONUS

    def _score_code(self, q: Query, sc: _Scores) -> None:
        assert q.code is not None
        telling = 2 * math.sqrt(self._unknown_idf)  # a code is the most telling thing a question can hold
        found = self._by_code.get(q.code, [])
        sc.total += telling
        if found:
            sc.known += telling
        for i in found:
            sc.rank[i] += _CODE_BONUS
            sc.mass[i] += telling
            if not q.words:
                sc.sure.add(i)

    def _adjust(self, e: Entry, score: float, q: Query, named: str | None, home: str, three_part: bool) -> float:
        score *= _KIND_WEIGHT.get(e.kind, 1.0)
        if (q.defines and e.kind == "definition") or (q.not_yet and e.kind == "not_yet"):
            score *= 6.0  # "what is meant by patient", "not yet demonstrating"
        if q.in_code and e.kind == "value":
            score *= 2.0  # "compassion in the code": the code of practice's values
        if e.kind == "programme" and q.stage is not None and q.stage in self._programme_stages.get(e.id, ()):
            score *= 1.5  # a programme for the stage asked about (ours: programmes.yaml's stages)
        if e.framework != home and not (three_part and named is None and e.framework == "gmts-gm"):
            if named is None:
                score *= 0.55
            else:
                score *= 0.15 if named != "programmes" else 0.5
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


_BUILDING = threading.Lock()


def default_index() -> LookupIndex:
    """The index of the packaged content, built once per process (it only reads the catalogue), when
    first asked for (``leadcoach run`` asks just after it starts receiving); safe from any thread."""
    with _BUILDING:
        return _default_index()


@cache
def _default_index() -> LookupIndex:
    return LookupIndex(default_catalogue())
