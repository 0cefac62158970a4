"""Scorecard pages and exports through the real app: list, overview, team, entity card, exports."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from portal.web.runtime import Portal
from tests.conftest import write_files
from tests.scorecards.web_fixtures import SCORECARD, scorecard_repo, serving


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> tuple[TestClient, Portal]:
    root = scorecard_repo(tmp_path_factory.mktemp("pages") / "repo")
    with serving(root) as pair:
        yield pair  # type: ignore[misc]


@pytest.fixture(scope="module")
def client(served: tuple[TestClient, Portal]) -> TestClient:
    return served[0]


def test_the_list_names_each_scorecard_with_its_levels(client: TestClient) -> None:
    page = client.get("/scorecards")
    assert page.status_code == 200
    assert '<a href="/scorecards/ready">Ready for production</a>' in page.text
    # gold 2, silver 1, bronze 2, below bronze 1
    text = re.sub(r"<[^>]+>", "", page.text)
    assert re.search(r"gold\s+2", text) and re.search(r"no level\s+1", text)


def test_the_overview_shows_levels_heatmap_failing_rules_and_a_trend(client: TestClient) -> None:
    page = client.get("/scorecards/ready")
    assert page.status_code == 200
    html = page.text
    heatmap = html.split('id="heatmap"')[1].split('id="failing"')[0]
    assert 'href="/scorecards/ready/owners/group/default/team-b"' in heatmap
    # Cells: no level, bronze, silver, gold, then the total.
    team_b = heatmap.split("team-b</a>")[1].split("</tr>")[0]
    assert re.findall(r">(\d+)</(?:a|td)>", team_b) == ["1", "1", "1", "0", "3"]
    team_a = heatmap.split("team-a</a>")[1].split("</tr>")[0]
    assert re.findall(r">(\d+)</(?:a|td)>", team_a) == ["0", "1", "0", "2", "3"]
    failing = html.split('id="failing"')[1].split('id="entities"')[0]
    # oncall fails on 4 (svc-exempt is exempt, not failing), runbook on 3, description on 1.
    rows = re.findall(r"failing=(\w+)\">[^<]+</a>.*?<td>(\d+)</td>", failing, re.S)
    assert rows == [("oncall", "4"), ("runbook", "3"), ("description", "1")]
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="portal-trend"' in html
    assert "<script" not in html  # the chart is drawn on the server


def test_the_overview_filters_its_entity_list(client: TestClient) -> None:
    page = client.get("/scorecards/ready", params={"level": "gold"})
    table = page.text.split('id="entities"')[1].split('id="rules"')[0]
    assert "svc-gold" in table and "svc-exempt" in table
    assert "svc-bronze" not in table
    bad = client.get("/scorecards/ready", params={"level": "platinum"})
    assert bad.status_code == 400
    assert "level: &#39;platinum&#39; is not a level of ready" in bad.text


def test_unknown_scorecards_and_owners_are_404_with_a_suggestion(client: TestClient) -> None:
    missing = client.get("/scorecards/reddy")
    assert missing.status_code == 404
    assert "There is no scorecard called “reddy”." in missing.text
    assert 'href="/scorecards/ready"' in missing.text
    nobody = client.get("/scorecards/ready/owners/group/default/team-z")
    assert nobody.status_code == 404
    assert "group:default/team-z owns no entity that Ready for production applies to" in (
        nobody.text
    )


def test_a_team_page_lists_its_entities_and_what_to_fix(client: TestClient) -> None:
    page = client.get("/scorecards/ready/owners/group/default/team-b")
    assert page.status_code == 200
    entities = page.text.split('id="entities"')[1].split('id="fix"')[0]
    assert {"svc-expired", "svc-bronze", "svc-none"} <= set(re.findall(r"svc-\w+", entities))
    assert "svc-gold" not in page.text
    fixes = page.text.split('id="fix"')[1]
    assert "Add the <code>example.com/oncall</code> annotation." in fixes
    assert 'class="portal-trend"' in page.text


def test_the_entity_card_shows_every_rule_the_fix_and_the_exemption(client: TestClient) -> None:
    page = client.get("/catalog/component/default/svc-exempt")
    assert page.status_code == 200
    card = page.text.split('id="scorecard-ready"')[1].split("</section>")[0]
    assert card.count('class="portal-rule ') == 4
    assert "<strong>Exempt</strong> until 2999-12-31" in card
    assert "On-call for svc-exempt starts with the new rota." in card
    assert "group:default/sre" in card
    assert 'class="portal-trend"' in card


def test_an_expired_exemption_shows_as_expired_and_the_rule_fails(client: TestClient) -> None:
    card = client.get("/catalog/component/default/svc-expired").text.split('id="scorecard-ready"')[
        1
    ]
    oncall = card.split("Names its on-call rotation")[1].split("</tr>")[0]
    assert "portal-status--fail" in oncall
    assert "exemption expired" in oncall
    assert "<strong>Expired exemption</strong> (ended 2000-01-31" in oncall


def test_the_fix_is_markdown_rendered_and_its_html_escaped(client: TestClient) -> None:
    card = client.get("/catalog/component/default/svc-bronze").text
    runbook = card.split("Names its runbook")[1].split("</tr>")[0]
    assert "Add the <strong>runbook</strong> annotation" in runbook
    assert "<code>example.com/runbook: https://runbooks/x</code>" in runbook
    assert "&lt;script&gt;alert" in runbook
    assert "<script>" not in runbook
    assert "javascript:" not in runbook
    # A docs link leads to the page in a site; one to no page keeps its text only.
    assert '<a href="/docs/staff/ops/escalation/#who">escalation</a>' in runbook
    assert "not <a>this</a>" in runbook


def test_a_team_entity_page_rolls_up_its_entities(client: TestClient) -> None:
    page = client.get("/catalog/group/default/team-b")
    assert 'href="/scorecards/ready/owners/group/default/team-b"' in page.text


def test_the_csv_export_parses_and_has_a_column_per_rule(client: TestClient) -> None:
    response = client.get("/scorecards/ready/results.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = {row["entity"]: row for row in csv.DictReader(io.StringIO(response.text))}
    assert len(rows) == 6
    expired = rows["component:default/svc-expired"]
    assert (expired["level"], expired["oncall"], expired["failing"]) == ("silver", "fail", "oncall")
    assert rows["component:default/svc-exempt"]["oncall"] == "exempt"
    assert rows["component:default/svc-none"]["level"] == "none"
    filtered = client.get("/scorecards/ready/results.csv", params={"owner": "team-b"})
    assert len(list(csv.DictReader(io.StringIO(filtered.text)))) == 3


def test_the_json_export_is_the_api_answer_without_paging(client: TestClient) -> None:
    exported = client.get("/scorecards/ready/results.json", params={"level": ["gold", "none"]})
    assert exported.status_code == 200
    api = client.get(
        "/api/v1/scorecards/ready/results", params={"level": ["gold", "none"], "limit": 500}
    )
    assert exported.json() == api.json()
    assert exported.json()["total"] == 3
    bad = client.get("/scorecards/ready/results.json", params={"owner": "Not A Ref!"})
    assert bad.status_code == 400
    assert bad.json()["detail"].startswith("owner: ")


def test_pages_hold_the_content_security_policy(client: TestClient) -> None:
    for url in ("/scorecards", "/scorecards/ready", "/catalog/component/default/svc-gold"):
        response = client.get(url)
        assert "script-src 'self'" in response.headers["content-security-policy"]
        assert "<script" not in response.text
        assert " on" + "click=" not in response.text


def test_metrics_count_entities_per_scorecard_and_level(client: TestClient) -> None:
    body = client.get("/metrics").text
    assert 'portal_scorecard_entities{level="gold",scorecard="ready"} 2.0' in body
    assert 'portal_scorecard_entities{level="none",scorecard="ready"} 1.0' in body


def test_pages_say_so_while_nothing_is_evaluated_yet(tmp_path: Path) -> None:
    root = scorecard_repo(tmp_path / "repo")
    with serving(root) as (client, portal):
        portal.scorecards.current = None  # as between start-up and the first evaluation
        page = client.get("/scorecards/ready")
        assert page.status_code == 503
        assert "Scorecards are being evaluated" in page.text
        api = client.get("/api/v1/scorecards")
        assert api.status_code == 503
        assert "being evaluated" in api.json()["detail"]
        card = client.get("/catalog/component/default/svc-gold")
        assert card.status_code == 200
        assert "Scorecards are being evaluated" in card.text


def test_a_scorecard_with_errors_is_listed_with_them_and_not_evaluated(tmp_path: Path) -> None:
    root = scorecard_repo(tmp_path / "repo")
    broken = SCORECARD.replace("name: ready", "name: broken").replace(
        "type: relation-count", "type: relation-cuont"
    )
    write_files(root, {"catalog/scorecards/broken.yaml": broken})
    with serving(root) as (client, _portal):
        listing = client.get("/scorecards").text
        assert '<a href="/catalog/scorecard/default/broken">' in listing
        assert "catalog/scorecards/broken.yaml:" in listing
        assert "unknown check type &#39;relation-cuont&#39;" in listing
        page = client.get("/scorecards/broken")
        assert page.status_code == 404
        assert "has errors in its definition" in page.text
        api = client.get("/api/v1/scorecards").json()
        assert api["broken"] == ["scorecard:default/broken"]
        assert [s["name"] for s in api["items"]] == ["ready"]
        missing = client.get("/api/v1/scorecards/broken").json()["detail"]
        assert missing.startswith("no scorecard 'broken' (its definition has errors")
