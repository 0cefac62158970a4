"""One pass from catalog files to a validated, related :class:`Catalog` and every problem."""

from __future__ import annotations

import contextlib
import copy
import gc
import glob
import os
import pickle
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pluggy

from portal.cache import EntryCache, content_key
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

__all__ = [
    "CatalogSources",
    "CheckResult",
    "LoadResult",
    "Registered",
    "TextSource",
    "collector_paused",
    "load_catalog",
    "relate",
]


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


@dataclass(frozen=True, slots=True)
class TextSource:
    """A descriptor that is not one of the repository's files, e.g. one registered in the portal.

    ``display`` names it in messages. Relative paths in it (Location targets,
    ``$text``) are read from the repository root.
    """

    display: str
    text: str


Registered = TextSource | str
"""A registered descriptor: its text, or the repository path of a catalog file to read."""


def load_catalog(
    settings: Settings,
    *,
    pm: pluggy.PluginManager | None = None,
    registered: Sequence[Registered] = (),
    cache: EntryCache | None = None,
) -> LoadResult:
    """Read every file matching ``settings.catalog_paths`` and every Location they name.

    ``registered`` descriptors come after the files: a file's entity wins a name clash.
    ``cache``: see :class:`CatalogSources`.
    """
    return CatalogSources(settings, pm=pm, cache=cache).compose(registered)


class CatalogSources:
    """The repository's catalog files, read once, with registered descriptors composed on top.

    The portal keeps one of these: registering a descriptor re-relates the entities
    already read instead of reading every file again.

    ``cache`` keeps each file's YAML documents by the file's text (parsing is most of
    a large catalog's load); it is saved once the files are read. Validation, Locations
    and substitutions run on every load.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        pm: pluggy.PluginManager | None = None,
        cache: EntryCache | None = None,
    ) -> None:
        self.settings = settings
        self.pm = pm or get_plugin_manager(settings.root)
        self.kinds = registered_kinds(self.pm)
        self._files = _Loader(settings, self.kinds, cache)
        with collector_paused():
            self._files.run()
        if cache is not None:
            cache.save()
            self._files.cache = None  # its entries are not needed again

    def compose(self, registered: Sequence[Registered] = ()) -> LoadResult:
        """The catalog of the files plus ``registered``, related, with every problem."""
        extra = _Loader(self.settings, self.kinds)
        extra.skip(self._files.seen)
        with collector_paused():
            for source in registered:
                extra.read_registered(source)
            report = Report()
            report.extend(self._files.report)
            report.extend(extra.report)
            # Entities are copied: a catalog already handed out keeps its relations.
            entities = [copy.copy(e) for e in self._files.entities] + extra.entities
            catalog = relate(entities, self._files.rejected | extra.rejected, self.kinds, report)
        for entity in catalog:
            self.pm.hook.portal_catalog_check_entity(entity=entity, report=report)
        self.pm.hook.portal_catalog_loaded(catalog=catalog, report=report)
        return LoadResult(catalog, report, self._files.files + extra.files)

    def check(self, source: Registered, existing: Catalog) -> CheckResult:
        """A dry run: what adding ``source`` to the catalog ``existing`` would give.

        Reads and validates ``source`` alone, then checks its names and references
        against ``existing`` without composing the catalog again, so it costs the
        size of the submission, not of the catalog. The report holds the problems
        of ``source`` only; ``entities`` are the ones that would be added.
        """
        alone = _Loader(self.settings, self.kinds)
        alone.skip(self._files.seen)
        with collector_paused():
            alone.read_registered(source)
        report = Report()
        report.extend(alone.report)
        rejected = self._files.rejected | alone.rejected
        kept: dict[EntityRef, Entity] = {}
        clashes: list[tuple[Entity, Entity]] = []
        for entity in alone.entities:
            first = existing.get(entity.ref) or kept.get(entity.ref)
            if first is not None:
                report.add(_duplicate(entity, first))
                if entity.ref in existing:
                    clashes.append((entity, first))
                continue
            kept[entity.ref] = entity
        for entity in kept.values():
            kind = self.kinds.get(entity.ref.kind)
            for field, position, target in entity.spec_refs if kind else ():
                if kind is not None and kind.fields[field].relation is None:
                    continue
                if target not in kept and target not in existing and target not in rejected:
                    report.add(_dangling(entity, field, position, target))
            self.pm.hook.portal_catalog_check_entity(entity=entity, report=report)
        return CheckResult(list(kept.values()), report, existing, clashes)


@dataclass(slots=True)
class CheckResult:
    """What a dry run found: the entities that would be added, and every problem."""

    entities: list[Entity]
    report: Report
    existing: Catalog
    # (the submitted entity, the one already in the catalog under its name)
    clashes: list[tuple[Entity, Entity]]


def _realpath(path: str, folders: dict[str, str]) -> str:
    """``os.path.realpath(path)``, with the real path of each folder worked out once.

    When the last part of ``path`` is a name, the real path is its folder's real path
    joined to it, unless the name is a symlink. A pattern may also end in "." or ".."
    (glob yields them as they are): those go to ``os.path.realpath`` whole.
    """
    folder, name = os.path.split(path)
    if name in ("", ".", ".."):
        return os.path.realpath(path)
    real_folder = folders.get(folder)
    if real_folder is None:
        real_folder = folders[folder] = os.path.realpath(folder)
    joined = os.path.join(real_folder, name)
    return os.path.realpath(joined) if os.path.islink(joined) else joined


_pauses = threading.Lock()
_paused = 0  # loads under way in any thread
_was_collecting = False


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic collector until the last load under way, in any thread, ends.

    A load builds many small objects and no reference cycles worth collecting;
    pausing the collector meanwhile saves it from scanning them again and again.
    The switch is process-wide, so overlapping loads (the portal's workers) count
    themselves in and out: the first one in notes whether it was on, the last one
    out puts it back.
    """
    global _paused, _was_collecting
    with _pauses:
        if _paused == 0:
            _was_collecting = gc.isenabled()
            gc.disable()
        _paused += 1
    try:
        yield
    finally:
        with _pauses:
            _paused -= 1
            if _paused == 0 and _was_collecting:
                gc.enable()


