"""Search through the real app: deep links, permissions, incremental indexing, page and CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from portal.exceptions import ConfigError
from portal.model import load_model
from portal.search import SearchIndex, documents
from portal.settings import Settings
from portal.sites.build import build_sites
from portal.web.runtime import Portal
from portal.web.search import SearchOut
from tests.auth.test_access import SSO, HeaderUser
from tests.conftest import component
from tests.sites.conftest import small_repo
from tests.web.conftest import client_for, settings_for

MARKER = "SECRET-INTERNAL-MARKER"


def indexed(http: TestClient) -> SearchIndex:
    portal: Portal = http.app.state.portal  # type: ignore[attr-defined]
    index = portal.search_index
    assert index is not None
    assert index.wait_idle(120), "the search index did not catch up"
    assert index.error is None, index.error
    return index


@pytest.fixture(scope="module")
def built_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = small_repo(tmp_path_factory.mktemp("search") / "repo")
    build_sites(settings_for(root))
    return root


@pytest.fixture
def http(built_repo: Path) -> Iterator[TestClient]:
    test_client, _ = client_for(settings_for(built_repo))
    with test_client:
        indexed(test_client)
        yield test_client


def hits_by_id(answer: dict[str, object]) -> dict[str, dict[str, object]]:
    return {hit["id"]: hit for hit in answer["hits"]}  # type: ignore[attr-defined,index]


def test_hits_deep_link_to_sections_entities_and_operations(http: TestClient) -> None:
    runbook = http.get("/api/v1/search", params={"q": "restart workers"}).json()
    section = hits_by_id(runbook)["page:internal/runbook.md#restart"]
    assert section["url"] == "/docs/staff/internal/runbook/#restart"
    assert section["audience"] == "staff"  # the widest internal site
    assert "<mark>" in str(section["snippet"])

    service = hits_by_id(http.get("/api/v1/search", params={"q": "things-service"}).json())
    assert service["entity:component:default/things-service"]["url"] == (
        "/catalog/component/default/things-service"
    )

    things = http.get("/api/v1/search", params={"q": "list things", "kind": "operation"}).json()
    [operation] = [h for h in things["hits"] if h["ref"] == "api:default/public-api"]
    assert str(operation["url"]).startswith("/docs/staff/apis/default/public-api/#")
    assert things["facets"]["type"] == {"operation": things["total"]}

    # A search box that shows no facets asks for none: the same hits, nothing counted.
    params = {"q": "list things", "kind": "operation", "facets": "false"}
    quick = http.get("/api/v1/search", params=params).json()
    assert [h["id"] for h in quick["hits"]] == [h["id"] for h in things["hits"]]
    assert quick["total"] == things["total"]
    assert quick["facets"] == {"type": {}, "kind": {}, "owner": {}, "tag": {}}


@pytest.mark.parametrize(
    "params",
    [
        {"q": "restart workers"},
        {"q": "list things", "kind": "operation", "limit": "1"},
        {"q": "things", "facets": "false"},
        {"q": "no-such-word-anywhere"},
    ],
)
def test_every_answer_is_what_the_openapi_document_says(
    http: TestClient, params: dict[str, str]
) -> None:
    answer = http.get("/api/v1/search", params=params)
    assert answer.status_code == 200
    body = answer.json()
    # The route writes its JSON itself: it must still be exactly the documented shape.
    assert SearchOut.model_validate(body).model_dump(mode="json") == body
    schema = http.get("/api/v1/openapi.json").json()["paths"]["/search"]["get"]
    assert schema["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/SearchOut"
    }


def test_a_site_search_box_keeps_links_in_its_own_site(http: TestClient) -> None:
    params = {"q": "restart workers", "prefer": "builders"}
    section = hits_by_id(http.get("/api/v1/search", params=params).json())[
        "page:internal/runbook.md#restart"
    ]
    assert section["url"] == "/docs/builders/internal/runbook/#restart"
    # A site that does not hold the hit: the widest one the reader may read instead.
    elsewhere = {"q": "escalation list", "prefer": "builders"}
    hit = hits_by_id(http.get("/api/v1/search", params=elsewhere).json())[
        "page:ops/escalation.md#who"
    ]
    assert str(hit["url"]).startswith("/docs/staff/")


def test_every_link_resolves_in_the_built_sites(http: TestClient) -> None:
    answer = http.get("/api/v1/search", params={"q": "", "limit": 100}).json()
    assert answer["total"] == len(answer["hits"]) > 5
    for hit in answer["hits"]:
        path, _, anchor = str(hit["url"]).partition("#")
        page = http.get(path)
        assert page.status_code == 200, (hit["id"], path)
        if anchor:
            assert f'id="{anchor}"' in page.text, (hit["id"], anchor)


def test_bad_parameters_are_400_naming_the_parameter(http: TestClient) -> None:
    for params, name in [
        ({"q": "x", "limit": "0"}, "limit"),
        ({"q": "x", "cursor": "abc"}, "cursor"),
        ({"q": "x", "audience": "nobody"}, "audience"),
        ({"q": "x" * 501}, "q"),
    ]:
        answer = http.get("/api/v1/search", params=params)
        assert answer.status_code == 400, params
        assert answer.json()["detail"].startswith(name), answer.json()
    assert http.get("/api/v1/search/suggest", params={"q": "r", "limit": 50}).status_code == 400


def test_pages_follow_the_cursor(http: TestClient) -> None:
    first = http.get("/api/v1/search", params={"q": "", "limit": 2}).json()
    second = http.get(
        "/api/v1/search", params={"q": "", "limit": 2, "cursor": first["next_cursor"]}
    ).json()
    assert first["next_cursor"] == "2"
    assert not {h["id"] for h in first["hits"]} & {h["id"] for h in second["hits"]}


def test_suggest_completes_titles(http: TestClient) -> None:
    answer = http.get("/api/v1/search/suggest", params={"q": "runb"}).json()
    assert answer["suggestions"][0]["id"] == "page:internal/runbook.md"
    assert answer["suggestions"][0]["url"] == "/docs/staff/internal/runbook/"


def test_the_page_shows_marked_snippets_facets_and_links(http: TestClient) -> None:
    page = http.get("/search", params={"q": "restart"})
    assert page.status_code == 200
    assert 'href="/docs/staff/internal/runbook/#restart"' in page.text
    assert "<mark>Restart</mark>" in page.text or "<mark>restart</mark>" in page.text
    assert 'href="/search?q=restart&amp;kind=page"' in page.text  # a facet, as a link
    assert '<form class="portal-header-search" method="get" action="/search"' in page.text
    tagged = http.get("/search", params={"q": "<script>alert(1)</script>"})
    assert "<script>alert" not in tagged.text
    bad = http.get("/search", params={"q": "x", "cursor": "nope"})
    assert bad.status_code == 400
    assert "cursor" in bad.text


# -- permissions ------------------------------------------------------------------------


@pytest.fixture
def sso(built_repo: Path) -> Iterator[TestClient]:
    test_client, portal = client_for(settings_for(built_repo, **SSO))
    portal.authenticators.append(HeaderUser())
    with test_client:
        indexed(test_client)
        yield test_client


def permitted(root: Path, audience: str) -> list[str]:
    model = load_model(Settings(root=root, data_dir=root / "data"))  # type: ignore[call-arg]
    return [d.id for d in documents(model) if audience in d.audiences]


def test_anonymous_callers_search_only_the_public_audience(
    sso: TestClient, built_repo: Path
) -> None:
    secret = sso.get("/api/v1/search", params={"q": MARKER}).json()
    assert secret["audiences"] == ["partners"]
    assert secret["total"] == 0
    assert secret["hits"] == []
    everything = sso.get("/api/v1/search", params={"q": "", "limit": 100}).json()
    ids = {h["id"] for h in everything["hits"]}
    assert ids == set(permitted(built_repo, "partners"))
    assert everything["total"] == len(ids)
    assert sum(everything["facets"]["type"].values()) == len(ids)  # counts: permitted docs only
    assert not any("internal" in i or "secret" in i for i in ids)
    for hit in everything["hits"]:
        assert str(hit["url"]).startswith("/docs/partners/")  # never a page they cannot open
        assert sso.get(str(hit["url"]).partition("#")[0]).status_code == 200
    denied = sso.get("/api/v1/search", params={"q": "x", "audience": "staff"})
    assert denied.status_code == 401
    assert "sign in to search the staff site" in denied.json()["detail"]
    page = sso.get("/search", params={"q": MARKER})
    assert page.status_code == 200
    assert "0 results" in page.text


def test_a_reader_searching_partners_gets_no_internal_hit(sso: TestClient) -> None:
    reader = {"x-test-user": "rita:"}
    mine = sso.get("/api/v1/search", params={"q": MARKER}, headers=reader).json()
    assert mine["total"] > 0  # a reader sees the internal audiences
    partners = sso.get(
        "/api/v1/search", params={"q": MARKER, "audience": "partners"}, headers=reader
    ).json()
    assert partners["total"] == 0
    assert partners["facets"]["kind"] == {}


# -- indexing ---------------------------------------------------------------------------


def test_registering_reindexes_only_the_new_entity(tmp_path: Path) -> None:
    root = small_repo(tmp_path / "repo")
    http, _portal = client_for(settings_for(root))
    with http:
        index = indexed(http)
        assert index.last is not None and index.last.full
        before = index.syncs
        body = {"descriptor": component("searchable-widget")}
        assert http.post("/api/v1/entities", json=body).status_code == 201
        index = indexed(http)
        assert index.syncs > before
        assert index.last is not None
        assert (index.last.updated, index.last.removed) == (1, 0)
        found = http.get("/api/v1/search", params={"q": "searchable widget"}).json()
        assert found["hits"][0]["id"] == "entity:component:default/searchable-widget"
    # A restart with nothing changed re-indexes nothing.
    again, _ = client_for(settings_for(root))
    with again:
        index = indexed(again)
        assert index.last is not None
        assert (index.last.full, index.last.updated, index.last.removed) == (False, 0, 0)
        assert again.get("/api/v1/search", params={"q": "searchable"}).json()["total"] >= 1


def test_an_unknown_engine_is_a_config_error_naming_the_known_ones(tmp_path: Path) -> None:
    root = small_repo(tmp_path / "repo")
    with pytest.raises(ConfigError) as raised:
        SearchIndex.open(settings_for(root, search_engine="lucene"))
    assert str(raised.value).startswith(
        "setting PORTAL_SEARCH_ENGINE: 'lucene' is not a search engine (known: tantivy, whoosh"
    )


def test_whoosh_serves_the_same_links(tmp_path: Path) -> None:
    root = small_repo(tmp_path / "repo")
    http, _ = client_for(settings_for(root, search_engine="whoosh"))
    with http:
        indexed(http)
        answer = http.get("/api/v1/search", params={"q": "restart workers"}).json()
        assert answer["hits"][0]["url"] == "/docs/staff/internal/runbook/#restart"
    assert (root / "data" / "search" / "whoosh").is_dir()


# -- the command line -------------------------------------------------------------------


def test_cli_search_prints_json_and_text(tmp_path: Path) -> None:
    root = small_repo(tmp_path / "repo")
    env = {**os.environ, "PORTAL_DATA_DIR": str(root / "data")}
    command = [sys.executable, "-m", "portal", "search", "--root", str(root)]
    answer = subprocess.run(
        [*command, "restart workers", "--json"], capture_output=True, text=True, env=env
    )
    assert answer.returncode == 0, answer.stderr
    hits = json.loads(answer.stdout)["hits"]
    assert hits[0]["url"] == "/docs/staff/internal/runbook/#restart"
    partners = subprocess.run(
        [*command, MARKER, "--audience", "partners"], capture_output=True, text=True, env=env
    )
    assert partners.returncode == 0, partners.stderr
    assert MARKER not in partners.stdout
    assert "0 results" in partners.stderr
    unknown = subprocess.run(
        [*command, "x", "--audience", "nobody"], capture_output=True, text=True, env=env
    )
    assert unknown.returncode != 0
    assert "--audience nobody: no such audience (known: staff, builders, partners)" in (
        unknown.stderr
    )


def test_the_postgres_engine_is_chosen_by_settings_when_the_database_is_postgres(
    web_repo: Path,
) -> None:
    from portal.plugins import get_plugin_manager
    from portal.search.service import engine_factories

    plain = settings_for(web_repo)
    assert "postgres" not in engine_factories(get_plugin_manager(web_repo), plain)
    shared = settings_for(web_repo, search_database_url="postgresql://portal@db/portal")
    assert "postgres" in engine_factories(get_plugin_manager(web_repo), shared)
