"""Rate limits for sign-in and token endpoints: a sliding window per key, in memory.

One process's memory for now; the scale-out work moves the counts to Redis so
that they hold across replicas.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from fastapi import Depends
from starlette.requests import HTTPConnection

from portal.auth.access import Denied
from portal.auth.audit import source_of

__all__ = ["RateLimiter", "limited"]


class RateLimiter:
    """At most ``limit`` events per ``window`` seconds for each key."""

    def __init__(
        self, limit: int, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> float | None:
        """Count one event; None when allowed, else the seconds until the next is allowed."""
        now = self.clock()
        with self._lock:
            events = self._events.setdefault(key, deque())
            while events and events[0] <= now - self.window:
                events.popleft()
            if len(events) >= self.limit:
                return events[0] + self.window - now
            events.append(now)
            if len(self._events) > 100_000:  # forget idle keys rather than grow forever
                for stale in [k for k, v in self._events.items() if not v][:50_000]:
                    del self._events[stale]
            return None

    def blocked(self, key: str) -> float | None:
        """Like ``hit`` but counts nothing: for limits on failures, checked before trying."""
        now = self.clock()
        with self._lock:
            events = self._events.get(key)
            if events is None:
                return None
            while events and events[0] <= now - self.window:
                events.popleft()
            return events[0] + self.window - now if len(events) >= self.limit else None


def limited(limiter: RateLimiter, name: str) -> Any:
    """A route dependency: 429 (as Denied) once the caller's address exceeds ``limiter``."""

    def dependency(connection: HTTPConnection) -> None:
        wait = limiter.hit(f"{name}:{source_of(connection)}")
        if wait is not None:
            raise Denied(429, f"too many attempts; try again in {int(wait) + 1} s")

    return Depends(dependency)
