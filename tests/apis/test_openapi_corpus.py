"""The OpenAPI Initiative's examples, read from ../shared, rendered operation by operation."""

from __future__ import annotations

from pathlib import Path

import pytest

from portal.apis import ApiReference, render_api
from tests.apis.conftest import (
    OPENAPI_EXAMPLES,
    count_ids,
    heading_with_id,
    http_operations,
    load_yaml,
    plain,
    to_html,
)

pytestmark = pytest.mark.skipif(
    not OPENAPI_EXAMPLES.is_dir(), reason=f"corpus not found at {OPENAPI_EXAMPLES}"
)

ALL_FILES = sorted(
    path
    for path in OPENAPI_EXAMPLES.rglob("*")
    if path.is_file() and path.suffix in (".yaml", ".yml", ".json")
)
DOCUMENTS = [
    path
    for path in ALL_FILES
    if isinstance(load_yaml(path), dict) and {"openapi", "swagger"} & set(load_yaml(path))
]
SPLIT_SPEC = OPENAPI_EXAMPLES / "v2.0" / "petstore-separate"


def name_of(path: Path) -> str:
    return str(path.relative_to(OPENAPI_EXAMPLES))


def render(path: Path) -> ApiReference:
    return render_api(name=path.stem, api_type="openapi", definition=path.read_text("utf-8"))


def test_the_corpus_holds_every_version() -> None:
    versions = {path.relative_to(OPENAPI_EXAMPLES).parts[0] for path in DOCUMENTS}
    assert versions == {"v2.0", "v3.0", "v3.1", "v3.2"}
    assert len(DOCUMENTS) == 18


def test_files_that_are_not_documents_are_the_parts_of_the_split_spec() -> None:
    # petstore-separate spreads one Swagger 2.0 spec over several files; only
    # spec/swagger.yaml is a document, the others are what its $refs name.
    parts = {name_of(path) for path in ALL_FILES if path not in DOCUMENTS}
    assert parts == {
        "v2.0/petstore-separate/common/Error.yaml",
        "v2.0/petstore-separate/spec/NewPet.yaml",
        "v2.0/petstore-separate/spec/Pet.yaml",
        "v2.0/petstore-separate/spec/parameters.yaml",
    }
    reference = render(SPLIT_SPEC / "spec" / "Pet.yaml")
    assert reference.problems[0].message.startswith(
        "no 'openapi' or 'swagger' field saying which OpenAPI version this is"
    )


@pytest.mark.parametrize("path", DOCUMENTS, ids=name_of)
def test_every_operation_has_its_own_section(path: Path) -> None:
    expected = http_operations(load_yaml(path))
    reference = render(path)
    page = to_html(reference.markdown)

    assert sorted((op.method, op.path) for op in reference.operations) == sorted(expected)
    assert len({op.anchor for op in reference.operations}) == len(expected)
    for op in reference.operations:
        assert count_ids(page, op.anchor) == 1, op.anchor
        assert heading_with_id(page, op.anchor) == f"{op.method} {op.path}"
        assert f'<h3 id="{op.anchor}">' in page
    assert "{#" not in page
    assert reference.markdown.splitlines()[0] == f"# {reference.title}"


@pytest.mark.parametrize("path", DOCUMENTS, ids=name_of)
def test_valid_examples_have_no_errors(path: Path) -> None:
    reference = render(path)
    assert [p for p in reference.problems if p.severity == "error"] == []
    version = path.relative_to(OPENAPI_EXAMPLES).parts[0].removeprefix("v")
    assert reference.format == f"openapi-{version}"


def test_refs_into_other_files_are_warnings_naming_each_ref() -> None:
    reference = render(SPLIT_SPEC / "spec" / "swagger.yaml")
    assert {p.severity for p in reference.problems} == {"warning"}
    refs = {p.message.split("'")[1] for p in reference.problems}
    assert refs == {
        "parameters.yaml#/tagsParam",
        "parameters.yaml#/limitsParam",
        "Pet.yaml",
        "NewPet.yaml",
        "../common/Error.yaml",
    }
    first = reference.problems[0]
    assert first.pointer == ("paths", "/pets", "get", "parameters", 0, "$ref")
    assert first.message == (
        "$ref 'parameters.yaml#/tagsParam' points into another file, which is not read when "
        "a definition is rendered on its own; it is shown by name only"
    )
    text = plain(to_html(reference.markdown))
    assert "Pet (external $ref)" in text
    assert "tagsParam" in text


