"""Rate limits for sign-in and token endpoints: a sliding window per key.

In this process's memory by default; with Redis (PORTAL_REDIS_URL) the counts are
kept there, so that a limit holds across every replica rather than per replica.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from fastapi import Depends
from starlette.requests import HTTPConnection

from portal.auth.access import Denied
from portal.auth.audit import source_of
from portal.auth.memo import Memo

if TYPE_CHECKING:
    from portal.shared import Shared

__all__ = ["Limiter", "RateLimiter", "SharedRateLimiter", "limited", "rate_limiter"]

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

    def known_clear(self, key: str) -> bool:
        """Whether ``key`` is not blocked (this limiter asks nobody, so it always knows)."""
        return self.blocked(key) is None

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


class Limiter(Protocol):
    """At most ``limit`` events per ``window`` seconds for each key."""

    limit: int
    window: float

    def hit(self, key: str) -> float | None:
        """Count one event; None when allowed, else the seconds until the next is allowed."""
        ...

    def blocked(self, key: str) -> float | None:
        """Like ``hit`` but counts nothing."""
        ...

    def known_clear(self, key: str) -> bool:
        """True when ``key`` is known not to be blocked without asking anyone (no I/O: for
        the event loop); False when blocked or when finding out would take a round trip."""
        ...


# The sliding window in Redis, atomically: forget the events that left the window, then
# refuse (the milliseconds until the oldest leaves) or count this one (-1). Time is the
# Redis server's, so replicas whose clocks differ still count in one window.
# KEYS[1]: the key; ARGV: limit, window in ms, 1 to count (0: only look), a unique member.
_SLIDING_WINDOW = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + math.floor(tonumber(now_parts[2]) / 1000)
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return tonumber(oldest[2]) + window - now
end
if ARGV[3] == '1' then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], window)
end
return -1
"""


_CLEAR_MAX = 10_000  # keys remembered as not blocked, at most


class SharedRateLimiter:
    """A :class:`RateLimiter` whose counts are in Redis, shared by every replica.

    Each key is a sorted set of its events' times, holding at most ``limit`` of them,
    which Redis drops a window after the last. While Redis cannot be reached, the
    counting falls back to ``fallback``, this process's own limiter: the limit then
    holds per replica (N replicas allow up to N times as many attempts) until Redis is
    back. Neither open (no limit at all) nor closed (nobody can sign in): a Redis
    outage must not become a portal outage, and a per-replica limit still stops guessing.
    """

    def __init__(
        self, shared: Shared, name: str, limit: int, window: float, clear_seconds: float = 1.0
    ) -> None:
        self.shared = shared
        self.limit = limit
        self.window = window
        self.fallback = RateLimiter(limit, window)
        self._prefix = shared.key("limit", name, "")
        self._script = shared.client.register_script(_SLIDING_WINDOW)
        # Keys found not blocked lately: every request with a token asks ``blocked``
        # first, and a round trip to Redis for each would cost more than the rest of a
        # cheap request. A key blocked by other replicas is known here at most
        # ``clear_seconds`` later; a failure counted here forgets it at once.
        self._clear: Memo[bool] = Memo(clear_seconds, _CLEAR_MAX)

    def hit(self, key: str) -> float | None:
        self._clear.forget(key)
        return self._run(key, count=True)

    def known_clear(self, key: str) -> bool:
        return bool(self._clear.get(key))

    def blocked(self, key: str) -> float | None:
        if self._clear.get(key):
            return None
        wait = self._run(key, count=False)
        if wait is None:
            self._clear.put(key, True)
        return wait

    def _run(self, key: str, *, count: bool) -> float | None:
        def counted(_client: Any) -> float | None:
            args: list[int | str] = [
                self.limit,
                int(self.window * 1000),
                int(count),
                uuid.uuid4().hex,
            ]
            waited = int(self._script(keys=[self._prefix + key], args=args))
            return None if waited < 0 else waited / 1000

        fallback = self.fallback.hit if count else self.fallback.blocked
        return self.shared.run("rate limits", counted, lambda: fallback(key))


def rate_limiter(shared: Shared | None, name: str, limit: int, window: float) -> Limiter:
    """The limiter for ``name``: in Redis when the portal has one, else in memory."""
    if shared is None:
        return RateLimiter(limit, window)
    return SharedRateLimiter(shared, name, limit, window)


def limited(limiter: Limiter, name: str) -> Any:
    """A route dependency: 429 (as Denied) once the caller's address exceeds ``limiter``."""

    def dependency(connection: HTTPConnection) -> None:
        wait = limiter.hit(f"{name}:{source_of(connection)}")
        if wait is not None:
            raise Denied(429, f"too many attempts; try again in {int(wait) + 1} s")

    return Depends(dependency)
