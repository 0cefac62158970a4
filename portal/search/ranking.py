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


def snippet(text: str, candidates: re.Pattern[str], term_of: Callable[[str], str | None]) -> str:
    """The stretch of ``text`` (about SNIPPET_CHARS) holding the most distinct matched
    terms, as HTML: escaped, matched words in ``<mark>``; "" when nothing matches.

    ``candidates`` finds the words that may match (for speed, in one scan of the
    text); ``term_of`` says which query term a found word (lowercased) stands for, or
    None when it is not a match after all (a longer word that shares a prefix).
    """
    flat = " ".join(text.split())
    found: list[tuple[int, int, str]] = []
    for match in candidates.finditer(flat):
        term = term_of(match.group(0).lower())
        if term is not None:
            found.append((match.start(), match.end(), term))
            if len(found) >= _MAX_MARKS:
                break
    if not found:
        return ""
    # The window that starts at a match and holds the most distinct terms (then the
    # most matches; the earliest wins a tie).
    best, best_score = 0, (0, 0)
    counts: dict[str, int] = {}  # the terms of found[i:j], the window starting at i
    j = 0
    for i, (start, _end, term) in enumerate(found):
        while j < len(found) and found[j][1] - start <= SNIPPET_CHARS:
            counts[found[j][2]] = counts.get(found[j][2], 0) + 1
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
    first = found[best][0]
    # A little of what comes before the first match (more when the text ends soon),
    # from the start of a word.
    begin = max(0, min(first - SNIPPET_CHARS // 4, len(flat) - SNIPPET_CHARS))
    if begin:
        space = flat.find(" ", begin, first)
        begin = space + 1 if space != -1 else first
    end = min(len(flat), begin + SNIPPET_CHARS)
    if end < len(flat):
        space = flat.rfind(" ", max(first, begin), end)
        end = space if space > found[best][1] else max(end, found[best][1])
    parts: list[str] = []
    at = begin
    for start, stop, _term in found:
        if start < at or stop > end:
            continue
        parts.append(html.escape(flat[at:start]))
        parts.append(f"<mark>{html.escape(flat[start:stop])}</mark>")
        at = stop
    parts.append(html.escape(flat[at:end]))
    return "".join(parts)


_MAX_MARKS = 200  # a long text's matches beyond these are not looked at
