"""Small real repositories with scorecards: catalog files, docs and mkdocs.yml in tmp_path."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Mapping
from datetime import date
from pathlib import Path

import pytest

from portal.model import Model, load_model
from portal.settings import Settings
from tests.conftest import write_files

TODAY = date(2026, 11, 26)

MKDOCS = """\
site_name: Test
theme:
  name: material
plugins:
  - portal:
      audiences:
        staff:
          title: Staff
          docs: all
          catalog: all
"""

TEAMS = """\
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: team-a
spec:
  type: team
  children: []
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata:
  name: jane
spec:
  memberOf: [team-a]
"""


def component(name: str, *, annotations: str = "", links: str = "", spec: str = "") -> str:
    """A Component of team-a; ``annotations``/``links``/``spec`` are extra YAML lines."""
    meta = f"  name: {name}\n  description: The {name} component, which does useful things.\n"
    if annotations:
        meta += "  annotations:\n" + textwrap.indent(textwrap.dedent(annotations), "    ")
    if links:
        meta += "  links:\n" + textwrap.indent(textwrap.dedent(links), "    ")
    body = spec or "  type: service\n  lifecycle: production\n  owner: team-a\n"
    return (
        f"apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n{meta}spec:\n"
        f"{textwrap.dedent(body) if not body.startswith('  ') else body}"
    )


def scorecard(rules: str, *, name: str = "ready", applies: str = "{kind: Component}") -> str:
    """A Scorecard of three levels with ``rules`` (YAML list items, indented by 4)."""
    return (
        "apiVersion: portal.quantum.dev/v1\n"
        "kind: Scorecard\n"
        f"metadata:\n  name: {name}\n"
        "spec:\n"
        "  owner: team-a\n"
        f"  appliesTo: {applies}\n"
        "  levels:\n"
        "    - {name: bronze, color: '#b87333'}\n"
        "    - {name: silver, color: silver}\n"
        "    - {name: gold, color: '#c9a227'}\n"
        "  rules:\n" + textwrap.indent(textwrap.dedent(rules).strip("\n") + "\n", "    ")
    )


MakeRepo = Callable[..., Model]


@pytest.fixture
def make_repo(tmp_path: Path) -> MakeRepo:
    """Write ``{path: text}`` (plus mkdocs.yml and team-a) under tmp_path and load the model."""

    def make(files: Mapping[str, str], *, plugins: bool = False) -> Model:
        write_files(tmp_path, {"mkdocs.yml": MKDOCS, "catalog/org.yaml": TEAMS, **files})
        if plugins:
            source = Path(__file__).resolve().parents[2] / "plugins" / "quantum_scorecards.py"
            write_files(tmp_path, {"plugins/quantum_scorecards.py": source.read_text()})
        return load_model(Settings(root=tmp_path), cache=False)

    return make


def problems(model: Model) -> list[str]:
    return [p.format() for p in model.report.sorted()]
