"""Levels, weighted scores, exemptions in force and expired, and the scorecard's version."""

from __future__ import annotations

from datetime import date

from portal.scorecards import evaluate
from tests.scorecards.conftest import TODAY, MakeRepo, component, problems, scorecard

RULES = """\
- id: owner
  title: Owner
  level: bronze
  weight: 3
  check: {type: relation-count, relation: ownedBy, kind: group}
- id: runbook
  title: Runbook
  level: silver
  weight: 2
  check: {type: field-present, path: 'metadata.annotations["runbook"]'}
- id: dashboard
  title: Dashboard
  level: silver
  check: {type: link-exists, linkType: dashboard}
- id: slo
  title: SLO
  level: gold
  weight: 4
  appliesTo: {annotations: {tier: tier-1}}
  check: {type: field-present, path: 'metadata.annotations["slo"]'}
"""
DASHBOARD = "- {url: 'https://grafana.example/d', type: dashboard}\n"


def levels(model: object, today: date = TODAY) -> dict[str, tuple[str | None, float]]:
    (result,) = evaluate(model, today)  # type: ignore[arg-type]
    return {r.entity.name: (r.level, r.score) for r in result.entities}


def test_levels_need_every_rule_of_the_level_and_below(make_repo: MakeRepo) -> None:
    model = make_repo(
        {
            "catalog/gold.yaml": component(
                "gold", annotations="runbook: x\ntier: tier-1\nslo: '200'\n", links=DASHBOARD
            ),
            # Not tier-1: the gold rule does not apply, so passing silver is gold.
            "catalog/silver-only.yaml": component(
                "silver-only", annotations="runbook: x\n", links=DASHBOARD
            ),
            "catalog/silver.yaml": component(
                "silver", annotations="runbook: x\ntier: tier-1\n", links=DASHBOARD
            ),
            "catalog/bronze.yaml": component("bronze", annotations="runbook: x\n"),
            # Passes silver and gold rules, but not bronze: below every level.
            "catalog/none.yaml": component(
                "none",
                annotations="runbook: x\ntier: tier-1\nslo: '1'\n",
                links=DASHBOARD,
                spec="  type: service\n  lifecycle: production\n  owner: user:jane\n",
            ),
            "catalog/card.yaml": scorecard(RULES),
        }
    )
    assert problems(model) == []
    assert levels(model) == {
        "bronze": ("bronze", 83.33),  # 5 of 6
        "gold": ("gold", 100.0),
        "none": (None, 70.0),  # 7 of 10
        "silver": ("silver", 60.0),  # 6 of 10
        "silver-only": ("gold", 100.0),
    }
    (result,) = evaluate(model, TODAY)
    assert result.by_level() == {None: 1, "bronze": 1, "silver": 1, "gold": 2}
    assert result.failures_by_rule() == {"dashboard": 1, "owner": 1, "slo": 1}
    row = result.result_for(next(e.ref for e in model.catalog if e.name == "silver-only"))
    assert row is not None and row.level_index == 2
    assert [o.status for o in row.outcomes] == ["pass", "pass", "pass", "not-applicable"]
    assert row.outcomes[3].reason == "the rule applies to annotations tier=tier-1"


EXEMPT = """\
portal.quantum.dev/exemptions: |
  - rule: ready/dashboard
    reason: The dashboard moves to the new Grafana in December.
    approver: group:team-a
    expires: 2026-12-31
  - rule: ready/runbook
    reason: Written, under review.
    approver: user:jane
    expires: 2026-10-01
"""


def test_exemptions_count_until_they_expire(make_repo: MakeRepo) -> None:
    model = make_repo(
        {
            "catalog/a.yaml": component("a", annotations=EXEMPT),
            "catalog/card.yaml": scorecard(RULES),
        }
    )
    assert problems(model) == []
    (result,) = evaluate(model, TODAY)
    (row,) = result.entities
    dashboard, runbook = row.outcome("dashboard"), row.outcome("runbook")
    assert dashboard is not None and runbook is not None
    assert (dashboard.status, dashboard.reason, dashboard.expired) == (
        "exempt",
        "no link of type 'dashboard' (no typed links)",
        False,
    )
    assert dashboard.exemption is not None
    assert (dashboard.exemption.approver, dashboard.exemption.expires) == (
        "group:team-a",
        date(2026, 12, 31),
    )
    assert dashboard.exemption.where == "catalog/a.yaml:8"
    assert (runbook.status, runbook.expired) == ("fail", True)
    assert runbook.exemption is not None and runbook.exemption.reason == "Written, under review."
    assert row.level == "bronze"  # the expired exemption no longer counts
    # The day of expiry still counts; the day after does not.
    assert levels(model, date(2026, 12, 31)) == {"a": ("bronze", 66.67)}
    after = evaluate(model, date(2027, 1, 1))[0].entities[0].outcome("dashboard")
    assert after is not None and (after.status, after.expired) == ("fail", True)
    # Before the runbook exemption expired, both exemptions counted: gold.
    assert levels(model, date(2026, 9, 1)) == {"a": ("gold", 100.0)}


def test_an_exemption_of_a_passing_rule_shows_but_changes_nothing(make_repo: MakeRepo) -> None:
    model = make_repo(
        {
            "catalog/a.yaml": component("a", annotations=EXEMPT + "runbook: here\n"),
            "catalog/card.yaml": scorecard(RULES),
        }
    )
    runbook = evaluate(model, TODAY)[0].entities[0].outcome("runbook")
    assert runbook is not None
    assert (runbook.status, runbook.expired) == ("pass", True)
    assert runbook.exemption is not None


def test_version_changes_with_what_decides_results_only(make_repo: MakeRepo) -> None:
    base = make_repo({"catalog/card.yaml": scorecard(RULES)}).scorecards[0].version
    reworded = RULES.replace("title: Runbook", "title: Has a runbook")
    assert make_repo({"catalog/card.yaml": scorecard(reworded)}).scorecards[0].version == base
    heavier = RULES.replace("weight: 2", "weight: 5")
    assert make_repo({"catalog/card.yaml": scorecard(heavier)}).scorecards[0].version != base
    stricter = RULES.replace("level: silver\n  weight: 2", "level: bronze\n  weight: 2")
    assert make_repo({"catalog/card.yaml": scorecard(stricter)}).scorecards[0].version != base
    assert len(base) == 12


def test_evaluation_is_limited_to_the_entities_asked(make_repo: MakeRepo) -> None:
    model = make_repo(
        {
            "catalog/a.yaml": component("a"),
            "catalog/b.yaml": component("b"),
            "catalog/card.yaml": scorecard(RULES),
        }
    )
    ref = next(e.ref for e in model.catalog if e.name == "b")
    (result,) = evaluate(model, TODAY, entities=[ref])
    assert [r.entity.name for r in result.entities] == ["b"]
    # The scorecard itself, groups and users are not components: never evaluated here.
    (everything,) = evaluate(model, TODAY)
    assert sorted(r.entity.name for r in everything.entities) == ["a", "b"]
