"""Check types: what a rule's ``check:`` block can ask, and the built-in ones.

A check type compiles a rule's options once into a :class:`Check`, whose
``run(entity, ctx)`` returns None when the entity passes and the reason in
words when it fails. Organisations add check types through the
``portal_scorecard_checks`` hook; the built-ins below come through it too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

import pluggy

from portal.catalog.kinds import RELATION_PAIRS
from portal.catalog.model import Entity
from portal.scorecards.expressions import Expression, ExpressionError, compile_expression
from portal.scorecards.paths import MISSING, DescriptorPath, PathError, describe, parse_path

if TYPE_CHECKING:
    from portal.scorecards.context import EvalContext

__all__ = [
    "BUILTIN_CHECKS",
    "Check",
    "CheckOptions",
    "CheckType",
    "DefinitionError",
    "registered_checks",
]

Run = Callable[[Entity, "EvalContext"], str | None]


class DefinitionError(ValueError):
    """A bad option of a check: ``key`` is the option at fault (None: the check as a whole)."""

    def __init__(self, key: str | None, message: str) -> None:
        super().__init__(message)
        self.key = key
        self.message = message


@dataclass(frozen=True, slots=True)
class Check:
    """A compiled check: ``run`` gives None (pass) or a reason; ``summary`` says what it checks."""

    run: Run
    summary: str


@dataclass(frozen=True, slots=True)
class CheckType:
    """A kind of check rules can name in ``check: {type: <name>, ...}``.

    ``options`` maps each option it takes to a one-line description (the docs
    and unknown-option messages list them); ``compile`` turns the options into
    a :class:`Check` or raises :class:`DefinitionError`.
    """

    name: str
    description: str
    options: Mapping[str, str]
    compile: Callable[[CheckOptions], Check]


@dataclass(slots=True)
class CheckOptions:
    """A rule's ``check:`` mapping with typed readers that raise positioned errors.

    ``rule_ids`` are the rules of the same scorecard; a check that reads
    another rule's result calls :meth:`require` so cycles can be refused.
    """

    values: Mapping[str, Any]
    rule_ids: Collection[str] = ()
    kinds: Collection[str] = ()
    requires: set[str] = field(default_factory=set)

    def raw(self, key: str) -> Any:
        """A required option's value, whatever its type."""
        if key not in self.values:
            raise DefinitionError(None, f"{key} is required for this check type")
        return self.values[key]

    def text(self, key: str) -> str:
        value = self.raw(key)
        if not isinstance(value, str) or not value:
            raise DefinitionError(key, f"expected non-empty text, got {describe(value)}")
        return value

    def integer(self, key: str, default: int, minimum: int = 0) -> int:
        value = self.optional_integer(key, minimum)
        return default if value is None else value

    def optional_integer(self, key: str, minimum: int = 0) -> int | None:
        value = self.values.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise DefinitionError(
                key, f"expected a whole number of at least {minimum}, got {describe(value)}"
            )
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self.values.get(key, default)
        if not isinstance(value, bool):
            raise DefinitionError(key, f"expected true or false, got {describe(value)}")
        return value

    def path(self, key: str = "path") -> DescriptorPath:
        text = self.raw(key)
        try:
            return parse_path(text)
        except PathError as exc:
            shown = f"{text!r}: " if isinstance(text, str) else ""
            at = f" (at character {exc.offset + 1})" if isinstance(text, str) else ""
            raise DefinitionError(key, f"{shown}{exc.message}{at}") from None

    def pattern(self, key: str) -> re.Pattern[str]:
        text = self.text(key)
        try:
            return re.compile(text)
        except re.error as exc:
            raise DefinitionError(
                key, f"{text!r} is not a valid regular expression: {exc}"
            ) from None

    def expression(self, key: str = "expr") -> Expression:
        text = self.raw(key)
        try:
            expression = compile_expression(text, self.rule_ids)
        except ExpressionError as exc:
            raise DefinitionError(key, f"{exc.message} (at character {exc.offset + 1})") from None
        for rule in expression.requires:
            self.require(rule)
        return expression

    def kind(self, key: str) -> str | None:
        value = self.values.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or (self.kinds and value.lower() not in self.kinds):
            known = ", ".join(sorted(self.kinds))
            raise DefinitionError(key, f"{describe(value)} is not a kind (known: {known})")
        return value.lower()

    def require(self, rule: str) -> None:
        """Record that this check reads ``rule``'s result (which must then be evaluated first)."""
        self.requires.add(rule)


def registered_checks(pm: pluggy.PluginManager) -> dict[str, CheckType]:
    """Every check type from ``portal_scorecard_checks``; a later plugin replaces a built-in."""
    checks: dict[str, CheckType] = {}
    for batch in reversed(pm.hook.portal_scorecard_checks()):
        for check in batch:
            checks[check.name] = check
    return checks


# -- field checks ---------------------------------------------------------------


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str | list | dict) and not value)


