"""The portal's running state: the merged catalog, registrations, docs and background builds.

One :class:`Portal` per process. Readers take ``portal.view`` (an immutable
snapshot, swapped whole when the catalog changes) and never wait for a writer.
"""

from __future__ import annotations

import gc
import itertools
import json
import logging
import os
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from starlette.requests import HTTPConnection

from portal.auth import audit
from portal.auth.users import User
from portal.catalog import (
    DEFAULT_NAMESPACE,
    Catalog,
    CatalogSources,
    Entity,
    EntityRef,
    LoadResult,
    Registered,
    TextSource,
    parse_ref,
    problem_at,
)
from portal.catalog.query import CatalogIndex
from portal.db import BuildState, Database, Registration
from portal.db import changes as change_counters
from portal.db.leases import Leases
from portal.db.models import RegisteredEntity
from portal.docs import DocSet, load_docs
from portal.exceptions import PortalError
from portal.live import Live, read_environments
from portal.live.metrics import ProbeGauges
from portal.live.redis_store import RedisStore
from portal.problems import Problem, Report
from portal.search import SearchDoc, SearchIndex, SectionCache
from portal.settings import Settings
from portal.shared import open_shared
from portal.sites.config import Audience, SiteConfig, best_audience, load_site_config
from portal.sites.store import SiteStore, open_store
from portal.web.metrics import Metrics
from portal.web.recent import last_changes
from portal.web.replicas import BUILDS, PROBES, Replicas
from portal.web.scorecard_runs import ScorecardRuns
from portal.worker import Coalescing

if TYPE_CHECKING:
    from portal.model import Model

__all__ = ["CatalogView", "Outcome", "Portal", "Rejected", "Submission"]

log = logging.getLogger(__name__)

REGISTERED_PREFIX = "registered/"
BUILD_TIMEOUT = 3600.0


def settings_env(settings: Settings) -> dict[str, str]:
    """``settings`` as PORTAL_* variables, for a child process to read the same ones."""
    env: dict[str, str] = {}
    for name, value in settings.model_dump(mode="json").items():
        if value is None:
            continue
        env[f"PORTAL_{name.upper()}"] = value if isinstance(value, str) else json.dumps(value)
    return env


@dataclass(frozen=True, slots=True)
class Submission:
    """What a team submits: a descriptor's text, or a catalog file's path in the repository."""

    text: str | None = None
    target: str | None = None
    filename: str = "catalog-info.yaml"


