"""/metrics: what it counts, under which labels, who may read it, and collectors of others."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import DuplicateTimeseries
from pydantic import ValidationError
from starlette.testclient import TestClient

from portal.secrets import mask
from portal.settings import Settings
from portal.web import create_app
from portal.web.app import resolved_settings
from portal.web.runtime import Portal
from tests.ops.conftest import CapturedLog, settings_in
from tests.web.conftest import BASE, client_for, settings_for

Series = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(client: TestClient, **headers: str) -> Series:
    """Every sample of the page, parsed by prometheus_client's own parser."""
    page = client.get("/metrics", headers=headers)
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(page.text)
        for sample in family.samples
    }


def value(series: Series, name: str, **labels: str) -> float | None:
    return series.get((name, frozenset(labels.items())))


def labelled(series: Series, name: str, label: str) -> set[str]:
    return {dict(key)[label] for (n, key) in series if n == name and label in dict(key)}


@pytest.fixture
def portal_client(built_repo: Path, tmp_path: Path) -> Iterator[tuple[TestClient, Portal]]:
    client, portal = client_for(settings_in(built_repo, tmp_path / "data"))
    with client:
        yield client, portal


def test_requests_are_counted_by_route_template_never_by_raw_path(
    portal_client: tuple[TestClient, Portal],
) -> None:
    client, _portal = portal_client
    for name in ("alpha", "beta", "gamma"):
        assert client.get(f"/catalog/component/default/{name}").status_code == 404
    assert client.get("/api/v1/entities/group/default/team-a").status_code == 200
    for n in range(3):
        assert client.get(f"/no/such/page/{n}").status_code == 404
    assert client.request("BREW", "/catalog").status_code == 405
    for _ in range(2):  # read, then answered from memory before routing: one template
        assert client.get("/docs/staff/").status_code == 200
    series = scrape(client)

    total = "portal_http_requests_total"
    entity = "/catalog/{kind}/{namespace}/{name}"
    assert value(series, total, method="GET", route=entity, status="404") == 3
    api = "/api/v1/entities/{kind}/{namespace}/{name}"  # a route of the mounted REST API
    assert value(series, total, method="GET", route=api, status="200") == 1
    assert value(series, total, method="GET", route="unmatched", status="404") == 3
    assert value(series, total, method="OTHER", route="/catalog", status="405") == 1
    docs = "/docs/{audience}/{path:path}"
    assert value(series, total, method="GET", route=docs, status="200") == 2
    routes = labelled(series, total, "route")
    assert not any(r.startswith("/no/") or "alpha" in r or "team-a" in r for r in routes)
    # The latency histogram has the same labels.
    count = "portal_http_request_duration_seconds_count"
    assert value(series, count, method="GET", route=entity, status="404") == 3
    assert labelled(series, count, "route") == routes


def test_the_portals_state_pages_index_and_search_latency(
    portal_client: tuple[TestClient, Portal], built_repo: Path
) -> None:
    client, portal = portal_client
    index = portal.search_index
    assert index is not None and index.wait_idle(120)
    assert client.get("/api/v1/search", params={"q": "runbook"}).status_code == 200
    assert client.get("/api/v1/search/suggest", params={"q": "run"}).status_code == 200
    series = scrape(client)

    assert value(series, "portal_catalog_entities") == len(portal.view.catalog)
    for audience in ("staff", "builders", "partners"):
        site = built_repo / "site" / audience
        pages = [p for p in site.rglob("*.html") if p != site / "404.html"]
        assert value(series, "portal_site_pages", audience=audience) == len(pages) > 0
    assert index.last is not None
    assert value(series, "portal_search_documents") == index.last.total > 0
    searches = "portal_search_duration_seconds_count"
    assert value(series, searches, operation="search") == 1
    assert value(series, searches, operation="suggest") == 1


def test_background_builds_are_timed_by_outcome(built_repo: Path, tmp_path: Path) -> None:
    client, portal = client_for(
        settings_in(built_repo, tmp_path / "data", site_dir=tmp_path / "site"),
        rebuild=True,
    )
    with client:
        portal.builder.request(["partners"], "a test asks")
        assert portal.builder.wait_idle(300)
        portal.builder.request(["no-such-audience"], "a test asks for the impossible")
        assert portal.builder.wait_idle(300)
        series = scrape(client)
        # The new site is counted as soon as it is there.
        assert (value(series, "portal_site_pages", audience="partners") or 0) > 0
    builds = "portal_site_build_duration_seconds_count"
    assert value(series, builds, outcome="built") == 1
    assert value(series, builds, outcome="failed") == 1


# -- who may read it ----------------------------------------------------------------


def client_at(settings: Settings, address: str) -> TestClient:
    return TestClient(create_app(settings, rebuild=False), base_url=BASE, client=(address, 50000))


def test_by_default_only_loopback_may_read_metrics(web_repo: Path) -> None:
    settings = settings_for(web_repo)
    with client_at(settings, "127.0.0.1") as local:
        assert local.get("/metrics").status_code == 200
        # A proxy on this machine that the settings do not name as trusted: its callers
        # are not local.
        proxied = local.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
        assert proxied.status_code == 403
    with client_at(settings, "10.1.2.3") as remote:
        refused = remote.get("/metrics")
        assert refused.status_code == 403
        assert refused.text == (
            "metrics: not readable from this address "
            "(settings PORTAL_METRICS_ALLOWED_NETWORKS, PORTAL_METRICS_TOKEN)"
        )
        assert "portal_http" not in refused.text