def test_petstore_schemas_are_linked_and_have_sections() -> None:
    reference = render(OPENAPI_EXAMPLES / "v3.0" / "petstore.yaml")
    page = to_html(reference.markdown)
    assert [op.anchor for op in reference.operations] == [
        "op-listpets",
        "op-createpets",
        "op-showpetbyid",
    ]
    assert {op.tag for op in reference.operations} == {"pets"}
    for name in ("pet", "pets", "error"):
        assert count_ids(page, f"schema-{name}") == 1
    assert '<a href="#schema-pets">Pets</a>' in page
    text = plain(page)
    assert "x-next" in text and "A link to the next page of responses" in text  # header
    assert "http://petstore.swagger.io/v1" in text  # server
    assert "How many items to return at one time (max 100)" in text
    assert "maximum: 100" in text


def test_allof_properties_are_merged_into_the_schema_table() -> None:
    reference = render(OPENAPI_EXAMPLES / "v3.0" / "petstore-expanded.yaml")
    section = reference.markdown.split("### Pet {#schema-pet}")[1].split("###")[0]
    assert "all of: [NewPet](#schema-newpet), object" in section
    for row in (
        "| `name` | string | yes |",
        "| `tag` | string |",
        "| `id` | integer (int64) | yes |",
    ):
        assert row in section


def test_server_variables_are_substituted_and_listed() -> None:
    reference = render(OPENAPI_EXAMPLES / "v3.0" / "uspto.yaml")
    page = to_html(reference.markdown)
    assert '<a href="https://developer.uspto.gov/ds-api">' in page
    servers = plain(page.split('id="servers"')[1].split("</table>")[0])
    assert "scheme = https (one of https, http)" in servers
    # tags in the order the document declares them
    assert page.index('id="tag-metadata"') < page.index('id="tag-search"')


def test_swagger_servers_tags_and_security() -> None:
    reference = render(OPENAPI_EXAMPLES / "v2.0" / "uber.yaml")
    page = to_html(reference.markdown)
    text = plain(page)
    assert "https://api.uber.com/v1" in text
    assert "Type: apiKey · In: query · Name: server_token" in text
    tags = [op.tag for op in reference.operations]
    assert tags == ["Estimates", "Estimates", "Products", "User", "User"]
    assert "Security: apikey" in text
    assert "<br />" in page or "<br>" in page  # HTML in a description is passed through


def test_examples_are_shown_as_written() -> None:
    reference = render(OPENAPI_EXAMPLES / "v3.0" / "api-with-examples.yaml")
    page = to_html(reference.markdown)
    text = plain(page)
    assert "Example foo:" in text
    assert '"status": "EXPERIMENTAL"' in text
    # the 300 example is a string in the document: shown verbatim, not re-encoded
    assert '       {\n         "status": "CURRENT",' in text

    swagger = render(OPENAPI_EXAMPLES / "v2.0" / "api-with-examples.yaml")
    assert "Example (application/json):" in plain(to_html(swagger.markdown))


def test_callbacks_and_links_are_listed() -> None:
    callbacks = plain(to_html(render(OPENAPI_EXAMPLES / "v3.0" / "callback-example.yaml").markdown))
    assert "onData: POST {$request.query.callbackUrl}/data · body: object" in callbacks

    links = to_html(render(OPENAPI_EXAMPLES / "v3.0" / "link-example.yaml").markdown)
    assert '<a href="#op-getrepositoriesbyowner">getRepositoriesByOwner</a>' in links
    assert "$response.body#/username" in plain(links)


@pytest.mark.parametrize("version", ["v3.1", "v3.2"])
def test_webhooks_have_their_own_section(version: str) -> None:
    reference = render(OPENAPI_EXAMPLES / version / "webhook-example.yaml")
    page = to_html(reference.markdown)
    (hook,) = reference.operations
    assert (hook.method, hook.path, hook.tag, hook.anchor) == (
        "POST",
        "newPet",
        "Webhooks",
        "op-post-newpet",
    )
    assert page.index('id="webhooks"') < page.index('id="op-post-newpet"')
    assert "Information about a new pet in the system" in plain(page)


def test_non_oauth_scopes_are_shown_with_the_scheme() -> None:
    reference = render(OPENAPI_EXAMPLES / "v3.1" / "non-oauth-scopes.yaml")
    page = to_html(reference.markdown)
    assert "Security: bearerAuth (read:users, public)" in plain(page)
    assert '<a href="#security-bearerauth">bearerAuth</a>' in page
    assert "Type: http · Scheme: bearer · Bearer format: jwt" in plain(page)
