"""Scorecard pages: the list, a scorecard's overview, a team's rollup, and CSV/JSON exports.

Pages follow the catalog's rule (``READ``): whoever may browse the catalog may see
its scores; partners and anonymous visitors see none.
"""

from __future__ import annotations

import csv
import io
import logging
from collections import Counter
from collections.abc import Sequence
from urllib.parse import urlencode

from fastapi import APIRouter
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from portal.catalog import EntityRef, RefError, parse_ref
from portal.db import UNREACHABLE
from portal.db.scorecard_trends import Trend, group_trend
from portal.scorecards import EntityResult, ScorecardResult
from portal.web.pages import READ, render
from portal.web.runtime import Portal
from portal.web.scorecard_card import fix_html, level_colors
from portal.web.scorecard_models import (
    NONE,
    ScorecardResultsOut,
    Selection,
    SelectionError,
    entity_result_out,
)
from portal.web.scorecard_runs import TREND_RUNS, Evaluation
from portal.web.trend_chart import group_chart

__all__ = ["router"]

log = logging.getLogger(__name__)
router = APIRouter()
PAGE_SIZE = 50
HEAT_STEPS = 5  # shades of the heatmap


def _portal(request: Request) -> Portal:
    portal: Portal = request.app.state.portal
    return portal


def _not_ready(request: Request, portal: Portal) -> HTMLResponse:
    failure = portal.scorecards.failure
    message = (
        f"Scorecards could not be evaluated: {failure}"
        if failure
        else "Scorecards are being evaluated; this page will show them in a few seconds."
    )
    response = render(request, "not_found.html", 503, message=message, suggestions=[])
    response.headers["Retry-After"] = "5"
    return response


def _unknown(request: Request, evaluation: Evaluation, name: str) -> HTMLResponse:
    broken = next((b for b in evaluation.broken if b.ref.name == name), None)
    message = (
        f"The scorecard “{name}” has errors in its definition and is not evaluated; "
        "`portal validate` lists them."
        if broken
        else f"There is no scorecard called “{name}”."
    )
    return render(
        request,
        "not_found.html",
        404,
        message=message,
        suggestions=[
            (f"/scorecards/{r.scorecard.name}", r.scorecard.title) for r in evaluation.results
        ],
    )


def _params(request: Request, key: str) -> list[str]:
    return [v for v in request.query_params.getlist(key) if v != ""]


@router.get("/scorecards", response_class=HTMLResponse, dependencies=[READ])
def scorecards(request: Request) -> HTMLResponse:
    portal = _portal(request)
    evaluation = portal.scorecards.current
    if evaluation is None:
        return _not_ready(request, portal)
    return render(
        request,
        "scorecards.html",
        evaluation=evaluation,
        colors={r.scorecard.name: level_colors(r) for r in evaluation.results},
    )


