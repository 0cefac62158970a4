"""The service catalog: Backstage descriptors loaded, validated and related in one pass."""

from portal.catalog.kinds import BUILTIN_KINDS, RELATION_PAIRS, FieldSpec, KindSpec
from portal.catalog.loader import (
    CatalogSources,
    CheckResult,
    LoadResult,
    Registered,
    TextSource,
    load_catalog,
)
from portal.catalog.model import Catalog, Entity, Origin, Relation
from portal.catalog.query import (
    FACETS,
    SORTS,
    CatalogIndex,
    FacetValue,
    Page,
    Query,
    QueryError,
)
from portal.catalog.refs import DEFAULT_NAMESPACE, EntityRef, RefError, parse_ref
from portal.catalog.validate import problem_at

__all__ = [
    "BUILTIN_KINDS",
    "DEFAULT_NAMESPACE",
    "FACETS",
    "RELATION_PAIRS",
    "SORTS",
    "Catalog",
    "CatalogIndex",
    "CatalogSources",
    "CheckResult",
    "Entity",
    "EntityRef",
    "FacetValue",
    "FieldSpec",
    "KindSpec",
    "LoadResult",
    "Origin",
    "Page",
    "Query",
    "QueryError",
    "RefError",
    "Registered",
    "Relation",
    "TextSource",
    "load_catalog",
    "parse_ref",
    "problem_at",
]
