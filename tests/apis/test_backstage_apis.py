"""Every API entity of Backstage's examples, read from ../shared, gets a page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from portal.apis import ApiReference, render_api
from tests.apis.conftest import (
    BACKSTAGE_APIS,
    count_ids,
    heading_with_id,
    http_operations,
    load_yaml,
    plain,
    to_html,
)

pytestmark = pytest.mark.skipif(
    not BACKSTAGE_APIS.is_dir(), reason=f"corpus not found at {BACKSTAGE_APIS}"
)

# entity file → (format, number of operations)
EXPECTED = {
    "backstage-mcp-server-api.yaml": ("missing", 0),
    "hello-world-api.yaml": ("grpc", 1),
    "hello-world-trpc-api.yaml": ("trpc", 2),
    "petstore-api.yaml": ("openapi-3.0", 3),
    "petstore-webhook-api.yaml": ("openapi-3.1", 1),
    "spotify-api.yaml": ("external", 0),
    "streetlights-api.yaml": ("asyncapi-2", 4),
    "swapi-graphql.yaml": ("graphql", 13),
    "wayback-archive-api.yaml": ("external", 0),
    "wayback-search-api.yaml": ("external", 0),
}
ENTITY_FILES = sorted(
    path
    for path in BACKSTAGE_APIS.glob("*.yaml")
    if isinstance(load_yaml(path), dict) and load_yaml(path).get("kind") == "API"
)


def definition_of(path: Path, entity: dict[str, Any]) -> object:
    """spec.definition as the catalog holds it: a relative $text read, an outside URL kept."""
    definition = entity["spec"].get("definition")
    if isinstance(definition, dict) and set(definition) == {"$text"}:
        target = definition["$text"]
        if not target.startswith(("https://", "http://")):
            return (path.parent / target).read_text(encoding="utf-8")
    return definition


def render_entity(path: Path) -> ApiReference:
    entity = load_yaml(path)
    return render_api(
        name=entity["metadata"]["name"],
        api_type=entity["spec"]["type"],
        definition=definition_of(path, entity),
        title=entity["metadata"].get("title"),
        description=entity["metadata"].get("description"),
        remotes=entity["spec"].get("remotes"),
    )


def test_every_api_entity_is_covered() -> None:
    assert {path.name for path in ENTITY_FILES} == set(EXPECTED)


@pytest.mark.parametrize("path", ENTITY_FILES, ids=lambda path: path.name)
def test_every_api_gets_a_page_with_a_section_per_operation(path: Path) -> None:
    reference = render_entity(path)
    page = to_html(reference.markdown)
    assert (reference.format, len(reference.operations)) == EXPECTED[path.name]
    assert reference.problems == []
    assert reference.markdown.startswith("# ")
    for op in reference.operations:
        assert count_ids(page, op.anchor) == 1, op.anchor
        assert heading_with_id(page, op.anchor) == f"{op.method} {op.path}"
    assert "{#" not in page


@pytest.mark.parametrize("name", ["petstore.oas.yaml", "petstore-webhook.oas.yaml"])
def test_definition_files_beside_the_entities_render(name: str) -> None:
    path = BACKSTAGE_APIS / name
    reference = render_api(name=path.stem, api_type="openapi", definition=path.read_text("utf-8"))
    assert reference.format == "openapi-3.1"
    assert reference.problems == []
    expected = http_operations(load_yaml(path))
    assert sorted((op.method, op.path) for op in reference.operations) == sorted(expected)
    page = to_html(reference.markdown)
    for op in reference.operations:
        assert count_ids(page, op.anchor) == 1


def test_inline_openapi_has_servers_and_linked_schemas() -> None:
    reference = render_entity(BACKSTAGE_APIS / "petstore-api.yaml")
    page = to_html(reference.markdown)
    assert heading_with_id(page, "op-showpetbyid") == "GET /pets/{petId}"
    assert '<a href="http://petstore.swagger.io/v1">' in page
    assert '<a href="#schema-error">Error</a>' in page
    assert reference.title == "Swagger Petstore"
    assert reference.version == "1.0.0"


def test_webhook_definition_read_through_text_placeholder() -> None:
    reference = render_entity(BACKSTAGE_APIS / "petstore-webhook-api.yaml")
    (hook,) = reference.operations
    assert (hook.method, hook.path) == ("POST", "newPet")
    assert '<a href="#schema-pet">Pet</a>' in to_html(reference.markdown)


def test_asyncapi_lists_channels_operations_messages_and_source() -> None:
    reference = render_entity(BACKSTAGE_APIS / "streetlights-api.yaml")
    page = to_html(reference.markdown)
    methods = [(op.method, op.operation_id) for op in reference.operations]
    assert methods == [
        ("SUBSCRIBE", "receiveLightMeasurement"),
        ("PUBLISH", "turnOn"),
        ("PUBLISH", "turnOff"),
        ("PUBLISH", "dimLight"),
    ]
    measured = reference.operations[0]
    assert (
        measured.path == "smartylighting/streetlights/1/0/event/{streetlightId}/lighting/measured"
    )
    assert measured.tag == measured.path
    text = plain(page)
    assert "Message lightMeasured" in text
    assert "Payload: lightMeasuredPayload" in text
    assert '<a href="#schema-lightmeasuredpayload">' in page
    assert count_ids(page, "message-turnonoff") == 1
    # the trait's headers are applied to the message
    assert "my-app-header" in text
    assert "api.streetlights.smartylighting.com:1883" in text  # variable default substituted
    source = page.split('id="source"')[1]
    assert "<details" in source
    assert "Dim a specific streetlight 😎" in plain(source)  # the source, emoji and all


def test_graphql_lists_root_fields_types_and_the_sdl() -> None:
    reference = render_entity(BACKSTAGE_APIS / "swapi-graphql.yaml")
    page = to_html(reference.markdown)
    assert {op.method for op in reference.operations} == {"QUERY"}
    assert reference.operations[0].path == "allFilms"  # schema { query: Root }
    node = reference.operations[-1]
    assert (node.anchor, node.summary) == ("op-query-node", "Fetches an object given its ID")
    text = plain(page)
    assert "Returns: FilmsConnection" in text
    assert count_ids(page, "type-film") == 1
    assert "implements Node" in text
    source = page.split('id="source"')[1]
    assert '<span class="k">type</span>' in source  # highlighted as GraphQL
    assert "type Film implements Node {" in plain(source)


def test_grpc_lists_services_methods_messages_and_the_proto() -> None:
    reference = render_entity(BACKSTAGE_APIS / "hello-world-api.yaml")
    (method,) = reference.operations
    assert (method.method, method.path, method.tag) == ("RPC", "Greeter/SayHello", "Greeter")
    assert method.summary == "Sends a greeting"
    page = to_html(reference.markdown)
    text = plain(page)
    assert "Request: HelloRequest → Response: HelloReply" in text
    assert '<a href="#message-hellorequest">' in page
    assert "The response message containing the greetingsfgfg" in text
    assert 'option java_package = "io.grpc.examples.helloworld";' in plain(
        page.split('id="source"')[1]
    )


def test_trpc_is_shown_as_typescript_with_its_procedures() -> None:
    reference = render_entity(BACKSTAGE_APIS / "hello-world-trpc-api.yaml")
    assert [(op.method, op.path) for op in reference.operations] == [
        ("QUERY", "version"),
        ("QUERY", "hello"),
    ]
    assert "```typescript\nimport { z } from 'zod';" in reference.markdown
    assert "export const apiRouter = router({" in plain(to_html(reference.markdown))


@pytest.mark.parametrize(
    "name", ["spotify-api.yaml", "wayback-archive-api.yaml", "wayback-search-api.yaml"]
)
def test_outside_definitions_get_a_page_that_says_so(name: str) -> None:
    path = BACKSTAGE_APIS / name
    url = load_yaml(path)["spec"]["definition"]["$text"]
    reference = render_entity(path)
    page = to_html(reference.markdown)
    assert "Definition not available offline" in page
    assert f'<a href="{url}">' in page
    assert reference.title == load_yaml(path)["metadata"]["name"]


def test_an_api_without_definition_gets_a_page_listing_its_remotes() -> None:
    reference = render_entity(BACKSTAGE_APIS / "backstage-mcp-server-api.yaml")
    text = plain(to_html(reference.markdown))
    assert "This mcp-server API has no definition in the catalog" in text
    assert "streamable-http" in text and "http://localhost:7007/api/mcp/v1" in text
    assert "An MCP server that exposes tools related to the Backstage ecosystem" in text
