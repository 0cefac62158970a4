"""A replica's copy of the published builds, kept in step with the site store's pointer.

The cache folder holds::

    objects/<sha[:2]>/<sha>        every file downloaded, once, by content
    builds/<build-id>/<audience>/  a build's site: hard links to the objects
    current.json                   the pointer last switched to (used when the store is down)

A new build is downloaded whole (only the objects the cache lacks), assembled in a
temporary folder and renamed into place before the replica switches to it; the switch
replaces one dict. A request that started on the old build keeps reading the old folder,
which stays until two switches later; a served file is always a local file.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from portal.settings import Settings
from portal.sites.blob import BUILD_ID, BlobSites, Manifest, Pointer, StoreError
from portal.worker import Periodic

__all__ = ["BlobStore"]

log = logging.getLogger(__name__)

DOWNLOADERS = 8
KEEP_LOCAL = 2  # builds kept per audience: the one served and the one before it
_UNPUBLISHED = "unpublished"


class BlobStore:
    """The Azure site store as a replica sees it: the current build of each audience, local."""

    def __init__(self, settings: Settings, blobs: BlobSites | None = None) -> None:
        self.blobs = blobs or BlobSites(settings)
        self.cache = settings.site_cache_path
        self.poll_seconds = settings.site_store_poll_seconds
        # audience -> folder of the build it serves; replaced whole, never changed in place.
        self._dirs: dict[str, Path] = {}
        self._pointer: Pointer | None = None
        self.problem: str | None = None  # why the last refresh failed, if it did
        self._refresh_lock = threading.Lock()
        # A bug in a refresh: say so, and keep serving and polling.
        self._poller = Periodic(
            "portal-site-store", self.poll_seconds, self.refresh, "site store: refreshing failed"
        )

    # -- SiteStore -------------------------------------------------------------------

    def start(self) -> None:
        """Serve what the cache had, then catch up with the store and keep polling it."""
        self._load_cached()
        self.refresh()
        self._poller.start()

    def stop(self) -> None:
        self._poller.stop()
        self.blobs.close()

    def site_dir(self, audience: str) -> Path:
        found = self._dirs.get(audience)
        return found if found is not None else self.cache / _UNPUBLISHED / audience

    def unavailable(self, audience: str) -> str | None:
        if audience in self._dirs:
            return None
        if self.problem is not None:
            return f"The {audience} site cannot be read from the site store: {self.problem}"
        return (
            f"The {audience} site has not been published yet: run `portal build --publish` "
            "(replicas serve it within seconds)."
        )

    # -- keeping up to date -----------------------------------------------------------

    def refresh(self) -> bool:
        """Switch to the build the store names now, if it is new; whether it switched.

        A failure leaves the build served as it was, and is kept in ``problem``.
        """
        with self._refresh_lock:
            try:
                switched = self._refresh()
            except (StoreError, OSError) as exc:
                if self.problem != str(exc):
                    log.warning("site store: %s; serving the build held before", exc)
                self.problem = str(exc)
                return False
            self.problem = None
            return switched

    def _refresh(self) -> bool:
        etag = self._pointer.etag if self._pointer is not None else None
        pointer = self.blobs.pointer_if_changed(etag)
        if pointer is None or pointer == self._pointer:  # (no pointer at all has no ETag)
            return False
        dirs = {
            audience: self._ensure(build, audience) for audience, build in pointer.builds.items()
        }
        self._dirs = dirs  # the switch: one assignment
        self._pointer = pointer
        _write_atomically(self.cache / "current.json", json.dumps(pointer.builds).encode())
        log.info(
            "site store: serving %s",
            ", ".join(f"{a} {b}" for a, b in sorted(pointer.builds.items())) or "nothing yet",
        )
        self._prune(pointer.builds)
        return True

    def _ensure(self, build: str, audience: str) -> Path:
        """The complete local folder of ``build``'s site for ``audience``, downloaded if need be."""
        if not BUILD_ID.fullmatch(build) or "/" in audience or audience in ("", ".", ".."):
            raise StoreError(f"the site store's pointer names {audience!r}: {build!r}, not a build")
        target = self.cache / "builds" / build / audience
        if target.is_dir():
            return target
        manifest = self.blobs.read_manifest(build, audience)
        self._download(manifest)
        staging = self.cache / "builds" / f".{build}-{audience}-{uuid.uuid4().hex[:8]}"
        try:
            for path, (sha, _size) in manifest.files.items():
                file = staging / path
                file.parent.mkdir(parents=True, exist_ok=True)
                try:
                    os.link(self._object(sha), file)
                except OSError:  # a file system without hard links
                    shutil.copy2(self._object(sha), file)
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.rename(staging, target)
            except OSError:
                if not target.is_dir():  # not another process that assembled it first
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return target

    def _object(self, sha: str) -> Path:
        return self.cache / "objects" / sha[:2] / sha

    def _download(self, manifest: Manifest) -> None:
        missing = {sha for sha, _size in manifest.files.values() if not self._object(sha).is_file()}
        if not missing:
            return

        def download(sha: str) -> None:
            self.blobs.download_object(sha, self._object(sha))

        with ThreadPoolExecutor(DOWNLOADERS, thread_name_prefix="site-download") as pool:
            futures = [pool.submit(download, sha) for sha in sorted(missing)]
            try:
                for future in futures:
                    future.result()
            except BaseException:
                pool.shutdown(cancel_futures=True)
                raise

    def _load_cached(self) -> None:
        """Serve the builds switched to last time, until the store answers (it may be down)."""
        try:
            builds = json.loads((self.cache / "current.json").read_text())
        except (OSError, ValueError):
            return
        if not isinstance(builds, dict):
            return
        dirs = {}
        for audience, build in builds.items():
            folder = self.cache / "builds" / str(build) / str(audience)
            if isinstance(build, str) and BUILD_ID.fullmatch(build) and folder.is_dir():
                dirs[str(audience)] = folder
        self._dirs = dirs

    def _prune(self, serving: dict[str, str]) -> None:
        """Remove local builds older than the one before the served one, then unused objects.

        An object is unused when no build links it any more (its link count is 1).
        """
        builds = self.cache / "builds"
        removed = False
        for audience, current in serving.items():
            held = sorted(
                (p.parent.name for p in builds.glob(f"*/{audience}") if p.parent.name[0] != "."),
                reverse=True,
            )
            older = [b for b in held if b < current][KEEP_LOCAL - 1 :]
            for build in older:
                shutil.rmtree(builds / build / audience, ignore_errors=True)
                with contextlib.suppress(OSError):
                    (builds / build).rmdir()  # once no audience of it is left
                removed = True
        if not removed:
            return
        for folder in (self.cache / "objects").glob("??"):
            for entry in os.scandir(folder):
                with contextlib.suppress(OSError):
                    if entry.stat(follow_symlinks=False).st_nlink == 1:
                        os.unlink(entry.path)


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
    tmp.write_bytes(data)
    os.replace(tmp, path)
