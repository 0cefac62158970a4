"""Schemas, parameters and bodies as Markdown: types, nesting, variants, examples, escaping."""

from __future__ import annotations

import json
import textwrap

from portal.apis import locate, render_api
from portal.apis.markdown import code, fence, prose
from tests.apis.conftest import plain, to_html

SEARCH = """\
openapi: 3.2.0
info: {title: Search, version: "1"}
paths:
  /search:
    query:
      operationId: search
      requestBody:
        content:
          application/json:
            schema:
              oneOf:
                - $ref: '#/components/schemas/ByName'
                - type: object
                  properties: {id: {type: integer}}
            examples:
              byName: {$ref: '#/components/examples/ByName'}
      responses:
        "200":
          description: hits
          content:
            application/json:
              schema:
                type: object
                properties:
                  a:
                    type: object
                    properties:
                      b:
                        type: object
                        properties:
                          c:
                            type: object
                            properties:
                              d: {type: string}
                  n: {type: [string, "null"], deprecated: true}
                  m: {type: string, nullable: true, enum: [x, y]}
                  t: {type: array, items: {type: array, items: {type: number}}}
                  any: {}
                  never: false
                  tags: {type: object, additionalProperties: {type: string}}
    additionalOperations:
      PURGE:
        responses: {"204": {description: purged}}
components:
  schemas:
    ByName:
      type: object
      required: [name]
      properties:
        name: {type: string, minLength: 1, pattern: "^[a-z|]+$"}
  examples:
    ByName: {summary: by name, value: {name: rex}}
"""


def test_openapi_3_2_query_and_additional_operations() -> None:
    reference = render_api(name="s", api_type="openapi", definition=SEARCH)
    assert (reference.format, reference.problems) == ("openapi-3.2", [])
    assert [(op.method, op.path) for op in reference.operations] == [
        ("QUERY", "/search"),
        ("PURGE", "/search"),
    ]


def test_types_nesting_and_variants() -> None:
    markdown = render_api(name="s", api_type="openapi", definition=SEARCH).markdown
    rows = {line.split(" | ")[0].strip("| `"): line for line in markdown.splitlines()}
    assert "| object |" in rows["a.b"]
    assert "nested properties not shown" in rows["a.b.c"]  # inline objects stop at 3 levels
    assert "a.b.c.d" not in rows
    assert "| string or null |" in rows["n"] and "*deprecated*" in rows["n"]
    assert '| string or null, one of `"x"`, `"y"` |' in rows["m"]
    assert "| array of array of number |" in rows["t"]
    assert "| any |" in rows["any"]
    assert "| nothing (false schema) |" in rows["never"]
    assert "| map of string |" in rows["tags"]
    assert "**Type:** one of: [ByName](#schema-byname), object" in markdown
    assert "One of, option 2:" in markdown
    assert "Example `byName` — by name:" in markdown
    page = to_html(markdown)
    assert '"name": "rex"' in plain(page)
    # a pipe inside a code span in a table cell does not split the row
    assert '<code>pattern: "^[a-z|]+$"</code>' in page


SWAGGER = """\
swagger: "2.0"
info: {title: Forms, version: "1"}
consumes: [application/x-www-form-urlencoded]
produces: [application/json]
paths:
  /pets/{id}:
    parameters:
      - {name: id, in: path, required: true, type: integer, description: shared}
      - {name: verbose, in: query, type: boolean}
    put:
      parameters:
        - {name: verbose, in: query, type: string, description: the operation's own}
        - name: body
          in: body
          required: true
          schema: {$ref: '#/definitions/Pet'}
        - {name: tags, in: query, type: array, items: {type: string}, collectionFormat: csv}
      responses:
        "200":
          description: ok
          headers:
            X-Rate-Limit: {type: integer, description: calls per hour}
          schema: {$ref: '#/definitions/Pet'}
          examples:
            application/json: {name: rex}
definitions:
  Pet: {type: object, properties: {name: {type: string, x-nullable: true}}}
"""


def test_swagger_parameters_bodies_and_examples() -> None:
    reference = render_api(name="f", api_type="openapi", definition=SWAGGER)
    assert reference.problems == []
    markdown = reference.markdown
    table = markdown.split("**Parameters**")[1].split("**Request body**")[0]
    # path-level parameters are merged, the operation's own win by name and location
    assert "| `id` | path | integer | yes | shared |" in table
    assert "| `verbose` | query | string |   | the operation's own |" in table
    assert "| `tags` | query | array of string |   | `csv` list |" in table
    assert "`body`" not in table
    body = markdown.split("**Request body** (required)")[1].split("**Responses**")[0]
    assert "Content type `application/x-www-form-urlencoded`:" in body
    assert "**Type:** [Pet](#schema-pet)" in body
    responses = markdown.split("**Responses**")[1]
    assert "| `X-Rate-Limit` | integer | calls per hour |" in responses
    assert "Example (`application/json`):" in responses
    assert "| `name` | string or null |" in markdown


def test_locate_works_on_json_text() -> None:
    document = {
        "openapi": "3.0.3",
        "info": {"title": "J", "version": "1"},
        "paths": {"/a": {"get": {"responses": {"200": {"$ref": "#/nope"}}}}},
    }
    text = json.dumps(document, indent=2)
    (problem,) = render_api(name="j", api_type="openapi", definition=text).problems
    assert problem.pointer == ("paths", "/a", "get", "responses", "200", "$ref")
    assert problem.message == "$ref '#/nope' points at nothing (no nope)"
    assert locate(text, problem.pointer) == (12, 13)


def test_code_fences_and_spans_survive_backticks() -> None:
    source = "a\n```\nb\n````\n"
    assert fence(source, "text") == ["`````text", "a", "```", "b", "````", "`````"]
    assert code("a`b") == "`` a`b ``"
    assert code("") == '`""`'
    page = to_html("\n".join(fence(source, "text")) + "\n\nafter " + code("x`y"))
    assert "<code>x`y</code>" in page and "after" in page


def test_headings_in_descriptions_stay_below_the_section() -> None:
    text = textwrap.dedent(
        """\
        # Title
        ```
        # not a heading
        ```
        ###### deep
        """
    )
    assert prose(text, 4) == ["#### Title", "```", "# not a heading", "```", "###### deep"]


def test_json_text_is_read_as_json() -> None:
    # "\/" is a valid JSON escape that YAML 1.1 rejects.
    text = (
        '{"openapi": "3.1.0", "info": {"title": "Slashes", "version": "1"},'
        ' "externalDocs": {"url": "https:\\/\\/example.com\\/docs"}, "paths": {}}'
    )
    reference = render_api(name="j", api_type="openapi", definition=text)
    assert (reference.problems, reference.title) == ([], "Slashes")
    assert '<a href="https://example.com/docs">' in to_html(reference.markdown)


def test_parameter_examples_and_anchors_for_names_without_ascii() -> None:
    reference = render_api(
        name="x",
        api_type="openapi",
        definition=textwrap.dedent(
            """\
            openapi: 3.1.0
            info: {title: Pets, version: "1"}
            paths:
              /pets:
                get:
                  operationId: ペット一覧
                  parameters:
                    - name: kind
                      in: query
                      examples:
                        dog: {value: dog}
                        cat: {$ref: '#/components/examples/cat'}
            components:
              examples:
                cat: {value: cat}
            """
        ),
    )
    (op,) = reference.operations
    assert (op.anchor, op.operation_id) == ("op-get-pets", "ペット一覧")
    assert "example: `dog`, `cat`" in reference.markdown
