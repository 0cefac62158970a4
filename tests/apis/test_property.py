"""render_api never raises: any value, any text, any API type gives a page."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal.apis import render_api
from tests.apis.conftest import BACKSTAGE_APIS, OPENAPI_EXAMPLES, load_yaml, to_html

# Keys and values that steer the renderers into their branches.
WORDS = st.sampled_from(
    [
        "openapi", "swagger", "asyncapi", "3.0.3", "3.1.0", "3.2.0", "2.0", "2.6.0", "3.0.0",
        "info", "title", "version", "paths", "/pets", "/pets/{id}", "get", "post", "query",
        "additionalOperations", "parameters", "name", "in", "path", "body", "required",
        "responses", "200", "default", "description", "content", "application/json", "schema",
        "$ref", "#/components/schemas/A", "#/definitions/A", "#/components/schemas",
        "#/channels/c", "other.yaml#/X", "#nope", "components", "schemas", "definitions", "A",
        "type", "object", "array", "string", "null", "properties", "items", "allOf", "oneOf",
        "anyOf", "enum", "nullable", "additionalProperties", "example", "examples", "value",
        "servers", "url", "variables", "security", "securitySchemes", "flows", "scopes", "tags",
        "webhooks", "callbacks", "links", "headers", "requestBody", "operationId", "channels",
        "publish", "subscribe", "message", "payload", "operations", "action", "channel",
        "messages", "traits", "address", "host", "{x}", "|", "<b>", "`", "x-extra",
    ]
)  # fmt: skip
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 600), st.floats(allow_nan=True), WORDS,
    st.text(max_size=10),
)  # fmt: skip
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(WORDS, inner, max_size=5)),
    max_leaves=40,
)
DEFINITIONS = st.one_of(VALUES, st.dictionaries(WORDS, VALUES, max_size=6), st.text(max_size=300))
API_TYPES = st.sampled_from(["openapi", "asyncapi", "graphql", "grpc", "trpc", "mcp-server", ""])


@settings(max_examples=300, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(api_type=API_TYPES, definition=DEFINITIONS)
def test_render_api_never_raises(api_type: str, definition: object) -> None:
    reference = render_api(name="fuzzed", api_type=api_type, definition=definition)
    assert reference.markdown.startswith("# ")
    anchors = [op.anchor for op in reference.operations]
    assert len(anchors) == len(set(anchors))
    page = to_html(reference.markdown)
    for anchor in anchors:
        assert f'id="{anchor}"' in page


SOURCE_TOKENS = st.sampled_from(
    [
        "type", "Query", "{", "}", "(", ")", ":", "!", "[", "]", "=", "@", "|", "&", "schema",
        "enum", "union", "input", "interface", "extend", '"""doc"""', '"s"', "#c\n", "\n",
        "x", "1", "service", "rpc", "returns", "stream", "message", "map", "<", ">", ",", ";",
        "oneof", "repeated", "option", "//c\n", "/* c */", "syntax", "package", "'",
        "publicProcedure", ".query(", "a:",
    ]
)  # fmt: skip


@settings(max_examples=300, database=None)
@given(
    api_type=st.sampled_from(["graphql", "grpc", "trpc"]),
    text=st.lists(SOURCE_TOKENS, max_size=50).map(" ".join),
)
def test_source_listings_never_raise(api_type: str, text: str) -> None:
    reference = render_api(name="fuzzed", api_type=api_type, definition=text)
    assert reference.markdown.startswith("# fuzzed")
    assert all(problem.severity == "warning" for problem in reference.problems)


def _corpus_documents() -> list[tuple[str, dict[str, Any]]]:
    found = [
        ("openapi", load_yaml(path))
        for path in sorted(OPENAPI_EXAMPLES.rglob("*.yaml"))
        if isinstance(load_yaml(path), dict)
    ]
    for path in sorted(BACKSTAGE_APIS.glob("*.yaml")):
        spec = load_yaml(path).get("spec", {})
        if spec.get("type") in ("openapi", "asyncapi") and isinstance(spec.get("definition"), str):
            found.append((spec["type"], yaml.safe_load(spec["definition"])))
    return found


CORPUS_DOCUMENTS = _corpus_documents() if OPENAPI_EXAMPLES.is_dir() else []


def _key_paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        children: list[tuple[Any, Any]] = list(node.items())
    elif isinstance(node, list):
        children = list(enumerate(node))
    else:
        children = []
    for key, value in children:
        found += _key_paths(value, (*prefix, key))
    return found


@pytest.mark.skipif(not CORPUS_DOCUMENTS, reason="corpus not found")
@settings(max_examples=300, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_real_documents_with_any_value_replaced_still_render(data: st.DataObject) -> None:
    api_type, document = data.draw(st.sampled_from(CORPUS_DOCUMENTS))
    path = data.draw(st.sampled_from(_key_paths(document)[1:]))
    mutated = copy.deepcopy(document)
    parent = mutated
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = data.draw(VALUES)
    reference = render_api(name="mutated", api_type=api_type, definition=mutated)
    assert reference.markdown.startswith("# ")
