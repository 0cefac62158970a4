"""Every built-in check type, and the example plugin's, on real catalog files: pass and fail."""

from __future__ import annotations

from portal.model import Model
from portal.scorecards import evaluate
from tests.scorecards.conftest import TODAY, MakeRepo, component, problems, scorecard

OPENAPI_OK = """\
apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: orders-api
spec:
  type: openapi
  lifecycle: production
  owner: team-a
  definition: |
    openapi: 3.0.3
    info: {title: Orders, version: "1"}
    paths: {}
"""
OPENAPI_BAD = OPENAPI_OK.replace("orders-api", "broken-api").replace(
    "    paths: {}\n", "    paths: []\n"
)


def outcomes(model: Model, name: str, card: str = "ready") -> dict[str, tuple[str, str]]:
    """rule -> (status, reason) of one component on one scorecard."""
    (result,) = [r for r in evaluate(model, TODAY) if r.scorecard.name == card]
    row = next(r for r in result.entities if r.entity.name == name)
    return {o.rule: (o.status, o.reason) for o in row.outcomes}


def test_field_checks(make_repo: MakeRepo) -> None:
    rules = """\
        - id: runbook
          title: Runbook
          level: bronze
          check: {type: field-present, path: 'metadata.annotations["portal.dev/runbook"]'}
        - id: tier
          title: Tier
          level: bronze
          check: {type: field-equals, path: 'metadata.annotations["tier"]', values: [t1, t2]}
        - id: slo
          title: SLO
          level: bronze
          check: {type: field-equals, path: 'metadata.annotations["slo"]', value: 200}
        - id: health
          title: Health
          level: bronze
          check: {type: field-matches, path: 'metadata.annotations["health"]', pattern: ^/}
        - id: first-api
          title: First API
          level: bronze
          check: {type: field-present, path: 'spec.providesApis[0]'}
    """
    good = component(
        "good",
        annotations='portal.dev/runbook: https://rb\ntier: t2\nslo: "200"\nhealth: /healthz\n',
        spec="  type: service\n  lifecycle: production\n  owner: team-a\n"
        "  providesApis: [orders-api]\n",
    )
    bad = component("bad", annotations='portal.dev/runbook: ""\ntier: t9\nhealth: healthz\n')
    model = make_repo(
        {
            "catalog/good.yaml": good,
            "catalog/bad.yaml": bad,
            "catalog/api.yaml": OPENAPI_OK,
            "catalog/card.yaml": scorecard(rules),
        }
    )
    assert problems(model) == []
    assert outcomes(model, "good") == {
        "runbook": ("pass", "metadata.annotations['portal.dev/runbook'] is set"),
        "tier": ("pass", "metadata.annotations.tier is one of 't1', 't2'"),
        "slo": (
            "fail",
            "metadata.annotations.slo is '200', not 200 (text and numbers differ: quote "
            "the value in the scorecard or the entity)",
        ),
        "health": ("pass", "metadata.annotations.health matches '^/'"),
        "first-api": ("pass", "spec.providesApis[0] is set"),
    }
    assert outcomes(model, "bad") == {
        "runbook": ("fail", "metadata.annotations['portal.dev/runbook'] is empty"),
        "tier": ("fail", "metadata.annotations.tier is 't9', not one of 't1', 't2'"),
        "slo": ("fail", "metadata.annotations.slo is not set"),
        "health": (
            "fail",
            "metadata.annotations.health is 'healthz', which does not match '^/'",
        ),
        "first-api": ("fail", "spec.providesApis is not set"),
    }


def test_relation_count(make_repo: MakeRepo) -> None:
    rules = """\
        - id: team-owner
          title: Team
          level: bronze
          check: {type: relation-count, relation: ownedBy, kind: group}
        - id: one-api
          title: One API
          level: bronze
          check: {type: relation-count, relation: providesApi, min: 1, max: 1}
    """
    model = make_repo(
        {
            "catalog/a.yaml": component(
                "a",
                spec="  type: service\n  lifecycle: production\n  owner: team-a\n"
                "  providesApis: [orders-api]\n",
            ),
            "catalog/b.yaml": component(
                "b",
                spec="  type: service\n  lifecycle: production\n  owner: user:jane\n"
                "  providesApis: [orders-api, ghost-api]\n",
            ),
            "catalog/api.yaml": OPENAPI_OK,
            "catalog/card.yaml": scorecard(rules),
        }
    )
    assert outcomes(model, "a") == {
        "team-owner": ("pass", "ownedBy: at least 1 existing group"),
        "one-api": ("pass", "providesApi: 1 to 1 existing entity"),
    }
    assert outcomes(model, "b") == {
        "team-owner": (
            "fail",
            "ownedBy: 0 existing groups, needs at least 1 (user:default/jane is a user)",
        ),
        # ghost-api is missing (portal validate warns about it); orders-api counts.
        "one-api": ("pass", "providesApi: 1 to 1 existing entity"),
    }


