"""Markdown written in the catalog (a rule's fix), rendered for a portal page, safely.

The text comes from any catalog file or registered descriptor, so it may hold
HTML or links meant to run script. Raw HTML is shown as text (the parser's HTML
steps are removed, so the serializer escapes it), and a link or image whose
address is not a plain web, mail or relative one loses it. A relative link can be
resolved by the caller (``resolve``), e.g. to the docs page it names in a site.
"""

from __future__ import annotations

import re
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import cast

import markdown
from markdown.extensions import Extension
from markdown.treeprocessors import Treeprocessor
from markupsafe import Markup

__all__ = ["render_markdown"]

_SAFE_URL = re.compile(r"^(?:https?://|mailto:|/(?!/)|\./|\.\./|#|[\w.-]+(?:/|$|#))", re.I)
_RELATIVE = re.compile(r"^(?![a-z][a-z0-9+.-]*:|/|#)", re.I)
_local = threading.local()

Resolver = Callable[[str], str | None]


class _SafeLinks(Treeprocessor):
    resolve: Resolver | None = None

    def run(self, root: ET.Element) -> None:
        for element in root.iter():
            href = element.get("href")
            if element.tag == "a" and href and self.resolve and _RELATIVE.match(href.strip()):
                target = self.resolve(href.strip())
                if target is None:
                    del element.attrib["href"]
                else:
                    element.set("href", target)
            for attribute in ("href", "src"):
                value = element.get(attribute)
                if value is not None and not _SAFE_URL.match(value.strip()):
                    del element.attrib[attribute]
            if element.tag == "img":  # pages load nothing from other hosts
                src = element.get("src", "")
                if "//" in src:
                    del element.attrib["src"]
            if element.tag == "a" and "//" in element.get("href", ""):
                element.set("rel", "noopener nofollow")


class _NoRawHtml(Extension):
    def extendMarkdown(self, md: markdown.Markdown) -> None:
        md.preprocessors.deregister("html_block")
        md.inlinePatterns.deregister("html")
        md.treeprocessors.register(_SafeLinks(md), "safe_links", 1)


def _parser() -> tuple[markdown.Markdown, _SafeLinks]:
    # A Markdown instance keeps state while converting: one per thread.
    parser: markdown.Markdown | None = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = markdown.Markdown(
            extensions=[_NoRawHtml(), "fenced_code", "tables", "sane_lists"]
        )
    return parser, cast(_SafeLinks, parser.treeprocessors["safe_links"])


def render_markdown(text: str, resolve: Resolver | None = None) -> Markup:
    """``text`` as HTML with no raw HTML and no unsafe link in it.

    ``resolve`` turns a relative link into the address to use, or None to drop it.
    """
    parser, links = _parser()
    links.resolve = resolve
    try:
        return Markup(parser.convert(text))
    finally:
        links.resolve = None
        parser.reset()
