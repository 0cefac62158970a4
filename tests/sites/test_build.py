"""Real multi-audience sites built in tmp_path with MkDocs-material."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from portal.exceptions import ValidationFailed
from portal.settings import Settings
from portal.sites.build import BuildResult, build_sites
from tests.sites.conftest import small_repo

MARKER = "SECRET-INTERNAL-MARKER"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, BuildResult]:
    root = small_repo(tmp_path_factory.mktemp("built") / "repo")
    result = build_sites(Settings(root=root), workers=2)
    return root, result


def site_files(site: Path) -> dict[str, str]:
    return {
        p.relative_to(site).as_posix(): p.read_text(encoding="utf-8", errors="replace")
        for p in site.rglob("*")
        if p.is_file() and p.suffix in (".html", ".xml", ".json", ".md")
    }


def test_every_audience_gets_a_complete_site(built: tuple[Path, BuildResult]) -> None:
    root, result = built
    assert sorted(s.audience for s in result.sites) == ["builders", "partners", "staff"]
    for name in ("staff", "builders", "partners"):
        site = root / "site" / name
        assert (site / "index.html").is_file()
        assert (site / "sitemap.xml").is_file()
        assert (site / "404.html").is_file()
        index = json.loads((site / "search" / "search_index.json").read_text())
        assert index["docs"], name


def test_partners_site_holds_nothing_internal(built: tuple[Path, BuildResult]) -> None:
    root, _ = built
    files = site_files(root / "site" / "partners")
    leaks = sorted(name for name, text in files.items() if MARKER in text)
    assert leaks == []
    assert not any("runbook" in name or "escalation" in name for name in files)
    assert not any("secret-internal-api" in name or "things-service" in name for name in files)
    # The public API and the partners page are there, in the pages, nav, sitemap and index.
    assert "catalog/api/default/public-api/index.html" in files
    assert "apis/default/public-api/index.html" in files
    assert "guides/partners/start/index.html" in files
    assert "public-api" in files["sitemap.xml"]
    assert "secret-internal-api" not in files["search/search_index.json"]
    assert "List things" in files["search/search_index.json"]


def test_links_into_sites_a_partner_cannot_see_are_dropped(built: tuple[Path, BuildResult]) -> None:
    root, _ = built
    page = (root / "site" / "partners" / "guides/partners/start/index.html").read_text()
    assert "runbook" in page  # the link text stays
    assert "internal/runbook" not in page  # the link does not
    assert "/docs/staff" not in page and "/docs/builders" not in page


def test_links_to_another_internal_site_use_the_portal_url(built: tuple[Path, BuildResult]) -> None:
    root, _ = built
    page = (root / "site" / "builders" / "internal/runbook/index.html").read_text()
    assert 'href="/docs/staff/ops/escalation/#who"' in page
    staff = (root / "site" / "staff" / "internal/runbook/index.html").read_text()
    assert re.search(r'href="(\.\./)+ops/escalation/#who"', staff)


def test_api_reference_has_a_section_per_operation(built: tuple[Path, BuildResult]) -> None:
    root, _ = built
    staff = root / "site" / "staff"
    public = (staff / "apis/default/public-api/index.html").read_text()
    internal = (staff / "apis/default/secret-internal-api/index.html").read_text()
    assert "/things" in public and "List things" in public
    assert "/admin" in internal


def test_nav_follows_front_matter_and_hides_entity_pages(built: tuple[Path, BuildResult]) -> None:
    root, _ = built
    home = (root / "site" / "staff" / "index.html").read_text()
    assert "Internal runbook" in home and "Escalation" in home
    # Entity pages are reached from the catalog pages, not listed in the navigation.
    nav = home.split('class="md-nav md-nav--primary"', 1)[1]
    assert "things-service" not in nav.split("</nav>", 1)[0]


def test_failed_build_leaves_the_previous_site(tmp_path: Path) -> None:
    root = small_repo(tmp_path / "repo")
    build_sites(Settings(root=root), audiences=["partners"])
    before = (root / "site" / "partners").resolve()
    page = root / "docs" / "guides" / "partners" / "start.md"
    page.write_text(page.read_text().replace("audience: [partners]", "audience: [nobody]"))
    with pytest.raises(ValidationFailed) as info:
        build_sites(Settings(root=root), audiences=["partners"])
    assert any("unknown audience 'nobody'" in p.message for p in info.value.problems)
    assert (root / "site" / "partners").resolve() == before
    assert (before / "guides/partners/start/index.html").is_file()


def test_rebuild_after_one_edit_is_incremental(tmp_path: Path) -> None:
    root = small_repo(tmp_path / "repo")
    first = build_sites(Settings(root=root), audiences=["staff"])
    assert [s.incremental for s in first.sites] == [False]
    old = (root / "site" / "staff").resolve()
    runbook = root / "docs" / "internal" / "runbook.md"
    runbook.write_text(runbook.read_text().replace("Run the restart.", "Run the NEW restart."))
    second = build_sites(Settings(root=root), audiences=["staff"])
    assert [s.incremental for s in second.sites] == [True]
    new = (root / "site" / "staff").resolve()
    assert new != old
    assert "NEW restart" in (new / "internal/runbook/index.html").read_text()
    # The previous build is untouched: files were replaced, not written through links.
    assert "NEW restart" not in (old / "internal/runbook/index.html").read_text()
    index = json.loads((new / "search" / "search_index.json").read_text())
    locations = {d["location"] for d in index["docs"]}
    assert "ops/escalation/" in locations  # unchanged pages stay in the index
    assert any("NEW restart" in d["text"] for d in index["docs"])


def test_adding_a_page_rebuilds_the_navigation(tmp_path: Path) -> None:
    root = small_repo(tmp_path / "repo")
    build_sites(Settings(root=root), audiences=["staff"])
    (root / "docs" / "ops" / "new.md").write_text("---\ntitle: Brand new\n---\n\n# Brand new\n")
    result = build_sites(Settings(root=root), audiences=["staff"])
    assert [s.incremental for s in result.sites] == [False]
    runbook = (root / "site" / "staff" / "internal/runbook/index.html").read_text()
    assert "Brand new" in runbook


def test_unknown_audience_is_refused(tmp_path: Path) -> None:
    from portal.exceptions import PortalError

    root = small_repo(tmp_path / "repo")
    with pytest.raises(PortalError, match="unknown audience 'nope'"):
        build_sites(Settings(root=root), audiences=["nope"])


def test_builds_into_two_folders_do_not_mix(tmp_path: Path) -> None:
    root = small_repo(tmp_path / "repo")
    first, second = tmp_path / "a", tmp_path / "b"
    build_sites(Settings(root=root), audiences=["staff"], out=first)
    runbook = root / "docs" / "internal" / "runbook.md"
    runbook.write_text(runbook.read_text().replace("Run the restart.", "Run the B restart."))
    build_sites(Settings(root=root), audiences=["staff"], out=second)
    # The first folder's site was built before the edit: it is not "unchanged" now.
    again = build_sites(Settings(root=root), audiences=["staff"], out=first)
    assert [s.unchanged for s in again.sites] == [False]
    assert "B restart" in (first / "staff" / "internal/runbook/index.html").read_text()
    unchanged = build_sites(Settings(root=root), audiences=["staff"], out=first)
    assert [s.unchanged for s in unchanged.sites] == [True]
