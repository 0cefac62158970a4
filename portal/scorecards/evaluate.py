"""Loading every scorecard of a model, and evaluating them on the catalog."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING

import pluggy

from portal.catalog.kinds import registered_kinds
from portal.catalog.loader import collector_paused
from portal.catalog.model import Catalog, Entity
from portal.catalog.refs import EntityRef
from portal.problems import Report
from portal.scorecards.checks import CheckType, registered_checks
from portal.scorecards.context import EvalContext
from portal.scorecards.definition import Scorecard, compile_scorecard, rule_ids_of
from portal.scorecards.exemptions import EXEMPTIONS, read_exemptions
from portal.scorecards.program import run_program
from portal.scorecards.results import EntityResult, Exemption, ScorecardResult

if TYPE_CHECKING:
    from portal.model import Model

__all__ = ["evaluate", "evaluate_entity", "load_scorecards"]

# Never evaluated unless a scorecard names them in appliesTo.kind.
_SKIPPED_KINDS = frozenset({"scorecard", "location"})


def load_scorecards(catalog: Catalog, pm: pluggy.PluginManager, report: Report) -> list[Scorecard]:
    """Compile every Scorecard entity and check every entity's exemptions.

    Problems go to ``report`` at their file and line; a scorecard with an error
    is left out of the list. Check types come from ``portal_scorecard_checks``.
    """
    checks: Mapping[str, CheckType] = registered_checks(pm)
    known = set(registered_kinds(pm))
    scorecards = []
    for entity in catalog.of_kind("scorecard"):
        scorecard = compile_scorecard(entity, checks, known, report)
        if scorecard is not None:
            scorecards.append(scorecard)
    # Without any scorecard loaded (portal validate --catalog on one service's file),
    # exemptions are checked for their shape only.
    rules = rule_ids_of(catalog) or None
    for entity in catalog:
        annotations = entity.metadata.get("annotations")
        if type(annotations) is dict and EXEMPTIONS in annotations:
            report.extend(read_exemptions(entity, rules)[1])
    return sorted(scorecards, key=lambda s: s.name)


def evaluate(
    model: Model,
    today: date,
    *,
    scorecards: Sequence[Scorecard] | None = None,
    entities: Iterable[EntityRef] | None = None,
) -> list[ScorecardResult]:
    """Evaluate ``scorecards`` (default: the model's) on every entity each applies to.

    ``entities`` restricts the evaluation to those refs. ``today`` decides which
    exemptions are in force and how old a review is. Never raises for odd or
    missing fields: a rule fails with a reason instead.
    """
    ctx = EvalContext(model, today)
    chosen = scorecards if scorecards is not None else model.scorecards
    only = set(entities) if entities is not None else None
    exemptions = _Exemptions()
    results = []
    # Like a catalog load, evaluation makes many small objects and no cycles to collect.
    with collector_paused():
        for scorecard in chosen:
            rows = [
                evaluate_entity(scorecard, entity, ctx, exemptions.of(entity, scorecard.name))
                for entity in _candidates(model.catalog, scorecard, only)
            ]
            results.append(ScorecardResult(scorecard, today, tuple(rows)))
    return results


def evaluate_entity(
    scorecard: Scorecard,
    entity: Entity,
    ctx: EvalContext,
    exemptions: Mapping[str, Exemption] | None = None,
) -> EntityResult:
    """One entity on one scorecard (whether the scorecard applies to it is not checked here)."""
    outcomes, lowest, score = run_program(scorecard.program, entity, ctx, exemptions)
    reached = min(lowest, len(scorecard.levels)) - 1
    owner = next((r.target for r in entity.relations if r.type == "ownedBy"), None)
    return EntityResult(
        entity.ref,
        owner,
        scorecard.levels[reached].name if reached >= 0 else None,
        reached,
        round(score, 2),
        outcomes,
    )


def _candidates(
    catalog: Catalog, scorecard: Scorecard, only: set[EntityRef] | None
) -> Iterable[Entity]:
    kinds = scorecard.filter.kinds
    if only is not None:
        pool: Iterable[Entity] = (e for ref in sorted(only) if (e := catalog.get(ref)) is not None)
    elif kinds is not None:
        pool = (e for kind in sorted(kinds) for e in catalog.of_kind(kind))
    else:
        pool = catalog
    matches = scorecard.filter.matches
    for entity in pool:
        if (kinds is not None or entity.ref.kind not in _SKIPPED_KINDS) and matches(entity):
            yield entity


class _Exemptions:
    """Each entity's exemptions, read once per evaluation and only for entities that have some."""

    def __init__(self) -> None:
        self._read: dict[EntityRef, list[Exemption]] = {}

    def of(self, entity: Entity, scorecard: str) -> dict[str, Exemption] | None:
        annotations = entity.metadata.get("annotations")
        if type(annotations) is not dict or EXEMPTIONS not in annotations:
            return None
        found = self._read.get(entity.ref)
        if found is None:
            found = self._read[entity.ref] = read_exemptions(entity)[0]
        return {e.rule: e for e in found if e.scorecard == scorecard} or None
