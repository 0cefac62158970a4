"""Where each page lives: source paths in a staged docs folder, and URLs on the portal."""

from __future__ import annotations

import posixpath

from portal.catalog import EntityRef

__all__ = [
    "api_page",
    "entity_docs_dir",
    "entity_page",
    "page_url",
    "portal_url",
    "relative_link",
]


def entity_page(ref: EntityRef) -> str:
    return f"catalog/{ref.kind}/{ref.namespace}/{ref.name}/index.md"


def entity_docs_dir(ref: EntityRef) -> str:
    return f"catalog/{ref.kind}/{ref.namespace}/{ref.name}/docs"


def api_page(ref: EntityRef) -> str:
    return f"apis/{ref.namespace}/{ref.name}.md"


def page_url(path: str) -> str:
    """The directory URL MkDocs gives a source page (use_directory_urls)."""
    stem, _ = posixpath.splitext(path)
    if posixpath.basename(stem) in ("index", "README"):
        directory = posixpath.dirname(stem)
        return f"{directory}/" if directory else ""
    return f"{stem}/"


def portal_url(base: str, audience: str, path: str, anchor: str = "") -> str:
    """The portal URL of a page in another audience's site."""
    url = f"{base.rstrip('/')}/docs/{audience}/{page_url(path)}"
    return f"{url}#{anchor}" if anchor else url


def relative_link(from_path: str, to_path: str, anchor: str = "") -> str:
    """A Markdown link from one source page to another (MkDocs resolves .md links).

    Climbs to the docs root and back down: not the shortest spelling, but cheap
    to compute for the thousands of links of a large catalog.
    """
    link = "../" * from_path.count("/") + to_path
    return f"{link}#{anchor}" if anchor else link
