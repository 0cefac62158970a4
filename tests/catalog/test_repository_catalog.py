"""The Quantum platform's own catalog (catalog/) is clean and models the architecture."""

from __future__ import annotations

import pytest

from portal.catalog import LoadResult, load_catalog, parse_ref
from portal.settings import Settings
from tests.conftest import REPO


@pytest.fixture(scope="module")
def quantum() -> LoadResult:
    return load_catalog(Settings(root=REPO))


def test_validates_strictly_clean(quantum: LoadResult) -> None:
    assert [p.format() for p in quantum.report.problems] == []


@pytest.mark.parametrize(
    "ref",
    [
        "domain:quantum-platform",
        "component:web-app",
        "component:mobile-ios",
        "component:mobile-android",
        "component:api-gateway",
        "component:auth-service",
        "component:job-worker",
        "component:developer-portal",
        "resource:postgresql-primary",
        "resource:redis-cache",
        "resource:elasticsearch-cluster",
        "resource:blob-storage",
        "resource:message-queue",
        "resource:key-vault",
        "api:developer-portal-api",
        "api:background-events",
    ],
)
def test_architecture_entities_exist(quantum: LoadResult, ref: str) -> None:
    assert parse_ref(ref) in quantum.catalog


def test_every_entity_has_an_existing_owner(quantum: LoadResult) -> None:
    for entity in quantum.catalog:
        if entity.ref.kind in ("group", "user", "location"):
            continue
        owners = entity.related("ownedBy")
        assert len(owners) == 1, entity.ref
        assert owners[0] in quantum.catalog, entity.ref


def test_apis_have_definitions_and_providers(quantum: LoadResult) -> None:
    apis = quantum.catalog.of_kind("api")
    kinds = {api.spec["type"] for api in apis}
    assert {"openapi", "asyncapi"} <= kinds
    for api in apis:
        assert isinstance(api.spec["definition"], str) and api.spec["definition"].strip()
        assert api.related("apiProvidedBy"), api.ref
