"""The ranking policy every engine follows, so that they agree on what comes first.

Field weights, which words are too common to require, how many of a query's
words a hit must contain, when a word may be misspelt, and the short text
shown for a hit that matched only by its title.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence

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
    "snippet",
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


def snippet(text: str, prefixes: Sequence[str], term_of: Callable[[str], str | None]) -> str:
    """The stretch of ``text`` (about SNIPPET_CHARS) holding the most distinct matched
    terms, as HTML: escaped, matched words in ``<mark>``, runs of spaces made one; ""
    when nothing matches.

    Words that may match are those starting with one of ``prefixes`` (lowercase: the
    query's stems and words as typed), found with ``str.find``, which is many times
    faster than a regular expression over the whole text; ``term_of`` says which
    query term such a word (lowercased) stands for, or None when it only shares the
    prefix ("deployable" is not "deploy").
    """
    low = text.lower()
    if len(low) != len(text):  # lowercasing changed the length: positions would shift
        low = text
    found: dict[int, tuple[int, str]] = {}  # start -> (end, term)
    for prefix in prefixes:
        at = low.find(prefix)
        while at != -1 and len(found) < _MAX_MARKS:
            if at not in found and (at == 0 or not low[at - 1].isalnum()):
                word_end = _WORD_REST.match(low, at + len(prefix))
                end = word_end.end() if word_end else at + len(prefix)
                term = term_of(low[at:end])
                if term is not None:
                    found[at] = (end, term)
            at = low.find(prefix, at + 1)
    if not found:
        return ""
    marks = sorted((start, end, term) for start, (end, term) in found.items())
    # The window that starts at a match and holds the most distinct terms (then the
    # most matches; the earliest wins a tie).
    best, best_score = 0, (0, 0)
    counts: dict[str, int] = {}  # the terms of marks[i:j], the window starting at i
    j = 0
    for i, (start, _end, term) in enumerate(marks):
        while j < len(marks) and marks[j][1] - start <= SNIPPET_CHARS:
            counts[marks[j][2]] = counts.get(marks[j][2], 0) + 1
            j += 1
        if j > i:
            score = (len(counts), j - i)
            if score > best_score:
                best, best_score = i, score
            counts[term] -= 1
            if not counts[term]:
                del counts[term]
        else:  # a word longer than the window: the next window starts after it
            j = i + 1
    first, first_end = marks[best][0], marks[best][1]
    # A little of what comes before the first match (more when the text ends soon),
    # from the start of a word, and up to the end of a word.
    begin = max(0, min(first - SNIPPET_CHARS // 4, len(text) - SNIPPET_CHARS))
    while 0 < begin < first and not text[begin - 1].isspace():
        begin += 1
    end = min(len(text), begin + SNIPPET_CHARS)
    while first_end < end < len(text) and not text[end].isspace():
        end -= 1
    end = max(end, first_end)
    parts: list[str] = []
    at = begin
    for start, stop, _term in marks:
        if start < at or stop > end:
            continue
        parts.append(html.escape(text[at:start]))
        parts.append(f"<mark>{html.escape(text[start:stop])}</mark>")
        at = stop
    parts.append(html.escape(text[at:end]))
    return _SPACES.sub(" ", "".join(parts)).strip()


_MAX_MARKS = 200  # a long text's matches beyond these are not looked at
_WORD_REST = re.compile(r"[^\W_]*")
_SPACES = re.compile(r"\s+")
