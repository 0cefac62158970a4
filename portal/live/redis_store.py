"""Probe results in Redis, so that every replica shows what any replica probed.

One list per endpoint, newest first, trimmed to the history size in the same
transaction as each push, plus one set naming the endpoints that have lists (for
``retain``). Every list expires a while after its last probe, so an endpoint no
replica declares any more cannot linger for ever. While Redis cannot be reached,
results go to and come from this process's own :class:`MemoryStore` (see
``portal.shared``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from portal.live.store import EndpointKey, MemoryStore, ProbeResult
from portal.shared import Shared

if TYPE_CHECKING:
    from redis import Redis

__all__ = ["RedisStore"]

WHAT = "probe results"
# A list untouched this long (no probe of its endpoint anywhere) is dropped by Redis itself.
EXPIRE_SECONDS = 7 * 24 * 3600


class RedisStore:
    """A :class:`~portal.live.store.ProbeStore` in Redis, shared by the replicas."""

    def __init__(self, shared: Shared, size: int) -> None:
        self.shared = shared
        self.size = size
        self.fallback = MemoryStore(size)
        self._index = shared.key("probes")

    def _key(self, key: EndpointKey) -> str:
        return self.shared.key("probe", key.entity, key.environment)

    def add(self, key: EndpointKey, result: ProbeResult) -> None:
        name = self._key(key)
        data = json.dumps(result.to_dict(), separators=(",", ":"))

        def push(client: Redis) -> None:
            with client.pipeline(transaction=True) as pipe:
                pipe.lpush(name, data)
                pipe.ltrim(name, 0, self.size - 1)
                pipe.expire(name, EXPIRE_SECONDS)
                pipe.sadd(self._index, name)
                pipe.execute()

        self.shared.run(WHAT, push, lambda: self.fallback.add(key, result))

    def latest(self, key: EndpointKey) -> ProbeResult | None:
        name = self._key(key)

        def first(client: Redis) -> ProbeResult | None:
            raw: Any = client.lindex(name, 0)
            return _result(raw) if raw is not None else None

        return self.shared.run(WHAT, first, lambda: self.fallback.latest(key))

    def history(self, key: EndpointKey) -> list[ProbeResult]:
        name = self._key(key)

        def read(client: Redis) -> list[ProbeResult]:
            raw: Any = client.lrange(name, 0, self.size - 1)
            return [_result(item) for item in raw]

        return self.shared.run(WHAT, read, lambda: self.fallback.history(key))

    def retain(self, keys: Iterable[EndpointKey]) -> None:
        wanted = list(keys)
        names = {self._key(key) for key in wanted}

        def forget(client: Redis) -> None:
            known: Any = client.smembers(self._index)
            gone = [n for n in (k.decode() for k in known) if n not in names]
            if gone:
                with client.pipeline(transaction=True) as pipe:
                    pipe.delete(*gone)
                    pipe.srem(self._index, *gone)
                    pipe.execute()

        self.fallback.retain(wanted)
        self.shared.run(WHAT, forget, lambda: None)


def _result(raw: bytes | str) -> ProbeResult:
    data = json.loads(raw)
    return ProbeResult.from_dict(data)
