"""``/api/v1/scorecards``: the latest results, filtered and paged, and their history.

Readers of the catalog read its scores (the same rule as ``/api/v1/entities``):
partners and anonymous callers see none.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.exceptions import HTTPException
from starlette.requests import Request

from portal.auth import access
from portal.catalog import EntityRef, RefError, parse_ref
from portal.db.scorecard_trends import entity_trend, group_trend
from portal.scorecards import ScorecardResult
from portal.web.runtime import Portal
from portal.web.scorecard_models import (
    EntityHistoryOut,
    EntityScorecardsOut,
    HistoryOut,
    ScorecardListOut,
    ScorecardOut,
    ScorecardResultsOut,
    Selection,
    SelectionError,
    entity_history_out,
    entity_result_out,
    history_out,
    page,
    scorecard_out,
)
from portal.web.scorecard_runs import Evaluation

__all__ = ["evaluation_of", "router", "scorecard_of"]

READ = access.require("reader", "catalog:read")
MAX_LIMIT = 500
router = APIRouter(tags=["scorecards"])  # mounted under /api/v1 by portal.web.api

Levels = Annotated[
    list[str] | None, Query(description="Levels (any of); `none`: below the first level.")
]
Owners = Annotated[list[str] | None, Query(description="Owners (any of), e.g. team-payments.")]
Failing = Annotated[list[str] | None, Query(description="Rule ids the entity fails (any of).")]


def evaluation_of(portal: Portal) -> Evaluation:
    """The latest evaluation, or a 503 that says why there is none yet."""
    current = portal.scorecards.current
    if current is None:
        failure = portal.scorecards.failure
        detail = (
            f"scorecards could not be evaluated: {failure}"
            if failure
            else "scorecards are being evaluated; try again in a few seconds"
        )
        raise HTTPException(503, detail, headers={"Retry-After": "5"})
    return current


def scorecard_of(evaluation: Evaluation, name: str) -> ScorecardResult:
    result = evaluation.scorecard(name)
    if result is None:
        known = ", ".join(r.scorecard.name for r in evaluation.results) or "none"
        broken = next((b for b in evaluation.broken if b.ref.name == name), None)
        why = " (its definition has errors: see portal validate)" if broken else ""
        raise HTTPException(404, f"no scorecard {name!r}{why}; scorecards: {known}")
    return result


def entity_ref(portal: Portal, kind: str, namespace: str, name: str) -> EntityRef:
    try:
        ref = parse_ref(f"{kind}:{namespace}/{name}")
    except RefError as exc:
        raise HTTPException(404, f"no such entity: {exc}") from None
    if ref not in portal.view.catalog:
        raise HTTPException(404, f"no entity {ref} in the catalog")
    return ref


def _portal(request: Request) -> Portal:
    portal: Portal = request.app.state.portal
    return portal


def _bad(exc: SelectionError) -> HTTPException:
    return HTTPException(400, exc.message)


@router.get(
    "/scorecards",
    response_model=ScorecardListOut,
    dependencies=[READ],
    summary="List scorecards",
)
def list_scorecards(request: Request) -> ScorecardListOut:
    """Every scorecard with its levels, rules and how many entities reach each level."""
    evaluation = evaluation_of(_portal(request))
    return ScorecardListOut(
        items=[scorecard_out(r, evaluation.at) for r in evaluation.results],
        broken=[str(b.ref) for b in evaluation.broken],
    )


@router.get(
    "/scorecards/entities/{kind}/{namespace}/{name}",
    response_model=EntityScorecardsOut,
    dependencies=[READ],
    summary="One entity's results on every scorecard",
)
def entity_scorecards(
    kind: str, namespace: str, name: str, request: Request
) -> EntityScorecardsOut:
    """The entity's level, score and every rule's outcome (with exemptions) per scorecard."""
    portal = _portal(request)
    ref = entity_ref(portal, kind, namespace, name)
    evaluation = evaluation_of(portal)
    return EntityScorecardsOut(
        entity=str(ref),
        evaluated_at=evaluation.at,
        results=[entity_result_out(result, row) for result, row in evaluation.of_entity(ref)],
    )


@router.get(
    "/scorecards/{name}",
    response_model=ScorecardOut,
    dependencies=[READ],
    summary="One scorecard",
)
def get_scorecard(name: str, request: Request) -> ScorecardOut:
    """Its definition (levels, rules with their fix) and the latest totals."""
    evaluation = evaluation_of(_portal(request))
    return scorecard_out(scorecard_of(evaluation, name), evaluation.at)


@router.get(
    "/scorecards/{name}/results",
    response_model=ScorecardResultsOut,
    dependencies=[READ],
    summary="One scorecard's results per entity",
)
def scorecard_results(
    name: str,
    request: Request,
    level: Levels = None,
    owner: Owners = None,
    failing: Failing = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"1 to {MAX_LIMIT}.")] = 50,
    cursor: Annotated[str | None, Query(description="From next_cursor.")] = None,
) -> ScorecardResultsOut:
    """Entities in ref order, each with its level, score and every rule's outcome."""
    evaluation = evaluation_of(_portal(request))
    result = scorecard_of(evaluation, name)
    try:
        selection = Selection.parse(result, level or (), owner or (), failing or ())
        rows = selection.rows(result)
        chosen, next_cursor = page(rows, limit, cursor)
    except SelectionError as exc:
        raise _bad(exc) from None
    return ScorecardResultsOut(
        scorecard=name,
        version=result.version,
        evaluated_at=evaluation.at,
        total=len(rows),
        items=[entity_result_out(result, row) for row in chosen],
        next_cursor=next_cursor,
    )


@router.get(
    "/scorecards/{name}/history",
    response_model=HistoryOut,
    dependencies=[READ],
    summary="A scorecard's trend (or one team's)",
)
def scorecard_history(
    name: str,
    request: Request,
    owner: Annotated[str | None, Query(description="One team's totals, e.g. team-a.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"1 to {MAX_LIMIT}.")] = 100,
) -> HistoryOut:
    """Entities per level at each recorded run, and where the scorecard's version changed."""
    portal = _portal(request)
    result = scorecard_of(evaluation_of(portal), name)
    team = None
    if owner is not None:
        try:
            team = str(parse_ref(owner.strip(), default_kind="group"))
        except RefError as exc:
            raise HTTPException(400, f"owner: {exc} (e.g. team-payments)") from None
    trend = group_trend(portal.scorecards.history, str(result.ref), limit)
    return history_out(name, trend, team)


@router.get(
    "/scorecards/{name}/entities/{kind}/{namespace}/{entity}/history",
    response_model=EntityHistoryOut,
    dependencies=[READ],
    summary="One entity's trend on a scorecard",
)
def entity_history(
    name: str,
    kind: str,
    namespace: str,
    entity: str,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"1 to {MAX_LIMIT}.")] = 100,
) -> EntityHistoryOut:
    """The entity's level and score at each run, and each change with its cause: regressed,
    rule changed or exemption ended."""
    portal = _portal(request)
    result = scorecard_of(evaluation_of(portal), name)
    ref = entity_ref(portal, kind, namespace, entity)
    trend = entity_trend(portal.scorecards.history, str(result.ref), str(ref), limit)
    return entity_history_out(name, ref, trend)
