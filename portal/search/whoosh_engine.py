"""The search engine on whoosh (``whoosh-reloaded``): pure Python, in memory or on disk.

It follows the same ranking policy as the tantivy engine (``portal.search.ranking``):
each text field indexed stemmed and as plain words, field boosts, typo tolerance
on long words, most-of-the-words matching, and the page's ``search.boost`` as a
multiplier of the score. Whoosh is far slower to index than tantivy; it is here
because the product design names it and it needs no compiled code.
"""

from __future__ import annotations

import html
import itertools
import shutil
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, cast

# whoosh ships without type information; the calls below are checked by the tests.
from whoosh import (  # type: ignore[import-untyped]
    analysis,
    fields,
    highlight,
    scoring,
    sorting,
    writing,
)
from whoosh import query as wq
from whoosh.columns import NumericColumn  # type: ignore[import-untyped]
from whoosh.filedb.filestore import FileStorage, RamStorage  # type: ignore[import-untyped]
from whoosh.matching import DisjunctionMaxMatcher  # type: ignore[import-untyped]

from portal.search.documents import HEADING_SEPARATOR, DocType, SearchDoc
from portal.search.engine import SearchError, SearchHit, SearchQuery, SearchResults, no_facets
from portal.search.ranking import (
    FACET_FIELDS,
    FIELD_BOOSTS,
    FILTER_FIELDS,
    FUZZY_WEIGHT,
    SNIPPET_CHARS,
    STORED_FIELDS,
    TEXT_FIELDS,
    TIE_BREAKER,
    clamp_boost,
    fuzzy_allowed,
    lead,
    meaningful_words,
    needed_matches,
)

__all__ = ["WhooshEngine"]

SCHEMA_VERSION = "1"
MARKER = "portal-search-version"
# Words are runs of letters and digits, as tantivy's simple tokenizer makes them.
_WORD = r"[^\W_]+"
MAX_COMBINATIONS = 64  # "most of the words" beyond this many word sets: all of them


def _analyzer(stem: bool) -> Any:
    chain = analysis.RegexTokenizer(_WORD) | analysis.LowercaseFilter()
    return chain | analysis.StemFilter(lang="en") if stem else chain


def _schema() -> Any:
    stemmed, words = _analyzer(stem=True), _analyzer(stem=False)
    spec: dict[str, Any] = {
        "id": fields.ID(stored=True, unique=True),
        "type": fields.ID(stored=True),
        "kind": fields.ID(stored=True, sortable=True),
        "owner": fields.ID(stored=True, sortable=True),
        "tags": fields.KEYWORD(stored=True, commas=True),
        "audiences": fields.KEYWORD(commas=True),
        "weight": fields.COLUMN(NumericColumn("f", default=1.0)),
    }
    for name in ("path", "anchor", "ref", "digest", "breadcrumb"):
        spec[name] = fields.STORED()
    for name in TEXT_FIELDS:
        spec[name] = fields.TEXT(analyzer=stemmed, stored=name in STORED_FIELDS)
        spec[f"{name}_words"] = fields.TEXT(analyzer=words)
    return fields.Schema(**spec)


class _Boosted(scoring.BM25F):  # type: ignore[misc]
    """BM25F, with each document's score multiplied by its ``weight`` column."""

    use_final = True

    def __init__(self) -> None:
        super().__init__()
        self._columns: tuple[Any, Any] | None = None  # (reader, its weight column)

    def final(self, searcher: Any, docnum: int, score: float) -> float:
        reader = searcher.reader()
        if self._columns is None or self._columns[0] is not reader:
            self._columns = (reader, reader.column_reader("weight"))
        return float(score) * float(self._columns[1][docnum])


