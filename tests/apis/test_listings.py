"""GraphQL SDL, gRPC proto, AsyncAPI 3 and other definitions: operations listed, source shown."""

from __future__ import annotations

import textwrap
from pathlib import Path

from portal.apis import render_api
from tests.apis.conftest import count_ids, heading_with_id, plain, to_html

SDL = '''
"""The root"""
type Query {
  "one pet"
  pet(id: ID!, kind: Kind = DOG @deprecated(reason: "x")): Pet
}
type Mutation { addPet(input: NewPet!): Pet! }
type Subscription { petAdded: Pet }
extend type Query { pets(first: Int = 10): [Pet!]! }
enum Kind { "a dog" DOG CAT @deprecated }
union SearchResult = | Pet | Owner
input NewPet { name: String!, tags: [String] = ["a", "b"] }
interface Named { name: String }
type Pet implements Named & Node @key(fields: "id") { name: String }
type Owner implements Named, Node { name: String }
scalar DateTime @specifiedBy(url: "https://example.com")
directive @key(fields: String!) repeatable on OBJECT | INTERFACE
'''


def test_graphql_root_fields_are_operations_and_types_are_listed() -> None:
    reference = render_api(name="pets", api_type="graphql", definition=SDL)
    assert reference.problems == []
    assert [(op.method, op.path, op.tag) for op in reference.operations] == [
        ("QUERY", "pet", "Queries"),
        ("QUERY", "pets", "Queries"),  # from `extend type Query`
        ("MUTATION", "addPet", "Mutations"),
        ("SUBSCRIPTION", "petAdded", "Subscriptions"),
    ]
    page = to_html(reference.markdown)
    text = plain(page)
    for op in reference.operations:
        assert heading_with_id(page, op.anchor) == f"{op.method} {op.path}"
    assert reference.operations[0].summary == "one pet"
    assert '<a href="#type-kind"><code>Kind</code></a>' in page  # argument type linked
    assert "Returns: [Pet!]!" in text
    for kind, name in [("enum", "Kind"), ("union", "SearchResult"), ("input", "NewPet")]:
        assert count_ids(page, f"type-{name.lower()}") == 1
        assert heading_with_id(page, f"type-{name.lower()}") == name
        assert f"{kind}" in text
    assert "union of Pet, Owner" in text
    assert "implements Named, Node" in text
    assert '["a", "b"]' in text  # an input field default
    assert "DOG" in text and "a dog" in text


def test_graphql_source_is_a_real_code_block() -> None:
    reference = render_api(name="pets", api_type="graphql", definition=SDL)
    assert reference.markdown.rstrip().endswith("```")
    assert "```graphql\n" in reference.markdown
    assert "directive @key(fields: String!) repeatable on OBJECT | INTERFACE" in plain(
        to_html(reference.markdown)
    )


PROTO = """
syntax = "proto3";
package shop.v1;
import "google/protobuf/timestamp.proto";
// Orders of the shop.
service Orders {
  option (google.api.default_host) = "orders.example.com";
  // Streams orders
  rpc Watch (stream WatchRequest) returns (stream Order) {
    option (google.api.http) = { get: "/v1/orders" };
  }
  rpc Get(GetRequest) returns (.shop.v1.Order);
}
message Order {
  string id = 1; // not the doc of items
  repeated Item items = 2 [deprecated = true];
  map<string, int32> counts = 3;
  oneof payment { string card = 4; string cash = 5; }
  message Item { string sku = 1; }
  enum Status { option allow_alias = true; UNKNOWN = 0; DONE = 1 [deprecated = true]; }
  reserved 8, 9 to 11;
  google.protobuf.Timestamp created = 6;
}
message WatchRequest {}
message GetRequest { string id = 1; }
"""


def test_proto_services_methods_messages_and_enums() -> None:
    reference = render_api(name="shop", api_type="grpc", definition=PROTO)
    assert reference.problems == []
    assert [(op.method, op.path, op.anchor) for op in reference.operations] == [
        ("RPC", "Orders/Watch", "op-orders-watch"),
        ("RPC", "Orders/Get", "op-orders-get"),
    ]
    page = to_html(reference.markdown)
    text = plain(page)
    assert "Package shop.v1 · proto3" in text
    assert "Orders of the shop." in text
    assert "Request: stream WatchRequest → Response: stream Order" in text
    assert "client streaming and server streaming" in text
    assert '<a href="#message-order"><code>.shop.v1.Order</code></a>' in page
    assert '<a href="#message-order-item"><code>Item</code></a>' in page  # nested, relative
    assert "<code>map&lt;string, int32&gt;</code>" in page
    assert "not the doc of items" not in text.split("Source")[0]  # trailing comments stay put
    for anchor in ("message-order", "message-order-item", "enum-order-status"):
        assert count_ids(page, anchor) == 1
    for field in ("card", "cash", "created", "UNKNOWN", "DONE"):
        assert f"<code>{field}</code>" in page


