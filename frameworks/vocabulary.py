"""How NHS staff talk: the vocabulary data file's schema, and what the lookup reads from it.

``vocabulary.yaml`` maps role and band words to each framework's stages, spells out
abbreviations, gives everyday words for the frameworks' topics, names the generic words that say
nothing about a topic, and the chat words (greetings, thanks, "what should I reflect on", and
patterns of questions that are not about the frameworks at all). Each entry carries its reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from pydantic import Field, field_validator

from frameworks.schema import FileHeader, StageKey, Text, _Model

ChatKind = Literal["greeting", "thanks", "reflect", "off_topic", "nothing"]


class RoleWords(_Model):
    words: list[Text] = Field(min_length=1)
    stages: dict[Literal["mlf2025", "lf2011"], StageKey]
    framework: str | None = None  # the framework the role's questions are about (a GM trainee: GMTS)
    why: Text


class Abbreviation(_Model):
    forms: list[Text] = Field(min_length=1)
    means: Text  # what it stands for, as a person would spell it out
    search: Text  # the frameworks' words the lookup searches with instead
    framework: str | None = None  # the one framework it belongs to (PDSA: the programmes and methods)
    why: Text


class Synonym(_Model):
    words: list[Text] = Field(min_length=1)
    means: list[Text] = Field(min_length=1)  # the first counts fully, the others a little less
    why: Text


class GenericWords(_Model):
    words: list[Text] = Field(min_length=1)
    why: Text


class OffTopic(_Model):
    pattern: Text
    answer: Literal["off_topic", "nothing"] = "off_topic"  # say so and point to /help, or "nothing found"
    why: Text

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        return value


class ChatWords(_Model):
    greeting: list[Text]
    thanks: list[Text]
    reflect: list[Text]  # found anywhere in a message ("give me a reflection idea")
    address: list[Text]  # words that may follow a greeting or thanks ("thanks mate", "hi there coach")
    off_topic: list[OffTopic]


class VocabularyFile(FileHeader):
    kind: Literal["vocabulary"]
    roles: list[RoleWords]
    abbreviations: list[Abbreviation]
    synonyms: list[Synonym]
    generic: list[GenericWords]
    chat: ChatWords


def _phrase_pattern(phrases: list[str]) -> re.Pattern[str] | None:
    """One pattern for whole phrases, longest first; a space matches spaces or hyphens."""
    if not phrases:
        return None
    ordered = sorted({p.lower() for p in phrases}, key=len, reverse=True)
    alternatives = "|".join(r"[\s\-]*".join(re.escape(w) for w in p.split()) for p in ordered)
    return re.compile(rf"(?<![a-z0-9])(?:{alternatives})(?![a-z0-9])")


_CHAT_TRIM = re.compile(r"[^a-z0-9&' ]+")


@dataclass
class Vocabulary:
    """The vocabulary compiled for reading questions (built once with the lookup index)."""

    roles: dict[str, RoleWords] = field(default_factory=dict)
    abbreviations: dict[str, Abbreviation] = field(default_factory=dict)
    synonyms: dict[str, tuple[str, ...]] = field(default_factory=dict)
    generic: frozenset[str] = frozenset()
    chat: dict[str, ChatKind] = field(default_factory=dict)
    address: frozenset[str] = frozenset()
    off_topic: list[tuple[re.Pattern[str], ChatKind]] = field(default_factory=list)
    _roles_rx: re.Pattern[str] | None = None
    _abbrev_rx: re.Pattern[str] | None = None

    @classmethod
    def build(cls, f: VocabularyFile | None) -> Vocabulary:
        if f is None:
            return cls()
        v = cls(
            roles={w.lower(): r for r in f.roles for w in r.words},
            abbreviations={form.lower(): a for a in f.abbreviations for form in a.forms},
            synonyms={w.lower(): tuple(m.lower() for m in s.means) for s in f.synonyms for w in s.words},
            generic=frozenset(w.lower() for g in f.generic for w in g.words),
            address=frozenset(w.lower() for w in f.chat.address),
            off_topic=[(re.compile(o.pattern), o.answer) for o in f.chat.off_topic],
        )
        for kind, phrases in (("greeting", f.chat.greeting), ("thanks", f.chat.thanks), ("reflect", f.chat.reflect)):
            v.chat.update({_chat_key(p): kind for p in phrases})  # type: ignore[misc]
        v._roles_rx = _phrase_pattern(list(v.roles))
        v._abbrev_rx = _phrase_pattern(list(v.abbreviations))
        return v

    def chat_kind(self, text: str) -> ChatKind | None:
        """What a chat message is when it is not a question about the frameworks (else None)."""
        key = _chat_key(text)
        kind = self.chat.get(key)
        if kind is not None:
            return kind
        padded = f" {key} "
        if any(k == "reflect" and f" {p} " in padded for p, k in self.chat.items()):
            return "reflect"  # "what should I reflect on this week", "give me a reflection idea"
        words = key.split()
        for n in range(len(words) - 1, 0, -1):  # "thanks mate", "hi there coach"
            head = self.chat.get(" ".join(words[:n]))
            if head in ("greeting", "thanks") and all(w in self.address for w in words[n:]):
                return head
        low = " " + text.lower() + " "
        return next((answer for rx, answer in self.off_topic if rx.search(low)), None)

    def expand(self, low: str) -> tuple[str, str | None]:
        """Abbreviations spelt out in the frameworks' words ("pdsa" -> "plan do study act"), and the
        framework the first of them belongs to, if only one."""
        if self._abbrev_rx is None:
            return low, None
        found = [self.abbreviations[_norm(m.group(0))] for m in self._abbrev_rx.finditer(low)]
        if not found:
            return low, None
        low = self._abbrev_rx.sub(lambda m: f" {self.abbreviations[_norm(m.group(0))].search.lower()} ", low)
        return low, next((a.framework for a in found if a.framework), None)

    def take_roles(self, low: str) -> tuple[str, list[RoleWords]]:
        """The role and band words of a question, taken out of it."""
        if self._roles_rx is None:
            return low, []
        found = [self.roles[_norm(m.group(0))] for m in self._roles_rx.finditer(low)]
        return (self._roles_rx.sub(" ", low) if found else low), found


def _norm(phrase: str) -> str:
    return " ".join(re.split(r"[\s\-]+", phrase.strip()))


def _chat_key(text: str) -> str:
    return " ".join(_CHAT_TRIM.sub(" ", text.lower().replace("’", "'")).split())
