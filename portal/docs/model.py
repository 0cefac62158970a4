"""Documentation pages as the portal knows them: front matter, body, headings and links."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from portal.catalog.refs import EntityRef
from portal.docs.markdown import Heading, Link, resolve_target

__all__ = ["DocPage", "DocSet"]


@dataclass(slots=True, eq=False)
class DocPage:
    """One Markdown page: ``path`` is relative to its docs folder, with forward slashes."""

    path: str
    source: Path
    display: str  # path shown in messages, relative to the repository root
    title: str
    body: str
    body_line: int  # line of the file where the body starts (1-based)
    text: str = ""  # the whole file as read, front matter included
    meta: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    audiences: tuple[str, ...] = ()
    owner: EntityRef | None = None
    reviewed: date | None = None
    tags: tuple[str, ...] = ()
    position: float | None = None
    label: str | None = None
    boost: float = 1.0
    headings: list[Heading] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    # Where each of ``links`` points in the docs folder: (path, anchor), None when outside.
    targets: list[tuple[str, str] | None] = field(default_factory=list)
    digest: str = ""  # SHA-256 of ``text`` as UTF-8, when loaded from a file

    def __post_init__(self) -> None:
        if len(self.targets) != len(self.links):
            self.targets = [resolve_target(self.path, link.target) for link in self.links]

    @property
    def anchors(self) -> set[str]:
        return {h.anchor for h in self.headings}

    @property
    def nav_title(self) -> str:
        return self.label or self.title


@dataclass(slots=True)
class DocSet:
    """The pages of one docs folder, and its other files (images, downloads)."""

    root: Path
    pages: dict[str, DocPage] = field(default_factory=dict)
    assets: list[str] = field(default_factory=list)
    # Docusaurus-style section labels and positions, from _category_.json/.yml files.
    sections: dict[str, tuple[str, float | None]] = field(default_factory=dict)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.pages.values())

    def __len__(self) -> int:
        return len(self.pages)
