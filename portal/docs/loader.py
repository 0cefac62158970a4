"""Loading a docs folder: front matter checked, headings and links read, links verified."""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
from collections.abc import Collection
from datetime import date, datetime
from pathlib import Path
from typing import Any

from portal.cache import EntryCache
from portal.catalog import Catalog, RefError, parse_ref
from portal.catalog import rules as catalog_rules
from portal.docs.markdown import Heading, Link, find_headings, find_links, resolve_target
from portal.docs.model import DocPage, DocSet
from portal.problems import Problem, Report, Severity, display_path
from portal.yamlio import Limits, Locator, YamlError, load_documents, read_text

__all__ = ["link_problem", "load_docs", "resolve_link", "split_front_matter"]

_CATEGORY_FILES = ("_category_.json", "_category_.yml", "_category_.yaml")


def split_front_matter(text: str) -> tuple[str | None, str, int]:
    """(front matter text or None, body, line where the body starts)."""
    if not text.startswith("---"):
        return None, text, 1
    lines = text.split("\n")
    if lines[0].rstrip() != "---":
        return None, text, 1
    for index in range(1, len(lines)):
        if lines[index].rstrip() in ("---", "..."):
            return "\n".join(lines[1:index]) + "\n", "\n".join(lines[index + 1 :]), index + 2
    return None, text, 1


class _Checker:
    def __init__(self, display: str, report: Report, strict_links: bool) -> None:
        self.display = display
        self.report = report
        self.strict_links = strict_links
        self.locator: Locator | None = None

    def at(self, key: str | None, message: str, severity: Severity = "error") -> None:
        line = column = None
        if self.locator is not None and key is not None:
            pos = self.locator.locate(0, (key,))
            if pos:
                line, column = pos[0] + 1, pos[1]  # +1: the opening '---' line
        prefix = f"front matter {key}: " if key else ""
        self.report.add(Problem(self.display, prefix + message, severity, line, column))


def load_docs(
    docs_dir: Path,
    *,
    root: Path,
    audiences: Collection[str],
    catalog: Catalog | None,
    report: Report,
    limits: Limits | None = None,
    strict_links: bool = True,
    cache: EntryCache | None = None,
) -> DocSet:
    """Read every page under ``docs_dir``; problems go to ``report``.

    With ``strict_links`` a broken internal link is an error, else a warning
    (for docs imported with an entity, whose images may live elsewhere).
    ``cache`` keeps each page's parse (front matter, headings, links) by its
    path and text; the checks, links included, run on every load.
    """
    limits = limits or Limits()
    docs = DocSet(docs_dir)
    if not docs_dir.is_dir():
        return docs
    base = display_path(docs_dir, root)
    for relative, path, plain in _walk(docs_dir):
        # A symlink may lead anywhere: only a plain file is named from its folder.
        display = posixpath.join(base, relative) if plain else display_path(path, root)
        name = posixpath.basename(relative)
        if name in _CATEGORY_FILES:
            _read_category(path, relative, display, docs, report, limits)
        elif posixpath.splitext(name)[1].lower() in (".md", ".markdown"):
            page = _read_page(
                path, relative, display, audiences, catalog, report, limits, strict_links, cache
            )
            if page is not None:
                docs.pages[relative] = page
        else:
            docs.assets.append(relative)
    _check_links(docs, report, strict_links)
    return docs


def _walk(docs_dir: Path) -> list[tuple[str, Path, bool]]:
    """(relative path, path, plain file) of every file outside hidden folders, in path order."""
    found: list[tuple[tuple[str, ...], Path, bool]] = []

    def visit(folder: str, parts: tuple[str, ...]) -> None:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                if entry.is_dir(follow_symlinks=False):
                    visit(entry.path, (*parts, entry.name))
                elif entry.is_file():
                    found.append(((*parts, entry.name), Path(entry.path), not entry.is_symlink()))

    visit(str(docs_dir), ())
    found.sort(key=lambda item: item[0])
    return [("/".join(parts), path, plain) for parts, path, plain in found]


