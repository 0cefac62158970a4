"""Reading Markdown source without rendering it: headings, anchors and links, outside code."""

from __future__ import annotations

import posixpath
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

__all__ = [
    "Heading",
    "Link",
    "find_headings",
    "find_links",
    "resolve_target",
    "slugify",
    "unique_anchor",
]

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_ATX = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)[ \t#]*$")
_ATTR_ID = re.compile(r"\s*\{[^}]*#([-\w:.]+)[^}]*\}\s*$")
_INLINE_LINK = re.compile(
    r"(!?)\[((?:[^\[\]]|\[[^\]]*\])*)\]\(\s*<?([^)\s>]*)>?(?:\s+[\"'][^)]*[\"'])?\s*\)"
)
_REF_DEF = re.compile(r"^ {0,3}\[([^\]]+)\]:\s*<?(\S+?)>?(?:\s+.*)?$")
_INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1")
_STRIP_MARKUP = re.compile(r"[*_`]|<[^>]+>|\[([^\]]*)\]\([^)]*\)")


@dataclass(frozen=True, slots=True)
class Heading:
    level: int
    text: str
    anchor: str
    line: int  # 1-based, within the text given


@dataclass(frozen=True, slots=True)
class Link:
    target: str  # as written: "../a.md#x", "https://...", "#here"
    text: str
    line: int
    start: int  # offsets of the whole link syntax within its line
    end: int
    image: bool
    definition: bool  # a reference definition "[x]: target"


def slugify(text: str) -> str:
    """The anchor Python-Markdown's toc extension gives a heading (its default slugify)."""
    value = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    value = re.sub(r"[^\w\s-]", "", value).strip().lower()
    return re.sub(r"[-\s]+", "-", value)


def unique_anchor(anchor: str, used: set[str]) -> str:
    """Python-Markdown's rule for repeated headings: a, a_1, a_2 ..."""
    candidate, n = anchor, 0
    while candidate in used:
        n += 1
        candidate = f"{anchor}_{n}"
    used.add(candidate)
    return candidate


def _prose_lines(text: str) -> Iterator[tuple[int, str]]:
    """Lines outside fenced code blocks, numbered from 1."""
    fence: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        match = _FENCE.match(line)
        if fence is None:
            if match:
                fence = match.group(1)
                continue
            yield number, line
        elif match and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence):
            fence = None


def find_headings(text: str) -> list[Heading]:
    headings: list[Heading] = []
    used: set[str] = set()
    for number, line in _prose_lines(text):
        match = _ATX.match(line)
        if not match:
            continue
        raw = match.group(2)
        explicit = _ATTR_ID.search(raw)
        if explicit:
            title = raw[: explicit.start()].strip()
            anchor = explicit.group(1)
            used.add(anchor)
        else:
            title = raw.strip()
            anchor = unique_anchor(slugify(_STRIP_MARKUP.sub(r"\1", title)), used)
        headings.append(Heading(len(match.group(1)), title, anchor, number))
    return headings


def find_links(text: str) -> list[Link]:
    links: list[Link] = []
    for number, line in _prose_lines(text):
        definition = _REF_DEF.match(line)
        if definition:
            links.append(
                Link(definition.group(2), definition.group(1), number, 0, len(line), False, True)
            )
            continue
        masked = _INLINE_CODE.sub(lambda m: " " * len(m.group(0)), line)
        links.extend(_inline_links(line, masked, number, 0, len(masked)))
    return links


def _inline_links(line: str, masked: str, number: int, start: int, end: int) -> list[Link]:
    found = []
    for match in _INLINE_LINK.finditer(masked, start, end):
        found.append(
            Link(
                match.group(3),
                line[match.start(2) : match.end(2)],
                number,
                match.start(),
                match.end(),
                bool(match.group(1)),
                False,
            )
        )
        # An image inside a link's text: [![logo](img.svg)](https://...)
        found.extend(_inline_links(line, masked, number, match.start(2), match.end(2)))
    return found


def resolve_target(from_path: str, target: str) -> tuple[str, str] | None:
    """(docs-relative path, anchor) of a link on page ``from_path``; None for outside links."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or target.startswith("/"):
        return None
    path = unquote(parts.path)
    if not path:
        return from_path, parts.fragment
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(from_path), path))
    return joined, parts.fragment