def _field_present(options: CheckOptions) -> Check:
    path = options.path()
    get, shown, explain = path.getter(), str(path), path.explainer()

    def run(entity: Entity, ctx: EvalContext) -> str | None:
        value = get(entity)
        if value is MISSING:
            return explain(entity)
        if _empty(value):
            return f"{shown} is empty"
        return None

    return Check(run, f"{shown} is set")


def _field_equals(options: CheckOptions) -> Check:
    path = options.path()
    if ("value" in options.values) == ("values" in options.values):
        raise DefinitionError(None, "give either value (one) or values (a list of accepted ones)")
    accepted = options.values.get("values", [options.values.get("value")])
    if not isinstance(accepted, list) or not accepted:
        raise DefinitionError("values", f"expected a list of values, got {describe(accepted)}")
    get, shown, explain = path.getter(), str(path), path.explainer()
    wanted = (
        describe(accepted[0])
        if len(accepted) == 1
        else "one of " + ", ".join(describe(v) for v in accepted)
    )

    def run(entity: Entity, ctx: EvalContext) -> str | None:
        value = get(entity)
        if value is MISSING:
            return explain(entity)
        for candidate in accepted:
            if value == candidate and isinstance(value, bool) == isinstance(candidate, bool):
                return None
        hint = ""
        if any(str(value) == str(c) for c in accepted):
            hint = " (text and numbers differ: quote the value in the scorecard or the entity)"
        return f"{shown} is {describe(value)}, not {wanted}{hint}"

    return Check(run, f"{shown} is {wanted}")


def _field_matches(options: CheckOptions) -> Check:
    path = options.path()
    pattern = options.pattern("pattern")
    get, shown, explain = path.getter(), str(path), path.explainer()

    def run(entity: Entity, ctx: EvalContext) -> str | None:
        value = get(entity)
        if value is MISSING:
            return explain(entity)
        if not isinstance(value, str):
            return f"{shown} is {describe(value)}, not text"
        if pattern.search(value) is None:
            return f"{shown} is {describe(value)}, which does not match {pattern.pattern!r}"
        return None

    return Check(run, f"{shown} matches {pattern.pattern!r}")


# -- relations and links --------------------------------------------------------


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' * (count != 1)}"


def _bounds(options: CheckOptions) -> tuple[int, int | None]:
    low = options.integer("min", 1)
    high = options.optional_integer("max")
    if high is not None and high < low:
        raise DefinitionError("max", f"max ({high}) is below min ({low})")
    return low, high


def _relation_count(options: CheckOptions) -> Check:
    relation = options.text("relation")
    if relation not in RELATION_PAIRS:
        known = ", ".join(sorted(RELATION_PAIRS))
        raise DefinitionError("relation", f"{relation!r} is not a relation type (known: {known})")
    kind = options.kind("kind")
    low, high = _bounds(options)
    target = f"existing {kind}" if kind else "existing entity"
    wanted = f"at least {low}" if high is None else f"{low} to {high}"

    def run(entity: Entity, ctx: EvalContext) -> str | None:
        count = len(ctx.related(entity, relation, kind))
        if count >= low and (high is None or count <= high):
            return None
        reason = f"{relation}: {_plural(count, target)}, needs {wanted}"
        others = [
            r.target
            for r in entity.relations
            if r.type == relation
            and ((kind is not None and r.target.kind != kind) or r.target not in ctx.catalog)
        ]
        notes = [
            f"{ref} does not exist in the catalog"
            if ref not in ctx.catalog
            else f"{ref} is a {ref.kind}"
            for ref in others[:3]
        ]
        return reason + (f" ({'; '.join(notes)})" if notes else "")

    return Check(run, f"{relation}: {wanted} {target}")


def _link_exists(options: CheckOptions) -> Check:
    link_type = options.text("linkType")
    low, _ = _bounds(options)
    url = options.pattern("url") if "url" in options.values else None
    matching = f" with a URL matching {url.pattern!r}" if url else ""

    def run(entity: Entity, ctx: EvalContext) -> str | None:
        links = ctx.links(entity, link_type)
        good = [link for link in links if url is None or url.search(str(link.get("url", "")))]
        if len(good) >= low:
            return None
        if links and url is not None:
            return (
                f"{_plural(len(links), f'link of type {link_type!r}')}, but "
                f"{_plural(len(good), 'URL')} matching {url.pattern!r}, needs {low}"
            )
        if not links:
            types = sorted(
                {str(link.get("type")) for link in _all_links(entity) if link.get("type")}
            )
            have = f" (link types: {', '.join(types)})" if types else " (no typed links)"
            return f"no link of type {link_type!r}{have}"
        return f"{_plural(len(links), f'link of type {link_type!r}')}, needs {low}"

    return Check(run, f"at least {low} link of type {link_type!r}{matching}")


def _all_links(entity: Entity) -> list[dict[str, Any]]:
    links = entity.metadata.get("links")
    return [link for link in links if type(link) is dict] if type(links) is list else []


# -- docs -----------------------------------------------------------------------