def _read_category(
    path: Path, relative: str, display: str, docs: DocSet, report: Report, limits: Limits
) -> None:
    try:
        text = read_text(path, limits)
        data: Any = json.loads(text) if path.suffix == ".json" else load_documents(text, limits)[0]
    except (YamlError, json.JSONDecodeError, IndexError, OSError) as exc:
        report.error(display, f"cannot read this section file: {exc}")
        return
    if not isinstance(data, dict):
        report.error(display, "a _category_ file holds a mapping with label and position")
        return
    position = data.get("position")
    label = data.get("label")
    section = posixpath.dirname(relative)
    docs.sections[section] = (
        str(label) if isinstance(label, str) else "",
        float(position) if isinstance(position, int | float) else None,
    )


# A page's parse: front matter (text, values), where the body starts (offset, line),
# headings, links and where each link points. Computed from the page's path and text only.
_Parsed = tuple[
    str | None,
    dict[str, Any],
    int,
    int,
    list[tuple[int, str, str, int]],
    list[tuple[str, str, int, int, int, bool, bool]],
    list[tuple[str, str] | None],
]


def _read_page(
    path: Path,
    relative: str,
    display: str,
    audiences: Collection[str],
    catalog: Catalog | None,
    report: Report,
    limits: Limits,
    strict_links: bool,
    cache: EntryCache | None,
) -> DocPage | None:
    check = _Checker(display, report, strict_links)
    try:
        text = read_text(path, limits)
    except YamlError as exc:
        report.add(Problem(display, exc.message, "error", exc.line, exc.column))
        return None
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    key = f"{relative}\0{digest}\0{limits!r}"
    parsed: _Parsed | None = cache.get(key) if cache is not None else None
    if parsed is None:
        parsed = _parse(text, relative, display, report, limits)
        if parsed is None:
            return None
        if cache is not None:
            cache.put(key, parsed)
    front, meta, body_start, body_line, heading_rows, link_rows, targets = parsed
    if front is not None:
        check.locator = Locator(front)
    headings = [Heading(*row) for row in heading_rows]
    first_h1 = next((h.text for h in headings if h.level == 1), None)
    title = meta.get("title")
    if title is not None and not isinstance(title, str):
        check.at("title", "expected text")
        title = None
    if not title:
        title = (
            first_h1
            or posixpath.splitext(posixpath.basename(relative))[0].replace("-", " ").capitalize()
        )

    page = DocPage(
        path=relative,
        source=path,
        display=display,
        title=title,
        body=text[body_start:],
        body_line=body_line,
        text=text,
        meta=meta,
        headings=headings,
        links=[Link(*row) for row in link_rows],
        targets=list(targets),
        digest=digest,
    )
    _read_meta(page, meta, check, audiences, catalog)
    return page


def _parse(
    text: str, relative: str, display: str, report: Report, limits: Limits
) -> _Parsed | None:
    """The page's parse, or None with the problem reported when its front matter is broken."""
    front, body, body_line = split_front_matter(text)
    meta: dict[str, Any] = {}
    if front is not None:
        try:
            documents = load_documents(front, limits)
        except YamlError as exc:
            line = exc.line + 1 if exc.line else None
            report.add(Problem(display, f"front matter: {exc.message}", "error", line, exc.column))
            return None
        value = documents[0] if documents else None
        if value is not None and not isinstance(value, dict):
            report.add(
                Problem(display, "front matter must be a mapping of keys to values", "error", 2, 1)
            )
            return None
        meta = value or {}
    elif text.startswith("---"):
        report.add(
            Problem(display, "front matter is not closed: add a line '---' after it", "error", 1, 1)
        )
        return None
    links = find_links(body)
    return (
        front,
        meta,
        len(text) - len(body),  # the body is the end of the text
        body_line,
        [(h.level, h.text, h.anchor, h.line) for h in find_headings(body)],
        [
            (link.target, link.text, link.line, link.start, link.end, link.image, link.definition)
            for link in links
        ],
        [resolve_target(relative, link.target) for link in links],
    )


