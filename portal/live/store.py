"""Where probe results are kept: the last N of each endpoint, behind a small interface.

Pages read results from the store and never probe while rendering. The
in-memory store serves one process; a store shared by replicas (Redis, in the
scale-out work) implements the same :class:`ProbeStore` protocol, which is why
results turn into plain dictionaries and back.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

__all__ = ["EndpointKey", "MemoryStore", "ProbeResult", "ProbeStore", "State"]

State = Literal["up", "down", "refused"]
"""up: answered 2xx; down: answered otherwise or not at all; refused: the guard said no."""


@dataclass(frozen=True, slots=True, order=True)
class EndpointKey:
    """One probed endpoint: an entity's environment."""

    entity: str
    environment: str

    def __str__(self) -> str:
        return f"{self.entity}#{self.environment}"


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """What one probe found, and when."""

    url: str
    state: State
    checked_at: datetime
    detail: str
    http_status: int | None = None
    seconds: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "state": self.state,
            "checked_at": self.checked_at.isoformat(),
            "detail": self.detail,
            "http_status": self.http_status,
            "seconds": self.seconds,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProbeResult:
        return cls(
            url=str(data["url"]),
            state=data["state"],
            checked_at=datetime.fromisoformat(data["checked_at"]),
            detail=str(data["detail"]),
            http_status=data.get("http_status"),
            seconds=data.get("seconds"),
        )


class ProbeStore(Protocol):
    """The results of recent probes, newest first, at most ``size`` per endpoint."""

    def add(self, key: EndpointKey, result: ProbeResult) -> None: ...

    def latest(self, key: EndpointKey) -> ProbeResult | None: ...

    def history(self, key: EndpointKey) -> list[ProbeResult]: ...

    def retain(self, keys: Iterable[EndpointKey]) -> None:
        """Forget every endpoint not in ``keys`` (no longer declared)."""
        ...


class MemoryStore:
    """A :class:`ProbeStore` in this process's memory."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._results: dict[EndpointKey, deque[ProbeResult]] = {}
        self._lock = threading.Lock()

    def add(self, key: EndpointKey, result: ProbeResult) -> None:
        with self._lock:
            kept = self._results.setdefault(key, deque(maxlen=self.size))
            kept.appendleft(result)

    def latest(self, key: EndpointKey) -> ProbeResult | None:
        with self._lock:
            kept = self._results.get(key)
            return kept[0] if kept else None

    def history(self, key: EndpointKey) -> list[ProbeResult]:
        with self._lock:
            return list(self._results.get(key, ()))

    def retain(self, keys: Iterable[EndpointKey]) -> None:
        wanted = set(keys)
        with self._lock:
            for key in [k for k in self._results if k not in wanted]:
                del self._results[key]
