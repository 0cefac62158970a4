"""Rate limits for sign-in and token endpoints: a sliding window per key, in memory.

One process's memory for now; the scale-out work moves the counts to Redis so
that they hold across replicas.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any

from fastapi import Depends
from starlette.requests import HTTPConnection

from portal.auth.access import Denied
from portal.auth.audit import source_of

__all__ = ["RateLimiter", "limited"]

# Keys counted at once, at most: enough for every client of a busy portal within a window.
MAX_KEYS = 100_000


class RateLimiter:
    """At most ``limit`` events per ``window`` seconds for each key.

    Keys are kept in the order of their newest event, so those idle for a whole window
    are dropped from the front as each hit passes (amortised constant time, no scan).
    Past ``max_keys`` keys, the least recently counted is forgotten: memory stays bounded
    even when the keys (addresses) are many.
    """

    def __init__(
        self,
        limit: int,
        window: float,
        clock: Callable[[], float] = time.monotonic,
        *,
        max_keys: int = MAX_KEYS,
    ) -> None:
        if limit < 1 or window <= 0 or max_keys < 1:
            raise ValueError(
                f"a rate limit needs limit >= 1, window > 0 and max_keys >= 1, "
                f"not {limit}, {window} and {max_keys}"
            )
        self.limit = limit
        self.window = window
        self.clock = clock
        self.max_keys = max_keys
        self._events: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """How many keys are counted now."""
        with self._lock:
            return len(self._events)

    def hit(self, key: str) -> float | None:
        """Count one event; None when allowed, else the seconds until the next is allowed."""
        now = self.clock()
        with self._lock:
            self._forget_idle(now)
            events = self._events.get(key)
            if events is None:
                self._events[key] = deque([now], maxlen=self.limit)
                if len(self._events) > self.max_keys:
                    self._events.popitem(last=False)
                return None
            self._trim(events, now)
            if len(events) >= self.limit:
                return events[0] + self.window - now
            events.append(now)
            self._events.move_to_end(key)  # its newest event is now the newest of all
            return None

    def blocked(self, key: str) -> float | None:
        """Like ``hit`` but counts nothing: for limits on failures, checked before trying."""
        now = self.clock()
        with self._lock:
            self._forget_idle(now)
            events = self._events.get(key)
            if events is None:
                return None
            self._trim(events, now)
            return events[0] + self.window - now if len(events) >= self.limit else None

    def _trim(self, events: deque[float], now: float) -> None:
        while events and events[0] <= now - self.window:
            events.popleft()

    def _forget_idle(self, now: float) -> None:
        # The front key has the oldest newest event: once it is idle, look at the next.
        while self._events:
            key, events = next(iter(self._events.items()))
            if events and events[-1] > now - self.window:
                return
            del self._events[key]


def limited(limiter: RateLimiter, name: str) -> Any:
    """A route dependency: 429 (as Denied) once the caller's address exceeds ``limiter``."""

    def dependency(connection: HTTPConnection) -> None:
        wait = limiter.hit(f"{name}:{source_of(connection)}")
        if wait is not None:
            raise Denied(429, f"too many attempts; try again in {int(wait) + 1} s")

    return Depends(dependency)
