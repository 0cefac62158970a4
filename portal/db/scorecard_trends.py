"""Trends read from scorecard history, and why each change happened.

A drop in an entity's level or score has one of three causes, and reviewers act
differently on each: the entity regressed (a rule it passed now fails under the
same rule), a rule changed (the rule now failing is new, or its definition, or the
scorecard's scope, changed in that run), or an exemption ended (a rule that was
exempt now fails). Runs record the scorecard's version and each version its rules'
signatures, so the cause is decided per rule, not guessed from the dates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from portal.db.scorecard_history import Definition, History, Run, State

__all__ = ["Change", "Point", "Trend", "classify", "entity_trend", "group_trend"]

Kind = Literal["new", "gone", "regressed", "rule-changed", "exemption-ended", "improved", "changed"]
Cause = Literal["regressed", "rule-changed", "exemption-ended"]

# How a drop reads when its causes differ: a real regression is what a reviewer must see.
_PRECEDENCE: tuple[Cause, ...] = ("regressed", "exemption-ended", "rule-changed")


@dataclass(frozen=True, slots=True)
class Change:
    """What changed for an entity in one run, and why. ``failing``: rules that newly fail,
    each with its cause."""

    kind: Kind
    before: State | None
    after: State
    failing: tuple[tuple[str, Cause], ...] = ()

    @property
    def drop(self) -> bool:
        return self.kind in _PRECEDENCE

    def describe(self) -> str:
        def level(state: State | None) -> str:
            return (state.level or "no level") if state is not None and state.present else "absent"

        words = {
            "new": "first evaluated",
            "gone": "left the scorecard",
            "regressed": "regressed",
            "rule-changed": "dropped because a rule changed",
            "exemption-ended": "dropped because an exemption ended",
            "improved": "improved",
            "changed": "changed",
        }
        text = f"{level(self.before)} -> {level(self.after)}: {words[self.kind]}"
        if self.failing:
            parts = [f"{rule} ({cause.replace('-', ' ')})" for rule, cause in self.failing]
            text += "; fails " + ", ".join(parts)
        return text


@dataclass(frozen=True, slots=True)
class Point:
    """One run in a trend: the state then (None: not evaluated on this scorecard), the
    change that run made, and whether the scorecard's version changed with it."""

    run: Run
    state: State | None
    change: Change | None
    version_changed: bool


@dataclass(frozen=True, slots=True)
class Trend:
    points: tuple[Point, ...]
    levels: tuple[str, ...]  # of the newest run's version, lowest first


def classify(
    before: State | None,
    written_under: Definition | None,
    after: State,
    previous: Definition | None,
    current: Definition,
) -> Change:
    """The change from ``before`` (stored under ``written_under``) to ``after`` (under
    ``current``); ``previous`` is the definition of the run just before."""
    if before is None or not before.present or written_under is None:
        return Change("new" if after.present else "gone", before, after)
    if not after.present:
        return Change("gone", before, after)
    old = before.by_rule(written_under)
    new = after.by_rule(current)
    scope_changed = previous is None or previous.scope != current.scope
    failing: list[tuple[str, Cause]] = []
    for rule, status in new.items():
        was = old.get(rule)
        if status != "fail" or was == "fail":
            continue
        changed = (
            scope_changed
            or was is None
            or previous is None
            or previous.signature(rule) != current.signature(rule)
        )
        cause: Cause = (
            "rule-changed" if changed else "exemption-ended" if was == "exempt" else "regressed"
        )
        failing.append((rule, cause))
    worse = (after.level_index, after.score) < (before.level_index, before.score)
    better = (after.level_index, after.score) > (before.level_index, before.score)
    if worse:
        causes = {cause for _rule, cause in failing}
        kind: Kind = next((c for c in _PRECEDENCE if c in causes), "regressed")
        if not failing and previous is not None and previous.version != current.version:
            kind = "rule-changed"  # e.g. a weight changed: no rule newly fails
    elif better:
        kind = "improved"
    else:
        kind = "changed"
    return Change(kind, before, after, tuple(failing))


def entity_trend(history: History, scorecard: str, entity: str, limit: int = 50) -> Trend:
    """The entity's state at each of the scorecard's last ``limit`` runs, with each change."""
    runs = history.runs(scorecard, limit + 1)  # one more: the run before the first shown
    if not runs:
        return Trend((), ())
    shown = runs[1:] if len(runs) > limit else runs
    rows = history.states(scorecard, entity, shown[0].id, shown[-1].id)
    versions = {run.version for run in runs} | {version for _id, version, _s in rows}
    definitions = history.definitions(scorecard, versions)
    points: list[Point] = []
    state: State | None = None
    written: Definition | None = None
    pending = list(rows)
    if pending and pending[0][0] < shown[0].id:
        _id, version, state = pending.pop(0)
        written = definitions.get(version)
    previous_run = runs[0] if len(runs) > limit else None
    for run in shown:
        current = definitions.get(run.version)
        previous = definitions.get(previous_run.version) if previous_run else None
        change = None
        if pending and pending[0][0] == run.id:
            _id, version, new_state = pending.pop(0)
            if current is not None:
                change = classify(state, written, new_state, previous, current)
            state, written = new_state, current
        version_changed = previous_run is not None and previous_run.version != run.version
        shown_state = state if state is not None and state.present else None
        points.append(Point(run, shown_state, change, version_changed))
        previous_run = run
    last = definitions.get(shown[-1].version)
    return Trend(tuple(points), last.levels if last else ())


def group_trend(history: History, scorecard: str, limit: int = 50) -> Trend:
    """The scorecard's last ``limit`` runs, for its totals (or a team's) per run."""
    runs = history.runs(scorecard, limit + 1)
    if not runs:
        return Trend((), ())
    shown = runs[1:] if len(runs) > limit else runs
    previous_run = runs[0] if len(runs) > limit else None
    points = []
    for run in shown:
        changed = previous_run is not None and previous_run.version != run.version
        points.append(Point(run, None, None, changed))
        previous_run = run
    definitions = history.definitions(scorecard, [shown[-1].version])
    last = definitions.get(shown[-1].version)
    return Trend(tuple(points), last.levels if last else ())
