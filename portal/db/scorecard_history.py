"""Scorecard history in the database: one row per evaluation run, entity states only as they change.

Why only changes: an evaluation of 10,000 entities x 25 rules is 250,000 rule
outcomes, and the portal evaluates after every registration and build. Between two
runs almost nothing changes (a registration touches one entity), so a run writes
one ``scorecard_runs`` row plus a ``scorecard_entity_states`` row for each entity
whose level, score, owner or rule statuses differ from its last stored state (all
of them on the first run, in one bulk insert). Each state row keeps every rule's
status as one letter per rule, in the rule order of the run's scorecard version
(``scorecard_versions``), so 25 statuses cost 25 bytes instead of 25 rows. The
scorecard's and each team's trend are totals kept on the run row; an entity's
state at a run is its latest state row at or before that run.

Reasons and exemption texts are not stored: they are in git, and the latest
evaluation (in memory) shows them.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, func, insert, select
from sqlalchemy.orm import Session

from portal.db.database import Database
from portal.db.models import (
    ScorecardEntityState,
    ScorecardRun,
    ScorecardVersion,
    as_utc,
    utcnow,
)
from portal.scorecards.results import ScorecardResult, Status

__all__ = [
    "LETTERS",
    "TRIGGERS",
    "Definition",
    "History",
    "Run",
    "State",
    "definition_of",
]

TRIGGERS = ("startup", "registration", "build")
LETTERS: dict[Status, str] = {"pass": "p", "fail": "f", "exempt": "e", "not-applicable": "n"}
STATUS_OF: dict[str, Status] = {letter: status for status, letter in LETTERS.items()}
NO_LEVEL = ""  # the key of "below the first level" in a run's level counts


@dataclass(frozen=True, slots=True)
class Definition:
    """What decides a scorecard version's results, as stored: rule ids in order with
    their signatures, the level names, and the scorecard-wide part's hash."""

    version: str
    rules: tuple[tuple[str, str], ...]
    levels: tuple[str, ...]
    scope: str

    @property
    def rule_ids(self) -> tuple[str, ...]:
        return tuple(rule for rule, _signature in self.rules)

    def signature(self, rule: str) -> str | None:
        return next((s for r, s in self.rules if r == rule), None)


@dataclass(frozen=True, slots=True)
class State:
    """An entity's result on a scorecard as stored (``statuses`` as in :class:`Definition`)."""

    owner: str | None
    level: str | None
    level_index: int
    score: float
    statuses: str
    present: bool = True

    def by_rule(self, definition: Definition) -> dict[str, Status]:
        """Each rule's status, read with the definition the state was written under."""
        return {
            rule: STATUS_OF.get(letter, "not-applicable")
            for rule, letter in zip(definition.rule_ids, self.statuses, strict=False)
        }


@dataclass(frozen=True, slots=True)
class Run:
    """One stored evaluation of one scorecard."""

    id: int
    scorecard: str
    version: str
    trigger: str
    reason: str
    at: datetime
    evaluated_on: date
    entities: int
    changed: int
    summary: Mapping[str, Any]

    def levels(self, owner: str | None = None) -> dict[str, int]:
        """Entities per level ("" below the first), for the scorecard or one owner."""
        if owner is None:
            counts = self.summary.get("levels", {})
        else:
            counts = self.summary.get("owners", {}).get(owner, {}).get("levels", {})
        return {str(k): int(v) for k, v in counts.items()}

    def score(self, owner: str | None = None) -> float | None:
        part = self.summary if owner is None else self.summary.get("owners", {}).get(owner)
        value = part.get("score") if part else None
        return float(value) if value is not None else None


