"""Reading a question: the framework, stage and code it names, and its topic words, stemmed.

Nothing here knows the catalogue; :mod:`frameworks.lookup` matches what :func:`parse` returns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from frameworks.vocabulary import Vocabulary

_WORD = re.compile(r"[a-z0-9]+")


def _split(words: str) -> list[str]:
    return words.split()


_CODE = re.compile(r"(?<![\d.])([1-9])\.([1-9])(?:\.(\d{1,2}))?(?![\d.])")
# "standard 5", "domain 3", "area 2", "dimension 7": a one-part code and the framework it belongs to
SEVENTY_TWENTY_TEN = re.compile(r"(?<![\d.])70\s*[/:,\-–]?\s*20\s*[/:,\-–]?\s*10(?![\d.])")
_NAMED_CODE = re.compile(r"\b(standard|domain|area|dimension)\s*([1-9])\b(?![.\d])")
_NAMED_CODE_FRAMEWORK = {"standard": "mlf2025", "area": "mlf2025", "domain": "lf2011", "dimension": "hlm"}
_STOP = frozenset(
    _split(
        """
    a about advice all also am an and any anyone anything are as at be been being bit but can cant could
    deal dealing did didnt do does doing done dont for from get getting give good got had handle handling has having
    have he hello help her here hey hi him his how i if im in into is it its ive just know leave like look looks
    lot may me mean means might more must my need needs no not of ok okay on or our please pls plz really say
    says she should show so some someone something stuff t tell than thank thanks that the their them then
    there they thing things this tips to too u up ur us very want wants was we were what whats when where
    which who will with would yes you your
    one two three four five six seven eight nine ten
    level levels stage stages framework frameworks new old draft model
    """
    )
)
# Words that may stand beside a collection noun in an overview question ("list all the standards").
_OVERVIEW_WORDS = frozenset(
    _split(
        """
    list overview summary main key different available offer offered types kinds names called nhs code
    codes practice conduct values value standards standard areas area competencies competency stages
    programmes programme programs program courses course training dimensions domains elements scheme
    """
    )
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
# (pattern, stage, framework it implies, whether only that framework uses the phrase)
_STAGE_PHRASES: list[tuple[re.Pattern[str], str, str, bool]] = [
    (re.compile(r"\bfundamentals?\b|\bfundemental\b|\bfundamentl\b"), "fundamental", "mlf2025", True),
    (re.compile(r"\bfirst[ -]?line\b|\bnew (?:and first[ -]line )?managers?\b"), "1", "mlf2025", True),
    (re.compile(r"\bmid[ -]?level\b|\bmiddle manag\w*"), "2", "mlf2025", False),
    (re.compile(r"\bexecutives?\b|\bboard members?\b"), "4", "mlf2025", False),
    (re.compile(r"\bsenior managers?\b|\bsenior leaders?\b|\bsenior\b"), "3", "mlf2025", False),
    (re.compile(r"\bown practice\b|\bimmediate team\b"), "1", "lf2011", True),
    (re.compile(r"\bwhole service\b|\bacross teams\b"), "2", "lf2011", True),
    (re.compile(r"\bacross services\b|\bwider organi[sz]ation\b"), "3", "lf2011", True),
    (re.compile(r"\bwhole organi[sz]ation\b|\b(?:wider )?healthcare system\b"), "4", "lf2011", True),
]
_FRAMEWORK_HINTS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\bgmts\b|\bgraduates?\b|\btrainees?\b|\bgrad scheme\b"), "gmts-gm"),
    (re.compile(r"\bhlm\b|\bhealthcare leadership model\b|\bdimensions?\b"), "hlm"),
    (
        re.compile(r"\blf\b|\b2011\b|\bold framework\b|\bleadership framework\b|\bdomains?\b|\belements?\b"),
        "lf2011",
    ),
    (
        re.compile(
            r"\bmlf\b|\b2025\b|\bnew framework\b|\bdraft framework\b|\bmanagement (?:and|&) leadership\b"
            r"|\bcode of (?:practice|conduct)\b"
        ),
        "mlf2025",
    ),
    (re.compile(r"\bprogrammes?\b|\bprograms?\b|\bcourses?\b|\btraining\b|\bmentor\w*|\bcoach\w*"), "programmes"),
]
# "in my team", "with my staff": where the asker works, not what they ask about.
_SETTING = re.compile(
    r"\b(?:my|our) (?:own )?(?:teams?|staff|colleagues|department|ward|unit|service|organi[sz]ation|trust)\b"
    r"|\bat work\b"
)
# Collection nouns: "what are the values" asks for the values, not for one of them.
_COLLECTIONS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\bvalues?\b"), "values"),
    (re.compile(r"\bdimensions?\b"), "dimensions"),
    (re.compile(r"\bdomains?\b|\belements\b"), "domains"),
    (re.compile(r"\bcode of (?:practice|conduct)\b"), "values"),
    (re.compile(r"\bstandards?\b|\bareas\b"), "standards"),
    (re.compile(r"\bcompetenc(?:y|ies)\b"), "competencies"),
    (re.compile(r"\bstages?\b|\blevels\b"), "stages"),
    (re.compile(r"\bprogrammes?\b|\bprograms?\b|\bcourses?\b|\btraining\b"), "programmes"),
    (re.compile(r"\boverview\b|\bsummary\b|\bframeworks?\b|\bmodel\b"), "framework"),
]

# A light stemmer in three steps: one inflection ("-ing", "-s"), up to two derivations ("-ation",
# "-ment"), a final "-e"/"-y". "transformation", "transforming" and "transform" share a stem.
_INFLECTIONS = (("ies", "y"), ("ied", "y"), ("ings", ""), ("ing", ""), ("ed", ""), ("es", ""), ("s", ""))
_DERIVATIONS = tuple(
    (suffix, 3 if suffix.startswith("ibilit") or suffix == "ible" else 4)
    for suffix in _split(
        """
    isational izational isations izations isation ization ational ations ation itions ition atively ative
    ators ator abilities ibilities ability ibility ities ity iveness ively ive ness ments ment ships ship
    fully ful icians ician ically ical ances ance ences ence able ible itise itize ise ize ate ary ions ion
    ially ial ally ly ic er
    """
    )
)
_UNDOUBLE = frozenset("bdgmnprt")


def _inflection(word: str) -> str:
    for suffix, replacement in _INFLECTIONS:
        if not word.endswith(suffix) or len(word) - len(suffix) + len(replacement) < 3:
            continue
        if suffix in ("s", "es") and word.endswith("ss"):
            return word
        if suffix == "es" and word[-3] not in "sxz" and not word.endswith(("ches", "shes")):
            suffix = "s"  # "values" -> "value", but "processes" -> "process"
        word = word[: -len(suffix)] + replacement
        if suffix in ("ing", "ings", "ed"):
            if len(word) > 3 and word[-1] == word[-2] and word[-1] in _UNDOUBLE:
                return word[:-1]  # "planning" -> "plan"
            if word.endswith(("at", "bl", "iz", "is")):
                return word + "e"  # "prioritising" -> "prioritise"
        return word
    return word


@lru_cache(maxsize=16384)
def stem(word: str) -> str:
    """The stem a word is indexed and looked up by."""
    word = _inflection(word)
    for _ in range(2):
        suffix = next((s for s, n in _DERIVATIONS if word.endswith(s) and len(word) - len(s) >= n), None)
        if suffix is None:
            break
        word = word[: -len(suffix)]
    if (word.endswith("e") and len(word) > 3) or (word.endswith("y") and len(word) > 4):
        word = word[:-1]
    return word


def tokens(text: str) -> list[str]:
    """Lower-case words and numbers."""
    return _WORD.findall(text.lower().replace("+", " plus "))


def content_words(text: str) -> list[str]:
    """The words that carry meaning (no "what", "the", "please", ...)."""
    return [w for w in tokens(text) if w not in _STOP]


@dataclass(frozen=True, slots=True)
class Query:
    text: str
    framework: str | None  # named in the text, or implied by a stage name only one framework uses
    stage: str | None
    code: str | None
    words: tuple[str, ...]
    implied: str | None = None  # the framework a generic stage phrase ("senior") suggests
    overview: str | None = None  # the collection a question about a whole framework asks for
    role_stages: tuple[tuple[str, str], ...] = ()  # (framework, stage) a role or band word implies
    stages: tuple[str, ...] = ()  # every stage named, in order ("stage 1 ... stage 2")
    frameworks: tuple[str, ...] = ()  # every framework named, in order
    compare: bool = False  # "difference between", "vs", "compare"
    defines: bool = False  # "what is meant by ...": a definition is wanted
    not_yet: bool = False  # "not yet demonstrating": the LF's behaviours of someone not there yet
    level: str | None = None  # "level 3": a GMTS assessment level (1-5)
    in_code: bool = False  # "in the code", "code of practice": its six values

    def stage_in(self, framework: str) -> str | None:
        """The stage asked about, read in a framework's terms (a role word's stage differs by framework)."""
        if self.stage is not None:
            return self.stage
        roles = dict(self.role_stages)
        return roles.get(framework) or roles.get("mlf2025")


_COMPARE = re.compile(r"\b(?:differen\w*|compar\w*|contrast\w*|vs|versus|v|between)\b")
_DEFINES = re.compile(r"\bmean[ts]? by\b|\bdefin(?:e|ed|es|ition|itions)\b|\bwhat is meant\b")
_NOT_YET = re.compile(r"\bnot yet\b")
_IN_CODE = re.compile(r"\bcode of (?:practice|conduct)\b|\bthe code\b")
_LEVEL = re.compile(r"\b(?:level|lvl)\s*([1-5])\b(?!\.\d)")
_HOMOPHONES = frozenset(("to", "too", "for"))  # "stage to": only when no other stage is named
_KEEP_NUMBERS = frozenset(("360",))  # numbers that are names (360° feedback)
_STAGE_WORD = re.compile(r"\b(?:stage|stg|level|lvl)\s*([a-z]+|\d)\b(?!\.\d)")


def _named_frameworks(low: str) -> tuple[str, ...]:
    """Every framework a question names, in the order it names them."""
    found: list[tuple[int, str]] = []
    for rx, fw in _FRAMEWORK_HINTS[:4]:
        m = rx.search(low)
        if m:
            found.append((m.start(), fw))
    return tuple(fw for _, fw in sorted(found))


def parse(text: str, vocab: Vocabulary | None = None) -> Query:  # noqa: C901 - one pass per kind of hint
    """Pull the framework, stage and code hints out of a question; keep the topic words."""
    low = " " + text.lower().replace("’", "'") + " "
    low = SEVENTY_TWENTY_TEN.sub(" seventy twenty ten ", low)  # a name written in digits
    roles: list[tuple[str, str]] = []
    role_framework = None
    hinted = None
    if vocab is not None:
        low, hinted = vocab.expand(low)
        low, found = vocab.take_roles(low)
        for r in found:
            roles += [(fw, st) for fw, st in r.stages.items() if fw not in dict(roles)]
            role_framework = role_framework or r.framework
    framework = next((fw for rx, fw in _FRAMEWORK_HINTS if rx.search(low)), None) or role_framework or hinted
    defines, not_yet = bool(_DEFINES.search(low)), bool(_NOT_YET.search(low))
    in_code = bool(_IN_CODE.search(low))
    lm = _LEVEL.search(low)
    level = lm.group(1) if lm else None
    frameworks = _named_frameworks(low)
    compare = bool(_COMPARE.search(low))
    collection = next((name for rx, name in _COLLECTIONS if rx.search(low)), None)
    stage, implied = None, None
    named_stages = tuple(_NUMBER_WORDS[m.group(1)] for m in _STAGE_WORD.finditer(low) if m.group(1) in _NUMBER_WORDS)
    m = _STAGE_WORD.search(low)
    if m and m.group(1) in _HOMOPHONES and any(rx.search(low) for rx, *_ in _STAGE_PHRASES):
        m = None  # "who is the fundamental stage for": the phrase names the stage
    if m and m.group(1) in _NUMBER_WORDS:
        stage = _NUMBER_WORDS[m.group(1)]
        low = _STAGE_WORD.sub(" ", low) if compare else low[: m.start()] + " " + low[m.end() :]
    for rx, st, fw, only_there in _STAGE_PHRASES:
        found_phrase = rx.search(low)
        if found_phrase:
            stage = stage or st
            if only_there:
                framework = framework or fw
            else:
                implied = fw
            low = low[: found_phrase.start()] + " " + low[found_phrase.end() :]
            named_stages = (st, *named_stages) if st not in named_stages else named_stages
            break
    code = None
    cm = _CODE.search(low)
    if cm:
        code = ".".join(g for g in cm.groups() if g)
        low = low[: cm.start()] + " " + low[cm.end() :]
    elif nm := _NAMED_CODE.search(low):
        kind, number = nm.groups()
        code = f"area {number}" if kind == "area" else number
        framework = _NAMED_CODE_FRAMEWORK[kind] if framework in (None, "lf2011", "hlm") else framework
        low = low[: nm.start()] + " " + low[nm.end() :]
    for rx, _ in _FRAMEWORK_HINTS[:4]:
        low = rx.sub(" ", low)
    low = _SETTING.sub(" ", low)
    if compare:
        low = _COMPARE.sub(" ", low)
    generic = vocab.generic if vocab is not None else frozenset()
    words = tuple(
        w
        for w in tokens(low)
        if w not in _STOP and w not in generic and len(w) > 1 and (not w.isdigit() or w in _KEEP_NUMBERS)
    )  # one letter is what is left of "what's", "i'm"
    about_whole = code is None and stage is None and not roles and all(w in _OVERVIEW_WORDS for w in words)
    if about_whole and collection is None and framework is not None and framework != "programmes":
        collection = "framework"
    return Query(
        text,
        framework,
        stage,
        code,
        words,
        implied,
        collection if about_whole else None,
        role_stages=tuple(roles),
        stages=named_stages,
        frameworks=frameworks,
        compare=compare,
        defines=defines,
        not_yet=not_yet,
        level=level,
        in_code=in_code,
    )
