"""What the scorecard API answers, and the one selection of results the API and the pages share.

The JSON export of a scorecard page is :class:`ScorecardResultsOut` with every
selected entity, so it is the API's answer without paging.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from portal.catalog import EntityRef, RefError, parse_ref
from portal.db.scorecard_history import Run
from portal.db.scorecard_trends import Change, Point, Trend
from portal.scorecards import EntityResult, ScorecardResult

__all__ = [
    "NONE",
    "EntityResultOut",
    "HistoryOut",
    "ScorecardOut",
    "ScorecardResultsOut",
    "Selection",
    "SelectionError",
    "entity_history_out",
    "entity_result_out",
    "history_out",
    "scorecard_out",
]

NONE = "none"  # the level filter's word for "below the first level"


class LevelOut(BaseModel):
    name: str
    color: str
    description: str
    entities: int = Field(description="Entities at exactly this level in the latest evaluation.")


class RuleOut(BaseModel):
    id: str
    title: str
    description: str
    fix: str = Field(description="How to fix a failure, in Markdown.")
    level: str
    weight: float
    check: str = Field(description="The check type.")
    summary: str = Field(description="What the check looks at, in words.")
    applies_to: str | None = Field(description="The rule's own filter, if any, in words.")
    failing: int = Field(description="Entities failing it now (exempt ones not counted).")


class ScorecardOut(BaseModel):
    name: str
    ref: str
    title: str
    description: str
    owner: str | None
    version: str = Field(description="Hash of what decides results; changes with a stricter rule.")
    applies_to: str
    evaluated_at: datetime
    evaluated_on: date = Field(description="The day exemptions and review ages were judged on.")
    entities: int
    below_first_level: int = Field(description="Entities that reach no level.")
    levels: list[LevelOut] = Field(description="Lowest first.")
    rules: list[RuleOut]


class ScorecardListOut(BaseModel):
    items: list[ScorecardOut]
    broken: list[str] = Field(
        description="Scorecards left out because their definition has errors (portal validate)."
    )


class ExemptionOut(BaseModel):
    reason: str
    approver: str
    expires: date
    where: str = Field(description="file:line where it is written.")
    expired: bool = Field(description="It no longer counts: expires is in the past.")


class OutcomeOut(BaseModel):
    rule: str
    status: Literal["pass", "fail", "exempt", "not-applicable"]
    reason: str
    exemption: ExemptionOut | None


class EntityResultOut(BaseModel):
    scorecard: str
    entity: str
    owner: str | None
    level: str | None = Field(description="The highest level reached; null below the first.")
    level_index: int = Field(description="Position of the level, lowest 0; -1 for none.")
    score: float = Field(description="Weighted percentage of applicable rules passed or exempt.")
    outcomes: list[OutcomeOut]


class ScorecardResultsOut(BaseModel):
    scorecard: str
    version: str
    evaluated_at: datetime
    total: int = Field(description="Entities matching the filters.")
    items: list[EntityResultOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page.")


class EntityScorecardsOut(BaseModel):
    entity: str
    evaluated_at: datetime
    results: list[EntityResultOut] = Field(description="One per scorecard that applies to it.")


class RunOut(BaseModel):
    id: int
    at: datetime
    trigger: Literal["startup", "registration", "build"]
    reason: str
    version: str
    version_changed: bool = Field(
        description="The scorecard's definition differs from the run before: changes in this "
        "run may come from its rules, not from the entities."
    )
    entities: int
    levels: dict[str, int] = Field(description=f"Entities per level ({NONE!r}: below the first).")
    score: float | None = Field(description="Mean score.")


class HistoryOut(BaseModel):
    scorecard: str
    owner: str | None = Field(description="The team the totals are for; null: every entity.")
    runs: list[RunOut] = Field(description="Oldest first.")


class ChangeOut(BaseModel):
    kind: Literal[
        "new", "gone", "regressed", "rule-changed", "exemption-ended", "improved", "changed"
    ] = Field(
        description="regressed: a rule the entity passed fails under the same rule; "
        "rule-changed: the rule now failing is new or was changed in this run; "
        "exemption-ended: a rule that was exempt now fails."
    )
    description: str
    failing: dict[str, str] = Field(description="Rules that newly fail -> cause.")


class EntityPointOut(BaseModel):
    run: RunOut
    present: bool = Field(description="Whether the scorecard applied to the entity then.")
    level: str | None
    level_index: int | None
    score: float | None
    change: ChangeOut | None = Field(description="What this run changed for the entity.")


class EntityHistoryOut(BaseModel):
    scorecard: str
    entity: str
    levels: list[str]
    points: list[EntityPointOut] = Field(description="Oldest first.")


class SelectionError(Exception):
    """A bad filter or cursor; ``field`` names the parameter."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = f"{field}: {message}"


