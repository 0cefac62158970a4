"""Rebuilds from the caches give the sites a cold build gives, and pick up every edit."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from portal.catalog import EntityRef
from portal.model import load_model
from portal.settings import Settings
from portal.sites.build import build_sites
from tests.sites.conftest import small_repo

AUDIENCES = ("staff", "builders", "partners")


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def tree(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder`` but compressed ones (gzip stamps the time)."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.suffix != ".gz"
    }


def staged(root: Path, audience: str) -> dict[str, bytes]:
    return tree(root / ".cache" / "portal" / "stage" / audience / "docs")


def test_a_rebuild_from_the_caches_equals_a_cold_build(tmp_path: Path) -> None:
    root = small_repo(tmp_path / "repo")
    first = build_sites(Settings(root=root))
    assert not any(site.incremental for site in first.sites)
    # A page, an entity and an API definition change; the navigation does not.
    edit(root / "docs/internal/runbook.md", "Run the restart.", "Run the EDITED restart.")
    edit(root / "catalog/service.yaml", "SECRET-INTERNAL-MARKER service", "An EDITED service")
    edit(root / "catalog/public-api.yaml", "summary: List things", "summary: List EDITED things")
    again = build_sites(Settings(root=root))
    modes = {site.audience: (site.incremental, site.unchanged) for site in again.sites}
    assert all(incremental for incremental, _unchanged in modes.values())
    assert not any(unchanged for _incremental, unchanged in modes.values())

    cold = tmp_path / "cold"
    shutil.copytree(root, cold, ignore=shutil.ignore_patterns(".cache", "site"))
    build_sites(Settings(root=cold))
    for audience in AUDIENCES:
        assert staged(root, audience) == staged(cold, audience), audience
        assert tree(root / "site" / audience) == tree(cold / "site" / audience), audience
    staff = root / "site" / "staff"
    assert "EDITED restart" in (staff / "internal/runbook/index.html").read_text()
    assert (
        "An EDITED service"
        in (staff / "catalog/component/default/things-service/index.html").read_text()
    )
    partners = root / "site" / "partners"
    assert "List EDITED things" in (partners / "apis/default/public-api/index.html").read_text()
    assert "List EDITED things" in (partners / "search/search_index.json").read_text()


def test_an_edit_in_one_page_breaks_a_link_in_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import portal.docs.loader as loader

    root = small_repo(tmp_path / "repo")
    assert not load_model(Settings(root=root)).report.sorted()
    parsed: list[str] = []
    parse = loader._parse

    def counting(text: str, relative: str, *args: object) -> object:
        parsed.append(relative)
        return parse(text, relative, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(loader, "_parse", counting)
    edit(root / "docs/ops/escalation.md", "## Who", "## Whom")
    model = load_model(Settings(root=root))
    # Only the edited page is read again; the runbook's parse comes from the cache,
    # and its link is still checked against the escalation page as it is now.
    assert parsed == ["ops/escalation.md"]
    assert [p.format() for p in model.report.sorted()] == [
        "docs/internal/runbook.md:10:44: error: link to '../ops/escalation.md#who': "
        "ops/escalation.md has no heading with the id 'who' (its ids: escalation, whom)"
    ]
    assert [h.anchor for h in model.docs.pages["ops/escalation.md"].headings] == [
        "escalation",
        "whom",
    ]


def test_an_edited_page_is_read_again(tmp_path: Path) -> None:
    root = small_repo(tmp_path / "repo")
    load_model(Settings(root=root))
    page = root / "docs/ops/escalation.md"
    edit(page, "title: Escalation", "title: Escalation NEW\nowner: team-nope")
    edit(page, "## Who", "## Who\n\nSee [the runbook](../internal/runbook.md#restart).")
    model = load_model(Settings(root=root))
    escalation = model.docs.pages["ops/escalation.md"]
    assert escalation.title == "Escalation NEW"
    assert escalation.text == page.read_text(encoding="utf-8")
    assert [link.target for link in escalation.links] == ["../internal/runbook.md#restart"]
    assert escalation.targets == [("internal/runbook.md", "restart")]
    # The checks against the catalog run on every load, cached parse or not.
    problems = [p.format() for p in model.report.sorted()]
    assert problems == [
        "docs/ops/escalation.md:3:8: warning: front matter owner: group:default/team-nope "
        "does not exist in the catalog"
    ]
    assert problems == [p.format() for p in load_model(Settings(root=root)).report.sorted()]


def test_an_edited_definition_is_rendered_again(tmp_path: Path) -> None:
    root = small_repo(tmp_path / "repo")
    ref = EntityRef("api", "default", "public-api")
    before = load_model(Settings(root=root)).apis[ref]
    again = load_model(Settings(root=root)).apis[ref]
    assert again == before  # from the cache
    edit(root / "catalog/public-api.yaml", "'200': {description: ok}", "'200': {description: 42")
    model = load_model(Settings(root=root))
    assert "List things" in model.apis[ref].markdown
    assert [p.format() for p in model.report.sorted()] == [
        p.format() for p in load_model(Settings(root=root), cache=False).report.sorted()
    ]
    assert model.report.has_errors
    edit(root / "catalog/public-api.yaml", "summary: List things", "summary: Count things")
    assert "Count things" in load_model(Settings(root=root)).apis[ref].markdown


def test_the_previous_build_keeps_its_own_search_index_sitemap_and_404(tmp_path: Path) -> None:
    root = small_repo(tmp_path / "repo")
    build_sites(Settings(root=root), audiences=["staff"])
    old = (root / "site" / "staff").resolve()
    kept = {name: (old / name).read_bytes() for name in ("search/search_index.json", "404.html")}
    kept["sitemap.xml"] = (old / "sitemap.xml").read_bytes()
    edit(root / "docs/internal/runbook.md", "Run the restart.", "Run the NEW restart.")
    result = build_sites(Settings(root=root), audiences=["staff"])
    assert [site.incremental for site in result.sites] == [True]
    # The new build wrote these files anew: the served (old) site kept its own.
    assert {name: (old / name).read_bytes() for name in kept} == kept
    new = (root / "site" / "staff").resolve()
    index = json.loads((new / "search/search_index.json").read_text())
    assert any("NEW restart" in doc["text"] for doc in index["docs"])
    assert "NEW restart" not in kept["search/search_index.json"].decode()


def test_a_removed_page_leaves_the_staged_docs_and_the_site(tmp_path: Path) -> None:
    root = small_repo(tmp_path / "repo")
    build_sites(Settings(root=root), audiences=["staff"])
    assert "ops/escalation.md" in staged(root, "staff")
    (root / "docs/ops/escalation.md").unlink()
    edit(root / "docs/internal/runbook.md", "Ask [operations](../ops/escalation.md#who).", "")
    build_sites(Settings(root=root), audiences=["staff"])
    assert not any(path.startswith("ops/") for path in staged(root, "staff"))
    assert not (root / ".cache/portal/stage/staff/docs/ops").exists()
    assert not (root / "site/staff/ops").exists()


def test_staging_that_stopped_halfway_is_repaired(tmp_path: Path) -> None:
    root = small_repo(tmp_path / "repo")
    build_sites(Settings(root=root), audiences=["staff"])
    stage = root / ".cache/portal/stage/staff"
    # As a staging that stopped halfway leaves it: no manifest, files out of date.
    (stage / "staged.json").unlink()
    (stage / "docs/stray.md").write_text("# Stray\n")
    (stage / "docs/ops/escalation.md").write_text("# Stale\n")
    build_sites(Settings(root=root), audiences=["staff"])
    cold = tmp_path / "cold"
    shutil.copytree(root, cold, ignore=shutil.ignore_patterns(".cache", "site"))
    build_sites(Settings(root=cold), audiences=["staff"])
    assert staged(root, "staff") == staged(cold, "staff")
    assert tree(root / "site/staff") == tree(cold / "site/staff")


def test_a_rebuild_brings_the_build_before_up_to_date_in_place(tmp_path: Path) -> None:
    root = small_repo(tmp_path / "repo")
    runbook = root / "docs/internal/runbook.md"
    build_sites(Settings(root=root), audiences=["staff"])
    first = (root / "site" / "staff").resolve()
    edit(runbook, "Run the restart.", "Run the SECOND restart.")
    build_sites(Settings(root=root), audiences=["staff"])
    second = (root / "site" / "staff").resolve()
    # Whatever the older build holds that the current one does not goes.
    (first / "stray.html").write_text("stray")
    (first / "ops/escalation/index.html").unlink()
    (first / "ops/escalation/index.html").write_text("stale")
    folder = first.stat().st_ino
    edit(runbook, "Run the SECOND restart.", "Run the THIRD restart.")
    result = build_sites(Settings(root=root), audiences=["staff"])
    assert [site.incremental for site in result.sites] == [True]
    third = (root / "site" / "staff").resolve()
    assert third.stat().st_ino == folder and not first.exists()
    assert {p.name for p in (root / "site/.builds").iterdir()} == {second.name, third.name}
    assert "SECOND restart" in (second / "internal/runbook/index.html").read_text()
    cold = tmp_path / "cold"
    shutil.copytree(root, cold, ignore=shutil.ignore_patterns(".cache", "site"))
    build_sites(Settings(root=cold), audiences=["staff"])
    assert tree(third) == tree(cold / "site" / "staff")
