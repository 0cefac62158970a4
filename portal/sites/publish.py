"""``portal build --publish``: upload built sites to the site store and switch to them at once.

Every file of every site is read and hashed first, so a file that cannot be read stops
the publish before anything is uploaded. Then the objects the store lacks go up, then
one manifest per audience, and last the pointer: until that one write, every replica
keeps serving the build it had, whatever happened to the upload.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from portal.exceptions import PortalError
from portal.settings import Settings
from portal.sites.blob import (
    BlobSites,
    Manifest,
    Pointer,
    PointerConflict,
    StoreError,
    hash_file,
    manifest_name,
    object_name,
)

__all__ = ["PublishResult", "new_build_id", "prune_store", "publish_sites"]

log = logging.getLogger(__name__)

UPLOADERS = 8
# Builds kept per audience besides the one served: a replica that has not polled yet,
# or an operator rolling back by hand, still finds them.
KEEP_BUILDS = 3
# An object younger than this may belong to a publish still under way: never pruned.
PRUNE_GRACE = timedelta(hours=6)
_CONFLICT_RETRIES = 5

Progress = Callable[[str], None]  # the name of each blob as it is written


@dataclass(slots=True)
class PublishResult:
    build: str
    published: list[str] = field(default_factory=list)  # audiences now serving ``build``
    unchanged: list[str] = field(default_factory=list)  # same files as the build they serve
    superseded: list[str] = field(default_factory=list)  # a newer build was published meanwhile
    uploaded: int = 0
    uploaded_bytes: int = 0
    reused: int = 0
    seconds: float = 0.0


def new_build_id(now: float | None = None) -> str:
    """A build id that sorts in the order builds were published: ``<UTC time>-<random>``."""
    stamp = time.time() if now is None else now
    moment = datetime.fromtimestamp(stamp, UTC)
    return moment.strftime("%Y%m%dT%H%M%S") + f"{moment.microsecond:06d}Z-{uuid.uuid4().hex[:8]}"


def publish_sites(
    settings: Settings,
    audiences: Sequence[str],
    *,
    out: Path | None = None,
    store: BlobSites | None = None,
    progress: Progress | None = None,
) -> PublishResult:
    """Publish the built sites of ``audiences`` from ``out`` (default: the site folder)."""
    started = time.perf_counter()
    out = out or settings.site_path
    sites = {name: _scan(out / name, name) for name in audiences}
    own = store is None
    blobs = store or BlobSites(settings)
    try:
        result = _publish(blobs, sites, progress or (lambda _name: None))
        try:
            prune_store(blobs)
        except StoreError as exc:  # the new build is served; old ones go next time
            log.warning("pruning old builds from the site store failed: %s", exc)
    finally:
        if own:
            blobs.close()
    result.seconds = time.perf_counter() - started
    return result


def _publish(
    blobs: BlobSites, sites: dict[str, dict[str, tuple[Path, str, int]]], progress: Progress
) -> PublishResult:
    pointer = blobs.read_pointer()
    result = PublishResult(new_build_id())
    manifests = []
    for audience, files in sites.items():
        manifest = Manifest(
            result.build, audience, {path: (sha, size) for path, (_f, sha, size) in files.items()}
        )
        current = pointer.builds.get(audience)
        if current is not None and _same_files(blobs, current, manifest):
            result.unchanged.append(audience)
        else:
            manifests.append(manifest)
    if not manifests:
        return result

    present = blobs.object_names()
    wanted: dict[str, Path] = {}
    for manifest in manifests:
        for path, (sha, _size) in manifest.files.items():
            if sha not in present:
                wanted.setdefault(sha, sites[manifest.audience][path][0])
    result.reused = len({s for m in manifests for s, _ in m.files.values()} - set(wanted))

    def upload(item: tuple[str, Path]) -> int:
        sha, path = item
        uploaded = blobs.upload_object(sha, path)
        progress(object_name(sha))
        return path.stat().st_size if uploaded else -1

    with ThreadPoolExecutor(max_workers=UPLOADERS, thread_name_prefix="publish") as pool:
        futures = [pool.submit(upload, item) for item in wanted.items()]
        try:
            for future in futures:
                size = future.result()
                if size >= 0:
                    result.uploaded += 1
                    result.uploaded_bytes += size
                else:
                    result.reused += 1
        except BaseException:
            pool.shutdown(cancel_futures=True)  # the first failure stops the publish
            raise
    for manifest in manifests:
        blobs.write_manifest(manifest)
        progress(manifest.name)
    _switch(blobs, pointer, [m.audience for m in manifests], result)
    progress("current.json")
    return result


def _switch(
    blobs: BlobSites, pointer: Pointer, audiences: list[str], result: PublishResult
) -> None:
    """Write the pointer, merging with what another publisher wrote meanwhile.

    On a conflict the pointer is read again: an audience that now serves a build newer
    than ours (build ids sort by time) keeps it, and ours is reported as superseded.
    """
    when = datetime.now(UTC).isoformat(timespec="seconds")
    for _attempt in range(_CONFLICT_RETRIES):
        builds = dict(pointer.builds)
        result.published, result.superseded = [], []
        for audience in audiences:
            theirs = builds.get(audience)
            if theirs is not None and theirs > result.build:
                result.superseded.append(audience)
            else:
                builds[audience] = result.build
                result.published.append(audience)
        if not result.published:
            return
        try:
            blobs.write_pointer(builds, etag=pointer.etag, when=when)
            return
        except PointerConflict:
            pointer = blobs.read_pointer()
    raise StoreError(
        f"the pointer {blobs.where} kept changing while this build was being switched to "
        f"({_CONFLICT_RETRIES} tries): other publishers are busy; publish again"
    )


def _same_files(blobs: BlobSites, build: str, manifest: Manifest) -> bool:
    try:
        return blobs.read_manifest(build, manifest.audience).files == manifest.files
    except StoreError:  # unreadable or gone: publish ours over it
        return False


def _scan(site: Path, audience: str) -> dict[str, tuple[Path, str, int]]:
    """Every file of a built site: site path -> (file, sha256, size), or why it cannot be read."""
    if not site.is_dir():
        raise PortalError(
            f"no built site for audience {audience!r} at {site}: run `portal build` first; "
            "nothing was published"
        )
    root = site.resolve()
    files: dict[str, tuple[Path, str, int]] = {}
    problems: list[str] = []
    for directory, dirs, names in os.walk(root):
        dirs.sort()
        for name in sorted(names):
            path = Path(directory) / name
            relative = path.relative_to(root).as_posix()
            try:
                sha, size = hash_file(path)
            except OSError as exc:
                problems.append(f"{path}: cannot be read ({exc.strerror or exc})")
                continue
            files[relative] = (path, sha, size)
    if problems:
        raise PortalError(
            "nothing was published; the sites served now stay as they are:\n" + "\n".join(problems)
        )
    if "index.html" not in files:
        raise PortalError(f"{site} has no index.html: it is not a built site; nothing published")
    return files


def prune_store(
    blobs: BlobSites, *, keep: int = KEEP_BUILDS, grace: timedelta = PRUNE_GRACE
) -> list[str]:
    """Delete old builds from the store; the names deleted.

    Manifests beyond the newest ``keep`` of each audience go (never the one served). An
    object goes once no manifest names it any more, at the prune AFTER the one that
    deleted its last manifest, and only when it is older than ``grace``: a publish under
    way elsewhere, whose objects are up but whose manifest is not written yet, or which
    found an old object and is about to name it again, keeps what it needs.
    """
    pointer = blobs.read_pointer()
    manifests: dict[str, list[str]] = {}
    for build, audience, _when in blobs.manifests():
        manifests.setdefault(audience, []).append(build)
    doomed: list[str] = []
    referenced: set[str] = set()
    for audience, builds in manifests.items():
        served = pointer.builds.get(audience)
        for index, build in enumerate(sorted(builds, reverse=True)):
            files = blobs.read_manifest(build, audience).files
            referenced.update(sha for sha, _size in files.values())
            if index >= keep and build != served:
                doomed.append(manifest_name(build, audience))
    cutoff = datetime.now(UTC) - grace
    unreferenced = [
        object_name(sha)
        for sha, written in blobs.objects_written().items()
        if sha not in referenced and written < cutoff
    ]
    blobs.delete(unreferenced)
    blobs.delete(doomed)
    return unreferenced + doomed
