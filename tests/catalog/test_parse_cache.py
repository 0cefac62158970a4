"""Catalog files' YAML kept between loads by text: the same catalog, never a stale one."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from portal.cache import EntryCache
from portal.catalog import EntityRef, LoadResult, load_catalog, parse_ref
from portal.model import catalog_cache, load_model
from portal.settings import Settings
from tests.conftest import (
    BACKSTAGE_EXAMPLES,
    GROUP_A,
    api,
    component,
    formatted,
    write_files,
)

API_WITH_TEXT = api("$text: ./orders.openapi.yaml")

OPENAPI = """\
openapi: 3.0.0
info: {{title: Orders, version: "{version}"}}
paths: {{}}
"""


def _load(root: Path, **settings: object) -> LoadResult:
    settings.setdefault("catalog_paths", ["catalog/**/*.yaml"])
    options = Settings(root=root, **settings)  # type: ignore[arg-type]
    return load_catalog(options, cache=catalog_cache(options))


def _summary(result: LoadResult) -> tuple[object, ...]:
    entities = sorted(
        (
            str(e.ref),
            repr(e.metadata),
            repr(e.spec),
            sorted((r.type, str(r.target)) for r in e.relations),
        )
        for e in result.catalog
    )
    return (entities, formatted(result), result.files)


@pytest.fixture
def examples(tmp_path: Path) -> Path:
    """Backstage's own example catalog (real third-party descriptors, Locations included)."""
    if not BACKSTAGE_EXAMPLES.is_dir():
        pytest.skip(f"the Backstage examples are not at {BACKSTAGE_EXAMPLES}")
    shutil.copytree(BACKSTAGE_EXAMPLES, tmp_path / "catalog")
    return tmp_path


def _stamp(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_ino, stat.st_mtime_ns


def test_a_cached_load_gives_the_same_catalog_and_problems(examples: Path) -> None:
    plain = load_catalog(Settings(root=examples, catalog_paths=["catalog/**/*.yaml"]))
    assert len(plain.catalog) > 20
    first = _load(examples)
    stored = examples / ".cache" / "portal" / "parsed" / "catalog.pickle"
    written = _stamp(stored)
    second = _load(examples)
    assert _summary(first) == _summary(plain) == _summary(second)
    # The second load found every file's documents in the cache: a new or an unused
    # entry would have made it write the file again (a new file, by rename).
    assert _stamp(stored) == written


def test_an_edited_file_is_parsed_again(tmp_path: Path) -> None:
    write_files(tmp_path, {"catalog/a.yaml": component("orders"), "catalog/team.yaml": GROUP_A})
    assert parse_ref("component:orders") in _load(tmp_path).catalog
    write_files(tmp_path, {"catalog/a.yaml": component("payments")})
    catalog = _load(tmp_path).catalog
    assert parse_ref("component:payments") in catalog
    assert parse_ref("component:orders") not in catalog


def test_a_substituted_file_is_read_on_every_load(tmp_path: Path) -> None:
    # The descriptor's text does not change, the file it reads does: the cached
    # documents are the descriptor's own, substituted anew on each load.
    write_files(
        tmp_path,
        {
            "catalog/api.yaml": API_WITH_TEXT,
            "catalog/orders.openapi.yaml": OPENAPI.format(version="1.0"),
            "catalog/team.yaml": GROUP_A,
        },
    )
    ref = parse_ref("api:orders-api")
    first = _load(tmp_path, catalog_paths=["catalog/api.yaml", "catalog/team.yaml"])
    assert 'version: "1.0"' in _definition(first, ref)
    write_files(tmp_path, {"catalog/orders.openapi.yaml": OPENAPI.format(version="2.0")})
    second = _load(tmp_path, catalog_paths=["catalog/api.yaml", "catalog/team.yaml"])
    assert 'version: "2.0"' in _definition(second, ref)


def _definition(result: LoadResult, ref: EntityRef) -> str:
    api = result.catalog.get(ref)
    assert api is not None, formatted(result)
    return str(api.spec["definition"])


def test_a_broken_file_is_reported_on_every_load(tmp_path: Path) -> None:
    write_files(tmp_path, {"catalog/bad.yaml": "key: [\n", "catalog/team.yaml": GROUP_A})
    for _ in range(2):
        assert [p.file for p in _load(tmp_path).report.errors] == ["catalog/bad.yaml"]


def test_limits_are_part_of_the_key(tmp_path: Path) -> None:
    # A file parsed under generous limits must not be served when the limits shrink.
    nested = "a:\n" + "".join("  " * i + "b:\n" for i in range(1, 12)) + "  " * 12 + "c: 1\n"
    write_files(tmp_path, {"catalog/deep.yaml": nested})
    too_deep = "nests more than"
    assert not any(too_deep in p.message for p in _load(tmp_path).report.errors)
    shallow = _load(tmp_path, max_yaml_depth=5)
    assert [p.message for p in shallow.report.errors] == [
        "document nests more than 5 levels of mappings and lists"
    ]


def test_validate_with_catalog_paths_leaves_the_cache_whole(tmp_path: Path) -> None:
    # Checking a few files must not shrink the cache to them: the next full load reuses it.
    write_files(tmp_path, {"catalog/a.yaml": component("orders"), "catalog/team.yaml": GROUP_A})
    whole = Settings(root=tmp_path)
    load_model(whole)
    path = tmp_path / ".cache" / "portal" / "parsed" / "catalog.pickle"
    written = _stamp(path)
    command = ["validate", "--root", str(tmp_path), "--catalog", "catalog/a.yaml"]
    run = subprocess.run(
        [sys.executable, "-m", "portal", *command],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr  # a warning: its owner, team-a, is in the other file
    assert "team-a" in run.stdout
    assert _stamp(path) == written
    assert len(EntryCache(path, catalog_cache(whole).version)._old) == 2


def test_a_document_too_deep_to_pickle_is_parsed_on_every_load(tmp_path: Path) -> None:
    # Allowed by a raised depth limit, nested deeper than pickle goes: the load works
    # as it does without a cache, and nothing is kept for it.
    deep = "a: " + "[" * 600 + "]" * 600 + "\n"
    write_files(tmp_path, {"catalog/deep.yaml": deep, "catalog/team.yaml": GROUP_A})
    options = Settings(root=tmp_path, max_yaml_depth=1000)
    plain = load_catalog(options)
    # Read as YAML, and refused only as a catalog document (it has no kind).
    assert plain.files == 2 and not any("YAML" in p.message for p in plain.report.errors)
    for _ in range(2):
        assert formatted(load_catalog(options, cache=catalog_cache(options))) == formatted(plain)
    path = tmp_path / ".cache" / "portal" / "parsed" / "catalog.pickle"
    assert len(EntryCache(path, catalog_cache(options).version)._old) == 1  # the team's file
