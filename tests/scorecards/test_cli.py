"""``portal scorecard``, ``diff`` and ``test`` as users and CI run them: formats and exit codes."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from portal.cli import cli
from portal.exceptions import PortalError
from tests.conftest import write_files
from tests.scorecards.conftest import MKDOCS, TEAMS, component, scorecard

RULES = """\
- id: owner
  title: Owned by a team
  level: bronze
  check: {type: relation-count, relation: ownedBy, kind: group}
  fixtures:
    pass:
      - spec: {type: service, lifecycle: production, owner: team-a}
    fail:
      - spec: {type: service, lifecycle: production, owner: team-a}
- id: runbook-link
  title: Links its runbook
  fix: 'Add a link with `type: runbook`.'
  level: silver
  check: {type: link-exists, linkType: runbook}
- id: dashboard
  title: Has a dashboard
  level: gold
  check: {type: link-exists, linkType: dashboard}
"""
RUNBOOK = "- {url: 'https://runbooks.example/p', type: runbook}\n"
DASHBOARD = "- {url: 'https://grafana.example/p', type: dashboard}\n"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    write_files(
        tmp_path,
        {
            "mkdocs.yml": MKDOCS,
            "catalog/org.yaml": TEAMS,
            "catalog/payments-api.yaml": component("payments-api", links=RUNBOOK + DASHBOARD),
            "catalog/ledger.yaml": component("ledger", links=RUNBOOK),
            "catalog/card.yaml": scorecard(RULES),
        },
    )
    return tmp_path


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def test_table_is_the_default(repo: Path) -> None:
    result = run("scorecard", "--root", str(repo), "--today", "2026-11-26")
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "ready, version "
        + result.stdout.split("version ")[1].split(",")[0]
        + ", 2 entities: gold 1, silver 1, bronze 0, below bronze 0\n"
        "  ENTITY                  LEVEL   SCORE  FAILING\n"
        "  component:ledger        silver    67%  dashboard\n"
        "  component:payments-api  gold     100%  -\n"
    )


def test_json_csv_and_markdown(repo: Path) -> None:
    data = json.loads(run("scorecard", "--root", str(repo), "--format", "json").stdout)
    (card,) = data["scorecards"]
    assert card["name"] == "ready" and len(card["version"]) == 12
    assert [r["id"] for r in card["rules"]] == ["owner", "runbook-link", "dashboard"]
    ledger = next(e for e in card["entities"] if e["entity"] == "component:default/ledger")
    assert (ledger["level"], ledger["score"]) == ("silver", 66.67)
    assert ledger["outcomes"][2] == {
        "rule": "dashboard",
        "status": "fail",
        "reason": "no link of type 'dashboard' (link types: runbook)",
        "exemption": None,
    }

    rows = list(
        csv.DictReader(io.StringIO(run("scorecard", "--root", str(repo), "--format", "csv").stdout))
    )
    assert len(rows) == 6  # 2 entities x 3 rules
    assert rows[2] | {"version": ""} == {
        "scorecard": "ready", "version": "", "entity": "component:default/ledger",
        "owner": "group:default/team-a", "level": "silver", "score": "66.67", "rule": "dashboard",
        "rule_level": "gold", "status": "fail",
        "reason": "no link of type 'dashboard' (link types: runbook)", "exempt_until": "",
        "approver": "", "exemption_expired": "",
    }  # fmt: skip

    markdown = run("scorecard", "--root", str(repo), "--format", "markdown").stdout
    assert "| `component:ledger` | silver | 66.67% | `dashboard` |" in markdown
    assert "- **fail** `dashboard` (gold): no link of type 'dashboard' (link types: runbook)" in (
        markdown
    )


def test_fail_under_exit_codes(repo: Path) -> None:
    below = run("scorecard", "--root", str(repo), "--fail-under", "gold")
    assert below.exit_code == 1
    assert below.stderr == "component:ledger is silver on ready, below gold\n1 below gold\n"
    assert run("scorecard", "--root", str(repo), "--fail-under", "silver").exit_code == 0
    only = run("scorecard", "--root", str(repo), "--fail-under", "gold", "--entity", "payments-api")
    assert only.exit_code == 0, only.output
    unknown = run("scorecard", "--root", str(repo), "--fail-under", "platinum")
    assert unknown.exit_code == 2
    assert "--fail-under platinum: no selected scorecard has that level (levels: bronze, "
    assert "gold, silver)" in unknown.stderr


def test_entity_shows_every_rule(repo: Path) -> None:
    result = run("scorecard", "--root", str(repo), "--entity", "component:ledger")
    assert result.exit_code == 0
    assert "  component:ledger: silver (66.67%)\n" in result.stdout
    assert (
        "    fail           dashboard     no link of type 'dashboard' (link types: runbook)\n"
        in (result.stdout)
    )
    missing = run("scorecard", "--root", str(repo), "--entity", "nope")
    assert missing.exit_code == 2
    assert "--entity nope: component:default/nope is not in the catalog" in missing.stderr


def test_a_broken_scorecard_fails_the_run(repo: Path) -> None:
    (repo / "catalog" / "card.yaml").write_text(
        scorecard(RULES.replace("level: gold", "level: top"))
    )
    result = run("scorecard", "--root", str(repo))
    assert result.exit_code == 1
    assert result.stdout == "no scorecard applies (none defined, or none selected)\n"
    assert "catalog/card.yaml:29:14: error: spec.rules[2].level: 'top' is not a level" in (
        result.stderr
    )
    named = run("scorecard", "--root", str(repo), "--scorecard", "ready")
    assert named.exit_code == 2
    assert "--scorecard ready: that scorecard has errors (portal validate shows them)" in (
        named.stderr
    )


def test_test_command_runs_fixtures(repo: Path) -> None:
    result = run("scorecard", "test", "--root", str(repo))
    assert result.exit_code == 1
    assert result.stdout == (
        "catalog/card.yaml:21: ready/owner: fail fixture 1: expected to fail, but it passes: "
        "ownedBy: at least 1 existing group\n"
    )
    assert result.stderr == (
        "2 fixtures of 1 rule in 1 scorecard: 1 failed (2 rules have no fixtures)\n"
    )
    fixed = RULES.replace(
        "    fail:\n      - spec: {type: service, lifecycle: production, owner: team-a}",
        "    fail:\n      - spec: {type: service, lifecycle: production, owner: user:jane}",
    )
    (repo / "catalog" / "card.yaml").write_text(scorecard(fixed))
    assert run("scorecard", "test", "--root", str(repo)).exit_code == 0


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=T", "-c", "user.email=t@example.com", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


def test_diff_against_a_base_commit(repo: Path) -> None:
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "base")
    # The change under review: payments-api loses its runbook link, ledger gains a dashboard.
    (repo / "catalog" / "payments-api.yaml").write_text(component("payments-api", links=DASHBOARD))
    (repo / "catalog" / "ledger.yaml").write_text(component("ledger", links=RUNBOOK + DASHBOARD))
    result = run("scorecard", "diff", "--root", str(repo), "--base", "main")
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "## Scorecard changes against `main`\n\n"
        "### `ready`\n\n"
        "| Entity | Level | Score | What changed |\n"
        "|---|---|---:|---|\n"
        "| `component:ledger` | silver → gold | 66.67% → 100% | passes `dashboard` |\n"
        "| `component:payments-api` | gold → bronze ⬇ | 100% → 66.67% | fails `runbook-link`: "
        "no link of type 'runbook' (link types: dashboard) |\n"
    )
    text = run("scorecard", "diff", "--root", str(repo), "--base", "main", "--format", "text")
    assert (
        "ready: component:payments-api: gold -> bronze, fails runbook-link: no link of type "
        "'runbook' (link types: dashboard)\n" in text.stdout
    )
    gate = run("scorecard", "diff", "--root", str(repo), "--base", "main", "--fail-on-regression")
    assert gate.exit_code == 1
    assert gate.stderr.endswith("1 entity dropped a level\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "change")
    same = run("scorecard", "diff", "--root", str(repo), "--base", "HEAD")
    assert same.stdout == "No scorecard changes against `HEAD`.\n"
    stricter = run("scorecard", "diff", "--root", str(repo), "--base", "HEAD~1", "--format", "json")
    changes = json.loads(stricter.stdout)
    assert [e["entity"] for e in changes[0]["entities"]] == [
        "component:default/ledger",
        "component:default/payments-api",
    ]
    bad = run("scorecard", "diff", "--root", str(repo), "--base", "no-such-branch")
    # main() prints a PortalError as "error: ..." and exits 1 (see the subprocess test below).
    assert isinstance(bad.exception, PortalError)
    assert (
        str(bad.exception) == f"--base 'no-such-branch' is not a commit of the repository at {repo}"
    )


def test_the_real_command_exits_1_below_the_level(repo: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "portal", "scorecard", "--root", str(repo), "--fail-under", "gold",
         "--format", "json"],
        capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "HOME": str(repo)},
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout)["scorecards"][0]["name"] == "ready"
    assert done.stderr.endswith("1 below gold\n")
