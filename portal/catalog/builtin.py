"""The catalog's built-in hook implementations: Backstage's kinds."""

from __future__ import annotations

from portal.catalog.kinds import BUILTIN_KINDS, KindSpec
from portal.hookspecs import hookimpl


@hookimpl
def portal_catalog_kinds() -> list[KindSpec]:
    return list(BUILTIN_KINDS)