def _docs_exist(options: CheckOptions) -> Check:
    low, _ = _bounds(options)

    def run(entity: Entity, ctx: EvalContext) -> str | None:
        docs = ctx.docs_of(entity)
        if len(docs.pages) >= low:
            return None
        return docs.note or f"{_plural(len(docs.pages), 'doc page')}, needs {low}"

    return Check(run, f"at least {_plural(low, 'doc page')}")


def _docs_reviewed(options: CheckOptions) -> Check:
    days = options.integer("days", 90, minimum=1)

    def run(entity: Entity, ctx: EvalContext) -> str | None:
        docs = ctx.docs_of(entity)
        if not docs.pages:
            return docs.note or "no docs to review"
        stale = []
        for page in docs.pages:
            reviewed: date | None = page.reviewed
            if reviewed is None:
                stale.append(f"{page.display} has no reviewed date")
            elif (ctx.today - reviewed).days > days:
                stale.append(
                    f"{page.display} was reviewed {reviewed} ({(ctx.today - reviewed).days} "
                    "days ago)"
                )
        if not stale:
            return None
        more = f", and {len(stale) - 3} more" if len(stale) > 3 else ""
        return f"not reviewed within {days} days: {'; '.join(stale[:3])}{more}"

    return Check(run, f"every doc page reviewed within {days} days")


# -- APIs -----------------------------------------------------------------------


def _api_valid(options: CheckOptions) -> Check:
    low, _ = _bounds(options)
    warnings = options.flag("warnings", False)
    severities = ("error", "warning") if warnings else ("error",)

    def problems_of(api: Entity, ctx: EvalContext) -> str | None:
        if api.spec.get("definition") in (None, ""):
            return f"{api.ref} has no spec.definition"
        found = [p for p in ctx.api_reference(api).problems if p.severity in severities]
        if not found:
            return None
        first = found[0]
        where = ".".join(str(step) for step in first.pointer)
        more = f" (and {_plural(len(found) - 1, 'more problem')})" if len(found) > 1 else ""
        return f"{api.ref}: {where + ': ' if where else ''}{first.message}{more}"

    def run(entity: Entity, ctx: EvalContext) -> str | None:
        if entity.ref.kind == "api":
            return problems_of(entity, ctx)
        provided = [r.target for r in entity.relations if r.type == "providesApi"]
        if len(provided) < low:
            return f"provides {_plural(len(provided), 'API')} (spec.providesApis), needs {low}"
        for ref in provided:
            api = ctx.catalog.get(ref)
            if api is None:
                return f"{ref} does not exist in the catalog"
            reason = problems_of(api, ctx)
            if reason is not None:
                return reason
        return None

    return Check(run, "its API definitions are valid" + (" (no warnings)" if warnings else ""))


def _expression(options: CheckOptions) -> Check:
    expression = options.expression("expr")
    return Check(expression.holds, f"{expression.source} holds")


_BOUNDS = {"min": "at least this many (default 1)", "max": "at most this many (optional)"}

BUILTIN_CHECKS: tuple[CheckType, ...] = (
    CheckType(
        "field-present",
        "A value at a descriptor path is set and not empty.",
        {"path": 'the path, e.g. metadata.annotations["portal.quantum.dev/runbook"]'},
        _field_present,
    ),
    CheckType(
        "field-equals",
        "A value at a descriptor path is one given value, or one of a list.",
        {"path": "the path", "value": "the value it must have", "values": "accepted values"},
        _field_equals,
    ),
    CheckType(
        "field-matches",
        "A text at a descriptor path matches a regular expression (anywhere; anchor with ^ $).",
        {"path": "the path", "pattern": "a Python regular expression"},
        _field_matches,
    ),
    CheckType(
        "relation-count",
        "How many existing entities (of a kind) the entity is related to by a relation type.",
        {
            "relation": "a relation type, e.g. ownedBy, providesApi",
            "kind": "the targets' kind",
            **_BOUNDS,
        },
        _relation_count,
    ),
    CheckType(
        "link-exists",
        "The entity has links (metadata.links) of a type.",
        {
            "linkType": "the link type, e.g. runbook",
            "url": "a regular expression the URL matches",
            "min": _BOUNDS["min"],
        },
        _link_exists,
    ),
    CheckType(
        "docs-exist",
        "The entity has doc pages: its own docs folder, or pages in docs/ tagged with its name.",
        {"min": "at least this many pages (default 1)"},
        _docs_exist,
    ),
    CheckType(
        "docs-reviewed",
        "Every doc page of the entity has a front matter reviewed date within N days.",
        {"days": "the most days since the review (default 90: quarterly)"},
        _docs_reviewed,
    ),
    CheckType(
        "api-valid",
        "An API's definition (or every API a component provides) has no errors.",
        {
            "min": "APIs a component must provide (default 1)",
            "warnings": "fail on warnings too (default false)",
        },
        _api_valid,
    ),
    CheckType(
        "expression",
        "An expression over the descriptor, facts and other rules' results holds.",
        {"expr": 'the expression, e.g. passed("runbook") and links("dashboard") >= 2'},
        _expression,
    ),
)
