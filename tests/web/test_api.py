"""The REST API through the real ASGI app: listing, reading, registering, removing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from portal.db import Registration
from portal.db.models import RegisteredEntity
from portal.web.api import openapi_document
from portal.web.runtime import Portal
from tests.conftest import REPO, component
from tests.web.conftest import client_for, settings_for

BOMB = "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]\n" for i in range(1, 9)
)


def registrations(portal: Portal) -> int:
    with portal.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(Registration)) or 0)


def test_lists_every_entity_with_facets(client: TestClient) -> None:
    response = client.get("/api/v1/entities", params={"limit": 200})
    assert response.status_code == 200
    body = response.json()
    names = {item["metadata"]["name"] for item in body["items"]}
    assert {"team-a", "public-api", "secret-internal-api", "things-service"} <= names
    assert body["total"] == len(body["items"])
    kinds = {v["value"]: v["count"] for v in body["facets"]["kind"]}
    assert kinds["api"] == 2
    assert kinds["component"] == 1


def test_filters_and_counts_the_alternatives(client: TestClient) -> None:
    body = client.get("/api/v1/entities", params={"kind": "api", "tag": "public"}).json()
    assert [item["metadata"]["name"] for item in body["items"]] == ["public-api"]
    # The kind facet is counted without the kind filter: components with the tag (none).
    kinds = {v["value"]: (v["count"], v["selected"]) for v in body["facets"]["kind"]}
    assert kinds["api"] == (1, True)


def test_cursor_pagination_walks_every_entity_once(client: TestClient) -> None:
    seen: list[str] = []
    cursor = None
    for _ in range(20):
        params: dict[str, str | int] = {"limit": 1}
        if cursor:
            params["cursor"] = cursor
        body = client.get("/api/v1/entities", params=params).json()
        seen += [item["metadata"]["name"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    total = client.get("/api/v1/entities").json()["total"]
    assert len(seen) == total == len(set(seen))


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"limit": "0"}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"sort": "colour"}, "sort"),
        ({"owner": "Not A Ref!"}, "owner"),
    ],
)
def test_bad_filters_are_400_naming_the_parameter(
    client: TestClient, params: dict[str, str], field: str
) -> None:
    response = client.get("/api/v1/entities", params=params)
    assert response.status_code in (400, 422), response.text
    body = response.json()
    assert body["problems"], body
    assert field in body["problems"][0]["message"]


def test_reads_one_entity_with_its_source(client: TestClient) -> None:
    body = client.get("/api/v1/entities/component/default/things-service").json()
    assert body["spec"]["owner"] == "team-a"
    assert body["source"] == {
        "file": "catalog/service.yaml",
        "line": 4,
        "registered": False,
        "registered_by": None,
    }
    relations = client.get("/api/v1/entities/component/default/things-service/relations").json()
    assert {
        "type": "providesApi",
        "target_ref": "api:default/public-api",
        "target_exists": True,
    } in (relations)


@pytest.mark.parametrize(
    "path", ["/api/v1/entities/component/default/nope", "/api/v1/entities/comp onent/x/y!"]
)
def test_unknown_entities_are_json_404(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert "no" in response.json()["detail"]


def test_dry_run_reports_problems_with_lines_and_stores_nothing(
    client: TestClient, portal_of: Portal
) -> None:
    text = (
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: payments\n"
        "spec:\n  type: service\n  lifecycle: production\n"
    )
    response = client.post("/api/v1/entities?dry_run=true", json={"descriptor": text})
    assert response.status_code == 200
    body = response.json()
    assert body["dry_run"] is True and body["registered"] is False
    messages = [f"{p['file']}:{p['line']}: {p['message']}" for p in body["problems"]]
    assert any(m.startswith("catalog-info.yaml:6:") and "owner" in m for m in messages), messages
    assert registrations(portal_of) == 0


def test_registers_and_shows_at_once(client: TestClient, portal_of: Portal) -> None:
    text = component("payments", owner="team-a")
    dry = client.post("/api/v1/entities?dry_run=true", json={"descriptor": text}).json()
    assert dry["entities"] == ["component:default/payments"] and dry["problems"] == []
    assert client.get("/api/v1/entities/component/default/payments").status_code == 404

    response = client.post("/api/v1/entities", json={"descriptor": text, "filename": "pay.yaml"})
    assert response.status_code == 201, response.text
    assert response.json()["registered"] is True
    body = client.get("/api/v1/entities/component/default/payments").json()
    assert body["source"]["registered"] is True
    assert body["source"]["registered_by"] == "dev@localhost"
    # Relations both ways with the file-based catalog.
    team = client.get("/api/v1/entities/group/default/team-a/relations").json()
    assert {
        "type": "ownerOf",
        "target_ref": "component:default/payments",
        "target_exists": True,
    } in team
    listed = client.get("/api/v1/entities", params={"q": "payments"}).json()
    assert [i["metadata"]["name"] for i in listed["items"]] == ["payments"]


def test_registrations_survive_a_restart(web_repo: Path) -> None:
    settings = settings_for(web_repo)
    first, _ = client_for(settings)
    with first:
        assert (
            first.post("/api/v1/entities", json={"descriptor": component("kept")}).status_code
            == 201
        )
    second, _ = client_for(settings)
    with second:
        assert second.get("/api/v1/entities/component/default/kept").status_code == 200


def test_a_file_entity_wins_a_name_clash_and_the_answer_says_so(
    client: TestClient, portal_of: Portal
) -> None:
    text = component("things-service")
    response = client.post("/api/v1/entities", json={"descriptor": text})
    assert response.status_code == 422
    body = response.json()
    assert any("already defined at catalog/service.yaml" in p["message"] for p in body["problems"])
    dry = client.post("/api/v1/entities?dry_run=true", json={"descriptor": text}).json()
    assert dry["shadowed"] == [
        "component:default/things-service (defined in catalog/service.yaml:4:9)"
    ]
    assert registrations(portal_of) == 0


def test_the_same_name_cannot_be_registered_twice(client: TestClient, portal_of: Portal) -> None:
    assert (
        client.post("/api/v1/entities", json={"descriptor": component("twice")}).status_code == 201
    )
    again = client.post("/api/v1/entities", json={"descriptor": component("twice")})
    assert again.status_code == 422
    assert "already defined at registered/1/catalog-info.yaml" in again.text
    assert registrations(portal_of) == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("kind: [unclosed\n", "catalog-info.yaml:2:"),
        (BOMB, "aliases"),
        ("- just\n- a list\n", "a catalog document must be a mapping"),
        (
            "apiVersion: backstage.io/v1alpha1\nkind: Spaceship\nmetadata:\n  name: x\nspec: {}\n",
            "Spaceship",
        ),
        ("", "is empty"),
        (
            "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: Not Valid!\n",
            "name",
        ),
    ],
)
def test_bad_descriptors_are_422_with_the_reason(
    client: TestClient, portal_of: Portal, text: str, expected: str
) -> None:
    response = client.post("/api/v1/entities", json={"descriptor": text})
    assert response.status_code == 422, response.text
    problems = response.json()["problems"]
    assert any(expected in f"{p['file']}:{p['line']}: {p['message']}" for p in problems), problems
    assert registrations(portal_of) == 0


def test_an_oversized_descriptor_is_refused_before_parsing(web_repo: Path) -> None:
    test_client, portal = client_for(settings_for(web_repo, max_upload_bytes=2000))
    with test_client:
        big = component("big") + "#" * 3000 + "\n"
        response = test_client.post("/api/v1/entities", json={"descriptor": big})
        assert response.status_code == 422
        assert "descriptors may be at most 2,000 bytes" in response.text
        huge = test_client.post("/api/v1/entities", json={"descriptor": "x" * 100_000})
        assert huge.status_code == 413
        assert "too large" in huge.text
        assert registrations(portal) == 0


def test_body_must_give_exactly_one_source(client: TestClient) -> None:
    both = client.post("/api/v1/entities", json={"descriptor": "x", "target": "y.yaml"})
    assert both.status_code == 422
    assert "exactly one" in both.json()["detail"]
    wrong_type = client.post("/api/v1/entities", json={"descriptor": 5})
    assert wrong_type.status_code == 422
    assert wrong_type.json()["problems"][0]["message"].startswith("body.descriptor")
    not_json = client.post(
        "/api/v1/entities", content=b"{", headers={"content-type": "application/json"}
    )
    assert not_json.status_code == 422


def test_registers_a_location_inside_the_repository(
    client: TestClient, web_repo: Path, portal_of: Portal
) -> None:
    path = web_repo / "services" / "billing" / "catalog-info.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(component("billing"), encoding="utf-8")
    response = client.post(
        "/api/v1/entities", json={"target": "services/billing/catalog-info.yaml"}
    )
    assert response.status_code == 201, response.text
    assert response.json()["entities"] == ["component:default/billing"]
    body = client.get("/api/v1/entities/component/default/billing").json()
    assert body["source"]["file"] == "services/billing/catalog-info.yaml"
    again = client.post("/api/v1/entities", json={"target": "services/billing/catalog-info.yaml"})
    assert again.status_code in (409, 422)
    assert registrations(portal_of) == 1


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("../outside.yaml", "nor contain '..'"),
        ("/etc/passwd.yaml", "absolute"),
        ("services/missing/catalog-info.yaml", "no such file"),
        ("README.md", "YAML file"),
        ("catalog/service.yaml", "already part of the catalog"),
    ],
)
def test_bad_locations_are_refused(
    client: TestClient, portal_of: Portal, target: str, expected: str
) -> None:
    response = client.post("/api/v1/entities", json={"target": target})
    assert response.status_code == 422, response.text
    assert expected in response.text
    assert registrations(portal_of) == 0


def test_removes_a_registration_but_not_a_file_entity(
    client: TestClient, portal_of: Portal
) -> None:
    client.post("/api/v1/entities", json={"descriptor": component("temporary")})
    gone = client.delete("/api/v1/entities/component/default/temporary")
    assert gone.status_code == 200
    assert gone.json() == {"removed": ["component:default/temporary"]}
    assert client.get("/api/v1/entities/component/default/temporary").status_code == 404
    assert client.delete("/api/v1/entities/component/default/temporary").status_code == 404
    file_entity = client.delete("/api/v1/entities/component/default/things-service")
    assert file_entity.status_code == 409
    assert "catalog/service.yaml" in file_entity.json()["detail"]
    assert registrations(portal_of) == 0


def test_a_name_taken_meanwhile_leaves_no_half_registration(
    client: TestClient, portal_of: Portal
) -> None:
    # Another replica stored the name between our check and our write: the unique
    # key refuses the second row, and the registration row goes with it.
    with portal_of.db.session() as session:
        other = Registration(filename="x.yaml", descriptor="x", registered_by="other")
        other.entities = [RegisteredEntity(ref="component:default/raced")]
        session.add(other)
    response = client.post("/api/v1/entities", json={"descriptor": component("raced")})
    assert response.status_code == 409, response.text
    with portal_of.db.session() as session:
        rows = session.scalars(select(Registration)).all()
    assert [r.registered_by for r in rows] == ["other"]


def test_openapi_document_is_served_and_committed(client: TestClient) -> None:
    served = client.get("/api/v1/openapi.json")
    assert served.status_code == 200
    document = served.json()
    assert "/entities" in document["paths"]
    assert set(document["paths"]["/entities"]) == {"get", "post"}
    committed = REPO / "catalog" / "apis" / "definitions" / "developer-portal-api.openapi.json"
    assert json.loads(committed.read_text()) == json.loads(openapi_document()), (
        "the committed OpenAPI document is stale: run "
        "`portal openapi --out catalog/apis/definitions/developer-portal-api.openapi.json`"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            component("leak").replace(
                "metadata:\n  name: leak\n",
                "metadata:\n  name: leak\n  description:\n    $text: .env\n",
            ),
            "$text reads a file",
        ),
        (
            "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata:\n  name: all\n"
            "spec:\n  targets: ['./**/*.yaml']\n",
            "cannot be a Location",
        ),
    ],
)
def test_a_pasted_descriptor_cannot_read_the_portals_files(
    client: TestClient, web_repo: Path, portal_of: Portal, text: str, expected: str
) -> None:
    (web_repo / ".env").write_text("PORTAL_SESSION_SECRET=do-not-show-me\n", encoding="utf-8")
    response = client.post("/api/v1/entities", json={"descriptor": text})
    assert response.status_code == 422, response.text
    assert expected in response.text
    assert "do-not-show-me" not in response.text
    assert registrations(portal_of) == 0


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("catalog/*.yaml", "one file"),
        (".github/catalog-info.yaml", "hidden"),
        ("data/x.yaml", "the portal's own files"),
        ("site/staff/x.yaml", "the portal's own files"),
    ],
)
def test_registered_paths_are_single_visible_catalog_files(
    client: TestClient, target: str, expected: str
) -> None:
    response = client.post("/api/v1/entities", json={"target": target})
    assert response.status_code == 422
    assert expected in response.text


def test_a_forged_cursor_is_a_400_not_a_500(client: TestClient) -> None:
    import base64
    import hashlib

    payload = b"[" * 1400
    digest = hashlib.blake2b(payload, digest_size=6).digest()
    forged = base64.urlsafe_b64encode(digest + payload).decode().rstrip("=")
    response = client.get("/api/v1/entities", params={"cursor": forged})
    assert response.status_code == 400
    assert "cursor" in response.json()["problems"][0]["message"]


def test_a_chunked_body_over_the_limit_is_413(web_repo: Path) -> None:
    test_client, portal = client_for(settings_for(web_repo, max_upload_bytes=1000))
    with test_client:

        def chunks():  # type: ignore[no-untyped-def]
            yield b'{"descriptor": "'
            for _ in range(100):  # 100 kB: past the body limit (2 x 1,000 + 64 KiB)
                yield b"x" * 1000
            yield b'"}'

        response = test_client.post(
            "/api/v1/entities", content=chunks(), headers={"content-type": "application/json"}
        )
        assert response.status_code == 413, response.text
        assert registrations(portal) == 0
