"""Live platform APIs: environments declared in the catalog, probed server-side behind a guard.

``environments`` reads the declarations once; ``guard`` and ``fetch`` make every
outbound request safe; ``prober`` and ``store`` keep health results; ``Live`` is
what the portal holds, and ``console`` is the try-it console.
"""

from portal.live.console import METHODS, STRIPPED, Attempt, TryRequest, parse_headers
from portal.live.environments import (
    ENVIRONMENT_PREFIX,
    HEALTH,
    HEALTH_PREFIX,
    Environment,
    EnvLink,
    api_servers,
    read_environments,
)
from portal.live.guard import AllowList, Guard, Refused, Unreachable, parse_entry
from portal.live.prober import Breaker, Clock, Endpoint, Prober, SystemClock
from portal.live.registry import EnvironmentStatus, Live, Status
from portal.live.store import EndpointKey, MemoryStore, ProbeResult, ProbeStore

__all__ = [
    "ENVIRONMENT_PREFIX",
    "HEALTH",
    "HEALTH_PREFIX",
    "METHODS",
    "STRIPPED",
    "AllowList",
    "Attempt",
    "Breaker",
    "Clock",
    "Endpoint",
    "EndpointKey",
    "EnvLink",
    "Environment",
    "EnvironmentStatus",
    "Guard",
    "Live",
    "MemoryStore",
    "ProbeResult",
    "ProbeStore",
    "Prober",
    "Refused",
    "Status",
    "SystemClock",
    "TryRequest",
    "Unreachable",
    "api_servers",
    "parse_entry",
    "parse_headers",
    "read_environments",
]
