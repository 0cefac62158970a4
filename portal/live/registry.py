"""The portal's live view of the platform: what each entity declares, and how it is doing.

One :class:`Live` per portal process. The portal hands it each new catalog view
(``update``), starts and stops its probing with the portal, and pages read statuses
from it; they never wait on a probe, except one asked for on demand.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from portal.catalog import Catalog, EntityRef
from portal.live.console import Attempt, TryRequest, try_request
from portal.live.environments import Environment, api_servers
from portal.live.guard import AllowList, Guard, Resolver, system_resolver
from portal.live.prober import Clock, Endpoint, Prober
from portal.live.store import EndpointKey, MemoryStore, ProbeResult, ProbeStore
from portal.settings import Settings

__all__ = ["EnvironmentStatus", "Live", "Status"]

Status = Literal["up", "down", "refused", "unknown", "unprobed"]
# The breaker's first wait when scheduled probing is off (PORTAL_LIVE_PROBE_INTERVAL=0).
ON_DEMAND_BACKOFF = 60.0


@dataclass(frozen=True, slots=True)
class EnvironmentStatus:
    """One environment of one entity as the pages (and /metrics) show it."""

    entity: EntityRef
    environment: Environment
    status: Status
    latest: ProbeResult | None
    history: tuple[ProbeResult, ...]
    failures: int
    paused_until: datetime | None

    @property
    def checked_at(self) -> datetime | None:
        return self.latest.checked_at if self.latest else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "entity": str(self.entity),
            "environment": self.environment.name,
            "url": self.environment.url,
            "health": self.environment.health,
            "status": self.status,
            "checked_at": self.checked_at.isoformat() if self.checked_at else None,
            "detail": self.latest.detail if self.latest else None,
            "http_status": self.latest.http_status if self.latest else None,
            "seconds": self.latest.seconds if self.latest else None,
            "failures": self.failures,
            "paused_until": self.paused_until.isoformat() if self.paused_until else None,
            "history": [r.to_dict() for r in self.history],
        }


class Live:
    """Declared environments, their probes and the try-it console, behind one face."""

    def __init__(
        self,
        settings: Settings,
        *,
        store: ProbeStore | None = None,
        clock: Clock | None = None,
        resolve: Resolver = system_resolver,
        leader: Callable[[], bool] | None = None,
    ) -> None:
        self.settings = settings
        allow = AllowList.effective(settings.live_allowed_hosts, sso=bool(settings.oidc_issuer))
        self.guard = Guard(allow, resolve)
        self.store: ProbeStore = store or MemoryStore(settings.live_history)
        self.prober = Prober(
            self.guard,
            self.store,
            interval=settings.live_probe_interval or ON_DEMAND_BACKOFF,
            timeout=settings.live_timeout,
            max_bytes=settings.live_max_bytes,
            threshold=settings.live_failures_before_pause,
            max_backoff=settings.live_max_backoff,
            clock=clock,
            leader=leader,
        )
        self._declared: dict[EntityRef, tuple[Environment, ...]] = {}
        self._servers: dict[EntityRef, tuple[Environment, ...]] = {}

    # -- life cycle ------------------------------------------------------------

    def start(self) -> None:
        """Start scheduled probing (unless the interval setting is 0: on demand only)."""
        if self.settings.live_probe_interval > 0:
            self.prober.start()

    def stop(self) -> None:
        self.prober.stop()

    def update(
        self, catalog: Catalog, environments: Mapping[EntityRef, Sequence[Environment]]
    ) -> None:
        """Take the environments of a new catalog view; probing follows at once."""
        declared = {ref: tuple(envs) for ref, envs in environments.items()}
        servers = {
            api.ref: found
            for api in catalog.of_kind("api")
            if (found := api_servers(api, catalog, declared))
        }
        self._declared, self._servers = declared, servers
        self.prober.set_endpoints(
            Endpoint(EndpointKey(str(ref), env.name), env.health)
            for ref, envs in declared.items()
            for env in envs
            if env.health is not None
        )

    # -- what pages read -------------------------------------------------------------

    def environments(self, ref: EntityRef) -> tuple[Environment, ...]:
        return self._declared.get(ref, ())

    def servers(self, ref: EntityRef) -> tuple[Environment, ...]:
        """Where the try-it console may send requests for ``ref``: an API's servers (its own
        or its providers'), else the entity's own environments."""
        return self._servers.get(ref) or self._declared.get(ref, ())

    def allowed(self, environment: Environment) -> bool:
        """Whether the console offers ``environment`` (its host is on the allow-list)."""
        return self.guard.allows_host_of(environment.url)

    def declares_any(self, refs: Iterable[EntityRef]) -> bool:
        """Whether any of ``refs`` declares an environment (a page shows a status column)."""
        return any(ref in self._declared for ref in refs)

    def statuses(self, ref: EntityRef) -> list[EnvironmentStatus]:
        return [self._status(ref, env) for env in self._declared.get(ref, ())]

    def latest(self) -> list[EnvironmentStatus]:
        """Every probed environment of every entity with its latest result, for /metrics:
        ``status`` is up, down, refused or unknown (not probed yet); ``latest`` holds the
        time, HTTP status and seconds of the last probe."""
        return [
            self._status(ref, env)
            for ref, envs in sorted(self._declared.items())
            for env in envs
            if env.health is not None
        ]

    def overview(self, limit: int = 12) -> list[tuple[EntityRef, list[EnvironmentStatus]]]:
        """Entities with a probed environment, those with one not up first (the home page)."""
        rows = []
        for ref, envs in sorted(self._declared.items()):
            statuses = [self._status(ref, env) for env in envs if env.health is not None]
            if statuses:
                rows.append((ref, statuses))
        rows.sort(key=lambda row: all(s.status == "up" for s in row[1]))
        return rows[:limit]

    def probe_now(self, ref: EntityRef) -> list[EnvironmentStatus]:
        """Probe the environments of ``ref`` now (see Prober.probe_now) and return them."""
        keys = [EndpointKey(str(ref), e.name) for e in self._declared.get(ref, ()) if e.health]
        self.prober.probe_now(keys)
        return self.statuses(ref)

    def try_it(self, ref: EntityRef, request: TryRequest) -> Attempt:
        return try_request(
            self.guard,
            self.servers(ref),
            request,
            timeout=self.settings.live_timeout,
            max_bytes=self.settings.live_max_bytes,
        )

    def _status(self, ref: EntityRef, env: Environment) -> EnvironmentStatus:
        if env.health is None:
            return EnvironmentStatus(ref, env, "unprobed", None, (), 0, None)
        key = EndpointKey(str(ref), env.name)
        history = tuple(self.store.history(key))
        latest = history[0] if history else None
        breaker = self.prober.breaker(key)
        failures = breaker.failures if breaker else 0
        paused = breaker.open_until if breaker and breaker.open_until else None
        if paused is not None and paused <= self.prober.clock.now():
            paused = None
        status: Status = latest.state if latest else "unknown"
        return EnvironmentStatus(ref, env, status, latest, history, failures, paused)