def definition_of(result: ScorecardResult, spec: Mapping[str, Any] | None = None) -> Definition:
    """The stored form of ``result``'s scorecard; ``spec`` is the Scorecard entity's spec.

    A rule's signature hashes what decides its results (level, weight, appliesTo,
    check) as written in ``spec``; without a spec, as the compiled rule describes it.
    """
    raw = spec.get("rules") if spec is not None else None
    written = {r.get("id"): r for r in raw if isinstance(r, dict)} if isinstance(raw, list) else {}
    rules = []
    for rule in result.rules:
        source = written.get(rule.id)
        decisive: object = (
            {key: source.get(key) for key in ("level", "weight", "appliesTo", "check")}
            if source is not None
            else [rule.level, rule.weight, rule.check_type, rule.summary, rule.applies_to]
        )
        rules.append((rule.id, _hash(decisive)))
    levels = tuple(level.name for level in result.levels)
    scope = _hash(
        {"appliesTo": (spec or {}).get("appliesTo", result.scorecard.applies_to), "levels": levels}
    )
    return Definition(result.version, tuple(rules), levels, scope)


def _hash(value: object) -> str:
    text = json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


class History:
    """Writes runs and reads them back. One per process; ``record`` from one thread at a time.

    The last stored state of each entity is kept in memory per scorecard, and read
    again from the database when another process (a replica) has recorded since.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self._lock = threading.Lock()
        self._known: dict[str, tuple[int, dict[str, State]]] = {}

    # -- writing -------------------------------------------------------------

    def record(
        self,
        result: ScorecardResult,
        definition: Definition,
        trigger: str,
        reason: str = "",
        at: datetime | None = None,
    ) -> Run:
        """Store one evaluation of one scorecard; all of it, or (on any error) nothing."""
        if trigger not in TRIGGERS:
            raise ValueError(f"trigger {trigger!r}: expected one of {', '.join(TRIGGERS)}")
        scorecard = str(result.ref)
        states = {str(r.entity): _state_of(r, definition) for r in result.entities}
        with self._lock, self.db.session() as session:
            if session.get(ScorecardVersion, (scorecard, definition.version)) is None:
                session.add(
                    ScorecardVersion(
                        scorecard=scorecard,
                        version=definition.version,
                        rules=[list(pair) for pair in definition.rules],
                        levels=list(definition.levels),
                        scope=definition.scope,
                    )
                )
            before = self._last_states(session, scorecard)
            rows = [
                (entity, state) for entity, state in states.items() if before.get(entity) != state
            ]
            rows += [
                (entity, State(old.owner, None, -1, 0.0, "", present=False))
                for entity, old in before.items()
                if old.present and entity not in states
            ]
            run = ScorecardRun(
                scorecard=scorecard,
                version=definition.version,
                trigger=trigger,
                reason=reason[:500],
                at=at or utcnow(),
                evaluated_on=result.today,
                entities=len(states),
                changed=len(rows),
                summary=_summary(result),
            )
            session.add(run)
            session.flush()
            if rows:
                session.execute(
                    insert(ScorecardEntityState),
                    [
                        {
                            "run_id": run.id,
                            "entity": entity,
                            "scorecard": scorecard,
                            "owner": state.owner,
                            "level": state.level,
                            "level_index": state.level_index,
                            "score": state.score,
                            "statuses": state.statuses,
                            "present": state.present,
                        }
                        for entity, state in rows
                    ],
                )
            stored = _run(run)
        after = dict(before)
        after.update(rows)
        with self._lock:
            self._known[scorecard] = (stored.id, after)
        return stored

    def _last_states(self, session: Session, scorecard: str) -> dict[str, State]:
        latest = session.scalar(
            select(func.max(ScorecardRun.id)).where(ScorecardRun.scorecard == scorecard)
        )
        known = self._known.get(scorecard)
        if known is not None and known[0] == latest:
            return known[1]
        last = (
            select(
                ScorecardEntityState.entity,
                func.max(ScorecardEntityState.run_id).label("run_id"),
            )
            .where(ScorecardEntityState.scorecard == scorecard)
            .group_by(ScorecardEntityState.entity)
            .subquery()
        )
        rows = session.scalars(
            select(ScorecardEntityState)
            .join(
                last,
                and_(
                    ScorecardEntityState.entity == last.c.entity,
                    ScorecardEntityState.run_id == last.c.run_id,
                ),
            )
            .where(ScorecardEntityState.scorecard == scorecard)
        )
        return {row.entity: _stored_state(row) for row in rows}

    # -- reading -------------------------------------------------------------

    def runs(self, scorecard: str, limit: int = 100, before: int | None = None) -> list[Run]:
        """The scorecard's last ``limit`` runs (before run id ``before``), oldest first."""
        query = select(ScorecardRun).where(ScorecardRun.scorecard == scorecard)
        if before is not None:
            query = query.where(ScorecardRun.id < before)
        with self.db.session() as session:
            rows = session.scalars(query.order_by(ScorecardRun.id.desc()).limit(limit))
            return [_run(row) for row in rows][::-1]

    def states(
        self, scorecard: str, entity: str, from_run: int, to_run: int
    ) -> list[tuple[int, str, State]]:
        """The entity's state rows for runs ``from_run``..``to_run``, plus the last one before
        (its state when ``from_run`` began), oldest first: (run id, run's version, state)."""
        rows = ScorecardEntityState
        base = (
            select(rows, ScorecardRun.version)
            .join(ScorecardRun, ScorecardRun.id == rows.run_id)
            .where(rows.scorecard == scorecard, rows.entity == entity)
        )
        with self.db.session() as session:
            earlier = session.execute(
                base.where(rows.run_id < from_run).order_by(rows.run_id.desc()).limit(1)
            ).all()
            within = session.execute(
                base.where(rows.run_id >= from_run, rows.run_id <= to_run).order_by(rows.run_id)
            ).all()
        return [(row.run_id, version, _stored_state(row)) for row, version in [*earlier, *within]]

    def definitions(self, scorecard: str, versions: Iterable[str]) -> dict[str, Definition]:
        wanted = sorted(set(versions))
        if not wanted:
            return {}
        with self.db.session() as session:
            rows = session.scalars(
                select(ScorecardVersion).where(
                    ScorecardVersion.scorecard == scorecard, ScorecardVersion.version.in_(wanted)
                )
            )
            return {
                row.version: Definition(
                    row.version,
                    tuple((str(r), str(s)) for r, s in row.rules),
                    tuple(row.levels),
                    row.scope,
                )
                for row in rows
            }


