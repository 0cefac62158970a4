"""The search engines the portal ships, registered through ``portal_search_engines``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from portal.hookspecs import hookimpl
from portal.search.engine import SearchEngine
from portal.search.tantivy_engine import TantivyEngine
from portal.search.whoosh_engine import WhooshEngine


@hookimpl
def portal_search_engines() -> dict[str, Callable[[Path | None], SearchEngine]]:
    return {"tantivy": TantivyEngine, "whoosh": WhooshEngine}
