"""A scorecard's rules compiled into an evaluation program, and the per-entity hot loop.

Rules run in an order where every rule another rule reads (``passed("x")``)
comes first; outcomes are reported in the scorecard's own order. Outcomes that
carry no per-entity detail (a pass, a rule that does not apply) are built once
per rule and shared, so evaluating 10,000 entities allocates little.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from portal.catalog.model import Entity
from portal.scorecards.expressions import EvalError
from portal.scorecards.results import Exemption, RuleOutcome

if TYPE_CHECKING:
    from portal.scorecards.checks import Check
    from portal.scorecards.context import EvalContext
    from portal.scorecards.definition import Rule
    from portal.scorecards.filters import Filter

__all__ = ["Program", "Step", "compile_program", "run_program"]


@dataclass(frozen=True, slots=True)
class Step:
    """One compiled rule."""

    rule: str
    applies: Callable[[Entity], bool] | None
    run: Callable[[Entity, EvalContext], str | None]
    level: int
    weight: float
    check_type: str
    requires: frozenset[str]
    passed: RuleOutcome
    not_applicable: RuleOutcome

    @classmethod
    def of(
        cls, rule: Rule, rule_filter: Filter | None, check: Check, level: int, requires: set[str]
    ) -> Step:
        return cls(
            rule.id,
            rule_filter.matches if rule_filter else None,
            check.run,
            level,
            rule.weight,
            rule.check_type,
            frozenset(requires),
            RuleOutcome(rule.id, "pass", check.summary),
            RuleOutcome(
                rule.id,
                "not-applicable",
                f"the rule applies to {rule_filter.description if rule_filter else 'nothing'}",
            ),
        )


@dataclass(frozen=True, slots=True)
class Program:
    """``steps`` in evaluation order; ``order`` the rule ids as written; ``cycle`` if any."""

    steps: tuple[Step, ...]
    order: tuple[str, ...]
    cycle: tuple[str, ...] = ()


def compile_program(steps: list[Step]) -> Program:
    """Order ``steps`` so each rule runs after the rules it reads; report a cycle if any."""
    order = tuple(step.rule for step in steps)
    by_id = {step.rule: step for step in steps}
    done: dict[str, bool] = {}  # False while being visited
    ordered: list[Step] = []
    path: list[str] = []

    def visit(rule: str) -> tuple[str, ...]:
        if done.get(rule) is True:
            return ()
        if rule in done:
            return (*path[path.index(rule) :], rule)
        done[rule] = False
        path.append(rule)
        for needed in sorted(by_id[rule].requires):
            if needed in by_id:
                cycle = visit(needed)
                if cycle:
                    return cycle
        path.pop()
        done[rule] = True
        ordered.append(by_id[rule])
        return ()

    for step in steps:
        cycle = visit(step.rule)
        if cycle:
            return Program(tuple(steps), order, cycle)
    return Program(tuple(ordered), order)


def run_program(
    program: Program,
    entity: Entity,
    ctx: EvalContext,
    exemptions: Mapping[str, Exemption] | None,
) -> tuple[tuple[RuleOutcome, ...], int, float]:
    """Every rule on ``entity``: (outcomes in the scorecard's order, lowest failing level, score).

    The lowest failing level is the index of the lowest level with a failing
    rule (the number of levels is not known here: a large number means none).
    Never raises for an entity: a check that raises fails with the reason.
    """
    outcomes: dict[str, RuleOutcome] = {}
    ctx.outcomes = outcomes
    lowest = 1 << 30
    total = earned = 0.0
    today = ctx.today
    for step in program.steps:
        if step.applies is not None and not step.applies(entity):
            outcomes[step.rule] = step.not_applicable
            continue
        total += step.weight
        try:
            reason = step.run(entity, ctx)
        except EvalError as exc:
            reason = str(exc)
        except Exception as exc:  # a check's bug must not stop the other entities
            reason = (
                f"the {step.check_type} check failed on this entity: {type(exc).__name__}: {exc}"
            )
        exemption = exemptions.get(step.rule) if exemptions else None
        if reason is None:
            earned += step.weight
            outcome = step.passed
            if exemption is not None:
                outcome = RuleOutcome(
                    step.rule, "pass", step.passed.reason, exemption, exemption.expired_on(today)
                )
        elif exemption is not None and not exemption.expired_on(today):
            earned += step.weight
            outcome = RuleOutcome(step.rule, "exempt", reason, exemption)
        else:
            if step.level < lowest:
                lowest = step.level
            outcome = RuleOutcome(step.rule, "fail", reason, exemption, exemption is not None)
        outcomes[step.rule] = outcome
    score = 100.0 * earned / total if total else 100.0
    return tuple(outcomes[rule] for rule in program.order), lowest, score
