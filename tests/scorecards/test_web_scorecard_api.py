"""/api/v1/scorecards through the real app: listing, filters, paging, errors, OpenAPI."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from tests.scorecards.web_fixtures import scorecard_repo, serving


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    root = scorecard_repo(tmp_path_factory.mktemp("api") / "repo")
    with serving(root) as (http, _portal):
        yield http  # type: ignore[misc]


def names(body: dict[str, object]) -> list[str]:
    return [str(item["entity"]).split("/")[-1] for item in body["items"]]  # type: ignore[attr-defined]


def test_lists_scorecards_with_levels_and_rules(client: TestClient) -> None:
    body = client.get("/api/v1/scorecards").json()
    assert [s["name"] for s in body["items"]] == ["ready"]
    ready = body["items"][0]
    assert [(level["name"], level["entities"]) for level in ready["levels"]] == [
        ("bronze", 2),
        ("silver", 1),
        ("gold", 2),
    ]
    assert ready["below_first_level"] == 1
    rules = {rule["id"]: rule for rule in ready["rules"]}
    assert rules["oncall"]["failing"] == 4 and rules["oncall"]["weight"] == 2
    assert rules["owner"]["fix"] == "Set `spec.owner` to your team."
    assert client.get("/api/v1/scorecards/ready").json() == ready


def test_results_filter_by_level_owner_and_failing_rule(client: TestClient) -> None:
    url = "/api/v1/scorecards/ready/results"
    assert names(client.get(url, params={"level": "gold"}).json()) == ["svc-exempt", "svc-gold"]
    assert names(client.get(url, params={"level": "none"}).json()) == ["svc-none"]
    team_b = client.get(url, params={"owner": "team-b"}).json()
    assert names(team_b) == ["svc-bronze", "svc-expired", "svc-none"]
    both = client.get(url, params={"owner": "group:default/team-b", "level": ["silver", "none"]})
    assert names(both.json()) == ["svc-expired", "svc-none"]
    failing = client.get(url, params={"failing": "oncall"}).json()
    assert "svc-exempt" not in names(failing) and failing["total"] == 4


def test_an_entity_result_carries_every_outcome_and_its_exemption(client: TestClient) -> None:
    body = client.get(
        "/api/v1/scorecards/ready/results", params={"level": "silver", "owner": "team-b"}
    ).json()
    (item,) = body["items"]
    assert (item["level"], item["level_index"], item["score"]) == ("silver", 1, 60.0)
    oncall = next(o for o in item["outcomes"] if o["rule"] == "oncall")
    assert oncall["status"] == "fail"
    assert oncall["exemption"]["expired"] is True
    assert oncall["exemption"]["expires"] == "2000-01-31"
    assert oncall["exemption"]["where"].startswith("catalog/svc-expired.yaml:")


def test_paging_walks_every_result_once(client: TestClient) -> None:
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        params: dict[str, str | int] = {"limit": 4}
        if cursor:
            params["cursor"] = cursor
        body = client.get("/api/v1/scorecards/ready/results", params=params).json()
        assert body["total"] == 6
        seen += names(body)
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == 6


def test_bad_parameters_are_400_naming_the_parameter(client: TestClient) -> None:
    url = "/api/v1/scorecards/ready/results"
    level = client.get(url, params={"level": "platinum"})
    assert level.status_code == 400
    assert level.json()["detail"] == (
        "level: 'platinum' is not a level of ready (levels: none, bronze, silver, gold)"
    )
    rule = client.get(url, params={"failing": "uptime"})
    assert rule.status_code == 400
    assert rule.json()["detail"].startswith("failing: 'uptime' is not a rule of ready")
    cursor = client.get(url, params={"cursor": "%%%"})
    assert cursor.status_code == 400
    assert cursor.json()["detail"].startswith("cursor: ")
    limit = client.get(url, params={"limit": 0})
    assert limit.status_code == 422
    assert "limit" in limit.json()["problems"][0]["message"]


def test_unknown_scorecards_and_entities_are_404_saying_what_exists(client: TestClient) -> None:
    for url in (
        "/api/v1/scorecards/nope",
        "/api/v1/scorecards/nope/results",
        "/api/v1/scorecards/nope/history",
    ):
        missing = client.get(url)
        assert missing.status_code == 404
        assert missing.json()["detail"] == "no scorecard 'nope'; scorecards: ready"
    entity = client.get("/api/v1/scorecards/entities/component/default/nope")
    assert entity.status_code == 404
    assert entity.json()["detail"] == "no entity component:default/nope in the catalog"
    history = client.get("/api/v1/scorecards/ready/entities/component/default/nope/history")
    assert history.status_code == 404
    assert history.json()["detail"] == "no entity component:default/nope in the catalog"


def test_one_entity_across_scorecards(client: TestClient) -> None:
    body = client.get("/api/v1/scorecards/entities/component/default/svc-gold").json()
    assert [(r["scorecard"], r["level"]) for r in body["results"]] == [("ready", "gold")]
    group = client.get("/api/v1/scorecards/entities/group/default/team-a").json()
    assert group["results"] == []  # the scorecard applies to components only


def test_history_starts_with_the_startup_run(client: TestClient) -> None:
    body = client.get("/api/v1/scorecards/ready/history").json()
    first = body["runs"][0]
    assert first["trigger"] == "startup"
    assert first["levels"] == {"gold": 2, "silver": 1, "bronze": 2, "none": 1}
    team = client.get("/api/v1/scorecards/ready/history", params={"owner": "team-b"}).json()
    assert team["owner"] == "group:default/team-b"
    assert team["runs"][0]["levels"] == {"silver": 1, "bronze": 1, "none": 1}
    assert team["runs"][0]["entities"] == 3


def test_the_openapi_document_describes_the_scorecard_routes(client: TestClient) -> None:
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    results = paths["/scorecards/{name}/results"]["get"]
    assert {p["name"] for p in results["parameters"]} >= {"level", "owner", "failing", "limit"}
    assert {"400", "404", "503"} <= set(results["responses"])
    assert "/scorecards/{name}/entities/{kind}/{namespace}/{entity}/history" in paths
