"""The portal's Prometheus metrics: one registry per portal, the instruments the portal feeds,
and the one place where other parts add collectors of their own (``Metrics.register``).

A registry of its own, not prometheus_client's global one: a process may hold several
portals (the tests do), and each shows only its own figures.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from starlette.requests import HTTPConnection

from portal.auth.access import Denied
from portal.exceptions import PortalError
from portal.settings import Settings

if TYPE_CHECKING:
    from portal.web.runtime import Portal

__all__ = ["UNMATCHED", "Metrics", "PortalState", "scrape_refusal"]

log = logging.getLogger(__name__)

# The route label of a request no route matched: one label, whatever the path.
UNMATCHED = "unmatched"
# Any other method string is counted as OTHER: a label value per made-up method would
# let a client grow the series without end.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Pages answer in milliseconds; the slow tail is what the upper buckets are for.
_REQUEST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_SEARCH_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
_BUILD_BUCKETS = (1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)


class Metrics:
    """The registry /metrics shows and the instruments the portal records into."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        labels = ["method", "route", "status"]
        self._requests = Counter(
            "portal_http_requests",
            "HTTP requests answered, by method, route template and status.",
            labels,
            registry=self.registry,
        )
        self._durations = Histogram(
            "portal_http_request_duration_seconds",
            "Seconds from a request's arrival to the end of its response, by method, "
            "route template and status.",
            labels,
            buckets=_REQUEST_BUCKETS,
            registry=self.registry,
        )
        self.builds = Histogram(
            "portal_site_build_duration_seconds",
            "Seconds each background site build took, by outcome (built, failed).",
            ["outcome"],
            buckets=_BUILD_BUCKETS,
            registry=self.registry,
        )
        self.searches = Histogram(
            "portal_search_duration_seconds",
            "Seconds the search index took to answer, by operation (search, suggest).",
            ["operation"],
            buckets=_SEARCH_BUCKETS,
            registry=self.registry,
        )
        self.database_unavailable = Counter(
            "portal_database_unavailable",
            "Requests answered 503 because the database could not be reached.",
            registry=self.registry,
        )
        # (method, route, status) -> its two series: labels() costs more than a dict lookup.
        self._series: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request (``route`` is a template or :data:`UNMATCHED`)."""
        if method not in _METHODS:
            method = "OTHER"
        key = (method, route, status)
        series = self._series.get(key)
        if series is None:
            label = (method, route, str(status))
            series = (self._requests.labels(*label), self._durations.labels(*label))
            self._series[key] = series  # a race stores the same children twice: harmless
        series[0].inc()
        series[1].observe(seconds)

    def searched(self, operation: str, seconds: float) -> None:
        self.searches.labels(operation).observe(seconds)

    def register(self, collector: Collector) -> None:
        """Show what ``collector`` reports at every scrape.

        ``collector`` is any object whose ``collect()`` yields prometheus_client metric
        families (``GaugeMetricFamily`` and the like), read in the scraping request's
        thread: keep it to reading state already in memory. A collector that raises is
        logged and left out of that scrape; the rest of the page is still served.
        """
        self.registry.register(_Guarded(collector))

    def exposition(self, accept: str | None) -> tuple[bytes, str]:
        """The registry in the format the scraper asked for (``Accept``), and its type."""
        encode, content_type = choose_encoder(accept or "")
        return encode(self.registry), content_type


class _Guarded:
    """A registered collector whose failure costs its own figures, not the whole scrape."""

    def __init__(self, inner: Collector) -> None:
        self.inner = inner

    def describe(self) -> Iterable[Metric]:
        # Its names, when it tells them, so that a clash is refused at registration.
        describe = getattr(self.inner, "describe", None)
        return list(describe()) if describe is not None else []

    def collect(self) -> Iterable[Metric]:
        try:
            return list(self.inner.collect())
        except Exception:
            log.exception("metrics collector %r failed; its metrics are left out", self.inner)
            return []


class PortalState:
    """What the portal holds now, read at each scrape: catalog size, pages per audience,
    documents in the search index."""

    def __init__(self, portal: Portal) -> None:
        self.portal = portal
        # Site folder -> (what identifies its build, pages): counted again after a build.
        self._pages: dict[str, tuple[tuple[str, int], int]] = {}

    def describe(self) -> Iterable[Metric]:
        return [
            GaugeMetricFamily("portal_catalog_entities", ""),
            GaugeMetricFamily("portal_site_pages", ""),
            GaugeMetricFamily("portal_search_documents", ""),
        ]

    def collect(self) -> Iterable[Metric]:
        portal = self.portal
        try:
            entities = len(portal.view.catalog)
        except PortalError:  # not started yet
            entities = 0
        yield GaugeMetricFamily(
            "portal_catalog_entities", "Entities in the catalog the portal serves.", entities
        )
        pages = GaugeMetricFamily(
            "portal_site_pages",
            "HTML pages in each audience's built site (0 while it is not built).",
            labels=["audience"],
        )
        for name in portal.audiences:
            pages.add_metric([name], self._count_pages(str(portal.site_dir(name))))
        yield pages
        index = portal.search_index
        if index is not None and index.last is not None:
            yield GaugeMetricFamily(
                "portal_search_documents",
                "Documents in the search index (doc sections, entities, API operations).",
                index.last.total,
            )

    def _count_pages(self, site: str) -> int:
        """The site's HTML pages; counted once per build (a build is a new folder, or at least
        a new index.html), so a scrape does not walk thousands of files each time."""
        real = os.path.realpath(site)
        try:
            build = (real, os.stat(os.path.join(real, "index.html")).st_mtime_ns)
        except OSError:
            return 0
        known = self._pages.get(site)
        if known is not None and known[0] == build:
            return known[1]
        count = 0
        for folder, _dirs, files in os.walk(real):
            count += sum(1 for f in files if f.endswith(".html"))
            if folder == real and "404.html" in files:
                count -= 1
        self._pages[site] = (build, count)
        return count


def scrape_refusal(settings: Settings, connection: HTTPConnection) -> Denied | None:
    """Why this request may not read /metrics, or None when it may.

    It may with ``Authorization: Bearer <PORTAL_METRICS_TOKEN>``, or from an address in
    PORTAL_METRICS_ALLOWED_NETWORKS. The address counts only when it is the client's own:
    behind a proxy the portal was not told to trust (PORTAL_TRUSTED_PROXIES), every
    request would seem to come from the proxy.
    """
    token = settings.metrics_token
    if token:
        scheme, _, given = connection.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), token):
            return None
    client = connection.scope.get("client")
    proxied = not settings.trusted_proxies and any(
        name in connection.headers for name in ("forwarded", "x-forwarded-for")
    )
    if client and not proxied and _in_networks(client[0], tuple(settings.metrics_allowed_networks)):
        return None
    if token:
        return Denied(401, "metrics: send the metrics token (Authorization: Bearer)")
    return Denied(
        403,
        "metrics: not readable from this address "
        "(settings PORTAL_METRICS_ALLOWED_NETWORKS, PORTAL_METRICS_TOKEN)",
    )


def _in_networks(address: str, networks: Sequence[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:  # a unix socket's peer, or a test client's made-up name
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in network for network in _parsed(tuple(networks)))


@lru_cache(maxsize=16)
def _parsed(networks: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    # Settings validated them already; strict=False as there.
    return tuple(ipaddress.ip_network(n, strict=False) for n in networks)
