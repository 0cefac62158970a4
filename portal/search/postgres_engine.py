"""PostgreSQL full-text search, for deployments where several portal replicas share one index.

The documents live in one table with two weighted ``tsvector`` columns, each
with a GIN index: ``tsv`` holds English stems (``deploying`` finds
``deployment``) and ``words`` the words as written, which the ranking policy
needs to prefer a word as typed and to forgive typos. Field weights follow
``portal.search.ranking``: heading A, title and keywords B, text C, context D.
A word's score is ``ts_rank`` times its inverse document frequency, taken from
vocabulary tables kept up to date as documents come and go; a typo is forgiven
by looking its neighbours up in the vocabulary through a ``pg_trgm`` index.
The reader's audiences, the filters and the facet counts are all in the SQL.
"""

from __future__ import annotations

import html
import math
import queue
import re
import threading
import weakref
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

import psycopg
from psycopg import sql

from portal.search.documents import HEADING_SEPARATOR, DocType, SearchDoc
from portal.search.engine import SearchError, SearchHit, SearchQuery, SearchResults, no_facets
from portal.search.ranking import (
    FIELD_BOOSTS,
    FUZZY_WEIGHT,
    TIE_BREAKER,
    clamp_boost,
    fuzzy_allowed,
    lead,
    meaningful_words,
    needed_matches,
)

__all__ = ["PostgresEngine"]

SCHEMA_VERSION = "1"
_NAME = re.compile(r"[a-z_][a-z0-9_]{0,39}")
_WORD = re.compile(r"[^\W_]+")
# ts_rank's weights in label order D, C, B, A: context, text, title and keywords, heading.
_TOP = FIELD_BOOSTS["heading"]
WEIGHTS = [
    FIELD_BOOSTS["context"] / _TOP,
    FIELD_BOOSTS["body"] / _TOP,
    FIELD_BOOSTS["title"] / _TOP,
    1.0,
]
SUGGEST_WEIGHTS = [0.0, 0.0, FIELD_BOOSTS["title"] / _TOP, 1.0]
PAGE_TOP_BONUS = 0.2  # in suggestions, a page before its own sections
MAX_NEAR_WORDS = 8  # vocabulary words a typo may stand for
# fmt: off
_COLUMNS = (
    "id", "type", "kind", "title", "heading", "breadcrumb", "keywords", "body", "context", "path",
    "anchor", "ref", "owner", "tags", "audiences", "digest", "boost",
)
# fmt: on
# The vocabularies (stems, and words as written) and the column each counts.
_VOCABULARIES = {"lexemes": "tsv", "vocabulary": "words"}
_FILTERS = {"kinds": "kind", "types": "type", "owners": "owner"}


def _vector(config: str) -> str:
    fields = (("heading", "A"), ("title", "B"), ("keywords", "B"), ("body", "C"), ("context", "D"))
    return " || ".join(
        f"setweight(to_tsvector('{config}', {name}), '{label}')" for name, label in fields
    )


_TABLES = """
CREATE TABLE {docs} (
    id text PRIMARY KEY,
    type text NOT NULL, kind text NOT NULL, title text NOT NULL, heading text NOT NULL,
    breadcrumb text NOT NULL, keywords text NOT NULL, body text NOT NULL, context text NOT NULL,
    path text NOT NULL, anchor text NOT NULL, ref text NOT NULL, owner text NOT NULL,
    tags text[] NOT NULL, audiences text[] NOT NULL, digest text NOT NULL, boost real NOT NULL,
    tsv tsvector GENERATED ALWAYS AS ({stems}) STORED,
    words tsvector GENERATED ALWAYS AS ({words}) STORED
);
CREATE INDEX {docs_tsv} ON {docs} USING gin (tsv);
CREATE INDEX {docs_words} ON {docs} USING gin (words);
CREATE INDEX {docs_audiences} ON {docs} USING gin (audiences);
CREATE TABLE {lexemes} (word text PRIMARY KEY, ndoc integer NOT NULL);
CREATE TABLE {vocabulary} (word text PRIMARY KEY, ndoc integer NOT NULL);
CREATE INDEX {vocabulary_trgm} ON {vocabulary} USING gin (word {trgm}.gin_trgm_ops);
"""


