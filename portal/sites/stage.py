"""Planning and staging one audience's site: which pages and entities, rewritten links, nav.

Staging writes plain Markdown and an ``mkdocs.yml`` into a folder of its own,
so any builder that reads ``mkdocs.yml`` could build it. Files are written only
when their content changes, which keeps incremental builds incremental.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import posixpath
import re
import shutil
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from portal.catalog import Entity, EntityRef
from portal.docs import DocPage, DocSet
from portal.sites import pages, urls
from portal.sites.assets import LocalScripts
from portal.sites.config import Audience, TaggedValue

if TYPE_CHECKING:
    from portal.apis import ApiReference
    from portal.model import Model

__all__ = ["AudiencePlan", "StagedSite", "plan_audiences", "stage"]

PYTHON_PACKAGE = "portal.quantum.dev/python-package"
LOCAL_PORTAL_URL = "http://127.0.0.1:8000"
# A new MkDocs, theme or portal renders pages differently: no incremental build across them.
_TOOL_VERSIONS = " ".join(
    f"{name}={importlib.metadata.version(name)}"
    for name in ("mkdocs", "mkdocs-material", "quantum-portal")
)
# Without a local Mermaid, diagrams show as their source: Material would fetch Mermaid
# from a CDN for a mermaid block, and no page may load from outside.
_MERMAID_FENCE = re.compile(r"^(\s*(?:`{3,}|~{3,})\s*)mermaid\b", re.M)
_INF = float("inf")
PORTAL_LINK = "Portal home"


@dataclass(slots=True, eq=False)
class AudiencePlan:
    """What one audience's site contains, and how it links to the others."""

    audience: Audience
    model: Model
    base_url: str
    pages: dict[str, DocPage] = field(default_factory=dict)
    entities: dict[EntityRef, Entity] = field(default_factory=dict)
    apis: dict[EntityRef, ApiReference] = field(default_factory=dict)
    entity_docs: dict[EntityRef, DocSet] = field(default_factory=dict)
    others: dict[str, AudiencePlan] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.audience.name

    def ordered_pages(self) -> list[DocPage]:
        return [page for _, section in self.sections() for page in section]

    def sections(self) -> list[tuple[str, list[DocPage]]]:
        """Top-level sections and their pages, in navigation order."""
        grouped: dict[str, list[DocPage]] = defaultdict(list)
        for page in self.pages.values():
            grouped[page.path.split("/", 1)[0] if "/" in page.path else ""].append(page)
        ordered = sorted(grouped.items(), key=lambda item: self._section_key(item[0], item[1]))
        return [(name, sorted(items, key=_page_key)) for name, items in ordered]

    def _section_key(self, name: str, items: list[DocPage]) -> tuple[float, str]:
        label, position = self.model.docs.sections.get(name, ("", None))
        if position is None:
            positions = [p.position for p in items if p.position is not None]
            position = min(positions) if positions else _INF
        return (position, (label or name).lower())

    def section_title(self, name: str) -> str:
        label, _ = self.model.docs.sections.get(name, ("", None))
        last = name.rsplit("/", 1)[-1]
        return label or last.replace("-", " ").replace("_", " ").capitalize() or "Pages"

    def kind_counts(self) -> list[tuple[str, int]]:
        counts: dict[str, int] = defaultdict(int)
        for ref in self.entities:
            counts[ref.kind] += 1
        order = list(pages.KIND_TITLES)
        return sorted(
            counts.items(), key=lambda kv: (order.index(kv[0]) if kv[0] in order else 99, kv[0])
        )

    def entity_link(self, ref: EntityRef, from_path: str, label: str | None = None) -> str:
        """A link to an entity: in this site, in another site the reader may see, or none."""
        entity = self.model.catalog.get(ref)
        text = pages.cell(label or (entity.title if entity else ref.short("group")))
        if ref in self.entities:
            return f"[{text}]({urls.relative_link(from_path, urls.entity_page(ref))})"
        for other in self.others.values():
            if ref in other.entities and self.audience.can_see(other.audience):
                return (
                    f"[{text}]({urls.portal_url(self.base_url, other.name, urls.entity_page(ref))})"
                )
        return "" if self.audience.public else text

    def python_page(self, entity: Entity) -> str:
        return f"{urls.entity_docs_dir(entity.ref).rsplit('/', 1)[0]}/python.md"

    def doc_target(self, path: str, anchor: str) -> str | None:
        """Where a link to docs page ``path`` should go from this site, if anywhere."""
        for other in self.others.values():
            if other is not self and path in other.pages and self.audience.can_see(other.audience):
                return urls.portal_url(self.base_url, other.name, path, anchor)
        return None


