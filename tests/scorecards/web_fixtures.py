"""A small repository with a scorecard, served by the real portal app (for test_web_* files).

Five components cover every status a page shows: gold outright, gold through an
exemption in force, silver because an exemption expired, bronze, and no level.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from starlette.testclient import TestClient

from portal.web.runtime import Portal
from tests.conftest import write_files
from tests.sites.conftest import small_repo
from tests.web.conftest import client_for, settings_for

RUNBOOK = "example.com/runbook"
ONCALL = "example.com/oncall"

SCORECARD = """\
apiVersion: portal.quantum.dev/v1
kind: Scorecard
metadata:
  name: ready
  title: Ready for production
  description: What a service needs before others depend on it.
spec:
  owner: team-a
  appliesTo: {kind: Component}
  levels:
    - {name: bronze, color: "#b87333"}
    - {name: silver, color: "#8a9597"}
    - {name: gold, color: "#c9a227"}
  rules:
    - id: owner
      title: Has an owner
      fix: Set `spec.owner` to your team.
      level: bronze
      check: {type: relation-count, relation: ownedBy, min: 1}
    - id: description
      title: Describes itself
      fix: Write a sentence in `metadata.description`.
      level: bronze
      check: {type: field-present, path: metadata.description}
    - id: runbook
      title: Names its runbook
      fix: |
        Add the **runbook** annotation, e.g. `example.com/runbook: https://runbooks/x`.
        <script>alert("fix")</script> [bad](javascript:alert(1))
        See [escalation](../ops/escalation.md#who), not [this](../nope/missing.md).
      level: silver
      check: {type: field-present, path: 'metadata.annotations["example.com/runbook"]'}
    - id: oncall
      title: Names its on-call rotation
      fix: Add the `example.com/oncall` annotation.
      level: gold
      weight: 2
      check: {type: field-present, path: 'metadata.annotations["example.com/oncall"]'}
"""

STRICTER_RULE = """\
    - id: tier
      title: Declares its tier
      fix: Add `example.com/tier`.
      level: gold
      check: {type: field-present, path: 'metadata.annotations["example.com/tier"]'}
"""

TEAM_B = """\
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: team-b
spec:
  type: team
  children: []
"""


def service(
    name: str,
    owner: str = "team-a",
    *,
    description: bool = True,
    annotations: dict[str, str] | None = None,
    exemption: str | None = None,
) -> str:
    """A Component descriptor; ``exemption`` is the expiry date of one for ready/oncall."""
    lines = ["apiVersion: backstage.io/v1alpha1", "kind: Component", "metadata:", f"  name: {name}"]
    if description:
        lines.append(f"  description: The {name} service.")
    notes = dict(annotations or {})
    if notes or exemption:
        lines.append("  annotations:")
        for key, value in notes.items():
            lines.append(f"    {key}: {value}")
        if exemption:
            lines += [
                "    portal.quantum.dev/exemptions: |",
                "      - rule: ready/oncall",
                f"        reason: On-call for {name} starts with the new rota.",
                "        approver: group:default/sre",
                f"        expires: {exemption}",
            ]
    lines += ["spec:", "  type: service", "  lifecycle: production", f"  owner: {owner}", ""]
    return "\n".join(lines)


FULL = {RUNBOOK: "https://runbooks/x", ONCALL: "https://oncall/x"}


def scorecard_repo(root: Path) -> Path:
    small_repo(root)
    write_files(
        root,
        {
            "catalog/scorecards/ready.yaml": SCORECARD,
            "catalog/team-b.yaml": TEAM_B,
            "catalog/svc-gold.yaml": service("svc-gold", annotations=FULL),
            "catalog/svc-exempt.yaml": service(
                "svc-exempt", annotations={RUNBOOK: "https://runbooks/e"}, exemption="2999-12-31"
            ),
            "catalog/svc-expired.yaml": service(
                "svc-expired",
                "team-b",
                annotations={RUNBOOK: "https://runbooks/o"},
                exemption="2000-01-31",
            ),
            "catalog/svc-bronze.yaml": service("svc-bronze", "team-b"),
            "catalog/svc-none.yaml": service("svc-none", "team-b", description=False),
        },
    )
    return root


@contextmanager
def serving(
    root: Path, *, rebuild: bool = False, **settings: object
) -> Iterator[tuple[TestClient, Portal]]:
    """The real app on ``root``, once its start-up evaluation is done."""
    client, portal = client_for(settings_for(root, **settings), rebuild=rebuild)
    with client:
        settle(portal)
        yield client, portal


def settle(portal: Portal) -> None:
    """Wait for the evaluation the last change asked for."""
    assert portal.scorecards.wait_idle(120), "the scorecard evaluation did not finish"
    assert portal.scorecards.failure is None, portal.scorecards.failure