@router.get("/scorecards/{name}", response_class=HTMLResponse, dependencies=[READ])
def scorecard_page(name: str, request: Request) -> HTMLResponse:
    portal = _portal(request)
    evaluation = portal.scorecards.current
    if evaluation is None:
        return _not_ready(request, portal)
    result = evaluation.scorecard(name)
    if result is None:
        return _unknown(request, evaluation, name)
    error = None
    levels, owners, failing = (
        _params(request, "level"),
        _params(request, "owner"),
        _params(request, "failing"),
    )
    try:
        selection = Selection.parse(result, levels, owners, failing)
    except SelectionError as exc:
        error, selection = exc.message, Selection()
    rows = selection.rows(result)
    rows.sort(key=lambda r: (r.level_index, r.score, str(r.entity)))  # what needs work first
    number = _page_number(request)
    shown = rows[(number - 1) * PAGE_SIZE : number * PAGE_SIZE]
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "page" and v]
    colors = level_colors(result)
    trend = _trend(portal, result)
    applicable = Counter(
        o.rule for r in result.entities for o in r.outcomes if o.status != "not-applicable"
    )
    return render(
        request,
        "scorecard.html",
        400 if error else 200,
        evaluation=evaluation,
        result=result,
        colors=colors,
        error=error,
        selection=selection,
        rows=shown,
        total=len(rows),
        number=number,
        pages=max(1, -(-len(rows) // PAGE_SIZE)),
        query=query,
        link=lambda **changes: _link(request, **changes),
        export=urlencode(query),
        heatmap=_heatmap(result),
        failing=[
            (result.scorecard.rule(rule), count, applicable[rule])
            for rule, count in result.failures_by_rule().items()
        ],
        chart=group_chart(trend, colors, f"{result.scorecard.title}: entities per level")
        if trend
        else None,
        version_changes=[p for p in trend.points if p.version_changed] if trend else [],
        teams=sorted({str(r.owner) for r in result.entities if r.owner is not None}),
        none=NONE,
    )


def _trend(portal: Portal, result: ScorecardResult) -> Trend | None:
    """The scorecard's recent runs; None while the database does not answer (the rest of
    the page is drawn from memory)."""
    try:
        return group_trend(portal.scorecards.history, str(result.ref), TREND_RUNS)
    except UNREACHABLE as exc:
        log.warning("scorecard history unavailable: %s", type(exc).__name__)
        return None


def _page_number(request: Request) -> int:
    value = request.query_params.get("page", "1")
    return int(value) if value.isdigit() and int(value) > 0 else 1


def _link(request: Request, **changes: str | None) -> str:
    """This page's URL with ``changes`` to its query (None removes a key); a filter change
    goes back to the first page."""
    params = [(k, v) for k, v in request.query_params.multi_items() if v]
    if "page" not in changes:
        params = [(k, v) for k, v in params if k != "page"]
    params = [(k, v) for k, v in params if k not in changes]
    params += [(k, v) for k, v in changes.items() if v is not None]
    return request.url.path + ("?" + urlencode(params) if params else "")


def _heatmap(result: ScorecardResult) -> dict[str, object]:
    """Owner x level counts, with a shade per cell (0 to HEAT_STEPS - 1) for the page's CSS."""
    levels: list[str | None] = [None, *(level.name for level in result.levels)]
    counts: dict[EntityRef | None, Counter[str | None]] = {}
    for row in result.entities:
        counts.setdefault(row.owner, Counter())[row.level] += 1
    top = max((n for c in counts.values() for n in c.values()), default=1)
    rows = []
    for owner in sorted(counts, key=lambda o: (o is None, str(o))):
        cells = [
            (level, counts[owner][level], _shade(counts[owner][level], top)) for level in levels
        ]
        rows.append((owner, cells, sum(counts[owner].values())))
    return {"levels": levels, "rows": rows}


def _shade(count: int, top: int) -> int:
    return 0 if count == 0 else 1 + min(HEAT_STEPS - 2, (count * (HEAT_STEPS - 1) - 1) // top)


@router.get(
    "/scorecards/{name}/owners/{kind}/{namespace}/{owner}",
    response_class=HTMLResponse,
    dependencies=[READ],
)
def team_page(name: str, kind: str, namespace: str, owner: str, request: Request) -> HTMLResponse:
    portal = _portal(request)
    evaluation = portal.scorecards.current
    if evaluation is None:
        return _not_ready(request, portal)
    result = evaluation.scorecard(name)
    if result is None:
        return _unknown(request, evaluation, name)
    try:
        ref = parse_ref(f"{kind}:{namespace}/{owner}")
    except RefError as exc:
        return render(request, "not_found.html", 404, message=str(exc), suggestions=[])
    rows = sorted(
        (r for r in result.entities if r.owner == ref),
        key=lambda r: (r.level_index, r.score, str(r.entity)),
    )
    if not rows:
        owners = sorted({r.owner for r in result.entities if r.owner is not None})
        return render(
            request,
            "not_found.html",
            404,
            message=f"{ref} owns no entity that {result.scorecard.title} applies to.",
            suggestions=[(_owner_url(name, o), str(o)) for o in owners[:10]],
        )
    colors = level_colors(result)
    trend = _trend(portal, result)
    counts = Counter(r.level for r in rows)
    return render(
        request,
        "scorecard_team.html",
        evaluation=evaluation,
        result=result,
        owner=ref,
        owner_entity=portal.view.catalog.get(ref),
        rows=rows,
        colors=colors,
        counts=[(level, counts.get(level, 0)) for level in [None, *colors]],
        chart=group_chart(
            trend, colors, f"{ref.short('group')} on {result.scorecard.title}", owner=str(ref)
        )
        if trend
        else None,
        failing=Counter(o.rule for r in rows for o in r.outcomes if o.status == "fail"),
        fixes={rule.id: fix_html(portal, rule) for rule in result.rules},
    )


def _owner_url(name: str, owner: EntityRef) -> str:
    return f"/scorecards/{name}/owners/{owner.kind}/{owner.namespace}/{owner.name}"


def _export_rows(
    request: Request, name: str
) -> tuple[Evaluation, ScorecardResult, list[EntityResult]]:
    portal = _portal(request)
    evaluation = portal.scorecards.current
    if evaluation is None:
        raise HTTPException(503, "scorecards are being evaluated; try again in a few seconds")
    result = evaluation.scorecard(name)
    if result is None:
        raise HTTPException(404, f"no scorecard {name!r}")
    try:
        selection = Selection.parse(
            result,
            _params(request, "level"),
            _params(request, "owner"),
            _params(request, "failing"),
        )
    except SelectionError as exc:
        raise HTTPException(400, exc.message) from None
    return evaluation, result, selection.rows(result)


def _attachment(body: str | bytes, media_type: str, filename: str) -> Response:
    return Response(
        body,
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/scorecards/{name}/results.csv", dependencies=[READ])
def export_csv(name: str, request: Request) -> Response:
    """One line per entity: its level, score and each rule's status (the page's filters apply)."""
    _evaluation, result, rows = _export_rows(request, name)
    rules: Sequence[str] = [rule.id for rule in result.rules]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["entity", "owner", "level", "score", "failing", *rules])
    for row in rows:
        status = {o.rule: o.status for o in row.outcomes}
        writer.writerow(
            [
                str(row.entity),
                str(row.owner or ""),
                row.level or NONE,
                f"{row.score:g}",
                " ".join(o.rule for o in row.failing),
                *(status.get(rule, "not-applicable") for rule in rules),
            ]
        )
    return _attachment(out.getvalue(), "text/csv; charset=utf-8", f"{name}-results.csv")


@router.get("/scorecards/{name}/results.json", dependencies=[READ])
def export_json(name: str, request: Request) -> Response:
    """The API's results answer (GET /api/v1/scorecards/{name}/results), every entity at once."""
    evaluation, result, rows = _export_rows(request, name)
    body = ScorecardResultsOut(
        scorecard=name,
        version=result.version,
        evaluated_at=evaluation.at,
        total=len(rows),
        items=[entity_result_out(result, row) for row in rows],
        next_cursor=None,
    )
    return _attachment(body.model_dump_json(indent=2), "application/json", f"{name}-results.json")
