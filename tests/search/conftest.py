"""The repository's own docs and catalog as search documents, and an engine holding them."""

from __future__ import annotations

import hashlib
import itertools
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from portal.model import Model, load_model
from portal.search import SearchDoc, SearchEngine, TantivyEngine, WhooshEngine, documents
from portal.search.postgres_engine import PostgresEngine
from portal.settings import Settings
from tests.conftest import REPO


@pytest.fixture(scope="session")
def repo_model() -> Model:
    model = load_model(Settings(root=REPO), cache=False)
    assert model.site is not None
    return model


@pytest.fixture(scope="session")
def repo_docs(repo_model: Model) -> list[SearchDoc]:
    return list(documents(repo_model))


@pytest.fixture(scope="session")
def by_id(repo_docs: list[SearchDoc]) -> dict[str, SearchDoc]:
    return {doc.id: doc for doc in repo_docs}


@pytest.fixture(scope="session")
def everyone(repo_model: Model) -> frozenset[str]:
    assert repo_model.site is not None
    return frozenset(repo_model.site.audiences)


EngineClass = Callable[..., SearchEngine]
ENGINES: dict[str, EngineClass] = {"tantivy": TantivyEngine, "whoosh": WhooshEngine}
# The server the PostgreSQL engine's tests use; .ci/run's machine runs one here.
POSTGRES_URL = os.environ.get(
    "PORTAL_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


class PostgresIndexes:
    """Makes PostgreSQL engines, each on a fresh index in the session's throwaway schema.

    An index "on disk" at ``path`` is the index named after that path, so that
    opening the same path again reopens it.
    """

    def __init__(self, url: str, schema: str) -> None:
        self.url = url
        self.schema = schema
        self.engines: list[PostgresEngine] = []
        self._numbers = itertools.count(1)

    def __call__(self, path: Path | None = None) -> PostgresEngine:
        if path is None:
            index = f"index_{next(self._numbers)}"
        else:
            index = "path_" + hashlib.sha256(str(path).encode()).hexdigest()[:16]
        engine = PostgresEngine(self.url, index=index, schema=self.schema)
        self.engines.append(engine)
        return engine


@pytest.fixture(scope="session")
def postgres_indexes() -> Iterator[PostgresIndexes]:
    """Engines in a schema of this session's own, dropped at its end.

    Without a server the tests skip, saying why, except in CI (``CI=true``),
    where they fail instead.
    """
    try:
        admin = psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        reason = f"PostgreSQL is not reachable at {POSTGRES_URL}: {str(error).strip()}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI=true, so the PostgreSQL tests fail instead of skipping")
        pytest.skip(reason)
    schema = f"test_search_{os.getpid()}_{secrets.token_hex(4)}"
    indexes = PostgresIndexes(POSTGRES_URL, schema)
    try:
        yield indexes
    finally:
        for engine in indexes.engines:
            engine.close()
        admin.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
        admin.close()


@pytest.fixture(scope="session", params=[*sorted(ENGINES), "postgres"])
def make_engine(request: pytest.FixtureRequest) -> EngineClass:
    """Each engine in turn: every engine test runs on every engine."""
    if request.param == "postgres":
        indexes: PostgresIndexes = request.getfixturevalue("postgres_indexes")
        return indexes
    return ENGINES[request.param]


@pytest.fixture(scope="session")
def repo_engine(make_engine: EngineClass, repo_docs: list[SearchDoc]) -> SearchEngine:
    """Shared by tests that only search; tests that change an index make their own."""
    engine = make_engine()
    engine.replace_all(repo_docs)
    return engine
