"""The thin MkDocs plugin behind ``portal build``: shared render cache and search index.

Rendering Markdown is the costly part of a build, and each audience's site
renders many of the same pages. The plugin keys each page's HTML on its final
Markdown, its location and the Markdown settings, so a page is rendered once
across audiences and across builds. It also writes the search index from the
cached sections instead of parsing every page's HTML again, which keeps the
index whole in incremental (dirty) builds, and gives the theme's templates a
bytecode cache, which Jinja checks against each template's source.

Everything here uses MkDocs' documented plugin events only.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterable
from html import unescape
from pathlib import Path
from typing import Any

import jinja2
from mkdocs.config import base
from mkdocs.config import config_options as c
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.plugins import BasePlugin, CombinedEvent, event_priority
from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page
from mkdocs.structure.toc import AnchorLink, TableOfContents

__all__ = ["PortalPlugin", "search_sections"]

_HEADING = re.compile(r"<h([1-6])([^>]*)>(.*?)</h\1>", re.S)
_ID = re.compile(r'\sid="([^"]+)"')
_TAGS = re.compile(r"<[^>]+>")
_PERMALINK = re.compile(r'<a class="headerlink"[^>]*>.*?</a>', re.S)
_SPACE = re.compile(r"\s+")


class _Options(base.Config):  # type: ignore[no-untyped-call]
    # In the repository's mkdocs.yml: the audiences (read by `portal build`).
    audiences = c.Type(dict, default={})
    # In the configuration `portal build` writes for one audience's site:
    audience = c.Optional(c.Type(str))
    cache_dir = c.Optional(c.Type(str))
    state_file = c.Optional(c.Type(str))
    reverse = c.Type(bool, default=False)


class PortalPlugin(BasePlugin[_Options]):  # type: ignore[no-untyped-call]
    supports_multiple_instances = False

    def __init__(self) -> None:
        self.dirty = False
        self._settings_hash = ""
        self._hits: dict[str, dict[str, Any]] = {}
        self._keys: dict[str, str] = {}
        # Each page's search entries, as the JSON text of a list, by page URL.
        self._search: dict[str, str] = {}
        self._search_changed = False
        self._stashed: dict[str, str] = {}
        self._active = False
        self._present: set[str] = set()

    def on_startup(self, *, command: str, dirty: bool) -> None:
        self.dirty = dirty

    def on_config(self, config: MkDocsConfig) -> MkDocsConfig | None:
        self._active = bool(self.config.audience and self.config.cache_dir)
        self._hits.clear()
        self._keys.clear()
        self._search = {}
        self._search_changed = True
        if self._active:
            settings = repr((config.markdown_extensions, sorted(config.mdx_configs.items())))
            self._settings_hash = hashlib.sha256(settings.encode()).hexdigest()
            state = self.config.state_file
            if self.dirty and state and os.path.exists(state):
                with open(state, encoding="utf-8") as fh:
                    stored = json.load(fh)
                self._search = {
                    url: entries
                    if isinstance(entries, str)  # else written by an older portal
                    else json.dumps(entries, separators=(",", ":"))
                    for url, entries in stored.items()
                }
                self._search_changed = any(not isinstance(e, str) for e in stored.values())
        return config

    def on_env(
        self, env: jinja2.Environment, *, config: MkDocsConfig, files: Files
    ) -> jinja2.Environment:
        if self._active:
            folder = Path(str(self.config.cache_dir)) / "jinja"
            folder.mkdir(parents=True, exist_ok=True)
            env.bytecode_cache = jinja2.FileSystemBytecodeCache(str(folder))
            if self.dirty:
                _unshare_rewritten(config, files)
        return env

    def on_files(self, files: Files, *, config: MkDocsConfig) -> Files:
        self._present = {f.url for f in files.documentation_pages()}
        if self._active and self.config.reverse:
            # Two builds running side by side start at opposite ends, so they
            # share rendered pages through the cache instead of both rendering them.
            return Files(list(reversed(list(files))))
        return files

    def on_page_markdown(
        self, markdown: str, *, page: Page, config: MkDocsConfig, files: Files
    ) -> str:
        if not self._active:
            return markdown
        key = hashlib.sha256(
            f"{self._settings_hash}\0{page.file.src_uri}\0{markdown}".encode()
        ).hexdigest()
        entry = self._read(key)
        if entry is not None:
            self._hits[page.file.src_uri] = entry
            return ""  # rendering nothing is cheap; the cached HTML goes in below
        self._keys[page.file.src_uri] = key
        return markdown

    def on_page_content(self, html: str, *, page: Page, config: MkDocsConfig, files: Files) -> str:
        if not self._active:
            return html
        entry = self._hits.pop(page.file.src_uri, None)
        if entry is not None:
            page.toc = _toc_from(entry["toc"])
            page.present_anchor_ids = set(entry["anchors"])
            html = entry["html"]
        else:
            entry = {
                "html": html,
                "toc": _toc_to(page.toc),
                "anchors": sorted(page.present_anchor_ids or ()),
            }
            self._write(self._keys.pop(page.file.src_uri), entry)
        self._search[page.file.url] = json.dumps(_entries(page, html), separators=(",", ":"))
        self._search_changed = True
        return html

    # Material's search plugin parses each page's HTML again; hand it an empty
    # page and put the content back afterwards. The index is written below.
    @event_priority(100)
    def _hide_content(
        self, context: dict[str, Any], *, page: Page, config: MkDocsConfig, nav: Any
    ) -> dict[str, Any]:
        if self._active and page.content is not None:
            self._stashed[page.file.src_uri] = page.content
            page.content = ""
        return context

    @event_priority(-100)
    def _restore_content(
        self, context: dict[str, Any], *, page: Page, config: MkDocsConfig, nav: Any
    ) -> dict[str, Any]:
        if self._active:
            page.content = self._stashed.pop(page.file.src_uri, page.content)
        return context

    on_page_context = CombinedEvent(_hide_content, _restore_content)

    def on_post_page(self, output: str, *, page: Page, config: MkDocsConfig) -> str:
        # The output folder may start as hard links to the previous build:
        # replace the file rather than write through a shared inode.
        if self._active and page.file.abs_dest_path and os.path.exists(page.file.abs_dest_path):
            os.unlink(page.file.abs_dest_path)
        return output

    @event_priority(-100)
    def on_post_build(self, *, config: MkDocsConfig) -> None:
        if not self._active:
            return
        present = self._present
        # The index as json.dumps would write it, joined from each page's entries.
        docs = ",".join(
            entries[1:-1]
            for url, entries in sorted(self._search.items())
            if url in present and entries != "[]"
        )
        index_path = Path(config.site_dir) / "search" / "search_index.json"
        settings: Any = {"lang": ["en"], "separator": r"[\s\-]+", "pipeline": ["stemmer"]}
        if index_path.exists():
            settings = json.loads(index_path.read_text(encoding="utf-8")).get("config", settings)
            index_path.unlink()
        index_path.parent.mkdir(parents=True, exist_ok=True)
        config_json = json.dumps(settings, separators=(",", ":"))
        index_path.write_text(f'{{"config":{config_json},"docs":[{docs}]}}', encoding="utf-8")
        kept = {url: entries for url, entries in self._search.items() if url in present}
        if self.config.state_file and (self._search_changed or len(kept) != len(self._search)):
            _atomic_write(Path(self.config.state_file), json.dumps(kept))

    # -- cache ---------------------------------------------------------------

    def _path(self, key: str) -> Path:
        return Path(str(self.config.cache_dir)) / "render" / key[:2] / f"{key}.json"

    def _read(self, key: str) -> dict[str, Any] | None:
        try:
            with open(self._path(key), encoding="utf-8") as fh:
                data: dict[str, Any] = json.load(fh)
                return data
        except (OSError, ValueError):
            return None

    def _write(self, key: str, entry: dict[str, Any]) -> None:
        _atomic_write(self._path(key), json.dumps(entry))


def _unshare_rewritten(config: MkDocsConfig, files: Files) -> None:
    """Give this build its own copy of each output that may be written over in place.

    A dirty build starts from hard links to the previous build, which is served
    until this one replaces it, and which must stay as it was if this one fails.
    MkDocs writes by opening the existing file, so it would change both: static
    files it copies again, the theme's templates (404 page, sitemap) and what
    plugins write at the end (the search index). Pages go in ``on_post_page``.
    """
    for file in files:
        if not file.is_documentation_page() and file.is_modified():
            with contextlib.suppress(FileNotFoundError):
                os.unlink(file.abs_dest_path)
    site = Path(config.site_dir)
    known = {file.abs_dest_path for file in files}
    outputs = [site / name for name in config.extra_templates]
    for folder in (site, site / "search"):
        with contextlib.suppress(FileNotFoundError), os.scandir(folder) as entries:
            outputs += [Path(e.path) for e in entries if e.is_file(follow_symlinks=False)]
    for path in outputs:
        with contextlib.suppress(FileNotFoundError):
            if str(path) not in known and path.stat().st_nlink > 1:
                copy = path.with_name(f".{path.name}.{os.getpid()}.tmp")
                shutil.copy2(path, copy)
                os.replace(copy, path)


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _toc_to(toc: Iterable[AnchorLink]) -> list[dict[str, Any]]:
    return [
        {
            "title": item.title,
            "id": item.id,
            "level": item.level,
            "children": _toc_to(item.children),
        }
        for item in toc
    ]


def _toc_from(items: list[dict[str, Any]]) -> TableOfContents:
    return TableOfContents([_anchor(item) for item in items])


def _anchor(item: dict[str, Any]) -> AnchorLink:
    link = AnchorLink(item["title"], item["id"], item["level"])
    link.children = [_anchor(child) for child in item["children"]]
    return link


def search_sections(html: str) -> list[tuple[str | None, str, str]]:
    """(anchor, heading text, section text) for the intro and each h2-h6 section."""
    sections: list[tuple[str | None, str, str]] = []
    last_end, current_id, current_title = 0, None, ""
    for match in _HEADING.finditer(html):
        level = int(match.group(1))
        if level == 1:
            current_title = _text(match.group(3))
            last_end = match.end()
            continue
        sections.append((current_id, current_title, _text(html[last_end : match.start()])))
        found = _ID.search(match.group(2))
        current_id = found.group(1) if found else None
        current_title = _text(match.group(3))
        last_end = match.end()
    sections.append((current_id, current_title, _text(html[last_end:])))
    return sections


def _text(fragment: str) -> str:
    return _SPACE.sub(" ", unescape(_TAGS.sub(" ", _PERMALINK.sub("", fragment)))).strip()


def _entries(page: Page, html: str) -> list[dict[str, Any]]:
    search = page.meta.get("search") or {}
    if isinstance(search, dict) and search.get("exclude"):
        return []
    tags = [str(t) for t in page.meta.get("tags") or [] if isinstance(t, str | int | float)]
    entries = []
    for anchor, title, text in search_sections(html):
        entry: dict[str, Any] = {
            "location": f"{page.url}#{anchor}" if anchor else page.url,
            "title": title or str(page.title),
            "text": text,
        }
        if tags:
            entry["tags"] = tags
        if isinstance(search, dict) and "boost" in search:
            entry["boost"] = search["boost"]
        entries.append(entry)
    return entries