@dataclass(frozen=True, slots=True)
class _Term:
    """One word or phrase of a query, as tsquery text with the weight of a match."""

    stems: str  # matched against tsv; "" when the word is only stop words
    stems_idf: float
    words: str = ""  # matched against words; "" for phrases
    words_idf: float = 0.0
    near: str = ""  # vocabulary words one edit away, for a word not in the index
    near_idf: float = 0.0


def _idf(total: int, ndoc: int) -> float:
    """BM25's inverse document frequency."""
    return math.log(1 + (total - ndoc + 0.5) / (ndoc + 0.5))


def _one_edit(a: str, b: str) -> bool:
    """Whether ``b`` is ``a`` with one letter changed, added, dropped or swapped with the next."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    start = 0
    while start < min(len(a), len(b)) and a[start] == b[start]:
        start += 1
    if len(a) == len(b):
        if a[start + 1 :] == b[start + 1 :]:
            return True
        return a[start : start + 2] == b[start + 1 : start + 2] + b[start : start + 1] and (
            a[start + 2 :] == b[start + 2 :]
        )
    longer, shorter = (a, b) if len(a) > len(b) else (b, a)
    return longer[start + 1 :] == shorter[start:]


def _swaps(word: str) -> list[str]:
    return [word[:i] + word[i + 1] + word[i] + word[i + 2 :] for i in range(len(word) - 1)]


def _any(parts: Iterable[str]) -> str:
    return " | ".join(f"({p})" for p in parts if p)


def _conninfo(url: str) -> str:
    """A libpq URL; SQLAlchemy's ``postgresql+psycopg://`` spelling is accepted too."""
    return re.sub(r"^postgres(?:ql)?\+\w+://", "postgresql://", url)


class _Pool:
    """A few autocommit connections, reused; one is made whenever none is free."""

    def __init__(self, url: str, size: int) -> None:
        self._url = url
        self._idle: queue.LifoQueue[psycopg.Connection[Any]] = queue.LifoQueue(maxsize=size)

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        try:
            conn = self._idle.get_nowait()
        except queue.Empty:
            conn = psycopg.connect(self._url, autocommit=True)
        try:
            yield conn
        finally:
            if conn.closed or conn.broken or conn.info.transaction_status != 0:
                conn.close()
            else:
                try:
                    self._idle.put_nowait(conn)
                except queue.Full:
                    conn.close()

    def close(self) -> None:
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return


