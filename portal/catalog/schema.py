"""A JSON Schema (draft-07) of the descriptor format, generated from the kind table.

Editors use it through yaml-language-server:
``# yaml-language-server: $schema=./catalog.schema.json``.
"""

from __future__ import annotations

from typing import Any

import pluggy

from portal.catalog.kinds import FieldSpec, KindSpec, registered_kinds

__all__ = ["catalog_schema"]

_NAME = r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$"
_TAG = r"^[a-z0-9:+#]+(-[a-z0-9:+#]+)*$"
_NAMESPACE = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
_REF = (
    r"^([a-zA-Z][a-z0-9A-Z]*:)?([a-z0-9]([-a-z0-9]*[a-z0-9])?/)?"
    r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$"
)
_PLACEHOLDER = {
    "type": "object",
    "description": "Content read from a file relative to this one",
    "minProperties": 1,
    "maxProperties": 1,
    "properties": {k: {"type": "string"} for k in ("$text", "$json", "$yaml")},
    "additionalProperties": False,
}


def catalog_schema(pm: pluggy.PluginManager) -> dict[str, Any]:
    """The schema of one catalog document, with a branch per registered kind."""
    kinds = registered_kinds(pm)
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": "https://portal.quantum.dev/schemas/catalog-entity.json",
        "title": "Quantum Portal catalog entity",
        "description": "A Backstage-format entity descriptor, as Quantum Portal validates it.",
        "type": "object",
        "required": ["apiVersion", "kind", "metadata"],
        "properties": {
            "apiVersion": {"type": "string", "examples": ["backstage.io/v1alpha1"]},
            "kind": {"type": "string", "examples": sorted(k.kind for k in kinds.values())},
            "metadata": _metadata(),
            "spec": {"type": "object"},
        },
        "allOf": [_kind_branch(kind) for kind in kinds.values()],
    }


def _metadata() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 63, "pattern": _NAME},
            "namespace": {"type": "string", "maxLength": 63, "pattern": _NAMESPACE},
            "title": {"type": "string"},
            "description": {"type": "string"},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
            "tags": {
                "type": "array",
                "items": {"type": "string", "minLength": 1, "maxLength": 63, "pattern": _TAG},
            },
            "links": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["url"],
                    "properties": {
                        key: {"type": "string"} for key in ("url", "title", "icon", "type")
                    },
                },
            },
        },
    }


def _kind_branch(kind: KindSpec) -> dict[str, Any]:
    return {
        "if": {"properties": {"kind": {"const": kind.kind}}, "required": ["kind"]},
        "then": {
            "description": kind.description,
            "required": ["spec"],
            "properties": {
                "apiVersion": {"enum": list(kind.api_versions)},
                "spec": {
                    "type": "object",
                    "required": [name for name, f in kind.fields.items() if f.required],
                    "properties": {name: _field(f) for name, f in kind.fields.items()},
                },
            },
        },
    }


def _field(field: FieldSpec) -> dict[str, Any]:
    out: dict[str, Any]
    if field.type == "string":
        out = {"type": "string", "minLength": 1}
    elif field.type == "strings":
        out = {"type": "array", "items": {"type": "string", "minLength": 1}}
    elif field.type == "ref":
        out = {"type": "string", "pattern": _REF}
    elif field.type == "refs":
        out = {"type": "array", "items": {"type": "string", "pattern": _REF}}
    elif field.type == "mapping":
        out = {"type": "object"}
    elif field.type == "text":
        out = {"anyOf": [{"type": "string"}, _PLACEHOLDER, {"type": "object"}]}
    else:
        out = {}
    if field.description:
        out["description"] = field.description
    if field.examples:
        out["examples"] = list(field.examples)
    return out