def _state_of(result: Any, definition: Definition) -> State:
    by_rule = {o.rule: o.status for o in result.outcomes}
    statuses = "".join(LETTERS[by_rule.get(rule, "not-applicable")] for rule in definition.rule_ids)
    owner = str(result.owner) if result.owner is not None else None
    return State(owner, result.level, result.level_index, float(result.score), statuses)


def _stored_state(row: ScorecardEntityState) -> State:
    return State(row.owner, row.level, row.level_index, row.score, row.statuses, row.present)


def _run(row: ScorecardRun) -> Run:
    return Run(
        id=row.id,
        scorecard=row.scorecard,
        version=row.version,
        trigger=row.trigger,
        reason=row.reason,
        at=as_utc(row.at),
        evaluated_on=row.evaluated_on,
        entities=row.entities,
        changed=row.changed,
        summary=row.summary,
    )


def _summary(result: ScorecardResult) -> dict[str, Any]:
    """The totals a run keeps for the scorecard's and each team's trend."""
    levels: Counter[str] = Counter()
    scores: list[float] = []
    owners: dict[str, Counter[str]] = defaultdict(Counter)
    owner_scores: dict[str, list[float]] = defaultdict(list)
    for row in result.entities:
        level = row.level or NO_LEVEL
        owner = str(row.owner) if row.owner is not None else NO_LEVEL
        levels[level] += 1
        scores.append(row.score)
        owners[owner][level] += 1
        owner_scores[owner].append(row.score)
    return {
        "levels": dict(levels),
        "score": _mean(scores),
        "owners": {
            owner: {"levels": dict(counts), "score": _mean(owner_scores[owner])}
            for owner, counts in sorted(owners.items())
        },
        "failing": result.failures_by_rule(),
    }


def _mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 2) if values else None
