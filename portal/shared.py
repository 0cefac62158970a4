"""Redis, which replicas share: one client per process, and a switch to in-process state while
Redis cannot be reached.

What the portal keeps in Redis (probe results, rate limit counts) is a cache or a
count, never the only copy of anything: losing it costs repeated work or a looser
limit for a while, never a wrong answer. So when Redis does not answer, each
caller falls back to a stand-in of its own in the process, one warning says so,
and Redis is tried again a few seconds later, rather than every request paying
for a timeout.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from portal.exceptions import ConfigError

if TYPE_CHECKING:
    from redis import Redis

    from portal.settings import Settings

__all__ = ["RETRY_SECONDS", "Shared", "open_shared"]

log = logging.getLogger(__name__)

T = TypeVar("T")

# While Redis is down, how long callers use their stand-ins before Redis is tried again.
RETRY_SECONDS = 5.0
# A Redis command answers in well under a millisecond; one that takes this long is treated
# as Redis being unreachable, so a request never hangs on it.
TIMEOUT_SECONDS = 0.5


class Shared:
    """A Redis client for the portal's keys (``prefix``), with ``run`` falling back while
    Redis is down. ``clock`` decides when to try again (tests step it)."""

    def __init__(
        self,
        client: Redis,
        prefix: str = "portal:",
        *,
        retry_seconds: float = RETRY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.retry_seconds = retry_seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._down_until: float | None = None
        self.failures = 0  # times Redis failed a command (for /metrics and tests)

    @property
    def available(self) -> bool:
        """False while callers are using their stand-ins (after a failure, until the retry)."""
        with self._lock:
            return self._down_until is None

    def key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    def run(self, what: str, operation: Callable[[Redis], T], fallback: Callable[[], T]) -> T:
        """``operation`` on Redis; ``fallback()`` instead while Redis is down (``what`` names
        the work in the warning)."""
        from redis.exceptions import RedisError

        with self._lock:
            down_until = self._down_until
        if down_until is not None and self.clock() < down_until:
            return fallback()
        try:
            value = operation(self.client)
        except RedisError as exc:
            self._failed(what, exc)
            return fallback()
        if down_until is not None:
            with self._lock:
                self._down_until = None
            log.warning("Redis answers again: %s are shared by the replicas again", what)
        return value

    def _failed(self, what: str, exc: Exception) -> None:
        with self._lock:
            first = self._down_until is None
            self._down_until = self.clock() + self.retry_seconds
            self.failures += 1
        if first:
            log.warning(
                "Redis cannot be reached (%s: %s): %s are kept in this process until it answers "
                "(tried again every %.0f s)",
                type(exc).__name__,
                exc,
                what,
                self.retry_seconds,
            )

    def close(self) -> None:
        self.client.close()


def open_shared(settings: Settings) -> Shared | None:
    """The portal's Redis (PORTAL_REDIS_URL), or None: everything in the process."""
    if not settings.redis_url:
        return None
    try:
        from redis import Redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry
    except ImportError:  # pragma: no cover - an optional dependency
        raise ConfigError(
            "setting PORTAL_REDIS_URL: the Redis client is not installed "
            "(pip install 'quantum-portal[redis]')"
        ) from None
    try:
        client = Redis.from_url(
            settings.redis_url,
            socket_timeout=TIMEOUT_SECONDS,
            socket_connect_timeout=TIMEOUT_SECONDS,
            health_check_interval=30,
            # One retry at once (a pooled connection that died with a Redis restart), not
            # the client's default of ten with back-off: a request must not wait on Redis.
            retry=Retry(NoBackoff(), 1),
        )
    except ValueError as exc:
        raise ConfigError(
            f"setting PORTAL_REDIS_URL: {exc} (expected redis://host:6379/0 or rediss://...)"
        ) from None
    return Shared(client, settings.redis_prefix)
