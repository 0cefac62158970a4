"""The ranking policy every engine follows, so that they agree on what comes first.

Field weights, which words are too common to require, how many of a query's
words a hit must contain, when a word may be misspelt, and the short text
shown for a hit that matched only by its title.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "FACET_FIELDS",
    "FIELD_BOOSTS",
    "FILTER_FIELDS",
    "FUZZY_MIN_LENGTH",
    "FUZZY_WEIGHT",
    "MAX_BOOST",
    "SNIPPET_CHARS",
    "STOPWORDS",
    "STORED_FIELDS",
    "TEXT_FIELDS",
    "TIE_BREAKER",
    "clamp_boost",
    "fuzzy_allowed",
    "lead",
    "meaningful_words",
    "needed_matches",
]

# How much a match counts in each field, against 1 for the section's own text.
FIELD_BOOSTS = {"title": 2.0, "heading": 3.0, "keywords": 1.5, "body": 1.0, "context": 0.5}
TEXT_FIELDS = tuple(FIELD_BOOSTS)
# What every engine keeps: stored for snippets, counted as facets, and typed filters.
STORED_FIELDS = ("title", "heading", "body")
FACET_FIELDS = {"kind": "kind", "owner": "owner", "tag": "tags"}  # types come from kinds
FILTER_FIELDS = {"kinds": "kind", "types": "type", "owners": "owner", "tags": "tags"}
FUZZY_WEIGHT = 0.4  # a near miss counts for less than the word itself
FUZZY_MIN_LENGTH = 5  # shorter words are too often another word one edit away
TIE_BREAKER = 0.3  # a word found in several fields counts a little more than in one
MAX_BOOST = 16.0  # front-matter search.boost is clamped to [1/16, 16]
SNIPPET_CHARS = 180

# Words that say nothing about what a reader looks for; dropped unless they are all there is.
# (Kept in rows, not one word a line.)
# fmt: off
STOPWORDS = frozenset((
    "a", "an", "and", "are", "as", "at", "be", "by", "can", "do", "does", "for", "from", "how",
    "i", "in", "is", "it", "my", "of", "on", "or", "the", "to", "what", "when", "where",
    "which", "who", "why", "with", "you", "your",
))
# fmt: on


def meaningful_words(words: Sequence[str]) -> list[str]:
    return [w for w in words if w.lower() not in STOPWORDS] or list(words)


def needed_matches(count: int) -> int:
    """How many of ``count`` words a hit must contain: 1 of 2, 2 of 3, 3 of 4 or 5..."""
    return max(1, count * 3 // 4)


def fuzzy_allowed(word: str) -> bool:
    """Whether a typed word may match a word one edit away (long words of letters only).

    Engines also leave out words the index holds as typed: a word that is found
    is taken to be meant, which keeps near misses from crowding out exact hits.
    """
    return len(word) >= FUZZY_MIN_LENGTH and word.isalpha()


def clamp_boost(boost: float) -> float:
    return min(max(boost, 1 / MAX_BOOST), MAX_BOOST)


def lead(text: str) -> str:
    """The start of a text, cut at a word, for results matched by title or heading only."""
    flat = " ".join(text.split())
    if len(flat) <= SNIPPET_CHARS:
        return flat
    return flat[:SNIPPET_CHARS].rsplit(" ", 1)[0] + " …"
