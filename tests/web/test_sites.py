"""The built sites under /docs/<audience>/: headers, validators, 404s and path safety."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from portal.sites.build import build_sites
from tests.conftest import component
from tests.sites.conftest import small_repo
from tests.web.conftest import client_for, settings_for


@pytest.fixture(scope="module")
def built_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = small_repo(tmp_path_factory.mktemp("sites") / "repo")
    build_sites(settings_for(root))
    (root / "secret.txt").write_text("outside the site", encoding="utf-8")
    return root


@pytest.fixture
def sites(built_repo: Path) -> Iterator[TestClient]:
    test_client, _ = client_for(settings_for(built_repo))
    with test_client:
        yield test_client


def test_serves_each_audience_with_validators(sites: TestClient) -> None:
    page = sites.get("/docs/staff/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert (
        page.headers["cache-control"] == "no-cache, private"
    )  # an internal audience: no shared cache
    etag, modified = page.headers["etag"], page.headers["last-modified"]
    assert sites.get("/docs/staff/", headers={"if-none-match": etag}).status_code == 304
    assert sites.get("/docs/staff/", headers={"if-modified-since": modified}).status_code == 304
    assert sites.get("/docs/staff/", headers={"if-none-match": '"other"'}).status_code == 200


def test_hashed_assets_are_immutable(sites: TestClient, built_repo: Path) -> None:
    stylesheets = built_repo / "site" / "staff" / "assets" / "stylesheets"
    main = next(
        p.name for p in stylesheets.iterdir() if p.name.startswith("main.") and p.suffix == ".css"
    )
    response = sites.get(f"/docs/staff/assets/stylesheets/{main}")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "private, max-age=31536000, immutable"


def test_directories_redirect_then_serve_their_index_never_a_listing(sites: TestClient) -> None:
    response = sites.get("/docs/staff/catalog")
    assert response.status_code == 308
    assert response.headers["location"] == "/docs/staff/catalog/"
    assert sites.get("/docs/staff/catalog/").status_code == 200
    assets = sites.get("/docs/staff/assets/")
    assert assets.status_code == 404  # a folder without index.html is not listed
    assert "Index of" not in assets.text
    assert sites.get("/docs/staff").status_code == 308


@pytest.mark.parametrize(
    "path",
    [
        "/docs/staff/../../secret.txt",
        "/docs/staff/%2e%2e/%2e%2e/secret.txt",
        "/docs/staff/..%2f..%2fsecret.txt",
        "/docs/staff/%252e%252e/secret.txt",
        "/docs/staff/assets/..%5c..%5csecret.txt",
        "/docs/staff/escape/secret.txt",
    ],
)
def test_no_path_leaves_the_site(sites: TestClient, built_repo: Path, path: str) -> None:
    link = built_repo / "site" / "staff" / "escape"
    if not link.exists():
        os.symlink(built_repo, link)
    response = sites.get(path)
    assert response.status_code in (404, 400), path
    assert "outside the site" not in response.text


def test_missing_pages_get_a_helpful_404(sites: TestClient) -> None:
    response = sites.get("/docs/staff/internal/runbok/")
    assert response.status_code == 404
    assert 'href="/docs/staff/internal/runbook/"' in response.text
    unknown = sites.get("/docs/nobody/")
    assert unknown.status_code == 404
    assert 'href="/docs/staff/"' in unknown.text


def test_partners_site_has_no_internal_content(sites: TestClient) -> None:
    html = sites.get("/docs/partners/").text
    assert "SECRET-INTERNAL-MARKER" not in html
    assert sites.get("/docs/partners/internal/runbook/").status_code == 404


def test_registration_rebuilds_the_affected_sites_in_the_background(
    tmp_path: Path,
) -> None:
    root = small_repo(tmp_path / "repo")
    settings = settings_for(root)
    build_sites(settings)
    test_client, portal = client_for(settings, rebuild=True)
    with test_client:
        response = test_client.post("/api/v1/entities", json={"descriptor": component("fresh")})
        assert response.status_code == 201
        assert portal.builder.wait_idle(timeout=300)
        states = portal.build_states()
        assert states["staff"].status == "built", states["staff"].message
        assert "partners" not in states  # components are not in the partners site
        page = test_client.get("/docs/staff/catalog/component/default/fresh/")
        assert page.status_code == 200
        assert "fresh" in page.text


def test_site_pages_allow_exactly_their_inline_scripts(sites: TestClient, built_repo: Path) -> None:
    import base64
    import hashlib
    import re

    page = sites.get("/docs/staff/")
    policy = page.headers["content-security-policy"]
    scripts = policy.split("script-src ", 1)[1].split(";", 1)[0].split()
    assert "'unsafe-inline'" not in scripts
    html = (built_repo / "site" / "staff" / "index.html").read_text(encoding="utf-8")
    inline = [
        m.group(2)
        for m in re.finditer(r"<script([^>]*)>(.*?)</script>", html, re.S)
        if "src=" not in m.group(1) and "application/json" not in m.group(1)
    ]
    assert inline, "a Material page has inline scripts"
    for body in inline:
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in scripts


def test_internal_sites_lead_back_to_the_portal(sites: TestClient) -> None:
    staff = sites.get("/docs/staff/").text
    assert 'href="/"' in staff and "Portal home" in staff
    partners = sites.get("/docs/partners/").text
    assert "Portal home" not in partners