class PostgresEngine:
    """A :class:`~portal.search.engine.SearchEngine` on PostgreSQL full-text search.

    ``index`` names the index; its tables are ``<index>_docs`` and two vocabulary
    tables in ``schema``, created on first use. Several engines (in several
    processes) may share one index: writes take a lock in the database.
    """

    def __init__(
        self, url: str, index: str = "portal", schema: str = "portal_search", pool_size: int = 8
    ) -> None:
        for what, name in (("index", index), ("schema", schema)):
            if not _NAME.fullmatch(name):
                raise SearchError(
                    f"search {what} name {name!r} is not valid (expected lowercase letters, "
                    "digits and underscores, starting with a letter, e.g. portal_search)"
                )
        self._pool = _Pool(_conninfo(url), pool_size)
        self._finalizer = weakref.finalize(self, self._pool.close)
        self._lock = threading.Lock()
        self._schema = schema
        self._index = index
        self._key = f"portal-search:{schema}.{index}"
        self._names = {
            name: sql.Identifier(schema, f"{index}_{name}")
            for name in ("docs", "lexemes", "vocabulary", "meta")
        }
        for name in ("docs_tsv", "docs_words", "docs_audiences", "vocabulary_trgm"):
            self._names[name] = sql.Identifier(f"{index}_{name}")
        try:
            self._trgm = self._create()
        except psycopg.OperationalError as error:
            raise SearchError(f"cannot reach the search database: {error}".strip()) from None

    def close(self) -> None:
        """Close the connections this engine holds (also done when it is collected)."""
        self._finalizer()

    def _sql(self, template: str, **extra: sql.Composable) -> sql.Composed:
        return sql.SQL(template).format(**self._names, **extra)

    # --- the tables ---------------------------------------------------------------------

    def _create(self) -> sql.Identifier:
        """Create the tables unless they exist; rebuild them if an older version made them."""
        with self._pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('portal-search:create'))")
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            row = conn.execute(
                "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n "
                "ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'"
            ).fetchone()
            trgm = sql.Identifier(str(cast(tuple[Any, ...], row)[0]))
            conn.execute(
                sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self._schema))
            )
            docs, meta = (str(self._names[n].as_string(conn)) for n in ("docs", "meta"))
            found = conn.execute(
                "SELECT to_regclass(%s) IS NOT NULL, to_regclass(%s) IS NOT NULL", [docs, meta]
            ).fetchone()
            has_docs, has_meta = cast(tuple[bool, bool], found)
            version = None
            if has_meta:
                got = conn.execute(
                    self._sql("SELECT value FROM {meta} WHERE key = 'version'")
                ).fetchone()
                version = got[0] if got else None
            if version == SCHEMA_VERSION:
                return trgm
            if has_docs and version is None:
                raise SearchError(
                    f"table {self._schema}.{self._index}_docs is not a search index of the "
                    "portal; refusing to reuse it (choose another search index name)"
                )
            conn.execute(self._sql("DROP TABLE IF EXISTS {docs}, {lexemes}, {vocabulary}, {meta}"))
            conn.execute(
                self._sql(
                    _TABLES,
                    trgm=trgm,
                    stems=sql.SQL(_vector("english")),
                    words=sql.SQL(_vector("simple")),
                )
            )
            conn.execute(
                self._sql("CREATE TABLE {meta} (key text PRIMARY KEY, value text NOT NULL)")
            )
            conn.execute(
                self._sql("INSERT INTO {meta} VALUES ('version', %s), ('docs', '0')"),
                [SCHEMA_VERSION],
            )
        return trgm

    # --- indexing -----------------------------------------------------------------------

    @contextmanager
    def _writing(self) -> Iterator[psycopg.Connection[Any]]:
        with self._lock, self._pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [self._key])
            yield conn
            conn.execute(
                self._sql(
                    "UPDATE {meta} SET value = (SELECT count(*) FROM {docs}) WHERE key = 'docs'"
                )
            )

    def replace_all(self, docs: Iterable[SearchDoc]) -> None:
        with self._writing() as conn:
            # DELETE, not TRUNCATE: other replicas keep searching the old rows meanwhile.
            for table in ("docs", *_VOCABULARIES):
                conn.execute(self._sql("DELETE FROM {table}", table=self._names[table]))
            self._copy(conn, docs)
            for table, column in _VOCABULARIES.items():
                documents = self._sql("SELECT {column} FROM {docs}", column=sql.Identifier(column))
                conn.execute(
                    self._sql(
                        "INSERT INTO {table} SELECT word, ndoc FROM ts_stat(%s)",
                        table=self._names[table],
                    ),
                    [documents.as_string(conn)],
                )

    def update(self, removed_ids: Iterable[str], docs: Iterable[SearchDoc]) -> None:
        docs = list(docs)
        gone = sorted({*removed_ids, *(d.id for d in docs)})
        added = [d.id for d in docs]
        with self._writing() as conn:
            for table, column in _VOCABULARIES.items():
                names = {"table": self._names[table], "column": sql.Identifier(column)}
                conn.execute(self._sql(_UNCOUNT, **names), {"ids": gone})
            conn.execute(self._sql("DELETE FROM {docs} WHERE id = ANY(%s)"), [gone])
            self._copy(conn, docs)
            for table, column in _VOCABULARIES.items():
                names = {"table": self._names[table], "column": sql.Identifier(column)}
                conn.execute(self._sql(_COUNT, **names), {"ids": added})
                conn.execute(self._sql("DELETE FROM {table} WHERE ndoc <= 0", **names))

    def _copy(self, conn: psycopg.Connection[Any], docs: Iterable[SearchDoc]) -> None:
        columns = sql.SQL(", ").join(map(sql.Identifier, _COLUMNS))
        with conn.cursor().copy(
            self._sql("COPY {docs} ({columns}) FROM STDIN", columns=columns)
        ) as copy:
            for doc in docs:
                copy.write_row(
                    (
                        doc.id,
                        doc.type,
                        doc.kind,
                        doc.title,
                        doc.heading,
                        doc.breadcrumb,
                        doc.keywords,
                        doc.text,
                        doc.context,
                        doc.path,
                        doc.anchor,
                        doc.ref,
                        doc.owner,
                        list(doc.tags),
                        list(doc.audiences),
                        doc.digest,
                        clamp_boost(doc.boost),
                    )
                )

    def digests(self) -> dict[str, str]:
        with self._pool.connection() as conn:
            rows = conn.execute(self._sql("SELECT id, digest FROM {docs}")).fetchall()
        return {str(doc_id): str(digest) for doc_id, digest in rows}

    # --- searching ----------------------------------------------------------------------

    def search(self, query: SearchQuery) -> SearchResults:
        offset = query.offset()
        parsed = query.parsed()
        if not query.audiences:
            return SearchResults(hits=[], total=0, facets=no_facets())
        params: dict[str, Any] = {
            "audiences": sorted(query.audiences),
            "weights": WEIGHTS,
            "limit": query.limit,
            "offset": offset,
            "headline_options": HEADLINE_OPTIONS,
        }
        conditions = ["audiences && %(audiences)s"]
        for key, column in _FILTERS.items():
            if key in parsed.filters:
                conditions.append(f"{column} = ANY(%({key})s)")
                params[key] = list(parsed.filters[key])
        if "tags" in parsed.filters:
            conditions.append("tags && %(tags)s")
            params["tags"] = list(parsed.filters["tags"])
        with self._pool.connection() as conn:
            words, phrases = self._terms(conn, meaningful_words(parsed.words), parsed.phrases)
            score, highlight = _scoring(words, phrases, conditions, params)
            row = conn.execute(
                self._sql(
                    _SEARCH,
                    score=sql.SQL(score),
                    where=sql.SQL(" AND ".join(conditions)),
                    headline=sql.SQL(highlight),
                    facets=sql.SQL(_FACETS if query.facets else "'[]'::json"),
                ),
                params,
            ).fetchone()
        total, facet_rows, hit_rows = cast(tuple[int, list[Any], list[Any]], row)
        facets = no_facets()
        for name, value, count in facet_rows:
            facets[name][value] = count
            if name == "kind":
                doc_type = value if value in ("page", "operation") else "entity"
                facets["type"][doc_type] = facets["type"].get(doc_type, 0) + count
        hits = [_hit(fields) for fields in hit_rows]
        after = offset + len(hits)
        return SearchResults(
            hits=hits,
            total=int(total),
            facets=facets,
            next_cursor=str(after) if after < total else None,
        )

    def suggest(
        self, prefix: str, audiences: frozenset[str], limit: int = 8
    ) -> Sequence[SearchHit]:
        words = [w.lower() for w in _WORD.findall(prefix)]
        if not words or not audiences or not 1 <= limit <= 100:
            return []
        # Titles, headings and keywords only (labels A and B); the last word may go on.
        text = " & ".join([*(f"'{w}':AB" for w in words[:-1]), f"'{words[-1]}':*AB"])
        with self._pool.connection() as conn:
            rows = conn.execute(
                self._sql(_SUGGEST),
                {
                    "query": text,
                    "weights": SUGGEST_WEIGHTS,
                    "bonus": PAGE_TOP_BONUS,
                    "audiences": sorted(audiences),
                    "limit": limit,
                },
            ).fetchall()
        return [_hit(row) for row in rows]

    def _terms(
        self,
        conn: psycopg.Connection[Any],
        words: Sequence[str],
        phrases: Sequence[tuple[str, ...]],
    ) -> tuple[list[_Term], list[_Term]]:
        """Each word and phrase as tsquery text, with its IDF, and near words for typos."""
        texts = [*words, *(" ".join(p) for p in phrases)]
        if not texts:
            return [], []
        rows = conn.execute(self._sql(_ANALYZE), {"texts": texts}).fetchall()
        total = int(rows[0][5])
        word_terms: list[_Term] = []
        phrase_terms: list[_Term] = []
        for index, (text, row) in enumerate(zip(texts, rows, strict=True)):
            stems, plain, stem_counts, word_counts, known, _ = row
            stems_idf = sum(_idf(total, n) for n in stem_counts)
            words_idf = sum(_idf(total, n) for n in word_counts)
            if index >= len(words):  # a phrase: its stems, or its words if all are stop words
                if stems or plain:
                    phrase_terms.append(
                        _Term(stems, stems_idf) if stems else _Term("", 0.0, plain, words_idf)
                    )
                continue
            if not stems and not plain:
                continue
            term = _Term(stems, stems_idf, plain, words_idf)
            lowered = text.lower()
            if fuzzy_allowed(lowered) and not known:
                term = self._near(conn, term, lowered, total)
            word_terms.append(term)
        return word_terms, phrase_terms

    def _near(self, conn: psycopg.Connection[Any], term: _Term, word: str, total: int) -> _Term:
        rows = conn.execute(
            self._sql(
                "SELECT word, ndoc FROM {vocabulary} "
                "WHERE word OPERATOR({trgm}.%%) %(word)s OR word = ANY(%(swaps)s)",
                trgm=self._trgm,
            ),
            {"word": word, "swaps": _swaps(word)},
        ).fetchall()
        near = sorted(
            ((str(w), int(n)) for w, n in rows if str(w).isalpha() and _one_edit(word, str(w))),
            key=lambda found: (-found[1], found[0]),
        )[:MAX_NEAR_WORDS]
        if not near:
            return term
        return _Term(
            term.stems,
            term.stems_idf,
            term.words,
            term.words_idf,
            near=" | ".join(f"'{w}'" for w, _ in near),
            near_idf=_idf(total, min(total, sum(n for _, n in near))),
        )


