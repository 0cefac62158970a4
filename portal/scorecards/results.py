"""What an evaluation gives: per scorecard, per entity, per rule, with the reasons.

These are plain frozen dataclasses so the web pages, the database history and
the CLI formats all read the same values and none re-derives them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Literal

from portal.catalog.refs import EntityRef

if TYPE_CHECKING:
    from portal.scorecards.definition import Level, Rule, Scorecard

__all__ = ["STATUSES", "EntityResult", "Exemption", "RuleOutcome", "ScorecardResult", "Status"]

Status = Literal["pass", "fail", "exempt", "not-applicable"]
STATUSES: tuple[Status, ...] = ("pass", "fail", "exempt", "not-applicable")


@dataclass(frozen=True, slots=True)
class Exemption:
    """A rule an entity need not pass until ``expires``, and who agreed to it, and why.

    ``scorecard`` and ``rule`` name the rule (``rule: <scorecard>/<rule-id>`` in
    the annotation); ``where`` is the file and line it is written at.
    """

    scorecard: str
    rule: str
    reason: str
    approver: str
    expires: date
    where: str

    def expired_on(self, today: date) -> bool:
        """True from the day after ``expires``: an exemption counts through its expiry date."""
        return today > self.expires


@dataclass(frozen=True, slots=True)
class RuleOutcome:
    """One rule on one entity.

    ``status``: ``pass``, ``fail``, ``exempt`` (fails, but an exemption in force
    covers it) or ``not-applicable`` (the rule's own ``appliesTo`` leaves the
    entity out). ``reason`` says why in words: what was found when it fails
    (also when exempt), what was checked when it passes, which filter left it
    out when not applicable. ``exemption`` is the entity's exemption for this
    rule, if any; ``expired`` is True when that exemption no longer counts.
    """

    rule: str
    status: Status
    reason: str
    exemption: Exemption | None = None
    expired: bool = False

    @property
    def counts_as_passed(self) -> bool:
        return self.status in ("pass", "exempt")


@dataclass(frozen=True, slots=True)
class EntityResult:
    """One entity on one scorecard: its level, its weighted score and every rule's outcome.

    ``level`` is the highest level whose rules, and every lower level's, all pass
    (or are exempt); None when a rule of the first level fails. ``level_index``
    is its position in the scorecard's levels (-1 for None), for comparisons.
    ``score`` is the weight of rules passed or exempt over the weight of rules
    that apply, as a percentage (100.0 when none applies). ``outcomes`` follow the
    scorecard's rule order.
    """

    entity: EntityRef
    owner: EntityRef | None
    level: str | None
    level_index: int
    score: float
    outcomes: tuple[RuleOutcome, ...]

    def outcome(self, rule: str) -> RuleOutcome | None:
        return next((o for o in self.outcomes if o.rule == rule), None)

    @property
    def failing(self) -> list[RuleOutcome]:
        return [o for o in self.outcomes if o.status == "fail"]

    @property
    def exempt(self) -> list[RuleOutcome]:
        return [o for o in self.outcomes if o.status == "exempt"]


@dataclass(frozen=True, slots=True)
class ScorecardResult:
    """A scorecard evaluated on every entity it applies to, on ``today``.

    ``version`` identifies the scorecard's definition (see
    :attr:`Scorecard.version`), so a change of results caused by a changed rule
    can be told from a change of the entity.
    """

    scorecard: Scorecard
    today: date
    entities: tuple[EntityResult, ...]

    @property
    def ref(self) -> EntityRef:
        return self.scorecard.ref

    @property
    def version(self) -> str:
        return self.scorecard.version

    @property
    def levels(self) -> tuple[Level, ...]:
        return self.scorecard.levels

    @property
    def rules(self) -> tuple[Rule, ...]:
        return self.scorecard.rules

    def result_for(self, entity: EntityRef) -> EntityResult | None:
        return next((r for r in self.entities if r.entity == entity), None)

    def by_level(self) -> dict[str | None, int]:
        """How many entities reached each level (None: below the first), lowest first."""
        counts = Counter(r.level for r in self.entities)
        order: list[str | None] = [None, *(level.name for level in self.levels)]
        return {level: counts.get(level, 0) for level in order}

    def failures_by_rule(self) -> dict[str, int]:
        """How many entities fail each rule (exempt ones not counted), most first."""
        counts = Counter(o.rule for r in self.entities for o in r.outcomes if o.status == "fail")
        return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
