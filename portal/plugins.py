"""The plugin manager: built-in hooks, the repository's ``plugins/`` folder and entry points."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pluggy

from portal import hookspecs
from portal.exceptions import ConfigError

__all__ = ["BUILTIN_PLUGINS", "ENTRY_POINT_GROUP", "get_plugin_manager"]

ENTRY_POINT_GROUP = "quantum_portal"

# Modules whose hook implementations are the portal's own behaviour.
BUILTIN_PLUGINS = ("portal.catalog.builtin", "portal.scorecards.builtin", "portal.search.builtin")


def get_plugin_manager(root: Path | None = None) -> pluggy.PluginManager:
    """A plugin manager with the built-ins, installed plugins and ``<root>/plugins/*.py``."""
    pm = pluggy.PluginManager("portal")
    pm.add_hookspecs(hookspecs)
    for name in BUILTIN_PLUGINS:
        pm.register(importlib.import_module(name), name=name)
    pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    if root is not None:
        for module in _load_folder(root / "plugins"):
            pm.register(module, name=f"plugins/{Path(module.__file__ or '').name}")
    return pm


def _load_folder(folder: Path) -> list[ModuleType]:
    if not folder.is_dir():
        return []
    modules = []
    for path in sorted(folder.glob("*.py")):
        if path.name.startswith("_"):
            continue
        name = f"portal_local_plugins.{path.stem}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:  # pragma: no cover - only for odd files
            raise ConfigError(f"{path}: cannot be imported as a plugin module")
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            raise ConfigError(
                f"{path}: the plugin failed to import: {type(exc).__name__}: {exc}"
            ) from exc
        sys.modules[name] = module
        modules.append(module)
    return modules
