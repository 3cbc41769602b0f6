"""Keywords: phrases of Russian word stems, found in a text by a few regular expressions.

A keyword matches when every stem begins a word of the text, in order, the words adjacent
("код подтвержд" matches "код подтверждения"). Stems of 3 letters or fewer must match a whole
word ("не", "смс"), and "ё" is read as "е". An index by the first letters of the first stem keeps
the work per text proportional to the text, not to the number of keywords.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

_WORD = re.compile(r"[^\W_]+")
_EXACT_STEM_MAX = 3


class KeywordError(ValueError):
    """A keyword cannot be used; the message names it."""


def words_of(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("ё", "е"))


def _index_key(word: str) -> str:
    return word[:_EXACT_STEM_MAX]


@dataclass(frozen=True)
class Keyword:
    stems: tuple[str, ...]
    # Matches the stems as adjacent words of a text normalised to words and single spaces.
    pattern: re.Pattern[str]
    # Hashed once: every case looks keywords up in sets, and a dataclass's own __hash__ hashes
    # its fields (a compiled pattern among them) at every lookup.
    _hash: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_hash", hash((self.stems, self.pattern)))

    def __hash__(self) -> int:
        return self._hash

    @classmethod
    def parse(cls, phrase: str) -> Keyword:
        stems = tuple(words_of(phrase))
        if not stems:
            raise KeywordError(f"keyword {phrase!r} has no words")
        words = " ".join(
            re.escape(stem) + ("(?![^ ])" if len(stem) <= _EXACT_STEM_MAX else "[^ ]*")
            for stem in stems
        )
        return cls(stems, re.compile(f"(?<![^ ]){words}"))


class KeywordIndex:
    def __init__(self, keywords: Iterable[Keyword]) -> None:
        self._by_start: dict[str, set[Keyword]] = {}
        for keyword in keywords:
            self._by_start.setdefault(_index_key(keyword.stems[0]), set()).add(keyword)

    def found_in(self, text: str) -> frozenset[Keyword]:
        words = words_of(text)
        normalised = " ".join(words)
        candidates: set[Keyword] = set()
        for word in set(words):
            candidates |= self._by_start.get(_index_key(word), set())
        return frozenset(k for k in candidates if k.pattern.search(normalised))
