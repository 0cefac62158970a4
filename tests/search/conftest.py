"""The repository's own docs and catalog as search documents, and an engine holding them."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from portal.model import Model, load_model
from portal.search import SearchDoc, SearchEngine, TantivyEngine, WhooshEngine, documents
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


@pytest.fixture(scope="session", params=sorted(ENGINES))
def make_engine(request: pytest.FixtureRequest) -> EngineClass:
    """Each engine in turn: every engine test runs on every engine."""
    return ENGINES[request.param]


@pytest.fixture(scope="session")
def repo_engine(make_engine: EngineClass, repo_docs: list[SearchDoc]) -> SearchEngine:
    """Shared by tests that only search; tests that change an index make their own."""
    engine = make_engine()
    engine.replace_all(repo_docs)
    return engine
