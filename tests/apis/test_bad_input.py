"""Bad definitions become problems with a key path and a message, and still a page."""

from __future__ import annotations

import textwrap

import pytest

from portal.apis import ApiReference, DefinitionProblem, locate, render_api
from tests.apis.conftest import count_ids, heading_with_id, plain, to_html


def openapi(text: str) -> ApiReference:
    return render_api(name="broken", api_type="openapi", definition=textwrap.dedent(text))


def errors(reference: ApiReference) -> list[DefinitionProblem]:
    return [p for p in reference.problems if p.severity == "error"]


DANGLING = """\
    openapi: 3.0.3
    info: {title: Pets, version: "1"}
    paths:
      /pets:
        get:
          responses:
            "200":
              description: ok
              content:
                application/json:
                  schema:
                    $ref: '#/components/schemas/Nope'
    components:
      schemas:
        Pet: {type: object}
"""


def test_a_dangling_ref_is_an_error_at_the_ref_key() -> None:
    reference = openapi(DANGLING)
    (problem,) = reference.problems
    assert problem.severity == "error"
    assert problem.pointer == (
        "paths",
        "/pets",
        "get",
        "responses",
        "200",
        "content",
        "application/json",
        "schema",
        "$ref",
    )
    assert problem.message == (
        "$ref '#/components/schemas/Nope' points at nothing (no components.schemas.Nope)"
    )
    assert "⚠ unresolved $ref `#/components/schemas/Nope`" in reference.markdown
    assert locate(textwrap.dedent(DANGLING), problem.pointer) == (12, 17)


def test_a_dangling_ref_names_the_first_part_that_is_missing() -> None:
    reference = openapi(
        """\
        openapi: 3.1.0
        info: {title: Pets, version: "1"}
        paths:
          /pets:
            parameters:
              - $ref: '#/components/parameters/limit'
            get: {}
        """
    )
    (problem,) = errors(reference)
    assert problem.pointer == ("paths", "/pets", "parameters", 0, "$ref")
    assert problem.message == (
        "$ref '#/components/parameters/limit' points at nothing (no components)"
    )
    assert "⚠ unresolved $ref" in reference.markdown


def test_a_ref_that_is_not_a_pointer_is_an_error() -> None:
    reference = openapi(
        """\
        openapi: 3.1.0
        info: {title: Pets, version: "1"}
        components:
          schemas:
            Pet: {$ref: '#components/schemas/Dog'}
        """
    )
    (problem,) = errors(reference)
    assert problem.pointer == ("components", "schemas", "Pet", "$ref")
    assert problem.message == (
        "$ref '#components/schemas/Dog' is not a JSON pointer (expected '#/' and a key path, "
        "e.g. '#/components/schemas/Pet')"
    )


CYCLES = """\
    openapi: 3.0.3
    info: {title: Trees, version: "1"}
    paths:
      /trees:
        get:
          responses:
            "200":
              description: a tree
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      self:
                        $ref: '#/paths/~1trees/get/responses/200/content/application~1json/schema'
                      root: {$ref: '#/components/schemas/Node'}
    components:
      schemas:
        Node:
          type: object
          properties:
            children: {type: array, items: {$ref: '#/components/schemas/Node'}}
            parent: {$ref: '#/components/schemas/Node'}
        A:
          allOf: [{$ref: '#/components/schemas/B'}, {properties: {a: {type: string}}}]
        B:
          allOf: [{$ref: '#/components/schemas/A'}, {properties: {b: {type: string}}}]
        Loop1: {$ref: '#/components/schemas/Loop2'}
        Loop2: {$ref: '#/components/schemas/Loop1'}
"""


