"""Entity refs and Backstage's naming rules, by example and by property."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.catalog import EntityRef, RefError, parse_ref, rules

NAME_PATTERN = r"([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]"
NAMESPACE_PATTERN = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
KIND_PATTERN = r"[a-zA-Z][a-z0-9A-Z]{0,20}"

names = st.from_regex(rf"\A{NAME_PATTERN}\Z")
namespaces = st.from_regex(rf"\A{NAMESPACE_PATTERN}\Z")
kinds = st.from_regex(rf"\A{KIND_PATTERN}\Z")


@pytest.mark.parametrize(
    ("text", "default_kind", "default_namespace", "expected"),
    [
        ("team-a", "group", "default", "group:default/team-a"),
        ("user:jane.doe", "group", "default", "user:default/jane.doe"),
        ("Component:Shop/Orders", None, "default", "component:shop/orders"),
        ("orders", "component", "shop", "component:shop/orders"),
        ("default/team-a", "group", "shop", "group:default/team-a"),
        ("api:petstore", "component", "default", "api:default/petstore"),
    ],
)
def test_parse_ref_applies_defaults_and_lowercases(
    text: str, default_kind: str | None, default_namespace: str, expected: str
) -> None:
    ref = parse_ref(text, default_kind=default_kind, default_namespace=default_namespace)
    assert str(ref) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "is empty"),
        ("orders", "names no kind, and this field has no default kind"),
        (":orders", "has an empty kind before ':'"),
        ("component:/orders", "has an empty namespace before '/'"),
        ("comp-onent:orders", "has an invalid kind 'comp-onent'"),
        ("component:Bad_NS/orders", "has an invalid namespace 'Bad_NS'"),
        ("component:orders-", "has an invalid name 'orders-'"),
        ("component:a/b/c", "has an invalid name 'b/c'"),
    ],
)
def test_parse_ref_says_why_a_ref_is_invalid(text: str, reason: str) -> None:
    with pytest.raises(RefError) as info:
        parse_ref(text)
    assert info.value.reason.startswith(reason)


def test_parse_ref_refuses_non_strings() -> None:
    with pytest.raises(RefError, match="is not a string"):
        parse_ref(["team-a"])


@given(kinds, namespaces, names)
def test_canonical_form_round_trips(kind: str, namespace: str, name: str) -> None:
    ref = parse_ref(f"{kind}:{namespace}/{name}")
    assert ref == EntityRef(kind.lower(), namespace, name.lower())
    assert parse_ref(str(ref)) == ref
    assert parse_ref(ref.short("component"), default_kind="component") == ref


@given(st.text(max_size=80))
def test_parse_ref_never_fails_any_other_way(text: str) -> None:
    try:
        ref = parse_ref(text, default_kind="group")
    except RefError as exc:
        assert exc.reason
    else:
        assert rules.is_valid_name(ref.name) and rules.is_valid_namespace(ref.namespace)


@given(names)
def test_generated_names_are_valid(name: str) -> None:
    assert rules.is_valid_name(name)


@given(st.text(max_size=100))
def test_name_rule_matches_backstage_regex(text: str) -> None:
    expected = len(text) <= 63 and re.fullmatch(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]", text)
    assert rules.is_valid_name(text) == bool(expected)


@given(st.text(max_size=80))
def test_suggested_names_are_valid(text: str) -> None:
    assert rules.is_valid_name(rules.suggest_slug(text))
    assert rules.is_valid_tag(rules.suggest_slug(text, allowed=":+#"))


@pytest.mark.parametrize(
    ("value", "valid"),
    [("a" * 63, True), ("a" * 64, False), ("-a", False), ("a_b.c-d", True), ("", False)],
)
def test_name_lengths_and_edges(value: str, valid: bool) -> None:
    assert rules.is_valid_name(value) is valid


@pytest.mark.parametrize(
    ("tag", "valid"),
    [
        ("java", True),
        ("c++", True),
        ("c#", True),
        ("go 1.15", False),
        ("Java", False),
        ("a--b", False),
        ("-a", False),
        ("x" * 64, False),
        ("k8s:prod", True),
    ],
)
def test_tags(tag: str, valid: bool) -> None:
    assert rules.is_valid_tag(tag) is valid


@pytest.mark.parametrize(
    ("key", "valid"),
    [
        ("tier", True),
        ("example.com/tier", True),
        ("goVersion", False),
        ("Example.com/tier", False),
        ("example.com/", False),
        ("a/b/c", False),
    ],
)
def test_label_keys(key: str, valid: bool) -> None:
    assert rules.is_valid_label_key(key) is valid


def test_annotation_keys_allow_mixed_case_names() -> None:
    assert rules.is_valid_annotation_key("backstage.io/techdocs-ref")
    assert rules.is_valid_annotation_key("example.com/camelCase")
    assert not rules.is_valid_annotation_key("bad key")
