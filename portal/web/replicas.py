"""How one replica keeps in step with the others that share its database.

- The catalog: a registration on another replica moves the ``catalog`` change
  counter (``portal.db.changes``); this replica reads it every
  PORTAL_CHANGES_POLL_SECONDS and, when it moved, composes its catalog again and
  evaluates the scorecards for its pages.
- Background work runs once, under leases (``portal.db.leases``): the ``probes``
  lease runs the probe schedule (when probe results are shared in Redis), the
  ``scorecards`` lease writes scorecard history, and the ``builds`` lease is held
  for the length of each site build, so builds of several replicas queue rather
  than overlap.
- A build whose replica died (its audience left ``queued`` or ``running`` while no
  replica holds the ``builds`` lease) is taken over by the next replica that looks.

With SQLite (one process), every lease is this process's and the counter is only
ever moved by this process: nothing here changes what a single portal does.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from sqlalchemy import select

from portal.db import UNREACHABLE, BuildState
from portal.db import changes as change_counters
from portal.db.models import as_utc
from portal.worker import Periodic

if TYPE_CHECKING:
    from portal.web.runtime import Portal

__all__ = ["BUILDS", "PROBES", "SCORECARDS", "Replicas"]

log = logging.getLogger(__name__)

PROBES = "probes"
SCORECARDS = "scorecards"
BUILDS = "builds"


class Replicas:
    """The change watcher and the build takeover of one portal process, in one thread."""

    def __init__(self, portal: Portal) -> None:
        self.portal = portal
        self.leases = portal.leases
        self._seen: int | None = None
        self._lock = threading.Lock()
        self._swept = time.monotonic()
        self._poller = Periodic(
            "portal-replicas",
            portal.settings.changes_poll_seconds,
            self._round,
            "keeping in step with the other replicas failed",
        )
        self._down = False  # the database did not answer the last poll (warned once)
        portal.metrics.register(_SharedGauges(portal))

    def saw(self, version: int) -> None:
        """The catalog this process composed includes every change up to ``version``."""
        with self._lock:
            self._seen = version if self._seen is None else max(self._seen, version)

    # -- life cycle --------------------------------------------------------------

    def start(self) -> None:
        portal = self.portal
        self.leases.want(PROBES)
        self.leases.want(
            SCORECARDS,
            lambda: portal.scorecards.request("startup", "this replica now records the history"),
        )
        self.leases.start()
        self._swept = time.monotonic()
        self._poller.start()

    def stop(self) -> None:
        self._poller.stop()
        self.leases.stop()

    def _round(self) -> None:
        self.poll()
        if time.monotonic() - self._swept >= self.portal.settings.lease_seconds:
            self._swept = time.monotonic()
            self.sweep()

    # -- the catalog -------------------------------------------------------------

    def poll(self) -> bool:
        """Compose the catalog again if another replica changed it; whether it did."""
        try:
            current = change_counters.version(self.portal.db)
        except UNREACHABLE as exc:
            if not self._down:
                log.warning("catalog changes unchecked: database unreachable (%s)", exc)
            self._down = True
            return False
        self._down = False
        with self._lock:
            if self._seen is not None and current <= self._seen:
                return False
        log.info("the catalog changed on another replica: composing it again")
        self.portal.refresh()
        self.portal.scorecards.request("registration", "the catalog changed on another replica")
        return True

    # -- builds left behind ------------------------------------------------------------

    def sweep(self) -> list[str]:
        """Build the audiences a dead replica left queued or building; the audiences taken.

        Only with a shared database, only when this replica's builder is idle, only for
        states older than two lease checks, and only while no replica is building: a
        replica waiting for the ``builds`` lease has it held by another, so its queued
        audiences are not taken from it.
        """
        portal = self.portal
        if not self.leases.shared or not portal.rebuild or portal.site is None:
            return []
        if not portal.builder.wait_idle(0):
            return []
        stale = datetime.now(UTC) - timedelta(seconds=2 * portal.settings.lease_seconds)
        try:
            with portal.db.session() as session:
                rows = session.scalars(
                    select(BuildState).where(BuildState.status.in_(("queued", "running")))
                )
                names = [
                    row.audience
                    for row in rows
                    if as_utc(row.updated_at) < stale and row.audience in portal.audiences
                ]
        except UNREACHABLE:
            return []
        if not names or not self.leases.free(BUILDS):
            return []
        log.warning("taking over the build of %s, left by a replica that stopped", names)
        portal.builder.request(names, "taken over from a replica that stopped")
        return names


class _SharedGauges:
    """/metrics: which leases this replica holds, and whether Redis answers."""

    def __init__(self, portal: Portal) -> None:
        self.portal = portal

    def describe(self) -> Iterable[Metric]:
        return [GaugeMetricFamily("portal_lease_held", "")]

    def collect(self) -> Iterable[Metric]:
        held = GaugeMetricFamily(
            "portal_lease_held",
            "1 for each lease on background work this replica holds now "
            "(probes, scorecards), else 0.",
            labels=["lease"],
        )
        for name in (PROBES, SCORECARDS):
            held.add_metric([name], 1.0 if self.portal.leases.held(name) else 0.0)
        yield held
        shared = self.portal.shared
        if shared is not None:
            yield GaugeMetricFamily(
                "portal_redis_available",
                "1 while Redis answers; 0 while this replica keeps probe results and rate "
                "limits in its own memory.",
                1.0 if shared.available else 0.0,
            )
            yield CounterMetricFamily(
                "portal_redis_failures",
                "Redis commands that failed (each then served from this replica's memory).",
                shared.failures,
            )
