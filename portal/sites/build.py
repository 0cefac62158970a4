"""``portal build``: validate, stage every audience, build them in parallel, swap atomically.

Each audience's site is built into a new folder; only when every requested
audience has built does ``<out>/<audience>`` switch to it (a symlink replaced
in one step), so a failed build leaves the previous sites as they were. A
rebuild whose navigation and page set are unchanged starts from hard links to
the previous build and renders only the pages whose source changed.
"""

from __future__ import annotations

import hashlib
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

from portal.exceptions import PortalError, ValidationFailed
from portal.model import Model, load_model
from portal.problems import Problem
from portal.settings import Settings
from portal.sites.assets import local_scripts
from portal.sites.stage import StagedSite, plan_audiences, stage

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
    cache_dir = settings.root / ".cache" / "portal"
    plans = plan_audiences(model, settings.public_url)
    chosen = [plans[name] for name in (audiences or list(plans))]
    # The biggest site starts first; the others walk their pages the other way round.
    chosen.sort(key=lambda p: -(len(p.pages) + len(p.entities)))
    scripts = local_scripts(cache_dir)
    build_id = time.strftime("%Y%m%d%H%M%S") + "-" + uuid.uuid4().hex[:6]
    jobs: list[tuple[StagedSite, Path, bool]] = []
    unchanged: list[SiteResult] = []
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
            unchanged.append(SiteResult(plan.name, staged.pages, 0.0, True, out / plan.name, True))
            report_progress(plan.name, "unchanged")
            continue
        if incremental:
            assert previous is not None
            _clone(previous, target)
        jobs.append((staged, target, incremental))

    result = BuildResult(sites=unchanged)
    failures: list[str] = []
    max_workers = max(1, min(workers or os.cpu_count() or 1, len(jobs) or 1))
    with ProcessPoolExecutor(max_workers=max_workers) as pool:
        futures: list[tuple[StagedSite, Path, bool, Future[_Outcome]]] = []
        for staged, target, incremental in jobs:
            report_progress(staged.name, "building")
            futures.append(
                (
                    staged,
                    target,
                    incremental,
                    pool.submit(_run_mkdocs, str(staged.config_file), incremental),
                )
            )
        for staged, _target, incremental, future in futures:
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

    if failures:
        for _staged, target, _incremental in jobs:
            shutil.rmtree(target, ignore_errors=True)
        raise PortalError(
            "the site build failed; the previous sites are unchanged:\n" + "\n".join(failures)
        )
    for staged, target, _incremental in jobs:
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


def _run_mkdocs(config_file: str, dirty: bool) -> _Outcome:
    """Build one site with MkDocs (runs in a worker process)."""
    from mkdocs.commands.build import build
    from mkdocs.config import load_config
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
        config = load_config(config_file)
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
    """Copy a built site as hard links (the plugin replaces, never rewrites, a file)."""
    for dirpath, _dirs, files in os.walk(source):
        relative = Path(dirpath).relative_to(source)
        (target / relative).mkdir(parents=True, exist_ok=True)
        for name in files:
            src = Path(dirpath, name)
            dst = target / relative / name
            try:
                os.link(src, dst)
            except OSError:
                shutil.copy2(src, dst)


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
