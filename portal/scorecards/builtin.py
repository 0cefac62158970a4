"""The scorecards' built-in hook implementations: the Scorecard kind and the built-in checks."""

from __future__ import annotations

from portal.catalog.kinds import KindSpec
from portal.hookspecs import hookimpl
from portal.scorecards.checks import BUILTIN_CHECKS, CheckType
from portal.scorecards.definition import SCORECARD_KIND


@hookimpl
def portal_catalog_kinds() -> list[KindSpec]:
    return [SCORECARD_KIND]


@hookimpl
def portal_scorecard_checks() -> list[CheckType]:
    return list(BUILTIN_CHECKS)