class _Loader:
    def __init__(
        self, settings: Settings, kinds: dict[str, KindSpec], cache: EntryCache | None = None
    ) -> None:
        self.root = settings.root.resolve()
        self.kinds = kinds
        self.cache = cache
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
        self.seen: set[Path | Url] = set()
        self._queue: deque[_Pending] = deque()

    def skip(self, sources: set[Path | Url]) -> None:
        """Do not read ``sources`` (already read by another loader)."""
        self.seen |= sources

    # -- reading ----------------------------------------------------------

    def run(self) -> None:
        for pattern in self.patterns:
            matches = sorted(glob.glob(str(self.root / pattern), recursive=True))
            folders: dict[str, str] = {}
            for match in matches:
                # realpath: a symlink is judged by where it leads (see SourceResolver).
                real = _realpath(match, folders)
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
        self._drain()

    def read_registered(self, source: Registered) -> None:
        """Read a registered text, or the repository catalog file a registration names."""
        base = self.root / "catalog-info.yaml"  # relative paths start at the root
        if isinstance(source, TextSource):
            self._parse(source.text, base, source.display, trusted=False)
        else:
            try:
                targets = self.resolver.resolve(base, source)
            except Refused as exc:
                self.report.add(Problem(source, str(exc), exc.severity))
                return
            if not targets:
                self.report.add(Problem(source, "matches no file in the repository"))
            for target in targets:
                self._enqueue(_Pending(target))
        self._drain()

    def _drain(self) -> None:
        while self._queue:
            self._read(self._queue.popleft())

    def _enqueue(self, pending: _Pending) -> None:
        if pending.source not in self.seen:
            self.seen.add(pending.source)
            self._queue.append(pending)

    def _display(self, source: Path | Url) -> str:
        return source.url if isinstance(source, Url) else self.resolver.display(source)

    def _read(self, pending: _Pending) -> None:
        source = pending.source
        display = self._display(source)
        try:
            text = self.resolver.read(source)
        except (FileNotFoundError, IsADirectoryError):
            if not pending.optional and pending.via is not None:
                origin, path = pending.via
                self.report.add(problem_at(origin, path, f"no such file: {display}"))
            elif pending.via is None:
                self.report.add(Problem(display, "no such file"))
            return
        except YamlError as exc:
            self.report.add(Problem(display, exc.message, "error", exc.line, exc.column))
            return
        except OSError as exc:
            self.report.add(Problem(display, f"cannot be read: {exc.strerror}", "error"))
            return
        if self._parse(text, source, display):
            self.files += 1

    def _parse(self, text: str, source: Path | Url, display: str, *, trusted: bool = True) -> bool:
        """Validate every document of ``text``; False when it is not YAML at all.

        An untrusted text (pasted into the portal, not reviewed into the repository)
        may not read files ($text, $json, $yaml) nor be a Location: either would let
        its author read files of the portal's host.
        """
        try:
            documents = self._documents(text)
        except YamlError as exc:
            self.report.add(Problem(display, exc.message, "error", exc.line, exc.column))
            return False
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
            if needs_substitution and not trusted:
                for path, key in _placeholders_in(document):
                    self.report.add(
                        problem_at(
                            origin,
                            path,
                            f"{key} reads a file, which a descriptor registered in the portal "
                            "may not do; register the catalog file by its repository path "
                            "instead",
                            key=True,
                        )
                    )
                needs_substitution = False
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
            if entity.ref.kind == "location" and not trusted:
                self.report.add(
                    problem_at(
                        origin,
                        ("kind",),
                        "a descriptor registered in the portal cannot be a Location; "
                        "register each catalog file by its repository path instead",
                    )
                )
                continue
            self.entities.append(entity)
            if entity.ref.kind == "location":
                self._follow(entity, source)
        return True

    def _documents(self, text: str) -> list[Any]:
        """The documents of ``text``, from the cache when the same text was parsed before.

        The cache holds them pickled, so every load gets its own copies to substitute
        into; a text that does not parse is not kept, and is reported on every load.
        """
        limits = self.resolver.limits
        if self.cache is None:
            return load_documents(text, limits)
        key = content_key(text, repr(limits))
        kept: bytes | None = self.cache.get(key)
        if kept is not None:
            with contextlib.suppress(RecursionError):
                documents: list[Any] = pickle.loads(kept)
                return documents
        documents = load_documents(text, limits)
        try:
            blob = pickle.dumps(documents, protocol=pickle.HIGHEST_PROTOCOL)
        except RecursionError:
            # Nested deeper than pickle goes (a raised PORTAL_MAX_YAML_DEPTH): parsed
            # on every load instead.
            return documents
        self.cache.put(key, blob)
        return documents

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