HEADLINE_OPTIONS = (
    'StartSel="<mark>", StopSel="</mark>", MaxWords=35, MinWords=25, ShortWord=0, MaxFragments=0'
)
_ESCAPED_BODY = (
    "replace(replace(replace(replace(replace(d.body, '&', '&amp;'), '<', '&lt;'), '>', '&gt;'),"
    " '\"', '&quot;'), '''', '&#x27;')"
)
_UNCOUNT = """
UPDATE {table} t SET ndoc = t.ndoc - c.n
FROM (SELECT lexeme, count(*) AS n FROM {docs}, unnest({column})
      WHERE id = ANY(%(ids)s) GROUP BY lexeme) AS c
WHERE t.word = c.lexeme
"""
_COUNT = """
INSERT INTO {table}
SELECT lexeme, count(*) FROM {docs}, unnest({column}) WHERE id = ANY(%(ids)s) GROUP BY lexeme
ON CONFLICT (word) DO UPDATE SET ndoc = {table}.ndoc + excluded.ndoc
"""
_ANALYZE = """
SELECT phraseto_tsquery('english', q.t)::text, phraseto_tsquery('simple', q.t)::text,
    ARRAY(SELECT l.ndoc FROM {lexemes} l
          WHERE l.word = ANY(tsvector_to_array(to_tsvector('english', q.t)))),
    ARRAY(SELECT v.ndoc FROM {vocabulary} v
          WHERE v.word = ANY(tsvector_to_array(to_tsvector('simple', q.t)))),
    EXISTS (SELECT 1 FROM {vocabulary} v WHERE v.word = lower(q.t)),
    (SELECT value FROM {meta} WHERE key = 'docs')
FROM unnest(%(texts)s::text[]) WITH ORDINALITY AS q(t, n)
ORDER BY q.n
"""
_FACETS = """(SELECT coalesce(json_agg(json_build_array(f.name, f.value, f.n)), '[]') FROM (
        SELECT 'kind' AS name, kind AS value, count(*) AS n FROM m GROUP BY kind
        UNION ALL SELECT 'owner', owner, count(*) FROM m WHERE owner <> '' GROUP BY owner
        UNION ALL SELECT 'tag', t, count(*) FROM m, unnest(m.tags) AS t GROUP BY t
    ) f)"""
