"""The server-rendered pages through the real ASGI app: home, browser, entity, registration."""

from __future__ import annotations

from pathlib import Path

from starlette.testclient import TestClient

from portal.web.runtime import Portal
from tests.conftest import component, write_files
from tests.web.conftest import client_for, settings_for


def test_home_names_its_readers_audiences_and_the_development_identity(
    client: TestClient,
) -> None:
    page = client.get("/")
    assert page.status_code == 200
    html = page.text
    for audience in ("/docs/staff/", "/docs/builders/", "/docs/partners/"):
        assert f'href="{audience}"' in html
    assert "Development identity" in html and "dev@localhost" in html
    assert "Recently changed" in html
    assert 'href="/catalog/component/default/things-service"' in html
    # One look with the sites: mkdocs-material's own stylesheet, served locally.
    assert "/static/material/stylesheets/main." in html
    sheet = html.split('href="/static/material/stylesheets/main.', 1)[1].split('"', 1)[0]
    css = client.get("/static/material/stylesheets/main." + sheet)
    assert css.status_code == 200
    assert css.headers["cache-control"] == "public, max-age=31536000, immutable"


def test_every_page_shows_the_development_identity(client: TestClient) -> None:
    for path in ("/", "/catalog", "/register", "/catalog/component/default/things-service"):
        assert "Development identity" in client.get(path).text, path


def test_development_identity_refuses_other_machines(web_repo: Path) -> None:
    test_client, _ = client_for(settings_for(web_repo))
    test_client_remote = TestClient(test_client.app, client=("192.0.2.10", 4000))
    with test_client_remote:
        response = test_client_remote.get("/")
    assert response.status_code == 403
    assert "loopback" in response.text


def test_catalog_browser_filters_with_facets_and_pages(client: TestClient) -> None:
    html = client.get("/catalog", params={"kind": "api"}).text
    assert "public-api" in html and "secret-internal-api" in html
    assert "things-service" not in html.split("<tbody>", 1)[1]
    assert "2 entities" in html
    # Facet links toggle a value; counts shown next to each.
    assert 'href="/catalog?"' in html or "Clear all filters" in html
    one = client.get("/catalog", params={"limit": "1"}).text
    assert 'rel="next"' in one
    next_link = one.split('rel="next"', 1)[0].rsplit('href="', 1)[1].split('"', 1)[0]
    second = client.get(next_link.replace("&amp;", "&"))
    assert second.status_code == 200
    assert 'rel="prev"' in second.text


def test_catalog_browser_explains_a_bad_cursor(client: TestClient) -> None:
    response = client.get("/catalog", params={"cursor": "garbage"})
    assert response.status_code == 400
    assert "cursor" in response.text


def test_entity_page_has_relations_graph_and_site_links(client: TestClient) -> None:
    html = client.get("/catalog/component/default/things-service").text
    assert "<svg" in html and "Relations of component:default/things-service" in html
    assert 'href="/catalog/api/default/public-api"' in html
    assert "providesApi" in html
    assert "/docs/staff/catalog/component/default/things-service/" in html
    assert "catalog/service.yaml" in html
    assert "Scorecard" in html and "Live status" in html
    svg = client.get("/catalog/component/default/things-service/graph.svg")
    assert svg.headers["content-type"].startswith("image/svg+xml")


def test_unknown_entity_page_suggests_close_names(client: TestClient) -> None:
    response = client.get("/catalog/component/default/things")
    assert response.status_code == 404
    assert "/catalog/component/default/things-service" in response.text


def test_registration_form_checks_then_registers(client: TestClient, portal_of: Portal) -> None:
    bad = (
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: orders\n"
        "spec:\n  type: service\n"
    )
    checked = client.post("/register", data={"descriptor": bad, "action": "check"})
    assert checked.status_code == 422
    assert "catalog-info.yaml:6:" in checked.text and "lifecycle" in checked.text
    assert bad.split("\n")[0] in checked.text  # the text is kept for fixing

    good = component("orders")
    ok = client.post("/register", data={"descriptor": good, "action": "check"})
    assert ok.status_code == 200 and "No errors" in ok.text
    assert client.get("/catalog/component/default/orders").status_code == 404

    done = client.post("/register", data={"descriptor": good, "action": "register"})
    assert done.status_code == 200
    assert 'href="/catalog/component/default/orders"' in done.text
    assert client.get("/catalog/component/default/orders").status_code == 200
    assert "orders" in client.get("/catalog", params={"q": "orders"}).text


def test_registration_form_accepts_an_upload_and_says_when_a_file_wins(
    client: TestClient,
) -> None:
    files = {"upload": ("things.yaml", component("things-service").encode(), "text/yaml")}
    response = client.post("/register", data={"action": "register"}, files=files)
    assert response.status_code == 422
    assert (
        "the file&#39;s entity wins" in response.text or "the file's entity wins" in response.text
    )
    assert "catalog/service.yaml" in response.text
    binary = {"upload": ("x.yaml", b"\xff\xfe\x00bad", "text/yaml")}
    refused = client.post("/register", data={"action": "check"}, files=binary)
    assert refused.status_code == 422
    assert "is not UTF-8" in refused.text


def test_a_registration_a_file_later_takes_over_is_left_out_and_listed(web_repo: Path) -> None:
    settings = settings_for(web_repo)
    first, _ = client_for(settings)
    with first:
        assert (
            first.post("/api/v1/entities", json={"descriptor": component("late")}).status_code
            == 201
        )
    write_files(web_repo, {"catalog/late.yaml": component("late", owner="team-a")})
    second, _ = client_for(settings)
    with second:
        body = second.get("/api/v1/entities/component/default/late").json()
        assert body["source"]["file"] == "catalog/late.yaml"
        page = second.get("/register").text
        assert "Registrations left out of the catalog" in page
        assert "already defined at catalog/late.yaml" in page


def test_unregister_from_the_entity_page(client: TestClient) -> None:
    client.post("/register", data={"descriptor": component("brief"), "action": "register"})
    page = client.get("/catalog/component/default/brief").text
    assert "Remove this registration" in page
    removed = client.post("/catalog/component/default/brief/unregister")
    assert removed.status_code == 200 and "component:default/brief" in removed.text
    assert client.get("/catalog/component/default/brief").status_code == 404


def test_a_selected_facet_link_unselects_it_whatever_its_spelling(client: TestClient) -> None:
    html = client.get("/catalog", params={"owner": "team-a", "kind": "api"}).text
    assert 'href="/catalog?kind=api"' in html  # the owner link drops group:default/team-a
    assert "owner=group%3Adefault%2Fteam-a" in html  # the kind link keeps the owner


def test_security_headers_on_every_response(client: TestClient) -> None:
    for path in ("/", "/catalog", "/healthz", "/api/v1/entities", "/nope"):
        headers = client.get(path).headers
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["referrer-policy"] == "same-origin", path
        policy = headers["content-security-policy"]
        assert "script-src 'self';" in policy and "frame-ancestors 'self'" in policy, path
        assert "strict-transport-security" not in headers  # plain http on loopback
    tls = TestClient(client.app, base_url="https://127.0.0.1", client=("127.0.0.1", 1))
    with tls:
        assert tls.get("/healthz").headers["strict-transport-security"] == "max-age=31536000"


def test_development_identity_refuses_a_foreign_host_name(client: TestClient) -> None:
    # DNS rebinding: a page of evil.example whose name now points at 127.0.0.1.
    response = client.get("/", headers={"host": "evil.example:8000"})
    assert response.status_code == 403
    assert "loopback" in response.text
    assert client.get("/", headers={"host": "localhost:8000"}).status_code == 200
