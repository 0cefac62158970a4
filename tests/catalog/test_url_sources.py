"""Allow-listed URLs are fetched from a real HTTP server on loopback; nothing else is."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from portal.catalog import parse_ref
from tests.conftest import GROUP_A, MakeCatalog, component, formatted

PAGES = {
    "/defs/orders.yml": (200, "openapi: 3.0.0\n"),
    "/teams.yaml": (200, GROUP_A),
    "/huge.yml": (200, "x" * 5000),
    "/gone.yml": (404, "not here"),
}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/redirect.yml":
            self.send_response(302)
            self.send_header("Location", "http://example.com/evil.yml")
            self.end_headers()
            return
        status, body = PAGES.get(self.path, (404, "missing"))
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:  # keep test output quiet
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def api(url: str) -> str:
    return (
        "apiVersion: backstage.io/v1alpha1\nkind: API\nmetadata:\n  name: orders-api\n"
        "spec:\n  type: openapi\n  lifecycle: production\n  owner: team-a\n"
        f"  definition:\n    $text: {url}\n"
    )


def test_allow_listed_url_is_fetched(make_catalog: MakeCatalog, server: str) -> None:
    result = make_catalog(
        {"catalog/a.yaml": api(f"{server}/defs/orders.yml"), "catalog/team.yaml": GROUP_A},
        catalog_allowed_urls=[f"{server}/defs/"],
    )
    assert result.report.problems == []
    entity = result.catalog.get(parse_ref("api:orders-api"))
    assert entity is not None and entity.spec["definition"] == "openapi: 3.0.0\n"


def test_prefix_must_match_not_just_the_host(make_catalog: MakeCatalog, server: str) -> None:
    result = make_catalog(
        {"catalog/a.yaml": api(f"{server}/teams.yaml"), "catalog/team.yaml": GROUP_A},
        catalog_allowed_urls=[f"{server}/defs/"],
    )
    (problem,) = result.report.problems
    assert problem.severity == "warning"
    assert "is a URL outside the allow-list, so it is not fetched" in problem.message


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/redirect.yml", "answered HTTP 302"),
        ("/gone.yml", "answered HTTP 404"),
        ("/huge.yml", "is over the limit of 1,000 bytes (PORTAL_MAX_FILE_BYTES)"),
    ],
)
def test_fetch_failures_are_errors_without_following_redirects(
    make_catalog: MakeCatalog, server: str, path: str, message: str
) -> None:
    result = make_catalog(
        {"catalog/a.yaml": api(f"{server}{path}"), "catalog/team.yaml": GROUP_A},
        catalog_allowed_urls=[server],
        max_file_bytes=1000,
    )
    (problem,) = result.report.problems
    assert problem.format().startswith("catalog/a.yaml:10:12: error: spec.definition.$text: ")
    assert message in problem.message


def test_location_can_point_at_an_allowed_url(make_catalog: MakeCatalog, server: str) -> None:
    location = (
        "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata:\n  name: remote\n"
        f"spec:\n  type: url\n  target: {server}/teams.yaml\n"
    )
    result = make_catalog(
        {"catalog/all.yaml": location, "catalog/a.yaml": component()},
        catalog_allowed_urls=[server],
    )
    assert formatted(result) == []
    team = result.catalog.get(parse_ref("group:team-a"))
    assert team is not None and team.origin.display == f"{server}/teams.yaml"
