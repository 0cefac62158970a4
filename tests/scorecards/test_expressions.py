"""The expression language: what it computes, what it refuses, and that it never runs Python."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from portal.model import Model
from portal.scorecards import EvalContext, EvalError, ExpressionError, compile_expression
from portal.scorecards.results import RuleOutcome
from tests.scorecards.conftest import TODAY, MakeRepo, component


@pytest.fixture
def model(make_repo: MakeRepo) -> Model:
    return make_repo(
        {
            "catalog/a.yaml": component(
                "orders",
                annotations="""\
                    portal.quantum.dev/tier: tier-1
                    portal.quantum.dev/p95-slo-ms: "180"
                """,
                links="""\
                    - {url: https://grafana.example/d/1, type: dashboard}
                    - {url: https://grafana.example/d/2, type: dashboard}
                """,
            ).replace("  description:", "  tags: [java, payments]\n  description:")
        }
    )


def value(model: Model, source: str, outcomes: dict[str, str] | None = None) -> Any:
    entity = next(e for e in model.catalog if e.name == "orders")
    ctx = EvalContext(model, TODAY)
    ctx.outcomes = {
        rule: RuleOutcome(rule, status, "")
        for rule, status in (outcomes or {}).items()  # type: ignore[misc]
    }
    expression = compile_expression(source, rule_ids=["owner", "docs"])
    return expression.value(entity, ctx)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('annotation("portal.quantum.dev/tier") == "tier-1"', True),
        ('metadata.annotations["portal.quantum.dev/tier"] != "tier-1"', False),
        ('int(annotation("portal.quantum.dev/p95-slo-ms")) <= 200', True),
        ('int(annotation("portal.quantum.dev/p95-slo-ms")) > 200', False),
        ('int("12a")', None),
        ('annotation("nope")', None),
        ("metadata.nothing.deeper", None),
        ('links("dashboard") >= 2 and links("alerts") == 0', True),
        ('relations("ownedBy", "group") == 1', True),
        ('relations("ownedBy", "user")', 0),
        ("count(metadata.tags)", 2),
        ("count(metadata.missing)", 0),
        ('"java" in metadata.tags and "go" not in metadata.tags', True),
        ('has_tag("payments")', True),
        ('"ord" in metadata.name', True),
        ('kind == "Component"', True),
        ("spec.lifecycle in ['production', 'experimental']", True),
        ('matches(metadata.name, "^ord.rs$")', True),
        ('startswith(metadata.name, "x")', False),
        ('lower("ABC") == "abc"', True),
        ("not exists(metadata.title)", True),
        ("exists(metadata.description)", True),
        ("docs()", 0),
        ("days_since_review()", None),
        ("true and (false or not false)", True),
        ("1 == true", False),
        ("1.5 > 1", True),
        ("'it\\'s' == \"it's\"", True),
        ("[1, 2] == [1, 2]", True),
        ("null == metadata.title", True),
        ('passed("owner") and not passed("docs")', True),
        ('outcome("docs")', "fail"),
    ],
)
def test_expressions_compute(model: Model, source: str, expected: object) -> None:
    assert value(model, source, {"owner": "exempt", "docs": "fail"}) == expected


@pytest.mark.parametrize(
    ("source", "message", "offset"),
    [
        ('annotation("x") = "y"', "use == to compare (a single = assigns nothing)", 16),
        ('"open', 'the text opened with " is not closed', 0),
        (
            "nope(1)",
            "unknown function 'nope' (known: annotation, count, days_since_review, docs, "
            "exists, has_tag, int, label, links, lower, matches, outcome, passed, relations, "
            "startswith)",
            0,
        ),
        (
            "owner",
            "unknown name 'owner': expected a descriptor path (starting with metadata, "
            "spec, kind or apiVersion) or a function (annotation, count, days_since_review, docs, "
            "exists, has_tag, int, label, links, lower, matches, outcome, passed, relations, "
            "startswith)",
            0,
        ),
        ("count()", "count() takes 1 argument: count(value)", 0),
        ("relations()", 'relations() takes 1 to 2 arguments: relations("type"[, "kind"])', 0),
        ("passed(metadata.name)", 'passed() takes a rule id as quoted text, e.g. passed("...")', 7),
        ('passed("runbok")', "no rule 'runbok' in this scorecard (rules: docs, owner)", 7),
        ("1 < 2 < 3", "comparisons do not chain: write a < b and b < c", 6),
        ("(1 == 1", "expected ')' to close the '(' at character 1, got the end", 7),
        ("1 == 1 1", "unexpected '1' (combine conditions with and/or)", 7),
        ("true and", "expected a value, a path or a function, got the end", 8),
        ("and true", "expected a value before 'and'", 0),
        (
            'matches(metadata.name, "(")',
            "'(' is not a valid regular expression: missing ), "
            "unterminated subpattern at position 0",
            23,
        ),
        (
            "metadata.annotations[x]",
            'expected a quoted key ["key"] or a list index [0] after "["',
            21,
        ),
        ("", 'expected an expression, e.g. passed("owner") and docs() > 0', 0),
        ("(" * 40 + "1" + ")" * 40, "nests more than 32 levels deep", 32),
        ("true or " * 300 + "true", "is 2404 characters long, over 2000", 2000),
    ],
)
def test_bad_expressions_say_what_and_where(source: str, message: str, offset: int) -> None:
    with pytest.raises(ExpressionError) as info:
        compile_expression(source, rule_ids=["owner", "docs"])
    assert (info.value.message, info.value.offset) == (message, offset)


@pytest.mark.parametrize(
    "source",
    [
        "__import__('os').system('touch pwned')",
        "open('pwned', 'w')",
        "eval('1')",
        "exec('import os')",
        "().__class__.__bases__[0].__subclasses__()",
        "lambda: 1",
        "[x for x in metadata.tags]",
        "1 if true else 2",
        "metadata.name.__class__()",
        "getattr(metadata, 'name')",
        "import os",
        "1; __import__('os')",
        "f'{1}'",
        "metadata.name + 'x'",
    ],
)
def test_python_is_never_run(source: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ExpressionError):
        compile_expression(source)
    assert list(tmp_path.iterdir()) == []


def test_dunder_keys_are_only_keys(model: Model) -> None:
    # A path step is a dictionary key, never an attribute of a Python object.
    assert value(model, "metadata.__class__") is None
    assert value(model, "spec.__dict__") is None
    assert value(model, 'metadata["__init__"]') is None


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("metadata.name < 3", "cannot compare 'orders' < 3"),
        ("metadata.title >= 1", "cannot compare not set (null) >= 1"),
        ("count(1)", "cannot count 1: count() needs a list, text or mapping"),
        ("1 in metadata.name", "cannot look for 1 in text"),
        ("1 in 2", "cannot look inside 2: 'in' needs a list, text or mapping"),
    ],
)
def test_values_that_do_not_fit_raise_eval_errors(model: Model, source: str, message: str) -> None:
    with pytest.raises(EvalError) as info:
        value(model, source)
    assert str(info.value) == message


def test_a_false_expression_says_which_part_and_the_values(model: Model) -> None:
    entity = next(e for e in model.catalog if e.name == "orders")
    ctx = EvalContext(model, TODAY)
    expression = compile_expression(
        'links("dashboard") >= 1 and (count(metadata.tags) > 5 or false)'
    )
    assert expression.holds(entity, ctx) == "(count(metadata.tags) > 5 or false) is false"
    expression = compile_expression('links("dashboard") >= 1 and count(metadata.tags) > 5')
    assert expression.holds(entity, ctx) == (
        "count(metadata.tags) > 5 is false (count(metadata.tags) is 2)"
    )
    assert compile_expression('links("dashboard") == 2').holds(entity, ctx) is None
    assert compile_expression("passed('docs') or true", ["docs"]).requires == {"docs"}