class _DisMaxMatcher(DisjunctionMaxMatcher):  # type: ignore[misc]
    """The best field's score plus a little of the others', as tantivy's DisjunctionMaxQuery.

    whoosh's own matcher takes the larger score of its two sides even when they
    stand on different documents, and drops the tie-breaker.
    """

    def __init__(self, a: Any, b: Any, tiebreak: float = TIE_BREAKER) -> None:
        super().__init__(a, b, tiebreak=tiebreak)

    def score(self) -> float:
        a, b = self.a, self.b
        if not a.is_active() or (b.is_active() and b.id() < a.id()):
            return float(b.score())
        if not b.is_active() or a.id() < b.id():
            return float(a.score())
        scores = sorted((float(a.score()), float(b.score())))
        return scores[1] + float(self.tiebreak) * scores[0]


class _DisMax(wq.DisjunctionMax):  # type: ignore[misc]
    def __init__(self, subqueries: list[Any]) -> None:
        super().__init__(subqueries, tiebreak=TIE_BREAKER)

    def _matcher(self, subs: Any, searcher: Any, context: Any) -> Any:
        reader = searcher.reader()
        return self._tree_matcher(
            subs, _DisMaxMatcher, searcher, context, lambda q: q.estimate_size(reader)
        )


class _MarkFormatter(highlight.Formatter):  # type: ignore[misc]
    """Snippet HTML: text escaped, matched words in ``<mark>``."""

    between = " … "

    def _text(self, text: str) -> str:
        return html.escape(text)

    def format_token(self, text: str, token: Any, replace: bool = False) -> str:
        return f"<mark>{html.escape(highlight.get_text(text, token, replace))}</mark>"