def _page_key(page: DocPage) -> tuple[int, float, str]:
    return (
        page.path.count("/"),
        page.position if page.position is not None else _INF,
        page.nav_title.lower(),
    )


def plan_audiences(model: Model, base_url: str = "") -> dict[str, AudiencePlan]:
    """Decide, for every audience, its pages, entities, API references and entity docs."""
    assert model.site is not None
    plans: dict[str, AudiencePlan] = {}
    for audience in model.site.audiences.values():
        plan = AudiencePlan(audience, model, base_url)
        plan.pages = {p.path: p for p in model.docs if audience.includes_page(p)}
        plan.entities = {e.ref: e for e in model.catalog if audience.includes_entity(e)}
        plan.apis = {ref: api for ref, api in model.apis.items() if ref in plan.entities}
        plan.entity_docs = {
            ref: docs for ref, docs in model.entity_docs.items() if ref in plan.entities
        }
        plans[audience.name] = plan
    for plan in plans.values():
        plan.others = plans
    return plans


@dataclass(slots=True)
class StagedSite:
    name: str
    config_file: Path
    pages: int
    structure: str  # changes when navigation or the page set changes: no dirty build then
    content: str  # a digest of every staged file: equal means the site would be the same


def stage(
    plan: AudiencePlan,
    stage_dir: Path,
    *,
    site_dir: Path,
    cache_dir: Path,
    root_config: Path,
    reverse: bool,
    scripts: LocalScripts,
) -> StagedSite:
    """Write the audience's Markdown and mkdocs.yml under ``stage_dir``."""
    docs_dir = stage_dir / "docs"
    writer = _Writer(docs_dir)
    model = plan.model
    writer.text("index.md", pages.home_page(plan))
    assets = set(model.docs.assets)
    for page in plan.pages.values():
        text = _rewritten(plan, page, model.docs, assets)
        if not scripts.has_mermaid and "mermaid" in text:
            text = _MERMAID_FENCE.sub(r"\1text", text)
        writer.text(page.path, text, page.digest if text is page.text else None)
    for path, source in scripts.files.items():
        writer.copy(path, source)
    for asset in _assets(plan.pages.values(), model.docs):
        writer.copy(asset, model.docs.root / asset)
    if plan.entities:
        writer.text("catalog/index.md", pages.catalog_index(plan))
        for kind, _ in plan.kind_counts():
            writer.text(f"catalog/kinds/{kind}.md", pages.kind_page(plan, kind))
        for entity in plan.entities.values():
            writer.text(urls.entity_page(entity.ref), pages.entity_page(plan, entity))
            package = entity.annotations.get(PYTHON_PACKAGE)
            if package and not plan.audience.public:
                writer.text(plan.python_page(entity), _python_page(entity, package))
    for ref, docs in plan.entity_docs.items():
        prefix = urls.entity_docs_dir(ref) + "/"
        docs_assets = set(docs.assets)
        for page in docs.pages.values():
            text = _rewritten(plan, page, docs, docs_assets)
            writer.text(prefix + page.path, text, page.digest if text is page.text else None)
        for asset in _assets(docs.pages.values(), docs):
            writer.copy(prefix + asset, docs.root / asset)
    if plan.apis:
        writer.text("apis/index.md", pages.api_index(plan))
        for ref in plan.apis:
            writer.text(urls.api_page(ref), pages.api_page(plan, plan.entities[ref]))
    writer.remove_others()

    nav = _nav(plan)
    plugins: list[Any] = [p for p in model.site.plugins if not _has_tags(p)] if model.site else []
    if (
        any(PYTHON_PACKAGE in e.annotations for e in plan.entities.values())
        and not plan.audience.public
        and not any(_plugin_name(p) == "mkdocstrings" for p in plugins)
    ):
        python = {
            "paths": [str(model.settings.root)],
            "options": {"show_submodules": True, "show_source": False},
        }
        plugins.append({"mkdocstrings": {"handlers": {"python": python}}})
    plugins.append(
        {
            "portal": {
                "audience": plan.name,
                "cache_dir": str(cache_dir),
                "state_file": str(stage_dir / "search-state.json"),
                "reverse": reverse,
            }
        }
    )
    site_name = model.site.site_name if model.site else "Portal"
    config: dict[str, Any] = {
        "INHERIT": str(root_config),
        "site_name": f"{site_name} · {plan.audience.title}",
        "docs_dir": "docs",
        "nav": nav,
        "not_in_nav": "/catalog/*/*/*/\n",
        "plugins": plugins,
        "strict": True,
    }
    # The sitemap needs absolute URLs: the portal's address, or where `portal serve` listens.
    config["site_url"] = f"{(plan.base_url or LOCAL_PORTAL_URL).rstrip('/')}/docs/{plan.name}/"
    inherited_js = model.site.raw.get("extra_javascript") if model.site else None
    javascript = [*(inherited_js if isinstance(inherited_js, list) else []), *scripts.urls]
    if javascript:
        config["extra_javascript"] = javascript
    if plan.audience.public:
        # Nothing on a public site may point back at the internal repository.
        config["repo_url"] = None
        config["edit_uri"] = None
    # The build folder changes every build; everything else in the config shapes every page.
    # JSON is YAML, and much faster to write for a navigation of thousands of pages.
    structure = _hash(
        json.dumps(config, sort_keys=True)
        + root_config.read_text(encoding="utf-8")
        + _TOOL_VERSIONS
        + "\n".join(sorted(writer.written))
    )
    config["site_dir"] = str(site_dir)
    config_file = stage_dir / "mkdocs.yml"
    _write_if_changed(config_file, json.dumps(config, indent=1).encode())
    return StagedSite(plan.name, config_file, len(writer.written), structure, writer.digest)


