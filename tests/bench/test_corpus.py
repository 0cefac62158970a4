"""The generated benchmark catalog is valid, realistic and the same for the same seed."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from bench.corpus import generate_catalog, kind_counts, plan_catalog
from portal.catalog import LoadResult, load_catalog
from portal.settings import Settings
from tests.conftest import formatted

ENTITIES = 300


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], LoadResult]:
    root = tmp_path_factory.mktemp("corpus")
    summary = generate_catalog(root, ENTITIES, seed=3)
    return summary, load_catalog(Settings(root=root, catalog_paths=["catalog/**/*.yaml"]))


def test_generated_catalog_loads_without_any_problem(
    generated: tuple[dict[str, Any], LoadResult],
) -> None:
    summary, result = generated
    assert formatted(result) == []
    assert len(result.catalog) == summary["entities"] == ENTITIES
    assert result.files == summary["files"]
    expected = {kind.lower(): count for kind, count in kind_counts(ENTITIES).items()}
    assert result.catalog.kinds() == dict(sorted(expected.items()))


def test_generated_catalog_relates_every_kind(
    generated: tuple[dict[str, Any], LoadResult],
) -> None:
    _, result = generated
    types: dict[str, set[str]] = defaultdict(set)
    for entity in result.catalog:
        types[entity.ref.kind].update(relation.type for relation in entity.relations)
    assert {"ownedBy", "partOf", "dependsOn", "providesApi", "consumesApi"} <= types["component"]
    assert {"ownedBy", "partOf", "apiProvidedBy", "apiConsumedBy"} <= types["api"]
    assert {"ownedBy", "partOf", "dependencyOf"} <= types["resource"]
    assert {"ownedBy", "partOf", "hasPart"} <= types["system"]
    assert {"ownedBy", "hasPart"} <= types["domain"]
    assert {"ownerOf", "parentOf", "childOf", "hasMember"} <= types["group"]
    assert types["user"] == {"memberOf"}


def test_most_files_hold_one_entity_and_some_several(
    generated: tuple[dict[str, Any], LoadResult],
) -> None:
    summary, _ = generated
    assert 0 < summary["multi_document_files"] < summary["files"] / 10


def test_the_same_seed_plans_the_same_files() -> None:
    assert plan_catalog(120, seed=5) == plan_catalog(120, seed=5)
    assert plan_catalog(120, seed=5) != plan_catalog(120, seed=6)


def test_a_catalog_needs_an_owner_a_domain_and_a_system() -> None:
    with pytest.raises(ValueError, match=r"at least 3 entities \(a group, domain, system\), not 2"):
        kind_counts(2)


def test_generation_refuses_to_mix_with_an_existing_catalog(tmp_path: Path) -> None:
    (tmp_path / "catalog").mkdir()
    (tmp_path / "catalog" / "mine.yaml").write_text("kind: Component\n", encoding="utf-8")
    with pytest.raises(FileExistsError, match="catalog is not empty; generate into a fresh"):
        generate_catalog(tmp_path, 10)