def test_recursive_schemas_terminate_and_are_marked() -> None:
    reference = openapi(CYCLES)
    node = reference.markdown.split("{#schema-node}")[1].split("###")[0]
    assert "| `children` | array of ↻ recursive: [Node](#schema-node) |" in node
    assert "| `parent` | ↻ recursive: [Node](#schema-node) |" in node
    # an inline schema that refers to itself through a JSON pointer
    operation = reference.markdown.split("{#op-get-trees}")[1].split("## ")[0]
    assert "↻ recursive: `#/paths/~1trees/get/responses/200/content/application~1json/schema`" in (
        operation
    )
    # allOf cycles merge each side once
    a = reference.markdown.split("{#schema-a}")[1].split("###")[0]
    assert "| `a` |" in a and "| `b` |" in a
    assert [(p.pointer, p.message) for p in errors(reference)] == [
        (
            ("components", "schemas", "Loop1", "$ref"),
            "$ref '#/components/schemas/Loop2' is part of a loop of $refs that names no value",
        ),
        (
            ("components", "schemas", "Loop2", "$ref"),
            "$ref '#/components/schemas/Loop1' is part of a loop of $refs that names no value",
        ),
    ]


def test_invalid_yaml_is_reported_with_its_line_and_shown_as_source() -> None:
    text = "openapi: 3.0.0\ninfo:\n  title: [unclosed\npaths: {}\n"
    reference = render_api(name="broken", api_type="openapi", definition=text)
    (problem,) = reference.problems
    assert (problem.pointer, problem.severity) == ((), "error")
    assert problem.message == (
        "line 4, column 6: invalid YAML: did not find expected ',' or ']' "
        "while parsing a flow sequence"
    )
    assert (problem.line, problem.column) == (4, 6)
    assert reference.format == "unknown"
    page = to_html(reference.markdown)
    assert "title: [unclosed" in plain(page)
    assert "Definition not rendered" in plain(page)
    assert "The definition could not be read as YAML or JSON" in plain(page)


def test_an_operation_without_responses_is_an_error_in_3_0_only() -> None:
    text = """\
        openapi: {version}
        info: {{title: Pets, version: "1"}}
        paths:
          /pets:
            get:
              summary: list pets
        """
    reference = openapi(text.format(version="3.0.3"))
    (problem,) = errors(reference)
    assert problem.pointer == ("paths", "/pets", "get")
    assert problem.message == "GET /pets has no 'responses' (required in OpenAPI 3.0)"
    assert len(reference.operations) == 1  # still rendered
    assert errors(openapi(text.format(version="3.1.0"))) == []


def test_a_swagger_operation_without_responses_names_swagger() -> None:
    reference = openapi(
        """\
        swagger: "2.0"
        info: {title: Pets, version: "1"}
        paths:
          /pets:
            get: {}
        """
    )
    assert [p.message for p in errors(reference)] == [
        "GET /pets has no 'responses' (required in Swagger 2.0)"
    ]


def test_duplicate_operation_ids_name_both_operations() -> None:
    reference = openapi(
        """\
        openapi: 3.0.3
        info: {title: Pets, version: "1"}
        paths:
          /pets:
            get:
              operationId: listPets
              responses: {"200": {description: ok}}
          /animals:
            get:
              operationId: listPets
              responses: {"200": {description: ok}}
        """
    )
    (problem,) = errors(reference)
    assert problem.pointer == ("paths", "/animals", "get", "operationId")
    assert problem.message == (
        "operationId 'listPets' is used by both GET /pets and GET /animals "
        "(operationIds must be unique)"
    )
    page = to_html(reference.markdown)
    anchors = [op.anchor for op in reference.operations]
    assert anchors == ["op-listpets", "op-listpets-2"]
    assert all(count_ids(page, anchor) == 1 for anchor in anchors)


@pytest.mark.parametrize("definition", ["- one\n- two\n", ["one", "two"]])
def test_a_definition_that_is_a_list_is_an_error(definition: object) -> None:
    reference = render_api(name="listed", api_type="openapi", definition=definition)
    (problem,) = reference.problems
    assert (problem.pointer, problem.severity) == ((), "error")
    assert problem.message == (
        "the definition is a list, expected a mapping (an OpenAPI or AsyncAPI document)"
    )
    assert "- one" in plain(to_html(reference.markdown))


