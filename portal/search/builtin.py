"""The search engines the portal ships, registered through ``portal_search_engines``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from portal.hookspecs import hookimpl
from portal.search.engine import SearchEngine
from portal.search.tantivy_engine import TantivyEngine
from portal.search.whoosh_engine import WhooshEngine
from portal.settings import Settings


@hookimpl
def portal_search_engines(settings: Settings) -> dict[str, Callable[[Path | None], SearchEngine]]:
    engines: dict[str, Callable[[Path | None], SearchEngine]] = {
        "tantivy": TantivyEngine,
        "whoosh": WhooshEngine,
    }
    url = settings.search_database_url or settings.database_url
    if url.startswith(("postgresql:", "postgresql+psycopg:")):
        # Several replicas share one index in the portal's PostgreSQL (the folder is
        # not used). Needs the postgres extra (psycopg).

        def postgres(_folder: Path | None) -> SearchEngine:
            from portal.search.postgres_engine import PostgresEngine

            return PostgresEngine(url)

        engines["postgres"] = postgres
    return engines