def test_allowed_networks_decide_by_the_clients_address(web_repo: Path) -> None:
    settings = settings_for(web_repo, metrics_allowed_networks=["10.0.0.0/8", "fd00::/8"])
    with client_at(settings, "10.1.2.3") as inside:
        assert inside.get("/metrics").status_code == 200
    with client_at(settings, "192.168.1.1") as outside:
        assert outside.get("/metrics").status_code == 403
    with client_at(settings, "127.0.0.1") as local:  # loopback is no longer in the list
        assert local.get("/metrics").status_code == 403
    behind = settings_for(
        web_repo, metrics_allowed_networks=["10.0.0.0/8"], trusted_proxies=["10.0.0.1"]
    )
    with client_at(behind, "10.9.9.9") as proxied:  # the proxy resolved the client
        assert proxied.get("/metrics", headers={"X-Forwarded-For": "10.9.9.9"}).status_code == 200


def test_the_metrics_token_opens_metrics_from_anywhere(
    web_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = "scrape-4711-" + "x" * 20
    monkeypatch.setenv("PORTAL_TEST_METRICS_TOKEN", token)
    settings = resolved_settings(
        settings_for(
            web_repo,
            metrics_token="env://PORTAL_TEST_METRICS_TOKEN",
            metrics_allowed_networks=[],
        )
    )
    with client_at(settings, "198.51.100.7") as remote:
        assert remote.get("/metrics", headers={"Authorization": f"Bearer {token}"}).status_code == (
            200
        )
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": token}):
            refused = remote.get("/metrics", headers=headers)
            assert refused.status_code == 401
            assert refused.headers["www-authenticate"] == 'Bearer realm="metrics"'
            assert refused.text == "metrics: send the metrics token (Authorization: Bearer)"
        # Not an API token: the API does not take it, and no token attempt is counted.
        api = remote.get("/api/v1/entities", headers={"Authorization": f"Bearer {token}"})
        assert api.status_code == 401
    with client_at(settings, "127.0.0.1") as local:  # [] networks: the token, even here
        assert local.get("/metrics").status_code == 401
    assert mask(f"scraped with {token}") == "scraped with ****"  # never in a log line


def test_a_network_that_is_no_network_is_refused_by_name(web_repo: Path) -> None:
    with pytest.raises(ValidationError) as caught:
        settings_for(web_repo, metrics_allowed_networks=["10.0.0.0/8", "10.0.0.0/33"])
    message = str(caught.value)
    assert "metrics_allowed_networks" in message
    assert "'10.0.0.0/33' is not a network (expected CIDR such as 10.0.0.0/8 or fd00::/8)" in (
        message
    )


# -- collectors of other parts (probes, scorecards) ---------------------------------


class Levels:
    """What a scorecard part would register: a gauge read from its state at each scrape."""

    def __init__(self) -> None:
        self.levels = {"component:default/payments": 2.0}

    def collect(self) -> Iterable[Metric]:
        gauge = GaugeMetricFamily("portal_scorecard_level", "Level reached.", labels=["entity"])
        for entity, level in self.levels.items():
            gauge.add_metric([entity], level)
        yield gauge


class Broken:
    def collect(self) -> Iterable[Metric]:
        raise RuntimeError("the probe state is gone")


class Clashing:
    def describe(self) -> Iterable[Metric]:
        yield GaugeMetricFamily("portal_catalog_entities", "")

    def collect(self) -> Iterable[Metric]:
        return []


def test_other_parts_register_collectors_and_a_broken_one_costs_only_itself(
    portal_client: tuple[TestClient, Portal], json_log: CapturedLog
) -> None:
    client, portal = portal_client
    levels = Levels()
    portal.metrics.register(levels)
    portal.metrics.register(Broken())
    series = scrape(client)
    entity = "component:default/payments"
    assert value(series, "portal_scorecard_level", entity=entity) == 2.0
    assert value(series, "portal_catalog_entities") == len(portal.view.catalog)
    levels.levels[entity] = 3.0  # read again at each scrape
    assert value(scrape(client), "portal_scorecard_level", entity=entity) == 3.0
    failures = [e for e in json_log.events() if e["level"] == "error"]
    assert failures and "failed; its metrics are left out" in failures[0]["message"]
    assert "the probe state is gone" in failures[0]["exception"]
    with pytest.raises(DuplicateTimeseries):
        portal.metrics.register(Clashing())


def test_each_portal_has_its_own_registry(web_repo: Path, tmp_path: Path) -> None:
    first, _ = client_for(settings_for(web_repo))
    second, _ = client_for(settings_in(web_repo, tmp_path / "other"))
    with first, second:
        first.get("/catalog")
        first.get("/catalog")
        second.get("/catalog")
        total = "portal_http_requests_total"
        labels = {"method": "GET", "route": "/catalog", "status": "200"}
        assert value(scrape(first), total, **labels) == 2
        assert value(scrape(second), total, **labels) == 1
