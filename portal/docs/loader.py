"""Loading a docs folder: front matter checked, headings and links read, links verified."""

from __future__ import annotations

import json
import posixpath
from collections.abc import Collection
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from portal.catalog import Catalog, RefError, parse_ref
from portal.catalog import rules as catalog_rules
from portal.docs.markdown import Link, find_headings, find_links
from portal.docs.model import DocPage, DocSet
from portal.problems import Problem, Report, Severity, display_path
from portal.yamlio import Limits, Locator, YamlError, load_documents, read_text

__all__ = ["load_docs", "split_front_matter"]

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
) -> DocSet:
    """Read every page under ``docs_dir``; problems go to ``report``.

    With ``strict_links`` a broken internal link is an error, else a warning
    (for docs imported with an entity, whose images may live elsewhere).
    """
    limits = limits or Limits()
    docs = DocSet(docs_dir)
    if not docs_dir.is_dir():
        return docs
    for path in sorted(docs_dir.rglob("*")):
        if not path.is_file() or any(
            part.startswith(".") for part in path.relative_to(docs_dir).parts
        ):
            continue
        relative = path.relative_to(docs_dir).as_posix()
        display = display_path(path, root)
        if path.name in _CATEGORY_FILES:
            _read_category(path, relative, display, docs, report, limits)
        elif path.suffix.lower() in (".md", ".markdown"):
            page = _read_page(
                path, relative, display, audiences, catalog, report, limits, strict_links
            )
            if page is not None:
                docs.pages[relative] = page
        else:
            docs.assets.append(relative)
    _check_links(docs, report, strict_links)
    return docs


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


def _read_page(
    path: Path,
    relative: str,
    display: str,
    audiences: Collection[str],
    catalog: Catalog | None,
    report: Report,
    limits: Limits,
    strict_links: bool,
) -> DocPage | None:
    check = _Checker(display, report, strict_links)
    try:
        text = read_text(path, limits)
    except YamlError as exc:
        report.add(Problem(display, exc.message, "error", exc.line, exc.column))
        return None
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
        check.locator = Locator(front)
    elif text.startswith("---"):
        report.add(
            Problem(display, "front matter is not closed: add a line '---' after it", "error", 1, 1)
        )
        return None

    headings = find_headings(body)
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
        body=body,
        body_line=body_line,
        text=text,
        meta=meta,
        headings=headings,
        links=find_links(body),
    )
    _read_meta(page, meta, check, audiences, catalog)
    return page


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
    for page in docs.pages.values():
        for link in page.links:
            problem = link_problem(page, link, docs, files)
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
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or target.startswith("/"):
        return None
    path = unquote(parts.path)
    if not path:
        return page.path, parts.fragment
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(page.path), path))
    return joined, parts.fragment


def link_problem(page: DocPage, link: Link, docs: DocSet, files: set[str]) -> str | None:
    resolved = resolve_link(page, link.target)
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
    if anchor and target is not None and anchor not in target.anchors:
        known = ", ".join(sorted(target.anchors)) or "none"
        return f"{path} has no heading with the id {anchor!r} (its ids: {known})"
    return None