def test_structural_rules_of_the_specification() -> None:
    reference = openapi(
        """\
        openapi: 3.0.3
        info: {title: Pets}
        security: [{nope: []}]
        paths:
          pets:
            get:
              parameters:
                - in: query
                - name: id
                  in: path
                - name: q
                  in: body
              responses: {}
        """
    )
    assert [(p.pointer, p.message) for p in errors(reference)] == [
        (("info",), "info has no 'version' (required)"),
        (("paths", "pets"), "path 'pets' must start with '/'"),
        (
            ("security", 0, "nope"),
            "security requirement names 'nope', which is not in components.securitySchemes",
        ),
        (
            ("paths", "pets", "get", "parameters", 0),
            "parameter has no 'name' (every parameter needs name and in)",
        ),
        (("paths", "pets", "get", "parameters", 1), "path parameter 'id' must have required: true"),
        (
            ("paths", "pets", "get", "parameters", 2, "in"),
            "parameter 'q': in: 'body' is not a parameter location in OpenAPI 3.0 "
            "(expected one of query, header, path, cookie)",
        ),
        (
            ("paths", "pets", "get", "responses"),
            "responses must list at least one response code",
        ),
    ]


def test_paths_are_required_before_3_1_only() -> None:
    missing = openapi('openapi: 3.0.3\ninfo: {title: Pets, version: "1"}\n')
    assert [(p.pointer, p.message) for p in errors(missing)] == [
        (("paths",), "no 'paths' (required in OpenAPI 3.0; write paths: {})")
    ]
    components_only = openapi(
        'openapi: 3.1.0\ninfo: {title: Pets, version: "1"}\ncomponents: {schemas: {A: {}}}\n'
    )
    assert components_only.problems == []
    nothing = openapi('openapi: 3.1.0\ninfo: {title: Pets, version: "1"}\n')
    assert [p.message for p in errors(nothing)] == [
        "OpenAPI 3.1 needs at least one of 'paths', 'webhooks' or 'components'"
    ]


def test_version_fields_that_are_numbers_or_unknown() -> None:
    unquoted = openapi('swagger: 2.0\ninfo: {title: Pets, version: "1"}\npaths: {}\n')
    assert [(p.severity, p.message) for p in unquoted.problems] == [
        ("warning", "swagger: 2.0 is read as a number; quote it: '2.0'")
    ]
    assert unquoted.format == "openapi-2.0"
    future = openapi('openapi: 4.0.0\ninfo: {title: Pets, version: "1"}\npaths: {}\n')
    assert future.format == "openapi-3.1"
    assert errors(future)[0].message.startswith("openapi: '4.0.0' is not a version this portal")


def test_empty_definition_is_an_error() -> None:
    reference = render_api(name="empty", api_type="openapi", definition="")
    assert [p.message for p in reference.problems] == ["the definition is empty"]
    assert reference.markdown.startswith("# empty\n")


def test_problems_can_be_located_in_the_text() -> None:
    text = textwrap.dedent(
        """\
        openapi: 3.0.3
        info: {title: Pets, version: "1"}
        paths:
          /pets:
            get:
              operationId: a
              responses: {"200": {description: ok}}
            post:
              operationId: a
              responses: {"200": {description: ok}}
        """
    )
    (problem,) = render_api(name="x", api_type="openapi", definition=text).problems
    assert locate(text, problem.pointer) == (9, 7)
    assert locate(text, ("paths", "/nothing", "get")) == (4, 3)  # deepest part that exists
    assert locate("[unclosed", ("a",)) is None


def test_headings_keep_braces_and_their_explicit_ids() -> None:
    reference = openapi(
        """\
        openapi: 3.1.0
        info: {title: "Odd <names> | {x}", version: "1"}
        paths:
          /pets/{petId}:
            get:
              parameters:
                - {name: petId, in: path, required: true, description: "a | b {c}"}
          /items/<id>/*star*_x_:
            get: {}
        webhooks:
          "new {pet} here":
            post: {}
        """
    )
    page = to_html(reference.markdown)
    assert "{#" not in page
    assert heading_with_id(page, "op-get-pets-petid") == "GET /pets/{petId}"
    assert heading_with_id(page, "op-get-items-id-star-x") == "GET /items/<id>/*star*_x_"
    assert heading_with_id(page, "op-post-new-pet-here") == "POST new {pet} here"
    assert "<id>" not in page  # never an HTML tag
    assert "<td>a | b {c}</td>" in page  # a pipe in a cell does not split it
    assert plain(page).startswith("Odd <names> | {x}")


