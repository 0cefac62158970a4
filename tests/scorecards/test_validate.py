"""Bad scorecards and bad exemptions: portal validate names the file, line and what is valid."""

from __future__ import annotations

from tests.scorecards.conftest import MakeRepo, component, problems, scorecard

CHECK_TYPES = (
    "api-valid, docs-exist, docs-reviewed, expression, field-equals, field-matches, "
    "field-present, link-exists, relation-count"
)
BAD_RULES = """\
- id: owner
  title: Owner
  level: bronze
  check: {type: relation-cnt, relation: ownedBy}
- id: runbook
  title: Runbook
  level: platinum
  check: {type: field-present, path: 'metdata.annotations["runbook"]'}
- id: a
  title: A
  level: bronze
  check: {type: expression, expr: 'passed("a") and'}
- id: c
  title: C
  level: silver
  weight: -1
  check: {type: link-exists, linkType: runbook, colour: red}
- id: c
  level: gold
  appliesTo: {owner: 'team a', lifecyle: production}
  check: {type: field-matches, path: metadata.name, pattern: '('}
- id: Bad_Id
  title: x
  level: gold
  check: {type: docs-exist}
- id: d
  title: D
  level: gold
  check: field-present
  fixtures: {pass: [1], maybe: []}
- id: e
  title: E
  level: gold
  check: {type: relation-count, relation: owns, min: -2}
- id: f
  title: F
  level: gold
"""


def test_every_bad_rule_is_reported_at_its_line(make_repo: MakeRepo) -> None:
    model = make_repo({"catalog/card.yaml": scorecard(BAD_RULES)})
    assert model.scorecards == []  # a scorecard with errors is never evaluated
    assert problems(model) == [
        "catalog/card.yaml:16:21: error: spec.rules[0].check.type: unknown check type "
        f"'relation-cnt' (did you mean 'relation-count'? known: {CHECK_TYPES})",
        "catalog/card.yaml:19:14: error: spec.rules[1].level: 'platinum' is not a level of "
        "this scorecard (levels: bronze, silver, gold)",
        "catalog/card.yaml:20:42: error: spec.rules[1].check.path: "
        "'metdata.annotations[\"runbook\"]': 'metdata' is not a top-level key of a descriptor "
        "(expected apiVersion, kind, metadata, spec) (at character 1)",
        "catalog/card.yaml:24:39: error: spec.rules[2].check.expr: expected a value, a path or "
        "a function, got the end (at character 16)",
        "catalog/card.yaml:28:15: error: spec.rules[3].weight: expected a positive number "
        "(default 1), got -1",
        "catalog/card.yaml:29:53: error: spec.rules[3].check.colour: unknown key 'colour' "
        "(expected type, linkType, url, min)",
        "catalog/card.yaml:30:7: error: spec.rules[4]: title is required: text saying what the "
        "rule asks",
        "catalog/card.yaml:30:11: error: spec.rules[4].id: rule id 'c' is used twice in this "
        "scorecard",
        "catalog/card.yaml:32:26: error: spec.rules[4].appliesTo.owner: 'team a' is not a "
        "valid entity ref: it has an invalid name 'team a' (1-63 characters: letters and "
        "digits, with - _ . allowed between them)",
        "catalog/card.yaml:32:46: error: spec.rules[4].appliesTo.lifecyle: unknown key "
        "'lifecyle' (did you mean 'lifecycle'? expected kind, type, lifecycle, tags, system, "
        "owner, annotations, labels)",
        "catalog/card.yaml:33:66: error: spec.rules[4].check.pattern: '(' is not a valid "
        "regular expression: missing ), unterminated subpattern at position 0",
        "catalog/card.yaml:34:11: error: spec.rules[5].id: expected a lowercase id such as "
        "runbook-link, got 'Bad_Id'",
        "catalog/card.yaml:41:14: error: spec.rules[6].check: expected a mapping with a type "
        f"(one of {CHECK_TYPES}), got 'field-present'",
        "catalog/card.yaml:42:17: error: spec.rules[6].fixtures: expected a mapping with pass "
        "and/or fail, each a list of entity descriptors",
        "catalog/card.yaml:46:47: error: spec.rules[7].check.relation: 'owns' is not a "
        "relation type (known: apiConsumedBy, apiProvidedBy, childOf, consumesApi, "
        "dependencyOf, dependsOn, hasMember, hasPart, memberOf, ownedBy, ownerOf, parentOf, "
        "partOf, providesApi)",
        "catalog/card.yaml:47:7: error: spec.rules[8]: check is required: a mapping with a "
        f"type (one of {CHECK_TYPES})",
    ]


def test_cycles_between_rules_are_refused(make_repo: MakeRepo) -> None:
    model = make_repo({"catalog/card.yaml": scorecard(_CYCLE)})
    assert problems(model) == [
        "catalog/card.yaml:16:14: error: spec.rules[0].check: rules depend on each other in a "
        "cycle: a -> b -> c -> a (a rule cannot need its own result)"
    ]
    assert model.scorecards == []
    itself = "- {id: me, title: Me, level: gold, check: {type: expression, expr: passed('me')}}"
    assert problems(make_repo({"catalog/card.yaml": scorecard(itself)})) == [
        "catalog/card.yaml:13:47: error: spec.rules[0].check: rule 'me' reads its own result "
        "(a cycle of one)"
    ]


_CYCLE = """\
- id: a
  title: A
  level: bronze
  check: {type: expression, expr: 'passed("b")'}
- id: b
  title: B
  level: bronze
  check: {type: expression, expr: 'passed("c") or true'}
- id: c
  title: C
  level: silver
  check: {type: expression, expr: 'outcome("a") == "pass"'}
"""


