"""The embedded search engine on tantivy: stemmed BM25 with typo tolerance, in memory or on disk.

Each text field is indexed twice: stemmed (``en_stem``, for "deploying" to find
"deployment") and as plain lowercase words (``default``), which typo-tolerant
and prefix matching need, since a misspelt word does not stem to its stem.
"""

from __future__ import annotations

import html
import math
import shutil
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, cast

import tantivy
from tantivy import Occur, Query

from portal.search.documents import HEADING_SEPARATOR, DocType, SearchDoc
from portal.search.engine import SearchError, SearchHit, SearchQuery, SearchResults, no_facets
from portal.search.ranking import (
    FACET_FIELDS,
    FIELD_BOOSTS,
    FILTER_FIELDS,
    FUZZY_WEIGHT,
    STORED_FIELDS,
    TEXT_FIELDS,
    TIE_BREAKER,
    clamp_boost,
    fuzzy_allowed,
    lead,
    meaningful_words,
    needed_matches,
    snippet,
)

__all__ = ["TantivyEngine"]

SCHEMA_VERSION = "1"


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    for name in ("id", "path", "anchor", "ref", "digest", "breadcrumb"):
        builder.add_text_field(name, stored=True, tokenizer_name="raw")
    for name in ("type", "kind", "owner", "tags", "audiences"):
        builder.add_text_field(name, stored=True, fast=True, tokenizer_name="raw")
    for name in TEXT_FIELDS:
        builder.add_text_field(name, stored=name in STORED_FIELDS, tokenizer_name="en_stem")
        builder.add_text_field(f"{name}_words", tokenizer_name="default")
    # The multiplier weight_by_field applies is log2(2 + weight): see _weight.
    builder.add_float_field("weight", stored=False, fast=True)
    return builder.build()


def _analyzer(stem: bool) -> tantivy.TextAnalyzer:
    """The query-side twin of ``en_stem`` (or ``default`` without ``stem``)."""
    builder = tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
    builder = builder.filter(tantivy.Filter.remove_long(40)).filter(tantivy.Filter.lowercase())
    if stem:
        builder = builder.filter(tantivy.Filter.stemmer("english"))
    return builder.build()


def _weight(boost: float) -> float:
    """The stored weight for which tantivy's log2(2 + weight) multiplier equals ``boost``."""
    return math.pow(2.0, clamp_boost(boost)) - 2.0