def _read_meta(
    page: DocPage,
    meta: dict[str, Any],
    check: _Checker,
    audiences: Collection[str],
    catalog: Catalog | None,
) -> None:
    description = meta.get("description")
    if description is not None:
        if isinstance(description, str):
            page.description = description
        else:
            check.at("description", "expected text")

    audience = meta.get("audience")
    if audience is not None:
        values = [audience] if isinstance(audience, str) else audience
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            check.at("audience", "expected a list of audience names")
        else:
            unknown = [v for v in values if v not in audiences]
            for name in unknown:
                check.at(
                    "audience",
                    f"unknown audience {name!r} "
                    f"(declared audiences: {', '.join(sorted(audiences))})",
                )
            page.audiences = tuple(v for v in values if v in audiences)

    owner = meta.get("owner")
    if owner is not None:
        try:
            page.owner = parse_ref(owner, default_kind="group")
        except RefError as exc:
            check.at(
                "owner",
                f"{owner!r} is not a valid entity ref: it {exc.reason} "
                "(e.g. group:default/platform)",
            )
        else:
            if catalog is not None and page.owner not in catalog:
                check.at("owner", f"{page.owner} does not exist in the catalog", "warning")

    reviewed = meta.get("reviewed")
    if reviewed is not None:
        if isinstance(reviewed, datetime):
            page.reviewed = reviewed.date()
        elif isinstance(reviewed, date):
            page.reviewed = reviewed
        else:
            check.at("reviewed", f"{reviewed!r} is not a date (write YYYY-MM-DD)")
        if page.reviewed and page.reviewed > date.today():
            check.at("reviewed", f"{page.reviewed} is in the future", "warning")

    tags = meta.get("tags")
    if tags is not None:
        if not isinstance(tags, list):
            check.at("tags", "expected a list of tags")
        else:
            good = []
            for tag in tags:
                if catalog_rules.is_valid_tag(tag):
                    good.append(tag)
                else:
                    check.at("tags", f"{tag!r} is not a valid tag ({catalog_rules.TAG_RULE})")
            page.tags = tuple(good)

    position = meta.get("sidebar_position")
    if position is not None:
        if isinstance(position, int | float) and not isinstance(position, bool):
            page.position = float(position)
        else:
            check.at("sidebar_position", "expected a number")
    label = meta.get("sidebar_label")
    if label is not None:
        if isinstance(label, str):
            page.label = label
        else:
            check.at("sidebar_label", "expected text")

    search = meta.get("search")
    if isinstance(search, dict) and "boost" in search:
        boost = search["boost"]
        if isinstance(boost, int | float) and not isinstance(boost, bool) and boost > 0:
            page.boost = float(boost)
        else:
            check.at("search", "search.boost must be a positive number")


def _check_links(docs: DocSet, report: Report, strict: bool) -> None:
    files = set(docs.pages) | set(docs.assets)
    severity: Severity = "error" if strict else "warning"
    anchors: dict[str, set[str]] = {}
    for page in docs.pages.values():
        for link, target in zip(page.links, page.targets, strict=True):
            problem = _target_problem(target, docs, files, anchors)
            if problem:
                report.add(
                    Problem(
                        page.display,
                        f"link to {link.target!r}: {problem}",
                        severity,
                        page.body_line + link.line - 1,
                        link.start + 1,
                    )
                )


def resolve_link(page: DocPage, target: str) -> tuple[str, str] | None:
    """(docs-relative path, anchor) of an internal link, or None for outside links."""
    return resolve_target(page.path, target)


def link_problem(page: DocPage, link: Link, docs: DocSet, files: set[str]) -> str | None:
    return _target_problem(resolve_link(page, link.target), docs, files, {})


def _target_problem(
    resolved: tuple[str, str] | None, docs: DocSet, files: set[str], anchors: dict[str, set[str]]
) -> str | None:
    if resolved is None:
        return None
    path, anchor = resolved
    if path.startswith("../") or path == "..":
        return "points outside the docs folder"
    if path not in files:
        if path.rstrip("/") + "/index.md" in files or path + ".md" in files:
            return None
        return f"points at nothing (no {posixpath.join(posixpath.basename(str(docs.root)), path)})"
    target = docs.pages.get(path)
    if anchor and target is not None:
        known = anchors.get(path)
        if known is None:
            known = anchors[path] = target.anchors
        if anchor not in known:
            listed = ", ".join(sorted(known)) or "none"
            return f"{path} has no heading with the id {anchor!r} (its ids: {listed})"
    return None
