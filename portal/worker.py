"""A background thread that does one batch of work at a time, coalescing what is asked meanwhile.

The portal's background rebuilds and its search-index syncs both work this way:
requests made while a batch runs are merged into the next batch, so a burst of
registrations costs one rebuild, not one each.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["Coalescing", "Periodic"]

log = logging.getLogger(__name__)

T = TypeVar("T")


class Coalescing(Generic[T]):
    """Runs ``work(batch)`` in a thread; ``submit`` merges a request into the next batch."""

    def __init__(
        self, name: str, work: Callable[[T], None], merge: Callable[[T | None, T], T]
    ) -> None:
        self.name = name
        self._work = work
        self._merge = merge
        self._pending: T | None = None
        self._busy = False
        self._stopping = False
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    @property
    def stopping(self) -> bool:
        return self._stopping

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def submit(self, request: T) -> T:
        """Add ``request`` to the next batch; the batch as it now stands."""
        with self._cond:
            self._pending = self._merge(self._pending, request)
            self._cond.notify_all()
            return self._pending

    def halt(self) -> None:
        """Take no new batch (the one running, if any, finishes or is stopped by its owner)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()

    def join(self, timeout: float) -> None:
        if self._thread is not None:
            self._thread.join(timeout=timeout)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until nothing is queued or running (for tests and shutdown)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._pending is not None or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._pending is None and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                batch, self._pending = self._pending, None
                self._busy = True
            try:
                if batch is not None:  # always, after the wait above
                    self._work(batch)
            except Exception:  # one failed batch must not end the worker
                log.exception("%s: a batch failed", self.name)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()


class Periodic:
    """``tick`` every ``seconds`` in a daemon thread of its own, from start() to stop().

    A round that raises is logged (as ``failed``) and the next one goes on: a bad
    round must not end the thread.
    """

    def __init__(self, name: str, seconds: float, tick: Callable[[], object], failed: str) -> None:
        self.name = name
        self.seconds = seconds
        self.tick = tick
        self.failed = failed
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.seconds):
            try:
                self.tick()
            except Exception:
                log.exception(self.failed)