class WhooshEngine:
    """A :class:`~portal.search.engine.SearchEngine` on whoosh, in memory without ``path``."""

    def __init__(self, path: Path | None = None) -> None:
        self._schema = _schema()
        self._stem = _analyzer(stem=True)
        self._words = _analyzer(stem=False)
        self._lock = threading.Lock()
        self._weighting = _Boosted()
        if path is None:
            self._index = RamStorage().create_index(self._schema)
        else:
            self._index = self._open(path)
        self._highlighter = highlight.Highlighter(
            fragmenter=highlight.ContextFragmenter(maxchars=SNIPPET_CHARS, surround=60),
            formatter=_MarkFormatter(),
        )

    def _open(self, path: Path) -> Any:
        marker = path / MARKER
        if path.exists() and (
            not marker.is_file() or marker.read_text(encoding="utf-8") != SCHEMA_VERSION
        ):
            if any(path.iterdir()) and not marker.is_file():
                raise SearchError(f"{path}: not a search index of the portal; refusing to reuse it")
            shutil.rmtree(path)  # an index of an older schema: rebuilt from the model
        path.mkdir(parents=True, exist_ok=True)
        storage = FileStorage(str(path))
        if marker.is_file():
            return storage.open_index()
        index = storage.create_index(self._schema)
        marker.write_text(SCHEMA_VERSION, encoding="utf-8")
        return index

    # --- indexing -----------------------------------------------------------------------

    def replace_all(self, docs: Iterable[SearchDoc]) -> None:
        with self._lock:
            writer = self._index.writer(limitmb=256)
            for doc in docs:
                writer.add_document(**self._fields(doc))
            writer.commit(mergetype=writing.CLEAR)  # drops every segment written before

    def update(self, removed_ids: Iterable[str], docs: Iterable[SearchDoc]) -> None:
        with self._lock:
            writer = self._index.writer()
            for doc_id in removed_ids:
                writer.delete_by_term("id", doc_id)
            for doc in docs:
                writer.update_document(**self._fields(doc))
            writer.commit()

    def digests(self) -> dict[str, str]:
        with self._index.searcher() as searcher:
            return {f["id"]: f["digest"] for f in searcher.all_stored_fields()}

    @staticmethod
    def _fields(doc: SearchDoc) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": doc.id,
            "type": doc.type,
            "kind": doc.kind,
            "owner": doc.owner,
            "tags": ",".join(doc.tags),
            "audiences": ",".join(doc.audiences),
            "weight": clamp_boost(doc.boost),
            "path": doc.path,
            "anchor": doc.anchor,
            "ref": doc.ref,
            "digest": doc.digest,
            "breadcrumb": doc.breadcrumb,
        }
        text = {
            "title": doc.title,
            "heading": doc.heading,
            "keywords": doc.keywords,
            "body": doc.text,
            "context": doc.context,
        }
        for name, value in text.items():
            out[name] = value
            out[f"{name}_words"] = value
        return out

    # --- searching ----------------------------------------------------------------------

    def search(self, query: SearchQuery) -> SearchResults:
        offset = query.offset()
        parsed = query.parsed()
        filters = [self._permitted(query.audiences)]
        for key, values in parsed.filters.items():
            field = FILTER_FIELDS[key]
            filters.append(query_or([wq.Term(field, v) for v in values]))
        allowed = wq.And(filters)
        groups = {
            name: sorting.FieldFacet(field, allow_overlap=name == "tag")
            for name, field in FACET_FIELDS.items()
        }
        with self._index.searcher(weighting=self._weighting) as searcher:
            text_query = self._text_query(searcher.reader(), parsed.words, parsed.phrases)
            results = searcher.search(
                text_query or wq.Every(),
                limit=offset + query.limit,
                filter=allowed,
                # Grouping collects every match, which also makes len(results) exact
                # and the order stable: kept even when no facets are wanted.
                groupedby=groups,
                maptype=sorting.Count,
                terms=text_query is not None,
            )
            results.highlighter = self._highlighter
            total = len(results)
            hits = [self._hit(hit, text_query is not None) for hit in results[offset:]]
            facets = self._facets(results) if query.facets else no_facets()
        after = offset + len(hits)
        return SearchResults(
            hits=hits,
            total=total,
            facets=facets,
            next_cursor=str(after) if after < total else None,
        )

    def suggest(
        self, prefix: str, audiences: frozenset[str], limit: int = 8
    ) -> Sequence[SearchHit]:
        words = [token.text for token in self._words(prefix)]
        if not words or not 1 <= limit <= 100:
            return []
        names = ("title_words", "heading_words", "keywords_words")
        clauses = [wq.Or([wq.Term(name, word) for name in names]) for word in words[:-1]]
        starts = [
            wq.Prefix(name, words[-1], boost=boost)
            for name, boost in zip(names, (2.0, 3.0, 1.0), strict=True)
        ]
        clauses.append(_DisMax(starts))
        with self._index.searcher(weighting=self._weighting) as searcher:
            found = searcher.search(
                wq.And(clauses), limit=limit * 4, filter=self._permitted(audiences)
            )
            # A page before its own sections: the top section has no anchor.
            ranked = sorted(found, key=lambda hit: -(hit.score + (0 if hit["anchor"] else 0.5)))
            return [self._hit(hit, False) for hit in ranked[:limit]]

    @staticmethod
    def _permitted(audiences: frozenset[str]) -> Any:
        if not audiences:
            return wq.NullQuery
        return query_or([wq.Term("audiences", a) for a in sorted(audiences)])

    def _text_query(
        self, reader: Any, words: Sequence[str], phrases: Sequence[tuple[str, ...]]
    ) -> Any:
        clauses = [self._word(reader, w) for w in meaningful_words(words)]
        clauses = [c for c in clauses if c is not None]
        must = [self._phrase(self._stems(" ".join(p))) for p in phrases]
        must = [c for c in must if c is not None]
        if not clauses and not must:
            return None
        if clauses:
            needed = needed_matches(len(clauses))
            scored = query_or(clauses)
            if needed > 1:
                # whoosh's Or has no minimum-match: require some set of `needed` words,
                # and score by every word found.
                sets = list(
                    itertools.islice(itertools.combinations(clauses, needed), MAX_COMBINATIONS + 1)
                )
                if len(sets) > MAX_COMBINATIONS:
                    sets = [tuple(clauses)]
                scored = wq.Require(scored, query_or([wq.And(s) for s in sets]))
            must.append(scored)
        return must[0] if len(must) == 1 else wq.And(must)

    def _stems(self, text: str) -> list[str]:
        return [token.text for token in self._stem(text)]

    def _word(self, reader: Any, word: str) -> Any:
        stems = self._stems(word)
        if not stems:
            return None
        if len(stems) > 1:  # blue-green, /projects/{id}: its parts next to each other
            return self._phrase(stems)
        alternatives = [wq.Term(name, stems[0], boost=b) for name, b in FIELD_BOOSTS.items()]
        plain = [token.text for token in self._words(word)]
        if len(plain) == 1:  # the word as typed, not only its stem: "paged" is not "pages"
            alternatives += [
                wq.Term(f"{name}_words", plain[0], boost=b) for name, b in FIELD_BOOSTS.items()
            ]
        exact = _DisMax(alternatives)
        if len(plain) != 1 or not fuzzy_allowed(plain[0]) or self._known(reader, plain[0]):
            return exact
        near = [
            wq.Or(
                [
                    wq.FuzzyTerm(f"{name}_words", plain[0], boost=b * FUZZY_WEIGHT, maxdist=1),
                    *(
                        wq.Term(f"{name}_words", swapped, boost=b * FUZZY_WEIGHT)
                        for swapped in _transpositions(plain[0])
                    ),
                ]
            )
            for name, b in FIELD_BOOSTS.items()
        ]
        return wq.Or([exact, _DisMax(near)])

    @staticmethod
    def _known(reader: Any, word: str) -> bool:
        return any(reader.doc_frequency(f"{name}_words", word) for name in TEXT_FIELDS)

    @staticmethod
    def _phrase(stems: Sequence[str]) -> Any:
        if not stems:
            return None
        alternatives = [
            wq.Term(name, stems[0], boost=boost)
            if len(stems) == 1
            else wq.Phrase(name, list(stems), boost=boost)
            for name, boost in FIELD_BOOSTS.items()
        ]
        return _DisMax(alternatives)

    @staticmethod
    def _facets(results: Any) -> dict[str, dict[str, int]]:
        facets = {
            name: {str(k): int(v) for k, v in results.groups(name).items() if k}
            for name in FACET_FIELDS
        }
        types: dict[str, int] = {}
        for kind, count in facets["kind"].items():
            doc_type = kind if kind in ("page", "operation") else "entity"
            types[doc_type] = types.get(doc_type, 0) + count
        return {"type": types, **facets}

    def _hit(self, hit: Any, highlighted: bool) -> SearchHit:
        body = str(hit.get("body") or "")
        snippet = ""
        if highlighted and body:
            snippet = " ".join(str(hit.highlights("body", top=1)).split())
        if not snippet:
            snippet = html.escape(lead(body))
        breadcrumb = str(hit.get("breadcrumb") or "")
        return SearchHit(
            id=str(hit["id"]),
            type=cast(DocType, hit["type"]),
            kind=str(hit["kind"]),
            title=str(hit.get("title") or ""),
            heading_path=tuple(breadcrumb.split(HEADING_SEPARATOR)) if breadcrumb else (),
            snippet=snippet,
            path=str(hit.get("path") or ""),
            anchor=str(hit.get("anchor") or ""),
            ref=str(hit.get("ref") or ""),
            score=float(hit.score or 0.0),
        )


def _transpositions(word: str) -> set[str]:
    """The word with two neighbouring letters swapped: one edit for tantivy, two for whoosh."""
    return {word[:i] + word[i + 1] + word[i] + word[i + 2 :] for i in range(len(word) - 1)} - {word}


def query_or(subqueries: list[Any]) -> Any:
    return subqueries[0] if len(subqueries) == 1 else wq.Or(subqueries)
