"""What only the PostgreSQL engine has: tables in a shared database, replicas, vocabularies."""

from __future__ import annotations

import re

import psycopg
import pytest
from psycopg import sql

from portal.search import SearchError, SearchQuery
from portal.search.postgres_engine import PostgresEngine, _one_edit
from tests.search.conftest import PostgresIndexes
from tests.search.test_engines import doc, ids

EVERYONE = frozenset({"everyone"})


def execute(indexes: PostgresIndexes, statement: sql.Composable) -> list[tuple[object, ...]]:
    with psycopg.connect(indexes.url, autocommit=True) as conn:
        cursor = conn.execute(statement)
        return cursor.fetchall() if cursor.description else []


def table(indexes: PostgresIndexes, name: str) -> sql.Identifier:
    return sql.Identifier(indexes.schema, name)


def test_a_table_that_is_not_an_index_is_left_alone(postgres_indexes: PostgresIndexes) -> None:
    schema = sql.Identifier(postgres_indexes.schema)
    mine = table(postgres_indexes, "notes_docs")
    execute(postgres_indexes, sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(schema))
    execute(postgres_indexes, sql.SQL("CREATE TABLE {} (note text)").format(mine))
    execute(postgres_indexes, sql.SQL("INSERT INTO {} VALUES ('mine')").format(mine))
    with pytest.raises(SearchError) as caught:
        PostgresEngine(postgres_indexes.url, index="notes", schema=postgres_indexes.schema)
    assert str(caught.value) == (
        f"table {postgres_indexes.schema}.notes_docs is not a search index of the portal; "
        "refusing to reuse it (choose another search index name)"
    )
    assert execute(postgres_indexes, sql.SQL("SELECT note FROM {}").format(mine)) == [("mine",)]


def test_an_index_of_an_older_version_is_rebuilt(postgres_indexes: PostgresIndexes) -> None:
    engine = postgres_indexes()
    engine.replace_all([doc("page:a.md", "the canary sings")])
    index = engine._names["meta"].as_string()
    meta = sql.SQL(index)
    execute(
        postgres_indexes, sql.SQL("UPDATE {} SET value = '0' WHERE key = 'version'").format(meta)
    )
    name = index.split(".")[1].strip('"').removesuffix("_meta")
    reopened = PostgresEngine(postgres_indexes.url, index=name, schema=postgres_indexes.schema)
    try:
        assert reopened.digests() == {}
        reopened.replace_all([doc("page:b.md", "the canary sings")])
        assert ids(reopened.search(SearchQuery("canary", EVERYONE))) == ["page:b.md"]
    finally:
        reopened.close()


def test_index_and_schema_names_must_be_plain_identifiers() -> None:
    with pytest.raises(SearchError) as caught:
        PostgresEngine("postgresql://nowhere.invalid/db", index="Team-Docs")
    assert str(caught.value) == (
        "search index name 'Team-Docs' is not valid (expected lowercase letters, digits and "
        "underscores, starting with a letter, e.g. portal_search)"
    )


def test_an_unreachable_server_is_a_search_error() -> None:
    with pytest.raises(SearchError) as caught:
        PostgresEngine("postgresql+psycopg://postgres@127.0.0.1:1/test?connect_timeout=2")
    assert str(caught.value).startswith("cannot reach the search database: ")
    assert "127.0.0.1" in str(caught.value)


def test_replicas_share_one_index(postgres_indexes: PostgresIndexes) -> None:
    writer = postgres_indexes()
    index = writer._names["docs"].as_string().split(".")[1].strip('"').removesuffix("_docs")
    reader = PostgresEngine(postgres_indexes.url, index=index, schema=postgres_indexes.schema)
    try:
        writer.replace_all([doc("page:a.md", "the canary sings")])
        assert ids(reader.search(SearchQuery("canary", EVERYONE))) == ["page:a.md"]
        writer.update([], [doc("page:b.md", "another canary")])
        assert reader.search(SearchQuery("canary", EVERYONE)).total == 2
    finally:
        reader.close()


def test_the_vocabularies_follow_every_update(postgres_indexes: PostgresIndexes) -> None:
    engine = postgres_indexes()
    engine.replace_all(
        [doc("page:a.md", "zeppelins over the harbour"), doc("page:b.md", "the harbour")]
    )
    assert ids(engine.search(SearchQuery("zepelins", EVERYONE))) == ["page:a.md"]
    engine.update(["page:a.md"], [doc("page:c.md", "airships over the harbour")])
    assert engine.search(SearchQuery("zepelins", EVERYONE)).total == 0
    assert ids(engine.search(SearchQuery("airshisp", EVERYONE))) == ["page:c.md"]
    # the counts kept up to date equal the ones counted afresh
    docs = engine._names["docs"]
    for vocabulary, column in (("lexemes", "tsv"), ("vocabulary", "words")):
        kept = execute(
            postgres_indexes,
            sql.SQL("SELECT word, ndoc FROM {} ORDER BY word").format(engine._names[vocabulary]),
        )
        counted = execute(
            postgres_indexes,
            sql.SQL("SELECT word, ndoc FROM ts_stat({}) ORDER BY word").format(
                sql.Literal(
                    sql.SQL("SELECT {} FROM {}").format(sql.Identifier(column), docs).as_string()
                )
            ),
        )
        assert kept == counted, vocabulary


def test_snippets_escape_every_markup_character(postgres_indexes: PostgresIndexes) -> None:
    engine = postgres_indexes()
    engine.replace_all([doc("page:a.md", '<mark>R&D</mark>\'s "canary" <b>sings</b>')])
    snippet = engine.search(SearchQuery("canary", EVERYONE)).hits[0].snippet
    # ts_headline may leave out words at the edges, never escape the text's own markup
    assert snippet.endswith(
        "&lt;mark&gt;R&amp;D&lt;/mark&gt;&#x27;s &quot;<mark>canary</mark>&quot; "
        "&lt;b&gt;sings&lt;/b&gt;"
    )
    assert re.sub("</?mark>", "", snippet).count("<") == 0


@pytest.mark.parametrize(
    ("typed", "word", "expected"),
    [
        ("deploymnet", "deployment", True),  # two letters swapped
        ("elasticsearh", "elasticsearch", True),  # one dropped
        ("alerst", "alerts", True),
        ("secrte", "secret", True),
        ("secrxt", "secret", True),  # one changed
        ("secrets", "secret", True),  # one added
        ("secret", "secret", False),  # no edit
        ("sercet", "secret", True),
        ("sectre", "secret", False),  # two
        ("scerte", "secret", False),
    ],
)
def test_one_edit_counts_a_swap_as_one(typed: str, word: str, expected: bool) -> None:
    assert _one_edit(typed, word) is expected
    assert _one_edit(word, typed) is expected
