"""The in-memory rate limiter: a sliding window per key, and memory that stays bounded."""

from __future__ import annotations

import pytest

from portal.auth.ratelimit import RateLimiter


class Clock:
    """A clock the test moves by hand (the limiter takes any clock; time is not patched)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_key_is_limited_within_its_window_and_free_after_it() -> None:
    clock = Clock()
    limiter = RateLimiter(3, 60.0, clock)
    assert [limiter.hit("a") for _ in range(3)] == [None, None, None]
    assert limiter.hit("a") == 60.0
    assert limiter.blocked("a") == 60.0
    assert limiter.hit("b") is None  # another key has its own count
    clock.now += 30
    assert limiter.blocked("a") == 30.0
    clock.now += 30
    assert limiter.blocked("a") is None
    assert limiter.hit("a") is None


def test_blocked_counts_nothing() -> None:
    limiter = RateLimiter(1, 60.0, Clock())
    for _ in range(5):
        assert limiter.blocked("a") is None
    assert len(limiter) == 0
    assert limiter.hit("a") is None
    assert limiter.blocked("a") is not None


def test_known_clear_is_whether_a_key_is_not_blocked() -> None:
    clock = Clock()
    limiter = RateLimiter(1, 60.0, clock)
    assert limiter.known_clear("a")  # in memory, it always knows
    assert limiter.hit("a") is None
    assert not limiter.known_clear("a")
    assert limiter.known_clear("b")
    clock.now += 60
    assert limiter.known_clear("a")


def test_keys_hit_once_are_forgotten_a_window_later() -> None:
    clock = Clock()
    limiter = RateLimiter(20, 60.0, clock)
    for number in range(1000):
        limiter.hit(f"10.0.{number // 256}.{number % 256}")
    assert len(limiter) == 1000
    clock.now += 59
    limiter.hit("busy")
    assert len(limiter) == 1001  # none idle for a whole window yet
    clock.now += 1
    limiter.hit("busy")
    assert len(limiter) == 1  # only the key still counting
    clock.now += 60
    assert limiter.blocked("other") is None
    assert len(limiter) == 0


def test_past_max_keys_the_least_recently_counted_key_goes() -> None:
    clock = Clock()
    limiter = RateLimiter(2, 60.0, clock, max_keys=100)
    limiter.hit("old")
    limiter.hit("old")
    for number in range(99):
        clock.now += 0.1
        limiter.hit(f"key-{number}")
    assert len(limiter) == 100
    assert limiter.blocked("old") is not None
    limiter.hit("one-more")
    assert len(limiter) == 100
    assert limiter.blocked("old") is None  # forgotten: the oldest of all
    # The others keep their counts: key-0's first hit still counts against it.
    assert limiter.hit("key-0") is None
    assert limiter.hit("key-0") is not None


@pytest.mark.parametrize(("limit", "window"), [(0, 60.0), (5, 0.0)])
def test_a_limit_that_cannot_work_is_refused(limit: int, window: float) -> None:
    with pytest.raises(ValueError, match="a rate limit needs limit >= 1, window > 0"):
        RateLimiter(limit, window)
