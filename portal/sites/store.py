"""Where the portal serves built sites from: the local site folder, or the published builds.

A :class:`SiteStore` answers one question on every request, fast: the local folder of
the build an audience serves now. Whatever a request reads, it reads below that one
folder, so it sees one build whole, never a mix of two. The local store is the site
folder ``portal build`` switches with a symlink; the Azure store mirrors the builds
``portal build --publish`` puts in Blob Storage into a local cache (``portal.sites.mirror``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from portal.settings import Settings

__all__ = ["LocalStore", "SiteStore", "open_store"]


class SiteStore(Protocol):
    def start(self) -> None:
        """Get ready to serve (the first download, for a remote store) and keep up to date."""

    def stop(self) -> None:
        """Stop keeping up to date."""

    def site_dir(self, audience: str) -> Path:
        """The local folder of the build ``audience`` serves now (it may not exist yet)."""

    def unavailable(self, audience: str) -> str | None:
        """Why ``audience`` has no site to serve, for its 404 page; None: no reason known."""


class LocalStore:
    """The site folder as ``portal build`` leaves it: ``<site dir>/<audience>``, a symlink."""

    def __init__(self, settings: Settings) -> None:
        self.root = settings.site_path

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def site_dir(self, audience: str) -> Path:
        return self.root / audience

    def unavailable(self, audience: str) -> str | None:
        return None


def open_store(settings: Settings) -> SiteStore:
    """The store ``settings`` choose (PORTAL_SITE_STORE); a bad setting raises ConfigError."""
    if settings.site_store == "azure":
        from portal.sites.mirror import BlobStore

        return BlobStore(settings)
    return LocalStore(settings)
