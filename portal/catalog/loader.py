"""One pass from catalog files to a validated, related :class:`Catalog` and every problem."""

from __future__ import annotations

import gc
import glob
import os
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pluggy

from portal.catalog.kinds import RELATION_PAIRS, KindSpec, registered_kinds
from portal.catalog.model import Catalog, Entity, Origin, Relation
from portal.catalog.refs import DEFAULT_NAMESPACE, EntityRef
from portal.catalog.sources import Refused, SourceResolver, Url
from portal.catalog.substitutions import PLACEHOLDERS, Emit, substitute
from portal.catalog.validate import KeyPath, problem_at, show, validate_document
from portal.plugins import get_plugin_manager
from portal.problems import Problem, Report, Severity
from portal.settings import Settings
from portal.yamlio import Limits, Locator, YamlError, load_documents

__all__ = ["LoadResult", "load_catalog"]


@dataclass(slots=True)
class LoadResult:
    """The catalog, every problem found on the way, and how many files were read."""

    catalog: Catalog
    report: Report
    files: int


@dataclass(slots=True)
class _Pending:
    source: Path | Url
    via: tuple[Origin, KeyPath] | None = None
    optional: bool = False


def limits_of(settings: Settings) -> Limits:
    return Limits(settings.max_file_bytes, settings.max_yaml_nodes, settings.max_yaml_depth)


def load_catalog(settings: Settings, *, pm: pluggy.PluginManager | None = None) -> LoadResult:
    """Read every file matching ``settings.catalog_paths`` and every Location they name."""
    pm = pm or get_plugin_manager(settings.root)
    kinds = registered_kinds(pm)
    loader = _Loader(settings, kinds)
    # A load builds many small objects and no reference cycles worth collecting;
    # pausing the cyclic collector meanwhile saves it from scanning them repeatedly.
    collecting = gc.isenabled()
    gc.disable()
    try:
        loader.run()
        catalog = loader.relate()
    finally:
        if collecting:
            gc.enable()
    for entity in catalog:
        pm.hook.portal_catalog_check_entity(entity=entity, report=loader.report)
    pm.hook.portal_catalog_loaded(catalog=catalog, report=loader.report)
    return LoadResult(catalog, loader.report, loader.files)


