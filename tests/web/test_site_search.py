"""The Material sites' search box, as the portal serves them: the portal's search, not lunr.

Served under /docs/<audience>/, Material's search worker is answered by
portal/web/static/portal-search-worker.js, which asks /api/v1/search (one index over
every audience the reader may read). The built file stays Material's, so a site opened
from disk keeps its own client-side search.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from playwright.sync_api import expect
from starlette.testclient import TestClient

from portal.web.pages import SEARCH_WORKER

# Shared fixtures (pytest finds them by name in this module's namespace).
from tests.web.test_browser import Tab, chromium, server, tab  # noqa: F401
from tests.web.test_sites import built_repo, sites  # noqa: F401

MATERIAL = Path(__import__("material").__file__).parent / "templates"


def worker_path(page_html: str) -> str:
    """The worker URL the page's Material configuration names (relative to the page)."""
    found = re.search(r'<script id="__config" type="application/json">(.*?)</script>', page_html)
    assert found is not None, "no Material configuration in the page"
    search: str = json.loads(found.group(1))["search"]
    return search


def test_served_sites_get_the_portal_worker_and_the_built_file_stays_materials(
    sites: TestClient,  # noqa: F811
    built_repo: Path,  # noqa: F811
) -> None:
    relative = worker_path(sites.get("/docs/staff/").text)
    assert re.fullmatch(r"assets/javascripts/workers/search\.[0-9a-f]+\.min\.js", relative)

    served = sites.get(f"/docs/staff/{relative}")
    assert served.status_code == 200
    assert served.content == SEARCH_WORKER.read_bytes()
    assert "/api/v1/search" in served.text
    assert "javascript" in served.headers["content-type"]
    # Not Material's content under Material's hashed name: revalidate, never "immutable".
    assert served.headers["cache-control"] == "no-cache, private"
    again = sites.get(f"/docs/staff/{relative}", headers={"if-none-match": served.headers["etag"]})
    assert again.status_code == 304

    on_disk = built_repo / "site" / "staff" / relative
    assert on_disk.read_bytes() == (MATERIAL / relative).read_bytes()  # opened from disk: lunr

    # Only the worker is replaced: its source map and the other scripts are the site's own.
    source_map = sites.get(f"/docs/staff/{relative}.map")
    assert source_map.status_code == 200
    assert source_map.content == (MATERIAL / f"{relative}.map").read_bytes()
    missing = sites.get("/docs/staff/assets/javascripts/workers/search.0123abcd.min.js")
    assert missing.status_code == 404  # a hashed name the site does not have


def test_served_sites_send_their_search_index_settings_without_the_documents(
    sites: TestClient,  # noqa: F811
    built_repo: Path,  # noqa: F811
) -> None:
    on_disk = json.loads(
        (built_repo / "site" / "staff" / "search" / "search_index.json").read_text()
    )
    assert len(on_disk["docs"]) > 10  # opened from disk, lunr searches these

    served = sites.get("/docs/staff/search/search_index.json")
    assert served.status_code == 200
    assert served.headers["content-type"] == "application/json"
    assert served.json() == {"config": on_disk["config"], "docs": []}
    assert served.headers["cache-control"] == "no-cache, private"  # staff is not public
    again = sites.get(
        "/docs/staff/search/search_index.json", headers={"if-none-match": served.headers["etag"]}
    )
    assert again.status_code == 304
    # Another JSON file of the site is served as it is.
    other = sites.get("/docs/staff/sitemap.xml")
    assert other.status_code == 200


def test_a_sites_search_box_finds_other_audiences_pages_through_the_portal(tab: Tab) -> None:  # noqa: F811
    page = tab.page
    page.goto("/docs/new-developers/")
    # The page gets the settings of the site's own index, none of its documents: every
    # hit below comes from the portal (the deployment guide is not a page of this site).
    own_index = page.request.get("/docs/new-developers/search/search_index.json").json()
    assert own_index["docs"] == [] and own_index["config"]["lang"]

    query = page.locator("input.md-search__input")
    query.click()
    query.press_sequentially("rolling back")  # keys, as a person types: Material reads keyup

    results = page.locator(".md-search-result__item")
    expect(results.first).to_be_visible()
    expect(page.locator(".md-search-result__meta")).to_have_text(re.compile(r"matching document"))
    # (Material adds ?h=<the words> for the opened page to highlight them.)
    hit = page.locator(
        ".md-search-result__link[href*='/operations/deployment/'][href$='#rolling-back']"
    )
    expect(hit.first).to_be_visible()
    expect(hit.first.locator("mark").first).to_be_visible()  # the portal's highlighted snippet
    href = hit.first.get_attribute("href") or ""
    assert re.search(r"/docs/(?!new-developers/)[a-z-]+/operations/deployment/", href), href
    # The answer came from the portal's search, asked by the worker in this page.
    asked = [url for url in tab.requests if "/api/v1/search?q=rolling+back&" in url]
    assert asked, tab.requests
    assert all("facets=false" in url for url in asked)  # the box shows no facets
    tab.shot("site-search")

    hit.first.click()
    expect(page).to_have_url(re.compile(r"/docs/[a-z-]+/operations/deployment/.*#rolling-back$"))
    expect(page.locator(".md-content h1")).to_have_text(re.compile(r"^Deployment"))
