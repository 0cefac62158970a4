"""The service catalog: Backstage descriptors loaded, validated and related in one pass."""

from portal.catalog.kinds import BUILTIN_KINDS, RELATION_PAIRS, FieldSpec, KindSpec
from portal.catalog.loader import LoadResult, load_catalog
from portal.catalog.model import Catalog, Entity, Origin, Relation
from portal.catalog.refs import DEFAULT_NAMESPACE, EntityRef, RefError, parse_ref
from portal.catalog.validate import problem_at

__all__ = [
    "BUILTIN_KINDS",
    "DEFAULT_NAMESPACE",
    "RELATION_PAIRS",
    "Catalog",
    "Entity",
    "EntityRef",
    "FieldSpec",
    "KindSpec",
    "LoadResult",
    "Origin",
    "RefError",
    "Relation",
    "load_catalog",
    "parse_ref",
    "problem_at",
]
