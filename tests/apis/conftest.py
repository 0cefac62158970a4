"""Shared helpers for API reference tests: the corpora, and Markdown rendered as the site does."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import markdown
import yaml

CORPORA = Path(__file__).resolve().parents[2].parent / "shared" / "corpora"
OPENAPI_EXAMPLES = CORPORA / "openapi-examples"
BACKSTAGE_APIS = CORPORA / "backstage-examples" / "apis"

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

# The Markdown extensions of the portal's sites (mkdocs.yml).
EXTENSIONS = [
    "toc",
    "tables",
    "admonition",
    "attr_list",
    "def_list",
    "md_in_html",
    "pymdownx.highlight",
    "pymdownx.superfences",
    "pymdownx.details",
    "pymdownx.tabbed",
]
EXTENSION_CONFIGS: dict[str, dict[str, Any]] = {
    "toc": {"permalink": True},
    "pymdownx.tabbed": {"alternate_style": True},
}

_TAG = re.compile(r"<[^>]+>")


def to_html(text: str) -> str:
    """Markdown rendered with the site's extensions."""
    return str(markdown.markdown(text, extensions=EXTENSIONS, extension_configs=EXTENSION_CONFIGS))


def plain(fragment: str) -> str:
    """The text of an HTML fragment, tags dropped and entities decoded."""
    return html.unescape(_TAG.sub("", fragment))


def heading_with_id(page: str, anchor: str) -> str | None:
    """The text of the heading whose id is ``anchor``, or None."""
    match = re.search(rf'<h(\d) id="{re.escape(anchor)}">(.*?)</h\1>', page, re.S)
    if match is None:
        return None
    return plain(match.group(2)).replace("¶", "").strip()


def count_ids(page: str, anchor: str) -> int:
    return len(re.findall(rf'\bid="{re.escape(anchor)}"', page))


def http_operations(document: dict[str, Any]) -> list[tuple[str, str]]:
    """(METHOD, path) of every operation under paths and webhooks, counted independently."""
    found = []
    for section in ("paths", "webhooks"):
        for path, item in (document.get(section) or {}).items():
            if str(path).startswith("x-") or not isinstance(item, dict):
                continue
            found += [(method.upper(), str(path)) for method in HTTP_METHODS if method in item]
    return found


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))