_SEARCH = """
WITH m AS MATERIALIZED (
    SELECT id, kind, owner, tags, boost * ({score}) AS score FROM {docs} WHERE {where}
),
page AS (SELECT id, score FROM m ORDER BY score DESC, id LIMIT %(limit)s OFFSET %(offset)s)
SELECT
    (SELECT count(*) FROM m),
    {facets},
    (SELECT coalesce(json_agg(json_build_array(
        d.id, d.type, d.kind, d.title, d.breadcrumb, d.path, d.anchor, d.ref, d.body, p.score,
        {headline}) ORDER BY p.score DESC, p.id), '[]')
     FROM page p JOIN {docs} d USING (id))
"""
_SUGGEST = """
SELECT id, type, kind, title, breadcrumb, path, anchor, ref, body,
    boost * (ts_rank(%(weights)s::real[], words, %(query)s::tsquery)
             + CASE WHEN anchor = '' THEN %(bonus)s ELSE 0 END) AS score
FROM {docs}
WHERE words @@ %(query)s::tsquery AND audiences && %(audiences)s
ORDER BY score DESC, id
LIMIT %(limit)s
"""


def _scoring(
    words: Sequence[_Term],
    phrases: Sequence[_Term],
    conditions: list[str],
    params: dict[str, Any],
) -> tuple[str, str]:
    """The score expression and the snippet expression; adds the match to ``conditions``."""
    if not words and not phrases:
        return "1.0", "''"
    rank = "ts_rank(%(weights)s::real[], {column}, %({name})s::tsquery)"
    scores: list[str] = []
    matches: list[str] = []
    highlight: list[str] = []
    for i, term in enumerate([*words, *phrases]):
        parts: list[tuple[str, str, float]] = []  # (column, parameter, idf)
        if term.stems:
            params[f"s{i}"] = term.stems
            parts.append(("tsv", f"s{i}", term.stems_idf))
            highlight.append(f"%(s{i})s::tsquery")
        if term.words:
            params[f"w{i}"] = term.words
            parts.append(("words", f"w{i}", term.words_idf))
        found = " OR ".join(f"{column} @@ %({name})s::tsquery" for column, name, _ in parts)
        ranks = [f"{idf!r} * {rank.format(column=c, name=n)}" for c, n, idf in parts]
        if len(ranks) == 2:  # the stem and the word as typed: the better, a little of the other
            pair = ", ".join(ranks)
            score = f"(greatest({pair}) + {TIE_BREAKER!r} * least({pair}))"
        else:
            score = ranks[0]
        if term.near:
            params[f"n{i}"] = term.near
            found += f" OR words @@ %(n{i})s::tsquery"
            near = rank.format(column="words", name=f"n{i}")
            score += f" + {FUZZY_WEIGHT * term.near_idf!r} * {near}"
            highlight.append(f"to_tsquery('english', %(n{i})s::text)")
        scores.append(score)
        if i < len(words):
            matches.append(f"({found})")
        else:
            conditions.append(f"({found})")
    if matches:
        needed = needed_matches(len(matches))
        if needed == len(matches):
            conditions.extend(matches)
        else:
            # Any of the words, which the GIN indexes find, then enough of them.
            conditions.append(f"({' OR '.join(matches)})")
            counted = " + ".join(f"{m}::int" for m in matches)
            conditions.append(f"({counted}) >= {needed}")
    snippet = (
        f"ts_headline('english', {_ESCAPED_BODY}, {' || '.join(highlight)}, %(headline_options)s)"
        if highlight
        else "''"
    )
    return " + ".join(scores), snippet


def _hit(row: Sequence[Any]) -> SearchHit:
    """A hit from a row: the document's fields, its score, and for a search its headline."""
    doc_id, doc_type, kind, title, breadcrumb, path, anchor, ref, body, score = row[:10]
    headline = row[10] if len(row) > 10 else None
    snippet = " ".join(headline.split()) if headline and "<mark>" in headline else ""
    return SearchHit(
        id=doc_id,
        type=cast(DocType, doc_type),
        kind=kind,
        title=title,
        heading_path=tuple(breadcrumb.split(HEADING_SEPARATOR)) if breadcrumb else (),
        snippet=snippet or html.escape(lead(body)),
        path=path,
        anchor=anchor,
        ref=ref,
        score=float(score),
    )
