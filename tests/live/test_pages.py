"""Live status through the real app: entity page, catalog, home, probe on demand, JSON."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tests.live.conftest import FakeService, live_component, live_repo
from tests.web.conftest import client_for, settings_for

ORDERS = "/catalog/component/default/orders"
TIME = re.compile(r'<time datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d')


@pytest.fixture
def http(tmp_path: Path, service: FakeService) -> Iterator[TestClient]:
    root = live_repo(
        tmp_path / "repo",
        {
            "catalog/orders.yaml": live_component(
                "orders",
                {
                    "staging": "https://orders.staging.example",
                    "production": f"{service.url}/",
                },
            ),
            "catalog/billing.yaml": live_component(
                "billing", {"production": service.url}, health="/fail"
            ),
        },
    )
    settings = settings_for(root, live_allowed_hosts=[service.host], live_probe_interval=0)
    client, _portal = client_for(settings)
    with client:
        yield client


def status_section(html: str) -> str:
    return html.split('<h2 id="status">', 1)[1].split("<h2", 1)[0]


def test_before_any_probe_the_entity_page_says_so(http: TestClient, service: FakeService) -> None:
    section = status_section(http.get(ORDERS).text)
    assert "production: not checked yet" in section and "staging: not checked yet" in section
    assert f"{service.url}/healthz" in section  # the URL it will probe
    assert TIME.search(section) is None
    assert f'<form method="post" action="{ORDERS}/probe"' in section  # "Check now"
    assert f'href="{ORDERS}/try"' in section
    assert service.received == []  # rendering a page never probes


def test_probing_on_demand_shows_status_and_time_per_environment(
    http: TestClient, service: FakeService
) -> None:
    page = http.get(ORDERS)
    answer = http.post(f"{ORDERS}/probe", data={"csrf": ""})
    assert answer.status_code == 303
    assert answer.headers["location"] == f"{ORDERS}#status"
    assert service.paths() == ["/healthz"]
    assert service.received[0].headers["user-agent"] == "quantum-portal-prober"
    section = status_section(http.get(ORDERS).text)
    assert 'class="portal-live portal-live--up"' in section and "production: up" in section
    assert "HTTP 200" in section
    # The staging host is not allow-listed: refused, with the reason, and never called.
    assert "staging: refused" in section
    assert "orders.staging.example:443 is not on the allow-list" in section
    assert len(TIME.findall(section)) == 2  # each with the time of its check
    assert page.status_code == 200


def test_the_catalog_and_home_page_show_status_with_the_time(
    http: TestClient, service: FakeService
) -> None:
    http.post(f"{ORDERS}/probe")
    http.post("/catalog/component/default/billing/probe")
    catalog = http.get("/catalog", params={"kind": "component"}).text
    row = catalog.split(f'href="{ORDERS}"', 1)[1].split("</tr>", 1)[0]
    assert "production: up" in row and TIME.search(row)
    billing = catalog.split('href="/catalog/component/default/billing"', 1)[1].split("</tr>")[0]
    assert "production: down" in billing and "HTTP 503" in billing
    # A page of entities that declare no environment has no status column.
    assert "Live status" in catalog
    assert "Live status" not in http.get("/catalog", params={"kind": "api"}).text
    home = http.get("/").text
    live = home.split('<h2 id="live">', 1)[1].split("<h2", 1)[0]
    # What is not up comes first.
    assert live.index("billing") < live.index("orders")
    assert "production: down" in live and "production: up" in live and TIME.search(live)


def test_status_as_json(http: TestClient, service: FakeService) -> None:
    probed = http.post(f"{ORDERS}/probe", headers={"Accept": "application/json"})
    assert probed.status_code == 200
    by_env = {e["environment"]: e for e in probed.json()["environments"]}
    assert by_env["production"]["status"] == "up"
    assert by_env["production"]["http_status"] == 200
    assert by_env["staging"]["status"] == "refused"
    everything = http.get("/live/status").json()["environments"]
    assert {(e["entity"], e["environment"]) for e in everything} == {
        ("component:default/orders", "staging"),
        ("component:default/orders", "production"),
        ("component:default/billing", "production"),
    }
    one = http.get("/live/status", params={"entity": "component:orders"}).json()
    assert len(one["environments"]) == 2
    bad = http.get("/live/status", params={"entity": "not a ref!"})
    assert bad.status_code == 422 and bad.json()["detail"].startswith("entity: 'not a ref!'")


def test_metrics_show_each_environments_state_and_last_probe(
    http: TestClient, service: FakeService
) -> None:
    http.post(f"{ORDERS}/probe")
    http.post("/catalog/component/default/billing/probe")
    text = http.get("/metrics").text
    orders = 'entity="component:default/orders",environment="production"'
    billing = 'entity="component:default/billing",environment="production"'
    staging = 'entity="component:default/orders",environment="staging"'
    assert f"portal_live_up{{{orders}}} 1.0" in text
    assert f"portal_live_up{{{billing}}} 0.0" in text
    assert f'portal_live_state{{{billing},state="down"}} 1.0' in text
    assert f'portal_live_state{{{staging},state="refused"}} 1.0' in text
    assert f"portal_live_failures{{{billing}}} 1.0" in text
    assert re.search(
        rf"portal_live_checked_timestamp_seconds\{{{re.escape(orders)}\}} 1\.\d+e\+09", text
    )
    assert f"portal_live_probe_seconds{{{orders}}}" in text


def test_a_cross_site_form_cannot_make_the_portal_probe(
    http: TestClient, service: FakeService
) -> None:
    refused = http.post(f"{ORDERS}/probe", headers={"Origin": "https://evil.example"})
    assert refused.status_code == 403
    assert service.received == []


def test_an_unknown_entity_is_a_404(http: TestClient) -> None:
    assert http.post("/catalog/component/default/nobody/probe").status_code == 404
    assert http.get("/catalog/component/default/nobody/try").status_code == 404


def test_an_entity_without_environments_says_how_to_declare_them(http: TestClient) -> None:
    section = status_section(http.get("/catalog/component/default/things-service").text)
    assert "No environment is declared" in section
    assert "portal.quantum.dev/environment.&lt;name&gt;" in section


def test_registered_entities_are_probed_and_bad_declarations_refused(
    http: TestClient, service: FakeService
) -> None:
    descriptor = live_component("payments", {"production": service.url})
    registered = http.post("/api/v1/entities", json={"descriptor": descriptor})
    assert registered.status_code == 201, registered.text
    http.post("/catalog/component/default/payments/probe")
    statuses = http.get("/live/status", params={"entity": "component:payments"}).json()
    assert [e["status"] for e in statuses["environments"]] == ["up"]
    assert http.delete("/api/v1/entities/component/default/payments").status_code == 200
    left = {e["entity"] for e in http.get("/live/status").json()["environments"]}
    assert "component:default/payments" not in left

    wrong = live_component("refunds", {"qa": service.url})
    rejected = http.post("/api/v1/entities", json={"descriptor": wrong})
    assert rejected.status_code == 422
    messages = [p["message"] for p in rejected.json()["problems"]]
    assert any("'qa' is not a known environment" in m for m in messages), messages
