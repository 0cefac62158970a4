"""Markdown building blocks for reference pages: escaping, anchors, tables and code fences.

The pages are read by Python-Markdown with the site's extensions (toc, tables,
attr_list, admonition, pymdownx.superfences, pymdownx.details …), so escaping
follows its rules: attr_list takes a trailing ``{…}`` in a heading or table
cell as attributes, and a ``<`` would open an HTML tag.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable

import yaml

__all__ = [
    "Anchors",
    "address",
    "cell",
    "code",
    "details",
    "dump",
    "example_block",
    "fence",
    "heading",
    "inline",
    "link",
    "prose",
    "slug",
    "table",
]

_SLUG_JUNK = re.compile(r"[^a-z0-9]+")
_INLINE_SPECIAL = re.compile(r"([\\`*_\[\]{}#|!])")
_CELL_SPECIAL = re.compile(r"([|{}])")
_CODE_SPAN = re.compile(r"(`+)(.+?)(?<!`)\1(?!`)", re.DOTALL)
_ATX = re.compile(r"^(#{1,6})(?=\s|$)")
_FENCE_OPEN = re.compile(r"^\s*(`{3,}|~{3,})")
_BACKTICK_RUN = re.compile(r"`+")


def slug(text: str) -> str:
    """Lower-case ASCII letters and digits joined by hyphens; safe in an HTML id."""
    return _SLUG_JUNK.sub("-", text.lower()).strip("-")


class Anchors:
    """Hands out ids that are unique within one page."""

    def __init__(self) -> None:
        self._used: set[str] = set()

    def claim(self, prefix: str, name: str) -> str:
        base = f"{prefix}-{slug(name)}".rstrip("-")
        anchor, number = base, 1
        while anchor in self._used:
            number += 1
            anchor = f"{base}-{number}"
        self._used.add(anchor)
        return anchor


def _html_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def inline(text: str) -> str:
    """Literal text (a path, a name) on one line, with nothing read as Markdown or HTML."""
    flat = " ".join(text.split())
    return _INLINE_SPECIAL.sub(r"\\\1", _html_escape(flat))


_SAFE_URL = re.compile(r"^(?:https?://|mailto:|/|\./|\.\./|#)[^\s()<>]*$", re.IGNORECASE)


def link(text: str, url: str) -> str:
    """A Markdown link when ``url`` is a plain web, mail or relative address, else code.

    ``text`` must already be escaped; a ``javascript:`` or otherwise odd
    address is shown, never made clickable.
    """
    if _SAFE_URL.match(url):
        return f"[{text}]({url})"
    return f"{text} ({code(url)})" if text and text != inline(url) else code(url)


def address(url: str) -> str:
    """A URL shown as code, and linked when it is a web address."""
    return link(code(url), url) if url.startswith(("https://", "http://")) else code(url)


def code(text: str) -> str:
    """An inline code span holding ``text`` literally."""
    flat = " ".join(text.split())
    if not flat:
        return '`""`'
    longest = max((len(run) for run in _BACKTICK_RUN.findall(flat)), default=0)
    if longest == 0:
        return f"`{flat}`"
    ticks = "`" * (longest + 1)
    return f"{ticks} {flat} {ticks}"


def _outside_code(text: str, change: Callable[[str], str]) -> str:
    parts: list[str] = []
    position = 0
    for match in _CODE_SPAN.finditer(text):
        parts.append(change(text[position : match.start()]))
        parts.append(match.group(0))
        position = match.end()
    parts.append(change(text[position:]))
    return "".join(parts)


def cell(text: str) -> str:
    """Markdown prose for a table cell: one line, pipes and braces escaped outside code."""
    flat = " ".join(text.split())
    return _outside_code(flat, lambda part: _CELL_SPECIAL.sub(r"\\\1", part))


def table(headers: Iterable[str], rows: Iterable[Iterable[str]]) -> list[str]:
    """A Markdown table; cells must already be made safe with :func:`cell` or :func:`code`."""
    names = list(headers)
    lines = ["| " + " | ".join(names) + " |", "|" + " --- |" * len(names)]
    for row in rows:
        values = [value or " " for value in row]
        lines.append("| " + " | ".join(values) + " |")
    return lines


def heading(level: int, text: str, anchor: str) -> str:
    """A heading with an explicit id; ``text`` must already be escaped with :func:`inline`."""
    return f"{'#' * level} {text} {{#{anchor}}}"


def prose(text: str, min_level: int = 2) -> list[str]:
    """Author-written Markdown, passed through with its headings pushed below ``min_level``."""
    lines: list[str] = []
    shift = max(min_level - 1, 0)
    fence_marker: str | None = None
    for raw in text.strip("\n").splitlines():
        line = raw.rstrip()
        opened = _FENCE_OPEN.match(line)
        if fence_marker is not None:
            if opened and opened.group(1).startswith(fence_marker):
                fence_marker = None
        elif opened:
            fence_marker = opened.group(1)
        else:
            atx = _ATX.match(line)
            if atx and shift:
                level = min(len(atx.group(1)) + shift, 6)
                line = "#" * level + line[len(atx.group(1)) :]
        lines.append(line)
    return lines


def fence(source: str, language: str) -> list[str]:
    """A fenced code block that no line of ``source`` can close early."""
    body = source.rstrip("\n").splitlines() or [""]
    longest = 0
    for line in body:
        stripped = line.lstrip()
        if stripped.startswith("`"):
            longest = max(longest, len(stripped) - len(stripped.lstrip("`")))
    ticks = "`" * max(3, longest + 1)
    return [f"{ticks}{language}", *body, ticks]


def details(title: str, lines: Iterable[str], kind: str = "abstract") -> list[str]:
    """A collapsed pymdownx.details block (``???``) around ``lines``."""
    safe_title = " ".join(title.replace('"', "'").split())
    body = [f"    {line}" if line else "" for line in lines]
    return [f'??? {kind} "{safe_title}"', "", *body]


def dump(value: object, language: str = "yaml") -> str:
    """A parsed value written out as YAML or JSON text, whatever it holds."""
    try:
        if language == "yaml":
            return yaml.safe_dump(value, allow_unicode=True, sort_keys=False).rstrip("\n")
        return json.dumps(value, indent=2, ensure_ascii=False, default=str)
    except (ValueError, TypeError, RecursionError, yaml.YAMLError):
        return repr(value)


def example_block(value: object, media_type: str = "application/json") -> list[str]:
    """An example value as written in the definition, in a fenced block of a fitting language."""
    media = media_type.lower()
    if isinstance(value, str):
        language = "text"
        if "json" in media:
            try:
                json.loads(value)
                language = "json"
            except ValueError:
                pass
        elif "xml" in media or "html" in media:
            language = "xml"
        elif "yaml" in media:
            language = "yaml"
        return fence(value, language)
    language = "yaml" if "yaml" in media else "json"
    return fence(dump(value, language), language)