def _python_page(entity: Entity, package: str) -> str:
    return (
        pages.front_matter(f"{entity.title}: Python reference")
        + f"# {pages.cell(entity.title)}: Python reference\n\n::: {package}\n"
    )


def _nav(plan: AudiencePlan) -> list[Any]:
    nav: list[Any] = [{"Home": "index.md"}]
    for name, items in plan.sections():
        if name:
            nav.append({plan.section_title(name): _tree_nav(items, plan, depth=1)})
        else:
            nav.extend({p.nav_title: p.path} for p in items)
    # Every entry has its title: a dirty build does not read the pages it does not
    # render, and the navigation of those it renders would show their title as None.
    if plan.entities:
        nav.append(
            {
                pages.CATALOG: [{pages.CATALOG: "catalog/index.md"}]
                + [
                    {pages.kind_title(kind): f"catalog/kinds/{kind}.md"}
                    for kind, _ in plan.kind_counts()
                ]
            }
        )
    if plan.apis:
        apis: list[Any] = [{pages.API_REFERENCE: "apis/index.md"}]
        if len(plan.apis) <= 100:
            apis += [{plan.entities[ref].title: urls.api_page(ref)} for ref in sorted(plan.apis)]
        nav.append({pages.API_REFERENCE: apis})
    if not plan.audience.public:
        # Back to the portal's own pages (catalog browser, registration, the other
        # sites); public readers may not be signed in, so their site has no such link.
        nav.append({PORTAL_LINK: f"{plan.base_url.rstrip('/')}/"})
    return nav


def _tree_nav(items: list[DocPage], plan: AudiencePlan, depth: int) -> list[Any]:
    direct = [p for p in items if p.path.count("/") == depth]
    nested: dict[str, list[DocPage]] = defaultdict(list)
    for page in items:
        if page.path.count("/") > depth:
            nested["/".join(page.path.split("/")[: depth + 1])].append(page)
    out: list[Any] = [{p.nav_title: p.path} for p in sorted(direct, key=_page_key)]
    for section in sorted(nested):
        out.append({plan.section_title(section): _tree_nav(nested[section], plan, depth + 1)})
    return out


def _rewritten(plan: AudiencePlan, page: DocPage, docs: DocSet, assets: set[str]) -> str:
    """The page's source with links outside this site pointed elsewhere or dropped.

    ``assets`` holds ``docs.assets``, which every page of the folder shares.
    """
    text = page.text
    if not page.links:
        return text
    staged = plan.pages if docs is plan.model.docs else docs.pages
    changes: dict[int, list[tuple[int, int, str]]] = defaultdict(list)
    for link, resolved in zip(page.links, page.targets, strict=True):
        if resolved is None:
            continue
        path, anchor = resolved
        if path in staged or path in assets:
            continue
        if path + ".md" in staged or path.rstrip("/") + "/index.md" in staged:
            continue
        target = plan.doc_target(path, anchor) if docs is plan.model.docs else None
        if link.definition:
            replacement = f"[{link.text}]: {target}" if target else ""
        elif target:
            replacement = f"{'!' if link.image else ''}[{link.text}]({target})"
        else:
            replacement = "" if link.image else link.text
        changes[link.line].append((link.start, link.end, replacement))
    if not changes:
        return text
    lines = page.body.split("\n")
    for number, edits in changes.items():
        line = lines[number - 1]
        for start, end, replacement in sorted(edits, reverse=True):
            line = line[:start] + replacement + line[end:]
        lines[number - 1] = line
    head = "\n".join(text.split("\n")[: page.body_line - 1])
    return (head + "\n" if head else "") + "\n".join(lines)


