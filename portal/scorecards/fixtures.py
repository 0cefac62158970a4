"""Rules with tests: each rule's ``fixtures`` (entities it must pass and must fail) run here.

A fixture is an entity descriptor written inline in the rule; missing
``apiVersion``, ``kind`` and ``metadata.name`` are filled in, and it is not
validated as strictly as a catalog entity, so a fixture can lack exactly the
field a rule asks for. It is evaluated as if it were in the catalog (its refs
reach the real groups, systems and APIs). A fixture may carry ``docs:``, a
list of pages (``path``, ``reviewed``), standing for the docs it would have.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from portal.catalog.kinds import BUILTIN_KINDS, KindSpec
from portal.catalog.model import Catalog, Entity, Relation
from portal.catalog.refs import DEFAULT_NAMESPACE, EntityRef, RefError, parse_ref
from portal.docs.model import DocPage
from portal.scorecards.context import EvalContext
from portal.scorecards.definition import SCORECARD_KIND, Fixture, Scorecard
from portal.scorecards.evaluate import evaluate_entity
from portal.scorecards.exemptions import as_date

if TYPE_CHECKING:
    from portal.model import Model

__all__ = ["FixtureFailure", "FixtureRun", "run_fixtures"]

_KINDS = {kind.kind.lower(): kind for kind in (*BUILTIN_KINDS, SCORECARD_KIND)}


@dataclass(frozen=True, slots=True)
class FixtureFailure:
    """A fixture that did not give the outcome its rule promised, and what it gave instead."""

    scorecard: str
    rule: str
    fixture: Fixture
    message: str

    def format(self) -> str:
        return (
            f"{self.fixture.where}: {self.scorecard}/{self.rule}: {self.fixture.expect} fixture "
            f"{self.fixture.index + 1}: {self.message}"
        )


@dataclass(frozen=True, slots=True)
class FixtureRun:
    """How many fixtures ran, over how many rules, and which failed."""

    fixtures: int
    rules: int
    failures: tuple[FixtureFailure, ...]


def run_fixtures(
    model: Model,
    today: date,
    scorecards: Sequence[Scorecard] | None = None,
    kinds: Mapping[str, KindSpec] | None = None,
) -> FixtureRun:
    """Evaluate every rule's fixtures; ``kinds`` (by lowercase name) derive fixtures' relations."""
    known = kinds or _KINDS
    failures: list[FixtureFailure] = []
    fixtures = rules = 0
    for scorecard in model.scorecards if scorecards is None else scorecards:
        for rule in scorecard.rules:
            rules += bool(rule.fixtures)
            for fixture in rule.fixtures:
                fixtures += 1
                message = _run_one(model, today, scorecard, rule.id, fixture, known)
                if message is not None:
                    failures.append(FixtureFailure(scorecard.name, rule.id, fixture, message))
    return FixtureRun(fixtures, rules, tuple(failures))


def _run_one(
    model: Model,
    today: date,
    scorecard: Scorecard,
    rule: str,
    fixture: Fixture,
    kinds: Mapping[str, KindSpec],
) -> str | None:
    entity, docs = _entity(model, scorecard, rule, fixture, kinds)
    if not scorecard.filter.matches(entity):
        return (
            f"{entity.ref} is not an entity the scorecard applies to ({scorecard.applies_to}); "
            "give the fixture the kind, type or lifecycle it needs"
        )
    entities = {e.ref: e for e in model.catalog}
    entities[entity.ref] = entity
    ctx = EvalContext(dataclasses.replace(model, catalog=Catalog(entities)), today)
    if docs is not None:
        ctx.fixture_docs[entity.ref] = docs
    result = evaluate_entity(scorecard, entity, ctx)
    outcome = result.outcome(rule)
    assert outcome is not None  # every rule of the scorecard has an outcome
    if outcome.status == fixture.expect:
        return None
    if outcome.status == "not-applicable":
        return f"the rule does not apply to it: {outcome.reason}"
    if fixture.expect == "pass":
        return f"expected to pass, but it fails: {outcome.reason}"
    return f"expected to fail, but it {outcome.status}es: {outcome.reason}"


def _entity(
    model: Model,
    scorecard: Scorecard,
    rule: str,
    fixture: Fixture,
    kinds: Mapping[str, KindSpec],
) -> tuple[Entity, tuple[DocPage, ...] | None]:
    descriptor = dict(fixture.descriptor)
    docs = _docs(descriptor.pop("docs", None), fixture)
    kind_name = descriptor.get("kind")
    if not isinstance(kind_name, str):
        wanted = sorted(scorecard.filter.kinds or {"component"})
        kind_name = kinds[wanted[0]].kind if wanted[0] in kinds else wanted[0].capitalize()
    metadata = dict(descriptor.get("metadata") or {})
    metadata.setdefault("name", f"{rule}-{fixture.expect}-{fixture.index + 1}"[:63])
    namespace = str(metadata.get("namespace") or DEFAULT_NAMESPACE)
    spec = descriptor.get("spec")
    spec = dict(spec) if isinstance(spec, dict) else {}
    raw = {"apiVersion": "backstage.io/v1alpha1", **descriptor, "kind": kind_name}
    origin = model.catalog.get(scorecard.ref)
    entity = Entity(
        ref=EntityRef.of(kind_name, namespace, str(metadata["name"])),
        kind=kind_name,
        api_version=str(raw["apiVersion"]),
        metadata=metadata,
        spec=spec,
        raw={**raw, "metadata": metadata, "spec": spec},
        origin=origin.origin if origin is not None else _no_origin(),
    )
    kind = kinds.get(kind_name.lower())
    for field, field_spec in kind.fields.items() if kind else ():
        value = spec.get(field)
        if field_spec.relation is None or value is None:
            continue
        for item in value if isinstance(value, list) else [value]:
            try:
                target = parse_ref(
                    item, default_kind=field_spec.default_kind, default_namespace=namespace
                )
            except RefError:
                continue  # a fixture may hold a bad ref on purpose; the rule judges it
            entity.spec_refs.append((field, None, target))
            entity.relations.append(Relation(field_spec.relation, target))
    return entity, docs


def _docs(value: Any, fixture: Fixture) -> tuple[DocPage, ...] | None:
    if not isinstance(value, list):
        return None
    pages = []
    for index, item in enumerate(value):
        item = item if isinstance(item, dict) else {}
        path = str(item.get("path") or f"fixture-page-{index + 1}.md")
        pages.append(
            DocPage(
                path=path,
                source=Path(path),
                display=path,
                title=str(item.get("title") or path),
                body="",
                body_line=1,
                reviewed=as_date(item.get("reviewed")),
            )
        )
    return tuple(pages)


def _no_origin() -> Any:
    from portal.catalog.model import Origin
    from portal.yamlio import Locator

    return Origin(Path(), "<fixture>", 0, Locator(""))
