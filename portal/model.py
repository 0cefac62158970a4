"""One pass from sources to the validated model everything downstream reads.

The catalog, the docs, the site composition, each entity's own docs and each
API's reference are loaded and checked here, once; sites, search and
scorecards read the result and never parse sources again.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from portal.cache import EntryCache, code_version, content_key
from portal.catalog import (
    Catalog,
    Entity,
    EntityRef,
    LoadResult,
    Registered,
    load_catalog,
    problem_at,
)
from portal.catalog.loader import collector_paused
from portal.docs import DocSet, load_docs
from portal.live.environments import read_environments
from portal.problems import Problem, Report, display_path
from portal.settings import Settings
from portal.sites.config import SiteConfig, load_site_config

if TYPE_CHECKING:
    from portal.apis import ApiReference
    from portal.live import Environment
    from portal.scorecards import Scorecard

__all__ = ["Model", "cache_dir", "catalog_cache", "load_model"]

TECHDOCS_REF = "backstage.io/techdocs-ref"


@dataclass(slots=True, weakref_slot=True)
class Model:
    settings: Settings
    catalog: Catalog
    report: Report
    files: int
    site: SiteConfig | None
    docs: DocSet
    entity_docs: dict[EntityRef, DocSet] = field(default_factory=dict)
    apis: dict[EntityRef, ApiReference] = field(default_factory=dict)
    # Compiled once here; those with errors are reported and left out.
    scorecards: list[Scorecard] = field(default_factory=list)
    # Where each entity runs (portal.live): declared environments, read once here.
    environments: dict[EntityRef, tuple[Environment, ...]] = field(default_factory=dict)


def load_model(
    settings: Settings,
    *,
    with_docs: bool = True,
    registered: Sequence[Registered] = (),
    cache: bool = True,
) -> Model:
    """Load and check every source; every problem lands in ``model.report``.

    ``registered``: descriptors registered in the portal, composed after the files.
    With ``cache``, catalog files' YAML, pages' parses and API references computed
    before from the same text are taken from :func:`cache_dir` (see ``portal.cache``).
    """
    # The whole load, not the catalog alone: the pages read after the entities would
    # otherwise set off full collections that walk every entity again.
    with collector_paused():
        return _load(settings, with_docs, registered, cache)


def _load(
    settings: Settings, with_docs: bool, registered: Sequence[Registered], cache: bool
) -> Model:
    from portal.plugins import get_plugin_manager
    from portal.scorecards import load_scorecards

    pm = get_plugin_manager(settings.root)
    result: LoadResult = load_catalog(
        settings, pm=pm, registered=registered, cache=catalog_cache(settings) if cache else None
    )
    report = result.report
    site = load_site_config(settings.root, report) if with_docs else None
    audiences = set(site.audiences) if site else set()
    docs_dir = settings.root / (site.docs_dir if site else "docs")
    parsed = cache_dir(settings) / "parsed" if cache and with_docs else None
    pages = EntryCache(parsed and parsed / "pages.pickle", pages_cache_version())
    docs = (
        load_docs(
            docs_dir,
            root=settings.root,
            audiences=audiences,
            catalog=result.catalog,
            report=report,
            cache=pages,
        )
        if site is not None
        else DocSet(docs_dir)
    )
    model = Model(settings, result.catalog, report, result.files, site, docs)
    model.environments = read_environments(result.catalog, report, settings.live_environments)
    if with_docs:
        if site is not None:
            for entity in result.catalog:
                _entity_docs(model, entity, audiences, pages)
        apis = EntryCache(parsed and parsed / "apis.pickle", _apis_version())
        _api_references(model, apis)
        apis.save()
    if site is not None:  # else no page was read, and the cache keeps what it holds
        pages.save()
    model.scorecards = load_scorecards(model.catalog, pm, report)
    return model


def cache_dir(settings: Settings) -> Path:
    """Where builds keep what they can reuse: parses, staged sites, rendered pages."""
    return settings.root / ".cache" / "portal"


def catalog_cache(settings: Settings) -> EntryCache:
    """The catalog files' YAML documents, kept by each file's text (see CatalogSources)."""
    return EntryCache(cache_dir(settings) / "parsed" / "catalog.pickle", _catalog_version())


def _catalog_version() -> str:
    return _read_with()


def pages_cache_version() -> str:
    import portal.docs

    return _read_with(portal.docs)


def _apis_version() -> str:
    import portal.apis

    return _read_with(portal.apis)


@functools.cache
def _read_with(*modules: ModuleType) -> str:
    """The version of parses made by ``modules`` reading YAML through portal.yamlio."""
    import yaml

    import portal.yamlio

    return code_version(*modules, portal.yamlio) + yaml.__version__


def _entity_docs(model: Model, entity: Entity, audiences: set[str], cache: EntryCache) -> None:
    ref = entity.annotations.get(TECHDOCS_REF)
    if not ref:
        return
    root = model.settings.root.resolve()
    path = ("metadata", "annotations", TECHDOCS_REF)
    if not ref.startswith("dir:"):
        model.report.add(
            problem_at(
                entity.origin,
                path,
                f"{ref!r}: only dir:<path> is supported (e.g. dir:.)",
                "warning",
            )
        )
        return
    base = entity.origin.path.parent / ref[4:]
    folder = (base / "docs").resolve()
    if not folder.is_relative_to(root):
        model.report.add(problem_at(entity.origin, path, f"{ref!r} leaves the repository"))
        return
    if not folder.is_dir():
        model.report.add(
            problem_at(entity.origin, path, f"{ref!r}: no docs folder at {folder}", "warning")
        )
        return
    model.entity_docs[entity.ref] = load_docs(
        folder,
        root=root,
        audiences=audiences,
        catalog=model.catalog,
        report=model.report,
        strict_links=False,
        cache=cache,
    )


def _api_references(model: Model, cache: EntryCache) -> None:
    from portal.apis import locate, render_api

    root = model.settings.root
    for entity in model.catalog.of_kind("api"):
        definition = entity.spec.get("definition")
        api_type = str(entity.spec.get("type", ""))
        title = entity.metadata.get("title")
        description = entity.description or None
        # Everything render_api reads; repr keeps types and order, which the page shows.
        key = content_key(entity.name, api_type, repr(definition), repr(title), repr(description))
        reference: ApiReference | None = cache.get(key)
        if reference is None:
            reference = render_api(
                name=entity.name,
                api_type=api_type,
                definition=definition,
                title=title,
                description=description,
            )
            cache.put(key, reference)
        model.apis[entity.ref] = reference
        source = entity.placeholders.get(("spec", "definition"))
        for problem in reference.problems:
            if isinstance(source, Path) and isinstance(definition, str):
                pos = locate(definition, problem.pointer)
                display = display_path(source, root)
                model.report.add(
                    Problem(display, problem.message, problem.severity, *(pos or (None, None)))
                )
            elif isinstance(definition, str):
                # Inline block scalar: its text starts on the line after "definition: |".
                pos = locate(definition, problem.pointer)
                base = entity.origin.position(("spec", "definition"))
                line = base[0] + pos[0] if base and pos else None
                column = pos[1] + base[1] + 1 if base and pos else None
                model.report.add(
                    Problem(
                        entity.origin.display,
                        f"spec.definition: {problem.message}",
                        problem.severity,
                        line,
                        column,
                    )
                )
            else:
                path = ("spec", "definition", *problem.pointer)
                model.report.add(problem_at(entity.origin, path, problem.message, problem.severity))
