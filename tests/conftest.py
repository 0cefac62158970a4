"""Shared fixtures that build real inputs: catalog files in a temporary repository."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from portal.catalog import LoadResult, load_catalog
from portal.settings import Settings

# Fixtures of real services shared by several test folders (each started once a session).
pytest_plugins = ["tests.azurite"]

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
CORPORA = SHARED / "corpora"
BACKSTAGE_EXAMPLES = CORPORA / "backstage-examples"

MakeCatalog = Callable[..., LoadResult]


def write_files(root: Path, files: Mapping[str, str | bytes]) -> None:
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(textwrap.dedent(content).lstrip("\n"), encoding="utf-8")


@pytest.fixture
def make_catalog(tmp_path: Path) -> MakeCatalog:
    """Write ``{relative path: content}`` under a fresh root and load its catalog."""

    def make(
        files: Mapping[str, str | bytes],
        patterns: tuple[str, ...] = ("catalog/**/*.yaml",),
        **settings: Any,
    ) -> LoadResult:
        write_files(tmp_path, files)
        return load_catalog(Settings(root=tmp_path, catalog_paths=list(patterns), **settings))

    return make


def formatted(result: LoadResult) -> list[str]:
    """Every problem as the CLI prints it, in file and line order."""
    return [p.format() for p in result.report.sorted()]


def component(name: str = "orders", owner: str = "team-a", **spec: Any) -> str:
    """A small valid Component descriptor, with spec fields overridden or added."""
    fields = {"type": "service", "lifecycle": "production", "owner": owner, **spec}
    body = "\n".join(f"  {key}: {value}" for key, value in fields.items())
    return (
        "apiVersion: backstage.io/v1alpha1\n"
        "kind: Component\n"
        f"metadata:\n  name: {name}\n"
        f"spec:\n{body}\n"
    )


def api(definition: str) -> str:
    """The API orders-api, owned by team-a, whose ``definition`` is the line given."""
    return (
        "apiVersion: backstage.io/v1alpha1\nkind: API\nmetadata:\n  name: orders-api\n"
        "spec:\n  type: openapi\n  lifecycle: production\n  owner: team-a\n"
        f"  definition:\n    {definition}\n"
    )


GROUP_A = """\
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: team-a
spec:
  type: team
  children: []
"""
