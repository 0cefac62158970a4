"""The portal's scorecard evaluations: run in the background after each catalog change and
build, kept in memory for the pages, recorded in the database for the trends.

Evaluation reads the whole model (docs included), so it runs in a worker thread of
its own, coalesced: a burst of registrations costs one evaluation.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from portal.auth.memo import Memo
from portal.catalog import EntityRef
from portal.db import UNREACHABLE
from portal.db.scorecard_history import TRIGGERS, History, definition_of
from portal.db.scorecard_trends import Trend, entity_trend
from portal.problems import Problem
from portal.scorecards import EntityResult, ScorecardResult, evaluate
from portal.worker import Coalescing

if TYPE_CHECKING:
    from portal.web.runtime import Portal

__all__ = ["TREND_RUNS", "Evaluation", "ScorecardRuns"]

log = logging.getLogger(__name__)

TREND_RUNS = 50  # evaluations a trend shows
TRENDS_KEPT = 5_000  # entity trends kept between evaluations, at most
TREND_SECONDS = 30.0  # and for how long each


@dataclass(frozen=True, slots=True)
class Broken:
    """A Scorecard entity left out of evaluation because of errors, and those errors."""

    ref: EntityRef
    title: str
    problems: tuple[Problem, ...]


@dataclass(frozen=True, slots=True)
class Evaluation:
    """One evaluation of every scorecard, as the pages and the API read it (never changed)."""

    results: tuple[ScorecardResult, ...]
    at: datetime
    trigger: str
    broken: tuple[Broken, ...] = ()
    _by_entity: dict[EntityRef, list[tuple[ScorecardResult, EntityResult]]] = field(
        default_factory=dict
    )

    @classmethod
    def of(
        cls,
        results: Iterable[ScorecardResult],
        at: datetime,
        trigger: str,
        broken: Iterable[Broken] = (),
    ) -> Evaluation:
        kept = tuple(results)
        by_entity: dict[EntityRef, list[tuple[ScorecardResult, EntityResult]]] = {}
        for result in kept:
            for row in result.entities:
                by_entity.setdefault(row.entity, []).append((result, row))
        return cls(kept, at, trigger, tuple(broken), by_entity)

    def scorecard(self, name: str) -> ScorecardResult | None:
        return next((r for r in self.results if r.scorecard.name == name), None)

    def of_entity(self, ref: EntityRef) -> list[tuple[ScorecardResult, EntityResult]]:
        return self._by_entity.get(ref, [])


class ScorecardRuns:
    """Evaluates on request in its own thread; ``current`` is the latest evaluation."""

    def __init__(self, portal: Portal) -> None:
        self.portal = portal
        self.history = History(portal.db)
        self.current: Evaluation | None = None
        # Entity trends read from the history (see entity_trend).
        self._trends: Memo[Trend] = Memo(TREND_SECONDS, TRENDS_KEPT)
        self.failure: str | None = None  # why the last evaluation failed, if it did
        self.seconds: float | None = None  # how long the last evaluation took
        # Trigger -> reason; a later reason for the same trigger replaces the earlier one.
        self._worker: Coalescing[dict[str, str]] = Coalescing(
            "portal-scorecards", self._evaluate, lambda older, newer: {**(older or {}), **newer}
        )
        portal.metrics.register(_LevelGauge(self))

    def start(self) -> None:
        self._worker.start()

    def stop(self) -> None:
        self._worker.halt()
        self._worker.join(timeout=30)

    def request(self, trigger: str, reason: str = "") -> None:
        """Evaluate soon, in the background (``trigger``: startup, registration or build)."""
        if trigger not in TRIGGERS:
            raise ValueError(f"trigger {trigger!r}: expected one of {', '.join(TRIGGERS)}")
        self._worker.submit({trigger: reason or trigger})

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no evaluation is queued or running (for tests and shutdown)."""
        return self._worker.wait_idle(timeout)

    def entity_trend(self, scorecard: str, entity: str) -> Trend:
        """The entity's trend on ``scorecard``, read from the history once and kept until
        this replica evaluates or records again, or TREND_SECONDS at most (a run another
        replica records shows by then): an entity page costs no queries on every view."""
        key = f"{scorecard} {entity}"
        trend = self._trends.get(key)
        if trend is None:
            trend = entity_trend(self.history, scorecard, entity, TREND_RUNS)
            self._trends.put(key, trend)
        return trend

    def _forget_trends(self) -> None:
        self._trends.forget_if(lambda _key: True)

    def _evaluate(self, batch: dict[str, str]) -> None:
        # The run is named after its weightiest trigger; its reason keeps them all.
        trigger = next(t for t in ("registration", "build", "startup") if t in batch)
        reason = "; ".join(sorted(set(batch.values())))
        started = time.monotonic()
        try:
            evaluation, model_specs = self._evaluation(trigger)
        except Exception as exc:  # a broken source must not end the worker or blank the pages
            self.failure = f"{type(exc).__name__}: {exc}"
            log.exception("scorecard evaluation failed")
            return
        self.failure = None
        self.seconds = time.monotonic() - started
        self._forget_trends()  # drawn again from the history this evaluation adds to
        self.current = evaluation  # the pages see it now; history follows
        if not self.portal.leases.held("scorecards"):
            # Another replica sharing the database records the history (it evaluates too,
            # having seen the same change): one run per change, not one per replica.
            return
        for result in evaluation.results:
            if self._worker.stopping:
                return
            try:
                self.history.record(
                    result,
                    definition_of(result, model_specs.get(result.ref)),
                    trigger,
                    reason,
                    at=evaluation.at,
                )
                self._forget_trends()
            except UNREACHABLE as exc:
                log.warning(
                    "scorecard history not recorded (database unreachable: %s)",
                    type(exc).__name__,
                )

    def _evaluation(self, trigger: str) -> tuple[Evaluation, dict[EntityRef, dict[str, object]]]:
        model = self.portal.background_model()
        results = evaluate(model, date.today())
        compiled = {s.ref for s in model.scorecards}
        broken = []
        specs: dict[EntityRef, dict[str, object]] = {}
        for entity in model.catalog.of_kind("scorecard"):
            specs[entity.ref] = entity.spec
            if entity.ref not in compiled:
                problems = tuple(
                    p for p in model.report.sorted() if p.file == entity.origin.display
                )
                broken.append(Broken(entity.ref, entity.title, problems))
        return Evaluation.of(results, datetime.now(UTC), trigger, broken), specs


class _LevelGauge:
    """/metrics: entities per scorecard and level, from the latest evaluation."""

    def __init__(self, runs: ScorecardRuns) -> None:
        self.runs = runs

    def describe(self) -> Iterable[Metric]:
        return [
            GaugeMetricFamily("portal_scorecard_entities", ""),
            GaugeMetricFamily("portal_scorecard_evaluation_seconds", ""),
        ]

    def collect(self) -> Iterable[Metric]:
        levels = GaugeMetricFamily(
            "portal_scorecard_entities",
            "Entities per scorecard and level reached in the latest evaluation "
            '(level "none": below the first level).',
            labels=["scorecard", "level"],
        )
        current = self.runs.current
        for result in current.results if current else ():
            for level, count in result.by_level().items():
                levels.add_metric([result.scorecard.name, level or "none"], count)
        yield levels
        if self.runs.seconds is not None:
            yield GaugeMetricFamily(
                "portal_scorecard_evaluation_seconds",
                "Seconds the latest scorecard evaluation took (loading the model included).",
                self.runs.seconds,
            )
