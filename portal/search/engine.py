"""What every search engine offers the portal, and the query language of the search box.

An engine indexes :class:`~portal.search.documents.SearchDoc` records and
answers :class:`SearchQuery`. The reader's audiences are part of the query
and each engine applies them inside its own query, so that totals and facet
counts only ever count what the reader may see.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from portal.exceptions import PortalError
from portal.search.documents import DocType, SearchDoc

__all__ = [
    "FACETS",
    "FILTER_KEYS",
    "MAX_LIMIT",
    "ParsedQuery",
    "SearchEngine",
    "SearchError",
    "SearchHit",
    "SearchQuery",
    "SearchResults",
    "no_facets",
    "normalize_owner",
    "parse_query",
]

MAX_LIMIT = 100
FACETS = ("type", "kind", "owner", "tag")


def no_facets() -> dict[str, dict[str, int]]:
    """Every facet, with nothing counted (no results, or counting not asked for)."""
    return {name: {} for name in FACETS}


# Filters a reader may type in the box: kind:api owner:team-x tag:payments type:page
FILTER_KEYS = {"kind": "kinds", "type": "types", "owner": "owners", "tag": "tags"}


class SearchError(PortalError):
    """A search request that cannot be answered as given (bad limit, cursor...)."""


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    words: tuple[str, ...] = ()
    phrases: tuple[tuple[str, ...], ...] = ()
    filters: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.words and not self.phrases


_TOKEN = re.compile(
    r'(?P<key>\b[a-z]+):(?:"(?P<qvalue>[^"]*)"?|(?P<value>\S*))|"(?P<phrase>[^"]*)"?|(?P<word>\S+)'
)


def parse_query(text: str) -> ParsedQuery:
    """Split what a reader typed into plain words, "quoted phrases" and ``key:value`` filters.

    Only the keys of :data:`FILTER_KEYS` are filters; any other ``a:b`` stays a
    word (an entity ref such as ``group:default/sre`` is searched as text). An
    unclosed quote runs to the end of the text.
    """
    words: list[str] = []
    phrases: list[tuple[str, ...]] = []
    filters: dict[str, list[str]] = {}
    for match in _TOKEN.finditer(text):
        key = match.group("key")
        if key is not None:
            value = (
                match.group("qvalue") if match.group("qvalue") is not None else match.group("value")
            )
            if key.lower() in FILTER_KEYS:
                if value:  # "kind:" alone, half typed, filters nothing
                    filters.setdefault(FILTER_KEYS[key.lower()], []).append(value)
            elif value:
                words.append(match.group(0).strip('"'))
        elif match.group("phrase") is not None:
            phrase = tuple(match.group("phrase").split())
            if len(phrase) == 1:
                words.append(phrase[0])
            elif phrase:
                phrases.append(phrase)
        else:
            words.append(match.group("word"))
    return ParsedQuery(tuple(words), tuple(phrases), {k: tuple(v) for k, v in filters.items()})


def normalize_owner(value: str) -> str:
    """``team-x`` and ``group:team-x`` mean ``group:default/team-x``, as in descriptors."""
    value = value.strip().lower()
    kind, _, rest = value.rpartition(":")
    namespace, _, name = rest.rpartition("/")
    return f"{kind or 'group'}:{namespace or 'default'}/{name}"


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """One search: the text as typed, who is asking, and filters chosen outside the box.

    ``audiences`` are the audiences the reader may see; nothing outside them is
    found or counted. Filters typed in ``text`` add to the ones given here.
    ``facets=False``: the caller shows no facets, so none are counted (every
    facet comes back empty; hits and total are the same).
    """

    text: str
    audiences: frozenset[str]
    kinds: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    owners: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    limit: int = 20
    cursor: str | None = None
    facets: bool = True

    def parsed(self) -> ParsedQuery:
        """The text parsed, with this query's own filters merged in and owners normalized."""
        typed = parse_query(self.text)
        merged = {
            "kinds": (*self.kinds, *typed.filters.get("kinds", ())),
            "types": (*self.types, *typed.filters.get("types", ())),
            "owners": (*self.owners, *typed.filters.get("owners", ())),
            "tags": (*self.tags, *typed.filters.get("tags", ())),
        }
        merged["kinds"] = tuple(k.lower() for k in merged["kinds"])
        merged["types"] = tuple(t.lower() for t in merged["types"])
        merged["owners"] = tuple(normalize_owner(o) for o in merged["owners"])
        return ParsedQuery(typed.words, typed.phrases, {k: v for k, v in merged.items() if v})

    def offset(self) -> int:
        """Where this page of results starts, from the cursor a previous page returned."""
        if not 1 <= self.limit <= MAX_LIMIT:
            raise SearchError(f"limit must be between 1 and {MAX_LIMIT}; got {self.limit}")
        if self.cursor is None or self.cursor == "":
            return 0
        if not self.cursor.isdigit() or len(self.cursor) > 9:
            raise SearchError(
                f"cursor {self.cursor!r} is not one a search returned; "
                "leave it out to start from the first result"
            )
        return int(self.cursor)


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One result: ``snippet`` is HTML, escaped except for ``<mark>`` around matched words."""

    id: str
    type: DocType
    kind: str
    title: str
    heading_path: tuple[str, ...]
    snippet: str
    path: str
    anchor: str
    ref: str
    score: float


@dataclass(frozen=True, slots=True)
class SearchResults:
    hits: list[SearchHit]
    total: int
    # facet name (FACETS) -> value -> how many permitted results have it
    facets: dict[str, dict[str, int]]
    next_cursor: str | None = None


class SearchEngine(Protocol):
    """An index of search documents. Implementations: ``portal.search.tantivy_engine``.

    An engine that answers from this process's memory in a few milliseconds, with no
    I/O, may say so with a class attribute ``quick = True``: the portal then runs its
    searches on the event loop instead of handing each to a worker thread (under the
    GIL, the hand-over costs more than such a search). Engines that wait on a server
    or take longer leave it out.
    """

    def replace_all(self, docs: Iterable[SearchDoc]) -> None:
        """Index exactly ``docs``, dropping everything indexed before."""

    def update(self, removed_ids: Iterable[str], docs: Iterable[SearchDoc]) -> None:
        """Drop ``removed_ids``, and add ``docs`` in place of any with the same ids."""

    def digests(self) -> dict[str, str]:
        """The id and digest of every indexed document (see ``documents.changes``)."""

    def search(self, query: SearchQuery) -> SearchResults:
        """Ranked, permitted hits for one page of results, with totals and facet counts."""

    def suggest(
        self, prefix: str, audiences: frozenset[str], limit: int = 8
    ) -> Sequence[SearchHit]:
        """Titles and headings that start with what the reader has typed so far."""
