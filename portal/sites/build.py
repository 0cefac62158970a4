"""``portal build``: validate, stage every audience, build them in parallel, swap atomically.

Each audience's site is built into a new folder; only when every requested
audience has built does ``<out>/<audience>`` switch to it (a symlink replaced
in one step), so a failed build leaves the previous sites as they were. A
rebuild whose navigation and page set are unchanged starts from hard links to
the previous build (in the folder of the build before, if it is still there,
which then needs only the files that changed) and renders only the pages whose
source changed.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import io
import json
import logging
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from portal.exceptions import PortalError, ValidationFailed
from portal.model import Model, load_model
from portal.model import cache_dir as model_cache_dir
from portal.problems import Problem
from portal.settings import Settings
from portal.sites.assets import local_scripts
from portal.sites.stage import StagedSite, plan_audiences, stage

if TYPE_CHECKING:
    from mkdocs.config.defaults import MkDocsConfig

__all__ = ["BuildResult", "SiteResult", "build_sites"]

_KEEP_BUILDS = 2


@dataclass(slots=True)
class SiteResult:
    audience: str
    pages: int
    seconds: float
    incremental: bool
    path: Path
    unchanged: bool = False


@dataclass(slots=True)
class BuildResult:
    sites: list[SiteResult] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    seconds: float = 0.0


Progress = Callable[[str, str], None]  # (audience, status)


def build_sites(
    settings: Settings,
    *,
    audiences: Sequence[str] = (),
    out: Path | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
    model: Model | None = None,
) -> BuildResult:
    """Build the sites of ``audiences`` (default: all) into ``out`` (default: <root>/site)."""
    started = time.perf_counter()
    report_progress = progress or (lambda _a, _s: None)
    model = model or load_model(settings)
    if model.report.has_errors:
        raise ValidationFailed(model.report.sorted())
    if model.site is None:
        raise PortalError(
            f"{settings.root / 'mkdocs.yml'} not found: it composes the sites (theme, audiences)"
        )
    unknown = [a for a in audiences if a not in model.site.audiences]
    if unknown:
        known = ", ".join(model.site.audiences)
        raise PortalError(f"unknown audience {', '.join(map(repr, unknown))} (declared: {known})")
    out = (out or settings.site_path).resolve()
    cache_dir = model_cache_dir(settings)
    plans = plan_audiences(model, settings.public_url)
    chosen = [plans[name] for name in (audiences or list(plans))]
    # The biggest site starts first; the others walk their pages the other way round.
    chosen.sort(key=lambda p: -(len(p.pages) + len(p.entities)))
    scripts = local_scripts(cache_dir)
    now = time.time()
    # Builds sort by name in the order they were made (see _spare and _prune).
    build_id = time.strftime("%Y%m%d%H%M%S", time.localtime(now))
    build_id += f"{int(now * 1e6) % 1_000_000:06d}-{uuid.uuid4().hex[:6]}"
    jobs: list[tuple[StagedSite, Path, bool, Future[_Outcome]]] = []
    unchanged: list[SiteResult] = []
    result = BuildResult(sites=unchanged)
    failures: list[str] = []
    max_workers = max(1, min(workers or os.cpu_count() or 1, len(chosen)))
    try:
        with contextlib.ExitStack() as stack:
            # The workers start now and import MkDocs while the sites are staged.
            pool = stack.enter_context(ProcessPoolExecutor(max_workers=max_workers))
            for _ in range(max_workers):
                pool.submit(_warm_up)
            for index, plan in enumerate(chosen):
                report_progress(plan.name, "staging")
                target = out / ".builds" / f"{plan.name}-{build_id}"
                staged = stage(
                    plan,
                    cache_dir / "stage" / plan.name,
                    site_dir=target,
                    cache_dir=cache_dir,
                    root_config=settings.root / "mkdocs.yml",
                    reverse=index > 0,
                    scripts=scripts,
                )
                previous = _current(out, plan.name)
                built = _built_state(cache_dir, plan.name, out)
                incremental = previous is not None and built.get("structure") == staged.structure
                if incremental and built.get("content") == staged.content:
                    # Nothing this site shows has changed: the previous build stays as it is.
                    unchanged.append(
                        SiteResult(plan.name, staged.pages, 0.0, True, out / plan.name, True)
                    )
                    report_progress(plan.name, "unchanged")
                    continue
                report_progress(plan.name, "building")
                clone = str(previous) if incremental and previous is not None else None
                spare = _spare(out, plan.name, previous) if clone else None
                if spare is not None:
                    # An older build becomes this one: bringing it up to date with the
                    # current one links what changed, where a copy links every file.
                    os.replace(spare, target)
                future = pool.submit(_build_site, str(staged.config_file), str(target), clone)
                jobs.append((staged, target, incremental, future))

            for staged, _target, incremental, future in jobs:
                outcome = future.result()
                if outcome.error:
                    failures.append(f"{staged.name}: {outcome.error}")
                    report_progress(staged.name, "failed")
                    continue
                result.sites.append(
                    SiteResult(
                        staged.name, staged.pages, outcome.seconds, incremental, out / staged.name
                    )
                )
                report_progress(staged.name, "done")
    except BaseException:
        for _staged, target, _incremental, _future in jobs:
            shutil.rmtree(target, ignore_errors=True)
        raise
    finally:
        # The plans link to each other. Unlinked, they and the model go as soon as the
        # caller drops them, not at the next full collection (at exit, most of a second).
        for plan in plans.values():
            plan.others = {}

    if failures:
        for _staged, target, _incremental, _future in jobs:
            shutil.rmtree(target, ignore_errors=True)
        raise PortalError(
            "the site build failed; the previous sites are unchanged:\n" + "\n".join(failures)
        )
    for staged, target, _incremental, _future in jobs:
        _switch(out, staged.name, target)
        _built_state_file(cache_dir, staged.name, out).write_text(
            json.dumps({"structure": staged.structure, "content": staged.content})
        )
        _prune(out, staged.name)
    result.problems = model.report.sorted()
    result.seconds = time.perf_counter() - started
    return result


@dataclass(slots=True)
class _Outcome:
    seconds: float
    error: str | None = None


_BUILD_MODULES = (
    "mkdocs.commands.build",
    "mkdocs.config.defaults",
    "material.plugins.search.plugin",
    "portal.sites.plugin",
)


def _warm_up() -> None:
    """Import what a site build needs (runs in a worker process)."""
    for module in _BUILD_MODULES:
        with contextlib.suppress(ImportError):
            importlib.import_module(module)


def _build_site(config_file: str, site_dir: str, previous: str | None) -> _Outcome:
    """Build one site (in a worker process): dirty, from a copy of ``previous``, when given."""
    started = time.perf_counter()
    if previous is not None:
        _clone(Path(previous), Path(site_dir))
    outcome = _run_mkdocs(config_file, previous is not None)
    return _Outcome(time.perf_counter() - started, outcome.error)


class _NamedBytes(io.BytesIO):
    def __init__(self, data: bytes, name: str) -> None:
        super().__init__(data)
        self.name = name  # MkDocs finds the INHERIT file next to it


def _load_config(config_file: str) -> MkDocsConfig:
    """The staged config, with its navigation handed to MkDocs as a value.

    MkDocs reads its config with a YAML loader written in Python, which takes
    most of a second over the navigation of thousands of pages; the staged file
    is JSON, which ``json`` reads at once. The file stays a complete config.
    """
    from mkdocs.config import load_config

    with open(config_file, encoding="utf-8") as fh:
        raw = json.load(fh)
    nav = raw.pop("nav", None)
    stream = _NamedBytes(json.dumps(raw).encode(), config_file)
    return load_config(stream, config_file_path=config_file, nav=nav)


def _run_mkdocs(config_file: str, dirty: bool) -> _Outcome:
    """Build one site with MkDocs (runs in a worker process)."""
    from mkdocs.commands.build import build
    from mkdocs.exceptions import MkDocsException

    started = time.perf_counter()
    messages: list[str] = []

    class _Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.levelno >= logging.WARNING:
                messages.append(record.getMessage())

    handler = _Collect()
    # MkDocs warns that a dirty build may leave navigation stale; the build only
    # goes dirty when navigation and the page set are unchanged, so it cannot.
    logging.getLogger("mkdocs.commands.build").addFilter(
        lambda record: not record.getMessage().startswith("A 'dirty' build")
    )
    logger = logging.getLogger("mkdocs")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        config = _load_config(config_file)
        config.plugins.on_startup(command="build", dirty=dirty)
        try:
            build(config, dirty=dirty)
        finally:
            config.plugins.on_shutdown()
    except (MkDocsException, SystemExit, OSError) as exc:
        detail = "; ".join(messages) or str(exc)
        return _Outcome(time.perf_counter() - started, detail)
    finally:
        logger.removeHandler(handler)
    return _Outcome(time.perf_counter() - started)


def _built_state_file(cache_dir: Path, name: str, out: Path) -> Path:
    """What the site in ``out`` was last built from (the stage is shared by every ``out``)."""
    key = hashlib.sha256(str(out).encode()).hexdigest()[:12]
    return cache_dir / "stage" / name / f"built-{key}.json"


def _built_state(cache_dir: Path, name: str, out: Path) -> dict[str, str]:
    try:
        data = json.loads(_built_state_file(cache_dir, name, out).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _current(out: Path, name: str) -> Path | None:
    link = out / name
    if link.is_symlink():
        target = link.resolve()
        return target if target.is_dir() else None
    return None


def _clone(source: Path, target: Path) -> None:
    """Make ``target`` a copy of the built site ``source`` made of hard links.

    The plugin replaces, never rewrites, a file it builds. When ``target`` is an
    older build, what it holds of ``source`` (the same file, by inode) stays:
    only the files that changed since are linked again, and no folder is made.
    """
    with os.scandir(source) as entries:
        wanted = {entry.name: entry for entry in entries}
    try:
        with os.scandir(target) as entries:
            present = {entry.name: entry for entry in entries}
    except FileNotFoundError:
        target.mkdir(parents=True)
        present = {}
    for name, entry in list(present.items()):
        want = wanted.get(name)
        if want is None or want.is_dir(follow_symlinks=False) != entry.is_dir(
            follow_symlinks=False
        ):
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
            del present[name]
    for name, want in wanted.items():
        if want.is_dir(follow_symlinks=False):
            _clone(Path(want.path), target / name)
            continue
        have = present.get(name)
        if have is not None:
            if have.inode() == want.inode():
                continue
            os.unlink(have.path)
        try:
            os.link(want.path, target / name)
        except OSError:
            shutil.copy2(want.path, target / name)


def _spare(out: Path, name: str, current: Path | None) -> Path | None:
    """The newest earlier build of ``name`` that is not the one served, if any."""
    builds = sorted((out / ".builds").glob(f"{name}-[0-9]*"), key=lambda p: p.name)
    older = [build for build in builds if build != current and build.is_dir()]
    return older[-1] if older else None


def _switch(out: Path, name: str, target: Path) -> None:
    link = out / name
    if link.exists() and not link.is_symlink():
        # A plain folder from an older layout or another tool: move it aside first.
        shutil.rmtree(link)
    tmp = out / f".{name}.{uuid.uuid4().hex[:6]}"
    os.symlink(os.path.relpath(target, out), tmp)
    os.replace(tmp, link)


def _prune(out: Path, name: str) -> None:
    builds = sorted((out / ".builds").glob(f"{name}-[0-9]*"), key=lambda p: p.name)
    current = _current(out, name)
    old = [b for b in builds[:-_KEEP_BUILDS] if b != current]
    if not old:
        return
    # Deleting thousands of files is slow and nobody waits for it: move the old
    # builds aside at once and let a detached process remove them.
    trash = out / ".builds" / f".trash-{uuid.uuid4().hex[:8]}"
    trash.mkdir()
    for build in old:
        os.replace(build, trash / build.name)
    rm = shutil.which("rm")
    if rm:
        subprocess.Popen(
            [rm, "-rf", str(trash)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    else:
        shutil.rmtree(trash, ignore_errors=True)