def _assets(doc_pages: Any, docs: DocSet) -> list[str]:
    """The docs folder's non-page files that the given pages link to."""
    assets = set(docs.assets)
    used: set[str] = set()
    if not assets:
        return []
    for page in doc_pages:
        for resolved in page.targets:
            if resolved and resolved[0] in assets:
                used.add(resolved[0])
    return sorted(used)


def _has_tags(value: Any) -> bool:
    if isinstance(value, TaggedValue):
        return True
    if isinstance(value, dict):
        return any(_has_tags(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_tags(v) for v in value)
    return False


def _plugin_name(entry: Any) -> str:
    return str(next(iter(entry))) if isinstance(entry, dict) else str(entry)


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _write_if_changed(path: Path, data: bytes) -> bool:
    try:
        if path.read_bytes() == data:
            return False
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return True


class _Writer:
    """Writes staged files, touching only those whose content changed.

    A manifest lists every staged file with the digest of its content. It is
    removed when staging starts and written when it ends, so a staging that
    stops halfway leaves none: the next one then compares every file with what
    is on disk, and removes whatever it did not write.
    """

    _VERSION = 2

    def __init__(self, root: Path) -> None:
        self.root = root
        self.written: set[str] = set()
        self._digest = hashlib.sha256()
        self._hashes: dict[str, str] = {}
        self._manifest = root.parent / "staged.json"
        self._previous: dict[str, str] = {}
        try:
            stored = json.loads(self._manifest.read_text())
            self._manifest.unlink()
        except (OSError, ValueError):
            stored = None
        self._trusted = (
            isinstance(stored, dict) and stored.get("version") == self._VERSION and root.is_dir()
        )
        if self._trusted:
            assert isinstance(stored, dict)
            self._previous = stored["files"]

    @property
    def digest(self) -> str:
        return self._digest.hexdigest()[:16]

    def text(self, relative: str, content: str, digest: str | None = None) -> None:
        """Stage ``content``; ``digest``, when known, is the SHA-256 of it as UTF-8."""
        self.written.add(relative)
        data = None
        if not digest:
            data = content.encode("utf-8")
            digest = hashlib.sha256(data).hexdigest()
        self._digest.update(f"{relative}\0{digest}".encode())
        self._hashes[relative] = digest
        if self._trusted and self._previous.get(relative) == digest:
            return
        _write_if_changed(self.root / relative, data or content.encode("utf-8"))

    def copy(self, relative: str, source: Path) -> None:
        self.written.add(relative)
        stat = source.stat()
        self._digest.update(f"{relative}\0{stat.st_size}\0{stat.st_mtime_ns}".encode())
        stamp = f"copy {stat.st_size} {stat.st_mtime_ns}"
        self._hashes[relative] = stamp
        if self._trusted and self._previous.get(relative) == stamp:
            return
        target = self.root / relative
        if target.exists():
            copied = target.stat()
            if copied.st_size == stat.st_size and copied.st_mtime >= stat.st_mtime:
                return
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)

    def remove_others(self) -> None:
        """Remove the files this staging did not write, then record the manifest."""
        if self._trusted:
            for relative in self._previous.keys() - self._hashes.keys():
                path = self.root / relative
                path.unlink(missing_ok=True)
                folder = path.parent
                while folder != self.root and not any(folder.iterdir()):
                    folder.rmdir()
                    folder = folder.parent
        elif self.root.is_dir():
            for dirpath, _dirs, files in os.walk(self.root, topdown=False):
                for name in files:
                    relative = posixpath.relpath(
                        Path(dirpath, name).as_posix(), self.root.as_posix()
                    )
                    if relative not in self.written:
                        os.unlink(Path(dirpath, name))
                if not os.listdir(dirpath) and Path(dirpath) != self.root:
                    os.rmdir(dirpath)
        manifest = {"version": self._VERSION, "files": self._hashes}
        _write_if_changed(self._manifest, json.dumps(manifest).encode())
