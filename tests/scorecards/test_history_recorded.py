"""History written by the running portal: after start, registration and rebuild, with a
changed rule told apart from a regression on the API and the pages."""

from __future__ import annotations

from pathlib import Path

from starlette.testclient import TestClient

from tests.conftest import component, write_files
from tests.scorecards.web_fixtures import (
    FULL,
    RUNBOOK,
    SCORECARD,
    STRICTER_RULE,
    scorecard_repo,
    service,
    serving,
    settle,
)

MOVING = "services/svc-moving.yaml"
HISTORY = "/api/v1/scorecards/ready/entities/component/default/svc-moving/history"


def runs(client: TestClient) -> list[dict[str, object]]:
    body = client.get("/api/v1/scorecards/ready/history").json()
    return body["runs"]  # type: ignore[no-any-return]


def register(client: TestClient, name: str) -> None:
    response = client.post("/api/v1/entities", json={"descriptor": component(name)})
    assert response.status_code == 201, response.text


def test_a_registration_records_a_run_with_only_what_changed(tmp_path: Path) -> None:
    root = scorecard_repo(tmp_path / "repo")
    with serving(root) as (client, portal):
        (start,) = runs(client)
        assert start["trigger"] == "startup"
        register(client, "svc-new")
        settle(portal)
        later = runs(client)
        assert [r["trigger"] for r in later] == ["startup", "registration"]
        assert later[1]["reason"] == "registered by dev@localhost"
        assert later[1]["entities"] == 7
        assert later[1]["version_changed"] is False
        stored = portal.scorecards.history.runs("scorecard:default/ready")
        # The first run stores every entity; the second only the one registered.
        assert [r.changed for r in stored] == [6, 1]
        point = client.get(
            "/api/v1/scorecards/ready/entities/component/default/svc-new/history"
        ).json()["points"]
        assert [p["present"] for p in point] == [False, True]
        assert point[1]["change"]["kind"] == "new"


def test_a_regression_and_a_stricter_rule_are_told_apart(tmp_path: Path) -> None:
    root = scorecard_repo(tmp_path / "repo")
    write_files(root, {MOVING: service("svc-moving", annotations=FULL)})
    with serving(root) as (client, portal):
        moved = client.post("/api/v1/entities", json={"target": MOVING})
        assert moved.status_code == 201, moved.text
        settle(portal)
        # The team drops its on-call annotation: same rules, a real regression.
        write_files(root, {MOVING: service("svc-moving", annotations={RUNBOOK: "https://r/x"})})
        register(client, "trigger-one")
        settle(portal)
        # Back to gold, then the scorecard adds a gold rule the service does not meet.
        write_files(root, {MOVING: service("svc-moving", annotations=FULL)})
        register(client, "trigger-two")
        settle(portal)
        # Seen once before the rule changes (the page keeps the trend it read) ...
        before = client.get("/catalog/component/default/svc-moving").text
        assert "dropped because a rule changed" not in before
        write_files(root, {"catalog/scorecards/ready.yaml": SCORECARD + STRICTER_RULE})
        register(client, "trigger-three")
        settle(portal)

        points = client.get(HISTORY).json()["points"]
        changes = [(p["level"], p["change"]["kind"]) for p in points if p["change"]]
        assert changes == [
            ("gold", "new"),
            ("silver", "regressed"),
            ("gold", "improved"),
            ("silver", "rule-changed"),
        ]
        regressed, rule_changed = points[2], points[4]
        assert regressed["change"]["failing"] == {"oncall": "regressed"}
        assert regressed["run"]["version_changed"] is False
        assert rule_changed["change"]["failing"] == {"tier": "rule-changed"}
        assert rule_changed["run"]["version_changed"] is True
        assert rule_changed["run"]["version"] != regressed["run"]["version"]
        # The scorecard's trend marks the run where its rules changed.
        assert [r["version_changed"] for r in runs(client)] == [False] * 4 + [True]

        # ... and after it, the trend as the new run left it.
        page = client.get("/catalog/component/default/svc-moving").text
        card = page.split('id="scorecard-ready"')[1].split("</section>")[0]
        assert "rules changed</text>" in card  # the chart's marker at the version change
        assert "gold -&gt; silver: regressed; fails oncall (regressed)" in card
        assert "gold -&gt; silver: dropped because a rule changed; fails tier (rule changed)" in (
            card
        )
        assert 'class="portal-trend-drop"' in card
        overview = client.get("/scorecards/ready").text
        assert "rules changed</text>" in overview


def test_an_ended_exemption_is_its_own_cause(tmp_path: Path) -> None:
    root = scorecard_repo(tmp_path / "repo")
    write_files(
        root,
        {
            MOVING: service(
                "svc-moving", annotations={RUNBOOK: "https://r/x"}, exemption="2999-01-01"
            )
        },
    )
    with serving(root) as (client, portal):
        assert client.post("/api/v1/entities", json={"target": MOVING}).status_code == 201
        settle(portal)
        write_files(
            root,
            {
                MOVING: service(
                    "svc-moving", annotations={RUNBOOK: "https://r/x"}, exemption="2001-01-01"
                )
            },
        )
        register(client, "trigger")
        settle(portal)
        last = client.get(HISTORY).json()["points"][-1]
        assert last["change"]["kind"] == "exemption-ended"
        assert last["change"]["failing"] == {"oncall": "exemption-ended"}


def test_a_background_build_evaluates_again(tmp_path: Path) -> None:
    root = scorecard_repo(tmp_path / "repo")
    with serving(root, rebuild=True) as (client, portal):
        register(client, "svc-built")
        assert portal.builder.wait_idle(300), "the background build did not finish"
        settle(portal)
        triggers = [r["trigger"] for r in runs(client)]
        assert triggers[:2] == ["startup", "registration"]
        assert triggers[-1] == "build", portal.build_states()
        assert "built " in str(runs(client)[-1]["reason"])