class TantivyEngine:
    """A :class:`~portal.search.engine.SearchEngine` on tantivy, in memory without ``path``."""

    # Searches take a millisecond or two of CPU, from memory (or a memory-mapped index):
    # the portal answers them on the event loop (see SearchEngine).
    quick = True

    def __init__(self, path: Path | None = None) -> None:
        self._schema = _schema()
        self._stem = _analyzer(stem=True)
        self._words = _analyzer(stem=False)
        self._lock = threading.Lock()
        if path is None:
            self._index = tantivy.Index(self._schema)
        else:
            self._index = self._open(path)
        self._writer: tantivy.IndexWriter | None = None

    def _open(self, path: Path) -> tantivy.Index:
        marker = path / "portal-search-version"
        if path.exists() and (
            not marker.is_file() or marker.read_text(encoding="utf-8") != SCHEMA_VERSION
        ):
            if any(path.iterdir()) and not marker.is_file():
                raise SearchError(f"{path}: not a search index of the portal; refusing to reuse it")
            shutil.rmtree(path)  # an index of an older schema: rebuilt from the model
        path.mkdir(parents=True, exist_ok=True)
        marker.write_text(SCHEMA_VERSION, encoding="utf-8")
        return tantivy.Index(self._schema, str(path), reuse=True)

    # --- indexing -----------------------------------------------------------------------

    def replace_all(self, docs: Iterable[SearchDoc]) -> None:
        with self._lock:
            writer = self._writer_()
            writer.delete_all_documents()
            for doc in docs:
                writer.add_document(self._document(doc))
            self._commit(writer)

    def update(self, removed_ids: Iterable[str], docs: Iterable[SearchDoc]) -> None:
        with self._lock:
            writer = self._writer_()
            for doc_id in removed_ids:
                writer.delete_documents_by_term("id", doc_id)
            for doc in docs:
                writer.delete_documents_by_term("id", doc.id)
                writer.add_document(self._document(doc))
            self._commit(writer)

    def digests(self) -> dict[str, str]:
        searcher = self._index.searcher()
        count = searcher.num_docs
        if not count:
            return {}
        found = searcher.search(Query.all_query(), count, count=False).hits
        out = {}
        for _, address in found:
            doc = searcher.doc(address)
            out[str(doc.get_first("id"))] = str(doc.get_first("digest"))
        return out

    def _writer_(self) -> tantivy.IndexWriter:
        if self._writer is None:
            self._writer = self._index.writer(heap_size=64_000_000)
        return self._writer

    def _commit(self, writer: tantivy.IndexWriter) -> None:
        writer.commit()
        self._index.reload()

    def _document(self, doc: SearchDoc) -> tantivy.Document:
        text = {
            "title": doc.title,
            "heading": doc.heading,
            "keywords": doc.keywords,
            "body": doc.text,
            "context": doc.context,
        }
        fields: dict[str, Any] = {
            "id": doc.id,
            "path": doc.path,
            "anchor": doc.anchor,
            "ref": doc.ref,
            "digest": doc.digest,
            "breadcrumb": doc.breadcrumb,
            "type": doc.type,
            "kind": doc.kind,
            "owner": doc.owner,
            "tags": list(doc.tags),
            "audiences": list(doc.audiences),
            "weight": _weight(doc.boost),
        }
        for name, value in text.items():
            fields[name] = value
            fields[f"{name}_words"] = value
        return tantivy.Document(**fields)

    # --- searching ----------------------------------------------------------------------

    def search(self, query: SearchQuery) -> SearchResults:
        offset = query.offset()
        parsed = query.parsed()
        searcher = self._index.searcher()
        text_query = self._text_query(searcher, parsed.words, parsed.phrases)
        must: list[tuple[Occur, Query]] = [(Occur.Must, text_query or Query.all_query())]
        must.append((Occur.Must, self._permitted(query.audiences)))
        for key, values in parsed.filters.items():
            field = FILTER_FIELDS[key]
            must.append((Occur.Must, self._any_of(field, values)))
        full = Query.boolean_query(must)
        result = searcher.search(
            full, query.limit, count=True, offset=offset, weight_by_field="weight"
        )
        # count=True fills SearchResult.count, which tantivy's type stubs leave out
        total = int(getattr(result, "count", None) or 0)
        marks = self._marks(parsed.words, parsed.phrases) if text_query is not None else None
        hits = []
        for score, address in result.hits:
            doc = searcher.doc(address)
            hits.append(self._hit(doc, score, marks))
        after = offset + len(hits)
        return SearchResults(
            hits=hits,
            total=total,
            facets=self._facets(searcher, full) if query.facets else no_facets(),
            next_cursor=str(after) if after < total else None,
        )

    def suggest(
        self, prefix: str, audiences: frozenset[str], limit: int = 8
    ) -> Sequence[SearchHit]:
        words = self._words.analyze(prefix)
        if not words or not 1 <= limit <= 100:
            return []
        fields = ("title_words", "heading_words", "keywords_words")
        clauses: list[tuple[Occur, Query]] = []
        for word in words[:-1]:
            alternatives = [Query.term_query(self._schema, f, word) for f in fields]
            clauses.append((Occur.Must, Query.disjunction_max_query(alternatives)))
        last = words[-1]
        starts = [
            Query.boost_query(
                Query.fuzzy_term_query(self._schema, f, last, distance=0, prefix=True), boost
            )
            for f, boost in zip(fields, (2.0, 3.0, 1.0), strict=True)
        ]
        clauses.append((Occur.Must, Query.disjunction_max_query(starts, TIE_BREAKER)))
        clauses.append((Occur.Must, self._permitted(audiences)))
        # A page before its own sections: the top section has no anchor.
        page_top = Query.term_query(self._schema, "anchor", "")
        clauses.append((Occur.Should, Query.const_score_query(page_top, 0.5)))
        searcher = self._index.searcher()
        found = searcher.search(
            Query.boolean_query(clauses), limit, count=False, weight_by_field="weight"
        )
        return [self._hit(searcher.doc(address), score, None) for score, address in found.hits]

    def _permitted(self, audiences: frozenset[str]) -> Query:
        if not audiences:
            return Query.empty_query()
        return self._any_of("audiences", audiences)

    def _any_of(self, field: str, values: Iterable[str]) -> Query:
        """A filter: documents with any of ``values`` in ``field``.

        One term query per value rather than tantivy's term-set query, which costs about
        0.3 ms a query whatever the index size (measured on tantivy 0.27): more than the
        rest of a typical search.
        """
        terms = [(Occur.Should, Query.term_query(self._schema, field, v)) for v in sorted(values)]
        return self._const(Query.boolean_query(terms))

    @staticmethod
    def _const(query: Query) -> Query:
        """A filter: it selects documents and adds nothing to their score."""
        return Query.const_score_query(query, 0.0)

    def _text_query(
        self, searcher: tantivy.Searcher, words: Sequence[str], phrases: Sequence[tuple[str, ...]]
    ) -> Query | None:
        meaningful = meaningful_words(words)
        should: list[tuple[Occur, Query]] = []
        for word in meaningful:
            clause = self._word(searcher, word)
            if clause is not None:
                should.append((Occur.Should, clause))
        must: list[tuple[Occur, Query]] = []
        for phrase in phrases:
            clause = self._phrase(self._stem.analyze(" ".join(phrase)))
            if clause is not None:
                must.append((Occur.Must, clause))
        if not should and not must:
            return None
        if should:
            needed = needed_matches(len(should))
            words_query = Query.boolean_query(should, minimum_number_should_match=needed)
            must.append((Occur.Must, words_query))
        return Query.boolean_query(must)

    def _word(self, searcher: tantivy.Searcher, word: str) -> Query | None:
        stems = self._stem.analyze(word)
        if not stems:
            return None
        if len(stems) > 1:  # blue-green, /projects/{id}: its parts next to each other
            return self._phrase(stems)
        stem = stems[0]
        alternatives = [
            Query.boost_query(Query.term_query(self._schema, name, stem), boost)
            for name, boost in FIELD_BOOSTS.items()
        ]
        plain = self._words.analyze(word)
        if len(plain) == 1:  # the word as typed, not only its stem: "paged" is not "pages"
            alternatives += [
                Query.boost_query(Query.term_query(self._schema, f"{name}_words", plain[0]), boost)
                for name, boost in FIELD_BOOSTS.items()
            ]
        exact = Query.disjunction_max_query(alternatives, tie_breaker=TIE_BREAKER)
        if len(plain) != 1 or not fuzzy_allowed(plain[0]) or self._known(searcher, plain[0]):
            return exact
        near = [
            Query.boost_query(
                Query.fuzzy_term_query(self._schema, f"{name}_words", plain[0], distance=1),
                boost * FUZZY_WEIGHT,
            )
            for name, boost in FIELD_BOOSTS.items()
        ]
        return Query.boolean_query(
            [(Occur.Should, exact), (Occur.Should, Query.disjunction_max_query(near, TIE_BREAKER))]
        )

    @staticmethod
    def _known(searcher: tantivy.Searcher, word: str) -> bool:
        return any(searcher.doc_freq(f"{name}_words", word) for name in TEXT_FIELDS)

    def _phrase(self, stems: Sequence[str]) -> Query | None:
        if not stems:
            return None
        alternatives = []
        for name, boost in FIELD_BOOSTS.items():
            if len(stems) == 1:
                inner = Query.term_query(self._schema, name, stems[0])
            else:
                inner = Query.phrase_query(self._schema, name, list(stems))
            alternatives.append(Query.boost_query(inner, boost))
        return Query.disjunction_max_query(alternatives, tie_breaker=TIE_BREAKER)

    def _facets(self, searcher: tantivy.Searcher, query: Query) -> dict[str, dict[str, int]]:
        request = {
            name: {"terms": {"field": field, "size": 100}} for name, field in FACET_FIELDS.items()
        }
        answer = searcher.aggregate(query, request)
        facets: dict[str, dict[str, int]] = {}
        for name in FACET_FIELDS:
            buckets = answer.get(name, {}).get("buckets", [])
            facets[name] = {b["key"]: int(b["doc_count"]) for b in buckets if b["key"]}
        types: dict[str, int] = {}
        for kind, count in facets["kind"].items():
            doc_type = kind if kind in ("page", "operation") else "entity"
            types[doc_type] = types.get(doc_type, 0) + count
        return {"type": types, **facets}

    def _marks(
        self, words: Sequence[str], phrases: Sequence[tuple[str, ...]]
    ) -> tuple[list[str], Callable[[str], str | None]] | None:
        """What marks the query's words in a snippet: the prefixes of words that may
        match (the query's stems, and its words as typed), and which term a found word
        stands for (the index's own stemming, asked once per distinct word)."""
        typed: dict[str, str] = {}  # word as typed, lowercased -> its term
        stems: set[str] = set()
        for word in [*meaningful_words(words), *(w for phrase in phrases for w in phrase)]:
            word_stems = self._stem.analyze(word)
            stems.update(word_stems)
            for plain in self._words.analyze(word):
                typed[plain] = word_stems[0] if len(word_stems) == 1 else plain
        if not stems and not typed:
            return None
        known: dict[str, str | None] = {}

        def term_of(word: str) -> str | None:
            if word in typed:
                return typed[word]
            if word not in known:
                stemmed = self._stem.analyze(word)
                known[word] = stemmed[0] if len(stemmed) == 1 and stemmed[0] in stems else None
            return known[word]

        return sorted(stems | set(typed), key=len, reverse=True), term_of

    def _hit(
        self,
        doc: tantivy.Document,
        score: float,
        marks: tuple[list[str], Callable[[str], str | None]] | None,
    ) -> SearchHit:
        body = str(doc.get_first("body") or "")
        marked = snippet(body, *marks) if marks is not None else ""
        if not marked:
            marked = html.escape(lead(body))
        breadcrumb = str(doc.get_first("breadcrumb") or "")
        return SearchHit(
            id=str(doc.get_first("id")),
            type=cast(DocType, doc.get_first("type")),
            kind=str(doc.get_first("kind")),
            title=str(doc.get_first("title") or ""),
            heading_path=tuple(breadcrumb.split(HEADING_SEPARATOR)) if breadcrumb else (),
            snippet=marked,
            path=str(doc.get_first("path") or ""),
            anchor=str(doc.get_first("anchor") or ""),
            ref=str(doc.get_first("ref") or ""),
            score=0.0 if math.isnan(score) else float(score),
        )
