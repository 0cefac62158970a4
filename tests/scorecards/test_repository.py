"""The Quantum platform's own scorecards: clean, tested by their fixtures, and a real spread."""

from __future__ import annotations

from collections import Counter

import pytest

from portal.model import Model, load_model
from portal.scorecards import evaluate, run_fixtures
from portal.settings import Settings
from tests.conftest import REPO
from tests.scorecards.conftest import TODAY


@pytest.fixture(scope="module")
def model() -> Model:
    return load_model(Settings(root=REPO), cache=False)


def test_both_scorecards_load_cleanly(model: Model) -> None:
    assert [p.format() for p in model.report.problems] == []
    assert [s.name for s in model.scorecards] == ["documentation", "production-readiness"]


def test_production_readiness_shows_a_realistic_spread(model: Model) -> None:
    (result,) = evaluate(model, TODAY, scorecards=[model.scorecards[1]])
    levels = {row.entity.name: row.level for row in result.entities}
    # Experimental components are not held to production standards.
    assert "developer-portal" not in levels and "analytics-pipeline" not in levels
    assert len(levels) == 12
    counts = Counter(levels.values())
    assert counts["gold"] >= 1 and counts["silver"] >= 1 and counts["bronze"] >= 1
    assert counts[None] >= 1
    assert counts["gold"] < len(levels) / 2
    assert levels["api-gateway"] == "gold"
    assert levels["job-worker"] == "silver"  # no on-call schedule link yet


def test_exemptions_in_force_and_expired(model: Model) -> None:
    (result,) = evaluate(model, TODAY, scorecards=[model.scorecards[1]])
    rows = {row.entity.name: row for row in result.entities}
    indexer = rows["search-indexer"].outcome("oncall")
    assert indexer is not None and indexer.status == "exempt" and not indexer.expired
    billing = rows["billing-service"].outcome("oncall")
    assert billing is not None and billing.status == "fail" and billing.expired
    assert billing.exemption is not None and billing.exemption.approver == "group:sre"


def test_documentation_spread(model: Model) -> None:
    (result,) = evaluate(model, TODAY, scorecards=[model.scorecards[0]])
    components = [r for r in result.entities if r.entity.kind == "component"]
    assert len(components) == 14
    assert len({r.level for r in components}) >= 3


def test_every_fixture_gives_its_promised_outcome(model: Model) -> None:
    run = run_fixtures(model, TODAY)
    assert [f.format() for f in run.failures] == []
    assert run.fixtures >= 10