def test_bad_levels(make_repo: MakeRepo) -> None:
    card = scorecard("- {id: a, title: A, level: bronze, check: {type: docs-exist}}").replace(
        "    - {name: silver, color: silver}\n",
        "    - {name: bronze, color: 'not a colour'}\n    - {colour: red}\n",
    )
    model = make_repo({"catalog/card.yaml": card})
    assert problems(model) == [
        "catalog/card.yaml:10:14: error: spec.levels[1].name: level 'bronze' is defined twice",
        "catalog/card.yaml:10:29: error: spec.levels[1].color: expected a CSS colour such as "
        "'#c0c0c0' or silver, got 'not a colour'",
        "catalog/card.yaml:11:7: error: spec.levels[2]: name is required: a lowercase name "
        "such as silver",
        "catalog/card.yaml:11:8: error: spec.levels[2].colour: unknown key 'colour' (did you "
        "mean 'color'? expected name, color, description)",
    ]
    empty = scorecard("- {id: a, title: A, level: bronze, check: {type: docs-exist}}")
    empty = empty.split("  levels:\n")[0] + "  levels: []\n  rules: []\n"
    assert problems(make_repo({"catalog/card.yaml": empty})) == [
        "catalog/card.yaml:8:11: error: spec.levels: expected a list of levels, lowest first, "
        "each with a name and a color (e.g. - {name: bronze, color: '#b87333'}); got a list",
        "catalog/card.yaml:9:10: error: spec.rules: expected a list of rules, got a list",
    ]


def test_a_plugin_check_reports_its_own_bad_option(make_repo: MakeRepo) -> None:
    rules = "- {id: s, title: S, level: bronze, check: {type: key-vault-secret, vaults: nope}}"
    model = make_repo({"catalog/card.yaml": scorecard(rules)}, plugins=True)
    assert problems(model) == [
        "catalog/card.yaml:13:80: error: spec.rules[0].check.vaults: expected a list of Key "
        "Vault names, e.g. [kv-quantum-prod]"
    ]


def test_the_scorecard_kind_has_its_own_api_version(make_repo: MakeRepo) -> None:
    card = scorecard("- {id: a, title: A, level: bronze, check: {type: docs-exist}}")
    model = make_repo(
        {"catalog/card.yaml": card.replace("portal.quantum.dev/v1", "backstage.io/v1alpha1")}
    )
    assert problems(model) == [
        "catalog/card.yaml:1:13: error: apiVersion: 'backstage.io/v1alpha1' is not an "
        "apiVersion of kind Scorecard (expected portal.quantum.dev/v1)"
    ]


EXEMPTIONS = """\
portal.quantum.dev/exemptions: |
  - rule: ready/docs
    approver: group:team-a
  - rule: ready/docs
    reason: Moving.
    approver: group:team-a
    expires: next week
  - rule: docs
    reason: x
    approver: y
    expires: 2027-01-01
  - rule: nope/docs
    reason: x
    approver: y
    expires: 2027-01-01
  - rule: ready/dcos
    reason: x
    approver: ''
    expires: 2027-01-01
    because: yes
  - just text
"""


def test_bad_exemptions_are_reported_at_their_line(make_repo: MakeRepo) -> None:
    rules = "- {id: docs, title: Docs, level: bronze, check: {type: docs-exist}}"
    model = make_repo(
        {
            "catalog/a.yaml": component("a", annotations=EXEMPTIONS),
            "catalog/b.yaml": component(
                "b", annotations="portal.quantum.dev/exemptions: '{a: ['\n"
            ),
            "catalog/c.yaml": component("c", annotations="portal.quantum.dev/exemptions: none\n"),
            "catalog/card.yaml": scorecard(rules),
        }
    )
    at = "metadata.annotations['portal.quantum.dev/exemptions']"
    assert problems(model) == [
        f"catalog/a.yaml:8: error: {at}: exemption 1: reason is required (why the rule cannot "
        "be met yet, and what will change)",
        f"catalog/a.yaml:8: error: {at}: exemption 1: expires is required (write YYYY-MM-DD; "
        "an exemption must end)",
        f"catalog/a.yaml:13: error: {at}: exemption 2: expires 'next week' is not a date "
        "(write YYYY-MM-DD; an exemption must end)",
        f"catalog/a.yaml:14: error: {at}: exemption 3: rule 'docs' must name its scorecard "
        "too: <scorecard>/<rule-id>, e.g. production-readiness/docs",
        f"catalog/a.yaml:18: error: {at}: exemption 4: no scorecard 'nope' (scorecards: ready)",
        f"catalog/a.yaml:22: error: {at}: exemption 5: no rule 'dcos' in scorecard ready "
        "(rules: docs)",
        f"catalog/a.yaml:24: error: {at}: exemption 5: approver is empty (who agreed, e.g. "
        "group:sre or a person's ref)",
        f"catalog/a.yaml:26: error: {at}: exemption 5: unknown key 'because' (expected rule, "
        "reason, approver, expires)",
        f"catalog/a.yaml:27: error: {at}: exemption 6: expected a mapping of rule, reason, "
        "approver, expires",
        f"catalog/b.yaml:7:36: error: {at}: is not valid YAML: did not find expected node "
        "content while parsing a flow node",
        f"catalog/c.yaml:7:36: error: {at}: expected a YAML list of exemptions, each with "
        "rule, reason, approver and expires; got 'none'",
    ]
