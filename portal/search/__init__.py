"""Search over every doc section, catalog entity and API operation, behind one engine interface."""

from portal.search.documents import SearchDoc, SectionCache, changes, documents, plain_text
from portal.search.engine import (
    FACETS,
    ParsedQuery,
    SearchEngine,
    SearchError,
    SearchHit,
    SearchQuery,
    SearchResults,
    parse_query,
)
from portal.search.service import SearchIndex, SyncStats, open_engine
from portal.search.tantivy_engine import TantivyEngine
from portal.search.whoosh_engine import WhooshEngine

__all__ = [
    "FACETS",
    "ParsedQuery",
    "SearchDoc",
    "SearchEngine",
    "SearchError",
    "SearchHit",
    "SearchIndex",
    "SearchQuery",
    "SearchResults",
    "SectionCache",
    "SyncStats",
    "TantivyEngine",
    "WhooshEngine",
    "changes",
    "documents",
    "open_engine",
    "parse_query",
    "plain_text",
]