def relate(
    entities: list[Entity], rejected: set[EntityRef], kinds: dict[str, KindSpec], report: Report
) -> Catalog:
    """Index ``entities`` (the first of a name wins) and derive their relations both ways."""
    index: dict[EntityRef, Entity] = {}
    for entity in entities:
        first = index.get(entity.ref)
        if first is not None:
            report.add(_duplicate(entity, first))
            continue
        index[entity.ref] = entity

    related: dict[EntityRef, set[Relation]] = {ref: set() for ref in index}
    for entity in index.values():
        kind = kinds.get(entity.ref.kind)
        if kind is None:
            continue
        for field, position, target in entity.spec_refs:
            relation = kind.fields[field].relation
            if relation is None:
                continue
            related[entity.ref].add(Relation(relation, target))
            if target in index:
                related[target].add(Relation(RELATION_PAIRS[relation], entity.ref))
            elif target not in rejected:
                report.add(_dangling(entity, field, position, target))
    for ref, relations in related.items():
        index[ref].relations = sorted(relations)
    return Catalog(index)


def _duplicate(entity: Entity, first: Entity) -> Problem:
    return problem_at(
        entity.origin,
        ("metadata", "name"),
        f"{entity.ref} is already defined at {first.origin.describe()} "
        "(names are unique per kind and namespace, ignoring case); this one is ignored",
    )


def _dangling(entity: Entity, field: str, position: int | None, target: EntityRef) -> Problem:
    path: KeyPath = ("spec", field) if position is None else ("spec", field, position)
    return problem_at(entity.origin, path, f"{target} does not exist in the catalog", "warning")


def _placeholders_in(value: Any, path: KeyPath = ()) -> Iterator[tuple[KeyPath, str]]:
    """Where a document uses $text, $json or $yaml, and which."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key in PLACEHOLDERS:
                yield (*path, key), key
            else:
                yield from _placeholders_in(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _placeholders_in(item, (*path, index))


def _intended_ref(document: dict[str, Any]) -> EntityRef | None:
    """The ref a rejected document would have had, when its kind and name are readable."""
    kind, metadata = document.get("kind"), document.get("metadata")
    if not isinstance(kind, str) or not isinstance(metadata, dict):
        return None
    name, namespace = metadata.get("name"), metadata.get("namespace", DEFAULT_NAMESPACE)
    if not isinstance(name, str) or not isinstance(namespace, str):
        return None
    return EntityRef.of(kind, namespace, name)
