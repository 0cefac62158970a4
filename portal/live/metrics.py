"""/metrics for the live status: each probed environment's state, last probe and breaker."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from prometheus_client.core import GaugeMetricFamily, Metric

if TYPE_CHECKING:
    from portal.live.registry import Live

__all__ = ["ProbeGauges"]

STATES = ("up", "down", "refused", "unknown", "unprobed")


class ProbeGauges:
    """Reads the latest results in memory (or the shared store) at each scrape; never probes."""

    def __init__(self, live: Live) -> None:
        self.live = live

    def describe(self) -> Iterable[Metric]:
        return [
            GaugeMetricFamily(name, "")
            for name in (
                "portal_live_up",
                "portal_live_state",
                "portal_live_checked_timestamp_seconds",
                "portal_live_probe_seconds",
                "portal_live_failures",
            )
        ]

    def collect(self) -> Iterable[Metric]:
        labels = ["entity", "environment"]
        up = GaugeMetricFamily(
            "portal_live_up", "1 when the last probe found the environment up.", labels=labels
        )
        state = GaugeMetricFamily(
            "portal_live_state",
            "1 for the environment's state now (up, down, refused, unknown, unprobed).",
            labels=[*labels, "state"],
        )
        checked = GaugeMetricFamily(
            "portal_live_checked_timestamp_seconds",
            "When the environment was last probed (Unix time).",
            labels=labels,
        )
        took = GaugeMetricFamily(
            "portal_live_probe_seconds", "How long the last probe took.", labels=labels
        )
        failures = GaugeMetricFamily(
            "portal_live_failures",
            "Failed probes in a row (the circuit breaker pauses probing after a few).",
            labels=labels,
        )
        for status in self.live.latest():
            values = [str(status.entity), status.environment.name]
            up.add_metric(values, 1.0 if status.status == "up" else 0.0)
            for name in STATES:
                state.add_metric([*values, name], 1.0 if status.status == name else 0.0)
            failures.add_metric(values, float(status.failures))
            if status.latest is not None:
                checked.add_metric(values, status.latest.checked_at.timestamp())
                if status.latest.seconds is not None:
                    took.add_metric(values, status.latest.seconds)
        yield from (up, state, checked, took, failures)