def test_unsafe_links_are_not_made_clickable() -> None:
    reference = openapi(
        """\
        openapi: 3.1.0
        info:
          title: Pets
          version: "1"
          license: {name: Evil, url: "javascript:alert(1)"}
        externalDocs: {url: "https://example.com/docs"}
        components: {}
        """
    )
    page = to_html(reference.markdown)
    assert 'href="javascript' not in page
    assert "javascript:alert(1)" in plain(page)
    assert '<a href="https://example.com/docs">' in page


def test_a_relative_text_placeholder_that_was_not_read_gets_an_external_page() -> None:
    reference = render_api(name="local", api_type="openapi", definition={"$text": "./missing.yaml"})
    assert reference.format == "external"
    assert "./missing.yaml" in plain(to_html(reference.markdown))
    assert 'href="./missing.yaml"' not in to_html(reference.markdown)


def test_unreadable_graphql_and_proto_are_warnings_with_the_source_still_shown() -> None:
    graphql = render_api(name="g", api_type="graphql", definition="type Query {\n  a: [Int\n}\n")
    (problem,) = graphql.problems
    assert (problem.severity, problem.line) == ("warning", 3)
    assert problem.message == (
        "line 3: expected ']', found '}'; the schema is listed only up to there and shown in "
        "full as source"
    )
    assert "a: [Int" in plain(to_html(graphql.markdown))

    proto = render_api(name="p", api_type="grpc", definition="service S {\n  rpc M (A) returns\n")
    (problem,) = proto.problems
    assert problem.message.startswith("line 2: the text ends where '(' was expected")
    assert "rpc M (A) returns" in plain(to_html(proto.markdown))


def test_refs_that_multiply_a_schema_are_cut_short() -> None:
    # Each level names the next one ten times: 10**12 paths if expanded in full.
    levels = {
        f"L{i}": {
            "oneOf": [{"$ref": f"#/x/L{i + 1}"}] * 10,
            "allOf": [{"$ref": f"#/x/L{i + 1}"}] * 10,
        }
        for i in range(12)
    }
    document = {
        "openapi": "3.1.0",
        "info": {"title": "Bomb", "version": "1"},
        "x": levels,
        "paths": {
            "/a": {
                "get": {
                    "responses": {
                        "200": {
                            "description": "d",
                            "content": {"application/json": {"schema": {"$ref": "#/x/L0"}}},
                        }
                    }
                }
            }
        },
    }
    reference = render_api(name="bomb", api_type="openapi", definition=document)
    assert "…" in reference.markdown
    assert len(reference.markdown) < 2_000_000


def test_responses_that_cannot_be_read_say_why() -> None:
    reference = render_api(
        name="x",
        api_type="openapi",
        definition={
            "openapi": "3.0.3",
            "info": {"title": "t", "version": "1"},
            "paths": {
                "/a": {
                    "get": {
                        "requestBody": {"$ref": "bodies.yaml#/Pet"},
                        "responses": {"200": {"$ref": "#/nope"}, "201": 5},
                    }
                }
            },
        },
    )
    assert "**Request body** defined in another file: `bodies.yaml#/Pet`" in reference.markdown
    assert "**Response `200`** ⚠ unresolved $ref `#/nope`" in reference.markdown
    assert "**Response `201`** ⚠ a number, not a mapping" in reference.markdown
    assert [(p.pointer, p.message) for p in errors(reference)] == [
        (
            ("paths", "/a", "get", "responses", "200", "$ref"),
            "$ref '#/nope' points at nothing (no nope)",
        ),
        (("paths", "/a", "get", "responses", "201"), "response '201' must be a mapping"),
    ]


@pytest.mark.parametrize("text", ["0", "true", "just words"])
def test_a_definition_that_is_a_single_value_is_an_error(text: str) -> None:
    reference = render_api(name="single", api_type="openapi", definition=text)
    (problem,) = reference.problems
    assert (problem.pointer, problem.severity) == ((), "error")
    assert problem.message.startswith("the definition is ")
    assert problem.message.endswith(", expected a mapping (an OpenAPI or AsyncAPI document)")
    assert text in plain(to_html(reference.markdown))
