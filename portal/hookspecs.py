"""Every extension point of the portal: one stub and one sentence each, keyword arguments only.

Built-in behaviour is registered through these same hooks (see ``portal.plugins``),
so an organisation's plugin in ``plugins/`` can add to it or replace it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from portal.catalog.kinds import KindSpec
    from portal.catalog.model import Catalog, Entity
    from portal.problems import Report
    from portal.scorecards import CheckType
    from portal.search.engine import SearchEngine
    from portal.settings import Settings

hookspec = pluggy.HookspecMarker("portal")
hookimpl = pluggy.HookimplMarker("portal")


@hookspec
def portal_catalog_kinds() -> list[KindSpec]:  # type: ignore[empty-body]
    """Return kinds of entity (their apiVersions, spec fields and relations) the catalog accepts."""


@hookspec
def portal_catalog_check_entity(entity: Entity, report: Report) -> None:
    """Check one valid entity against organisation rules, adding problems to ``report``."""


@hookspec
def portal_catalog_loaded(catalog: Catalog, report: Report) -> None:
    """Inspect the whole catalog once it is loaded and related (cross-entity checks)."""


@hookspec
def portal_scorecard_checks() -> list[CheckType]:  # type: ignore[empty-body]
    """Return check types scorecard rules can name (a later one replaces one of the same name)."""


@hookspec
def portal_search_engines(  # type: ignore[empty-body]
    settings: Settings,
) -> dict[str, Callable[[Path | None], SearchEngine]]:
    """Return search engines by name, each a factory given its index folder (None: in memory).

    ``settings`` tell an engine that lives elsewhere (a database) where to find it.
    """
