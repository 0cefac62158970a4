"""Scheduled probes across replicas: results shared in Redis, one schedule, and a replica that
takes the schedule over goes on from the results it finds rather than probing all at once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from portal.live import AllowList, Endpoint, EndpointKey, Guard, Prober
from portal.live.redis_store import RedisStore
from portal.settings import Settings
from portal.shared import open_shared
from tests.live.conftest import FakeService, ManualClock, clock, service
from tests.scale.conftest import Redis

__all__ = ["clock", "service"]

INTERVAL = 60.0
KEY = EndpointKey("component:default/orders", "production")


@pytest.fixture
def stores(redis: Redis) -> Iterator[tuple[RedisStore, RedisStore]]:
    links = [
        open_shared(Settings(redis_url=redis.url, redis_prefix=redis.prefix)) for _ in range(2)
    ]
    assert links[0] is not None and links[1] is not None
    yield RedisStore(links[0], 5), RedisStore(links[1], 5)
    for link in links:
        assert link is not None
        link.close()


def prober(service: FakeService, store: RedisStore, clock: ManualClock) -> Prober:
    made = Prober(
        Guard(AllowList.parse([service.host])),
        store,
        interval=INTERVAL,
        timeout=2.0,
        max_bytes=1024,
        threshold=3,
        max_backoff=600.0,
        clock=clock,
    )
    made.set_endpoints([Endpoint(KEY, f"{service.url}/healthz")])
    return made


def test_a_replica_taking_over_the_schedule_keeps_its_rhythm(
    stores: tuple[RedisStore, RedisStore], service: FakeService, clock: ManualClock
) -> None:
    first, second = (prober(service, store, clock) for store in stores)
    try:
        assert first.tick() == [KEY]  # the schedule's holder probes...
        assert second.store.latest(KEY) is not None  # ...and the other replica shows it
        # The holder goes away; the other takes the schedule over half an interval later.
        clock.advance(INTERVAL / 2)
        assert second.tick() == []  # probed half an interval ago, by the other: not due
        clock.advance(INTERVAL / 2)
        assert second.tick() == [KEY]
        assert service.paths() == ["/healthz", "/healthz"]
        assert [r.checked_at for r in first.store.history(KEY)] == [
            r.checked_at for r in second.store.history(KEY)
        ]
    finally:
        first.stop()
        second.stop()
