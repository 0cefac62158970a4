"""A short memory of credentials already checked, so a signed-in request reads no table.

Checking a session cookie or a token costs a database read (about 1 ms through the
ORM, a fifth of a page view). What was checked is remembered for ``ttl`` seconds:

- the holder re-checks what it can without the database (timeouts, expiry) at
  every use, and goes to the database whenever a write is due (touching
  ``last_seen_at``, recording a token's use) or the entry is older than ``ttl``;
- ending a session or revoking a token in this process forgets it at once;
- in another process (a second replica) an ended session or revoked token keeps
  working for at most ``ttl`` seconds. That is the price, and why ``ttl`` is short.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["Memo"]

T = TypeVar("T")


class Memo(Generic[T]):
    """``key -> value`` for ``ttl`` seconds, at most ``size`` keys (oldest dropped first)."""

    def __init__(
        self, ttl: float = 5.0, size: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self.size = size
        self.clock = clock
        self._items: OrderedDict[str, tuple[float, T]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> T | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            if self.clock() - item[0] >= self.ttl:
                del self._items[key]
                return None
            return item[1]

    def put(self, key: str, value: T) -> None:
        with self._lock:
            self._items[key] = (self.clock(), value)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def forget(self, key: str) -> None:
        with self._lock:
            self._items.pop(key, None)

    def forget_if(self, matches: Callable[[str], bool]) -> None:
        with self._lock:
            for key in [k for k in self._items if matches(k)]:
                del self._items[key]
