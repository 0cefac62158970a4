"""What a check may read besides the entity: the model's docs, APIs and relations, and today.

One :class:`EvalContext` serves a whole evaluation, so the indexes it builds
(docs by tag, API references) are built once, not once per entity or rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from portal.catalog.model import Catalog, Entity
from portal.catalog.refs import EntityRef
from portal.docs.model import DocPage

if TYPE_CHECKING:
    from portal.apis.model import ApiReference
    from portal.model import Model
    from portal.scorecards.results import RuleOutcome

__all__ = ["EntityDocs", "EvalContext"]

TECHDOCS_REF = "backstage.io/techdocs-ref"


@dataclass(frozen=True, slots=True)
class EntityDocs:
    """An entity's doc pages, and, when it has none, why none were found."""

    pages: tuple[DocPage, ...]
    note: str = ""


@dataclass(slots=True, eq=False)
class EvalContext:
    """Shared by every check of one evaluation; ``outcomes`` holds the current entity's results.

    An entity's docs are the pages of its own docs folder
    (``backstage.io/techdocs-ref: dir:<path>``) plus the pages in ``docs/`` whose
    front matter ``tags`` name the entity and whose ``owner`` is the entity's owner
    ("a page owned by its team that covers it", as the standards put it).
    """

    model: Model
    today: date
    outcomes: dict[str, RuleOutcome] = field(default_factory=dict)
    # Docs given to fixture entities, which have none in the repository.
    fixture_docs: dict[EntityRef, tuple[DocPage, ...]] = field(default_factory=dict)
    _tagged: dict[str, list[DocPage]] | None = None
    _docs: dict[EntityRef, EntityDocs] = field(default_factory=dict)
    _apis: dict[EntityRef, ApiReference] = field(default_factory=dict)

    @property
    def catalog(self) -> Catalog:
        return self.model.catalog

    def docs_of(self, entity: Entity) -> EntityDocs:
        """The entity's doc pages (see the class docstring), computed once per entity."""
        known = self._docs.get(entity.ref)
        if known is None:
            known = self._docs[entity.ref] = self._find_docs(entity)
        return known

    def _find_docs(self, entity: Entity) -> EntityDocs:
        if entity.ref in self.fixture_docs:
            return EntityDocs(self.fixture_docs[entity.ref], "the fixture has no docs")
        if self._tagged is None:
            self._tagged = {}
            for page in self.model.docs:
                for tag in page.tags:
                    self._tagged.setdefault(tag, []).append(page)
        own = self.model.entity_docs.get(entity.ref)
        pages = list(own) if own is not None else []
        owners = set(entity.related("ownedBy"))
        tagged = self._tagged.get(entity.name.lower(), [])
        pages += [page for page in tagged if page.owner in owners]
        if pages:
            return EntityDocs(tuple(pages))
        owner = ", ".join(str(o) for o in sorted(owners)) or "its owner"
        note = (
            f"no docs: no {TECHDOCS_REF} docs folder, and no page in docs/ tagged "
            f"{entity.name.lower()!r} and owned by {owner}"
        )
        others = [page for page in tagged if page.owner not in owners]
        if others:
            page = others[0]
            note += f" ({page.display} is tagged {entity.name.lower()!r} but owned by "
            note += f"{page.owner or 'nobody'})"
        return EntityDocs((), note)

    def related(self, entity: Entity, relation: str, kind: str | None = None) -> list[Entity]:
        """Existing entities related to ``entity`` by ``relation`` (of ``kind`` when given)."""
        out = []
        for rel in entity.relations:
            if rel.type == relation and (kind is None or rel.target.kind == kind):
                target = self.model.catalog.get(rel.target)
                if target is not None:
                    out.append(target)
        return out

    def links(self, entity: Entity, link_type: str) -> list[dict[str, Any]]:
        """The entity's ``metadata.links`` of type ``link_type``."""
        links = entity.metadata.get("links")
        if type(links) is not list:
            return []
        return [link for link in links if type(link) is dict and link.get("type") == link_type]

    def api_reference(self, api: Entity) -> ApiReference:
        """The API's reference as the model computed it, or rendered now when it did not."""
        reference = self.model.apis.get(api.ref) or self._apis.get(api.ref)
        if reference is None:
            from portal.apis import render_api

            reference = self._apis[api.ref] = render_api(
                name=api.name,
                api_type=str(api.spec.get("type", "")),
                definition=api.spec.get("definition"),
                title=api.metadata.get("title"),
                description=api.description or None,
            )
        return reference