def test_link_exists(make_repo: MakeRepo) -> None:
    rules = """\
        - id: runbook-link
          title: Runbook link
          level: bronze
          check: {type: link-exists, linkType: runbook, url: ^https://runbooks\\.}
        - id: dashboards
          title: Two dashboards
          level: bronze
          check: {type: link-exists, linkType: dashboard, min: 2}
    """
    links_a = (
        "- {url: 'https://runbooks.example/a', type: runbook}\n"
        "- {url: 'https://grafana.example/1', type: dashboard}\n"
    )
    links_b = "- {url: 'https://wiki.example/a', type: runbook}\n"
    model = make_repo(
        {
            "catalog/a.yaml": component("a", links=links_a),
            "catalog/b.yaml": component("b", links=links_b),
            "catalog/c.yaml": component("c"),
            "catalog/card.yaml": scorecard(rules),
        }
    )
    assert outcomes(model, "a") == {
        "runbook-link": (
            "pass",
            "at least 1 link of type 'runbook' with a URL matching '^https://runbooks\\\\.'",
        ),
        "dashboards": ("fail", "1 link of type 'dashboard', needs 2"),
    }
    assert outcomes(model, "b")["runbook-link"] == (
        "fail",
        "1 link of type 'runbook', but 0 URLs matching '^https://runbooks\\\\.', needs 1",
    )
    assert outcomes(model, "b")["dashboards"] == (
        "fail",
        "no link of type 'dashboard' (link types: runbook)",
    )
    assert outcomes(model, "c")["dashboards"] == (
        "fail",
        "no link of type 'dashboard' (no typed links)",
    )


DOC = """\
---
title: {title}
audience: [staff]
owner: {owner}
reviewed: {reviewed}
tags: [{tags}]
---

# {title}
"""


def test_docs_exist_and_reviewed(make_repo: MakeRepo) -> None:
    rules = """\
        - id: docs
          title: Docs
          level: bronze
          check: {type: docs-exist}
        - id: reviewed
          title: Reviewed
          level: silver
          check: {type: docs-reviewed, days: 90}
    """
    own = component("own", annotations="backstage.io/techdocs-ref: dir:./own\n")
    model = make_repo(
        {
            "catalog/own.yaml": own,
            "catalog/own/docs/index.md": DOC.format(
                title="Own", owner="group:default/team-a", reviewed="2026-01-02", tags="x"
            ),
            "catalog/tagged.yaml": component("tagged"),
            "docs/tagged.md": DOC.format(
                title="Tagged", owner="group:default/team-a", reviewed="2026-11-01", tags="tagged"
            ),
            "catalog/stranger.yaml": component("stranger"),
            "docs/stranger.md": DOC.format(
                title="Stranger", owner="user:default/jane", reviewed="2026-11-01", tags="stranger"
            ),
            "catalog/card.yaml": scorecard(rules),
        }
    )
    assert problems(model) == []
    assert outcomes(model, "own") == {
        "docs": ("pass", "at least 1 doc page"),
        "reviewed": (
            "fail",
            "not reviewed within 90 days: catalog/own/docs/index.md was reviewed 2026-01-02 "
            "(328 days ago)",
        ),
    }
    assert outcomes(model, "tagged") == {
        "docs": ("pass", "at least 1 doc page"),
        "reviewed": ("pass", "every doc page reviewed within 90 days"),
    }
    note = (
        "no docs: no backstage.io/techdocs-ref docs folder, and no page in docs/ tagged "
        "'stranger' and owned by group:default/team-a (docs/stranger.md is tagged 'stranger' "
        "but owned by user:default/jane)"
    )
    assert outcomes(model, "stranger") == {"docs": ("fail", note), "reviewed": ("fail", note)}


