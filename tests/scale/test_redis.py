"""What replicas share in Redis: probe results and rate limits, and what happens without Redis.

Two stores or limiters on one Redis stand for two replicas. The fallback tests run a
redis-server of their own, which they stop and start again.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from redis import Redis as Client

from portal.auth.ratelimit import RateLimiter, SharedRateLimiter, rate_limiter
from portal.exceptions import ConfigError
from portal.live.redis_store import RedisStore
from portal.live.store import EndpointKey, ProbeResult
from portal.settings import Settings
from portal.shared import Shared, open_shared
from tests.scale.conftest import Redis, RedisServer

KEY = EndpointKey("component:default/payments", "production")
OTHER = EndpointKey("component:default/orders", "staging")
START = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


class Clock:
    """Monotonic seconds the test moves by hand (when Redis is tried again)."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def shared(redis: Redis | RedisServer, prefix: str = "", clock: Clock | None = None) -> Shared:
    settings = Settings(redis_url=redis.url, redis_prefix=prefix or getattr(redis, "prefix", ""))
    opened = open_shared(settings)
    assert opened is not None
    if clock is not None:
        opened.clock = clock
    return opened


def result(minutes: int, state: str = "up") -> ProbeResult:
    return ProbeResult(
        url="https://payments.example.com/healthz",
        state=state,  # type: ignore[arg-type]
        checked_at=START + timedelta(minutes=minutes),
        detail="HTTP 200" if state == "up" else "HTTP 503",
        http_status=200 if state == "up" else 503,
        seconds=0.012,
    )


def test_a_probe_result_one_replica_stores_is_what_the_others_read(redis: Redis) -> None:
    one, two = RedisStore(shared(redis), size=3), RedisStore(shared(redis), size=3)
    assert two.latest(KEY) is None and two.history(KEY) == []
    for minute in range(5):
        one.add(KEY, result(minute, "down" if minute == 4 else "up"))
    assert two.latest(KEY) == result(4, "down")
    assert two.history(KEY) == [result(4, "down"), result(3), result(2)]  # newest first, 3 kept
    assert two.history(OTHER) == []


def test_retain_forgets_endpoints_no_longer_declared(redis: Redis) -> None:
    store = RedisStore(shared(redis), size=3)
    store.add(KEY, result(1))
    store.add(OTHER, result(2))
    store.retain([KEY])
    assert store.history(KEY) == [result(1)]
    assert store.history(OTHER) == []
    assert redis.keys() == sorted(
        [f"{redis.prefix}probes", f"{redis.prefix}probe:{KEY.entity}:{KEY.environment}"]
    )


def test_a_rate_limit_counts_across_replicas(redis: Redis) -> None:
    one = rate_limiter(shared(redis), "signin", 3, 60.0)
    two = rate_limiter(shared(redis), "signin", 3, 60.0)
    assert isinstance(one, SharedRateLimiter)
    assert [one.hit("login:10.0.0.1"), two.hit("login:10.0.0.1"), one.hit("login:10.0.0.1")] == [
        None,
        None,
        None,
    ]
    wait = two.hit("login:10.0.0.1")
    assert wait is not None and 0 < wait <= 60.0
    assert one.blocked("login:10.0.0.1") is not None
    assert two.hit("login:10.0.0.2") is None  # another address has its own count
    other = rate_limiter(shared(redis), "token-failures", 3, 60.0)
    assert other.hit("login:10.0.0.1") is None  # another limiter has its own counts


def test_blocked_counts_nothing_in_redis(redis: Redis) -> None:
    limiter = rate_limiter(shared(redis), "signin", 1, 60.0)
    for _ in range(5):
        assert limiter.blocked("token:10.0.0.9") is None
    assert redis.keys() == []
    assert limiter.hit("token:10.0.0.9") is None
    assert limiter.blocked("token:10.0.0.9") is not None


def test_a_key_found_not_blocked_is_not_asked_again_for_a_moment(redis: Redis) -> None:
    here = rate_limiter(shared(redis), "token-failures", 2, 60.0)
    there = rate_limiter(shared(redis), "token-failures", 2, 60.0)
    assert isinstance(here, SharedRateLimiter)
    assert not here.known_clear("token:10.0.0.7")  # not asked yet: it does not know
    assert here.blocked("token:10.0.0.7") is None
    assert here.known_clear("token:10.0.0.7")  # found clear a moment ago, without Redis
    # Another replica counts failures up to the limit: this one still answers "not
    # blocked" from what it found, without asking Redis, for at most clear_seconds...
    assert [there.hit("token:10.0.0.7"), there.hit("token:10.0.0.7")] == [None, None]
    assert there.hit("token:10.0.0.7") is not None
    assert here.blocked("token:10.0.0.7") is None
    # ... and then asks again, and knows.
    here._clear.forget("token:10.0.0.7")  # that moment is over (instead of sleeping)
    assert here.blocked("token:10.0.0.7") is not None
    # A failure counted here forgets at once what was found.
    fresh = rate_limiter(shared(redis), "token-failures", 1, 60.0)
    assert fresh.blocked("token:10.0.0.8") is None
    assert fresh.known_clear("token:10.0.0.8")
    assert fresh.hit("token:10.0.0.8") is None
    assert not fresh.known_clear("token:10.0.0.8")
    assert fresh.blocked("token:10.0.0.8") is not None


def test_the_window_slides_in_redis(redis: Redis) -> None:
    limiter = rate_limiter(shared(redis), "signin", 2, 60.0)
    key = f"{redis.prefix}limit:signin:k"
    client = Client.from_url(redis.url)
    try:
        assert limiter.hit("k") is None
        assert limiter.hit("k") is None
        assert limiter.hit("k") is not None
        # Age the stored events by a window (Redis keeps their times in milliseconds).
        for member, score in client.zrange(key, 0, -1, withscores=True):
            client.zadd(key, {member: score - 60_000})
        assert limiter.hit("k") is None
        assert 0 < client.pttl(key) <= 60_000  # Redis drops an idle key a window later
    finally:
        client.close()


def test_without_a_redis_url_everything_stays_in_the_process() -> None:
    assert open_shared(Settings()) is None
    assert isinstance(rate_limiter(None, "signin", 3, 60.0), RateLimiter)


def test_a_redis_url_that_is_not_one_names_the_setting() -> None:
    with pytest.raises(ConfigError, match=r"^setting PORTAL_REDIS_URL: .*redis://host:6379/0"):
        open_shared(Settings(redis_url="postgres://db/portal"))


def test_while_redis_is_down_each_replica_falls_back_and_says_so(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    link = shared(redis_server, "fallback:", clock)
    store = RedisStore(link, size=3)
    limiter = rate_limiter(link, "signin", 2, 60.0)
    store.add(KEY, result(1))
    assert limiter.hit("k") is None

    redis_server.stop()
    with caplog.at_level(logging.WARNING, logger="portal.shared"):
        store.add(KEY, result(2))  # kept in this process meanwhile
        assert store.latest(KEY) == result(2)
        assert limiter.hit("k") is None  # counted here now: the process's own window
        assert limiter.hit("k") is None
        assert limiter.hit("k") is not None  # still limited, per replica
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings  # said once per outage, not once per call
    assert "Redis cannot be reached" in warnings[0]
    assert "kept in this process until it answers" in warnings[0]
    assert not link.available

    redis_server.start()
    assert store.latest(KEY) == result(2)  # Redis is not tried again before the retry time
    clock.now += link.retry_seconds
    assert store.latest(KEY) is None  # a fresh Redis: what the shared store has now
    assert link.available
    store.add(KEY, result(3))
    assert store.history(KEY) == [result(3)]
