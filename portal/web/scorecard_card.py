"""The scorecard part of an entity page: per scorecard its level, every rule's outcome with
the fix, and its trend; on a team's page, how the team's entities fare.

Built here, not in the template, so the page only lays out what this module decided.
"""

from __future__ import annotations

import logging
import posixpath
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from markupsafe import Markup

from portal.catalog import Entity, EntityRef
from portal.db import UNREACHABLE
from portal.db.scorecard_trends import Change
from portal.scorecards import EntityResult, Rule, RuleOutcome, ScorecardResult
from portal.sites import urls
from portal.sites.config import best_audience
from portal.web.markdown_text import Resolver, render_markdown
from portal.web.trend_chart import entity_chart

if TYPE_CHECKING:
    from portal.web.runtime import Portal

__all__ = [
    "EntityCard",
    "RuleRow",
    "TeamRow",
    "docs_links",
    "entity_card",
    "fix_html",
    "level_colors",
    "team_rows",
]

log = logging.getLogger(__name__)


def level_colors(result: ScorecardResult) -> dict[str, str]:
    return {level.name: level.color for level in result.levels}


def docs_links(portal: Portal) -> Resolver:
    """Where a fix's relative link to a docs page leads: that page in the widest internal site.

    Fixes link as if written in a page one folder below the docs folder, as the standards
    page is (``../operations/on-call.md``). A link to no known page loses its address.
    """
    docs = portal.docs

    def resolve(href: str) -> str | None:
        path, _, anchor = href.partition("#")
        if docs is None or not path.endswith(".md"):
            return None
        page = docs.pages.get(posixpath.normpath(posixpath.join("_", path)))
        if page is None:
            return None
        names = [n for n, a in portal.audiences.items() if a.includes_page(page)]
        best = best_audience(portal.audiences, names)
        return urls.portal_url("", best, page.path, anchor) if best is not None else None

    return resolve


class _Fixes:
    """Rules' fixes as HTML, for the docs and sites as they are now.

    A fix is Markdown, the same for every entity it is shown on, and converting it costs
    more than the rest of an entity page: each is converted once. A new build (new docs
    or sites objects) starts again; so does growing past ``size`` fixes.
    """

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._for: tuple[object, object] | None = None
        self._html: dict[str, Markup] = {}
        self._lock = threading.Lock()

    def html(self, portal: Portal, fix: str) -> Markup:
        built = (portal.docs, portal.site)
        with self._lock:
            if self._for is None or any(a is not b for a, b in zip(self._for, built, strict=True)):
                self._for, self._html = built, {}
            found = self._html.get(fix)
        if found is None:
            found = render_markdown(fix, docs_links(portal))
            with self._lock:
                if self._for is not None and all(
                    a is b for a, b in zip(self._for, built, strict=True)
                ):
                    if len(self._html) >= self.size:
                        self._html.clear()
                    self._html[fix] = found
        return found


_FIXES = _Fixes()


def fix_html(portal: Portal, rule: Rule) -> Markup:
    """The rule's fix as HTML, its links to docs pages leading into the portal's sites."""
    return _FIXES.html(portal, rule.fix)


@dataclass(frozen=True, slots=True)
class RuleRow:
    rule: Rule
    outcome: RuleOutcome
    fix: Markup  # the rule's fix, rendered


@dataclass(frozen=True, slots=True)
class ScorecardCard:
    result: ScorecardResult
    row: EntityResult
    color: str | None
    rules: list[RuleRow]
    chart: Markup | None  # None when the history cannot be read now
    changes: list[tuple[str, Change]]  # (when, change), newest first


@dataclass(frozen=True, slots=True)
class TeamRow:
    result: ScorecardResult
    counts: list[tuple[str | None, str | None, int]]  # level (None: below first), color, entities
    total: int


@dataclass(frozen=True, slots=True)
class EntityCard:
    """``state``: ready, evaluating or failed (``failure`` says why)."""

    state: str
    failure: str | None
    cards: list[ScorecardCard]
    team: list[TeamRow]


def entity_card(portal: Portal, entity: Entity) -> EntityCard:
    runs = portal.scorecards
    evaluation = runs.current
    if evaluation is None:
        state = "failed" if runs.failure else "evaluating"
        return EntityCard(state, runs.failure, [], [])
    cards = [_card(portal, result, row) for result, row in evaluation.of_entity(entity.ref)]
    team = team_rows(evaluation.results, entity.ref) if entity.ref.kind in ("group", "user") else []
    return EntityCard("ready", None, cards, team)


def _card(portal: Portal, result: ScorecardResult, row: EntityResult) -> ScorecardCard:
    runs = portal.scorecards
    rules = {rule.id: rule for rule in result.rules}
    rows = [
        RuleRow(rules[o.rule], o, fix_html(portal, rules[o.rule]))
        for o in row.outcomes
        if o.rule in rules
    ]
    colors = level_colors(result)
    chart: Markup | None = None
    changes: list[tuple[str, Change]] = []
    try:
        trend = runs.entity_trend(str(result.ref), str(row.entity))
    except UNREACHABLE as exc:  # the page is drawn from memory; only the trend needs the database
        log.warning("scorecard history unavailable: %s", type(exc).__name__)
    else:
        title = f"{row.entity.name} on {result.scorecard.title}: level at each evaluation"
        chart = entity_chart(trend, colors, title)
        changes = [
            (p.run.at.strftime("%Y-%m-%d %H:%M"), p.change)
            for p in reversed(trend.points)
            if p.change is not None and p.change.kind not in ("new", "changed")
        ]
    return ScorecardCard(result, row, colors.get(row.level or ""), rows, chart, changes)


def team_rows(results: tuple[ScorecardResult, ...], owner: EntityRef) -> list[TeamRow]:
    """Per scorecard, the owner's entities per level (scorecards where it owns none left out)."""
    out = []
    for result in results:
        mine = [row for row in result.entities if row.owner == owner]
        if not mine:
            continue
        colors = level_colors(result)
        order: list[str | None] = [None, *(level.name for level in result.levels)]
        counts = [
            (level, colors.get(level) if level else None, sum(1 for r in mine if r.level == level))
            for level in order
        ]
        out.append(TeamRow(result, counts, len(mine)))
    return out