def test_api_valid(make_repo: MakeRepo) -> None:
    rules = """\
        - id: api
          title: API valid
          level: bronze
          check: {type: api-valid}
    """
    provider = component(
        "provider",
        spec="  type: service\n  lifecycle: production\n  owner: team-a\n"
        "  providesApis: [orders-api, broken-api]\n",
    )
    model = make_repo(
        {
            "catalog/provider.yaml": provider,
            "catalog/none.yaml": component("none"),
            "catalog/api.yaml": OPENAPI_OK,
            "catalog/broken.yaml": OPENAPI_BAD,
            "catalog/card.yaml": scorecard(rules, applies="{kind: [Component, API]}"),
        }
    )
    results = {
        r.entity.name: (r.outcomes[0].status, r.outcomes[0].reason)
        for r in evaluate(model, TODAY)[0].entities
    }
    assert results["orders-api"] == ("pass", "its API definitions are valid")
    status, reason = results["broken-api"]
    assert status == "fail" and reason.startswith("api:default/broken-api: paths: ")
    assert results["provider"] == (status, reason)
    assert results["none"] == ("fail", "provides 0 APIs (spec.providesApis), needs 1")


def test_expression_check_and_rule_references(make_repo: MakeRepo) -> None:
    rules = """\
        - id: tier
          title: Tier
          level: bronze
          check: {type: field-present, path: 'metadata.annotations["tier"]'}
        - id: slo
          title: SLO when tier-1
          level: silver
          check:
            type: expression
            expr: >-
              not passed("tier") or annotation("tier") != "tier-1"
              or int(annotation("slo")) <= 200
    """
    model = make_repo(
        {
            "catalog/a.yaml": component("a", annotations='tier: tier-1\nslo: "300"\n'),
            "catalog/b.yaml": component("b", annotations='tier: tier-1\nslo: "fast"\n'),
            "catalog/c.yaml": component("c"),
            "catalog/card.yaml": scorecard(rules),
        }
    )
    assert outcomes(model, "a")["slo"] == (
        "fail",
        'not passed("tier") or annotation("tier") != "tier-1" or int(annotation("slo")) <= 200 '
        "is false",
    )
    assert outcomes(model, "b")["slo"] == ("fail", "cannot compare not set (null) <= 200")
    assert outcomes(model, "c")["slo"][0] == "pass"


def test_plugin_check_type(make_repo: MakeRepo) -> None:
    rules = """\
        - id: secrets
          title: Secrets in Key Vault
          level: bronze
          check: {type: key-vault-secret, vaults: [kv-prod]}
    """
    model = make_repo(
        {
            "catalog/a.yaml": component(
                "a", annotations="portal.quantum.dev/secrets: kv://kv-prod/a\n"
            ),
            "catalog/b.yaml": component(
                "b", annotations="portal.quantum.dev/secrets: kv://kv-dev/b\n"
            ),
            "catalog/c.yaml": component("c"),
            "catalog/card.yaml": scorecard(rules),
        },
        plugins=True,
    )
    assert problems(model) == []
    assert outcomes(model, "a")["secrets"] == (
        "pass",
        "secrets are referenced in Azure Key Vault in kv-prod",
    )
    assert outcomes(model, "b")["secrets"] == (
        "fail",
        "portal.quantum.dev/secrets names vault 'kv-dev', not one of ours (kv-prod)",
    )
    assert outcomes(model, "c")["secrets"][1].startswith("names no secrets")


def test_a_check_that_raises_fails_the_rule_not_the_run(make_repo: MakeRepo) -> None:
    plugin = """
from portal.hookspecs import hookimpl
from portal.scorecards import Check, CheckType

def _compile(options):
    def run(entity, ctx):
        if entity.name == "b":
            raise KeyError("boom")
        return None
    return Check(run, "never raises for a")

@hookimpl
def portal_scorecard_checks():
    return [CheckType("fragile", "Raises on b.", {}, _compile)]
"""
    rules = """\
        - id: fragile
          title: Fragile
          level: bronze
          check: {type: fragile}
    """
    model = make_repo(
        {
            "plugins/fragile.py": plugin,
            "catalog/a.yaml": component("a"),
            "catalog/b.yaml": component("b"),
            "catalog/card.yaml": scorecard(rules),
        }
    )
    assert outcomes(model, "a")["fragile"][0] == "pass"
    assert outcomes(model, "b")["fragile"] == (
        "fail",
        "the fragile check failed on this entity: KeyError: 'boom'",
    )
