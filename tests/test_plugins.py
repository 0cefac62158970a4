"""Organisation plugins in <root>/plugins/ and installed ones join the built-in hooks."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from portal.catalog import load_catalog, parse_ref
from portal.exceptions import ConfigError
from portal.plugins import get_plugin_manager
from portal.settings import Settings
from tests.conftest import GROUP_A, REPO, component, formatted, write_files


def test_builtin_kinds_come_through_the_hook() -> None:
    pm = get_plugin_manager()
    kinds = [k.kind for batch in pm.hook.portal_catalog_kinds() for k in batch]
    assert set(kinds) == {
        "Component",
        "API",
        "Resource",
        "System",
        "Domain",
        "Group",
        "User",
        "Location",
        "Scorecard",
    }


def test_repository_example_plugin_checks_annotations(tmp_path: Path) -> None:
    (tmp_path / "plugins").mkdir()
    shutil.copy(REPO / "plugins" / "quantum_annotations.py", tmp_path / "plugins")
    bad = component().replace(
        "metadata:\n  name: orders\n",
        "metadata:\n  name: orders\n  annotations:\n    portal.quantum.dev/tier: gold\n"
        "    portal.quantum.dev/secrets: hunter2\n",
    )
    write_files(tmp_path, {"catalog/a.yaml": bad, "catalog/team.yaml": GROUP_A})
    result = load_catalog(Settings(root=tmp_path))
    assert formatted(result) == [
        "catalog/a.yaml:6:30: warning: metadata.annotations['portal.quantum.dev/tier']: "
        "'gold' is not a tier (expected tier-1, tier-2, tier-3)",
        "catalog/a.yaml:7:33: warning: metadata.annotations['portal.quantum.dev/secrets']: "
        "secrets are referenced in Azure Key Vault as kv://<vault>/<secret>, never written here",
    ]


def test_a_plugin_can_add_a_kind(tmp_path: Path) -> None:
    plugin = """
from portal.catalog import FieldSpec, KindSpec
from portal.hookspecs import hookimpl

@hookimpl
def portal_catalog_kinds():
    return [KindSpec("Template", "A software template.", {
        "owner": FieldSpec("ref", required=True, default_kind="group", relation="ownedBy"),
    }, api_versions=("scaffolder.backstage.io/v1beta3",))]
"""
    template = (
        "apiVersion: scaffolder.backstage.io/v1beta3\nkind: Template\nmetadata:\n"
        "  name: springboot\nspec:\n  owner: team-a\n"
    )
    write_files(
        tmp_path,
        {"plugins/templates.py": plugin, "catalog/t.yaml": template, "catalog/team.yaml": GROUP_A},
    )
    result = load_catalog(Settings(root=tmp_path))
    assert result.report.problems == []
    entity = result.catalog.get(parse_ref("template:springboot"))
    assert entity is not None
    assert [str(r.target) for r in entity.relations] == ["group:default/team-a"]


def test_a_broken_plugin_names_its_file(tmp_path: Path) -> None:
    write_files(tmp_path, {"plugins/broken.py": "import does_not_exist\n"})
    with pytest.raises(ConfigError) as info:
        get_plugin_manager(tmp_path)
    assert str(info.value) == (
        f"{tmp_path / 'plugins' / 'broken.py'}: the plugin failed to import: "
        "ModuleNotFoundError: No module named 'does_not_exist'"
    )


def test_underscore_modules_are_not_plugins(tmp_path: Path) -> None:
    write_files(tmp_path, {"plugins/_helpers.py": "raise RuntimeError('must not run')\n"})
    get_plugin_manager(tmp_path)
