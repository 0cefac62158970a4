"""The portal's search index: the configured engine, kept in step with the model in the background.

At start and after every change (a site build, a registration), the portal
asks for a sync; a worker thread loads the documents and indexes only those
whose digest differs from the one the engine holds, so a restart with nothing
changed re-indexes nothing. Searches read the engine meanwhile: both engines
answer from a committed snapshot while a writer works.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pluggy

from portal.exceptions import ConfigError
from portal.search.documents import SearchDoc, changes
from portal.search.engine import SearchEngine, SearchHit, SearchQuery, SearchResults
from portal.settings import Settings
from portal.worker import Coalescing

__all__ = [
    "EngineFactory",
    "SearchIndex",
    "SyncStats",
    "engine_factories",
    "open_engine",
]

log = logging.getLogger(__name__)

EngineFactory = Callable[[Path | None], SearchEngine]


def engine_factories(pm: pluggy.PluginManager, settings: Settings) -> dict[str, EngineFactory]:
    """Every engine the plugins offer; a later plugin's name replaces a built-in one."""
    found: dict[str, EngineFactory] = {}
    # pluggy answers the most recently registered plugin first: apply them last.
    for answer in reversed(pm.hook.portal_search_engines(settings=settings)):
        found.update(answer)
    return found


def open_engine(settings: Settings, pm: pluggy.PluginManager | None = None) -> SearchEngine:
    """The engine ``settings.search_engine`` names, on its folder below the index folder."""
    if pm is None:
        from portal.plugins import get_plugin_manager

        pm = get_plugin_manager(settings.root)
    factories = engine_factories(pm, settings)
    factory = factories.get(settings.search_engine)
    if factory is None:
        known = ", ".join(sorted(factories)) or "none"
        raise ConfigError(
            f"setting PORTAL_SEARCH_ENGINE: {settings.search_engine!r} is not a search engine "
            f"(known: {known}; a plugin may add one with the portal_search_engines hook)"
        )
    # One folder per engine: switching engines never meets another engine's files.
    return factory(settings.search_index_path / settings.search_engine)


@dataclass(frozen=True, slots=True)
class SyncStats:
    """What one sync did: documents dropped and (re)indexed, out of ``total``."""

    removed: int
    updated: int
    total: int
    full: bool
    seconds: float


class SearchIndex:
    """One engine, the audiences of every indexed document, and a worker that syncs it."""

    def __init__(self, engine: SearchEngine, name: str = "") -> None:
        self.engine = engine
        self.name = name
        self.last: SyncStats | None = None
        self.syncs = 0
        self.error: str | None = None
        self._audiences: dict[str, tuple[str, ...]] = {}
        # What the index holds, id -> digest, once read: later syncs compare with it
        # instead of reading every stored document back (a quarter second at 36,000).
        self._digests: dict[str, str] | None = None
        self._write = threading.Lock()
        # Told (operation, seconds) after each search and suggestion: the portal's metrics.
        self.timings: list[Callable[[str, float], None]] = []
        # The newest request wins: a sync reads everything anew, so older ones add nothing.
        self._worker: Coalescing[tuple[Callable[[], Iterable[SearchDoc]], str]] = Coalescing(
            "portal-search", self._sync_from, lambda _older, newer: newer
        )

    @classmethod
    def open(cls, settings: Settings, pm: pluggy.PluginManager | None = None) -> SearchIndex:
        return cls(open_engine(settings, pm), settings.search_engine)

    # -- reading ---------------------------------------------------------------

    @property
    def quick(self) -> bool:
        """Whether searches are answered from memory in milliseconds (see SearchEngine)."""
        return bool(getattr(self.engine, "quick", False))

    def search(self, query: SearchQuery) -> SearchResults:
        started = time.perf_counter()
        try:
            return self.engine.search(query)
        finally:
            self._timed("search", started)

    def suggest(
        self, prefix: str, audiences: frozenset[str], limit: int = 8
    ) -> Sequence[SearchHit]:
        started = time.perf_counter()
        try:
            return self.engine.suggest(prefix, audiences, limit)
        finally:
            self._timed("suggest", started)

    def _timed(self, operation: str, started: float) -> None:
        seconds = time.perf_counter() - started
        for timing in self.timings:
            timing(operation, seconds)

    def audiences_of(self, doc_id: str) -> tuple[str, ...] | None:
        """The audiences whose sites hold a document; None before the first sync."""
        return self._audiences.get(doc_id)

    # -- writing ---------------------------------------------------------------

    def sync(self, docs: Iterable[SearchDoc]) -> SyncStats:
        """Index what differs between ``docs`` and the index; drop what ``docs`` lacks."""
        started = time.monotonic()
        docs = list(docs)
        with self._write:
            indexed = self._digests if self._digests is not None else self.engine.digests()
            removed, changed = changes(indexed, docs)
            full = not indexed
            if full:
                self.engine.replace_all(docs)
            elif removed or changed:
                self.engine.update(removed, changed)
            self._audiences = {doc.id: doc.audiences for doc in docs}
            self._digests = {doc.id: doc.digest for doc in docs}
            stats = SyncStats(
                removed=len(removed),
                updated=len(changed),
                total=len(docs),
                full=full,
                seconds=time.monotonic() - started,
            )
            self.last = stats
            self.syncs += 1
        log.info(
            "search index (%s): %d updated, %d removed of %d in %.2f s",
            self.name,
            stats.updated,
            stats.removed,
            stats.total,
            stats.seconds,
        )
        return stats

    # -- the worker ------------------------------------------------------------

    def start(self) -> None:
        self._worker.start()

    def stop(self) -> None:
        self._worker.halt()
        self._worker.join(timeout=60)

    def request(self, load: Callable[[], Iterable[SearchDoc]], reason: str) -> None:
        """Sync with what ``load`` returns, soon, in the worker; requests coalesce."""
        self._worker.submit((load, reason))

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no sync is queued or running (for tests and the CLI)."""
        return self._worker.wait_idle(timeout)

    def _sync_from(self, request: tuple[Callable[[], Iterable[SearchDoc]], str]) -> None:
        load, reason = request
        try:
            self.sync(load())
            self.error = None
        except Exception as exc:  # the server goes on with the index it has
            self.error = f"{type(exc).__name__}: {exc}"
            log.exception("search index sync (%s) failed", reason)
