"""The site composition in ``mkdocs.yml``: its audiences and the ``portal`` plugin's options.

``mkdocs.yml`` may carry MkDocs' own tags (``!ENV``, ``!relative``,
``!!python/name:...``); they are read here as opaque values, since only the
portal's options matter at this point and MkDocs itself reads the rest.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from portal.catalog import Entity
from portal.catalog import rules as catalog_rules
from portal.docs import DocPage
from portal.problems import Problem, Report
from portal.yamlio import Limits, Locator, YamlError, read_text

__all__ = ["ROLES", "Audience", "SiteConfig", "TaggedValue", "best_audience", "load_site_config"]

ROLES = ("reader", "contributor", "reviewer", "admin")


@dataclass(frozen=True, slots=True)
class TaggedValue:
    """A value MkDocs gives meaning to through a YAML tag, kept as written."""

    tag: str
    value: Any


class _TolerantLoader(yaml.SafeLoader):
    pass


def _tagged(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> TaggedValue:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node)
    else:
        value = loader.construct_mapping(node)  # type: ignore[arg-type]
    return TaggedValue(node.tag, value)


_TolerantLoader.add_multi_constructor("!", _tagged)
_TolerantLoader.add_multi_constructor("tag:yaml.org,2002:python/", _tagged)


@dataclass(frozen=True, slots=True)
class Audience:
    """A named view of the docs and catalog, built as its own site."""

    name: str
    title: str
    description: str = ""
    all_docs: bool = False
    doc_audiences: tuple[str, ...] = ()
    doc_paths: tuple[str, ...] = ()
    all_entities: bool = False
    entity_kinds: tuple[str, ...] = ()
    entity_tags: tuple[str, ...] = ()
    access: tuple[str, ...] = ("reader",)

    @property
    def public(self) -> bool:
        return "public" in self.access

    def includes_page(self, page: DocPage) -> bool:
        if self.all_docs:
            return True
        if self.name in page.audiences or set(self.doc_audiences) & set(page.audiences):
            return True
        return any(fnmatch.fnmatchcase(page.path, pattern) for pattern in self.doc_paths)

    def includes_entity(self, entity: Entity) -> bool:
        if self.all_entities:
            return True
        if self.entity_kinds and entity.ref.kind not in self.entity_kinds:
            return False
        if self.entity_tags and not set(self.entity_tags) & set(entity.tags):
            return False
        return bool(self.entity_kinds or self.entity_tags)

    def can_see(self, other: Audience) -> bool:
        """Whether a reader of this audience may follow a link into ``other``."""
        return other.public or not self.public


def best_audience(
    audiences: Mapping[str, Audience], candidates: Iterable[str], prefer: str | None = None
) -> str | None:
    """The site to link to among ``candidates``: ``prefer`` when it is one of them, else an
    internal site before a public one, the widest (all docs or all entities) first."""
    found = [audiences[name] for name in candidates if name in audiences]
    if prefer is not None and any(a.name == prefer for a in found):
        return prefer
    found.sort(key=lambda a: (a.public, not (a.all_docs or a.all_entities), a.name))
    return found[0].name if found else None


@dataclass(slots=True)
class SiteConfig:
    """What ``portal build`` needs from ``mkdocs.yml``."""

    path: Path
    raw: dict[str, Any]
    audiences: dict[str, Audience] = field(default_factory=dict)
    docs_dir: str = "docs"
    site_name: str = "Developer portal"
    # Other plugins' entries as written, to pass on to each audience's build.
    plugins: list[Any] = field(default_factory=list)

    def audience(self, name: str) -> Audience:
        return self.audiences[name]


def load_site_config(root: Path, report: Report, limits: Limits | None = None) -> SiteConfig | None:
    """Read ``<root>/mkdocs.yml``; every problem in the portal options goes to ``report``."""
    path = root / "mkdocs.yml"
    display = "mkdocs.yml"
    if not path.is_file():
        return None  # a catalog without sites; `portal build` says what is missing
    try:
        text = read_text(path, limits or Limits())
        raw = yaml.load(text, Loader=_TolerantLoader)  # tags become inert values
    except YamlError as exc:
        report.add(Problem(display, exc.message, "error", exc.line, exc.column))
        return None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        report.add(
            Problem(
                display,
                f"invalid YAML: {exc.problem}",
                "error",
                mark.line + 1 if mark else None,
                mark.column + 1 if mark else None,
            )
        )
        return None
    if not isinstance(raw, dict):
        report.error(display, "must be a mapping of MkDocs settings", 1, 1)
        return None
    locator = Locator(text)
    config = SiteConfig(path=path, raw=raw)
    config.docs_dir = str(raw.get("docs_dir") or "docs")
    config.site_name = str(raw.get("site_name") or config.site_name)
    plugins = raw.get("plugins") or []
    options: Any = None
    position: tuple[str | int, ...] = ("plugins",)
    for index, entry in enumerate(plugins if isinstance(plugins, list) else []):
        name = next(iter(entry)) if isinstance(entry, dict) and len(entry) == 1 else entry
        if name == "portal":
            options = entry["portal"] if isinstance(entry, dict) else {}
            position = ("plugins", index, "portal")
        else:
            config.plugins.append(entry)
    if isinstance(plugins, dict):
        options = plugins.pop("portal", None)
        position = ("plugins", "portal")
        config.plugins = [{k: v} for k, v in plugins.items()]
    if options is None:
        report.error(display, "the portal plugin is not listed under plugins (with its audiences)")
        return None

    def problem(at: tuple[str | int, ...], message: str) -> None:
        pos = locator.locate(0, at)
        report.add(Problem(display, message, "error", *(pos or (None, None))))

    audiences = options.get("audiences") if isinstance(options, dict) else None
    if not isinstance(audiences, dict) or not audiences:
        problem(position, "portal: audiences must be a mapping of audience names to their settings")
        return None
    for name, spec in audiences.items():
        audience = _audience(name, spec, (*position, "audiences", name), problem)
        if audience is not None:
            config.audiences[name] = audience
    return config


def _audience(name: Any, spec: Any, at: tuple[str | int, ...], problem: Any) -> Audience | None:
    label = f"audience {name!r}"
    if not isinstance(name, str) or not catalog_rules.is_valid_namespace(name):
        problem(at, f"{label}: names are lowercase words joined by dashes (e.g. new-developers)")
        return None
    if not isinstance(spec, dict):
        problem(at, f"{label}: expected a mapping with title, docs, catalog and access")
        return None
    ok = True
    title = spec.get("title")
    if not isinstance(title, str) or not title:
        problem(at, f"{label}: title is required")
        ok = False
    access_raw = spec.get("access", ["reader"])
    access = (access_raw,) if isinstance(access_raw, str) else tuple(access_raw or ())
    bad = [a for a in access if a not in (*ROLES, "public")]
    if bad or not access:
        problem(
            (*at, "access"),
            f"{label}: access takes public or roles from {', '.join(ROLES)}; "
            f"got {bad or 'nothing'}",
        )
        ok = False
    public = "public" in access

    docs = spec.get("docs", {})
    all_docs = docs == "all"
    doc_audiences: tuple[str, ...] = ()
    doc_paths: tuple[str, ...] = ()
    if not all_docs:
        if not isinstance(docs, dict) or set(docs) - {"audience", "paths"}:
            problem(
                (*at, "docs"), f"{label}: docs is 'all' or a mapping with audience and/or paths"
            )
            ok = False
        else:
            doc_audiences = _names(docs.get("audience"))
            doc_paths = _names(docs.get("paths"))
            if public and (doc_paths or doc_audiences):
                problem(
                    (*at, "docs"),
                    f"{label}: a public audience takes only pages whose front matter names it; "
                    "remove docs.audience and docs.paths",
                )
                ok = False
    elif public:
        problem((*at, "docs"), f"{label}: a public audience cannot include all docs")
        ok = False

    catalog = spec.get("catalog", {})
    all_entities = catalog == "all"
    kinds: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    if not all_entities:
        if not isinstance(catalog, dict) or set(catalog) - {"kinds", "tags"}:
            problem(
                (*at, "catalog"), f"{label}: catalog is 'all' or a mapping with kinds and/or tags"
            )
            ok = False
        else:
            kinds = tuple(k.lower() for k in _names(catalog.get("kinds")))
            tags = _names(catalog.get("tags"))
            if public and kinds and not tags:
                problem(
                    (*at, "catalog"),
                    f"{label}: a public audience selects entities by tag (e.g. tags: [public]), "
                    "so nothing internal is published by kind alone",
                )
                ok = False
    elif public:
        problem((*at, "catalog"), f"{label}: a public audience cannot include the whole catalog")
        ok = False
    if not ok:
        return None
    return Audience(
        name=name,
        title=title,  # type: ignore[arg-type]
        description=str(spec.get("description") or ""),
        all_docs=all_docs,
        doc_audiences=doc_audiences,
        doc_paths=doc_paths,
        all_entities=all_entities,
        entity_kinds=kinds,
        entity_tags=tags,
        access=access,
    )


def _names(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)