class _Loader:
    def __init__(self, settings: Settings, kinds: dict[str, KindSpec]) -> None:
        self.root = settings.root.resolve()
        self.kinds = kinds
        self.resolver = SourceResolver(
            self.root,
            limits_of(settings),
            settings.catalog_allowed_urls,
            settings.catalog_url_timeout,
        )
        self.patterns = settings.catalog_paths
        self.report = Report()
        self.entities: list[Entity] = []
        self.files = 0
        # Entities that failed validation: refs to them are not reported again as missing.
        self.rejected: set[EntityRef] = set()
        self._seen: set[Path | Url] = set()
        self._queue: deque[_Pending] = deque()

    # -- reading ----------------------------------------------------------

    def run(self) -> None:
        for pattern in self.patterns:
            matches = sorted(glob.glob(str(self.root / pattern), recursive=True))
            for match in matches:
                # realpath: a symlink is judged by where it leads (see SourceResolver).
                real = os.path.realpath(match)
                if real.startswith(self.resolver.display_root) and os.path.isfile(real):
                    self._enqueue(_Pending(Path(real)))
                elif not real.startswith(self.resolver.display_root):
                    self.report.error(
                        self.resolver.display(Path(match)),
                        "is a symlink that leaves the repository; "
                        "catalog files must stay inside it",
                    )
            if not matches:
                self.report.warning(pattern, "no catalog file matches this pattern")
        while self._queue:
            self._read(self._queue.popleft())

    def _enqueue(self, pending: _Pending) -> None:
        if pending.source not in self._seen:
            self._seen.add(pending.source)
            self._queue.append(pending)

    def _display(self, source: Path | Url) -> str:
        return source.url if isinstance(source, Url) else self.resolver.display(source)

    def _read(self, pending: _Pending) -> None:
        source = pending.source
        display = self._display(source)
        try:
            text = self.resolver.read(source)
            documents = load_documents(text, self.resolver.limits)
        except (FileNotFoundError, IsADirectoryError):
            if not pending.optional and pending.via is not None:
                origin, path = pending.via
                self.report.add(problem_at(origin, path, f"no such file: {display}"))
            return
        except YamlError as exc:
            self.report.add(Problem(display, exc.message, "error", exc.line, exc.column))
            return
        except OSError as exc:
            self.report.add(Problem(display, f"cannot be read: {exc.strerror}", "error"))
            return
        self.files += 1
        locator = Locator(text)
        needs_substitution = any(p in text for p in PLACEHOLDERS)
        if all(document is None for document in documents):
            self.report.add(
                Problem(display, "holds no entities (the file is empty)", "warning", 1, 1)
            )
        for index, document in enumerate(documents):
            if document is None:
                continue
            origin = Origin(source if isinstance(source, Path) else Path(), display, index, locator)
            if not isinstance(document, dict):
                self.report.add(
                    problem_at(
                        origin,
                        (),
                        f"a catalog document must be a mapping of apiVersion, kind, metadata "
                        f"and spec; this one is {show(document)}",
                    )
                )
                continue
            placeholders = (
                substitute(document, source, self.resolver, self._emitter(origin))
                if needs_substitution
                else {}
            )
            entity = validate_document(document, origin, self.kinds, self.report)
            if entity is not None:
                entity.placeholders = placeholders
            else:
                rejected = _intended_ref(document)
                if rejected is not None:
                    self.rejected.add(rejected)
                continue
            self.entities.append(entity)
            if entity.ref.kind == "location":
                self._follow(entity, source)

    def _emitter(self, origin: Origin) -> Emit:
        def emit(path: KeyPath, message: str, severity: Severity) -> None:
            self.report.add(problem_at(origin, path, message, severity))

        return emit

    def _follow(self, location: Entity, base: Path | Url) -> None:
        spec = location.spec
        targets: list[tuple[KeyPath, Any]] = []
        if "target" in spec:
            targets.append((("spec", "target"), spec["target"]))
        targets.extend(
            (("spec", "targets", i), target) for i, target in enumerate(spec.get("targets") or [])
        )
        if not targets:
            self.report.add(
                problem_at(
                    location.origin, ("spec",), "a Location needs spec.target or spec.targets"
                )
            )
            return
        optional = spec.get("presence") == "optional"
        for path, target in targets:
            try:
                sources = self.resolver.resolve(base, target)
            except Refused as exc:
                self.report.add(
                    problem_at(location.origin, path, f"{target!r} {exc}", exc.severity)
                )
                continue
            if not sources:
                self.report.add(
                    problem_at(location.origin, path, f"{target!r} matches no file", "warning")
                )
            for source in sources:
                self._enqueue(_Pending(source, (location.origin, path), optional))

    # -- relating ---------------------------------------------------------

    def relate(self) -> Catalog:
        index: dict[EntityRef, Entity] = {}
        for entity in self.entities:
            first = index.get(entity.ref)
            if first is not None:
                self.report.add(
                    problem_at(
                        entity.origin,
                        ("metadata", "name"),
                        f"{entity.ref} is already defined at {first.origin.describe()} "
                        "(names are unique per kind and namespace, ignoring case); "
                        "this one is ignored",
                    )
                )
                continue
            index[entity.ref] = entity

        related: dict[EntityRef, set[Relation]] = {ref: set() for ref in index}
        for entity in index.values():
            kind = self.kinds.get(entity.ref.kind)
            if kind is None:
                continue
            for field, position, target in entity.spec_refs:
                relation = kind.fields[field].relation
                if relation is None:
                    continue
                related[entity.ref].add(Relation(relation, target))
                if target in index:
                    related[target].add(Relation(RELATION_PAIRS[relation], entity.ref))
                elif target not in self.rejected:
                    path: KeyPath = (
                        ("spec", field) if position is None else ("spec", field, position)
                    )
                    self.report.add(
                        problem_at(
                            entity.origin,
                            path,
                            f"{target} does not exist in the catalog",
                            "warning",
                        )
                    )
        for ref, relations in related.items():
            index[ref].relations = sorted(relations)
        return Catalog(index)


def _intended_ref(document: dict[str, Any]) -> EntityRef | None:
    """The ref a rejected document would have had, when its kind and name are readable."""
    kind, metadata = document.get("kind"), document.get("metadata")
    if not isinstance(kind, str) or not isinstance(metadata, dict):
        return None
    name, namespace = metadata.get("name"), metadata.get("namespace", DEFAULT_NAMESPACE)
    if not isinstance(name, str) or not isinstance(namespace, str):
        return None
    return EntityRef.of(kind, namespace, name)
