"""The generated docs repository is valid, builds every audience, and keeps partners apart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from bench.docs_corpus import AUDIENCES, PARTNERS, generate_docs_repo
from portal.docs import resolve_link, split_front_matter
from portal.model import load_model
from portal.settings import Settings
from portal.sites.build import BuildResult, build_sites

SIZE = {"pages": 40, "entities": 30, "openapi": 2, "seed": 5}


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    root = tmp_path_factory.mktemp("docs-repo")
    return root, generate_docs_repo(root, **SIZE)


@pytest.fixture(scope="module")
def built(repo: tuple[Path, dict[str, Any]]) -> tuple[Path, BuildResult]:
    root, _ = repo
    out = root.parent / "sites"
    return out, build_sites(Settings(root=root), out=out)


def _front(path: Path) -> dict[str, Any]:
    front, _, _ = split_front_matter(path.read_text(encoding="utf-8"))
    assert front is not None
    meta: dict[str, Any] = yaml.safe_load(front)
    return meta


def test_the_repository_loads_without_any_problem(repo: tuple[Path, dict[str, Any]]) -> None:
    root, summary = repo
    model = load_model(Settings(root=root))
    assert [p.format() for p in model.report.sorted()] == []
    assert len(model.docs) == summary["pages"] == SIZE["pages"]
    assert len(model.catalog) == summary["entities"] == SIZE["entities"] + SIZE["openapi"]
    assert model.site is not None and tuple(model.site.audiences) == AUDIENCES
    openapi = [ref for ref, api in model.apis.items() if api.format.startswith("openapi-3")]
    generated = [ref for ref in openapi if ref.name.endswith("-platform-api")]
    assert len(generated) == SIZE["openapi"]
    assert all(10 <= len(model.apis[ref].operations) <= 30 for ref in generated)


def test_pages_have_the_parts_of_real_pages(repo: tuple[Path, dict[str, Any]]) -> None:
    root, _ = repo
    model = load_model(Settings(root=root))
    for page in model.docs:
        assert 5 <= sum(1 for h in page.headings if h.level in (2, 3)) <= 8
        assert 2 <= len(page.links) <= 4
        assert page.owner is not None and page.reviewed is not None and page.tags
        assert "```" in page.body and "|---|" in page.body and "\n!!! " in page.body
    assert any("#" in link.target for page in model.docs for link in page.links)
    assert any("/" in page.path.split("/", 1)[1] for page in model.docs)  # nested sections


def test_partner_pages_link_only_to_partner_pages(repo: tuple[Path, dict[str, Any]]) -> None:
    root, summary = repo
    partners = set(summary["partner_pages"])
    assert len(partners) >= 2
    model = load_model(Settings(root=root))
    for path in partners:
        page = model.docs.pages[path]
        assert PARTNERS in page.audiences
        for link in page.links:
            resolved = resolve_link(page, link.target)
            assert resolved is not None and resolved[0] in partners - {path}


def test_the_baseline_config_is_plain_mkdocs_over_the_same_pages(
    repo: tuple[Path, dict[str, Any]],
) -> None:
    root, summary = repo
    config_file = root / summary["baseline_config"]
    text = config_file.read_text(encoding="utf-8")
    config = yaml.safe_load(text)
    assert (config_file.parent / config["docs_dir"]).resolve() == (root / "docs").resolve()
    assert config["plugins"] == ["search"] and "nav" not in config
    portal = yaml.safe_load((root / "mkdocs.yml").read_text(encoding="utf-8"))
    # The same theme and Markdown as the portal's site, without its theme features:
    # a Material site as it comes.
    assert "features" not in config["theme"]
    assert {k: v for k, v in portal["theme"].items() if k != "features"} == config["theme"]
    assert config["markdown_extensions"] == portal["markdown_extensions"]
    pruned = yaml.safe_load((root / summary["pruned_baseline_config"]).read_text(encoding="utf-8"))
    assert pruned["theme"] == portal["theme"]


def test_the_same_seed_writes_the_same_repository(
    repo: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    root, summary = repo
    again = generate_docs_repo(tmp_path, **SIZE)
    assert again == summary
    for path in sorted(root.rglob("*")):
        # .cache/ is what loading and building the repository leave, not part of it.
        if path.is_file() and path.relative_to(root).parts[0] != ".cache":
            assert (tmp_path / path.relative_to(root)).read_bytes() == path.read_bytes()


def test_a_repository_is_not_generated_over_another(
    repo: tuple[Path, dict[str, Any]],
) -> None:
    root, _ = repo
    with pytest.raises(FileExistsError, match="is not empty; generate into a fresh directory"):
        generate_docs_repo(root, **SIZE)


def test_every_audience_builds_and_the_partner_site_has_only_partner_pages(
    repo: tuple[Path, dict[str, Any]], built: tuple[Path, BuildResult]
) -> None:
    root, summary = repo
    out, result = built
    assert sorted(site.audience for site in result.sites) == sorted(AUDIENCES)
    partners = set(summary["partner_pages"])
    docs = root / "docs"
    for path in sorted(p.relative_to(docs).as_posix() for p in docs.rglob("*.md")):
        page = out / PARTNERS / path.removesuffix(".md") / "index.html"
        assert page.is_file() == (path in partners), path
        assert (out / "everyone" / path.removesuffix(".md") / "index.html").is_file()
        audiences = _front(root / "docs" / path)["audience"]
        for audience in AUDIENCES[:4]:
            built_page = out / audience / path.removesuffix(".md") / "index.html"
            assert built_page.is_file() == (audience in audiences), (audience, path)
