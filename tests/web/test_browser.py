"""The portal in a real browser: Debian's Chromium, driven by Playwright, against `portal serve`.

The server runs on a copy of this repository's own content (mkdocs.yml, docs/, catalog/,
plugins/), so the pages are the Quantum platform's portal as people see it. Every page
is photographed into .cache/portal/screenshots/ (scripts/screenshot copies the home
page into docs/images/ for the README). No page may load anything from another host.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Response, ViewportSize, expect, sync_playwright

from tests.conftest import REPO
from tests.web.test_serve import RunningPortal, running_portal

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
VIEWPORT: ViewportSize = {"width": 1280, "height": 800}
SCREENSHOTS = REPO / ".cache" / "portal" / "screenshots"


def find_chromium(candidates: tuple[str, ...] = CHROMIUM_CANDIDATES) -> str | None:
    for candidate in candidates:
        found = shutil.which(candidate)
        if found is not None:
            return found
    return None


def chromium_or_skip(candidates: tuple[str, ...] = CHROMIUM_CANDIDATES) -> str:
    """The Chromium to drive; without one, skip with the reason, except in CI: fail there."""
    found = find_chromium(candidates)
    if found is not None:
        return found
    reason = (
        f"no Chromium to drive (looked for {', '.join(candidates)}): install Debian's "
        "package with `apt-get install -y chromium`, as .ci/run does"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI=true, so the browser tests fail instead of skipping")
    pytest.skip(reason)


def copy_repository(target: Path) -> Path:
    """This repository's content without its code (the installed portal serves it)."""
    target.mkdir(parents=True)
    shutil.copy2(REPO / "mkdocs.yml", target / "mkdocs.yml")
    for folder in ("docs", "catalog", "plugins"):
        ignore = shutil.ignore_patterns("__pycache__")
        shutil.copytree(REPO / folder, target / folder, ignore=ignore)
    vendor = REPO / ".cache" / "portal" / "vendor"
    if vendor.is_dir():  # Mermaid, fetched by scripts/task; without it diagrams show as source
        shutil.copytree(vendor, target / ".cache" / "portal" / "vendor")
    return target


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    executable = chromium_or_skip()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def server(chromium: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPortal]:
    # Takes `chromium` so that a missing browser skips before the sites are built.
    root = copy_repository(tmp_path_factory.mktemp("quantum") / "repo")
    with running_portal(root, root.parent / "data") as running:
        yield running


@dataclass
class Tab:
    """A browser page on the portal that remembers every request and every failure."""

    page: Page
    host: str
    requests: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    expected: set[tuple[str, int]] = field(default_factory=set)

    def on_response(self, response: Response) -> None:
        path = urlsplit(response.url).path
        if response.status >= 400 and (path, response.status) not in self.expected:
            self.failures.append(f"{response.status} {response.url}")

    def expect_status(self, path: str, status: int) -> None:
        self.expected.add((path, status))

    def shot(self, name: str, *, full_page: bool = True) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=full_page)

    def outside_requests(self) -> list[str]:
        return [
            url
            for url in self.requests
            if urlsplit(url).scheme not in ("data", "blob") and urlsplit(url).netloc != self.host
        ]


@pytest.fixture
def tab(chromium: Browser, server: RunningPortal) -> Iterator[Tab]:
    context = chromium.new_context(base_url=server.url, viewport=VIEWPORT)
    page = context.new_page()
    tab = Tab(page, urlsplit(server.url).netloc)
    page.on("request", lambda request: tab.requests.append(request.url))
    page.on("response", tab.on_response)
    page.on("pageerror", lambda error: tab.failures.append(f"script error: {error}"))
    # A script or style the Content-Security-Policy blocks shows up as a console error.
    page.on(
        "console",
        lambda message: (
            tab.failures.append(f"console: {message.text}")
            if message.type == "error" and "Content Security Policy" in message.text
            else None
        ),
    )
    yield tab
    context.close()
    assert tab.requests, "the browser made no request at all"
    assert tab.outside_requests() == [], "pages must load nothing from outside hosts"
    assert tab.failures == [], "failed requests or script errors"