@dataclass(slots=True)
class Outcome:
    """A dry run's verdict: the entities that would be registered and every problem."""

    entities: list[Entity]
    problems: list[Problem]
    # Entities of the submission that a file in the repository already defines.
    shadowed: list[tuple[EntityRef, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(p.severity == "error" for p in self.problems)


class Rejected(PortalError):
    """A registration or removal that cannot be done; nothing was stored."""

    def __init__(self, message: str, outcome: Outcome | None = None, status: int = 422) -> None:
        super().__init__(message)
        self.message = message
        self.outcome = outcome
        self.status = status


@dataclass(frozen=True, slots=True)
class RegisteredInfo:
    id: int
    display: str
    registered_by: str
    created_at: datetime
    target: str | None


@dataclass(frozen=True, slots=True)
class CatalogView:
    """One consistent state of the catalog, as the pages and the API read it."""

    catalog: Catalog
    index: CatalogIndex
    report: Report
    version: int
    registered: dict[EntityRef, RegisteredInfo]
    # Registrations left out of the catalog, with why (e.g. a file now defines the name).
    excluded: dict[int, list[Problem]]
    loaded_at: datetime


class Portal:
    """Everything a request may need, built once per process by ``start()``."""

    def __init__(self, settings: Settings, *, rebuild: bool = True) -> None:
        self.settings = settings
        self.db = Database(settings.database)
        self.rebuild = rebuild
        self.site_report = Report()
        self.site: SiteConfig | None = load_site_config(settings.root, self.site_report)
        self.docs: DocSet | None = None
        self.changes: dict[str, datetime] = {}
        self._sources: CatalogSources | None = None
        self._view: CatalogView | None = None
        self._lock = threading.RLock()
        self._version = 0
        # What /metrics shows; other parts add their collectors with metrics.register().
        self.metrics = Metrics()
        self.builder = Builder(self)
        # Where the built sites are served from: the site folder, or a published build.
        self.site_store: SiteStore = open_store(settings)
        # Redis, when the settings name one: probe results and rate limits shared by replicas.
        self.shared = open_shared(settings)
        # Leases on background work, so that replicas sharing the database do it once.
        self.leases = Leases(self.db, settings.lease_seconds)
        self.replicas = Replicas(self)
        # Declared environments and their health probes; fed by refresh(), probing from start().
        # With results in Redis, only the replica holding the probes lease runs the schedule.
        self.live = Live(
            settings,
            store=RedisStore(self.shared, settings.live_history) if self.shared else None,
            leader=(lambda: self.leases.held(PROBES)) if self.shared else None,
        )
        self.metrics.register(ProbeGauges(self.live))
        # Opened by start(); kept in step with the model by a worker thread of its own.
        self.search_index: SearchIndex | None = None
        self._sections = SectionCache()  # only the worker's syncs use it, one at a time
        # The model the background workers share for one change (see background_model).
        self._generations = itertools.count(1)
        self._generation = 0
        self._model_lock = threading.Lock()
        self._shared_model: tuple[int, weakref.ReferenceType[Model]] | None = None
        # Ways to recognise a caller (API tokens, sessions), tried in order; each
        # returns a User, None (not mine), or raises access.Denied (a bad credential).
        self.authenticators: list[Callable[[HTTPConnection], User | None]] = []
        # Scorecard results (in memory) and their history (in the database), evaluated
        # in the background after start, every registration and every build.
        self.scorecards = ScorecardRuns(self)

    # -- life cycle --------------------------------------------------------

    def start(self) -> None:
        self.db.migrate()
        self.site_store.start()
        from portal.model import catalog_cache

        self._sources = CatalogSources(self.settings, cache=catalog_cache(self.settings))
        self.refresh()
        self.replicas.start()  # leases taken before the first background work asks for one
        self.live.start()
        self.load_docs()
        self.search_index = SearchIndex.open(self.settings)
        self.search_index.timings.append(self.metrics.searched)
        self.search_index.start()
        self._reindex("start")
        self.builder.listeners.append(lambda names: self._reindex(f"built {', '.join(names)}"))
        self.scorecards.start()
        self.scorecards.request("startup", "the portal started")
        self.builder.listeners.append(
            lambda names: self.scorecards.request("build", f"built {', '.join(names)}")
        )
        if self.rebuild:
            self.builder.start()

    def stop(self) -> None:
        self.replicas.stop()  # leases given back: another replica takes over at once
        self.live.stop()
        self.builder.stop()
        self.site_store.stop()
        self.scorecards.stop()
        if self.search_index is not None:
            self.search_index.stop()
            # Dropping the engine releases its index writer's lock for the next process.
            self.search_index = None
        if self.shared is not None:
            self.shared.close()
        self.db.dispose()

    def _reindex(self, reason: str) -> None:
        """The sources changed: bring the search index in step, in its worker (and let the
        next background model be loaded anew)."""
        self._generation = next(self._generations)
        if self.search_index is not None:
            self.search_index.request(self.search_documents, reason)

    def background_model(self) -> Model:
        """The model of the sources as they are now, for the background workers.

        The search index and the scorecards catch up after the same changes (each
        comes with a ``_reindex``); whichever worker asks second for the same change
        gets the model the first one loaded, while that one still holds it, instead
        of loading it again (seconds, on a large catalog). The workers only read it.
        """
        from portal.model import load_model

        with self._model_lock:
            generation = self._generation
            if self._shared_model is not None and self._shared_model[0] == generation:
                shared = self._shared_model[1]()
                if shared is not None:
                    return shared
            model = load_model(self.settings, registered=self.build_sources())
            self._shared_model = (generation, weakref.ref(model))
            return model

    def search_documents(self) -> list[SearchDoc]:
        """Every search document of the repository plus what is registered now."""
        from portal.search import documents

        return documents(self.background_model(), self._sections)

    def load_docs(self) -> None:
        """Read the docs (for the home page) and when each source last changed."""
        folders = ["catalog", *([self.site.docs_dir] if self.site else [])]
        self.changes = last_changes(self.settings.root, folders)
        if self.site is None:
            return
        from portal.cache import EntryCache
        from portal.model import cache_dir, pages_cache_version

        # The builds' cache of page parses, read only: a build may be writing it.
        parsed = EntryCache(
            cache_dir(self.settings) / "parsed" / "pages.pickle", pages_cache_version()
        )
        self.docs = load_docs(
            self.settings.root / self.site.docs_dir,
            root=self.settings.root,
            audiences=set(self.site.audiences),
            catalog=self.view.catalog,
            report=Report(),
            strict_links=False,
            cache=parsed,
        )

    @property
    def view(self) -> CatalogView:
        if self._view is None:
            raise PortalError("the portal has not been started")
        return self._view

    @property
    def sources(self) -> CatalogSources:
        if self._sources is None:
            raise PortalError("the portal has not been started")
        return self._sources

    @property
    def audiences(self) -> dict[str, Audience]:
        return self.site.audiences if self.site else {}

    # -- the merged catalog ------------------------------------------------

    def _registrations(self) -> list[Registration]:
        return stored_registrations(self.db)

    def build_sources(self) -> list[Registered]:
        """The registrations in the catalog now, for a site build."""
        excluded = self.view.excluded
        return [source_of(r) for r in self._registrations() if r.id not in excluded]

    def refresh(self) -> CatalogView:
        """Compose the files and the stored registrations into a new view and swap it in."""
        with self._lock:
            # Read before the registrations: a change committed in between is seen again.
            self.replicas.saw(change_counters.version(self.db))
            result, kept, excluded = compose(self.sources, self._registrations())
            environments = read_environments(
                result.catalog, result.report, self.settings.live_environments
            )
            registered: dict[EntityRef, RegisteredInfo] = {}
            for r in kept:
                info = RegisteredInfo(r.id, r.display, r.registered_by, r.created_at, r.target)
                for row in r.entities:
                    ref = parse_ref(row.ref)
                    if ref in result.catalog:
                        registered[ref] = info
            self._version += 1
            self._view = CatalogView(
                catalog=result.catalog,
                index=CatalogIndex(result.catalog),
                report=result.report,
                version=self._version,
                registered=registered,
                excluded=excluded,
                loaded_at=datetime.now(UTC),
            )
            self.live.update(result.catalog, environments)
            # The catalog and its index live until the next refresh and hold no
            # reference cycles: keep the cyclic collector from scanning their
            # million objects again and again (seconds at 50,000 entities), which
            # would otherwise land as a pause on some request.
            gc.collect()
            gc.freeze()
            self._reindex("catalog changed")
            return self._view

    # -- registration --------------------------------------------------------

    def check(self, submission: Submission) -> Outcome:
        """What registering ``submission`` would do; nothing is stored."""
        limit = self.settings.max_upload_bytes
        name = _clean_filename(submission.filename)
        if submission.text is not None:
            size = len(submission.text.encode())
            if size > limit:
                return Outcome(
                    [],
                    [
                        Problem(
                            name,
                            f"is {size:,} bytes; descriptors may be at most {limit:,} bytes "
                            "(setting PORTAL_MAX_UPLOAD_BYTES)",
                        )
                    ],
                )
            if not submission.text.strip():
                return Outcome([], [Problem(name, "is empty: paste or upload a descriptor")])
            source: Registered = TextSource(name, submission.text)
        elif submission.target is not None:
            problem = _target_problem(submission.target, self.settings)
            if problem:
                return Outcome([], [Problem(submission.target or "target", problem)])
            source = submission.target.strip()
        else:
            return Outcome([], [Problem("request", "give a descriptor or a target path")])
        result = self.sources.check(source, self.view.catalog)
        read_environments(result.entities, result.report, self.settings.live_environments)
        problems = result.report.sorted()
        shadowed = [
            (entity.ref, existing.origin.describe())
            for entity, existing in result.clashes
            if not existing.origin.display.startswith(REGISTERED_PREFIX)
        ]
        display = source.display if isinstance(source, TextSource) else source
        entities = []
        for entity in result.entities:
            if entity.ref.kind in self.sources.kinds:
                entities.append(entity)
                continue
            known = ", ".join(sorted(k.kind for k in self.sources.kinds.values()))
            problems.append(
                problem_at(
                    entity.origin,
                    ("kind",),
                    f"{entity.kind!r} is not a kind this catalog knows ({known}); "
                    "a plugin can add kinds",
                )
            )
        if not entities and not any(p.severity == "error" for p in problems):
            where = "this descriptor" if isinstance(source, TextSource) else source
            message = (
                f"{where} defines no new entity"
                if isinstance(source, TextSource)
                else f"{where} defines no new entity (is it already part of the catalog?)"
            )
            problems.append(Problem(display, message))
        return Outcome(entities, problems, shadowed)

    def register(
        self, submission: Submission, user: User, connection: HTTPConnection | None = None
    ) -> tuple[Registration, Outcome]:
        """Check and store ``submission`` in one transaction, then show it and rebuild.

        Contributors may register entities their groups own; admins any.
        """
        with self._lock:
            outcome = self.check(submission)
            if not outcome.ok:
                raise Rejected("the descriptor has errors; nothing was registered", outcome)
            self._may_change(outcome.entities, user, "register", connection)
            try:
                with self.db.session() as session:
                    registration = Registration(
                        filename=_clean_filename(submission.filename),
                        descriptor=submission.text if submission.target is None else None,
                        target=submission.target.strip() if submission.target else None,
                        registered_by=user.email or user.name,
                    )
                    registration.entities = [
                        RegisteredEntity(ref=str(e.ref)) for e in outcome.entities
                    ]
                    session.add(registration)
                    change_counters.bump(session)  # the other replicas learn of it
            except IntegrityError:
                # Another process registered the same name or path meanwhile.
                raise Rejected(
                    "an entity of this descriptor was registered meanwhile; nothing was registered",
                    outcome,
                    status=409,
                ) from None
            view = self.refresh()
        refs = [str(e.ref) for e in outcome.entities]
        audit.record(
            self.db,
            "catalog.register",
            actor=user,
            target=", ".join(refs),
            connection=connection,
            registration=registration.id,
            descriptor=registration.display,
        )
        who = user.email or user.name
        self._rebuild_for([e.ref for e in outcome.entities], view, f"registered by {who}")
        self.scorecards.request("registration", f"registered by {who}")
        return registration, outcome

    def unregister(
        self, ref: EntityRef, user: User, connection: HTTPConnection | None = None
    ) -> list[EntityRef]:
        """Remove the registration that defines ``ref`` (with every entity it defines).

        The caller must be allowed to change every one of those entities.
        """
        with self._lock:
            before = self.view
            info = before.registered.get(ref)
            if info is None:
                if ref in before.catalog:
                    raise Rejected(
                        f"{ref} comes from {before.catalog.get(ref).origin.display}"  # type: ignore[union-attr]
                        " in the repository; remove it there",
                        status=409,
                    )
                raise Rejected(f"{ref} is not in the catalog", status=404)
            with self.db.session() as session:
                registration = session.get(Registration, info.id)
                if registration is None:
                    raise Rejected(f"{ref} was removed meanwhile", status=404)
                removed = [parse_ref(row.ref) for row in registration.entities]
                self._may_change(
                    [e for r in removed if (e := before.catalog.get(r)) is not None],
                    user,
                    "remove",
                    connection,
                )
                session.delete(registration)
                change_counters.bump(session)
            related = [
                r.target for e in removed if (x := before.catalog.get(e)) for r in x.relations
            ]
            self.refresh()
        audit.record(
            self.db,
            "catalog.unregister",
            actor=user,
            target=", ".join(str(r) for r in removed),
            connection=connection,
            registration=info.id,
        )
        who = user.email or user.name
        self._rebuild_for([*removed, *related], before, f"unregistered by {who}")
        self.scorecards.request("registration", f"unregistered by {who}")
        return removed

    def _may_change(
        self,
        entities: Sequence[Entity],
        user: User,
        verb: str,
        connection: HTTPConnection | None,
    ) -> None:
        """Admins change anything; contributors only what one of their groups owns."""
        if user.has_role("admin"):
            return
        mine = {g.lower() for g in user.groups}
        for entity in entities:
            # A checked submission is not related yet: its owner is in its spec refs.
            owners = entity.related("ownedBy") or [
                t for f, _, t in entity.spec_refs if f == "owner"
            ]
            # Groups from the identity provider are names in the default namespace.
            if any(
                o.kind == "group" and o.namespace == DEFAULT_NAMESPACE and o.name in mine
                for o in owners
            ):
                continue
            owner = ", ".join(o.short("group") for o in owners) or "nobody"
            groups = ", ".join(sorted(user.groups)) or "no group"
            reason = (
                f"you may {verb} only entities owned by your groups ({groups}); "
                f"{entity.ref} is owned by {owner}"
            )
            audit.record(
                self.db,
                f"catalog.{verb}",
                actor=user,
                target=str(entity.ref),
                outcome="denied",
                connection=connection,
                reason=reason,
            )
            raise Rejected(reason, status=403)

    def _rebuild_for(self, refs: Sequence[EntityRef], view: CatalogView, reason: str) -> None:
        if not self.rebuild or self.site is None:
            return
        entities = [e for ref in refs if (e := view.catalog.get(ref)) is not None]
        related = [
            e for entity in entities for r in entity.relations if (e := view.catalog.get(r.target))
        ]
        names = [
            name
            for name, audience in self.audiences.items()
            if any(audience.includes_entity(e) for e in [*entities, *related])
        ]
        if names:
            self.builder.request(names, reason)

    # -- audiences -----------------------------------------------------------

    def audience_for(self, entity: Entity) -> Audience | None:
        """The internal audience whose site shows ``entity``, the widest first."""
        names = [n for n, a in self.audiences.items() if a.includes_entity(entity)]
        best = best_audience(self.audiences, names)
        return self.audiences[best] if best is not None else None

    def site_dir(self, audience: str) -> Path:
        """The folder of the build ``audience`` serves now (read it once per request)."""
        return self.site_store.site_dir(audience)

    def build_states(self) -> dict[str, BuildState]:
        with self.db.session() as session:
            return {s.audience: s for s in session.scalars(select(BuildState))}


def stored_registrations(db: Database) -> list[Registration]:
    with db.session() as session:
        return list(session.scalars(select(Registration).order_by(Registration.id)))


def source_of(registration: Registration) -> Registered:
    if registration.target is not None:
        return registration.target
    return TextSource(registration.display, registration.descriptor or "")


def compose(
    sources: CatalogSources, registrations: Sequence[Registration]
) -> tuple[LoadResult, list[Registration], dict[int, list[Problem]]]:
    """The files plus every registration that composes without an error.

    A registration with an error now (say a file has since taken its name: files
    win) is left out, with its problems kept to show on the registration page.
    """
    excluded: dict[int, list[Problem]] = {}
    while True:
        kept = [r for r in registrations if r.id not in excluded]
        result = sources.compose([source_of(r) for r in kept])
        broken = {r.id: [p for p in result.report.errors if p.file == r.display] for r in kept}
        broken = {key: problems for key, problems in broken.items() if problems}
        if not broken:
            return result, kept, excluded
        excluded.update(broken)


def stored_sources(settings: Settings, sources: CatalogSources | None = None) -> list[Registered]:
    """The registrations a build includes: those in the database that compose cleanly.

    Without a database yet (no ``portal serve`` has run), there are none.
    """
    if not settings.database_url and not (settings.data_path / "portal.db").exists():
        return []
    db = Database(settings.database)
    try:
        db.migrate()
        registrations = stored_registrations(db)
    finally:
        db.dispose()
    if not registrations:
        return []
    _result, kept, _excluded = compose(sources or CatalogSources(settings), registrations)
    return [source_of(r) for r in kept]


def _clean_filename(name: str) -> str:
    base = PurePosixPath(name.replace("\\", "/")).name.strip()
    return base[:200] or "catalog-info.yaml"


def _target_problem(target: str, settings: Settings) -> str | None:
    """Why a repository path cannot be registered, if it cannot.

    One catalog file, named exactly: no globs, nothing hidden (``.git``, ``.env``,
    ``.cache``), nothing from the portal's own data or built sites.
    """
    target = target.strip()
    if not target:
        return "is empty: give a path such as services/payments/catalog-info.yaml"
    if not target.endswith((".yaml", ".yml")):
        return "must name a YAML file (.yaml or .yml)"
    if any(c in target for c in "*?[]{}"):
        return "must name one file: register files one by one, without wildcards"
    parts = PurePosixPath(target.replace("\\", "/")).parts
    if any(part.startswith(".") for part in parts):
        return "may not be in a hidden folder or be a hidden file, nor contain '..'"
    full = (settings.root / target).resolve()
    for private in (settings.data_path, settings.site_path, settings.root / ".cache"):
        if full.is_relative_to(private.resolve()):
            return "is one of the portal's own files, not a catalog file"
    return None


class Builder:
    """Rebuilds audience sites in the background, one build at a time, coalescing requests."""

    def __init__(self, portal: Portal) -> None:
        self.portal = portal
        # Audience -> why it is to be rebuilt; later reasons replace earlier ones.
        self._worker: Coalescing[dict[str, str]] = Coalescing(
            "portal-builder", self._build_once, lambda older, newer: {**(older or {}), **newer}
        )
        self._child_lock = threading.Lock()
        self._child: subprocess.Popen[str] | None = None
        self.listeners: list[Callable[[Sequence[str]], None]] = []

    def start(self) -> None:
        self._worker.start()

    def stop(self) -> None:
        """Stop now: a build under way is terminated (the previous sites stay in place)."""
        self._worker.halt()
        with self._child_lock:
            child = self._child
        if child is not None and child.poll() is None:
            child.terminate()
        self._worker.join(timeout=30)

    def request(self, audiences: Iterable[str], reason: str) -> None:
        names = list(audiences)
        # Recorded before the worker can see them: its "running" comes after "queued".
        self._record(names, "queued", reason)
        self._worker.submit(dict.fromkeys(names, reason))

    def wait_idle(self, timeout: float) -> bool:
        """Wait until nothing is queued or building (for tests and shutdown)."""
        return self._worker.wait_idle(timeout)

    def _build_once(self, batch: dict[str, str]) -> None:
        """Build under the builds lease: replicas sharing a database build one at a time."""
        leases = self.portal.leases
        with leases.exclusive(BUILDS, lambda: self._worker.stopping) as mine:
            if mine:
                self._build(batch)
            else:
                names, reason = sorted(batch), "; ".join(sorted(set(batch.values())))
                self._record(names, "cancelled", reason, "the portal stopped before the build")

    def _build(self, batch: dict[str, str]) -> None:
        """Run ``portal build`` for the batch in a child process: a build cannot hurt the server."""
        names = sorted(batch)
        reason = "; ".join(sorted(set(batch.values())))
        self._record(names, "running", reason)
        command = [sys.executable, "-m", "portal", "build"]
        for name in names:
            command += ["--audience", name]
        if self.portal.settings.site_store != "local":
            command.append("--publish")  # every replica then switches to the new build
        started = time.monotonic()
        try:
            child = subprocess.Popen(
                command,
                env={**os.environ, **settings_env(self.portal.settings)},
                cwd=self.portal.settings.root,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                # Its own session: Ctrl+C on the server's terminal is for the server,
                # which then terminates the build itself (see stop()).
                start_new_session=True,
            )
        except OSError as exc:
            self._record(names, "failed", reason, f"{type(exc).__name__}: {exc}")
            log.warning("background build could not start: %s", exc)
            return
        with self._child_lock:
            self._child = child
            stopping = self._worker.stopping
        if stopping:  # stop() ran while the child was starting: it missed it
            child.terminate()
        try:
            output, _ = child.communicate(timeout=BUILD_TIMEOUT)
        except subprocess.TimeoutExpired:
            child.kill()
            output, _ = child.communicate()
        finally:
            with self._child_lock:
                self._child = None
        if self._worker.stopping:
            self._record(names, "cancelled", reason, "the portal stopped during the build")
            return
        seconds = time.monotonic() - started
        outcome = "built" if child.returncode == 0 else "failed"
        self.portal.metrics.builds.labels(outcome).observe(seconds)
        if child.returncode != 0:
            message = output.strip()[-4000:]
            self._record(names, "failed", reason, message)
            log.warning("background build of %s failed:\n%s", ", ".join(names), message)
            return
        self._record(names, "built", reason, f"built in {seconds:.1f} s")
        self.portal.load_docs()
        for listener in self.listeners:
            listener(names)

    def _record(self, names: Sequence[str], status: str, reason: str, message: str = "") -> None:
        try:
            with self.portal.db.session() as session:
                for name in names:
                    state = session.get(BuildState, name)
                    if state is None:
                        state = BuildState(audience=name)
                        session.add(state)
                    state.status = status
                    state.reason = reason[:500]
                    state.message = message
                    state.updated_at = datetime.now(UTC)
        except Exception:  # recording state is best effort; the build itself matters
            log.exception("could not record build state")
