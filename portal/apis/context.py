"""What rendering one OpenAPI document needs at each operation, and the operations found."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from portal.apis.markdown import Anchors, code
from portal.apis.model import Pointer, Problems
from portal.apis.refs import Resolver
from portal.apis.schemas import SchemaRenderer
from portal.apis.values import kind_of

__all__ = ["METHODS", "Context", "OperationInfo", "Parameters"]

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


@dataclass(slots=True)
class Context:
    """What rendering one OpenAPI document needs at every operation."""

    root: dict[str, Any]
    version: str  # "2.0", "3.0", "3.1" or "3.2"
    problems: Problems
    anchors: Anchors
    resolver: Resolver
    schemas: SchemaRenderer
    security_anchors: dict[str, str] = field(default_factory=dict)
    operation_anchors: dict[str, str] = field(default_factory=dict)

    def mapping(self, value: Any, pointer: Pointer, what: str) -> dict[str, Any]:
        """``value`` as a mapping, reporting it when it is something else."""
        if isinstance(value, dict):
            return value
        if value is not None:
            self.problems.error(pointer, f"{what} must be a mapping, not {kind_of(value)}")
        return {}

    def unreadable(self, value: Any) -> str:
        """Why ``value`` cannot be shown: where its ref leads, or what it is instead."""
        resolved = self.resolver.follow(value)
        ref = resolved.ref or ""
        if resolved.status == "external":
            return f"defined in another file: {code(ref)} (external $ref)"
        if not resolved.ok:
            return f"⚠ unresolved $ref {code(ref)}"
        return f"⚠ {kind_of(resolved.value)}, not a mapping"

    def follow(self, value: Any, pointer: Pointer) -> tuple[Any, Pointer]:
        """``value`` with refs followed, and the key path where it was found."""
        resolved = self.resolver.follow(value)
        return resolved.value, resolved.path if resolved.path is not None else pointer


@dataclass(frozen=True, slots=True)
class OperationInfo:
    """An operation found in ``paths`` or ``webhooks``, before rendering."""

    method: str
    path: str
    operation: dict[str, Any]
    pointer: Pointer
    shared_parameters: tuple[tuple[Any, Pointer], ...]
    anchor: str
    tag: str


Parameters = list[tuple[dict[str, Any], Pointer]]