def test_without_chromium_the_browser_tests_skip_except_in_ci(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    nowhere = ("/nonexistent/chromium",)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no Chromium to drive"):
        chromium_or_skip(nowhere)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true, so the browser tests fail"):
        chromium_or_skip(nowhere)


def entity_total(page: Page) -> int:
    text = page.get_by_text(re.compile(r"^\d+ entit(y|ies)$")).inner_text()
    return int(text.split()[0])


def test_home_picks_an_audience_and_opens_its_onboarding(tab: Tab) -> None:
    page = tab.page
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Quantum Portal")
    expect(page.get_by_role("status").filter(has_text="Development identity")).to_be_visible()
    audiences = page.locator("#audiences + .portal-cards h3 a")
    expect(audiences.first).to_be_visible()
    tab.shot("home", full_page=False)  # the README's picture: what a 1280x800 window shows
    tab.shot("home-full")

    first_step = page.locator("#onboarding + ol a").first
    title = first_step.inner_text()
    first_step.click()
    expect(page).to_have_url(re.compile(r"/docs/new-developers/onboarding/"))
    expect(page.locator(".md-content h1")).to_have_text(re.compile(rf"^{re.escape(title)}\b"))
    tab.shot("docs-onboarding")

    page.go_back()
    name = audiences.first.inner_text()
    audiences.first.click()
    expect(page).to_have_url(re.compile(r"/docs/[a-z-]+/$"))
    expect(page.locator(".md-header")).to_contain_text(name)  # a Material site's header
    expect(page.locator(".md-content h1")).to_be_visible()
    tab.shot("docs-home")


def test_catalog_facets_search_entity_and_its_api_reference(tab: Tab) -> None:
    page = tab.page
    page.goto("/catalog")
    everything = entity_total(page)
    tab.shot("catalog")

    apis = page.locator(".portal-facets li").filter(
        has=page.get_by_role("link", name="API", exact=True)
    )
    count = int(apis.locator(".count").inner_text())
    apis.get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"[?&]kind=api\b"))
    assert entity_total(page) == count < everything
    assert set(page.locator("tbody td:nth-child(2)").all_inner_texts()) == {"api"}
    expect(page.locator(".portal-facets li.selected")).to_contain_text("API")
    tab.shot("catalog-apis")

    title = page.locator("tbody td:first-child a").first.inner_text()
    page.get_by_role("searchbox", name="Search the catalog").fill(title)
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"[?&]q="))
    expect(page).to_have_url(re.compile(r"[?&]kind=api\b"))  # the facet stays selected
    assert 1 <= entity_total(page) < count
    tab.shot("catalog-search")

    page.locator("tbody td:first-child").get_by_role("link", name=title, exact=True).click()
    expect(page).to_have_url(re.compile(r"/catalog/api/default/[a-z0-9-]+$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(title)
    expect(page.locator("svg.relation-graph")).to_be_visible()
    tab.shot("entity")

    page.locator("#docs + ul").get_by_role("link", name="API reference").click()
    expect(page).to_have_url(re.compile(r"/docs/[a-z-]+/apis/"))
    expect(page.locator(".md-content h1")).to_be_visible()
    expect(page.locator(".md-nav--primary")).to_be_attached()  # the site's own navigation
    tab.shot("entity-api-reference", full_page=False)  # the page is ~11,000 px long


DESCRIPTOR = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: browser-demo
  description: Registered through the form by the browser test.
spec:
  type: service
  lifecycle: experimental
  owner: {owner}
"""


def test_register_through_the_form_checks_first_then_registers(tab: Tab) -> None:
    page = tab.page
    page.goto("/register")
    descriptor = page.get_by_label("Descriptor")
    descriptor.fill(DESCRIPTOR.format(owner="team a"))
    tab.expect_status("/register", 422)
    page.get_by_role("button", name="Check").click()
    expect(page.locator("#problems")).to_have_text(re.compile(r"^1 error\(s\)"))
    problem = page.locator(".portal-problems li.error")
    expect(problem).to_have_count(1)
    expect(problem).to_contain_text("catalog-info.yaml:9:")  # the owner's line
    expect(problem).to_contain_text("spec.owner")
    expect(descriptor).to_have_value(DESCRIPTOR.format(owner="team a"))  # kept for fixing
    tab.shot("register-check-error")
    assert page.request.get("/api/v1/entities/component/default/browser-demo").status == 404

    descriptor.fill(DESCRIPTOR.format(owner="platform"))
    page.get_by_role("button", name="Check").click()
    expect(page.locator(".portal-ok")).to_contain_text("component:default/browser-demo")
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Registered")
    tab.shot("register-done")

    page.get_by_role("link", name="browser-demo").click()
    expect(page).to_have_url(re.compile(r"/catalog/component/default/browser-demo$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("registered")
    expect(page.locator(".portal-meta")).to_contain_text("dev@localhost")
    tab.shot("register-entity")

    page.goto("/catalog?q=browser-demo")
    expect(page.locator("tbody")).to_contain_text("browser-demo")