ASYNCAPI_3 = """\
asyncapi: 3.0.0
info: {title: Accounts, version: 1.0.0}
servers:
  production:
    host: broker.example.com:{port}
    pathname: /v1
    protocol: amqp
    variables:
      port: {default: "5672"}
channels:
  userSignedup:
    address: user/signedup
    messages:
      UserSignedUp: {$ref: '#/components/messages/UserSignedUp'}
operations:
  sendUserSignedup:
    action: send
    channel: {$ref: '#/channels/userSignedup'}
    summary: Tell others a user signed up
    messages:
      - $ref: '#/channels/userSignedup/messages/UserSignedUp'
  onUserSignedup:
    action: receive
    channel: {$ref: '#/channels/userSignedup'}
components:
  messages:
    UserSignedUp:
      name: UserSignedUp
      contentType: application/json
      payload: {$ref: '#/components/schemas/UserSignedUpPayload'}
      examples:
        - name: alice
          payload: {displayName: Alice}
  schemas:
    UserSignedUpPayload:
      type: object
      properties:
        displayName: {type: string, description: Name of the user}
"""


def test_asyncapi_3_operations_are_grouped_by_channel() -> None:
    reference = render_api(name="accounts", api_type="asyncapi", definition=ASYNCAPI_3)
    assert (reference.format, reference.problems) == ("asyncapi-3", [])
    assert [(op.method, op.path, op.operation_id) for op in reference.operations] == [
        ("SEND", "user/signedup", "sendUserSignedup"),
        ("RECEIVE", "user/signedup", "onUserSignedup"),
    ]
    page = to_html(reference.markdown)
    text = plain(page)
    assert "broker.example.com:5672/v1" in text
    assert "Message UserSignedUp" in text
    assert '"displayName": "Alice"' in text
    assert count_ids(page, "schema-usersigneduppayload") == 1
    assert page.index('id="channel-user-signedup"') < page.index('id="op-sendusersignedup"')


def test_asyncapi_with_a_dangling_message_ref_is_an_error() -> None:
    broken = ASYNCAPI_3.replace("#/components/messages/UserSignedUp", "#/components/messages/Nope")
    reference = render_api(name="accounts", api_type="asyncapi", definition=broken)
    (problem,) = reference.problems
    assert problem.pointer == ("channels", "userSignedup", "messages", "UserSignedUp", "$ref")
    assert problem.message == (
        "$ref '#/components/messages/Nope' points at nothing (no components.messages.Nope)"
    )


def test_trpc_procedures_are_found_in_the_router() -> None:
    source = textwrap.dedent(
        """\
        export const appRouter = router({
          list: publicProcedure.query(() => []),
          add: protectedProcedure.input(z.string()).mutation(({ input }) => input),
          onAdd: publicProcedure.subscription(() => observable(() => {})),
        });
        """
    )
    reference = render_api(name="t", api_type="trpc", definition=source)
    assert [(op.method, op.path) for op in reference.operations] == [
        ("QUERY", "list"),
        ("MUTATION", "add"),
        ("SUBSCRIPTION", "onAdd"),
    ]
    assert "```typescript\n" in reference.markdown


def test_other_types_are_shown_as_highlighted_source() -> None:
    avro = '{"type": "record", "name": "User", "fields": []}'
    reference = render_api(name="users", api_type="avro", definition=avro)
    assert (reference.format, reference.operations, reference.problems) == ("unknown", [], [])
    assert "```json\n" in reference.markdown
    assert "avro definitions are not rendered as a reference" in plain(to_html(reference.markdown))
    wsdl = render_api(name="soap", api_type="wsdl", definition="<definitions/>")
    assert "```xml\n" in wsdl.markdown


def test_an_openapi_document_is_found_whatever_the_declared_type() -> None:
    text = "openapi: 3.1.0\ninfo: {title: Sniffed, version: '1'}\npaths: {}\n"
    reference = render_api(name="x", api_type="rest", definition=text)
    assert (reference.format, reference.title) == ("openapi-3.1", "Sniffed")


def test_a_parsed_definition_renders_like_its_text(tmp_path: Path) -> None:
    text = "openapi: 3.0.3\ninfo: {title: Pets, version: '2'}\npaths:\n  /pets:\n    get:\n"
    text += "      responses: {'200': {description: ok}}\n"
    from_text = render_api(name="p", api_type="openapi", definition=text)
    parsed = {
        "openapi": "3.0.3",
        "info": {"title": "Pets", "version": "2"},
        "paths": {"/pets": {"get": {"responses": {"200": {"description": "ok"}}}}},
    }
    from_dict = render_api(name="p", api_type="openapi", definition=parsed)
    assert from_dict == from_text


def test_a_title_given_by_the_entity_wins() -> None:
    text = "openapi: 3.1.0\ninfo: {title: From the document, version: '1'}\npaths: {}\n"
    reference = render_api(name="x", api_type="openapi", definition=text, title="Entity title")
    assert reference.title == "Entity title"
    assert reference.markdown.startswith("# Entity title\n")
