"""Health probes on a schedule and on demand, with a circuit breaker per endpoint.

Time comes from an injected :class:`Clock`, so tests step it instead of sleeping:
everything that decides *when* (the schedule, the breaker's back-off, the gap
between on-demand probes) reads the clock; only the background thread's wake-ups
and the network's own timeouts use real time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Protocol

from portal.live.fetch import fetch
from portal.live.guard import Guard, Refused, Unreachable
from portal.live.store import EndpointKey, ProbeResult, ProbeStore, State

__all__ = ["Breaker", "Clock", "Endpoint", "Prober", "SystemClock"]

log = logging.getLogger(__name__)

# An on-demand probe of an endpoint checked this recently shows the result it has.
ON_DEMAND_GAP = timedelta(seconds=10)
USER_AGENT = "quantum-portal-prober"


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Endpoint:
    key: EndpointKey
    url: str


@dataclass(slots=True)
class Breaker:
    """Counts consecutive failures; after ``threshold`` of them, stops probing until
    ``open_until``, a wait that doubles with each further failure up to ``ceiling``."""

    threshold: int
    base: float
    ceiling: float
    failures: int = 0
    open_until: datetime | None = None

    def allows(self, now: datetime) -> bool:
        return self.open_until is None or now >= self.open_until

    def succeeded(self) -> None:
        self.failures = 0
        self.open_until = None

    def failed(self, now: datetime) -> None:
        self.failures += 1
        if self.failures >= self.threshold:
            doublings = self.failures - self.threshold + 1
            wait = min(self.base * 2**doublings, self.ceiling)
            self.open_until = now + timedelta(seconds=wait)


class Prober:
    """Probes endpoints through a guard and records each result in a store."""

    def __init__(
        self,
        guard: Guard,
        store: ProbeStore,
        *,
        interval: float,
        timeout: float,
        max_bytes: int,
        threshold: int,
        max_backoff: float,
        clock: Clock | None = None,
        workers: int = 4,
        leader: Callable[[], bool] | None = None,
    ) -> None:
        self.guard = guard
        self.store = store
        self.interval = interval
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.threshold = threshold
        self.max_backoff = max(max_backoff, interval)
        self.clock: Clock = clock or SystemClock()
        # Replicas sharing a store: only the one holding the probes lease runs the schedule
        # (on-demand probes run anywhere). None: this process always does.
        self.leader = leader
        self._endpoints: dict[EndpointKey, Endpoint] = {}
        self._breakers: dict[EndpointKey, Breaker] = {}
        self._next: dict[EndpointKey, datetime] = {}
        self._busy: set[EndpointKey] = set()
        self._lock = threading.Lock()
        self._workers = workers
        self._pool: ThreadPoolExecutor | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- what is probed ----------------------------------------------------

    def set_endpoints(self, endpoints: Iterable[Endpoint]) -> None:
        """Probe these from now on; an endpoint whose URL is unchanged keeps its schedule,
        breaker and history."""
        wanted = {e.key: e for e in endpoints}
        with self._lock:
            for key, endpoint in wanted.items():
                old = self._endpoints.get(key)
                if old is None or old.url != endpoint.url:
                    self._breakers.pop(key, None)
                    self._next.pop(key, None)
            for key in [k for k in self._endpoints if k not in wanted]:
                self._breakers.pop(key, None)
                self._next.pop(key, None)
            self._endpoints = wanted
        self.store.retain(wanted)

    def breaker(self, key: EndpointKey) -> Breaker | None:
        with self._lock:
            breaker = self._breakers.get(key)
            return None if breaker is None else replace(breaker)

    def next_probe(self, key: EndpointKey) -> datetime | None:
        """When the schedule probes ``key`` next (None: at the next tick)."""
        with self._lock:
            breaker = self._breakers.get(key)
            scheduled = self._next.get(key)
            if breaker is not None and breaker.open_until is not None:
                return max(breaker.open_until, scheduled or breaker.open_until)
            return scheduled

    # -- probing ------------------------------------------------------------

    def tick(self) -> list[EndpointKey]:
        """Probe every endpoint that is due and whose breaker allows it; the keys probed."""
        now = self.clock.now()
        with self._lock:
            unscheduled = [k for k in self._endpoints if k not in self._next]
        # An endpoint not yet scheduled here (a replica that just took over the schedule)
        # is due an interval after its latest result, whoever probed it.
        for key in unscheduled:
            latest = self.store.latest(key)
            if latest is not None:
                with self._lock:
                    endpoint = self._endpoints.get(key)
                    if endpoint is not None and endpoint.url == latest.url:
                        since = latest.checked_at + timedelta(seconds=self.interval)
                        self._next.setdefault(key, since)
        with self._lock:
            due = [
                endpoint
                for key, endpoint in self._endpoints.items()
                if key not in self._busy
                and now >= self._next.get(key, now)
                and self._breaker(key).allows(now)
            ]
            self._busy.update(e.key for e in due)
        return self._run(due)

    def probe_now(self, keys: Sequence[EndpointKey]) -> list[EndpointKey]:
        """Probe ``keys`` now, whatever the schedule or breaker says (a success closes the
        breaker), except those probed less than ON_DEMAND_GAP ago; the keys probed."""
        now = self.clock.now()
        with self._lock:
            chosen = []
            for key in keys:
                endpoint = self._endpoints.get(key)
                if endpoint is None or key in self._busy:
                    continue
                latest = self.store.latest(key)
                if latest is not None and now - latest.checked_at < ON_DEMAND_GAP:
                    continue
                chosen.append(endpoint)
            self._busy.update(e.key for e in chosen)
        return self._run(chosen)

    def _run(self, endpoints: list[Endpoint]) -> list[EndpointKey]:
        if not endpoints:
            return []
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="portal-probe")
            pool = self._pool
        try:
            results = list(pool.map(self._probe, endpoints))
        finally:
            with self._lock:
                self._busy.difference_update(e.key for e in endpoints)
        return [key for key in results if key is not None]

    def _probe(self, endpoint: Endpoint) -> EndpointKey | None:
        result = probe_once(self.guard, endpoint.url, self.timeout, self.max_bytes, self.clock)
        with self._lock:
            if self._endpoints.get(endpoint.key) != endpoint:
                return None  # no longer declared (or its URL changed) meanwhile
            breaker = self._breaker(endpoint.key)
            if result.state == "up":
                breaker.succeeded()
            else:
                breaker.failed(result.checked_at)
            self._next[endpoint.key] = result.checked_at + timedelta(seconds=self.interval)
        self.store.add(endpoint.key, result)
        return endpoint.key

    def _breaker(self, key: EndpointKey) -> Breaker:
        breaker = self._breakers.get(key)
        if breaker is None:
            breaker = Breaker(self.threshold, self.interval, self.max_backoff)
            self._breakers[key] = breaker
        return breaker

    # -- the schedule's thread ---------------------------------------------------

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="portal-prober", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout * 2 + 5)
            self._thread = None
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def _loop(self) -> None:
        # The first round waits a moment: the portal probing its own /healthz at start-up
        # must find it listening.
        wake = min(1.0, self.interval)
        if self._stop.wait(min(2.0, self.interval)):
            return
        while True:
            try:
                if self.leader is None or self.leader():
                    self.tick()
            except Exception:  # one bad round must not end the schedule
                log.exception("a round of health probes failed")
            if self._stop.wait(wake):
                return


def probe_once(guard: Guard, url: str, timeout: float, max_bytes: int, clock: Clock) -> ProbeResult:
    """GET ``url`` through ``guard``: up on 2xx, down on any other answer or none, refused
    when the guard says no."""
    try:
        fetched = fetch(
            guard,
            "GET",
            url,
            timeout=timeout,
            max_bytes=max_bytes,
            headers={"User-Agent": USER_AGENT, "Accept": "*/*"},
            follow_redirects=True,
        )
    except Refused as exc:
        return ProbeResult(url, "refused", clock.now(), str(exc))
    except Unreachable as exc:
        return ProbeResult(url, "down", clock.now(), str(exc))
    state: State = "up" if 200 <= fetched.status < 300 else "down"
    return ProbeResult(
        url,
        state,
        clock.now(),
        f"HTTP {fetched.status}",
        http_status=fetched.status,
        seconds=round(fetched.seconds, 4),
    )
