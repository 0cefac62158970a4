"""Search documents built from the repository's own model: sections, entities, operations."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from portal.model import Model, load_model
from portal.search import SearchDoc, SectionCache, changes, documents, plain_text
from portal.settings import Settings
from tests.sites.conftest import small_repo


def test_every_section_entity_and_operation_has_one_stable_id(
    repo_model: Model, repo_docs: list[SearchDoc]
) -> None:
    ids = [doc.id for doc in repo_docs]
    assert len(ids) == len(set(ids))
    pages = sum(len(page.headings) for page in repo_model.docs)
    assert sum(doc.type == "page" for doc in repo_docs) >= pages
    assert sum(doc.type == "entity" for doc in repo_docs) == len(repo_model.catalog)
    operations = sum(len(api.operations) for api in repo_model.apis.values())
    assert sum(doc.type == "operation" for doc in repo_docs) == operations
    again = {doc.id: doc.digest for doc in documents(repo_model)}
    assert again == {doc.id: doc.digest for doc in repo_docs}


def test_a_section_has_its_heading_path_anchor_and_plain_text(by_id: dict[str, SearchDoc]) -> None:
    canary = by_id["page:operations/deployment.md#canary"]
    assert canary.heading == "Canary"
    assert canary.heading_path == ("Deployment", "Which strategy a service uses", "Canary")
    assert canary.breadcrumb == "Deployment \u203a Which strategy a service uses \u203a Canary"
    assert canary.anchor == "canary"
    assert canary.path == "operations/deployment.md"
    assert "starts as a small canary deployment" in canary.text  # `canary` without backticks
    assert "Monitoring for the queries." in canary.text  # a link is its text
    assert canary.owner == "group:default/sre"
    assert "canary" in canary.tags
    assert canary.reviewed == "2026-09-17"
    assert canary.audiences == ("service-teams", "operators", "everyone")
    rolling_back = by_id["page:operations/deployment.md#rolling-back"]
    assert "kubectl" in rolling_back.text  # code blocks are searchable text
    top = by_id["page:operations/deployment.md"]
    assert top.heading_path == ("Deployment",)
    assert top.anchor == ""
    assert top.text.startswith("How Quantum services get from a merged pull request")


def test_public_pages_are_in_the_partners_audience_and_internal_ones_are_not(
    by_id: dict[str, SearchDoc],
) -> None:
    assert "partners" in by_id["page:partners/authentication.md#sign-in"].audiences
    assert "partners" not in by_id["page:operations/deployment.md#canary"].audiences
    assert "partners" in by_id["entity:api:default/projects-api"].audiences
    assert "partners" not in by_id["entity:api:default/billing-api"].audiences
    # public-tagged, but partners only take APIs
    assert "partners" not in by_id["entity:component:default/quantum-js-sdk"].audiences


def test_an_entity_document(by_id: dict[str, SearchDoc]) -> None:
    service = by_id["entity:component:default/projects-service"]
    assert (service.type, service.kind, service.title) == (
        "entity",
        "component",
        "Projects Service",
    )
    assert service.heading == "projects-service"
    assert service.ref == "component:default/projects-service"
    assert service.path == "catalog/component/default/projects-service/index.md"
    assert service.owner.startswith("group:default/")
    details = dict(service.details)
    assert details["system"] == "system:default/business-services"
    assert details["type"] == "service"
    assert "business-services" in service.keywords


def test_an_operation_document(by_id: dict[str, SearchDoc]) -> None:
    op = by_id["op:api:default/projects-api#op-listprojects"]
    assert op.type == op.kind == "operation"
    assert op.title == "List projects the caller can access"
    assert op.heading == "GET /v1/projects"
    assert op.ref == "api:default/projects-api"
    assert (op.path, op.anchor) == ("apis/default/projects-api.md", "op-listprojects")
    assert op.audiences == by_id["entity:api:default/projects-api"].audiences
    assert "list Projects" in op.keywords  # listProjects split into words


def test_plain_text_drops_markup_and_keeps_code() -> None:
    markdown = """\
Some **bold**, _emphasis_, `code` and a [link](other.md#x) ![a diagram](d.png).

| name | value |
|---|---|
| `a` | b |

!!! warning "Mind the gap"
    Indented admonition text.

- [ ] a task
1. a step
> quoted

```sh
kubectl get pods   # kept
```

[ref]: https://example.com
<div markdown>inside</div> snake_case_name stays
"""
    assert plain_text(markdown).splitlines() == [
        "Some bold, emphasis, code and a link a diagram.",
        "name value",
        "a b",
        "Mind the gap",
        "Indented admonition text.",
        "a task",
        "a step",
        "quoted",
        "kubectl get pods   # kept",
        "inside snake_case_name stays",
    ]


def test_changes_names_what_to_remove_and_what_to_reindex(repo_docs: list[SearchDoc]) -> None:
    indexed = {doc.id: doc.digest for doc in repo_docs}
    indexed["page:gone.md"] = "0" * 32
    edited = dataclasses.replace(repo_docs[3], text="new words")
    docs = [*repo_docs[:3], edited, *repo_docs[4:]]
    removed, changed = changes(indexed, docs)
    assert removed == ["page:gone.md"]
    assert changed == [edited]
    assert changes({}, repo_docs[:2]) == ([], repo_docs[:2])


def test_a_section_cache_splits_only_the_pages_that_changed(tmp_path: Path) -> None:
    root = small_repo(tmp_path / "repo")
    settings = Settings(root=root)
    cache = SectionCache()
    first = list(documents(load_model(settings), cache))
    assert first == list(documents(load_model(settings)))  # the same documents, cache or not
    pages = cache.misses
    assert pages >= 3 and cache.hits == 0

    runbook = root / "docs" / "internal" / "runbook.md"
    runbook.write_text(runbook.read_text() + "\n\nZebras are paged at night.\n")
    second = list(documents(load_model(settings), cache))
    assert (cache.misses, cache.hits) == (pages + 1, pages - 1)
    assert second == list(documents(load_model(settings)))
    removed, changed = changes({d.id: d.digest for d in first}, second)
    assert removed == []
    assert changed and all(d.path == "internal/runbook.md" for d in changed)
    assert any("Zebras are paged" in d.text for d in changed)

    # A deleted page's sections go, and the cache forgets them.
    runbook.unlink()
    third = list(documents(load_model(settings), cache))
    assert not any(d.path == "internal/runbook.md" for d in third)
    list(documents(load_model(settings), cache))
    assert cache.misses == pages + 1  # nothing new to split
