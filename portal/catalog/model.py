"""The validated catalog: entities, where each came from, and relations both ways."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from portal.catalog.refs import EntityRef
from portal.yamlio import Locator

__all__ = ["Catalog", "Entity", "Origin", "Relation"]


@dataclass(slots=True, eq=False)
class Origin:
    """The file and document an entity was read from, and how to find positions in it."""

    path: Path
    display: str
    document: int
    locator: Locator

    def position(self, path: tuple[str | int, ...], *, key: bool = False) -> tuple[int, int] | None:
        return self.locator.locate(self.document, path, key=key)

    def describe(self, path: tuple[str | int, ...] = ("metadata", "name")) -> str:
        pos = self.position(path)
        return f"{self.display}:{pos[0]}:{pos[1]}" if pos else self.display


@dataclass(frozen=True, slots=True, order=True)
class Relation:
    """``source`` --type--> ``target``."""

    type: str
    target: EntityRef


@dataclass(slots=True, eq=False)
class Entity:
    """One valid entity, as written (``raw``), with its canonical reference."""

    ref: EntityRef
    kind: str
    api_version: str
    metadata: dict[str, Any]
    spec: dict[str, Any]
    raw: dict[str, Any]
    origin: Origin
    # Refs named in spec fields: (field, index or None, ref), checked once all is loaded.
    spec_refs: list[tuple[str, int | None, EntityRef]] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)
    # Values read through $text/$json/$yaml, by key path: the file (or URL) each came from.
    placeholders: dict[tuple[str | int, ...], Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.metadata["name"])

    @property
    def namespace(self) -> str:
        return self.ref.namespace

    @property
    def title(self) -> str:
        return str(self.metadata.get("title") or self.metadata["name"])

    @property
    def description(self) -> str:
        return str(self.metadata.get("description") or "")

    @property
    def tags(self) -> list[str]:
        return list(self.metadata.get("tags") or [])

    @property
    def annotations(self) -> dict[str, str]:
        return dict(self.metadata.get("annotations") or {})

    def related(self, relation_type: str) -> list[EntityRef]:
        return [r.target for r in self.relations if r.type == relation_type]

    def to_dict(self) -> dict[str, Any]:
        """The entity as Backstage's API would return it, relations included."""
        out = dict(self.raw)
        out["metadata"] = {**self.metadata, "namespace": self.ref.namespace}
        out["relations"] = [
            {"type": r.type, "targetRef": str(r.target)} for r in sorted(self.relations)
        ]
        return out


class Catalog:
    """All valid entities by reference, with relations derived both ways."""

    def __init__(self, entities: dict[EntityRef, Entity]) -> None:
        self._entities = entities
        self._by_kind: dict[str, list[Entity]] = defaultdict(list)
        for entity in entities.values():
            self._by_kind[entity.ref.kind].append(entity)

    def __len__(self) -> int:
        return len(self._entities)

    def __iter__(self) -> Iterator[Entity]:
        return iter(self._entities.values())

    def __contains__(self, ref: object) -> bool:
        return ref in self._entities

    def get(self, ref: EntityRef) -> Entity | None:
        return self._entities.get(ref)

    def of_kind(self, kind: str) -> list[Entity]:
        return list(self._by_kind.get(kind.lower(), ()))

    def kinds(self) -> dict[str, int]:
        return {kind: len(items) for kind, items in sorted(self._by_kind.items())}