@dataclass(frozen=True, slots=True)
class Selection:
    """Which of a scorecard's entity results to show: any of the levels, owners, failing rules."""

    levels: tuple[str, ...] = ()
    owners: tuple[EntityRef, ...] = ()
    failing: tuple[str, ...] = ()

    @classmethod
    def parse(
        cls,
        result: ScorecardResult,
        levels: Sequence[str] = (),
        owners: Sequence[str] = (),
        failing: Sequence[str] = (),
    ) -> Selection:
        known = [NONE, *(level.name for level in result.levels)]
        for level in levels:
            if level not in known:
                raise SelectionError(
                    "level",
                    f"{level!r} is not a level of {result.scorecard.name} "
                    f"(levels: {', '.join(known)})",
                )
        refs = []
        for owner in owners:
            try:
                refs.append(parse_ref(owner.strip(), default_kind="group"))
            except RefError as exc:
                raise SelectionError("owner", f"{exc} (e.g. team-payments)") from None
        rules = [rule.id for rule in result.rules]
        for rule in failing:
            if rule not in rules:
                raise SelectionError(
                    "failing",
                    f"{rule!r} is not a rule of {result.scorecard.name} "
                    f"(rules: {', '.join(rules)})",
                )
        return cls(tuple(levels), tuple(refs), tuple(failing))

    def rows(self, result: ScorecardResult) -> list[EntityResult]:
        """The matching results, in entity order."""
        out = []
        for row in result.entities:
            if self.levels and (row.level or NONE) not in self.levels:
                continue
            if self.owners and row.owner not in self.owners:
                continue
            if self.failing and not any(
                o.rule in self.failing and o.status == "fail" for o in row.outcomes
            ):
                continue
            out.append(row)
        out.sort(key=lambda row: str(row.entity))
        return out


def page(
    rows: Sequence[EntityResult], limit: int, cursor: str | None
) -> tuple[list[EntityResult], str | None]:
    """One page after ``cursor`` (the last entity of the page before), and the next cursor."""
    start = 0
    if cursor:
        try:
            padded = cursor.encode("ascii") + b"=" * (-len(cursor) % 4)
            after = base64.b64decode(padded, altchars=b"-_", validate=True).decode("utf-8")
            parse_ref(after)
        except (binascii.Error, UnicodeError, ValueError, RefError):
            raise SelectionError("cursor", "not a cursor this API gave (use next_cursor)") from None
        start = next((i for i, r in enumerate(rows) if str(r.entity) > after), len(rows))
    chosen = list(rows[start : start + limit])
    more = start + limit < len(rows)
    token = (
        base64.urlsafe_b64encode(str(chosen[-1].entity).encode()).decode().rstrip("=")
        if more and chosen
        else None
    )
    return chosen, token


def scorecard_out(result: ScorecardResult, at: datetime) -> ScorecardOut:
    scorecard = result.scorecard
    counts = result.by_level()
    failing = result.failures_by_rule()
    return ScorecardOut(
        name=scorecard.name,
        ref=str(scorecard.ref),
        title=scorecard.title,
        description=scorecard.description,
        owner=str(scorecard.owner) if scorecard.owner else None,
        version=scorecard.version,
        applies_to=scorecard.applies_to,
        evaluated_at=at,
        evaluated_on=result.today,
        entities=len(result.entities),
        below_first_level=counts.get(None, 0),
        levels=[
            LevelOut(
                name=level.name,
                color=level.color,
                description=level.description,
                entities=counts.get(level.name, 0),
            )
            for level in scorecard.levels
        ],
        rules=[
            RuleOut(
                id=rule.id,
                title=rule.title,
                description=rule.description,
                fix=rule.fix,
                level=rule.level,
                weight=rule.weight,
                check=rule.check_type,
                summary=rule.summary,
                applies_to=rule.applies_to,
                failing=failing.get(rule.id, 0),
            )
            for rule in scorecard.rules
        ],
    )


def entity_result_out(result: ScorecardResult, row: EntityResult) -> EntityResultOut:
    outcomes = []
    for outcome in row.outcomes:
        exemption = outcome.exemption
        outcomes.append(
            OutcomeOut(
                rule=outcome.rule,
                status=outcome.status,
                reason=outcome.reason,
                exemption=ExemptionOut(
                    reason=exemption.reason,
                    approver=exemption.approver,
                    expires=exemption.expires,
                    where=exemption.where,
                    expired=outcome.expired,
                )
                if exemption is not None
                else None,
            )
        )
    return EntityResultOut(
        scorecard=result.scorecard.name,
        entity=str(row.entity),
        owner=str(row.owner) if row.owner else None,
        level=row.level,
        level_index=row.level_index,
        score=row.score,
        outcomes=outcomes,
    )


def run_out(run: Run, version_changed: bool, owner: str | None = None) -> RunOut:
    levels = run.levels(owner)
    return RunOut(
        id=run.id,
        at=run.at,
        trigger=run.trigger,  # type: ignore[arg-type]
        reason=run.reason,
        version=run.version,
        version_changed=version_changed,
        entities=sum(levels.values()),
        levels={(name or NONE): count for name, count in levels.items()},
        score=run.score(owner),
    )


def history_out(name: str, trend: Trend, owner: str | None) -> HistoryOut:
    return HistoryOut(
        scorecard=name,
        owner=owner,
        runs=[run_out(p.run, p.version_changed, owner) for p in trend.points],
    )


def _change_out(change: Change | None) -> ChangeOut | None:
    if change is None:
        return None
    return ChangeOut(kind=change.kind, description=change.describe(), failing=dict(change.failing))


def _point_out(point: Point) -> EntityPointOut:
    state = point.state
    return EntityPointOut(
        run=run_out(point.run, point.version_changed),
        present=state is not None,
        level=state.level if state else None,
        level_index=state.level_index if state else None,
        score=state.score if state else None,
        change=_change_out(point.change),
    )


def entity_history_out(name: str, entity: EntityRef, trend: Trend) -> EntityHistoryOut:
    return EntityHistoryOut(
        scorecard=name,
        entity=str(entity),
        levels=list(trend.levels),
        points=[_point_out(p) for p in trend.points],
    )
