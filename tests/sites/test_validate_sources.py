"""Bad docs, audiences and API definitions: `portal validate` names file and line."""

from __future__ import annotations

import shutil
from pathlib import Path

from portal.model import load_model
from portal.settings import Settings
from tests.conftest import CORPORA, write_files
from tests.sites.conftest import small_repo


def problems(root: Path) -> list[str]:
    return [p.format() for p in load_model(Settings(root=root)).report.sorted()]


def test_the_small_repo_is_clean(repo: Path) -> None:
    assert problems(repo) == []


def test_broken_front_matter(repo: Path) -> None:
    write_files(repo, {"docs/bad.md": "---\ntitle: [unclosed\n---\n\n# Bad\n"})
    assert problems(repo) == [
        "docs/bad.md:3:1: error: front matter: invalid YAML: did not find expected ',' or ']' "
        "while parsing a flow sequence"
    ]


def test_unclosed_front_matter(repo: Path) -> None:
    write_files(repo, {"docs/bad.md": "---\ntitle: x\n\n# Bad\n"})
    assert problems(repo) == [
        "docs/bad.md:1:1: error: front matter is not closed: add a line '---' after it"
    ]


def test_front_matter_fields(repo: Path) -> None:
    page = """\
    ---
    title: Odd
    audience: [builders, nobody]
    owner: team a
    reviewed: last week
    tags: [Ops]
    sidebar_position: first
    ---

    # Odd
    """
    write_files(repo, {"docs/odd.md": page})
    assert problems(repo) == [
        "docs/odd.md:3:11: error: front matter audience: unknown audience 'nobody' "
        "(declared audiences: builders, partners, staff)",
        "docs/odd.md:4:8: error: front matter owner: 'team a' is not a valid entity ref: it "
        "has an invalid name 'team a' (1-63 characters: letters and digits, with - _ . allowed "
        "between them) (e.g. group:default/platform)",
        "docs/odd.md:5:11: error: front matter reviewed: 'last week' is not a date (write "
        "YYYY-MM-DD)",
        "docs/odd.md:6:7: error: front matter tags: 'Ops' is not a valid tag (1-63 characters "
        "of a-z 0-9 : + #, words joined by single dashes)",
        "docs/odd.md:7:19: error: front matter sidebar_position: expected a number",
    ]


def test_owner_missing_from_the_catalog_is_a_warning(repo: Path) -> None:
    write_files(repo, {"docs/x.md": "---\ntitle: X\nowner: team-z\n---\n\n# X\n"})
    assert problems(repo) == [
        "docs/x.md:3:8: warning: front matter owner: group:default/team-z does not exist in "
        "the catalog"
    ]


def test_broken_links_and_anchors(repo: Path) -> None:
    page = (
        "---\ntitle: L\n---\n\n# L\n\nSee [gone](gone.md) and [x](../internal/runbook.md#nope).\n"
    )
    write_files(repo, {"docs/guides/links.md": page})
    assert problems(repo) == [
        "docs/guides/links.md:7:5: error: link to 'gone.md': points at nothing "
        "(no docs/guides/gone.md)",
        "docs/guides/links.md:7:25: error: link to '../internal/runbook.md#nope': "
        "internal/runbook.md has no heading with the id 'nope' (its ids: internal-runbook, "
        "restart)",
    ]


def test_links_in_code_are_not_links(repo: Path) -> None:
    page = "---\ntitle: C\n---\n\n# C\n\n`[a](nope.md)`\n\n```md\n[b](nope.md)\n```\n"
    write_files(repo, {"docs/code.md": page})
    assert problems(repo) == []


def test_dangling_ref_in_an_inline_definition(repo: Path) -> None:
    api = (
        (repo / "catalog" / "public-api.yaml")
        .read_text()
        .replace(
            "'200': {description: ok}",
            "'200':\n                description: ok\n                content:\n"
            "                  application/json:\n"
            "                    schema: {$ref: '#/components/schemas/Nope'}",
        )
    )
    write_files(repo, {"catalog/public-api.yaml": api})
    found = problems(repo)
    assert len(found) == 1, found
    assert found[0].startswith("catalog/public-api.yaml:22:")
    assert "#/components/schemas/Nope" in found[0]


def test_invalid_definition_in_a_text_file_points_into_that_file(repo: Path) -> None:
    api = """\
    apiVersion: backstage.io/v1alpha1
    kind: API
    metadata:
      name: file-api
    spec:
      type: openapi
      lifecycle: production
      owner: team-a
      definition:
        $text: ./file-api.yml
    """
    definition = """\
    openapi: 3.0.0
    info: {title: File API, version: '1'}
    paths:
      /a:
        get:
          responses:
            '200':
              $ref: '#/components/responses/Missing'
    """
    write_files(repo, {"catalog/file-api.yaml": api, "catalog/file-api.yml": definition})
    found = problems(repo)
    assert len(found) == 1, found
    assert found[0].startswith("catalog/file-api.yml:8:")
    assert "#/components/responses/Missing" in found[0]


def test_audience_declarations_are_checked(repo: Path) -> None:
    mkdocs = (repo / "mkdocs.yml").read_text()
    mkdocs = mkdocs.replace("catalog: {kinds: [api], tags: [public]}", "catalog: {kinds: [api]}")
    mkdocs = mkdocs.replace("          title: Builders\n", "")
    write_files(repo, {"mkdocs.yml": mkdocs})
    found = problems(repo)
    assert any(
        p.startswith("mkdocs.yml:") and "audience 'builders': title is required" in p for p in found
    ), found
    assert any("a public audience selects entities by tag" in p for p in found), found


def test_techdocs_sample_builds_as_an_entity_s_docs(tmp_path: Path) -> None:
    from portal.sites.build import build_sites

    root = small_repo(tmp_path / "repo")
    shutil.copytree(CORPORA / "techdocs-documented-component", root / "components" / "documented")
    location = (
        "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata:\n  name: documented\n"
        "spec:\n  target: ../components/documented/catalog-info.yaml\n"
    )
    write_files(root, {"catalog/documented.yaml": location})
    model = load_model(Settings(root=root))
    assert not model.report.has_errors, [p.format() for p in model.report.errors]
    result = build_sites(Settings(root=root), audiences=["staff"], model=model)
    site = result.sites[0].path
    docs = site / "catalog/component/default/documented-component/docs"
    for page in (
        "index.html",
        "sub-page/index.html",
        "code/code-sample/index.html",
        "deeper-nav/even-deeper/index.html",
    ):
        assert (docs / page).is_file(), page
    entity = (site / "catalog/component/default/documented-component/index.html").read_text()
    assert "docs/sub-page/" in entity
