"""The Quantum platform's own docs: complete front matter, no mojibake, and a clean build."""

from __future__ import annotations

import os
import re
from pathlib import Path

import ftfy
import pytest

from portal.docs import split_front_matter
from portal.model import Model, load_model
from portal.settings import Settings
from portal.sites.build import BuildResult, build_sites
from tests.conftest import REPO, SHARED

DOCS = sorted((REPO / "docs").rglob("*.md"))
REQUIRED = ("title", "description", "audience", "owner", "reviewed", "tags")
IN_CI = os.environ.get("CI") == "true"


@pytest.fixture(scope="module")
def model() -> Model:
    return load_model(Settings(root=REPO))


def test_repository_validates_strictly_clean(model: Model) -> None:
    assert [p.format() for p in model.report.sorted()] == []


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.relative_to(REPO).as_posix())
def test_every_page_has_full_front_matter(path: Path, model: Model) -> None:
    page = model.docs.pages[path.relative_to(REPO / "docs").as_posix()]
    missing = [key for key in REQUIRED if key not in page.meta]
    assert missing == []
    assert page.audiences and page.owner is not None and page.reviewed is not None


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.relative_to(REPO).as_posix())
def test_no_mojibake(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert ftfy.fix_text(text) == text
    assert not re.search("Ã|â€|ðŸ", text)


def test_overview_keeps_its_docusaurus_front_matter() -> None:
    seed = (SHARED / "seed" / "system-architecture-overview.md").read_text(encoding="utf-8")
    ours = (REPO / "docs" / "architecture" / "overview.md").read_text(encoding="utf-8")
    seed_front, seed_body, _ = split_front_matter(seed)
    our_front, our_body, _ = split_front_matter(ours)
    assert seed_front is not None and our_front is not None
    assert our_front.startswith(seed_front)
    fixed = ftfy.fix_text(seed_body).strip().split("\n")
    lines = our_body.strip().split("\n")
    assert len(fixed) == len(lines)
    for before, after in zip(fixed, lines, strict=True):
        if before != after:
            # One emoji lost a byte in the seed's round trip, so ftfy cannot repair it;
            # ours restores it by hand and keeps the words around it.
            assert re.search("ð|Ÿ", before), (before, after)
            assert before.split()[-2:] == after.split()[-2:]
    assert "```mermaid" in our_body


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> BuildResult:
    out = tmp_path_factory.mktemp("site")
    return build_sites(Settings(root=REPO), out=out)


def test_repository_sites_build(built: BuildResult) -> None:
    names = {site.audience for site in built.sites}
    assert names == {
        "new-developers",
        "service-teams",
        "reviewers",
        "operators",
        "everyone",
        "partners",
    }


def test_overview_diagram_is_served_locally(built: BuildResult) -> None:
    site = next(s.path for s in built.sites if s.audience == "everyone")
    page = (site / "architecture/overview/index.html").read_text()
    mermaid = site / "assets/javascripts/portal/mermaid.min.js"
    if not mermaid.exists():
        if IN_CI:
            pytest.fail("Mermaid was not fetched (scripts/task fetches it with npm)")
        pytest.skip("Mermaid not fetched: run `portal assets fetch` (needs npm)")
    assert 'class="mermaid"' in page
    assert "assets/javascripts/portal/mermaid.min.js" in page


def test_no_page_loads_anything_from_outside(built: BuildResult) -> None:
    pattern = re.compile(r'<(?:script|link|img|iframe)[^>]+(?:src|href)="(https?:)?//', re.I)
    for site in built.sites:
        for page in site.path.rglob("*.html"):
            text = page.read_text(encoding="utf-8")
            found = [
                m.group(0) for m in pattern.finditer(text) if 'rel="canonical"' not in m.group(0)
            ]
            assert found == [], page


def test_portal_python_reference_is_rendered(built: BuildResult) -> None:
    site = next(s.path for s in built.sites if s.audience == "everyone")
    page = site / "catalog/component/default/developer-portal/python/index.html"
    assert page.is_file()
    assert "load_catalog" in page.read_text()


def test_partners_site_is_only_public(built: BuildResult) -> None:
    site = next(s.path for s in built.sites if s.audience == "partners")
    pages = sorted(p.relative_to(site).as_posix() for p in site.rglob("index.html"))
    internal = [
        p
        for p in pages
        if not p.startswith(("partners/", "catalog/", "apis/")) and p != "index.html"
    ]
    assert internal == []
    text = "\n".join(p.read_text() for p in site.rglob("*.html"))
    for word in ("runbook", "kv://", "grafana.quantum.example", "oncall"):
        assert word not in text.lower(), word
