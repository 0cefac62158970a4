"""The schedule, the circuit breaker and the store, with a clock the tests step."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from portal.live import (
    AllowList,
    Endpoint,
    EndpointKey,
    Guard,
    MemoryStore,
    Prober,
    ProbeResult,
)
from portal.live.prober import ON_DEMAND_GAP
from tests.live.conftest import START, FakeService, ManualClock

INTERVAL = 60.0
KEY = EndpointKey("component:default/orders", "production")


@pytest.fixture
def prober(service: FakeService, clock: ManualClock) -> Iterator[Prober]:
    prober = Prober(
        Guard(AllowList.parse([service.host])),
        MemoryStore(5),
        interval=INTERVAL,
        timeout=2.0,
        max_bytes=1024,
        threshold=3,
        max_backoff=600.0,
        clock=clock,
    )
    try:
        yield prober
    finally:
        prober.stop()


def watch(prober: Prober, service: FakeService, path: str) -> None:
    prober.set_endpoints([Endpoint(KEY, f"{service.url}{path}")])


def test_an_endpoint_is_probed_when_due_and_not_before(
    prober: Prober, service: FakeService, clock: ManualClock
) -> None:
    watch(prober, service, "/healthz")
    assert prober.tick() == [KEY]
    assert prober.tick() == []  # not due again yet
    clock.advance(INTERVAL - 1)
    assert prober.tick() == []
    clock.advance(1)
    assert prober.tick() == [KEY]
    assert service.paths() == ["/healthz", "/healthz"]
    latest = prober.store.latest(KEY)
    assert latest is not None
    assert (latest.state, latest.http_status, latest.checked_at) == (
        "up",
        200,
        START + timedelta(seconds=INTERVAL),
    )


def test_reading_results_never_probes(
    prober: Prober, service: FakeService, clock: ManualClock
) -> None:
    watch(prober, service, "/healthz")
    prober.tick()
    for _ in range(5):
        assert prober.store.latest(KEY) is not None
        prober.store.history(KEY)
    assert len(service.received) == 1


def test_the_breaker_pauses_a_failing_endpoint_and_backs_off(
    prober: Prober, service: FakeService, clock: ManualClock
) -> None:
    watch(prober, service, "/fail")
    for _ in range(3):
        assert prober.tick() == [KEY]
        clock.advance(INTERVAL)
    breaker = prober.breaker(KEY)
    assert breaker is not None and breaker.failures == 3
    # Opened at the third failure: a wait of twice the interval.
    assert breaker.open_until == START + timedelta(seconds=2 * INTERVAL + 2 * INTERVAL)
    assert prober.tick() == []  # due by the schedule, but paused
    assert len(service.received) == 3
    clock.advance(INTERVAL)
    assert prober.tick() == [KEY]  # the back-off is over: one trial
    breaker = prober.breaker(KEY)
    assert breaker is not None and breaker.failures == 4
    # It failed again: the wait doubles.
    assert breaker.open_until == clock.now() + timedelta(seconds=4 * INTERVAL)
    clock.advance(3 * INTERVAL)
    assert prober.tick() == []
    clock.advance(INTERVAL)
    assert prober.tick() == [KEY]
    assert len(service.received) == 5


def test_the_back_off_stops_growing_at_its_ceiling(
    prober: Prober, service: FakeService, clock: ManualClock
) -> None:
    watch(prober, service, "/fail")
    for _ in range(8):
        prober.tick()
        clock.advance(700)
    breaker = prober.breaker(KEY)
    assert breaker is not None and breaker.failures == 8
    assert breaker.open_until is not None
    assert breaker.open_until - (clock.now() - timedelta(seconds=700)) == timedelta(seconds=600)


def test_a_success_closes_the_breaker(
    prober: Prober, service: FakeService, clock: ManualClock
) -> None:
    service.failing = True
    watch(prober, service, "/toggle")
    for _ in range(3):
        prober.tick()
        clock.advance(INTERVAL)
    breaker = prober.breaker(KEY)
    assert breaker is not None and breaker.open_until is not None
    service.failing = False
    clock.advance(INTERVAL)
    assert prober.tick() == [KEY]
    breaker = prober.breaker(KEY)
    assert breaker is not None and (breaker.failures, breaker.open_until) == (0, None)
    assert [r.state for r in prober.store.history(KEY)] == ["up", "down", "down", "down"]


def test_on_demand_probes_skip_the_schedule_and_the_breaker_but_not_the_gap(
    prober: Prober, service: FakeService, clock: ManualClock
) -> None:
    service.failing = True
    watch(prober, service, "/toggle")
    for _ in range(3):
        prober.tick()
        clock.advance(INTERVAL)
    service.failing = False
    assert prober.probe_now([KEY]) == [KEY]  # paused, yet probed when someone asks
    breaker = prober.breaker(KEY)
    assert breaker is not None and breaker.failures == 0
    assert prober.probe_now([KEY]) == []  # just checked: the result shown is fresh
    clock.advance(ON_DEMAND_GAP.total_seconds())
    assert prober.probe_now([KEY]) == [KEY]
    assert len(service.received) == 5


def test_history_keeps_the_last_n_newest_first(
    prober: Prober, service: FakeService, clock: ManualClock
) -> None:
    watch(prober, service, "/healthz")
    for _ in range(7):
        prober.tick()
        clock.advance(INTERVAL)
    history = prober.store.history(KEY)
    assert len(history) == 5
    times = [r.checked_at for r in history]
    assert times == sorted(times, reverse=True)
    assert times[0] == START + timedelta(seconds=6 * INTERVAL)


def test_a_redeclared_endpoint_keeps_its_history_unless_its_url_changed(
    prober: Prober, service: FakeService, clock: ManualClock
) -> None:
    watch(prober, service, "/healthz")
    prober.tick()
    watch(prober, service, "/healthz")
    assert len(prober.store.history(KEY)) == 1
    assert prober.tick() == []  # its schedule too
    watch(prober, service, "/fail")
    assert prober.tick() == [KEY]  # a new URL is probed at once
    prober.set_endpoints([])
    assert prober.store.history(KEY) == []


def test_refusals_and_timeouts_are_results_too(service: FakeService, clock: ManualClock) -> None:
    prober = Prober(
        Guard(AllowList.parse([service.host])),
        MemoryStore(5),
        interval=INTERVAL,
        timeout=0.3,
        max_bytes=1024,
        threshold=3,
        max_backoff=600.0,
        clock=clock,
    )
    slow = EndpointKey("component:default/slow", "staging")
    try:
        prober.set_endpoints(
            [
                Endpoint(KEY, f"http://127.0.0.2:{service.port}/healthz"),
                Endpoint(slow, f"{service.url}/slow"),
            ]
        )
        assert sorted(prober.tick()) == sorted([KEY, slow])
    finally:
        prober.stop()
    refused = prober.store.latest(KEY)
    assert refused is not None and refused.state == "refused"
    assert refused.detail.startswith(f"127.0.0.2:{service.port} is not on the allow-list")
    late = prober.store.latest(slow)
    assert late is not None and (late.state, late.detail) == ("down", "no answer within 0.3 s")
    assert service.paths() == ["/slow"]


def test_results_round_trip_through_plain_data() -> None:
    result = ProbeResult("https://x.example/healthz", "up", START, "HTTP 200", 200, 0.0123)
    assert ProbeResult.from_dict(result.to_dict()) == result
