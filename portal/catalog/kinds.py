"""What each kind of entity holds in ``spec``: field types, required fields and relations.

The same table drives validation, relation building and the JSON Schema, so the
three cannot disagree. Built-in kinds are registered through the
``portal_catalog_kinds`` hook like any organisation's own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pluggy

__all__ = [
    "BACKSTAGE_API_VERSIONS",
    "BUILTIN_KINDS",
    "RELATION_PAIRS",
    "FieldSpec",
    "FieldType",
    "KindSpec",
    "registered_kinds",
]

FieldType = Literal["string", "strings", "ref", "refs", "mapping", "text", "any"]

BACKSTAGE_API_VERSIONS = ("backstage.io/v1alpha1", "backstage.io/v1beta1")

# Every relation and its reverse, both directions spelled out.
RELATION_PAIRS: dict[str, str] = {
    "ownedBy": "ownerOf",
    "dependsOn": "dependencyOf",
    "providesApi": "apiProvidedBy",
    "consumesApi": "apiConsumedBy",
    "partOf": "hasPart",
    "memberOf": "hasMember",
    "childOf": "parentOf",
}
RELATION_PAIRS.update({reverse: forward for forward, reverse in list(RELATION_PAIRS.items())})


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One ``spec`` field: its type, whether it is required, and the relation it makes."""

    type: FieldType
    required: bool = False
    description: str = ""
    default_kind: str | None = None
    relation: str | None = None
    # Values the field may take, when the set is closed; also used as examples.
    examples: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class KindSpec:
    """One kind of entity the catalog understands."""

    kind: str
    description: str
    fields: dict[str, FieldSpec] = field(default_factory=dict)
    api_versions: tuple[str, ...] = BACKSTAGE_API_VERSIONS


def _owner() -> FieldSpec:
    return FieldSpec(
        "ref",
        required=True,
        description="The group (or user) that owns it",
        default_kind="group",
        relation="ownedBy",
    )


def _system() -> FieldSpec:
    return FieldSpec(
        "ref", description="The system it is part of", default_kind="system", relation="partOf"
    )


_LIFECYCLE = FieldSpec(
    "string",
    required=True,
    description="Its stage of life",
    examples=("experimental", "production", "deprecated"),
)
_DEPENDS_ON = FieldSpec(
    "refs",
    description="Components and resources it needs (refs name their kind)",
    relation="dependsOn",
)
_DEPENDENCY_OF = FieldSpec(
    "refs",
    description="Components and resources that need it (refs name their kind)",
    relation="dependencyOf",
)

BUILTIN_KINDS: tuple[KindSpec, ...] = (
    KindSpec(
        "Component",
        "A piece of software: a service, website or library.",
        {
            "type": FieldSpec("string", required=True, examples=("service", "website", "library")),
            "lifecycle": _LIFECYCLE,
            "owner": _owner(),
            "system": _system(),
            "subcomponentOf": FieldSpec(
                "ref",
                default_kind="component",
                relation="partOf",
                description="The component it is a part of",
            ),
            "providesApis": FieldSpec(
                "refs",
                default_kind="api",
                relation="providesApi",
                description="APIs it implements",
            ),
            "consumesApis": FieldSpec(
                "refs",
                default_kind="api",
                relation="consumesApi",
                description="APIs it calls",
            ),
            "dependsOn": _DEPENDS_ON,
            "dependencyOf": _DEPENDENCY_OF,
        },
    ),
    KindSpec(
        "API",
        "An interface a component provides: OpenAPI, AsyncAPI, GraphQL, gRPC.",
        {
            "type": FieldSpec(
                "string", required=True, examples=("openapi", "asyncapi", "graphql", "grpc")
            ),
            "lifecycle": _LIFECYCLE,
            "owner": _owner(),
            "system": _system(),
            "definition": FieldSpec(
                "text",
                description="The API's definition, inline or through $text",
            ),
        },
    ),
    KindSpec(
        "Resource",
        "Infrastructure a component needs at run time: a database, bucket or queue.",
        {
            "type": FieldSpec("string", required=True, examples=("database", "cache", "queue")),
            "owner": _owner(),
            "system": _system(),
            "dependsOn": _DEPENDS_ON,
            "dependencyOf": _DEPENDENCY_OF,
        },
    ),
    KindSpec(
        "System",
        "A set of components, APIs and resources that together provide a capability.",
        {
            "owner": _owner(),
            "domain": FieldSpec(
                "ref",
                default_kind="domain",
                relation="partOf",
                description="The domain it belongs to",
            ),
            "type": FieldSpec("string"),
        },
    ),
    KindSpec(
        "Domain",
        "An area of the business that groups systems.",
        {
            "owner": _owner(),
            "subdomainOf": FieldSpec(
                "ref",
                default_kind="domain",
                relation="partOf",
                description="The domain it is a part of",
            ),
            "type": FieldSpec("string"),
        },
    ),
    KindSpec(
        "Group",
        "A team or organisational unit.",
        {
            "type": FieldSpec(
                "string", required=True, examples=("organization", "department", "team")
            ),
            "profile": FieldSpec("mapping", description="displayName, email, picture"),
            "parent": FieldSpec(
                "ref", default_kind="group", relation="childOf", description="Its parent group"
            ),
            "children": FieldSpec(
                "refs",
                required=True,
                default_kind="group",
                relation="parentOf",
                description="Its child groups (may be empty)",
            ),
            "members": FieldSpec(
                "refs", default_kind="user", relation="hasMember", description="Its users"
            ),
        },
    ),
    KindSpec(
        "User",
        "A person.",
        {
            "profile": FieldSpec("mapping", description="displayName, email, picture"),
            "memberOf": FieldSpec(
                "refs",
                required=True,
                default_kind="group",
                relation="memberOf",
                description="The groups the user belongs to (may be empty)",
            ),
        },
    ),
    KindSpec(
        "Location",
        "A pointer to more catalog files.",
        {
            "type": FieldSpec("string", examples=("file", "url")),
            "target": FieldSpec("string", description="One file, glob or allow-listed URL"),
            "targets": FieldSpec("strings", description="Several files, globs or URLs"),
            "presence": FieldSpec("string", examples=("required", "optional")),
        },
    ),
)


def registered_kinds(pm: pluggy.PluginManager) -> dict[str, KindSpec]:
    """Every kind registered through ``portal_catalog_kinds``, by lowercase name.

    A plugin registered later replaces a built-in kind of the same name.
    """
    kinds: dict[str, KindSpec] = {}
    for batch in reversed(pm.hook.portal_catalog_kinds()):
        for kind in batch:
            kinds[kind.kind.lower()] = kind
    return kinds
